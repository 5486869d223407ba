"""How large is the main job's result file, what fills it, and does it read back exactly?

Question
--------
``result.to_netcdf`` stores what a fit cannot recompute (the posterior draws, the sampler statistics the
diagnostics read, the prior draws of the checked scales, the counts and the model spec), compressed
losslessly; reading recomputes the rest exactly (the pointwise log-likelihood, the observed and constant
data, the rates from their logs). How large is the file of the README's main job
(``spikepool fit locust20010214 --window 10 12``), against the baseline of writing the whole DataTree
as ArviZ would (every group, the pointwise log-likelihood included, uncompressed), measured in the same
run? Does the file read back identical, with the same LOO?

Method
------
Fit the main job's model (the CLI's defaults, 4 chains x (1000 + 1000), seed 0), write both files, list
each stored HDF5 variable's bytes by group (h5py), read the result back with ``sp.load_result`` and
compare every group and the PSIS-LOO estimate.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/result_size.py
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from pathlib import Path

import h5py

import spikepool as sp


def stored_bytes(path: Path) -> dict[str, int]:
    """Bytes each group's variables take in the file (their HDF5 storage, without the file's own index)."""
    sizes: dict[str, int] = defaultdict(int)

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset):
            sizes[name.split("/")[0] if "/" in name else "/"] += obj.id.get_storage_size()

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return dict(sizes)


def main() -> None:
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    model = sp.HierarchicalNegBinom(condition="condition")
    result = model.fit(counts, draws=1000, tune=1000, chains=4, random_seed=0, progressbar=False)
    with tempfile.TemporaryDirectory() as tmp:
        small, everything = Path(tmp) / "result.nc", Path(tmp) / "everything.nc"
        result.to_netcdf(small)
        result.pointwise().to_netcdf(everything)  # the baseline: every group as ArviZ writes it
        size, base = os.path.getsize(small), os.path.getsize(everything)
        groups, base_groups = stored_bytes(small), stored_bytes(everything)
        back = sp.load_result(small)
        identical = all(
            back.idata[g].to_dataset().identical(result.idata[g].to_dataset())
            for g in result.idata.children
            if g != "log_likelihood"
        )
        loo_back, loo = back.loo(), result.loo()

    print(f"main job: {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials, {model}")
    print(f"{'group':<18}{'baseline bytes':>16}{'stored bytes':>14}")
    for group in sorted(set(base_groups) | set(groups), key=lambda g: -base_groups.get(g, 0)):
        print(f"{group:<18}{base_groups.get(group, 0):>16,}{groups.get(group, 0):>14,}")
    print(f"{'file':<18}{base:>16,}{size:>14,}")
    print(f"result file {size / 1e6:.2f} MB ({size / 2**20:.2f} MiB), {base / size:.1f}x smaller than the baseline")
    print(f"read back identical (every group): {identical}")
    print(f"LOO in memory {loo.elpd:.3f} (se {loo.se:.2f}), read back {loo_back.elpd:.3f} (se {loo_back.se:.2f})")


if __name__ == "__main__":
    main()

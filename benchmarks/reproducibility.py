"""Same seed, same draws: a small fit in separate processes with cold and warm compile caches.

Question
--------
Does ``HierarchicalNegBinom.fit(..., random_seed=s)`` give bit-identical posterior draws whether PyTensor's
compile cache (and the Numba cache inside it) is empty or already holds the model's kernels?

Method
------
Each run is a fresh Python process (``--child``) that simulates 8 neurons x 10 trials
(``sp.simulate_counts``, seed 1), fits ``HierarchicalNegBinom(dispersion="shared")`` with 2 chains x
(200 + 200), ``random_seed=3``, and saves every posterior draw of mu, tau and rate. Per setting: two
processes, each with its own empty ``base_compiledir`` and ``NUMBA_CACHE_DIR`` (cold), then one reusing the
first one's folders (warm). The settings are spikepool as shipped (``reproducible_compilation``: Numba
without fast-math) and, as the baseline, PyTensor's default fast-math (the context replaced by a no-op in
the child). Printed: per setting and run, whether the draws equal the first cold run's, the largest
absolute difference, and the first draw (per chain) where they differ.

Measured (2-core machine, PyMC 6.4, PyTensor 3.3.8, Numba 0.68; both samplers): with fast-math, cold vs
cold identical, warm differs from draw 0 of the kept draws (max |diff| 4e-8 with PyMC's NUTS, 2e-6 with
nutpie); without fast-math, all three identical.

Run from the repository root::

    python benchmarks/reproducibility.py [--sampler pymc|nutpie]

``tests/test_reproducibility.py`` runs the ``--child`` mode of this script.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

NAMES = ("mu", "tau", "rate")


def child(out: str, sampler: str, fastmath: bool) -> None:
    """Fit the small model once and save its draws (chain, draw, value) to ``out`` (.npy)."""
    warnings.simplefilter("ignore")
    import spikepool as sp
    import spikepool.models.sampling as sampling

    if fastmath:  # the baseline: PyTensor's default flags
        sampling.reproducible_compilation = contextlib.nullcontext
    counts, _ = sp.simulate_counts(8, 10, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)
    model = sp.HierarchicalNegBinom(dispersion="shared", sampler=sampler)
    result = model.fit(counts, draws=200, tune=200, chains=2, random_seed=3, progressbar=False)
    post = result.idata["posterior"]
    np.save(out, np.concatenate([post[v].values.reshape(2, 200, -1) for v in NAMES], axis=-1))


def run_child(out: Path, sampler: str, compiledir: Path, numba_dir: Path, fastmath: bool = False) -> np.ndarray:
    """Run ``child`` in a new process with the given cache folders; return its draws."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}", "NUMBA_CACHE_DIR": str(numba_dir)}
    cmd = [sys.executable, __file__, "--child", str(out), "--sampler", sampler] + (["--fastmath"] if fastmath else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"child run failed:\n{done.stderr[-3000:]}")
    return np.load(out)


def cold_cold_warm(sampler: str, work: Path, fastmath: bool = False) -> dict[str, np.ndarray]:
    """Draws of two cold-cache runs and one warm-cache run (reusing the first run's caches)."""
    folders = {k: (work / f"{k}_pytensor", work / f"{k}_numba") for k in ("a", "b")}
    for a, b in folders.values():
        a.mkdir()
        b.mkdir()
    return {
        "cold 1": run_child(work / "cold1.npy", sampler, *folders["a"], fastmath),
        "cold 2": run_child(work / "cold2.npy", sampler, *folders["b"], fastmath),
        "warm": run_child(work / "warm.npy", sampler, *folders["a"], fastmath),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sampler", default="pymc", choices=("pymc", "nutpie"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--fastmath", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sampler, args.fastmath)
        return
    print(f"sampler={args.sampler}: draws compared with the first cold-cache run")
    print(f"{'setting':<34} {'run':<7} {'identical':<10} {'max |diff|':>11}  first differing draw per chain")
    for label, fastmath in (("PyTensor default (fast-math)", True), ("spikepool (no fast-math)", False)):
        with tempfile.TemporaryDirectory() as tmp:
            runs = cold_cold_warm(args.sampler, Path(tmp), fastmath)
        ref = runs["cold 1"]
        for name, draws in runs.items():
            diff = np.abs(draws - ref).max(axis=-1)
            first = [int(np.flatnonzero(d > 0)[0]) if (d > 0).any() else "-" for d in diff]
            print(f"{label:<34} {name:<7} {str(bool((draws == ref).all())):<10} {diff.max():>11.3g}  {first}")


if __name__ == "__main__":
    main()

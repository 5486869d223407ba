"""Cost of the COM-Poisson likelihood against the Negative Binomial's on the same counts.

Question
--------
How much dearer is a gradient of the model's log density with ``likelihood="com_poisson"`` than with the
default Negative Binomial, on the same counts and the same model structure, and how long does a default fit
take?

For each case the two models are built on the same counts, the gradient of the log density (the work NUTS
repeats at every leapfrog step) is compiled and timed at the initial point and at 20 random points near it
(median of ``--repeats`` calls each), and the ratio COM/NB printed. The COM-Poisson solves ``lambda`` from the
mean and sums its normalising series once per group (``spikepool.stats.com_poisson``); the NB costs a few
special functions per cell (window counts) or per group (binned counts, ``grouped_loglik``; its per-cell path,
taken with ``dispersion="fano"``, is timed too). Run it with nothing else on the machine: the NB's spline
products use OpenBLAS, whose threads slow down many times over when other processes compete for the cores.

Cases:

- ``window``: locust20010214, 10-12 s window counts by odour (the README's main job): groups are
  (neuron, condition), means of tens of spikes;
- ``psth``: the same recording in 50 ms bins over 8-14 s (``HierarchicalPSTH``): groups are
  (neuron, condition, bin), means below a spike or two.

``--fit`` also times a default fit (2 chains x 1,000 draws after 1,000 tuning) of the window case with
``likelihood="com_poisson"`` (target: under 2 minutes on 2 cores).

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_com_poisson.py [--case window|psth|both] [--fit]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import spikepool as sp
from spikepool.stats.cells import cell_groups


def window():
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    return counts, lambda lik: sp.HierarchicalNegBinom(condition="condition", likelihood=lik)


def psth():
    binned = sp.datasets.load_counts("locust20010214", window=(8.0, 14.0), bin_size=0.05)
    return binned, lambda lik: sp.HierarchicalPSTH(condition="condition", likelihood=lik)


CASES = {"window": window, "psth": psth}


def gradient_seconds(model, data, repeats: int, seed: int = 0) -> float:
    """Median seconds of one gradient of the log density, over the initial point and 20 points near it."""
    pm_model = model.build(data)
    dlogp = pm_model.compile_dlogp()
    start = pm_model.initial_point()
    rng = np.random.default_rng(seed)
    points = [start] + [{k: v + rng.normal(0, 0.1, np.shape(v)) for k, v in start.items()} for _ in range(20)]
    times = []
    for point in points:
        dlogp(point)
        t0 = time.perf_counter()
        for _ in range(repeats):
            dlogp(point)
        times.append((time.perf_counter() - t0) / repeats)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=(*CASES, "both"), default="both")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--fit", action="store_true", help="also time a default COM-Poisson fit of the window case")
    args = parser.parse_args()
    names = list(CASES) if args.case == "both" else [args.case]
    print(f"{'case':8s} {'groups':>8s} {'NB ms':>8s} {'COM ms':>8s} {'COM/NB':>7s}")
    for name in names:
        counts, make = CASES[name]()
        nb, com = make("negbin"), make("com_poisson")
        data = nb.prepare(counts)
        t_nb = gradient_seconds(nb, data, args.repeats)
        t_com = gradient_seconds(com, com.prepare(counts), args.repeats)
        groups = int((data.sums.n > 0).sum()) if hasattr(data, "sums") else cell_groups(data.cells).n.size
        print(f"{name:8s} {groups:8d} {t_nb * 1e3:8.3f} {t_com * 1e3:8.3f} {t_com / t_nb:7.2f}", flush=True)
        if name == "psth":  # the NB on the same binned counts summed per cell (its path for dispersion="fano")
            cells = sp.HierarchicalPSTH(condition="condition", dispersion="fano")
            t_cells = gradient_seconds(cells, cells.prepare(counts), args.repeats)
            ratio = t_com / t_cells
            print(f"{'':8s} NB per-cell path (dispersion='fano'): {t_cells * 1e3:.3f} ms, COM/that {ratio:.2f}")
    if args.fit:
        counts, make = window()
        model = make("com_poisson")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SpikepoolWarning)
            result = model.fit(counts, draws=1000, tune=1000, chains=2, random_seed=0, progressbar=False)
        total = time.perf_counter() - start
        stats = result.idata["sample_stats"].to_dataset()
        checks = result.post_checks
        rhat = float(checks.summary["rhat_max"])
        print(
            f"fit window com_poisson: {total:.1f} s (sampling {result.posterior.attrs.get('sampling_time', np.nan):.1f}"
            f" s), divergences {int(stats['diverging'].sum())}, max R-hat {rhat:.4f}, "
            f"sampling checks {'OK' if checks.ok else 'FAILED'} ({len(checks.warnings)} warnings)"
        )


if __name__ == "__main__":
    main()

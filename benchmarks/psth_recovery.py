"""Does ``HierarchicalPSTH`` recover known time courses, over many data sets and seeds?

Question
--------
``tests/test_psth.py`` asserts interval coverage, error, the population course's peaks and the shrinkage of
a sparse and a rich neuron on one simulated data set and seed. How wide are those figures over other data
sets and seeds, so that the test's thresholds hold with margin on a machine that has never run them?

Method
------
For k = start, ..., stop - 1: the test's simulation ``simulate(1 + k, extremes=True)`` (8 neurons x 2
conditions x 30 trials x 40 bins of 25 ms; neuron 0 fires 20x less than typical, neuron 1 5x more), fitted
with the test's settings (2 chains x (500 + 500), ``random_seed=k``). One row per k: coverage of the 640 true
rates by the 94% intervals, median relative error of the posterior means, coverage of the population course,
the population peaks (true: 0.4 and 0.65 s), the course shrinkage of neurons 0 and 1, divergences, the
sampling warnings and the wall time.

Run from the repository root::

    python benchmarks/psth_recovery.py [--start 0 --stop 8]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import spikepool as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_psth import simulate  # noqa: E402  (the test's own simulation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=8)
    args = parser.parse_args()
    print(f"{'k':>3} {'cover':>6} {'error':>6} {'pop':>6} {'peaks (s)':>14} {'shrink 0/1':>11} {'div':>4}  warnings")
    for k in range(args.start, args.stop):
        binned, truth, course = simulate(1 + k, extremes=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SpikepoolWarning)
            result = sp.HierarchicalPSTH(condition="condition").fit(
                binned, draws=500, tune=500, chains=2, random_seed=k, progressbar=False
            )
        seconds = time.perf_counter() - start
        rates, population, table = result.rates(), result.population_rates(), result.shrinkage()
        cover = ((rates["lower"].values <= truth) & (truth <= rates["upper"].values)).mean()
        error = np.median(np.abs(rates["mean"].values / truth - 1))
        pop = ((population["lower"].values <= course) & (course <= population["upper"].values)).mean()
        peaks = binned["time"].values[population["mean"].values.argmax(axis=1)]
        shrink = table["course_shrinkage"].mean("condition").values
        divergent = int(result.idata["sample_stats"]["diverging"].sum())
        codes = ",".join(p.code for p in result.post_checks.warnings) or "-"
        print(
            f"{k:>3} {cover:>6.3f} {error:>6.3f} {pop:>6.3f} {peaks[0]:>6.3f} {peaks[1]:>6.3f} "
            f"{shrink[0]:>5.2f}/{shrink[1]:<5.2f} {divergent:>4}  {codes} ({seconds:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()

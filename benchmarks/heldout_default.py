"""Does the default model beat no pooling on held-out trials of every real multi-condition dataset?

Question
--------
``HierarchicalNegBinom(condition=...)`` defaults to ``neuron_effect="auto"``: crossed neuron x condition
effects (``log r_ic ~ Normal(mu_c + u_i, tau)``, the brms / glmmTMB ``(1|unit) + (1|unit:stim)`` model)
whenever two or more neurons have trials in two or more conditions. Does that default predict unseen
trials better than no pooling, complete pooling and the plain conditionally exchangeable model
(``neuron_effect=False``) on the real recordings?

Method
------
``sp.compare_pooling`` splits each neuron x condition cell's valid trials at random (``random_seed``),
fits every model to ``--train`` trials per cell and scores the rest: the summed log predictive density of
the held-out counts (NB, posterior-averaged; higher is better). Rows: ``none``, ``complete``, ``partial``
(the default, crossed here) and ``partial, plain`` (``neuron_effect=False``). Dispersion ``"pooled"``
(few training trials per cell cannot learn a per-neuron alpha), 2 chains x (500 + 500).

Datasets (conditions = stimulus blocks, spontaneous blocks left out for the locust; direction x spatial
bin for the laps):

- locust20010214, 10-12 s and 10-11.5 s (10 units x 10 odours; the response window of tutorial 01);
- locust20000613, 3-4 s (9 units, 5 odour blocks: Cherry and Cis-3-Hexen-1-ol dilutions; the population
  rate peaks at 3-3.5 s);
- locust20000421, 3.5-4.5 s (9 units, 20 odour blocks; the population rate dips at 3.5-4.5 s);
- nelpy-linear-track, 8 spatial bins x 2 directions (tutorial 05's design), per-visit counts.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/heldout_default.py [--train 3] [--only locust20010214]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import spikepool as sp

SAMPLING = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 3, "progressbar": False}


def locust(name: str, window: tuple[float, float]):
    counts = sp.datasets.load_counts(name, window=window)
    labels = counts["condition"].values.astype(str)
    return counts.isel(trial=np.flatnonzero(~np.char.startswith(labels, "Spontaneous")))


def laps():
    from spikepool.io import clean_position, spatial_bin_epochs

    block = sp.datasets.load_block("nelpy-linear-track")
    segment = block.segments[0]
    position = segment.irregularlysampledsignals[0]
    lap_epochs = next(e for e in segment.epochs if e.name == "laps")
    t = position.times.rescale("s").magnitude
    x = clean_position(t, position.magnitude[:, 0])
    zones = lap_epochs.annotations["zone_limits"]
    segment.epochs.append(spatial_bin_epochs(t, x, lap_epochs, np.linspace(zones[0], zones[1], 9)))
    return sp.from_neo(block, align="spatial bins")


DATASETS = {
    "locust20010214 10-12 s": lambda: locust("locust20010214", (10.0, 12.0)),
    "locust20010214 10-11.5 s": lambda: locust("locust20010214", (10.0, 11.5)),
    "locust20000613 3-4 s": lambda: locust("locust20000613", (3.0, 4.0)),
    "locust20000421 3.5-4.5 s": lambda: locust("locust20000421", (3.5, 4.5)),
    "nelpy laps, 16 bins": laps,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=3, help="training trials per neuron x condition cell")
    parser.add_argument("--only", default=None, help="run the datasets whose name contains this")
    args = parser.parse_args()
    for name, load in DATASETS.items():
        if args.only and args.only not in name:
            continue
        counts = load()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sampling warnings of the short training fits: scored, not hidden
            table = sp.compare_pooling(
                counts,
                condition="condition",
                dispersion="pooled",
                train_trials=args.train,
                loo=False,
                variants={"partial, plain": {"neuron_effect": False}},
                **SAMPLING,
            )
        crossed = table.attrs["fits"]["partial"].spec["neuron_effect"]
        lpd = table["heldout_lpd"]
        print(
            f"{name}: {counts.sizes['neuron']} neurons, {np.unique(counts['condition']).size} conditions, "
            f"{int(table['n_heldout'].iloc[0])} held-out trials, default crossed={crossed}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        print("   " + "  ".join(f"{k}: {v:,.1f}" for k, v in lpd.items()), flush=True)
        print(
            f"   default - none = {lpd['partial'] - lpd['none']:+.1f} nats; "
            f"default - plain = {lpd['partial'] - lpd['partial, plain']:+.1f}; "
            f"beats no pooling: {lpd['partial'] > lpd['none']}",
            flush=True,
        )


if __name__ == "__main__":
    main()

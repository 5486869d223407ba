"""Speed and calibration of ``HierarchicalPSTH`` at a recorded and a large simulated size.

Question
--------
How long does a default fit (2 chains x 1,000 draws after 1,000 tuning steps) take, where does the time go,
and does it sample cleanly and cover the truth?

Cases:

- ``locust``: locust20010214, 10 units x 359 trials (14 blocks) x 120 bins of 50 ms over 8-14 s (target:
  < 5 minutes on 2 cores);
- ``simulated``: ``sp.simulate_binned`` with 100 neurons x 8 conditions x 40 trials x 50 bins of 25 ms
  (target: < 10 minutes, R-hat < 1.01, 0 divergences, 90% intervals of the true rates covering 90 +- 3%).

For each: seconds to prepare and check (cells, basis, ``check_binned``), the fit's total, the sampler's
own wall time (``sampling_time``: tuning and draws), the number of cells the likelihood sums over, the mean
tree depth and leapfrog steps per draw, divergences, max R-hat and min bulk ESS of the diagnosed
parameters, and (simulated) the coverage of the true rates by the 90% intervals.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_psth_scale.py [--case locust|simulated|both]
        [--draws 1000] [--tune 1000] [--likelihood negbin] [--sampler auto] [--target-accept 0.99]
        [--seeds 0 1 2] [--chains 2]

``worst`` names the diagnosed variable with the largest R-hat; ``--seeds`` refits with other sampler seeds
(the data stay the same), to tell a chance excursion of 2-chain R-hat from a parameter that mixes badly.
"""

from __future__ import annotations

import argparse
import time
import warnings

import arviz_stats as azs
import numpy as np

import spikepool as sp


def locust():
    return sp.datasets.load_counts("locust20010214", window=(8.0, 14.0), bin_size=0.05), None


def simulated():
    return sp.simulate_binned(100, 8 * 40, 50, bin_size=0.025, conditions=[f"c{k}" for k in range(8)], seed=16)


CASES = {"locust": locust, "simulated": simulated}


def run(
    name: str,
    draws: int,
    sampler: str,
    target_accept: float | None,
    seed: int = 0,
    chains: int = 2,
    tune: int | None = None,
    likelihood: str = "negbin",
) -> dict:
    binned, truth = CASES[name]()
    model = sp.HierarchicalPSTH(condition="condition", sampler=sampler, likelihood=likelihood)
    start = time.perf_counter()
    data = model.prepare(binned)
    model.check(data)
    prepared = time.perf_counter() - start
    kwargs = {} if target_accept is None else {"target_accept": target_accept}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        tune = draws if tune is None else tune
        result = model.fit(data, draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False, **kwargs)
    total = time.perf_counter() - start
    stats = result.idata["sample_stats"].to_dataset()
    post = result.posterior[[v for v in result.DIAGNOSED if v in result.posterior]]
    rhat = {v: float(azs.rhat(post)[v].max()) for v in post.data_vars}
    worst = max(rhat, key=rhat.get)
    row = {
        "case": name,
        "likelihood": likelihood,
        "seed": seed,
        "chains": chains,
        "tune+draws": f"{tune}+{draws}",
        "size": " x ".join(str(binned.sizes[d]) for d in binned.dims),
        "cells": int(data.cells.y.size),
        "prepare+check s": prepared,
        "fit s": total,
        "sampling s": float(result.posterior.attrs.get("sampling_time", np.nan)),
        "depth": float(stats["tree_depth"].mean()) if "tree_depth" in stats else np.nan,
        "steps/draw": float(stats["n_steps"].mean()) if "n_steps" in stats else np.nan,
        "divergences": int(stats["diverging"].sum()),
        "max R-hat": rhat[worst],
        "worst": worst,
        "min ESS": min(float(azs.ess(post)[v].min()) for v in post.data_vars),
        "target_accept": result.spec.get("target_accept"),
    }
    if truth is not None:
        rates = result.rates(ci_prob=0.9)
        inside = (rates["lower"] <= truth["rate"]) & (truth["rate"] <= rates["upper"])
        row["coverage 90%"] = float(inside.mean())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=(*CASES, "both"), default="both")
    parser.add_argument("--draws", type=int, default=1000, help="draws and tuning steps per chain")
    parser.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: --draws)")
    parser.add_argument("--sampler", default="auto")
    parser.add_argument("--likelihood", default="negbin", help="the count family (negbin, poisson, com_poisson)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="sampler seeds, one fit each")
    parser.add_argument("--chains", type=int, default=2, help="chains (each --draws draws after --draws tuning)")
    parser.add_argument("--target-accept", type=float, default=None, help="default: the model's")
    args = parser.parse_args()
    names = list(CASES) if args.case == "both" else [args.case]
    for name, seed in ((n, s) for n in names for s in args.seeds):
        row = run(name, args.draws, args.sampler, args.target_accept, seed, args.chains, args.tune, args.likelihood)
        text = (
            f"{k} {v:.4f}" if k == "max R-hat" else f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in row.items()
        )
        print(", ".join(text), flush=True)


if __name__ == "__main__":
    main()

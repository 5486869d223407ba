"""Realised false discovery rate of ``result.responsive`` over repeated simulated data sets.

Question
--------
``responsive(baseline, fdr=0.05)`` calls the largest set of (neuron, condition) cells whose *expected* FDR
(the mean of ``1 - max(prob_up, prob_down)``) is at most 0.05. Over repeated data sets with known
responders, is the *realised* FDR (false calls / calls) at most the target, and how many true responders
are found?

Scenarios (each data set: 30 neurons x 4 conditions, ``base`` and three stimuli, 20 trials per condition of
1 s, baseline rates log-normal around 10 Hz (sd 0.5 in log), NB counts with alpha 10; fitted with
``--model default``: ``HierarchicalNegBinom(condition="condition")`` and / or ``--model sparse``: the same with
``baseline="base"``, a point mass at no change (``spikepool.models.responses``); 2 chains x 500 draws after 500
tuning):

- ``sparse``: 30% of the (neuron, stimulus) cells respond, log ratio +-0.7 (x2 / x0.5) with sd 0.2; the rest
  are exactly unchanged (ratio 1);
- ``continuous``: every cell's log ratio ~ Normal(0, 0.3), no exact nulls (the model's own assumption).

A call claims ``ratio > min_ratio`` ("up") or ``< 1 / min_ratio`` ("down"); it is false when the true ratio is
not beyond that threshold in the called direction (with ``min_ratio`` 1: the wrong sign, or an unchanged cell).

For ``min_ratio`` 1, 1.1 and 1.25 the script prints, over ``--reps`` data sets: the mean realised FDR (and its
standard error), the mean expected FDR, the mean number of calls and the power (true responders called in
their direction / true responders; in ``continuous``, cells with |log ratio| > log 1.25); after each
(model, scenario), the divergent transitions over all its fits and the worst R-hat.

Run from the repository root::

    python benchmarks/fdr_responsive.py [--reps 20] [--scenario sparse|continuous|both] [--model default|sparse|both]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import spikepool as sp

STIMULI = ("s1", "s2", "s3")
MIN_RATIOS = (1.0, 1.1, 1.25)


def simulate(rng: np.random.Generator, scenario: str, n: int = 30, per_condition: int = 20):
    """Counts (neuron, trial) and the true log ratio (neuron, stimulus) to the baseline."""
    base = rng.normal(np.log(10.0), 0.5, n)
    if scenario == "sparse":
        responds = rng.random((n, len(STIMULI))) < 0.3
        size = rng.normal(0.7, 0.2, responds.shape) * rng.choice([-1.0, 1.0], responds.shape)
        log_ratio = np.where(responds, size, 0.0)
    else:
        log_ratio = rng.normal(0.0, 0.3, (n, len(STIMULI)))
    log_rate = np.column_stack([base, base[:, None] + log_ratio])  # (neuron, condition): base first
    names = np.array(("base", *STIMULI))
    cond = np.tile(np.arange(names.size), per_condition)
    mu = np.exp(log_rate[:, cond])
    y = rng.poisson(rng.gamma(10.0, mu / 10.0))
    return sp.from_array(y, duration=1.0, condition=names[cond]), log_ratio


def score(table, log_ratio: np.ndarray, scenario: str, min_ratio: float) -> tuple[float, int, float]:
    """(realised FDR, calls, power) of one responsive table against the truth.

    A call claims ``ratio > min_ratio`` ("up") or ``ratio < 1 / min_ratio`` ("down"); it is false when the true
    ratio is not beyond that threshold in the called direction (with ``min_ratio = 1``: the wrong sign, or an
    unchanged cell). Power: the share of true responders (``sparse``; in ``continuous`` the cells with |log
    ratio| > log 1.25) called in their direction.
    """
    label = table["responsive"].sel(condition=list(STIMULI)).values
    edge = np.log(min_ratio)
    called = label != "none"
    false = ((label == "up") & (log_ratio <= edge)) | ((label == "down") & (log_ratio >= -edge))
    real = (log_ratio != 0) if scenario == "sparse" else (np.abs(log_ratio) > np.log(1.25))
    right = ((label == "up") & (log_ratio > 0)) | ((label == "down") & (log_ratio < 0))
    power = float((right & real).sum() / max(real.sum(), 1))
    return float(false.sum() / max(called.sum(), 1)), int(called.sum()), power


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--scenario", choices=("sparse", "continuous", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model",
        choices=("default", "sparse", "both"),
        default="both",
        help="default: HierarchicalNegBinom(condition=...); sparse: also baseline='base' (a point mass at no change)",
    )
    args = parser.parse_args()
    models = ("default", "sparse") if args.model == "both" else (args.model,)
    scenarios = ("sparse", "continuous") if args.scenario == "both" else (args.scenario,)
    head = f"{'model':8s} {'scenario':11s} {'min_ratio':>9s} {'realised FDR':>16s} {'expected':>9s}"
    print(f"{head} {'calls':>6s} {'power':>6s}")
    for model, scenario in ((m, s) for m in models for s in scenarios):
        rng = np.random.default_rng(args.seed)
        baseline = {"baseline": "base"} if model == "sparse" else {}
        rows = {m: [] for m in MIN_RATIOS}
        diverging, worst_rhat = 0, 0.0
        start = time.perf_counter()
        for rep in range(args.reps):
            counts, log_ratio = simulate(rng, scenario)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SpikepoolWarning)
                fit = sp.HierarchicalNegBinom(condition="condition", **baseline).fit(
                    counts, draws=500, tune=500, chains=2, random_seed=rep, progressbar=False
                )
            diverging += int(fit.idata["sample_stats"]["diverging"].sum())
            worst_rhat = max(worst_rhat, float(fit.summary()["r_hat"].max()))
            for m in MIN_RATIOS:
                table = fit.responsive("base", min_ratio=m)
                rows[m].append((*score(table, log_ratio, scenario, m), table.attrs["expected_fdr"]))
        for m in MIN_RATIOS:
            r = np.array(rows[m])
            fdr, se = r[:, 0].mean(), r[:, 0].std(ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.nan
            print(
                f"{model:8s} {scenario:11s} {m:9.2f} {fdr:9.3f} +- {se:.3f} {r[:, 3].mean():9.3f} "
                f"{r[:, 1].mean():6.1f} {r[:, 2].mean():6.2f}",
                flush=True,
            )
        print(
            f"{'':20s} {args.reps} data sets in {time.perf_counter() - start:.0f} s; {diverging} divergent "
            f"transitions in all; worst R-hat {worst_rhat:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Time ``check_counts`` on a large session and compare it with a straightforward loop baseline.

Run: ``python benchmarks/bench_checks.py`` (``--quick`` for a smoke run).

The session is simulated (seed 0): 1,000 neurons x 2,000 trials in 10 conditions, Negative-Binomial
counts with per-neuron rates and dispersions, 2% of (neuron, trial) pairs unrecorded. spikepool's
``check_counts`` runs every pre-fit check; the baseline computes only the per-neuron within-condition
Fano factors with a Python loop over neurons and conditions (what a lab script would write), in the
same run. Target: ``check_counts`` under 1 s at this size.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import spikepool as sp


def simulate(n_neurons: int, n_trials: int, n_conditions: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(1.5, 1.0, (n_neurons, n_conditions))
    alpha = rng.lognormal(1.0, 0.7, n_neurons)[:, None]
    cond = np.arange(n_trials) % n_conditions
    mu = rate[:, cond]
    values = rng.poisson(rng.gamma(alpha, mu / alpha))
    valid = rng.random((n_neurons, n_trials)) > 0.02
    values = np.where(valid, values, 0)
    labels = np.array([f"odour{c}" for c in cond])
    return sp.from_array(values, duration=0.5, condition=labels, valid=valid)


def baseline_fano(counts) -> np.ndarray:
    y, valid, cond = counts.values, counts["valid"].values, counts["condition"].values
    out = np.full(y.shape[0], np.nan)
    for i in range(y.shape[0]):
        d = df = 0.0
        for c in np.unique(cond):
            vals = y[i, valid[i] & (cond == c)]
            if vals.size >= 2 and vals.mean() > 0:
                d += ((vals - vals.mean()) ** 2).sum() / vals.mean()
                df += vals.size - 1
        out[i] = d / df if df else np.nan
    return out


def best(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 neurons x 200 trials")
    args = parser.parse_args(argv)
    if args.quick:
        args.neurons, args.trials = 100, 200
    counts = simulate(args.neurons, args.trials)
    print(f"check_counts benchmark: {args.neurons:,} neurons x {args.trials:,} trials, 10 conditions, seed 0")
    t_sp, report = best(lambda: sp.check_counts(counts, dispersion="neuron", condition="condition"), args.repeats)
    t_base, fano = best(lambda: baseline_fano(counts), 1)
    agree = np.allclose(report.summary["fano"].values, fano, rtol=1e-9, equal_nan=True)
    print()
    print(f"{'method':48} {'seconds':>8} {'vs baseline':>12}")
    print(f"{'baseline: Fano loop over neurons x conditions':48} {t_base:8.3f} {1.0:11.1f}x")
    print(f"{'spikepool check_counts (all checks)':48} {t_sp:8.3f} {t_base / t_sp:11.1f}x")
    print()
    print(f"Fano factors agree with the baseline: {agree}")
    print(
        f"report: {len(report.errors)} error(s), {len(report.warnings)} warning(s): "
        f"{sorted({p.code for p in report.problems})}"
    )
    verdict = "n/a (quick)" if args.quick else ("PASS" if t_sp < 1.0 else "FAIL")
    print(f"{verdict}: check_counts took {t_sp:.3f} s (target < 1 s at 1,000 x 2,000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The fast path: ``HierarchicalNegBinom.fit(counts, method="laplace")`` against NUTS and the truth.

What is measured (ratios against NUTS fitted in the same run)
-------------------------------------------------------------
1. The Neuropixels-scale session of ``bench_scale.py`` (``simulate_neuropixels``: 1,000 units x 8 conditions x
   50 trials, crossed effects, per-unit dispersion), fitted with the default crossed model by the nested
   Laplace approximation and by PyMC's NUTS (2 chains x 1,000 + 1,000): wall time and stages of each, the
   Laplace checks (Pareto k of the hyperparameters and the worst unit), posterior mean rates of Laplace against
   NUTS (median and 90th percentile over cells of |Laplace / NUTS - 1|), the ratio of their 90% interval widths,
   the 90% coverage of the true rates by each, and tau, tau_neuron against the truth.
2. A simulation batch: 10 sessions of 200 units x 4 conditions x 20 trials (the design of ``tests/test_laplace.py``),
   pooled coverage of the true rates by 90% intervals, and how many fits warned.
3. Where it must warn: 10 sessions of 20 units x 2 conditions x 3 trials with tau = 0.05; how many fits warned
   (``laplace_hyper``) and the range of the hyperparameters' tail error (their Laplace marginal against its
   Gaussian at 3 sd along each axis, nats).
4. The README's main job's counts (locust20010214, 10 units, 14 odours, window 10-12 s): Laplace against NUTS
   (4 chains x 1,000 + 1,000): wall times, checks, rates.

Run from the repository root (SPIKEPOOL_DATA must point at the data folder)::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_laplace.py            # ~6 minutes on 2 cores
    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_laplace.py --no-nuts  # Laplace only, ~2 minutes

The script prints tables and always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_scale import simulate_neuropixels

import spikepool as sp


def _table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _fit(model, counts, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        result = model.fit(counts, progressbar=False, **kwargs)
        wall = time.perf_counter() - t0
    codes = sorted({p.code for p in result.post_checks.warnings})
    return result, wall, codes, caught


def _coverage(result, truth) -> np.ndarray:
    rates = result.rates(ci_prob=0.9)
    true = truth["rate"].sel(condition=rates["condition"].values) if "condition" in rates.dims else truth["rate"]
    return ((true >= rates["lower"]) & (true <= rates["upper"])).values.ravel()


def _against(laplace, nuts) -> list[list]:
    a, b = laplace.rates(ci_prob=0.9), nuts.rates(ci_prob=0.9)
    diff = np.abs(a["mean"] / b["mean"] - 1).values.ravel()
    width = ((a["upper"] - a["lower"]) / (b["upper"] - b["lower"])).values.ravel()
    return [
        ["mean rate, |Laplace / NUTS - 1|: median over cells", float(np.median(diff))],
        ["mean rate, |Laplace / NUTS - 1|: 90th percentile", float(np.quantile(diff, 0.9))],
        ["90% interval width, Laplace / NUTS: median", float(np.median(width))],
    ]


def _k(result) -> str:
    s = result.post_checks.summary
    return (
        f"{float(s['hyper_pareto_k']):.2f} / {float(s['pareto_k_max']):.2f}; tail error "
        f"{float(s['hyper_tail_error']):.2f} nats"
    )


def bench_session(n_neurons: int, nuts: bool) -> None:
    counts, truth = simulate_neuropixels(n_neurons)
    model = sp.HierarchicalNegBinom(condition="condition")
    lap, t_lap, codes, _ = _fit(model, counts, method="laplace", chains=2, random_seed=1)
    rows = [
        ["Laplace fit wall s", t_lap],
        ["Laplace stages", lap.timings],
        ["Laplace Pareto k: hyperparameters / worst unit; hyperparameters' tail error", _k(lap)],
        ["Laplace warnings", codes or "none"],
        ["Laplace: 90% intervals covering the true rates", float(_coverage(lap, truth).mean())],
    ]
    u = truth["neuron_effect"].values
    truths = {"tau": 0.3, "tau_neuron": float(np.std(u - u.mean(), ddof=1))}
    fits = {"Laplace": lap}
    if nuts:
        full, t_nuts, codes_n, _ = _fit(model, counts, chains=2, random_seed=1, sampler="pymc")
        fits["NUTS"] = full
        rows += [
            ["NUTS fit wall s (PyMC, 2 chains x 1,000 + 1,000)", t_nuts],
            ["NUTS warnings", codes_n or "none"],
            ["NUTS: 90% intervals covering the true rates", float(_coverage(full, truth).mean())],
            ["speed-up, NUTS wall / Laplace wall", t_nuts / t_lap],
            *_against(lap, full),
        ]
    for name, true in truths.items():
        rows.append(
            [f"{name}: truth {true:.4f}; posterior mean (sd)"]
            + [
                "; ".join(
                    f"{k} {float(f.posterior[name].mean()):.4f} ({float(f.posterior[name].std()):.4f})"
                    for k, f in fits.items()
                )
            ]  # fmt: skip
        )
    _table(f"1. {n_neurons} units x 8 conditions x 50 trials ({counts.size:,} counts)", ["figure", "value"], rows)


def bench_batch(n_sessions: int) -> None:
    inside, warned, times = [], 0, []
    for seed in range(n_sessions):
        alpha = np.exp(np.random.default_rng(seed + 1000).normal(np.log(5.0), 0.5, 200))
        counts, truth = sp.simulate_counts(
            200, 80, conditions=[f"c{k}" for k in range(4)], mu=np.linspace(np.log(3), np.log(10), 4), tau=0.3,
            alpha=alpha, duration=0.5, neuron_sd=0.5, seed=seed,
        )  # fmt: skip
        fit, wall, codes, _ = _fit(sp.HierarchicalNegBinom(condition="condition"), counts, method="laplace",
                                   chains=2, draws=500, random_seed=seed)  # fmt: skip
        inside.append(_coverage(fit, truth))
        warned += bool(codes)
        times.append(wall)
    per = [float(x.mean()) for x in inside]
    _table(
        f"2. Simulation batch: {n_sessions} sessions x 200 units x 4 conditions x 20 trials (tau 0.3, unit sd 0.5)",
        ["figure", "value"],
        [
            ["90% intervals covering the true rates (pooled over sessions)", float(np.concatenate(inside).mean())],
            ["per session: min / max", f"{min(per):.3f} / {max(per):.3f}"],
            ["fits that warned", f"{warned} of {n_sessions}"],
            ["fit wall s: median", float(np.median(times))],
        ],
    )


def bench_must_warn(n_sessions: int) -> None:
    ks, warned = [], 0
    for seed in range(n_sessions):
        counts, _ = sp.simulate_counts(
            20, 6, conditions=["a", "b"], mu=np.log([3.0, 10.0]), tau=0.05, alpha=5.0, duration=0.5,
            neuron_sd=0.3, seed=seed,
        )  # fmt: skip
        fit, _, codes, _ = _fit(sp.HierarchicalNegBinom(condition="condition"), counts, method="laplace",
                                chains=2, draws=500, random_seed=seed)  # fmt: skip
        ks.append(float(fit.post_checks.summary["hyper_tail_error"]))
        warned += "laplace_hyper" in codes
    _table(
        f"3. Few trials, small tau: {n_sessions} sessions x 20 units x 2 conditions x 3 trials, tau 0.05",
        ["figure", "value"],
        [
            ["fits that warned laplace_hyper", f"{warned} of {n_sessions}"],
            [
                "hyperparameters' tail error (nats; threshold 1): min / median / max",
                f"{min(ks):.2f} / {np.median(ks):.2f} / {max(ks):.2f}",
            ],
        ],
    )


def bench_locust(nuts: bool) -> None:
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    model = sp.HierarchicalNegBinom(condition="condition")
    lap, t_lap, codes, _ = _fit(model, counts, method="laplace", chains=4, random_seed=0)
    rows = [
        ["Laplace fit wall s", t_lap],
        ["Laplace Pareto k: hyperparameters / worst unit; hyperparameters' tail error", _k(lap)],
        ["Laplace warnings", codes or "none"],
    ]
    if nuts:
        full, t_nuts, codes_n, _ = _fit(model, counts, chains=4, random_seed=0)
        rows += [["NUTS fit wall s", t_nuts], ["NUTS warnings", codes_n or "none"], *_against(lap, full)]
    _table("4. The README's main job's counts: locust20010214, window 10-12 s", ["figure", "value"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-nuts", action="store_true", help="skip the NUTS fits (the baselines)")
    parser.add_argument("--neurons", type=int, default=1000, help="units of section 1 (default 1000)")
    parser.add_argument("--only", default="session,batch,warn,locust", help="comma-separated sections")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"spikepool {sp.__version__}")
    if "session" in only:
        bench_session(args.neurons, not args.no_nuts)
    if "batch" in only:
        bench_batch(10)
    if "warn" in only:
        bench_must_warn(10)
    if "locust" in only:
        bench_locust(not args.no_nuts)


if __name__ == "__main__":
    main()

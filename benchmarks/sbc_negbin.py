"""Simulation-based calibration (SBC; Talts et al. 2018) of the partial-pooling Negative-Binomial model.

Question
--------
Does ``HierarchicalNegBinom(dispersion="shared")`` (partial pooling of log rates, one shared dispersion)
together with its sampler return calibrated posteriors for the population mean log rate ``mu`` and the
between-neuron sd ``tau``? If data are drawn from the model's own prior and likelihood, the rank of the
true value among L posterior draws is uniform on {0, ..., L}; departures show bias (skewed ranks),
over-confidence (U shape) or under-confidence (hump).

Method
------
The model's prior location of ``mu`` defaults to the log pooled rate of the data (a data-dependent
prior, which breaks SBC), so it is fixed here: ``priors={"mu_loc": 1.0}``. Every other prior is the
package default (``spikepool/models/priors.py``). For each replicate r = 1..R, from one numpy Generator
(``--seed``):

    mu        ~ Normal(1.0, 2.0)           population mean log rate (log Hz)
    tau       ~ HalfNormal(1.0)            between-neuron sd of log rates
    log_alpha ~ Normal(1.0, 1.5)           shared NB dispersion, alpha = exp(log_alpha)

then ``sp.simulate_counts(12, 10, mu=mu, tau=tau, alpha=alpha, duration=1.0, seed=...)`` draws 12
neurons x 10 trials of 1 s (log r_i ~ Normal(mu, tau), y ~ NB(r_i, alpha)), exactly the model's
generative process. Nothing is clipped or rejected: prior draws that give extreme data (all-zero
counts, some true rate > 1000 Hz) are kept and counted in the report (rejecting them would condition
the prior on the data and break SBC). The model is fitted with ``model.fit`` (PyMC NUTS, default
target_accept, 2 chains, ``--tune`` 400 and ``--draws`` 500 per chain by default, cores=1); the
1,000 pooled draws are thinned to L = 99 evenly spaced draws (every ~10th: roughly independent for
these chains), giving ranks 0..99, i.e. 100 values and exactly 10 per histogram bin. Ranks are
computed for ``mu``, ``tau``, ``log_alpha`` and the log rate of neuron ``n0``.

Reported: per parameter, a 10-bin rank histogram (expected R/10 per bin), a chi-square test of
uniformity (9 df; needs R/10 >= 5 to be trusted), the mean normalised rank rank/L (0.5 expected; its
Monte-Carlo se is about 0.29/sqrt(R)); the number of fits with divergences and with R-hat > 1.01 (on
mu, tau, rate and alpha, as ``check_sampling`` computes it); total wall time and time per fit.
Spikepool and sampling warnings are silenced (counted instead). Each fit rebuilds and recompiles the
model (data enter the graph as constants); PyTensor's on-disk cache of compiled C code keeps that cheap.

Run from the repository root::

    python benchmarks/sbc_negbin.py                    # R = 100 replicates (~10 min on 2 cores)
    python benchmarks/sbc_negbin.py --quick            # R = 10, tiny chains (smoke run)
    python benchmarks/sbc_negbin.py --replicates 200 --seed 3
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
from scipy import stats

import spikepool as sp

PRIOR_MU = (1.0, 2.0)  # Normal(loc, scale), passed to the model as mu_loc / mu_scale
PRIOR_TAU_SCALE = 1.0  # HalfNormal scale (package default)
PRIOR_LOG_ALPHA = (1.0, 1.5)  # Normal(loc, scale) (package default)
N_NEURONS, N_TRIALS, DURATION = 12, 10, 1.0
N_BINS = 10
PARAMS = ("mu", "tau", "log_alpha", "log_rate[n0]")


def draw_prior(rng: np.random.Generator) -> dict[str, float]:
    """One draw of (mu, tau, log_alpha) from the model's prior, nothing clipped."""
    return {
        "mu": float(rng.normal(*PRIOR_MU)),
        "tau": float(abs(rng.normal(0.0, PRIOR_TAU_SCALE))),
        "log_alpha": float(rng.normal(*PRIOR_LOG_ALPHA)),
    }


def thinned(values: np.ndarray, n_keep: int) -> np.ndarray:
    """``n_keep`` evenly spaced draws of the chain-pooled (chain, draw) array."""
    flat = np.asarray(values, dtype=float).reshape(-1)
    if flat.size < n_keep:
        raise ValueError(f"need at least {n_keep} posterior draws to thin; got {flat.size}.")
    return flat[np.linspace(0, flat.size - 1, n_keep).round().astype(int)]


def run_replicate(model, rng: np.random.Generator, args) -> dict:
    theta = draw_prior(rng)
    sim_seed, fit_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    counts, truth = sp.simulate_counts(
        N_NEURONS,
        N_TRIALS,
        mu=theta["mu"],
        tau=theta["tau"],
        alpha=float(np.exp(theta["log_alpha"])),
        duration=DURATION,
        seed=sim_seed,
    )
    true = {**theta, "log_rate[n0]": float(truth["log_rate"].values[0, 0])}
    out = {
        "theta": true,
        "all_zero": bool(int(counts.sum()) == 0),
        "max_rate": float(truth["rate"].max()),
        "total_spikes": int(counts.sum()),
    }
    kwargs = {"cores": 1}
    if args.target_accept is not None:
        kwargs["target_accept"] = args.target_accept
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(
            counts,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_seed=fit_seed,
            progressbar=False,
            **kwargs,
        )
    out["seconds"] = time.perf_counter() - t0
    out["n_warnings"] = sum(issubclass(w.category, sp.SamplingWarning | sp.SpikepoolWarning) for w in caught)
    post = result.idata["posterior"]
    draws = {
        "mu": post["mu"].values,
        "tau": post["tau"].values,
        "log_alpha": np.log(post["alpha"].values),
        "log_rate[n0]": post["log_rate"].sel(neuron="n0").values,
    }
    out["ranks"] = {p: int((thinned(draws[p], args.n_keep) < true[p]).sum()) for p in PARAMS}
    summary = result.post_checks.summary
    out["divergences"] = int(summary["divergences"])
    out["rhat_max"] = float(summary["rhat_max"])
    out["ess_bulk_min"] = float(summary["ess_bulk_min"])
    return out


def rank_table(ranks: dict[str, np.ndarray], n_keep: int) -> str:
    """Text histogram of ranks in N_BINS equal bins of the L + 1 possible values."""
    edges = np.linspace(0, n_keep + 1, N_BINS + 1)
    lines = ["bin (ranks)  " + "".join(f"{p:>14}" for p in PARAMS)]
    hists = {p: np.histogram(ranks[p], bins=edges)[0] for p in PARAMS}
    for b in range(N_BINS):
        lo, hi = int(np.ceil(edges[b])), int(np.ceil(edges[b + 1])) - 1
        lines.append(f"{b + 1:>2} [{lo:>3}-{hi:>3}]  " + "".join(f"{hists[p][b]:>14d}" for p in PARAMS))
    return "\n".join(lines), hists


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=100, help="number of SBC replicates R (default 100)")
    parser.add_argument("--quick", action="store_true", help="smoke run: R=10, tiny chains, L=19")
    parser.add_argument("--seed", type=int, default=0, help="seed of the master Generator (default 0)")
    parser.add_argument("--tune", type=int, default=400, help="tuning steps per chain (default 400)")
    parser.add_argument("--draws", type=int, default=500, help="draws per chain (default 500)")
    parser.add_argument("--chains", type=int, default=2, help="chains (default 2)")
    parser.add_argument("--target-accept", type=float, default=None, help="NUTS target_accept (default PyMC's)")
    args = parser.parse_args(argv)
    args.n_keep = 99  # L: ranks 0..99, 100 values, 10 per bin
    if args.quick:
        args.replicates, args.tune, args.draws, args.n_keep = 10, 150, 100, 19
    if args.chains * args.draws < args.n_keep:
        parser.error(f"chains * draws must be >= {args.n_keep} (the thinned draws L)")
    import pymc  # noqa: F401  (imported first: pymc sets its logger level on import)

    logging.getLogger("pymc").setLevel(logging.ERROR)

    model = sp.HierarchicalNegBinom(
        dispersion="shared",
        priors={
            "mu_loc": PRIOR_MU[0],
            "mu_scale": PRIOR_MU[1],
            "tau": "halfnormal",
            "tau_scale": PRIOR_TAU_SCALE,
            "log_alpha_loc": PRIOR_LOG_ALPHA[0],
            "log_alpha_scale": PRIOR_LOG_ALPHA[1],
        },
    )
    print("SBC of HierarchicalNegBinom(dispersion='shared', priors={'mu_loc': 1.0}) [other priors default]")
    print(
        f"prior: mu ~ Normal{PRIOR_MU}, tau ~ HalfNormal({PRIOR_TAU_SCALE}), log_alpha ~ Normal{PRIOR_LOG_ALPHA}; "
        "no clipping, no rejection"
    )
    print(
        f"design: {N_NEURONS} neurons x {N_TRIALS} trials x {DURATION:g} s; R = {args.replicates}, seed {args.seed}; "
        f"NUTS {args.chains} chains x (tune {args.tune} + draws {args.draws}), cores=1, "
        f"target_accept {args.target_accept or 'default'}; {args.chains * args.draws} draws thinned to L = "
        f"{args.n_keep}"
    )
    rng = np.random.default_rng(args.seed)
    results, failures = [], []
    t_start = time.perf_counter()
    for r in range(args.replicates):
        try:
            results.append(run_replicate(model, rng, args))
        except Exception as err:  # a failed fit is reported, never silently dropped
            failures.append((r, f"{type(err).__name__}: {err}"))
        if (r + 1) % 10 == 0 or r + 1 == args.replicates:
            print(f"  ... {r + 1}/{args.replicates} fits, {time.perf_counter() - t_start:.0f} s", flush=True)
    wall = time.perf_counter() - t_start

    n = len(results)
    if n == 0:
        raise SystemExit(f"all {args.replicates} fits failed: {failures[:3]}")
    ranks = {p: np.array([res["ranks"][p] for res in results]) for p in PARAMS}
    table, hists = rank_table(ranks, args.n_keep)
    print(f"\nRank histograms ({n} replicates, L = {args.n_keep}; expected {n / N_BINS:g} per bin):")
    print(table)
    print("\nUniformity:")
    print(f"{'parameter':<14}{'chi2 (9 df)':>12}{'p-value':>10}{'mean rank/L':>13}{'z (vs 0.5)':>12}")
    se = np.sqrt(((args.n_keep + 1) ** 2 - 1) / 12.0) / args.n_keep / np.sqrt(n)
    for p in PARAMS:
        chi2, pval = stats.chisquare(hists[p])
        mean = float(np.mean(ranks[p] / args.n_keep))
        print(f"{p:<14}{chi2:>12.2f}{pval:>10.3f}{mean:>13.3f}{(mean - 0.5) / se:>12.2f}")
    if n / N_BINS < 5:
        print(f"(chi-square unreliable: {n / N_BINS:g} expected per bin < 5)")

    div = np.array([res["divergences"] for res in results])
    rhat = np.array([res["rhat_max"] for res in results])
    ess = np.array([res["ess_bulk_min"] for res in results])
    print("\nSampling diagnostics (check_sampling on mu, tau, rate, alpha):")
    print(f"  fits with divergences:     {int((div > 0).sum())}/{n} (total {int(div.sum())} divergent transitions)")
    print(f"  fits with R-hat > 1.01:    {int((rhat > 1.01).sum())}/{n} (max R-hat {rhat.max():.3f})")
    print(f"  fits with min bulk ESS < 100: {int((ess < 100).sum())}/{n} (median of min bulk ESS {np.median(ess):.0f})")
    print(f"  fits issuing spikepool / sampling warnings: {sum(res['n_warnings'] > 0 for res in results)}/{n}")
    print(f"  failed fits: {len(failures)}/{args.replicates}" + "".join(f"\n    #{r}: {m}" for r, m in failures))
    if (div > 0).any():
        taus = np.array([res["theta"]["tau"] for res in results])
        print(
            f"  median true tau in fits with / without divergences: {np.median(taus[div > 0]):.3f} / "
            f"{np.median(taus[div == 0]) if (div == 0).any() else float('nan'):.3f}"
        )
    print("\nExtreme prior draws (all kept):")
    print(f"  all-zero counts: {sum(res['all_zero'] for res in results)}/{n}")
    print(f"  some true rate > 1000 Hz: {sum(res['max_rate'] > 1000 for res in results)}/{n}")
    spikes = np.array([res["total_spikes"] for res in results])
    print(f"  total spikes per data set: median {np.median(spikes):.0f}, min {spikes.min()}, max {spikes.max()}")
    per_fit = np.array([res["seconds"] for res in results])
    print(
        f"\nWall time: {wall:.1f} s total, {wall / args.replicates:.2f} s per replicate "
        f"(fit only: median {np.median(per_fit):.2f} s, max {per_fit.max():.2f} s)"
    )


if __name__ == "__main__":
    main()

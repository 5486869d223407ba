"""Simulation-based calibration (SBC; Talts et al. 2018) of the default partial-pooling Negative-Binomial model.

Question
--------
Does ``HierarchicalNegBinom()`` with its default settings (partial pooling of log rates, one dispersion
per neuron, ``parameterization="auto"``, default sampler and target_accept, 4 chains x (1000 tune +
1000 draws)) return calibrated posteriors without divergences, from small between-neuron spread
(tau = 0.05) to large (1.5), on 3 to 30 trials per neuron?

Method
------
The default prior location of ``mu`` is the log pooled rate of the data (a data-dependent prior, which
breaks SBC), so it is fixed: ``priors={"mu_loc": 2.0, "mu_scale": 1.0}`` (rates of about 1-55 Hz at 95%;
the default scale 2.0 would draw some all-silent populations, which spikepool refuses to fit, and refusing
them would condition the prior on the data). Every other prior is the package default
(``spikepool/models/priors.py``). For each replicate r = 1..R, from one numpy Generator (``--seed``)::

    mu          ~ Normal(2.0, 1.0)         population mean log rate (log Hz)
    tau         ~ HalfNormal(1.0)          between-neuron sd of log rates (4% of draws below 0.05,
                                           13% above 1.5)
    log alpha_i ~ Normal(1.0, 1.5)         NB dispersion of each neuron
    T           ~ Uniform{3, ..., 30}      trials recorded in this data set
    n_i         ~ Uniform{3, ..., T}       valid trials of neuron i (the rest marked ``valid=False``)

then 12 neurons x T trials of 0.5 s are drawn by ``sp.simulate_counts`` (log r_i ~ Normal(mu, tau),
y ~ NB(r_i d, alpha_i)), the model's own generative process. Nothing is clipped or rejected. The 4,000
pooled draws are thinned to L = 99 evenly spaced draws (ranks 0..99: 10 values per histogram bin).
Ranks are taken for ``mu``, ``tau``, ``log_alpha`` of neuron n0 and ``log_rate`` of neuron n0 (one value
of each per data set, so the R ranks are independent). The 90% equal-tailed interval of every neuron's
rate is checked against its true rate (coverage over all R x 12 neurons).

``--tau 0.05`` fixes tau instead of drawing it (not SBC: no ranks for tau; a stress test of the small-
tau regime where centered neurons funnel) and reports divergences and coverage only.

Reported: rank histograms, chi-square uniformity tests (9 df), mean normalised rank; fits with any
divergence, R-hat > 1.01, min bulk ESS < 400; 90% coverage overall and by true tau; all by true-tau band.

Run from the repository root (one core per process; R = 200 takes about 25 minutes)::

    python benchmarks/sbc_negbin.py --replicates 200 --out sbc.json
    python benchmarks/sbc_negbin.py --replicates 100 --tau 0.05
    python benchmarks/sbc_negbin.py --quick            # R = 6, short chains (smoke run)
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
from scipy import stats

import spikepool as sp

PRIORS = {"mu_loc": 2.0, "mu_scale": 1.0}  # everything else: package defaults
N_NEURONS, MIN_TRIALS, MAX_TRIALS, DURATION = 12, 3, 30, 0.5
N_BINS = 10
PARAMS = ("mu", "tau", "log_alpha[n0]", "log_rate[n0]")
TAU_BANDS = ((0.0, 0.2), (0.2, 0.7), (0.7, np.inf))


def draw_design(rng: np.random.Generator, fixed_tau: float | None) -> dict:
    """One draw of the parameters and the trial design from the prior, nothing clipped."""
    p = sp.models.priors.DEFAULT_PRIORS
    n_trials = int(rng.integers(MIN_TRIALS, MAX_TRIALS + 1))
    return {
        "mu": float(rng.normal(PRIORS["mu_loc"], PRIORS["mu_scale"])),
        "tau": fixed_tau if fixed_tau is not None else float(abs(rng.normal(0.0, p["tau_scale"]))),
        "log_alpha": rng.normal(p["log_alpha_loc"], p["log_alpha_scale"], N_NEURONS),
        "n_trials": n_trials,
        "valid_trials": rng.integers(MIN_TRIALS, n_trials + 1, N_NEURONS),
    }


def simulate(theta: dict, seed: int):
    """Counts (neuron, trial) with a ``valid`` mask, and the true log rates (neuron,)."""
    counts, truth = sp.simulate_counts(
        N_NEURONS,
        theta["n_trials"],
        mu=theta["mu"],
        tau=theta["tau"],
        alpha=np.exp(theta["log_alpha"]),
        duration=DURATION,
        seed=seed,
    )
    valid = np.arange(theta["n_trials"])[None, :] < theta["valid_trials"][:, None]
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    return counts, truth["log_rate"].values[:, 0]


def thinned(values: np.ndarray, n_keep: int) -> np.ndarray:
    """``n_keep`` evenly spaced draws of the chain-pooled (chain, draw) array."""
    flat = np.asarray(values, dtype=float).reshape(-1)
    return flat[np.linspace(0, flat.size - 1, n_keep).round().astype(int)]


def run_replicate(model, rng: np.random.Generator, args) -> dict:
    theta = draw_design(rng, args.tau)
    sim_seed, fit_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    counts, log_rate = simulate(theta, sim_seed)
    true = {
        "mu": theta["mu"],
        "tau": theta["tau"],
        "log_alpha[n0]": float(theta["log_alpha"][0]),
        "log_rate[n0]": float(log_rate[0]),
    }
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(counts, draws=args.draws, tune=args.tune, random_seed=fit_seed, progressbar=False, cores=1)
    seconds = time.perf_counter() - t0
    post = result.idata["posterior"]
    draws = {
        "mu": post["mu"].values,
        "tau": post["tau"].values,
        "log_alpha[n0]": np.log(post["alpha"].sel(neuron="n0").values),
        "log_rate[n0]": post["log_rate"].sel(neuron="n0").values,
    }
    log_rates = post["log_rate"].values.reshape(-1, N_NEURONS)
    lo, hi = np.quantile(log_rates, [0.05, 0.95], axis=0)
    summary = result.post_checks.summary
    return {
        "theta": true,
        "n_trials": theta["n_trials"],
        "valid_trials": theta["valid_trials"].tolist(),
        "total_spikes": int(counts.sum()),
        "silent_neurons": int((counts.sum("trial") == 0).sum()),
        "ranks": {p: int((thinned(draws[p], args.n_keep) < true[p]).sum()) for p in PARAMS},
        "covered": ((lo <= log_rate) & (log_rate <= hi)).tolist(),
        "centered": int(result.centered.sum()),
        "divergences": int(summary["divergences"]),
        "rhat_max": float(summary["rhat_max"]),
        "ess_bulk_min": float(summary["ess_bulk_min"]),
        "n_warnings": sum(issubclass(w.category, sp.SamplingWarning | sp.SpikepoolWarning) for w in caught),
        "seconds": seconds,
    }


def rank_report(results: list[dict], n_keep: int, params) -> list[str]:
    edges = np.linspace(0, n_keep + 1, N_BINS + 1)
    ranks = {p: np.array([res["ranks"][p] for res in results]) for p in params}
    hists = {p: np.histogram(ranks[p], bins=edges)[0] for p in params}
    n = len(results)
    lines = [f"Rank histograms ({n} replicates, L = {n_keep}; expected {n / N_BINS:g} per bin):"]
    lines.append("bin (ranks)  " + "".join(f"{p:>15}" for p in params))
    for b in range(N_BINS):
        lo, hi = int(np.ceil(edges[b])), int(np.ceil(edges[b + 1])) - 1
        lines.append(f"{b + 1:>2} [{lo:>3}-{hi:>3}]  " + "".join(f"{hists[p][b]:>15d}" for p in params))
    lines += ["", f"{'parameter':<15}{'chi2 (9 df)':>12}{'p-value':>10}{'mean rank/L':>13}{'z (vs 0.5)':>12}"]
    se = np.sqrt(((n_keep + 1) ** 2 - 1) / 12.0) / n_keep / np.sqrt(n)
    for p in params:
        chi2, pval = stats.chisquare(hists[p])
        mean = float(np.mean(ranks[p] / n_keep))
        lines.append(f"{p:<15}{chi2:>12.2f}{pval:>10.3f}{mean:>13.3f}{(mean - 0.5) / se:>12.2f}")
    return lines


def band_table(results: list[dict]) -> list[str]:
    lines = [
        f"{'true tau':<12}{'fits':>6}{'divergent fits':>16}{'R-hat>1.01':>12}{'ESS<400':>9}{'90% coverage':>14}"
        f"{'centred/neuron':>16}"
    ]
    taus = np.array([res["theta"]["tau"] for res in results])
    for lo, hi in (*TAU_BANDS, (0.0, np.inf)):
        sel = [res for res, t in zip(results, taus, strict=True) if lo <= t < hi]
        if not sel:
            continue
        cov = np.concatenate([res["covered"] for res in sel])
        label = "all" if (lo, hi) == (0.0, np.inf) else f"[{lo:g}, {hi:g})"
        lines.append(
            f"{label:<12}{len(sel):>6}{sum(r['divergences'] > 0 for r in sel):>16}"
            f"{sum(r['rhat_max'] > 1.01 for r in sel):>12}{sum(r['ess_bulk_min'] < 400 for r in sel):>9}"
            f"{cov.mean():>13.1%} {np.mean([r['centered'] for r in sel]) / N_NEURONS:>15.2f}"
        )
    return lines


def report(results: list[dict], failures: list, args, wall: float) -> str:
    n = len(results)
    lines = [""]
    params = PARAMS if args.tau is None else tuple(p for p in PARAMS if p != "tau")
    lines += rank_report(results, args.n_keep, params)
    if n / N_BINS < 5:
        lines.append(f"(chi-square unreliable: {n / N_BINS:g} expected per bin < 5)")
    lines += ["", "Sampling and coverage by true tau (coverage of the 90% intervals of all 12 neurons' rates):"]
    lines += band_table(results)
    div = np.array([r["divergences"] for r in results])
    cov = np.concatenate([r["covered"] for r in results])
    se = np.sqrt(0.09 / cov.size)
    lines += [
        "",
        f"fits with any divergence: {int((div > 0).sum())}/{n} ({(div > 0).mean():.1%}); "
        f"divergent transitions in all: {int(div.sum())}",
        f"90% interval coverage of true rates: {cov.mean():.1%} of {cov.size} (binomial se {se:.1%})",
        f"fits with spikepool/sampling warnings: {sum(r['n_warnings'] > 0 for r in results)}/{n}",
        f"failed fits: {len(failures)}/{args.replicates}" + "".join(f"\n  #{r}: {m}" for r, m in failures),
        f"silent neurons: {sum(r['silent_neurons'] for r in results)} of {n * N_NEURONS}; "
        f"spikes per data set: median {np.median([r['total_spikes'] for r in results]):.0f}",
        f"wall time {wall:.0f} s, median fit {np.median([r['seconds'] for r in results]):.1f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=200, help="SBC replicates R (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the master Generator (default 0)")
    parser.add_argument("--tau", type=float, default=None, help="fix tau (stress test; no tau ranks)")
    parser.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (default 1000, fit's)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000, fit's)")
    parser.add_argument("--out", default=None, help="write every replicate's figures to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smoke run: R=6, short chains, L=19")
    args = parser.parse_args(argv)
    args.n_keep = 99
    if args.quick:
        args.replicates, args.tune, args.draws, args.n_keep = 6, 200, 100, 19
    import pymc  # noqa: F401  (imported first: pymc sets its logger level on import)

    logging.getLogger("pymc").setLevel(logging.ERROR)
    model = sp.HierarchicalNegBinom(priors=PRIORS)
    print(f"SBC of {model!r}")
    print(
        f"R = {args.replicates}, seed {args.seed}; {N_NEURONS} neurons x {MIN_TRIALS}-{MAX_TRIALS} trials x "
        f"{DURATION:g} s; tau {'~ HalfNormal(1)' if args.tau is None else f'= {args.tau:g}'}; 4 chains x "
        f"(tune {args.tune} + draws {args.draws}), cores=1; thinned to L = {args.n_keep}",
        flush=True,
    )
    rng = np.random.default_rng(args.seed)
    results, failures = [], []
    t_start = time.perf_counter()
    for r in range(args.replicates):
        try:
            results.append(run_replicate(model, rng, args))
        except Exception as err:  # a failed fit is reported, never silently dropped
            failures.append((r, f"{type(err).__name__}: {err}"))
        if (r + 1) % 20 == 0 or r + 1 == args.replicates:
            print(f"  ... {r + 1}/{args.replicates} fits, {time.perf_counter() - t_start:.0f} s", flush=True)
    wall = time.perf_counter() - t_start
    if not results:
        raise SystemExit(f"all {args.replicates} fits failed: {failures[:3]}")
    print(report(results, failures, args, wall))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "results": results, "failures": failures}, f)


if __name__ == "__main__":
    main()

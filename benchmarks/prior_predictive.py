"""Prior predictive check of the default prior on tau (HalfNormal(1) vs HalfCauchy(1)) on real locust data.

Question
--------
``tau`` is the between-neuron sd of log firing rates in ``HierarchicalNegBinom`` (partial pooling). Its
default prior is HalfNormal(1); ``priors={"tau": "halfcauchy"}`` gives HalfCauchy(1). Which one
predicts populations that look like a real recording, and how often does each predict absurd ones?

Method
------
Data: ``sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))``: 10 units of a locust antennal
lobe tetrode, 359 trials of 2 s (files from ``SPIKEPOOL_DATA``; when unset, the script uses
``<repo>/../shared/data`` if that folder exists, else stops with a message). Observed statistics:

* per-neuron raw rate ``(S_i + 0.5) / E_i`` (S_i: spikes over all valid trials, E_i: their exposure in
  s; the +0.5 keeps silent prior-predictive neurons finite and changes the observed rates by < 0.1%);
* the sd (ddof=1) of the log raw rates across the 10 units;
* the range ``max / min`` of the raw rates;
* the median per-trial count over all valid (neuron, trial) pairs.

Prior predictive: for each tau prior the package's default model, ``HierarchicalNegBinom()``
(``pooling="partial"``, ``dispersion="neuron"``, ``mu ~ Normal(log pooled rate of the data, 2)``,
``log alpha_i ~ Normal(1, 1.5)``), is built on these counts with ``model.build(counts)`` and
``pm.sample_prior_predictive`` draws ``mu``, ``tau``, ``rate`` (Hz) and ``alpha``. The likelihood is a
``pm.Potential``, so PyMC cannot draw counts: they are simulated here with numpy for the same design
(the same valid (neuron, trial) pairs and durations d_t) as the Gamma-Poisson mixture
``lambda ~ Gamma(alpha_i, scale = rate_i d_t / alpha_i)``, ``y ~ Poisson(lambda)``, i.e.
``y ~ NB(mu = rate_i d_t, alpha_i)``. (Expected counts above 1e12, or infinite ones from overflowing
rates in the half-Cauchy tail, are used as the count itself: a relative error < 1e-6, only in draws
that are absurd anyway.) The same statistics are computed on every prior-predictive data set and
reported as quantiles, with the observed value's percentile (share of draws <= observed) and the share
of absurd draws: max/min rate ratio > 1e4 or any neuron above 500 Hz. Note the default prior of ``mu``
is centred on the data's own pooled rate, so only the spread statistics are a fair check; the median
count is shown for completeness.

Run from the repository root::

    python benchmarks/prior_predictive.py               # 4000 prior draws per tau prior
    python benchmarks/prior_predictive.py --draws 1000 --seed 2
    python benchmarks/prior_predictive.py --quick       # 500 draws (smoke run)
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

import spikepool as sp

DATASET, WINDOW = "locust20010214", (10.0, 12.0)
TAU_PRIORS = ("halfnormal", "halfcauchy")
LABELS = {"halfnormal": "HalfNormal(1)", "halfcauchy": "HalfCauchy(1)"}
QUANTILES = (5, 25, 50, 75, 95)
ABSURD_RATIO, ABSURD_RATE = 1e4, 500.0
HUGE = 1e12  # expected counts above this are used as the count (Poisson sd / mean < 1e-6)
CHUNK = 250


def ensure_data_dir() -> None:
    """Point ``SPIKEPOOL_DATA`` at ``<repo>/../shared/data`` when unset; stop clearly if nothing is there."""
    if os.environ.get("SPIKEPOOL_DATA"):
        return
    candidate = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
    if not candidate.is_dir():
        raise SystemExit(
            f"SPIKEPOOL_DATA is unset and {candidate} does not exist: set SPIKEPOOL_DATA to the folder holding "
            f"'locust-pouzat/{DATASET}/...' (e.g. SPIKEPOOL_DATA=../shared/data from the repository root)."
        )
    os.environ["SPIKEPOOL_DATA"] = str(candidate)


def statistics(y: np.ndarray, valid: np.ndarray, duration: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics of counts ``y`` (..., neuron, trial): sd of log rates, max/min ratio, max rate, median count."""
    y = np.where(valid, y, 0.0)
    exposure = (valid * duration).sum(-1)
    rate = (y.sum(-1) + 0.5) / exposure
    with np.errstate(invalid="ignore", over="ignore"):
        sd = np.log(rate).std(-1, ddof=1)
        ratio = rate.max(-1) / rate.min(-1)
    sd = np.where(np.isnan(sd), np.inf, sd)  # infinite rates (overflow): an infinite spread
    flat = y.reshape(*y.shape[:-2], -1)[..., valid.reshape(-1)]
    return {"sd_log_rate": sd, "ratio": ratio, "max_rate": rate.max(-1), "median_count": np.median(flat, axis=-1)}


def prior_draws(counts, tau_prior: str, draws: int, seed: int) -> dict[str, np.ndarray]:
    """Prior draws of mu, tau, rate (draw, neuron) and alpha (draw, neuron) from the default model."""
    import pymc as pm

    model = sp.HierarchicalNegBinom(priors={"tau": tau_prior}).build(counts)
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Potential.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # exp overflow in the half-Cauchy tail
        idata = pm.sample_prior_predictive(draws=draws, var_names=["mu", "tau", "rate", "alpha"], random_seed=seed)
    prior = idata["prior"]
    out = {
        name: np.asarray(prior[name].values, dtype=float).reshape(draws, -1) for name in ("mu", "tau", "rate", "alpha")
    }
    out["mu"], out["tau"] = out["mu"][:, 0], out["tau"][:, 0]
    out["alpha"] = np.broadcast_to(out["alpha"], out["rate"].shape)
    valid = counts["valid"].values
    spikes, exposure = float(counts.values[valid].sum()), float((valid * counts["duration"].values[None, :]).sum())
    out["mu_loc"] = float(np.log(max(spikes, 0.5) / exposure))  # as HierarchicalNegBinom.build computes it
    return out


def simulate(rate: np.ndarray, alpha: np.ndarray, valid: np.ndarray, duration: np.ndarray, rng) -> np.ndarray:
    """NB counts (draw, neuron, trial) as Gamma-Poisson, for the given (draw, neuron) rates and alphas."""
    out = np.zeros((rate.shape[0], *valid.shape))
    for start in range(0, rate.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        a = alpha[sl, :, None]
        with np.errstate(over="ignore", invalid="ignore"):
            expected = rate[sl, :, None] * duration[None, None, :]
            lam = rng.gamma(np.broadcast_to(a, expected.shape), expected / a)
        lam = np.where(np.isnan(lam), np.inf, lam)
        big = lam > HUGE
        y = np.where(big, lam, rng.poisson(np.where(big, 0.0, lam)))
        out[sl] = np.where(valid[None], y, 0.0)
    return out


def quantile_row(name: str, values: np.ndarray, observed: float | None, fmt: str = "{:.3g}") -> str:
    q = np.percentile(values, QUANTILES, method="inverted_cdf")  # no interpolation between infinities
    row = f"  {name:<22}" + "".join(f"{fmt.format(v):>11}" for v in q)
    if observed is None:
        return row + f"{'-':>11}{'-':>10}"
    return row + f"{fmt.format(observed):>11}{100.0 * np.mean(values <= observed):>9.1f}%"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=4000, help="prior draws per tau prior (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the prior draws and simulations (default 0)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 draws")
    args = parser.parse_args(argv)
    if args.quick:
        args.draws = 500
    ensure_data_dir()
    import pymc  # noqa: F401  (imported first: pymc sets its logger level on import)

    logging.getLogger("pymc").setLevel(logging.ERROR)
    t0 = time.perf_counter()

    counts = sp.datasets.load_counts(DATASET, window=WINDOW)
    valid = counts["valid"].values if "valid" in counts.coords else np.ones(counts.shape, dtype=bool)
    duration = counts["duration"].values.astype(float)
    y_obs = counts.values.astype(float)
    obs = statistics(y_obs, valid, duration)
    rates = (np.where(valid, y_obs, 0).sum(1) + 0.5) / (valid * duration).sum(1)
    print(f"Data: {DATASET}, window {WINDOW} s: {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials")
    print(f"  valid (neuron, trial) pairs: {int(valid.sum())}/{valid.size}; trial durations {np.unique(duration)} s")
    print("  raw rates (Hz): " + ", ".join(f"{n}={r:.2f}" for n, r in zip(counts["neuron"].values, rates, strict=True)))
    print(
        f"  observed: sd of log rates {float(obs['sd_log_rate']):.3f}, max/min ratio {float(obs['ratio']):.1f}, "
        f"median per-trial count {float(obs['median_count']):g}"
    )

    rng = np.random.default_rng(args.seed)
    results = {}
    for tau_prior in TAU_PRIORS:
        draws = prior_draws(counts, tau_prior, args.draws, args.seed)
        y = simulate(draws["rate"], draws["alpha"], valid, duration, rng)
        results[tau_prior] = {**statistics(y, valid, duration), "tau": draws["tau"], "mu_loc": draws["mu_loc"]}

    print(
        f"\nPrior predictive, {args.draws} draws per prior; default model HierarchicalNegBinom() "
        f"(dispersion='neuron', mu ~ Normal({results['halfnormal']['mu_loc']:.2f} = log pooled rate, 2))"
    )
    header = f"  {'statistic':<22}" + "".join(f"{f'q{q}':>11}" for q in QUANTILES) + f"{'observed':>11}{'pctile':>10}"
    for tau_prior in TAU_PRIORS:
        res = results[tau_prior]
        print(f"\n tau ~ {LABELS[tau_prior]}")
        print(header)
        print(quantile_row("tau (prior draws)", res["tau"], None))
        print(quantile_row("sd of log rates", res["sd_log_rate"], float(obs["sd_log_rate"])))
        print(quantile_row("max/min rate ratio", res["ratio"], float(obs["ratio"])))
        print(quantile_row("max neuron rate (Hz)", res["max_rate"], float(obs["max_rate"])))
        print(quantile_row("median count / trial", res["median_count"], float(obs["median_count"])))
        absurd_ratio = res["ratio"] > ABSURD_RATIO
        absurd_rate = res["max_rate"] > ABSURD_RATE
        res["absurd"] = float(np.mean(absurd_ratio | absurd_rate))
        print(
            f"  absurd draws: {100 * res['absurd']:.1f}% (max/min ratio > {ABSURD_RATIO:g}: "
            f"{100 * absurd_ratio.mean():.1f}%, some neuron > {ABSURD_RATE:g} Hz: {100 * absurd_rate.mean():.1f}%); "
            f"tau > 6: {100 * np.mean(res['tau'] > 6):.1f}%"
        )

    hn, hc = results["halfnormal"], results["halfcauchy"]
    sd_obs = float(obs["sd_log_rate"])
    pct = {k: 100.0 * np.mean(results[k]["sd_log_rate"] <= sd_obs) for k in TAU_PRIORS}
    plausible = 5.0 <= pct["halfnormal"] <= 95.0
    verdict = (
        "supports HalfNormal(1) as the default"
        if plausible and hn["absurd"] < hc["absurd"]
        else "does NOT clearly support HalfNormal(1) as the default"
    )
    wide = {k: 100.0 * np.mean(results[k]["ratio"] > ABSURD_RATIO) for k in TAU_PRIORS}
    print(
        f"\nConclusion: the observed sd of log rates ({sd_obs:.2f}) sits at the {pct['halfnormal']:.0f}th percentile "
        f"under HalfNormal(1) and the {pct['halfcauchy']:.0f}th under HalfCauchy(1); absurd populations "
        f"{100 * hn['absurd']:.1f}% vs {100 * hc['absurd']:.1f}% of prior draws (rates > {ABSURD_RATIO:g} apart: "
        f"{wide['halfnormal']:.1f}% vs {wide['halfcauchy']:.1f}%): the check {verdict}."
    )
    print(f"Wall time: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

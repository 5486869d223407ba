"""Simulation-based calibration of ``HierarchicalNegBinom(likelihood="com_poisson")``.

Question
--------
Are the COM-Poisson fit's posteriors calibrated: do 90% intervals of the rates and of ``nu`` cover the truth
90% of the time, and are the ranks of the true values among the posterior draws uniform (Talts et al. 2018)?

Each data set draws its parameters from the model's own prior (with the population priors narrowed to a
recording's scale, passed to the model as ``priors=``): ``mu ~ Normal(log 5, 0.5)``, ``tau ~ HalfNormal(0.5)``,
``log r_i ~ Normal(mu, tau)``, ``log nu_i ~ Normal(0, 0.75)`` (nu from about 0.2 to 4.3: Fano factors from
about 3 down to about 0.25), then ``--trials`` COM-Poisson counts of 1 s per neuron
(``spikepool.stats.com_poisson.com_sample``), and is fitted (2 chains x 500 draws after 500 tuning).
Printed: the 90% coverage of the rates and of ``nu`` over all neurons and data sets (with its binomial
standard error), a chi-square test of uniformity of the ranks of ``mu``, ``tau``, the first neuron's rate and
``nu`` (10 bins), and divergences.

Run from the repository root::

    python benchmarks/sbc_com_poisson.py [--datasets 50] [--neurons 8] [--trials 40] [--first 0] [--save F.npz]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

import spikepool as sp
from spikepool.stats.com_poisson import com_sample

PRIORS = {"mu_loc": float(np.log(5.0)), "mu_scale": 0.5, "tau_scale": 0.5}


def one(seed: int, n_neurons: int, n_trials: int) -> dict:
    rng = np.random.default_rng(seed)
    mu = rng.normal(PRIORS["mu_loc"], PRIORS["mu_scale"])
    tau = abs(rng.normal(0.0, PRIORS["tau_scale"]))
    log_rate = rng.normal(mu, tau, n_neurons)
    nu = np.exp(rng.normal(0.0, 0.75, n_neurons))
    y = com_sample(rng, np.repeat(np.exp(log_rate)[:, None], n_trials, 1), np.repeat(nu[:, None], n_trials, 1))
    counts = sp.from_array(y, duration=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalNegBinom(likelihood="com_poisson", priors=PRIORS).fit(
            counts, draws=500, tune=500, chains=2, random_seed=seed, progressbar=False
        )
    post = result.posterior
    draws = {k: post[k].values.reshape(-1, *post[k].shape[2:]) for k in ("mu", "tau", "rate", "nu")}
    thin = slice(None, None, max(1, draws["mu"].shape[0] // 99))
    ranks = {
        "mu": int((draws["mu"][thin] < mu).sum()),
        "tau": int((draws["tau"][thin] < tau).sum()),
        "rate[0]": int((draws["rate"][thin, 0] < np.exp(log_rate[0])).sum()),
        "nu[0]": int((draws["nu"][thin, 0] < nu[0]).sum()),
    }
    n_rank = draws["mu"][thin].shape[0]

    def inside(values, truth):
        lo, hi = np.quantile(values, [0.05, 0.95], axis=0)
        return (lo <= truth) & (truth <= hi)

    return {
        "ranks": ranks,
        "n_rank": n_rank,
        "rate_in": inside(draws["rate"], np.exp(log_rate)),
        "nu_in": inside(draws["nu"], nu),
        "divergences": int(result.idata["sample_stats"]["diverging"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--first", type=int, default=0, help="seed of the first data set (to extend a batch)")
    parser.add_argument("--save", default=None, help="write the coverage hits and ranks to this .npz")
    parser.add_argument("--neurons", type=int, default=8)
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    start = time.perf_counter()
    runs = [one(seed, args.neurons, args.trials) for seed in range(args.first, args.first + args.datasets)]
    rate_in = np.concatenate([r["rate_in"] for r in runs])
    nu_in = np.concatenate([r["nu_in"] for r in runs])
    seconds = time.perf_counter() - start
    print(f"{args.datasets} data sets x {args.neurons} neurons x {args.trials} trials, {seconds:.0f} s")
    for name, hits in (("rates", rate_in), ("nu", nu_in)):
        se = np.sqrt(0.9 * 0.1 / hits.size)
        print(f"90% coverage of {name:5s}: {hits.mean():.3f} (binomial se {se:.3f}, {hits.size} values)")
    n_rank = min(r["n_rank"] for r in runs)
    for key in runs[0]["ranks"]:
        ranks = np.array([min(r["ranks"][key], n_rank) for r in runs])
        observed = np.histogram(ranks, bins=10, range=(0, n_rank + 1))[0]
        p = stats.chisquare(observed).pvalue
        print(f"SBC ranks of {key:8s}: chi-square p = {p:.3f}, bins {observed.tolist()}")
    print(f"divergences: {sum(r['divergences'] for r in runs)} in {sum(r['divergences'] > 0 for r in runs)} fits")
    if args.save:
        ranks = {f"rank {k}": np.array([r["ranks"][k] for r in runs]) for k in runs[0]["ranks"]}
        np.savez(args.save, rate_in=rate_in, nu_in=nu_in, n_rank=n_rank, **ranks)


if __name__ == "__main__":
    main()

"""How many repeated trials does one neuron need before its data inform a Negative-Binomial dispersion?

Question
--------
Spike counts of one neuron over ``n`` repeated trials are modelled as ``y_t ~ NegativeBinomial(mu, alpha)``
in PyMC's parameterisation: mean ``mu``, variance ``mu + mu**2 / alpha``, Fano factor ``1 + mu / alpha``.
Large ``alpha`` is the Poisson limit. This script measures, as a function of ``n``, how much a single
neuron's counts narrow the posterior of its own ``log(alpha)`` relative to the prior, to justify a minimum
number of trials per neuron below which a per-neuron ``alpha`` should not be learned (pool or fix it).

Method
------
No MCMC: the exact posterior is computed on a 2-D grid over ``(log mu, log alpha)`` (default 300 x 300,
``log mu`` in [-6, 7], ``log alpha`` in [-6, 8]) with priors

    log mu    ~ Normal(1.0, 2.5)
    log alpha ~ Normal(1.0, 1.5)

and the likelihood ``sum_t logpmf(y_t; mu, alpha)`` with

    logpmf(y) = gammaln(y + alpha) - gammaln(alpha) - gammaln(y + 1)
                + alpha * log(alpha / (alpha + mu)) + y * log(mu / (alpha + mu)).

Summed over trials this only needs sufficient statistics: the histogram of count values (for the
``gammaln`` terms, a 1-D function of ``alpha``), the number of trials ``n`` and the total count ``S``
(the two 2-D terms are precomputed once per grid). ``log mu`` is marginalised numerically (log-sum-exp
over the grid) to give the marginal posterior of ``log alpha``, from which we report

* the posterior sd of ``log alpha``;
* the contraction ``1 - var_post / var_prior`` with ``var_prior = 1.5**2`` (0: data say nothing,
  1: data pin ``alpha`` down);
* the width of the central 90% interval of ``log alpha`` (the prior's is 2 * 1.645 * 1.5 = 4.93).

Scenarios: ``mu`` in {1, 5, 20} counts per trial crossed with ``alpha`` in {0.5, 2, 10}, i.e. Fano
factors from 1.1 to 41, and ``n`` in {2, 3, 5, 8, 10, 15, 20, 30, 50}. For every scenario ``R``
replicate neurons are simulated with ``scipy.stats.nbinom(n=alpha, p=alpha / (alpha + mu))`` from one
numpy Generator (seed 0); each replicate draws 50 trials and the ``n``-trial data set is its first ``n``
trials (common random numbers, so the curves over ``n`` are not blurred by fresh noise at every ``n``).
Tables report the median over replicates. Scenarios with Fano < 1.5 are excluded from the
recommendation: there the data are near-Poisson, ``alpha -> infinity`` is the Poisson limit and
``alpha`` is not identifiable from any realistic number of trials (only a lower bound is learned).

The script is deterministic and always exits 0; it is a report.

Run from the repository root::

    python benchmarks/dispersion_threshold.py                 # 200 replicates, 300 x 300 grid
    python benchmarks/dispersion_threshold.py --quick         # 20 replicates, 120 x 120 grid (smoke run)
    python benchmarks/dispersion_threshold.py --replicates 50
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import special, stats

MUS = (1.0, 5.0, 20.0)
ALPHAS = (0.5, 2.0, 10.0)
NS = (2, 3, 5, 8, 10, 15, 20, 30, 50)

PRIOR_LOG_MU = (1.0, 2.5)  # Normal(mean, sd)
PRIOR_LOG_ALPHA = (1.0, 1.5)
LOG_MU_RANGE = (-6.0, 7.0)
LOG_ALPHA_RANGE = (-6.0, 8.0)

CONTRACTION_TARGET = 0.5
MIN_FANO = 1.5
SEED = 0


def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """NB log pmf in the (mu, alpha) parameterisation, Var = mu + mu**2 / alpha."""
    log_a_mu = np.log(alpha + mu)
    return (
        special.gammaln(y + alpha)
        - special.gammaln(alpha)
        - special.gammaln(y + 1)
        + alpha * (np.log(alpha) - log_a_mu)
        + y * (np.log(mu) - log_a_mu)
    )


def simulate(rng: np.random.Generator, mu: float, alpha: float, size) -> np.ndarray:
    """Draw NB(mu, alpha) counts via scipy's (n, p) parameterisation."""
    return stats.nbinom(n=alpha, p=alpha / (alpha + mu)).rvs(size=size, random_state=rng)


def check_simulator_and_pmf() -> None:
    """Moments of the simulator and the hand-written log pmf against scipy."""
    rng = np.random.default_rng(12345)  # separate stream: does not disturb the benchmark draws
    for mu in MUS:
        for alpha in ALPHAS:
            y = simulate(rng, mu, alpha, 400_000)
            var = mu + mu**2 / alpha
            assert abs(y.mean() - mu) < 0.02 * mu + 0.01, (mu, alpha, y.mean())
            assert abs(y.var() - var) < 0.05 * var, (mu, alpha, y.var(), var)
            ks = np.arange(0, 200)
            ref = stats.nbinom(n=alpha, p=alpha / (alpha + mu)).logpmf(ks)
            assert np.allclose(nb_logpmf(ks, mu, alpha), ref, rtol=1e-9, atol=1e-9)


class Grid:
    """Posterior of (log mu, log alpha) on a fixed grid, from the sufficient statistics of one neuron."""

    def __init__(self, size: int) -> None:
        self.log_mu = np.linspace(*LOG_MU_RANGE, size)
        self.log_alpha = np.linspace(*LOG_ALPHA_RANGE, size)
        self.alpha = np.exp(self.log_alpha)
        lm = self.log_mu[:, None]
        la = self.log_alpha[None, :]
        log_a_mu = np.logaddexp(la, lm)  # log(alpha + mu), stable over the whole grid
        # Per-trial term alpha * log(alpha / (alpha + mu)) and per-count term log(mu / (alpha + mu)).
        self.per_trial = np.exp(la) * (la - log_a_mu)
        self.per_count = lm - log_a_mu
        self.log_prior_mu = stats.norm(*PRIOR_LOG_MU).logpdf(self.log_mu)
        self.log_prior_alpha = stats.norm(*PRIOR_LOG_ALPHA).logpdf(self.log_alpha)
        self.gammaln_alpha = special.gammaln(self.alpha)

    def marginal_log_alpha(self, y: np.ndarray) -> np.ndarray:
        """Normalised posterior mass of log alpha at the grid points, log mu marginalised."""
        values, mult = np.unique(y, return_counts=True)
        n = y.size
        # sum_t [gammaln(y_t + alpha) - gammaln(alpha)] via the histogram of count values (gammaln(y+1)
        # does not depend on the parameters and is dropped).
        g = mult @ special.gammaln(values[:, None] + self.alpha[None, :]) - n * self.gammaln_alpha
        log_post = n * self.per_trial + float(y.sum()) * self.per_count
        log_post += self.log_prior_mu[:, None]
        log_marg = special.logsumexp(log_post, axis=0) + g + self.log_prior_alpha
        p = np.exp(log_marg - log_marg.max())
        return p / p.sum()

    def summarise(self, p: np.ndarray) -> tuple[float, float, float]:
        """Posterior mean, sd and central 90% interval width of log alpha."""
        x = self.log_alpha
        mean = float(p @ x)
        sd = math.sqrt(max(float(p @ (x - mean) ** 2), 0.0))
        cdf = np.cumsum(p) - 0.5 * p  # mass at grid points, CDF interpolated between midpoints
        lo, hi = np.interp([0.05, 0.95], cdf, x)
        return mean, sd, float(hi - lo)


def run(replicates: int, grid_size: int) -> dict:
    grid = Grid(grid_size)
    rng = np.random.default_rng(SEED)
    var_prior = PRIOR_LOG_ALPHA[1] ** 2
    n_max = max(NS)
    results = {}
    for mu in MUS:
        for alpha in ALPHAS:
            data = simulate(rng, mu, alpha, (replicates, n_max))
            stats_ = np.empty((len(NS), replicates, 3))  # mean, sd, width
            for i, n in enumerate(NS):
                for r in range(replicates):
                    stats_[i, r] = grid.summarise(grid.marginal_log_alpha(data[r, :n]))
            results[(mu, alpha)] = {
                "mean": stats_[..., 0],
                "sd": stats_[..., 1],
                "contraction": 1.0 - stats_[..., 1] ** 2 / var_prior,
                "width": stats_[..., 2],
            }
    return results


def fano(mu: float, alpha: float) -> float:
    return 1.0 + mu / alpha


def print_table(title: str, results: dict, key: str, fmt: str) -> None:
    scen = list(results)
    print(title)
    head1 = "".join(f"{f'mu={mu:g},a={a:g}':>13}" for mu, a in scen)
    head2 = "".join(f"{f'F={fano(mu, a):.3g}' + ('*' if fano(mu, a) < MIN_FANO else ''):>13}" for mu, a in scen)
    print(f"{'n':>4}" + head1)
    print(f"{'':>4}" + head2)
    for i, n in enumerate(NS):
        row = "".join(f"{np.median(results[s][key][i]):>13{fmt}}" for s in scen)
        print(f"{n:>4}" + row)
    print()


def recommend(results: dict) -> None:
    included = [(mu, a) for mu, a in results if mu >= 1.0 and fano(mu, a) >= MIN_FANO]
    excluded = [s for s in results if s not in included]
    need_some = math.ceil(2 * len(included) / 3)
    med = {s: np.median(results[s]["contraction"], axis=1) for s in included}
    n_all = next((n for i, n in enumerate(NS) if all(med[s][i] >= CONTRACTION_TARGET for s in included)), None)
    n_some = next(
        (n for i, n in enumerate(NS) if sum(med[s][i] >= CONTRACTION_TARGET for s in included) >= need_some),
        None,
    )
    excl = ", ".join(f"mu={mu:g}/alpha={a:g} (Fano {fano(mu, a):.2g})" for mu, a in excluded)
    print(
        f"Recommendation (median contraction >= {CONTRACTION_TARGET}; scenarios with mu >= 1 and "
        f"Fano >= {MIN_FANO}, {len(included)} of {len(results)}):"
    )
    print(f"  excluded as near-Poisson: {excl}: alpha -> infinity is the Poisson limit, not identifiable")
    for label, n in (
        (f"in every included scenario ({len(included)}/{len(included)})", n_all),
        (f"in at least 2/3 of them ({need_some}/{len(included)})", n_some),
    ):
        txt = f"n >= {n} trials per neuron" if n is not None else f"not reached for n <= {max(NS)}"
        print(f"  smallest n {label}: {txt}")
    i50 = NS.index(50)
    worst = min(included, key=lambda s: med[s][i50])
    print(
        f"  weakest included scenario at n=50: mu={worst[0]:g}, alpha={worst[1]:g} "
        f"(median contraction {med[worst][i50]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200, help="replicate neurons per scenario")
    parser.add_argument("--grid", type=int, default=300, help="grid points per axis")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 replicates, 120 x 120 grid")
    args = parser.parse_args()
    replicates, grid_size = (20, 120) if args.quick else (args.replicates, args.grid)

    t0 = time.perf_counter()
    check_simulator_and_pmf()
    print("check: simulator mean/variance match mu and mu + mu^2/alpha; log pmf matches scipy.stats.nbinom")
    print(
        f"replicates={replicates}, grid={grid_size}x{grid_size} (log mu in {list(LOG_MU_RANGE)}, "
        f"log alpha in {list(LOG_ALPHA_RANGE)}), priors log mu ~ N{PRIOR_LOG_MU}, "
        f"log alpha ~ N{PRIOR_LOG_ALPHA}, seed={SEED}"
    )
    print("columns: mean count per trial mu, dispersion a=alpha, Fano F = 1 + mu/alpha (* = near-Poisson)")
    print()
    results = run(replicates, grid_size)
    print_table("Median posterior contraction 1 - var_post/var_prior of log alpha", results, "contraction", ".2f")
    prior_width = 2 * stats.norm.ppf(0.95) * PRIOR_LOG_ALPHA[1]
    print_table(f"Median 90% interval width of log alpha (prior: {prior_width:.2f})", results, "width", ".2f")
    recommend(results)
    i50 = NS.index(50)
    m = results[(20.0, 2.0)]["mean"][i50]
    se = m.std(ddof=1) / math.sqrt(m.size)
    print(
        f"Sanity (grid): n=50, mu=20, alpha=2: posterior mean of log alpha averaged over {m.size} "
        f"replicates = {m.mean():.3f} (true log 2 = {math.log(2):.3f}, MC s.e. {se:.3f})"
    )
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

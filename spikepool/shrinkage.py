"""Shrinkage: how far each neuron's rate moved toward the population, and why.

Two definitions, both reported (numpy functions first, the DataArray wrapper on top):

- **empirical** shrinkage, ``(raw - posterior) / (raw - population)`` on the log-rate scale: the
  fraction of the distance from the neuron's own (no-pooling) estimate to the population mean exp(mu)
  that its partial-pooling posterior mean rate moved. 0: not pooled at all; 1: replaced by the population mean.
- **model** shrinkage from the Normal-Normal analogue: with ``sigma_i^2`` the sampling variance of
  neuron i's log rate and ``tau^2`` the population variance, the data's weight is
  ``kappa_i = tau^2 / (tau^2 + sigma_i^2)`` and the shrinkage factor ``B_i = 1 - kappa_i =
  sigma_i^2 / (sigma_i^2 + tau^2)``; the Normal-Normal posterior mean is ``(1 - B_i) y_i + B_i mu``.

For Negative-Binomial counts, ``sigma_i^2 ~ 1/S_i + 1/(n_i alpha_i)`` (S_i spikes in n_i trials; the
delta method on the NB mean, Var(ybar) = (mu + mu^2/alpha) / n), so neurons with few spikes or few,
overdispersed trials are shrunk most.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob

__all__ = ["compute_shrinkage", "empirical_shrinkage", "model_shrinkage", "normal_posterior_mean"]


def empirical_shrinkage(raw: np.ndarray, posterior: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Fraction of the way from ``raw`` to ``population`` that ``posterior`` moved (NaN where they coincide)."""
    raw, posterior, population = (np.asarray(x, dtype=float) for x in (raw, posterior, population))
    gap = population - raw
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(gap) > 1e-12, (posterior - raw) / gap, np.nan)


def model_shrinkage(tau: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal-Normal weights: ``kappa = tau^2 / (tau^2 + sigma^2)`` and ``B = sigma^2 / (sigma^2 + tau^2)``."""
    tau2, sigma2 = np.asarray(tau, dtype=float) ** 2, np.asarray(sigma, dtype=float) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(np.isinf(sigma2), 0.0, tau2 / (tau2 + sigma2))
    return kappa, 1.0 - kappa


def normal_posterior_mean(y: np.ndarray, sigma: np.ndarray, mu: float, tau: float) -> np.ndarray:
    """Closed-form Normal-Normal posterior mean for known ``mu`` and ``tau``: ``(1 - B) y + B mu``."""
    _, b = model_shrinkage(tau, sigma)
    return (1.0 - b) * np.asarray(y, dtype=float) + b * mu


def compute_shrinkage(result, ci_prob: float = 0.94) -> xr.Dataset:
    """Per-neuron [x condition] shrinkage table of a partial-pooling fit.

    Parameters
    ----------
    result : FitResult
        A fit of ``HierarchicalNegBinom`` (partial pooling gives the informative table; other
        poolings are summarised the same way, their ``tau`` is then absent and ``kappa`` NaN).
    ci_prob : float
        Probability of the equal-tailed posterior interval.

    Returns
    -------
    xarray.Dataset
        Over neuron [x condition]: ``raw_rate`` (no pooling: spikes / exposure, Hz),
        ``pooled_rate`` (complete pooling: all neurons' spikes / exposure, Hz), ``population_rate``
        (exp(mu), or exp(mu_session) of the neuron's session with a session level, Hz), ``rate`` /
        ``lower`` / ``upper`` (partial-pooling posterior, Hz),
        ``shrinkage`` (empirical, log scale), ``kappa`` and ``model_shrinkage`` (= 1 - kappa, the
        Normal-Normal B with sigma^2 = 1/S + 1/(n alpha)), ``sigma`` (sd of the log raw rate),
        ``n_trials``, ``spikes``.
    """
    ci_prob = check_ci_prob(ci_prob)
    from spikepool.models.likelihood import compress
    from spikepool.models.parameterization import cell_information

    post = result.posterior
    condition = result.spec["condition"]
    cells = compress(result.counts, condition)
    n_neuron, n_cond = result.counts.sizes["neuron"], cells.condition_names.size
    info = cell_information(cells, n_neuron, n_cond)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = info["spikes"] / info["exposure"]
        pooled = info["spikes"].sum(axis=0) / info["exposure"].sum(axis=0)
    log_rate = post["log_rate"]
    # the posterior mean rate (not the mean log rate): with a flat prior on log r a Poisson neuron's
    # posterior mean rate equals its raw rate exactly, so no pooling means zero shrinkage
    post_log = np.log(post["rate"].mean(("chain", "draw")).values.reshape(n_neuron, n_cond))
    if "mu" in post:
        mu = np.broadcast_to(post["mu"].mean(("chain", "draw")).values, (n_cond,))
    else:
        mu = np.log(pooled)
    # the pooling target of each cell: mu_c, or mu_c + u_i with crossed neuron effects
    target = np.broadcast_to(mu[None, :], (n_neuron, n_cond)).copy()
    if "mu_session" in post:  # a session level: each neuron is pooled toward its own session's mean
        from spikepool.sessions import neuron_sessions

        codes = neuron_sessions(result.counts, result.spec["session"])[1]
        mu_s = post["mu_session"].mean(("chain", "draw")).values.reshape(-1, n_cond)
        target = mu_s[codes]
    if "neuron_effect" in post:
        target = target + post["neuron_effect"].mean(("chain", "draw")).values[:, None]
    if "alpha" in post:
        alpha = np.broadcast_to(post["alpha"].mean(("chain", "draw")).values.reshape(-1, 1), (n_neuron, 1))
    elif "eta" in post:
        alpha = float(post["eta"].mean()) * info["spikes"] / np.maximum(info["n"], 1)
    else:
        alpha = np.full((n_neuron, 1), np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(np.where(info["spikes"] > 0, 1.0 / info["spikes"] + 1.0 / (info["n"] * alpha), np.inf))
    tau = float(post["tau"].mean()) if "tau" in post else np.nan
    kappa, b = model_shrinkage(tau, sigma)
    with np.errstate(divide="ignore"):
        emp = empirical_shrinkage(np.log(raw), post_log, target)
    q = log_rate.quantile([(1 - ci_prob) / 2, (1 + ci_prob) / 2], dim=("chain", "draw")).values
    dims = ("neuron", "condition") if condition else ("neuron",)

    def shaped(x):
        x = np.asarray(x).reshape(n_neuron, n_cond)
        return x if condition else x[:, 0]

    hz = {"units": "Hz"}
    out = xr.Dataset(
        {
            "raw_rate": (dims, shaped(raw), hz),
            "pooled_rate": (dims, shaped(np.broadcast_to(pooled, (n_neuron, n_cond))), hz),
            "population_rate": (dims, shaped(np.exp(target)), hz),
            "rate": (dims, shaped(post["rate"].mean(("chain", "draw")).values), hz),
            "lower": (dims, shaped(np.exp(q[0])), hz),
            "upper": (dims, shaped(np.exp(q[1])), hz),
            "shrinkage": (dims, shaped(emp)),
            "kappa": (dims, shaped(kappa)),
            "model_shrinkage": (dims, shaped(b)),
            "sigma": (dims, shaped(sigma)),
            "n_trials": (dims, shaped(info["n"].astype(np.int64))),
            "spikes": (dims, shaped(info["spikes"].astype(np.int64))),
        },
        coords={d: log_rate[d].values for d in dims},
        attrs={"ci_prob": ci_prob, "tau": tau, "interval": "equal-tailed"},
    )
    return out

"""The shrinkage table of a ``HierarchicalNegBinom`` fit: raw, pooled and partial-pooling rates with the
empirical and the model shrinkage (``spikepool.stats.shrinkage`` has the arithmetic and the definitions)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.counts.sessions import neuron_sessions
from spikepool.stats.cells import compress
from spikepool.stats.families import family_of
from spikepool.stats.intervals import eti
from spikepool.stats.parameterization import cell_information
from spikepool.stats.shrinkage import empirical_shrinkage, model_shrinkage

__all__ = ["compute_shrinkage"]


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
        (exp(mu), or exp(mu_session) of the neuron's session with a session level; with ``baseline=``
        the neuron's own baseline rate in the other conditions, where ``kappa`` uses ``sigma_response`` for
        tau, a Normal approximation of the spike-and-slab; Hz), ``rate`` /
        ``lower`` / ``upper`` (partial-pooling posterior, Hz),
        ``shrinkage`` (empirical, log scale), ``kappa`` and ``model_shrinkage`` (= 1 - kappa, the
        Normal-Normal B with sigma^2 = Fano / S, i.e. 1/S + 1/(n alpha) for the NB), ``sigma`` (sd of the log raw rate),
        ``n_trials``, ``spikes``.
    """
    ci_prob = check_ci_prob(ci_prob)
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
        codes = neuron_sessions(result.counts, result.spec["session"])[1]
        mu_s = post["mu_session"].mean(("chain", "draw")).values.reshape(-1, n_cond)
        target = mu_s[codes]
    if "neuron_effect" in post:
        target = target + post["neuron_effect"].mean(("chain", "draw")).values[:, None]
    tau = float(post["tau"].mean()) if "tau" in post else np.nan
    if "log_rate_baseline" in post:  # sparse responses: each neuron is pulled toward its own baseline rate
        tested = np.array([str(c) != result.spec["baseline"] for c in log_rate["condition"].values])
        own = post["log_rate_baseline"].mean(("chain", "draw")).values
        target[:, tested] = own[:, None]
        tau = np.where(tested, float(post["sigma_response"].mean()), tau)[None, :]
    # the family's Fano factor at each cell's mean count with the posterior-mean dispersion: the sampling
    # variance of a cell's log mean count is Fano / spikes (NB: 1 / spikes + 1 / (n alpha); Poisson: 1 / spikes)
    family = family_of(result.spec["likelihood"])
    means = {name: post[name].mean(("chain", "draw")).values for name in family.parameters if name in post}
    cell_mean = (info["spikes"] / np.maximum(info["n"], 1)).ravel()
    disp = family.dispersion_at(means, np.repeat(np.arange(n_neuron), n_cond), cell_mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = family.fano(np.where(cell_mean > 0, cell_mean, 1.0), disp).reshape(n_neuron, n_cond)
        sigma = np.sqrt(np.where(info["spikes"] > 0, fano / info["spikes"], np.inf))
    kappa, b = model_shrinkage(tau, sigma)
    with np.errstate(divide="ignore"):
        emp = empirical_shrinkage(np.log(raw), post_log, target)
    lower, upper = eti(log_rate, ci_prob)
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
            "lower": (dims, shaped(np.exp(lower.values)), hz),
            "upper": (dims, shaped(np.exp(upper.values)), hz),
            "shrinkage": (dims, shaped(emp)),
            "kappa": (dims, shaped(kappa)),
            "model_shrinkage": (dims, shaped(b)),
            "sigma": (dims, shaped(sigma)),
            "n_trials": (dims, shaped(info["n"].astype(np.int64))),
            "spikes": (dims, shaped(info["spikes"].astype(np.int64))),
        },
        coords={d: log_rate[d].values for d in dims},
        attrs={
            "ci_prob": ci_prob,
            "tau": float(post["tau"].mean()) if "tau" in post else np.nan,
            "interval": "equal-tailed",
        },
    )
    return out

"""Closed-form empirical Bayes for Gamma-Poisson rates: ``fit_empirical_bayes`` (no MCMC, seconds).

Each neuron's total count over its valid trials in a condition, ``S_i``, with exposure ``D_i``
(summed durations), is modelled as ``S_i | r_i ~ Poisson(r_i D_i)`` with ``r_i ~ Gamma(a, b)``
across neurons (per condition). The marginal of ``S_i`` is Negative Binomial,

    log p(S_i) = lgamma(S_i + a) - lgamma(a) - lgamma(S_i + 1) + a log(b / (b + D_i)) + S_i log(D_i / (b + D_i)),

which is maximised over (a, b); each rate's posterior is then Gamma(a + S_i, b + D_i), with mean
``(1 - B_i) S_i / D_i + B_i a / b`` and shrinkage ``B_i = b / (b + D_i)``.

It is the closed form it is, not an approximation of ``HierarchicalNegBinom``: trials are Poisson given
the rate (no trial-to-trial overdispersion, so its intervals are too narrow for overdispersed neurons),
rates are Gamma rather than log-normal across neurons, each condition is pooled on its own (no crossed
neuron effects) and (a, b) are plugged in without their uncertainty. NUTS starts from it
(``spikepool.models.start``). The validated fast path of the hierarchical model is
``HierarchicalNegBinom.fit(counts, method="laplace")`` (``spikepool.models.laplace``: the same model,
seconds for 1,000 units, intervals calibrated, Pareto-k checks).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy import optimize, special, stats

from spikepool._validate import check_ci_prob, check_trial_coord
from spikepool.counts.schema import validate_counts
from spikepool.stats.cells import compress
from spikepool.stats.parameterization import cell_information

__all__ = ["fit_empirical_bayes", "gamma_poisson_marginal"]


def gamma_poisson_marginal(spikes: np.ndarray, exposure: np.ndarray, a: float, b: float) -> float:
    """Log marginal likelihood of totals under ``r ~ Gamma(a, b)``, ``S ~ Poisson(r D)``."""
    s, d = np.asarray(spikes, float), np.asarray(exposure, float)
    return float(
        np.sum(
            special.gammaln(s + a)
            - special.gammaln(a)
            - special.gammaln(s + 1)
            + a * np.log(b / (b + d))
            + s * np.log(d / (b + d))
        )
    )


def _fit_ab(s: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    rates = s / d
    m, v = rates.mean(), rates.var()
    # moment start: Var(S/D) ~ m/D + m^2/a  ->  a ~ m^2 / (v - m/D)
    excess = v - np.mean(m / d)
    a0 = m**2 / excess if excess > 0 else 100.0
    start = np.log([max(a0, 1e-2), max(a0, 1e-2) / max(m, 1e-3)])
    res = optimize.minimize(
        lambda x: -gamma_poisson_marginal(s, d, *np.exp(x)),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    return tuple(float(v) for v in np.exp(res.x))


def fit_empirical_bayes(counts: xr.DataArray, *, condition: str | None = None, ci_prob: float = 0.94) -> xr.Dataset:
    """Shrunk firing rates from the maximised Gamma-Poisson marginal likelihood.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) of counts; binned counts are summed over ``time``.
    condition : str, optional
        Trial coordinate of conditions (one Gamma population per condition).
    ci_prob : float
        Probability of the equal-tailed Gamma posterior interval.

    Returns
    -------
    xarray.Dataset
        Over (neuron,), or (neuron, condition) with ``condition``: ``rate`` (posterior mean, Hz), ``lower``,
        ``upper``, ``raw`` (S/D, Hz; NaN without exposure), ``shrinkage`` (B = b / (b + D)), ``spikes``,
        ``exposure`` (s); scalars, or over (condition,): the hyperparameters ``a``, ``b``, the
        ``population_rate`` ``a / b`` (Hz) and the implied log-rate population ``mu = digamma(a) - log(b)``,
        ``tau = sqrt(trigamma(a))``; over (neuron,) a method-of-moments ``alpha`` (NaN without repeated
        trials). A condition with fewer than two neurons with valid trials, or without a spike, has NaN
        hyperparameters and rates. ``attrs``: ``ci_prob``, ``method``.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray.
    CountsError
        ``counts`` breaks the counts schema (``validate_counts``).
    ArgumentError
        ``ci_prob`` is not a probability in (0, 1); ``condition`` is not a coordinate on ``trial``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, truth = sp.simulate_counts(30, 20, mu=1.0, tau=0.6, alpha=None, seed=2)
    >>> eb = sp.fit_empirical_bayes(counts)
    >>> bool(((eb["rate"] - eb["raw"]) * (eb["population_rate"] - eb["raw"]) >= 0).all())
    True
    """
    ci_prob = check_ci_prob(ci_prob)
    counts = validate_counts(counts)
    if condition is not None:
        check_trial_coord(counts, condition)
    cells = compress(counts, condition)
    n_neuron, n_cond = counts.sizes["neuron"], cells.condition_names.size
    info = cell_information(cells, n_neuron, n_cond)
    s, d = info["spikes"], info["exposure"]
    a = np.full(n_cond, np.nan)
    b = np.full(n_cond, np.nan)
    for c in range(n_cond):
        ok = d[:, c] > 0
        if ok.sum() >= 2 and s[ok, c].sum() > 0:
            a[c], b[c] = _fit_ab(s[ok, c], d[ok, c])
    post_a, post_b = a[None, :] + s, b[None, :] + d
    q = (1 - ci_prob) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(d > 0, s / d, np.nan)
        data = {
            "rate": post_a / post_b,
            "lower": stats.gamma.ppf(q, post_a, scale=1 / post_b),
            "upper": stats.gamma.ppf(1 - q, post_a, scale=1 / post_b),
            "raw": raw,
            "shrinkage": b[None, :] / post_b,
            "spikes": s,
            "exposure": d,
        }
    per_cell = np.where(info["n"] >= 2, info["alpha"], np.nan)
    with warnings.catch_warnings():  # neurons without repeated trials have no moment estimate: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = np.nanmedian(per_cell, axis=1)
    dims = ("neuron", "condition") if condition else ("neuron",)
    squeeze = (lambda x: x) if condition else (lambda x: x[:, 0])
    pop = (lambda x: x) if condition else (lambda x: x[0])
    pdims = ("condition",) if condition else ()
    coords = {"neuron": counts["neuron"].values}
    if condition:
        coords["condition"] = cells.condition_names
    out = xr.Dataset(
        {
            k: (dims, squeeze(v), {"units": "Hz"} if k in ("rate", "lower", "upper", "raw") else {})
            for k, v in data.items()
        },
        coords=coords,
    )
    out["a"], out["b"] = (pdims, pop(a)), (pdims, pop(b))
    out["population_rate"] = (pdims, pop(a / b))
    out["mu"] = (pdims, pop(special.digamma(a) - np.log(b)))
    out["tau"] = (pdims, pop(np.sqrt(special.polygamma(1, a))))
    out["alpha"] = ("neuron", alpha)
    out.attrs = {"ci_prob": ci_prob, "method": "Gamma-Poisson marginal likelihood (empirical Bayes)"}
    return out

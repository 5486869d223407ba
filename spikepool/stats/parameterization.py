"""Centered or non-centered, per neuron, from how informative each neuron's data are.

For a neuron-condition cell with ``n`` trials, ``S`` spikes and dispersion alpha, the sampling
variance of its log rate estimate is about ``sigma^2 = 1/S + 1/(n alpha)`` (delta method on the NB
mean: Var(ybar)/ybar^2 = (1/mu + 1/alpha)/n). The posterior of its log rate is then a compromise
between a likelihood of sd sigma and the population Normal(mu, tau):

- sigma < tau (data dominate): the centered form samples well, the non-centered one is correlated;
- sigma >= tau (prior dominates, e.g. sparse or silent neurons): the centered form has Neal's funnel
  between tau and the neuron's log rate and diverges; the non-centered form is well conditioned.

The same rule applies one level up (``choose_centered_sessions``): a session mean is estimated from its
``n_s`` neurons with variance about ``(tau^2 + mean sigma_i^2) / n_s``, compared with a moment estimate of
the between-session sd; a session takes the centered form only when its sd is below half that estimate.
The margin is there because tau_session is estimated from a handful of sessions and its posterior reaches
toward 0, where centered session means funnel: on the six locust experiments (window 2-4 s) the plain rule
centres 4 of 6 sessions (sd 0.21-0.22 against an estimate of 0.25) and NUTS diverges 252 times in
4 x 1000 draws; all six non-centered, it diverges once.

``parameterization="auto"`` takes each neuron's median sigma over its recorded conditions and picks
centered when it is below ``tau_lower_bound``: a moment estimate of tau (the spread of raw log rates about
their condition means, or about neuron and condition means with crossed effects, minus the mean sampling
variance) less two of its sampling sds. The margin is there for the same reason as one level up: tau's
posterior reaches toward its lower tail, and a centered neuron funnels wherever tau < sigma. In the SBC
study (``benchmarks/sbc_negbin.py``, true tau fixed at 0.05, 12 neurons, 3-30 trials) the earlier rule
(sigma below the moment estimate floored at 0.1) centred 17% of neurons and 11 of 12 fits diverged; the
bound centres none there. Where a neuron-level split leaves any neuron non-centered, ``fit`` samples at
``target_accept=0.99`` (``negbin.sparse_target_accept``): with the sampler's default 0.8, 10 of those
12 fits still diverged a few times (the posterior of tau spans a factor of ten or more); over the 200 data
sets of the SBC study 10 fits diverged at 0.95 and none at 0.99.
"""

from __future__ import annotations

import warnings

import numpy as np

from spikepool.stats.cells import Cells

__all__ = ["cell_information", "choose_centered", "choose_centered_sessions", "tau_lower_bound"]


def cell_information(cells: Cells, n_neurons: int, n_conditions: int) -> dict[str, np.ndarray]:
    """Per (neuron, condition): trials, spikes, exposure, method-of-moments alpha, sigma of log rate.

    Cells with fewer than two trials take the median alpha of the other cells.
    """
    shape = (n_neurons, n_conditions)
    flat = cells.neuron * n_conditions + cells.condition
    size = n_neurons * n_conditions
    n = np.bincount(flat, cells.weight, size).reshape(shape)
    s = np.bincount(flat, cells.weight * cells.y, size).reshape(shape)
    ss = np.bincount(flat, cells.weight * cells.y.astype(float) ** 2, size).reshape(shape)
    exposure = np.bincount(flat, cells.weight * cells.duration, size).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = (ss - s * mean) / (n - 1)
        excess = var - mean
        moment = np.where((n >= 2) & (excess > 0), mean**2 / excess, 1e3)
        # cells with < 2 trials cannot show their dispersion: use the median of the others
        known = moment[(n >= 2)]
        alpha = np.where(n >= 2, moment, np.median(known) if known.size else 1e3)
        sigma2 = np.where(s > 0, 1.0 / s + 1.0 / (n * alpha), np.inf)
    return {"n": n, "spikes": s, "exposure": exposure, "alpha": alpha, "sigma": np.sqrt(sigma2)}


def choose_centered(
    cells: Cells,
    n_neurons: int,
    n_conditions: int,
    tau_ref: float | None = None,
    group: np.ndarray | None = None,
    neuron_effect: bool = False,
) -> np.ndarray:
    """Boolean (neuron,): True where the centered form is chosen (see the module docstring).

    ``group`` (neuron,) integer codes, e.g. sessions: tau is then the spread within groups, so the moment
    estimate centres the log rates on each group's (and condition's) mean. ``neuron_effect``: tau is the
    spread of the neuron x condition interaction, so the log rates are centred on neuron and condition means.
    ``tau_ref`` (a known tau) replaces the lower bound.
    """
    info = cell_information(cells, n_neurons, n_conditions)
    sigma = np.where(info["n"] > 0, info["sigma"], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_neuron = np.nanmedian(np.where(np.isfinite(sigma), sigma, 1e6), axis=1)
        log_rate = np.log(info["spikes"] / info["exposure"])
    per_neuron = np.where(np.isnan(per_neuron), np.inf, per_neuron)
    if tau_ref is None:
        tau_ref = tau_lower_bound(log_rate, sigma, group, neuron_effect)
    return per_neuron < tau_ref


def tau_lower_bound(
    log_rate: np.ndarray, sigma: np.ndarray, group: np.ndarray | None = None, neuron_effect: bool = False
) -> float:
    """A lower bound of tau from raw log rates (neuron, condition) and their sampling sds (0 when none).

    The moment estimate ``tau2 = SS / df - mean(sigma^2)`` (SS: squares of the log rates about their
    group x condition means, or about neuron + condition means with ``neuron_effect``, over ``df`` degrees of
    freedom: informative cells less the means fitted) has a sampling sd of about
    ``sqrt(2 / df) (tau2 + mean sigma^2)``; the bound is the estimate minus two such sds (squared), so a
    neuron is centered only when its data stay informative at the low end of what tau can be.
    """
    ok = np.isfinite(log_rate) & np.isfinite(sigma)
    n_used = int(ok.any(axis=1).sum())
    if n_used < 2:
        return 0.0
    masked = np.where(ok, log_rate, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows or columns: mean NaN, not used
        if neuron_effect:
            resid = masked - np.nanmean(masked)
            for _ in range(20):  # two-way means of an incomplete table by alternating sweeps
                resid = resid - np.nanmean(resid, axis=0)[None, :]
                resid = resid - np.nanmean(resid, axis=1)[:, None]
            lost = n_used + int(ok.any(axis=0).sum()) - 1
        else:
            codes = np.zeros(log_rate.shape[0], dtype=np.int64) if group is None else np.asarray(group)
            resid = np.full_like(masked, np.nan)
            lost = 0
            for k in np.unique(codes):
                rows = masked[codes == k]
                resid[codes == k] = rows - np.nanmean(rows, axis=0)  # per group and condition
                lost += int(np.isfinite(rows).any(axis=0).sum())
    df = int(ok.sum()) - lost
    if df < 1:
        return 0.0
    s2 = float(np.mean(sigma[ok] ** 2))
    tau2 = float(np.nansum(resid[ok] ** 2)) / df - s2
    lower = tau2 - 2.0 * np.sqrt(2.0 / df) * (max(tau2, 0.0) + s2)
    return float(np.sqrt(lower)) if lower > 0 else 0.0


def choose_centered_sessions(cells: Cells, n_neurons: int, n_conditions: int, group: np.ndarray) -> np.ndarray:
    """Boolean (session,): True where a session mean takes the centered form (see the module docstring).

    ``group`` (neuron,) holds each neuron's session code (0..S-1). The sampling sd of session s's mean log
    rate is ``sqrt((tau_w^2 + mean sigma_i^2) / n_s)`` (tau_w the within-session spread, n_s its neurons
    with spikes); the session is centered when that is below half of ``tau_s_ref``, the spread of the session means
    minus their mean sampling variance (floored at 0.1).
    """
    group = np.asarray(group)
    n_sessions = int(group.max()) + 1
    info = cell_information(cells, n_neurons, n_conditions)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_rate = np.log(info["spikes"] / info["exposure"])
    ok = np.isfinite(log_rate) & np.isfinite(info["sigma"])
    # per neuron: mean over its informative conditions, and that mean's sampling variance
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(np.where(ok, log_rate, np.nan), axis=1)
        s2 = np.nanmean(np.where(ok, info["sigma"] ** 2, np.nan), axis=1)
    used = np.isfinite(y)
    n_s = np.bincount(group[used], minlength=n_sessions)
    if (n_s > 0).sum() < 2:
        return np.zeros(n_sessions, dtype=bool)
    sums = np.bincount(group[used], y[used], minlength=n_sessions)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_s = sums / n_s
        within = np.sum((y[used] - mean_s[group[used]]) ** 2) / max(used.sum() - (n_s > 0).sum(), 1)
        tau_w2 = max(within - np.mean(s2[used]), 0.01)
        var_s = np.where(n_s > 0, (tau_w2 + np.bincount(group[used], s2[used], n_sessions) / n_s) / n_s, np.inf)
    have = n_s > 0
    spread = np.var(mean_s[have]) - np.mean(var_s[have])
    tau_s_ref = float(np.sqrt(max(spread, 0.01)))
    return np.sqrt(var_s) < 0.5 * tau_s_ref

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
centered when it is below ``tau_ref``, a moment estimate of tau (the spread of raw log rates minus the
mean sampling variance, floored at 0.1); a neuron-level split is allowed (two blocks of neurons).
"""

from __future__ import annotations

import warnings

import numpy as np

from spikepool.models.likelihood import Cells

__all__ = ["cell_information", "choose_centered", "choose_centered_sessions"]


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
    cells: Cells, n_neurons: int, n_conditions: int, tau_ref: float | None = None, group: np.ndarray | None = None
) -> np.ndarray:
    """Boolean (neuron,): True where the centered form is chosen (see the module docstring).

    ``group`` (neuron,) integer codes, e.g. sessions: tau is then the spread within groups, so the moment
    estimate centres the log rates on each group's (and condition's) mean.
    """
    info = cell_information(cells, n_neurons, n_conditions)
    sigma = np.where(info["n"] > 0, info["sigma"], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_neuron = np.nanmedian(np.where(np.isfinite(sigma), sigma, 1e6), axis=1)
        log_rate = np.log(info["spikes"] / info["exposure"])
    per_neuron = np.where(np.isnan(per_neuron), np.inf, per_neuron)
    if tau_ref is None:
        ok = np.isfinite(log_rate) & np.isfinite(sigma)
        if ok.sum() >= 2:
            codes = np.zeros(n_neurons, dtype=np.int64) if group is None else np.asarray(group)
            masked = np.where(ok, log_rate, np.nan)
            mean = np.zeros_like(log_rate)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a group without finite rates: mean NaN
                for k in np.unique(codes):
                    mean[codes == k] = np.nanmean(masked[codes == k], axis=0)  # per group and condition
            centred = (log_rate - mean)[ok & np.isfinite(mean)]
            spread = np.var(centred) - np.mean(sigma[ok] ** 2)
            tau_ref = float(np.sqrt(max(spread, 0.01)))
        else:
            tau_ref = 1.0
    return per_neuron < tau_ref


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

"""Centered or non-centered, per neuron, from how informative each neuron's data are.

For a neuron-condition cell with ``n`` trials, ``S`` spikes and dispersion alpha, the sampling
variance of its log rate estimate is about ``sigma^2 = 1/S + 1/(n alpha)`` (delta method on the NB
mean: Var(ybar)/ybar^2 = (1/mu + 1/alpha)/n). The posterior of its log rate is then a compromise
between a likelihood of sd sigma and the population Normal(mu, tau):

- sigma < tau (data dominate): the centered form samples well, the non-centered one is correlated;
- sigma >= tau (prior dominates, e.g. sparse or silent neurons): the centered form has Neal's funnel
  between tau and the neuron's log rate and diverges; the non-centered form is well conditioned.

``parameterization="auto"`` takes each neuron's median sigma over its recorded conditions and picks
centered when it is below ``tau_ref``, a moment estimate of tau (the spread of raw log rates minus the
mean sampling variance, floored at 0.1); a neuron-level split is allowed (two blocks of neurons).
"""

from __future__ import annotations

import numpy as np

from spikepool.models.likelihood import Cells

__all__ = ["cell_information", "choose_centered"]


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


def choose_centered(cells: Cells, n_neurons: int, n_conditions: int, tau_ref: float | None = None) -> np.ndarray:
    """Boolean (neuron,): True where the centered form is chosen (see the module docstring)."""
    info = cell_information(cells, n_neurons, n_conditions)
    sigma = np.where(info["n"] > 0, info["sigma"], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_neuron = np.nanmedian(np.where(np.isfinite(sigma), sigma, 1e6), axis=1)
        log_rate = np.log(info["spikes"] / info["exposure"])
    per_neuron = np.where(np.isnan(per_neuron), np.inf, per_neuron)
    if tau_ref is None:
        ok = np.isfinite(log_rate) & np.isfinite(sigma)
        if ok.sum() >= 2:
            with np.errstate(invalid="ignore"):
                cond_mean = np.nanmean(np.where(ok, log_rate, np.nan), axis=0)  # per condition
            centred = (log_rate - cond_mean[None, :])[ok]
            spread = np.var(centred) - np.mean(sigma[ok] ** 2)
            tau_ref = float(np.sqrt(max(spread, 0.01)))
        else:
            tau_ref = 1.0
    return per_neuron < tau_ref

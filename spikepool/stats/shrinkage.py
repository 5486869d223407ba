"""Shrinkage: how far each neuron's rate moved toward the population, and why.

Two definitions, both reported by the results' shrinkage tables (``spikepool.results.shrinkage``):

- **empirical** shrinkage, ``(raw - posterior) / (raw - population)`` on the log-rate scale: the
  fraction of the distance from the neuron's own (no-pooling) estimate to the population mean exp(mu)
  that its partial-pooling posterior mean rate moved. 0: not pooled at all; 1: replaced by the population mean.
- **model** shrinkage from the Normal-Normal analogue: with ``sigma_i^2`` the sampling variance of
  neuron i's log rate and ``tau^2`` the population variance, the data's weight is
  ``kappa_i = tau^2 / (tau^2 + sigma_i^2)`` and the shrinkage factor ``B_i = 1 - kappa_i =
  sigma_i^2 / (sigma_i^2 + tau^2)``; the Normal-Normal posterior mean is ``(1 - B_i) y_i + B_i mu``
  (``spikepool.stats.analytic.normal_conditional_posterior``).

For Negative-Binomial counts, ``sigma_i^2 ~ 1/S_i + 1/(n_i alpha_i)`` (S_i spikes in n_i trials; the
delta method on the NB mean, Var(ybar) = (mu + mu^2/alpha) / n), so neurons with few spikes or few,
overdispersed trials are shrunk most.
"""

from __future__ import annotations

import numpy as np

__all__ = ["empirical_shrinkage", "model_shrinkage"]


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

"""Count families on cells (numpy): the Negative-Binomial log pmf and its Poisson limit.

With ``y | lambda ~ Poisson(lambda d)`` and ``lambda ~ Gamma(shape alpha, rate alpha / r)``, integrating
lambda out gives ``y ~ NegativeBinomial(mu = r d, alpha)``: ``Var = mu + mu**2 / alpha``, Fano
``1 + mu / alpha``; ``alpha -> infinity`` is the Poisson limit (Var = mu).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["nb_logpmf"]


def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Negative-Binomial log pmf in PyMC's ``(mu, alpha)`` form (numpy; broadcasts).

    ``Var = mu + mu**2 / alpha``; ``alpha=None`` (or infinite) gives the Poisson limit.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    poisson = y * np.log(mu) - mu - gammaln(y + 1.0)
    if alpha is None:
        return poisson
    alpha = np.asarray(alpha, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        nb = (
            gammaln(y + alpha)
            - gammaln(alpha)
            - gammaln(y + 1.0)
            + alpha * (np.log(alpha) - np.log(alpha + mu))
            + y * (np.log(mu) - np.log(alpha + mu))
        )
    return np.where(np.isfinite(alpha) & (alpha < 1e10), nb, poisson)

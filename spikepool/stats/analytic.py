"""Closed forms of the theory behind spikepool's hierarchies (numpy only, broadcasting).

- ``mse_ratio_normal(n, tau, sigma) = n tau^2 / (n tau^2 + sigma^2)``: MSE of the partially pooled group
  mean relative to the raw (no-pooling) mean, for known mu, tau and sigma.
- ``normal_conditional_posterior(y, sigma, mu, tau)``: ``theta_j | y, mu, tau ~ Normal((1 - B_j) y_j + B_j mu,
  (1 - B_j) sigma_j^2)`` with the shrinkage factor ``B_j = sigma_j^2 / (sigma_j^2 + tau^2)``.
- ``nb_variance(mu, alpha) = mu + mu**2 / alpha``: Gamma-Poisson (PyMC's NegativeBinomial) variance.
- ``beta_binomial_variance(n, alpha, beta) = n p (1 - p) (alpha + beta + n) / (alpha + beta + 1)`` with
  ``p = alpha / (alpha + beta)``.
- ``extra_binomial_factor(n, alpha, beta) = (alpha + beta + n) / (alpha + beta + 1)``: Beta-Binomial over
  Binomial variance at the same mean.

Every function takes scalars or arrays (broadcast together) and returns a float or a float array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from spikepool.exceptions import ArgumentError

__all__ = [
    "beta_binomial_variance",
    "extra_binomial_factor",
    "mse_ratio_normal",
    "nb_variance",
    "normal_conditional_posterior",
]


def _checked(name: str, value: ArrayLike, *, allow_zero: bool = False) -> np.ndarray:
    """``value`` as a float array, refusing non-finite and non-positive (or negative) entries."""
    x = np.asarray(value, dtype=float)
    bad = ~np.isfinite(x) | ((x < 0) if allow_zero else (x <= 0))
    if bad.any():
        must = "finite and >= 0" if allow_zero else "finite and > 0"
        raise ArgumentError(f"{name} must be {must}; got {float(x[bad].ravel()[0])}.")
    return x


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def mse_ratio_normal(n: ArrayLike, tau: ArrayLike, sigma: ArrayLike) -> float | np.ndarray:
    """MSE of the partial-pooling estimate of a group mean relative to its raw mean.

    A group with true mean ``theta ~ Normal(mu, tau^2)`` is observed in ``n`` trials
    ``y_k ~ Normal(theta, sigma^2)``; mu, tau and sigma are known. The raw mean ``ybar`` has
    ``MSE = sigma^2 / n``; the posterior mean ``mu + k (ybar - mu)`` with ``k = tau^2 / (tau^2 + sigma^2 / n)``
    has error ``k (ybar - theta) - (1 - k) (theta - mu)``, two independent terms, so
    ``MSE = k^2 sigma^2 / n + (1 - k)^2 tau^2 = k sigma^2 / n``. The ratio is ``k = n tau^2 / (n tau^2 + sigma^2)``.

    Parameters
    ----------
    n : array_like
        Trials per group (> 0).
    tau : array_like
        Between-group sd (>= 0).
    sigma : array_like
        Within-group (trial-to-trial) sd (> 0).

    Returns
    -------
    float or numpy.ndarray
        The ratio, in [0, 1): 0 with tau = 0 (the population mean is exact), toward 1 as n tau^2 >> sigma^2.
        A float for scalar arguments, else an array of their broadcast shape.

    Raises
    ------
    ArgumentError
        ``n`` or ``sigma`` is not finite and > 0, or ``tau`` not finite and >= 0.
    ValueError
        The arguments do not broadcast together, or are strings that are not numbers (numpy's errors).

    Examples
    --------
    >>> from spikepool.stats.analytic import mse_ratio_normal
    >>> mse_ratio_normal(n=4, tau=1.0, sigma=2.0)
    0.5
    """
    n, tau, sigma = _checked("n", n), _checked("tau", tau, allow_zero=True), _checked("sigma", sigma)
    return _out(n * tau**2 / (n * tau**2 + sigma**2))


def normal_conditional_posterior(
    y: ArrayLike, sigma: ArrayLike, mu: float, tau: float
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Exact posterior of theta_j in the Normal-Normal model for KNOWN ``mu`` and ``tau``.

    With ``y_j ~ Normal(theta_j, sigma_j^2)`` and ``theta_j ~ Normal(mu, tau^2)``, the posterior is Normal
    with precision ``1/sigma_j^2 + 1/tau^2``: mean ``(1 - B_j) y_j + B_j mu`` and sd
    ``sqrt((1 - B_j) sigma_j^2)``, where ``B_j = sigma_j^2 / (sigma_j^2 + tau^2)`` is the shrinkage factor.

    Parameters
    ----------
    y : array_like
        Group estimates (group,).
    sigma : array_like
        Their known standard errors (group,), > 0.
    mu : float
        Population mean.
    tau : float
        Population sd (>= 0; 0 gives theta_j = mu exactly).

    Returns
    -------
    mean, sd : float or numpy.ndarray
        Posterior mean and sd of each theta_j: floats for scalar arguments, else arrays of the arguments'
        broadcast shape (group,).

    Raises
    ------
    ArgumentError
        ``y`` or ``mu`` is not finite; ``sigma`` is not finite and > 0, or ``tau`` not finite and >= 0.
    ValueError
        ``y``, ``sigma`` and ``tau`` do not broadcast together, or are strings that are not numbers.
    TypeError
        ``mu`` is not a number.

    Examples
    --------
    >>> from spikepool.stats.analytic import normal_conditional_posterior
    >>> mean, sd = normal_conditional_posterior([10.0, 0.0], [1.0, 1.0], mu=0.0, tau=1.0)
    >>> mean.tolist(), sd.round(4).tolist()
    ([5.0, 0.0], [0.7071, 0.7071])
    """
    y = np.asarray(y, dtype=float)
    if not np.isfinite(y).all() or not np.isfinite(mu):
        raise ArgumentError(f"y and mu must be finite; got y={y!r}, mu={mu!r}.")
    sigma, tau = _checked("sigma", sigma), _checked("tau", tau, allow_zero=True)
    b = sigma**2 / (sigma**2 + tau**2)
    return _out((1.0 - b) * y + b * mu), _out(np.sqrt((1.0 - b) * sigma**2))


def nb_variance(mu: ArrayLike, alpha: ArrayLike) -> float | np.ndarray:
    """Variance of the Negative Binomial (Gamma-Poisson): ``Var = mu + mu**2 / alpha``.

    ``y | lambda ~ Poisson(lambda)``, ``lambda ~ Gamma(shape alpha, rate alpha / mu)`` gives
    ``Var(y) = E[lambda] + Var(lambda) = mu + mu**2 / alpha`` (Fano factor ``1 + mu / alpha``).

    Parameters
    ----------
    mu : array_like
        Mean count (>= 0).
    alpha : array_like
        Dispersion (> 0); alpha -> infinity is the Poisson limit.

    Returns
    -------
    float or numpy.ndarray
        ``mu + mu**2 / alpha``: a float for scalar arguments, else an array of their broadcast shape.

    Raises
    ------
    ArgumentError
        ``mu`` is not finite and >= 0, or ``alpha`` not finite and > 0 (pass a large alpha for the Poisson
        limit).
    ValueError
        The arguments do not broadcast together, or are strings that are not numbers (numpy's errors).

    Examples
    --------
    >>> from spikepool.stats.analytic import nb_variance
    >>> nb_variance(4.0, 2.0)
    12.0
    """
    mu, alpha = _checked("mu", mu, allow_zero=True), _checked("alpha", alpha)
    return _out(mu + mu**2 / alpha)


def extra_binomial_factor(n: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> float | np.ndarray:
    """Beta-Binomial variance over the Binomial's at the same mean: ``(alpha + beta + n) / (alpha + beta + 1)``.

    1 for a single trial (n = 1), n when alpha + beta -> 0 (all-or-none responses); equal to
    ``1 + (n - 1) rho`` with the intra-class correlation ``rho = 1 / (alpha + beta + 1)``.

    Parameters
    ----------
    n : array_like
        Trials (> 0).
    alpha, beta : array_like
        Beta parameters (> 0).

    Returns
    -------
    float or numpy.ndarray
        The factor (1 for ``n = 1``, between 1 and ``n`` for larger ``n``): a float for scalar arguments,
        else an array of their broadcast shape.

    Raises
    ------
    ArgumentError
        ``n``, ``alpha`` or ``beta`` is not finite and > 0.
    ValueError
        The arguments do not broadcast together, or are strings that are not numbers (numpy's errors).

    Examples
    --------
    >>> from spikepool.stats.analytic import extra_binomial_factor
    >>> extra_binomial_factor(10, 2.0, 3.0)
    2.5
    """
    n, alpha, beta = _checked("n", n), _checked("alpha", alpha), _checked("beta", beta)
    return _out((alpha + beta + n) / (alpha + beta + 1.0))


def beta_binomial_variance(n: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> float | np.ndarray:
    """Variance of the Beta-Binomial: ``n p (1 - p) (alpha + beta + n) / (alpha + beta + 1)``.

    ``y | p ~ Binomial(n, p)``, ``p ~ Beta(alpha, beta)``, ``p = E[p] = alpha / (alpha + beta)``: the Binomial
    variance times ``extra_binomial_factor``.

    Parameters
    ----------
    n : array_like
        Trials (> 0).
    alpha, beta : array_like
        Beta parameters (> 0).

    Returns
    -------
    float or numpy.ndarray
        The variance: a float for scalar arguments, else an array of their broadcast shape.

    Raises
    ------
    ArgumentError
        ``n``, ``alpha`` or ``beta`` is not finite and > 0.
    ValueError
        The arguments do not broadcast together, or are strings that are not numbers (numpy's errors).

    Examples
    --------
    >>> from spikepool.stats.analytic import beta_binomial_variance
    >>> beta_binomial_variance(10, 2.0, 3.0)
    6.0
    """
    n, alpha, beta = _checked("n", n), _checked("alpha", alpha), _checked("beta", beta)
    p = alpha / (alpha + beta)
    return _out(n * p * (1.0 - p) * extra_binomial_factor(n, alpha, beta))

"""Closed forms against simulation (seeded) and against each other."""

from __future__ import annotations

import numpy as np
import pytest

from spikepool import analytic


@pytest.mark.parametrize(("n", "tau", "sigma"), [(5, 1.0, 2.0), (20, 0.5, 3.0), (2, 2.0, 1.0)])
def test_mse_ratio_normal_matches_simulation(rng, n, tau, sigma):
    """50,000 groups of n trials with known mu, tau, sigma: MSE of the shrunk mean over the raw mean's."""
    mu, groups = 3.0, 50_000
    theta = rng.normal(mu, tau, groups)
    ybar = rng.normal(theta[:, None], sigma, (groups, n)).mean(axis=1)
    k = tau**2 / (tau**2 + sigma**2 / n)
    shrunk = mu + k * (ybar - mu)
    ratio = np.mean((shrunk - theta) ** 2) / np.mean((ybar - theta) ** 2)
    expected = analytic.mse_ratio_normal(n, tau, sigma)
    assert expected == pytest.approx(n * tau**2 / (n * tau**2 + sigma**2), rel=1e-12)
    # the MSEs' relative sd is sqrt(2 / 50,000) = 0.6%: 2% is > 3 sd
    assert ratio == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(("mu", "alpha"), [(4.0, 2.0), (10.0, 0.5), (1.5, 20.0)])
def test_nb_variance_matches_gamma_poisson_draws(rng, mu, alpha):
    lam = rng.gamma(alpha, mu / alpha, 200_000)
    y = rng.poisson(lam)
    assert y.mean() == pytest.approx(mu, rel=0.02)
    assert y.var(ddof=1) == pytest.approx(analytic.nb_variance(mu, alpha), rel=0.02)


@pytest.mark.parametrize(("n", "alpha", "beta"), [(10, 2.0, 3.0), (25, 0.5, 0.5), (4, 8.0, 2.0)])
def test_beta_binomial_variance_matches_draws(rng, n, alpha, beta):
    p = rng.beta(alpha, beta, 200_000)
    y = rng.binomial(n, p)
    assert y.var(ddof=1) == pytest.approx(analytic.beta_binomial_variance(n, alpha, beta), rel=0.02)


def test_extra_binomial_factor_relates_the_variances():
    n, alpha, beta = np.array([1, 5, 50]), 2.0, 6.0
    p = alpha / (alpha + beta)
    factor = analytic.extra_binomial_factor(n, alpha, beta)
    np.testing.assert_allclose(factor * n * p * (1 - p), analytic.beta_binomial_variance(n, alpha, beta))
    assert factor[0] == 1.0  # one trial: a Bernoulli whatever the Beta
    np.testing.assert_allclose(factor, 1 + (n - 1) / (alpha + beta + 1))  # 1 + (n - 1) rho


def test_normal_conditional_posterior_is_precision_weighting():
    y, sigma, mu, tau = np.array([28.0, -3.0, 7.0]), np.array([15.0, 16.0, 11.0]), 4.0, 6.0
    mean, sd = analytic.normal_conditional_posterior(y, sigma, mu, tau)
    precision = 1 / sigma**2 + 1 / tau**2
    np.testing.assert_allclose(mean, (y / sigma**2 + mu / tau**2) / precision)
    np.testing.assert_allclose(sd, precision**-0.5)
    mean0, sd0 = analytic.normal_conditional_posterior(y, sigma, mu, 0.0)  # tau = 0: complete pooling
    np.testing.assert_allclose(mean0, mu)
    np.testing.assert_allclose(sd0, 0.0)


def test_limits_and_broadcasting():
    assert analytic.mse_ratio_normal(10, 0.0, 1.0) == 0.0
    assert analytic.nb_variance(3.0, 1e12) == pytest.approx(3.0)  # Poisson limit
    out = analytic.nb_variance(np.array([1.0, 2.0]), np.array([[1.0], [2.0]]))
    assert out.shape == (2, 2)
    assert isinstance(analytic.beta_binomial_variance(3, 1.0, 1.0), float)


@pytest.mark.parametrize(
    ("func", "args", "match"),
    [
        (analytic.nb_variance, (1.0, 0.0), "alpha must be finite and > 0; got 0.0"),
        (analytic.nb_variance, (-1.0, 1.0), "mu must be finite and >= 0"),
        (analytic.mse_ratio_normal, (0, 1.0, 1.0), "n must be finite and > 0"),
        (analytic.mse_ratio_normal, (3, -1.0, 1.0), "tau must be finite and >= 0"),
        (analytic.beta_binomial_variance, (3, 1.0, np.nan), "beta must be finite"),
        (analytic.extra_binomial_factor, (3, -2.0, 1.0), "alpha must be finite and > 0"),
    ],
)
def test_bad_arguments(func, args, match):
    with pytest.raises(ValueError, match=match):
        func(*args)

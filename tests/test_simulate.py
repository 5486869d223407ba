"""simulate_counts: the schema of from_neo, and the Gamma-Poisson variance mu + mu^2/alpha."""

from __future__ import annotations

import numpy as np
import pytest

import spikepool as sp


def test_schema_and_truth():
    counts, truth = sp.simulate_counts(
        5, 12, conditions=["a", "b", "c"], mu=[1.0, 2.0, 3.0], tau=0.5, alpha=2.0, duration=0.25, seed=0
    )
    sp.validate_counts(counts)
    assert counts.dims == ("neuron", "trial") and counts.dtype == np.int64
    assert list(counts["condition"].values[:4]) == ["a", "b", "c", "a"]
    assert truth["rate"].dims == ("neuron", "condition")
    np.testing.assert_allclose(truth["rate"], np.exp(truth["log_rate"]))
    again, _ = sp.simulate_counts(
        5, 12, conditions=["a", "b", "c"], mu=[1.0, 2.0, 3.0], tau=0.5, alpha=2.0, duration=0.25, seed=0
    )
    np.testing.assert_array_equal(again.values, counts.values)


@pytest.mark.parametrize("alpha", [0.7, 3.0, 25.0])
def test_gamma_poisson_variance_is_mu_plus_mu2_over_alpha(alpha):
    counts, truth = sp.simulate_counts(3, 60_000, mu=1.5, tau=0.8, alpha=alpha, duration=0.5, seed=1)
    mu = truth["rate"].values[:, 0] * 0.5
    y = counts.values
    np.testing.assert_allclose(y.mean(axis=1), mu, rtol=0.03)
    np.testing.assert_allclose(y.var(axis=1), mu + mu**2 / alpha, rtol=0.06)


def test_poisson_limit():
    counts, truth = sp.simulate_counts(2, 50_000, mu=1.0, tau=0.1, alpha=None, seed=2)
    y = counts.values
    np.testing.assert_allclose(y.var(axis=1) / y.mean(axis=1), 1.0, atol=0.03)

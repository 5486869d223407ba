"""Empirical-Bayes Gamma-Poisson: marginal likelihood by quadrature, recovery, shrinkage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import spikepool as sp
from spikepool.stats.empirical import gamma_poisson_marginal


def test_marginal_likelihood_equals_numerical_integration():
    s, d, a, b = 7, 2.5, 3.0, 0.8
    integrand = lambda r: stats.poisson.pmf(s, r * d) * stats.gamma.pdf(r, a, scale=1 / b)  # noqa: E731
    value, _ = integrate.quad(integrand, 0, np.inf)
    assert gamma_poisson_marginal(np.array([s]), np.array([d]), a, b) == pytest.approx(np.log(value), rel=1e-9)


def test_recovers_the_gamma_population_and_shrinks_toward_it(rng):
    a_true, b_true, n = 4.0, 0.5, 400
    rates = rng.gamma(a_true, 1 / b_true, n)
    exposure = rng.choice([1.0, 5.0, 20.0], n)
    spikes = rng.poisson(rates * exposure)
    eb = sp.fit_empirical_bayes(_with_exposure(spikes, exposure))
    assert float(eb["a"]) == pytest.approx(a_true, rel=0.2)
    assert float(eb["population_rate"]) == pytest.approx(a_true / b_true, rel=0.08)
    # posterior mean is the precision-weighted compromise, with B = b / (b + D)
    b = float(eb["b"])
    expected = (1 - b / (b + exposure)) * spikes / exposure + b / (b + exposure) * float(eb["population_rate"])
    np.testing.assert_allclose(eb["rate"].values, expected, rtol=1e-10)
    # shrinkage is strongest where the exposure is shortest
    shrink = eb["shrinkage"].values
    assert shrink[exposure == 1.0].min() > shrink[exposure == 20.0].max()


def _with_exposure(spikes, exposure):
    """One trial per neuron, each neuron with its own exposure: trials are neurons' own (valid mask)."""
    n = spikes.size
    values = np.zeros((n, n), dtype=np.int64)
    values[np.arange(n), np.arange(n)] = spikes
    return sp.from_array(values, duration=exposure, valid=np.eye(n, dtype=bool))


def test_conditions_get_their_own_population(rng):
    counts, truth = sp.simulate_counts(60, 40, conditions=["low", "high"], mu=[0.5, 2.5], tau=0.4, alpha=None, seed=4)
    eb = sp.fit_empirical_bayes(counts, condition="condition")
    assert eb["rate"].dims == ("neuron", "condition")
    np.testing.assert_allclose(eb["mu"].sel(condition=["low", "high"]).values, [0.5, 2.5], atol=0.15)
    inside = ((eb["lower"] <= truth["rate"]) & (truth["rate"] <= eb["upper"])).mean().item()
    assert inside > 0.85  # Poisson data: the Gamma intervals are calibrated (nominal 94%)

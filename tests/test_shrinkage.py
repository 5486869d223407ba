"""Shrinkage factors: closed forms in the Normal-Normal case, and what a fit reports."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import spikepool as sp
from spikepool.stats.analytic import normal_conditional_posterior
from spikepool.stats.shrinkage import empirical_shrinkage, model_shrinkage


def test_normal_normal_closed_forms(rng):
    mu, tau = 0.8, 0.5
    sigma = rng.uniform(0.05, 2.0, 30)
    y = rng.normal(mu, np.hypot(tau, sigma))
    kappa, b = model_shrinkage(tau, sigma)
    np.testing.assert_allclose(b, sigma**2 / (sigma**2 + tau**2))
    np.testing.assert_allclose(kappa + b, 1.0)
    post, _ = normal_conditional_posterior(y, sigma, mu, tau)
    # the textbook posterior mean: precision-weighted average of y and mu
    expected = (y / sigma**2 + mu / tau**2) / (1 / sigma**2 + 1 / tau**2)
    np.testing.assert_allclose(post, expected, rtol=1e-12)
    # the empirical definition recovers B exactly in this case
    np.testing.assert_allclose(empirical_shrinkage(y, post, mu), b, rtol=1e-9)
    assert np.isnan(empirical_shrinkage(np.array([1.0]), np.array([1.0]), np.array([1.0]))[0])
    kappa_inf, b_inf = model_shrinkage(0.5, np.inf)
    assert kappa_inf == 0.0 and b_inf == 1.0


@pytest.fixture(scope="module")
def fit():
    counts, truth = sp.simulate_counts(24, 12, mu=1.0, tau=0.7, alpha=5.0, duration=0.5, seed=21)
    valid = np.ones(counts.shape, dtype=bool)
    valid[16:, 2:] = False  # eight neurons with two trials only
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        return sp.HierarchicalNegBinom(dispersion="shared").fit(
            counts, draws=500, tune=500, chains=2, cores=1, random_seed=2, progressbar=False
        )


def test_fit_shrinkage_table(fit):
    table = fit.shrinkage(ci_prob=0.9)
    assert table["rate"].dims == ("neuron",)
    counts = fit.counts
    raw = (counts * counts["valid"]).sum("trial") / (counts["duration"] * counts["valid"]).sum("trial")
    np.testing.assert_allclose(table["raw_rate"].values, raw.values)
    pooled = float((counts * counts["valid"]).sum() / (counts["duration"] * counts["valid"]).sum())
    np.testing.assert_allclose(table["pooled_rate"].values, pooled)
    assert (table["lower"] <= table["rate"]).all() and (table["rate"] <= table["upper"]).all()
    np.testing.assert_allclose(table["kappa"] + table["model_shrinkage"], 1.0)
    with np.errstate(divide="ignore"):
        far = np.abs(np.log(table["raw_rate"].values / table["population_rate"].values)) > 0.2
    ok = np.isfinite(table["shrinkage"].values) & far
    emp, mod = table["shrinkage"].values[ok], table["model_shrinkage"].values[ok]
    assert np.corrcoef(emp, mod)[0, 1] > 0.7  # the two definitions agree on who is shrunk
    sparse = table["n_trials"].values == 2
    assert np.median(table["model_shrinkage"].values[sparse]) > 2 * np.median(table["model_shrinkage"].values[~sparse])

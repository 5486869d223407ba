"""Vectorised PSIS (``spikepool.stats.psis``) and PSIS-LOO (``spikepool.checks.sampling.psis_loo``): the same numbers
as ArviZ's per-observation loop."""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr
from arviz_stats.base.array import array_stats

import spikepool as sp
from spikepool.checks.sampling import psis_compare, psis_loo, relative_efficiency
from spikepool.stats import convergence
from spikepool.stats.psis import loo_pointwise, psislw


@pytest.mark.parametrize(("draws", "r_eff"), [(2000, 1.0), (4000, 0.7), (100, 1.0), (400, 0.3)])
def test_psislw_is_arviz(draws, r_eff):
    """Smoothed log weights and Pareto k of heavy-tailed log ratios equal ArviZ's (which takes log-likelihoods)."""
    rng = np.random.default_rng(draws)
    log_lik = rng.standard_t(3, size=(200, draws)) * rng.uniform(0.1, 3, (200, 1)) - 2
    lw, k = psislw(-log_lik, r_eff)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lw_a, k_a = array_stats.psislw(log_lik, r_eff=r_eff, axis=-1)
    np.testing.assert_allclose(k, k_a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lw, lw_a, rtol=1e-10, atol=1e-10)
    assert (k > 0.7).any() and (k < 0.5).any()  # both regimes were exercised


def test_loo_pointwise_closed_form():
    """Identical draws of the log-likelihood: every weight is 1/S, k is NaN-free only where the tail varies, and
    elpd_i is the log-likelihood itself (log of the mean of equal likelihoods)."""
    log_lik = np.tile(np.linspace(-3, -1, 5)[:, None], (1, 500)) + np.linspace(0, 1e-9, 500)[None, :]
    out = loo_pointwise(log_lik)
    np.testing.assert_allclose(out["elpd_i"], log_lik.mean(axis=1), atol=1e-8)
    np.testing.assert_allclose(out["p_loo_i"], 0.0, atol=1e-8)


@pytest.fixture(scope="module")
def two_fits():
    counts, _ = sp.simulate_counts(8, 12, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=3)
    with warnings.catch_warnings():  # the draws' quality does not matter here: both LOOs read the same draws
        warnings.simplefilter("ignore", sp.SamplingWarning)
        fits = [
            sp.HierarchicalNegBinom(likelihood=lik, dispersion="shared").fit(
                counts, chains=2, draws=300, tune=300, random_seed=3, progressbar=False
            )
            for lik in ("negbin", "poisson")
        ]
    return [f.pointwise() for f in fits]


def test_psis_loo_is_arviz_loo(two_fits):
    """``psis_loo`` gives ArviZ's elpd, se, p_loo, pointwise elpd and Pareto k; ``psis_compare`` its table."""
    tree = two_fits[0]
    ours, report = psis_loo(tree, "negbin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = azs.loo(tree, var_name="y", pointwise=True)
    for field in ("elpd", "se", "p", "n_samples", "n_data_points", "good_k", "warning"):
        assert getattr(ours, field) == pytest.approx(getattr(theirs, field), rel=1e-10), field
    xr.testing.assert_allclose(ours.elpd_i, theirs.elpd_i.transpose(*ours.elpd_i.dims), rtol=1e-10)
    xr.testing.assert_allclose(ours.pareto_k, theirs.pareto_k.transpose(*ours.pareto_k.dims), rtol=1e-8)
    assert report.checked == ("loo_pareto_k",)
    table, _ = psis_compare({"negbin": two_fits[0], "poisson": two_fits[1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = azs.compare(
            {"negbin": azs.loo(two_fits[0], var_name="y", pointwise=True),
             "poisson": azs.loo(two_fits[1], var_name="y", pointwise=True)},
            round_to="none",
        )  # fmt: skip
    cols = ["rank", "elpd", "p", "elpd_diff", "weight", "se", "dse"]
    np.testing.assert_allclose(table[cols].astype(float).values, expected[cols].astype(float).values, rtol=1e-8)


def test_relative_efficiency_is_arviz(two_fits):
    """The draws' relative efficiency from the mean ESS of every posterior value, as ArviZ's loo computes it."""
    from arviz_stats.loo.loo_helper import _get_r_eff

    tree = two_fits[0]
    n = tree["posterior"].sizes["chain"] * tree["posterior"].sizes["draw"]
    assert relative_efficiency(tree) == pytest.approx(_get_r_eff(tree, n), rel=1e-10)
    post = tree["posterior"].to_dataset()
    mine = convergence.ess(post[["mu", "tau"]], method="mean")
    theirs = azs.ess(post[["mu", "tau"]], method="mean")
    for v in ("mu", "tau"):
        assert float(mine[v]) == pytest.approx(float(theirs[v]), rel=1e-9)

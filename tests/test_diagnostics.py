"""check_sampling on real PyMC fits (a funnel that diverges, an easy model that does not)."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import spikepool as sp
from spikepool.checks.sampling import contraction

SCHOOLS_Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
SCHOOLS_SIGMA = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])


@pytest.fixture(scope="module")
def funnel():
    """Centered eight schools, short chains: divergences, high R-hat and low ESS (seeded)."""
    with pm.Model(coords={"school": range(8)}):
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("y", theta, SCHOOLS_SIGMA, observed=SCHOOLS_Y, dims="school")
        idata = pm.sample(draws=300, tune=300, chains=2, cores=1, random_seed=1, progressbar=False)
        prior = pm.sample_prior_predictive(draws=1000, random_seed=2)
    return idata, prior


@pytest.fixture(scope="module")
def easy():
    rng = np.random.default_rng(3)
    with pm.Model():
        m = pm.Normal("m", 0, 10)
        s = pm.HalfNormal("tau", 5)
        pm.Normal("y", m, s, observed=rng.normal(2.0, 1.5, 400))
        idata = pm.sample(draws=600, tune=500, chains=2, cores=1, random_seed=4, progressbar=False)
        prior = pm.sample_prior_predictive(draws=1000, random_seed=5)
    return idata, prior


def test_funnel_is_flagged(funnel):
    idata, prior = funnel
    report = sp.check_sampling(idata, prior=prior)
    n_div = int(idata["sample_stats"]["diverging"].sum())
    assert n_div > 0
    (div,) = report.find("divergences")
    assert f"got {n_div} divergent transition(s) in 600 draws" in div.message
    assert "(1) raise target_accept" in div.remedy and "'noncentered'" in div.remedy
    (ess,) = report.find("ess_bulk")
    assert "bulk ESS must be >= 400" in ess.message
    assert report.summary["divergences"].item() == n_div
    assert report.ok  # sampling problems warn; they are not identifiability errors


def test_easy_model_passes_and_contraction_is_measured(easy):
    idata, prior = easy
    report = sp.check_sampling(idata, prior=prior, ess_min=300)
    assert not report.problems, str(report)
    assert set(report.passed) == {"rhat", "ess_bulk", "ess_tail", "divergences", "uninformed"}
    assert report.summary["contraction_tau_min"].item() > 0.9  # 400 observations pin the scale down


def test_no_prior_is_said_not_hidden(easy):
    report = sp.check_sampling(easy[0], ess_min=300)
    (note,) = report.find("no_prior")
    assert note.severity == "info" and "['tau']" in note.message


def _tree(post, prior):
    posterior = xr.Dataset({"tau": (("chain", "draw"), post)})
    return xr.DataTree.from_dict({"posterior": posterior}), xr.Dataset({"tau": (("chain", "draw"), prior)})


def test_uninformed_scale_parameter_is_flagged_as_prior_driven(rng):
    prior = np.abs(rng.standard_cauchy((1, 4000))) * 5
    same = np.abs(rng.standard_cauchy((4, 1000))) * 5  # posterior = prior: the data taught nothing
    idata, prior_ds = _tree(same, prior)
    report = sp.check_sampling(idata, prior=prior_ds, ess_min=100)
    (problem,) = report.find("uninformed")
    assert problem.parameters == ("tau",)
    assert "the data did not inform them" in problem.message and "not findings" in problem.message
    narrow = np.exp(rng.normal(np.log(3.0), 0.1, (4, 1000)))
    idata, prior_ds = _tree(narrow, prior)
    assert not sp.check_sampling(idata, prior=prior_ds, ess_min=100).find("uninformed")


def test_contraction_closed_form(rng):
    prior = xr.DataArray(rng.normal(0, 1.0, (1, 200_000)), dims=("chain", "draw"))
    post = xr.DataArray(rng.normal(0, 0.5, (4, 50_000)), dims=("chain", "draw"))
    assert contraction(post, prior, log=False).item() == pytest.approx(0.75, abs=0.01)


def test_bad_arguments(easy):
    with pytest.raises(ValueError, match="var_names must be posterior variables"):
        sp.check_sampling(easy[0], var_names=["rate"])
    with pytest.raises(TypeError, match="idata must be an xarray.DataTree"):
        sp.check_sampling({"posterior": 1})


def _loglik_tree(rng, outlier: bool) -> xr.DataTree:
    ll = rng.normal(-1.0, 0.1, (2, 500, 30))
    if outlier:  # one observation on which the draws disagree wildly: heavy-tailed importance ratios
        ll[..., 0] = -np.exp(2.0 * rng.normal(size=(2, 500)))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 500)))}),
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), ll)}),
        }
    )


def test_psis_loo_folds_arviz_pareto_warning_into_a_named_problem(rng):
    from spikepool.checks.sampling import psis_compare, psis_loo

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ArviZ's raw UserWarning must not escape
        elpd, report = psis_loo(_loglik_tree(rng, outlier=True), "toy")
        _, clean = psis_loo(_loglik_tree(rng, outlier=False), "clean")
        table, both = psis_compare({"toy": _loglik_tree(rng, True), "clean": _loglik_tree(rng, False)})
    assert float(elpd.pareto_k.max()) > 0.7 and elpd.warning
    (problem,) = report.problems
    assert problem.code == "loo_pareto_k" and problem.severity == "warning"
    assert "toy has 1 of 30 above" in problem.message and "compare_pooling" in problem.remedy
    assert clean.problems == []
    assert set(table.index) == {"toy", "clean"} and [p.code for p in both.problems] == ["loo_pareto_k"]

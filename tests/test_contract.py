"""The Model and Result contract, for every model: add a model to ``CASES`` and it is tested here.

In the style of NeMoS's ``test_base_regressor_subclasses.py``: one list of models with valid data, data the
model must refuse, and bad options; the same tests run for each.
"""

from __future__ import annotations

import inspect
import json
import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import spikepool as sp
from spikepool.models.base import Model
from spikepool.models.sampling import LEFT_OUT_STATS, default_draws, free_values
from spikepool.results.base import Result

FIT = {"draws": 300, "tune": 300, "chains": 2, "cores": 1, "progressbar": False}


def _counts(n_trials: int = 8):
    return sp.simulate_counts(6, n_trials, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)[0]


def _responses(n_trials: int = 6):
    rng = np.random.default_rng(2)
    means = rng.normal(10.0, 2.0, 6)
    return xr.DataArray(rng.normal(means[:, None], 1.0, (6, n_trials)), dims=("neuron", "trial"))


SCHOOLS = (np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]), np.array([15.0, 10, 16, 11, 9, 11, 10, 18]))

# (model class, options, valid data, data it must refuse before sampling, the error, its message)
CASES = [
    (
        sp.HierarchicalNegBinom,
        {"dispersion": "shared"},
        lambda: (_counts(),),
        lambda: (_counts(1),),
        sp.IdentifiabilityError,
        "variance_components",
    ),
    (sp.NormalNormal, {}, lambda: SCHOOLS, lambda: (SCHOOLS[0][:1], SCHOOLS[1][:1]), ValueError, "at least 2 groups"),
    (
        sp.RandomEffectsNormal,
        {},
        lambda: (_responses(),),
        lambda: (_responses(1),),
        sp.IdentifiabilityError,
        "variance_components",
    ),
    (
        sp.BetaBinomial,
        {},
        lambda: (np.array([3, 0, 5, 2, 4]), np.array([10, 8, 12, 9, 11])),
        lambda: (np.array([3, 9]), np.array([10, 8])),
        ValueError,
        "successes must be <= trials",
    ),
]
CASES.append(
    (
        sp.HierarchicalPSTH,
        {"condition": "condition"},
        lambda: (sp.simulate_binned(4, 12, 16, conditions=["a", "b"], seed=3)[0],),
        lambda: (sp.simulate_binned(4, 12, 16, conditions=["a", "b"], seed=3)[0].isel(time=[0]),),
        sp.ArgumentError,
        "at least 2 time bins",
    )
)
# the COM-Poisson family through the whole contract of both count models
CASES.append((sp.HierarchicalNegBinom, {"likelihood": "com_poisson"}, *CASES[0][2:]))
CASES.append((sp.HierarchicalPSTH, {"condition": "condition", "likelihood": "com_poisson"}, *CASES[-2][2:]))
# the formula model, with the window model's design written as a formula
CASES.append((sp.HierarchicalGLM, {"formula": "count ~ 1 + (1 | neuron)", "dispersion": "shared"}, *CASES[0][2:]))
IDS = [case[0].__name__ + (f"-{case[1]['likelihood']}" if "likelihood" in case[1] else "") for case in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def fitted(request):
    cls, options, data, *_ = request.param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # short chains: diagnostics are not the point here
        result = cls(**options).fit(*data(), random_seed=1, **FIT)
    return cls, options, data, result


@pytest.mark.parametrize(("cls", "options", "data"), [c[:3] for c in CASES], ids=IDS)
def test_defaults_spec_and_its_round_trip(cls, options, data):
    assert issubclass(cls, Model) and cls.MODEL == cls.__name__
    default = cls()
    spec = default.spec()
    assert spec["model"] == cls.__name__ and json.loads(json.dumps(spec)) == spec  # JSON-able
    rebuilt = cls(**{k: v for k, v in spec.items() if k != "model"})
    assert rebuilt.spec() == spec
    assert cls.__name__ in repr(cls(**options))


@pytest.mark.parametrize("cls", [c[0] for c in CASES], ids=IDS)
def test_bad_options_are_refused_by_name(cls):
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        cls(bogus=1)
    with pytest.raises(sp.ArgumentError, match=r"priors keys must be among .* got 'nonsense'"):
        cls(priors={"nonsense": 1.0})


@pytest.mark.parametrize("cls", [c[0] for c in CASES], ids=IDS)
def test_one_fit_signature(cls):
    params = inspect.signature(cls.fit).parameters
    keyword = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keyword == ["draws", "tune", "chains", "random_seed", "progressbar", "sampler", "method"]
    assert params["draws"].default is None and params["chains"].default == 4 and params["sampler"].default is None
    assert params["method"].default == "nuts"


@pytest.mark.parametrize(("cls", "options", "data", "bad", "error", "match"), CASES, ids=IDS)
def test_check_build_and_refusal_before_sampling(cls, options, data, bad, error, match, monkeypatch):
    model = cls(**options)
    report = model.check(*data())
    assert isinstance(report, sp.CheckReport) and report.ok
    assert isinstance(model.build(*data()), pm.Model)
    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started before the refusal"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        with pytest.raises(error, match=match):
            model.fit(*bad(), **FIT)
        with pytest.raises(sp.ArgumentError, match="draws must be an integer >= 1; got 0"):
            model.fit(*data(), **{**FIT, "draws": 0})
        with pytest.raises(sp.ArgumentError, match="sampler must be one of"):
            model.fit(*data(), sampler="stan", **FIT)


def test_result_answers_the_contract(fitted):
    cls, _, data, result = fitted
    assert isinstance(result, Result) and result.MODEL == cls.__name__ == result.spec["model"]
    assert {"chain", "draw"} <= set(result.posterior.dims) and result.posterior.sizes["draw"] == FIT["draws"]
    checks = result.checks
    assert checks.checked[: len(result.pre_checks.checked)] == result.pre_checks.checked
    assert set(result.post_checks.checked) <= set(checks.checked)
    assert result.diagnostics() is result.post_checks
    table = result.summary(ci_prob=0.9)
    assert len(table) >= 2 and {"mean", "ess_bulk", "r_hat"} <= set(table.columns)
    with pytest.raises(sp.ArgumentError, match="ci_prob must be a probability"):
        result.summary(ci_prob=1.5)
    elpd = result.loo()
    assert np.isfinite(elpd.elpd) and result.loo_checks is not None
    assert repr(result).startswith(f"<{type(result).__name__} of {result.name}: ")


def test_compare_needs_the_same_data(fitted):
    cls, options, data, result = fitted
    table = result.compare(result, names=["a", "b"])
    assert list(table.index) == ["a", "b"] or set(table.index) == {"a", "b"}
    with pytest.raises(TypeError, match="of the same data"):
        result.compare(object())


def test_netcdf_round_trip_through_load_result(fitted, tmp_path):
    cls, _, _, result = fitted
    path = tmp_path / "result.nc"
    result.to_netcdf(path)
    back = sp.load_result(path)
    assert type(back) is type(result) and back.spec == result.spec
    xr.testing.assert_identical(back.posterior, result.posterior)
    # every group reads back identical, whether stored or recomputed from the counts (observed / constant data)
    kept = set(result.idata.children) - {"log_likelihood"}
    assert kept <= set(back.idata.children)
    for group in kept:
        xr.testing.assert_identical(back.idata[group].to_dataset(), result.idata[group].to_dataset())
    stats = set(result.idata["sample_stats"].to_dataset().data_vars)
    assert {"diverging", "energy"} <= stats and not stats & set(LEFT_OUT_STATS)
    np.testing.assert_array_equal(back.centered, result.centered)
    assert [p.code for p in back.post_checks.problems] == [p.code for p in result.post_checks.problems]
    assert back.loo().elpd == pytest.approx(result.loo().elpd, rel=1e-12)
    other = next(c for c in sp.results.RESULTS.values() if c is not type(result))
    with pytest.raises(sp.SourceError, match=f"must hold a {other.MODEL} result; got a {cls.__name__} result"):
        other.from_netcdf(path)


def test_report_and_plots_take_any_result(fitted, tmp_path):
    cls, _, _, result = fitted
    path = sp.report(result, tmp_path / "report.html")
    page = path.read_text()
    for section in ("Checks before fitting", "Model and priors", "Sampling diagnostics", "Shrinkage", "PSIS-LOO"):
        assert section in page
    assert page.count("<img") >= 1 and "LOO could not be computed" not in page
    counts_model, time_model = cls is sp.HierarchicalNegBinom, cls is sp.HierarchicalPSTH
    formula_model = cls is sp.HierarchicalGLM
    assert ("Fano factors" in page) is counts_model and ("Posterior predictive checks" in page) is counts_model
    assert ("Time courses" in page) is time_model and ("Variability over time" in page) is time_model
    if counts_model:
        with pytest.raises(sp.ArgumentError, match="must be a pooled-estimates fit"):
            sp.plots.plot_pooled_estimates(result)
    elif formula_model:
        assert "Shrinkage (coefficients per neuron)" in page and "count ~ 1 + (1 | neuron)" in page
        ax = sp.plots.plot_coefficients(result, "Intercept")
        np.testing.assert_allclose(sorted(ax.lines[0].get_xdata()), sorted(result.coefficients()["mean"].values[:, 0]))
        with pytest.raises(sp.ArgumentError, match="coef must be one of"):
            sp.plots.plot_coefficients(result, "slope")
        with pytest.raises(sp.ArgumentError, match="must be a pooled-estimates fit"):
            sp.plots.plot_pooled_estimates(result)
    elif time_model:
        assert page.count("<img") == 4  # courses, rate maps, the sparsest and richest neuron, Fano over time
        with pytest.raises(sp.ArgumentError, match="got one over time .* Hint: plot_psth_fit, plot_rate_map"):
            sp.plots.plot_pooled_estimates(result)
        ax = sp.plots.plot_fano_time(result.fano(), condition="b")
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), result.fano()["population_mean"].sel(condition="b"))
        assert sp.plots.plot_rate_map(result, condition="a").get_images()[0].get_array().shape == (4, 16)
    else:
        sp.plots.plot_pooled_estimates(result)
        with pytest.raises(TypeError, match=r"result must provide fano\(\) or be its table; got .*Result"):
            sp.plots.plot_fano(result)
        with pytest.raises(TypeError, match=r"result must provide posterior_predictive\(\)"):
            sp.plots.plot_ppc_counts(result)


def test_fit_without_draws_takes_the_default_for_the_models_size(rng):
    # 300 estimates on one chain: 1,000 draws would leave R-hat's noise floor over ~300 values above 1.01
    est, se = rng.normal(0, 1.5, 300), np.full(300, 1.0)
    model = sp.NormalNormal()
    expected = default_draws(free_values(model.build(est, se)), 1)
    assert expected > 1000
    result = model.fit(est, se, tune=300, chains=1, random_seed=0, progressbar=False)
    assert result.idata["posterior"].sizes["draw"] == expected

"""``HierarchicalGLM``: recovery of known slopes and tuning from simulated counts, the one engine it shares with
``HierarchicalNegBinom`` (same likelihood, same rates), and its result's tables, files and comparisons."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import spikepool as sp
from spikepool.models.negbin import HierarchicalNegBinom

N_NEURON, N_TRIAL = 16, 48
TRUE = {"b0": 1.6, "x": 0.3, "sd0": 0.4, "sdx": 0.2, "cos": 0.5, "sin": 0.3, "alpha": 6.0}
FIT = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 3, "progressbar": False}
FORMULA = "count ~ 1 + x + np.cos(np.radians(direction)) + np.sin(np.radians(direction)) + (1 + x | neuron)"


def _simulated(seed=11):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N_TRIAL)
    direction = np.tile(np.arange(0, 360, 45), N_TRIAL // 8)
    b0 = TRUE["b0"] + TRUE["sd0"] * rng.normal(size=N_NEURON)
    bx = TRUE["x"] + TRUE["sdx"] * rng.normal(size=N_NEURON)
    theta = np.radians(direction)
    eta = b0[:, None] + bx[:, None] * x + TRUE["cos"] * np.cos(theta) + TRUE["sin"] * np.sin(theta)
    mu = np.exp(eta) * 0.5
    y = rng.negative_binomial(TRUE["alpha"], TRUE["alpha"] / (TRUE["alpha"] + mu))
    counts = sp.from_array(y, duration=0.5).assign_coords(x=("trial", x), direction=("trial", direction))
    return counts, {"b0": b0, "bx": bx}


@pytest.fixture(scope="module")
def fitted():
    counts, truth = _simulated()
    model = sp.HierarchicalGLM(FORMULA, dispersion="shared")
    with warnings.catch_warnings():
        warnings.simplefilter("error", sp.SpikepoolWarning)  # no design warning ...
        warnings.simplefilter("ignore", sp.SamplingWarning)  # ... and short chains (R-hat is asserted below)
        result = model.fit(counts, **FIT)
    return counts, truth, result


def _draws(result, name):
    v = result.posterior[name].transpose("chain", "draw", ...).values
    return v.reshape(-1, *v.shape[2:])


def test_recovers_the_per_neuron_slopes_and_the_population(fitted):
    counts, truth, result = fitted
    coef = result.coefficients(ci_prob=0.9)
    slope = coef.sel(coef="x")
    inside = (slope["lower"].values <= truth["bx"]) & (truth["bx"] <= slope["upper"].values)
    assert inside.sum() >= 12  # 90% intervals of 16 true slopes (P(fewer than 12 | calibrated) < 2%)
    beta = result.posterior["beta"]
    for name, value in (("x", TRUE["x"]), ("np.cos(np.radians(direction))", TRUE["cos"])):
        lo, hi = np.quantile(beta.sel(coef=name).values, [0.01, 0.99])
        assert lo < value < hi
    sd = result.posterior["sd_neuron"]
    assert np.quantile(sd.sel(neuron_effect="x"), 0.005) < TRUE["sdx"] < np.quantile(sd.sel(neuron_effect="x"), 0.995)
    # coefficients are beta + b, computed independently from the draws
    beta_d, b = _draws(result, "beta"), _draws(result, "b_neuron")
    j = list(result.design.coefs).index("x")
    np.testing.assert_allclose(slope["mean"].values, (beta_d[:, None, j] + b[:, :, 1]).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(coef["population"].values, beta_d.mean(axis=0), rtol=1e-12)
    # fixed-only columns: every neuron has the population's coefficient, no shrinkage
    cos = coef.sel(coef="np.cos(np.radians(direction))")
    assert np.ptp(cos["mean"].values) < 1e-12 and np.isnan(cos["shrinkage"].values).all()
    shrink = slope["shrinkage"].values
    assert ((shrink > 0) & (shrink < 1)).all()
    assert result.spec["centered"]["neuron"] and "corr_neuron" in result.posterior


def test_tuning_is_the_von_mises_reading_of_the_cos_sin_terms(fitted):
    counts, _, result = fitted
    table = result.tuning("direction", ci_prob=0.9)
    assert table.attrs["angle_units"] == "degrees"
    true_pref = np.degrees(np.arctan2(TRUE["sin"], TRUE["cos"]))
    assert table["population_preferred_lower"] < true_pref < table["population_preferred_upper"]
    assert table["population_depth_lower"] < np.hypot(TRUE["cos"], TRUE["sin"]) < table["population_depth_upper"]
    beta = _draws(result, "beta")
    jc, js = 2, 3
    pref = np.arctan2(beta[:, js], beta[:, jc])
    centre = np.degrees(np.arctan2(np.sin(pref).mean(), np.cos(pref).mean())) % 360
    assert float(table["population_preferred"]) == pytest.approx(centre, abs=1e-9)
    depth = np.hypot(beta[:, jc], beta[:, js])
    # the peak with x = 0: exp(b0 + depth), the trough exp(b0 - depth)
    at = result.tuning("direction", x=0.0)
    assert float(at["population_peak"]) == pytest.approx(np.exp(beta[:, 0] + depth).mean(), rel=1e-10)
    assert float(at["population_trough"]) == pytest.approx(np.exp(beta[:, 0] - depth).mean(), rel=1e-10)
    # the neurons share the fixed cos / sin terms here: one preferred direction
    assert np.ptp(table["preferred"].values) < 1e-9
    with pytest.raises(sp.ArgumentError, match="tuning needs one cos and one sin term of 'speed'"):
        result.tuning("speed")


def test_predict_gives_rates_in_hz_on_a_grid(fitted):
    counts, _, result = fitted
    grid = result.predict(x=np.array([-1.0, 0.0, 1.0]), direction=90.0, ci_prob=0.8)
    assert grid["mean"].dims == ("neuron", "x") and grid.attrs["units"] == "Hz"
    beta, b = _draws(result, "beta"), _draws(result, "b_neuron")
    eta = beta[:, 0] + b[:, 3, 0] + (beta[:, 1] + b[:, 3, 1]) * 1.0 + beta[:, 3]  # neuron 3, x = 1, 90 degrees
    assert float(grid["mean"].isel(neuron=3, x=2)) == pytest.approx(np.exp(eta).mean(), rel=1e-10)
    pop = np.exp(beta[:, 0] - beta[:, 1] + beta[:, 3])
    assert float(grid["population_mean"].isel(x=0)) == pytest.approx(pop.mean(), rel=1e-10)
    assert float(grid["population_lower"].isel(x=0)) == pytest.approx(np.quantile(pop, 0.1), rel=1e-10)
    with pytest.raises(sp.ArgumentError, match=r"needs a value of every trial covariate .* \['direction'\]"):
        result.predict(x=0.0)
    with pytest.raises(sp.ArgumentError, match="got 'speed'"):
        result.predict(x=0.0, direction=0.0, speed=3.0)
    # the fitted rate of every valid (neuron, trial)
    rates = result.rates()
    assert rates["mean"].dims == ("neuron", "trial") and np.isfinite(rates["mean"]).all()


def test_summary_loo_round_trip_and_compare(fitted, tmp_path):
    counts, _, result = fitted
    table = result.summary(ci_prob=0.9)
    assert {"beta[x]", "sd_neuron[x]", "corr_neuron[x, Intercept]", "alpha"} <= set(table.index)
    assert (table["r_hat"] < 1.05).all()
    result.to_netcdf(tmp_path / "glm.nc")
    back = sp.load_result(tmp_path / "glm.nc")
    assert type(back) is sp.GLMResult and back.spec == result.spec
    xr.testing.assert_identical(back.posterior, result.posterior)
    xr.testing.assert_identical(back.predict(x=0.5, direction=10.0), result.predict(x=0.5, direction=10.0))
    assert back.loo().elpd == pytest.approx(result.loo().elpd, rel=1e-12)
    # a fit of the same counts by the window model compares by LOO (the formula's covariates help)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        window = HierarchicalNegBinom(dispersion="shared").fit(counts, **{**FIT, "draws": 300, "tune": 300})
        table = result.compare(window, names=["formula", "window"])
        assert table.index[0] == "formula"
        with pytest.raises(sp.ArgumentError, match="same data"):
            result.compare(window.__class__(**{**vars(window), "counts": window.counts.isel(trial=slice(1, None))}))


def _mcse_equal(a, b, name="rate", tol=4.0):
    """Posterior means of ``name`` (neuron[, condition]) of two fits agree within ``tol`` Monte Carlo errors."""
    import arviz_stats as azs

    diff = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw")))
    se = np.sqrt(azs.mcse(a) ** 2 + azs.mcse(b) ** 2)
    return float((diff / se).max()), bool((diff < tol * se + 1e-3 * np.abs(b.mean(("chain", "draw")))).all())


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("1 + (1 | neuron)", {}),
        ("0 + condition + (1 | neuron) + (1 | neuron:condition)", {"condition": "condition", "neuron_effect": True}),
    ],
    ids=["neurons", "neurons-x-conditions"],
)
def test_the_window_designs_as_formulas_give_the_window_model_s_rates(formula, options):
    counts = sp.simulate_counts(6, 12, mu=1.5, tau=0.5, alpha=5.0, duration=1.0, seed=7,
                                **({"conditions": ["a", "b", "c"]} if options else {}))[0]  # fmt: skip
    settings = {"draws": 1000, "tune": 700, "chains": 2, "random_seed": 5, "progressbar": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        window = HierarchicalNegBinom(**options).fit(counts, **settings)
        # the window model's priors: mu ~ Normal(log pooled rate, 2), tau and tau_neuron ~ HalfNormal(1)
        glm = sp.HierarchicalGLM(formula, priors={"intercept_scale": 2.0}).fit(counts, **settings)
    if options:
        levels = [f"{n}:{c}" for n in counts["neuron"].values for c in ("a", "b", "c")]
        beta = glm.posterior["beta"].values
        b_n = glm.posterior["b_neuron"].isel(neuron_effect=0).values
        b_c = glm.posterior["b_neuron_condition"].isel(neuron_condition_effect=0)
        b_c = b_c.sel(neuron_condition=levels).values.reshape(*beta.shape[:2], 6, 3)
        log_rate = beta[:, :, None, :] + b_n[:, :, :, None] + b_c
        rate = xr.DataArray(np.exp(log_rate), dims=("chain", "draw", "neuron", "condition"))
    else:
        log_rate = glm.posterior["beta"].values[..., :1] + glm.posterior["b_neuron"].isel(neuron_effect=0).values
        rate = xr.DataArray(np.exp(log_rate), dims=("chain", "draw", "neuron"))
    reference = window.posterior["rate"].transpose("chain", "draw", ...)
    worst, ok = _mcse_equal(rate, xr.DataArray(reference.values, dims=rate.dims))
    assert ok, f"rates differ by up to {worst:.1f} Monte Carlo errors"


def test_plots_and_report_of_a_formula_fit(fitted, tmp_path):
    counts, _, result = fitted
    import matplotlib

    matplotlib.use("Agg")
    ax = sp.plots.plot_tuning(result, "3", "direction", ci_prob=0.8, x=0.0)
    grid = ax.lines[0].get_xdata()
    expected = result.predict(ci_prob=0.8, x=0.0, direction=grid)["mean"].isel(neuron=3).values
    np.testing.assert_allclose(ax.lines[0].get_ydata(), expected, rtol=1e-12)
    assert grid.max() == 360.0 and "preferred" in ax.get_title()
    ax = sp.plots.plot_predicted(result, "x", direction=90.0)
    assert len(ax.lines) == N_NEURON + 1 and ax.get_yscale() == "log"
    with pytest.raises(sp.ArgumentError, match="covariate must be a numeric covariate .* got 'speed'"):
        sp.plots.plot_predicted(result, "speed")
    with pytest.raises(sp.ArgumentError, match="neuron must be one of the fitted neurons; got 'u99'"):
        sp.plots.plot_tuning(result, "u99")
    page = sp.report(result, tmp_path / "glm.html").read_text()
    for section in ("Shrinkage (coefficients per neuron)", "Predicted rates", "Tuning over direction"):
        assert section in page
    assert "x per neuron" in page and page.count("<img") >= 3

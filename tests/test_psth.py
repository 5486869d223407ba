"""HierarchicalPSTH: the binned cells, the spline basis, the likelihood graph, recovery of known time courses."""

from __future__ import annotations

import inspect
import json
import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

import spikepool as sp
from spikepool.stats.binned import bspline_basis, compress_binned, n_basis_of
from spikepool.stats.families import COM_POISSON
from spikepool.viz.report import responsive_over_time

WIDTH = 0.025
#: Graph-equality tests evaluate the model's graph with PyTensor's Python implementations of its ops (no Numba
#: compile: seconds where a cold compile takes tens); the fits below run the compiled graph.
GRAPH_MODE = "FAST_COMPILE"


def simulate(seed: int, n: int = 8, n_trial: int = 30, n_bins: int = 40, alpha: float = 5.0, extremes: bool = False):
    """Binned NB counts with known rates: a bump per condition (at 0.4 s or 0.65 s), neuron levels, and each
    neuron x condition's own smooth (sinusoidal) deviation. With ``extremes`` neuron 0 fires 20x less than the
    typical neuron (a few spikes per condition) and neuron 1 5x more. Returns (binned, true rates (neuron,
    condition, time) in Hz, true population course (condition, time))."""
    rng = np.random.default_rng(seed)
    t = WIDTH * (np.arange(n_bins) + 0.5)
    course = np.log(10) + 1.2 * np.stack([np.exp(-((t - 0.4) ** 2) / 0.02), np.exp(-((t - 0.65) ** 2) / 0.02)])
    u = rng.normal(0, 0.5, n)
    if extremes:
        u[:2] = [np.log(1 / 20), np.log(5)]
    u -= u.mean()
    phase, freq = rng.uniform(0, 1, (n, 2, 1)), rng.uniform(0.5, 1.5, (n, 2, 1))
    log_rate = course[None] + u[:, None, None] + 0.3 * np.sin(2 * np.pi * (t * freq + phase))
    cond = np.tile([0, 1], n_trial // 2)
    mu = np.exp(log_rate[:, cond]) * WIDTH
    y = rng.poisson(rng.gamma(alpha, mu / alpha))
    binned = sp.from_array(
        y, duration=n_bins * WIDTH, condition=np.array(["a", "b"])[cond], time=t, attrs={"bin_size": WIDTH}
    )
    return binned, np.exp(log_rate), np.exp(course)


@pytest.fixture(scope="module")
def fit():
    binned, truth, course = simulate(1, extremes=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # 2 x 500 draws: coverage is the point here
        result = sp.HierarchicalPSTH(condition="condition").fit(
            binned, draws=500, tune=500, chains=2, random_seed=0, progressbar=False
        )
    return binned, truth, course, result


def test_binned_cells_are_exact(rng):
    binned, _, _ = simulate(2, n=4, n_trial=10, n_bins=12)
    valid = rng.random((4, 10)) > 0.2
    binned = binned.assign_coords(valid=(("neuron", "trial"), valid))
    cells = compress_binned(binned, "condition")
    assert cells.weight.sum() == valid.sum() * 12
    y = binned.values
    np.testing.assert_array_equal(cells.y[cells.obs_cell], y[cells.obs_neuron, cells.obs_trial])
    np.testing.assert_array_equal(cells.bin[cells.obs_cell], np.broadcast_to(np.arange(12), cells.obs_cell.shape))
    mu = rng.uniform(0.05, 2.0, (4, 2, 12))
    codes = np.unique(binned["condition"].values, return_inverse=True)[1]
    direct = sum(stats.poisson.logpmf(y[i, t], mu[i, codes[t]]).sum() for i, t in zip(*np.nonzero(valid), strict=True))
    compressed = (cells.weight * stats.poisson.logpmf(cells.y, mu[cells.neuron, cells.condition, cells.bin])).sum()
    assert compressed == pytest.approx(direct, rel=1e-12)
    assert cells.n_cells < cells.obs_cell.size  # repeated counts were merged


def test_spline_basis_is_a_smooth_partition_of_unity():
    x = np.linspace(0.0, 1.0, 50)
    basis = bspline_basis(x, 9)
    assert basis.shape == (50, 9) and (basis >= 0).all()
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, rtol=1e-12)
    # a cubic on equal knots reproduces a straight line exactly (Greville abscissae as coefficients)
    knots = np.concatenate([[0, 0, 0, 0], np.linspace(0, 1, 7)[1:-1], [1, 1, 1, 1]])
    greville = np.array([knots[j + 1 : j + 4].mean() for j in range(9)])
    np.testing.assert_allclose(basis @ (2 * greville - 1), 2 * x - 1, atol=1e-12)
    assert n_basis_of(40, 0.025, "auto") == 13 and n_basis_of(40, 0.025, 1.0) == 4 and n_basis_of(8, 0.025, 0.001) == 8


@pytest.mark.parametrize("dispersion", ["neuron", "pooled", "shared", "fano", "poisson", "com_poisson"])
def test_the_likelihood_graph_equals_the_per_trial_bin_sum(dispersion, rng):
    """The model's likelihood (sums per (neuron, condition, bin) group; per cell for ``fano``) equals scipy's
    log pmf summed over every valid trial and bin; invalid (neuron, trial) pairs count for nothing."""
    binned, _, _ = simulate(3, n=3, n_trial=6, n_bins=10)
    valid = np.ones((3, 6), dtype=bool)
    valid[0, 1] = valid[2, 4] = False
    binned = binned.copy(data=binned.values * valid[:, :, None]).assign_coords(valid=(("neuron", "trial"), valid))
    likelihood = dispersion if dispersion in ("poisson", "com_poisson") else "negbin"
    dispersion = "neuron" if dispersion in ("poisson", "com_poisson") else dispersion
    model_spec = sp.HierarchicalPSTH(condition="condition", dispersion=dispersion, likelihood=likelihood)
    model = model_spec.build(binned)
    basis = model_spec.prepare(binned).basis
    names = ["loglik", "population_coef", "neuron_effect", "level_effect", "shape_coef"]
    names += {"poisson": [], "com_poisson": ["nu"]}.get(likelihood, ["eta" if dispersion == "fano" else "alpha"])
    fn = model.compile_fn([model[n] for n in names], inputs=model.value_vars, on_unused_input="ignore", mode=GRAPH_MODE)
    y = binned.values
    codes = np.unique(binned["condition"].values, return_inverse=True)[1]
    for _ in range(2):
        point = {v.name: rng.normal(0, 0.5, size=model.initial_point()[v.name].shape) for v in model.value_vars}
        loglik, coef, u, v, gamma, *disp = fn(point)
        log_rate = (coef @ basis.T)[None] + u[:, None, None] + v[:, :, None] + gamma @ basis.T
        # identified parts: levels and own deviations sum to zero over neurons (and conditions / basis)
        np.testing.assert_allclose([u.sum(), *v.sum(axis=0), *v.sum(axis=1)], 0.0, atol=1e-12)
        np.testing.assert_allclose([*gamma.sum(axis=0).ravel(), *gamma.sum(axis=2).ravel()], 0.0, atol=1e-12)
        mu = np.exp(log_rate[:, codes]) * WIDTH  # (neuron, trial, bin)
        if likelihood == "poisson":
            assert loglik == pytest.approx(stats.poisson.logpmf(y, mu)[valid].sum(), rel=1e-10)
            continue
        disp = disp[0]
        if likelihood == "com_poisson":  # per count (one series each) against the model's per-group sums
            nu = np.broadcast_to(disp[:, None, None], mu.shape)
            assert loglik == pytest.approx(COM_POISSON.logpmf(y, mu, nu)[valid].sum(), rel=1e-10)
            continue
        if dispersion == "fano":
            alpha = disp * mu
        else:
            alpha = np.broadcast_to(np.reshape(disp, (-1, 1, 1)) if np.ndim(disp) else disp, mu.shape)
        expected = stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))[valid].sum()
        assert loglik == pytest.approx(expected, rel=1e-10)


def test_recovers_known_time_courses_with_calibrated_intervals(fit):
    binned, truth, course, result = fit
    rates = result.rates(ci_prob=0.94)
    assert rates["mean"].dims == ("neuron", "condition", "time") and rates.attrs["units"] == "Hz"
    inside = (rates["lower"].values <= truth) & (truth <= rates["upper"].values)
    assert inside.mean() > 0.85  # 94% intervals of 640 correlated rates
    assert np.median(np.abs(rates["mean"].values / truth - 1)) < 0.2
    population = result.population_rates()
    assert population["mean"].dims == ("condition", "time")
    course = np.exp(np.log(truth).mean(axis=0))  # the population course is the neurons' geometric mean
    rate_draws = np.exp(result._log_rates(draws=slice(0, 50)))
    np.testing.assert_allclose(
        np.exp(np.log(rate_draws).mean(axis=1)).mean(axis=0),
        np.exp(result._flat("population_coef")[:50] @ result.basis.T).mean(axis=0),
        rtol=1e-10,
    )
    assert ((population["lower"].values <= course) & (course <= population["upper"].values)).mean() > 0.7
    # the bump of condition a peaks near 0.4 s and that of b near 0.65 s
    peaks = binned["time"].values[population["mean"].values.argmax(axis=1)]
    np.testing.assert_allclose(peaks, [0.4, 0.65], atol=0.08)


def test_fano_loo_and_round_trip(fit, tmp_path):
    binned, _, _, result = fit
    fano = result.fano()
    alpha = result.posterior["alpha"].values.reshape(-1, binned.sizes["neuron"])
    rate = np.exp(result._log_rates(0))  # (draws, condition, time)
    expected = (1 + rate * WIDTH / alpha[:, 0, None, None]).mean(axis=0)
    np.testing.assert_allclose(fano["mean"].isel(neuron=0).values, expected, rtol=1e-12)
    assert {"population_mean", "population_lower", "population_upper"} <= set(fano.data_vars)
    assert (fano["mean"] >= 1).all()
    elpd = result.loo()
    loglik = result.idata["log_likelihood"]["y"]
    assert loglik.sizes["obs"] == 8 * 30  # every (neuron, trial), summed over its bins
    assert np.isfinite(elpd.elpd) and result.loo_checks is not None
    path = tmp_path / "psth.nc"
    result.to_netcdf(path)
    back = sp.load_result(path)
    assert type(back) is sp.results.PSTHResult and back.spec == result.spec
    xr.testing.assert_identical(back.posterior, result.posterior)
    xr.testing.assert_identical(back.rates(), result.rates())
    assert back.loo().elpd == pytest.approx(elpd.elpd, rel=1e-12)
    assert not {"shape_offset", "time_offset", "level_offset"} & set(result.posterior.data_vars)


def test_spec_signature_and_bad_inputs_refused_before_sampling(monkeypatch):
    spec = sp.HierarchicalPSTH(condition="condition", smoothing=0.1).spec()
    assert spec["model"] == "HierarchicalPSTH" and json.loads(json.dumps(spec)) == spec
    assert sp.HierarchicalPSTH(**{k: v for k, v in spec.items() if k != "model"}).spec() == spec
    keyword = [n for n, p in inspect.signature(sp.HierarchicalPSTH.fit).parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert keyword == ["draws", "tune", "chains", "random_seed", "progressbar", "sampler", "method"]
    with pytest.raises(sp.ArgumentError, match="smoothing must be 'auto' or a positive time in s; got -1"):
        sp.HierarchicalPSTH(smoothing=-1)
    with pytest.raises(sp.ArgumentError, match="dispersion must be one of"):
        sp.HierarchicalPSTH(dispersion="per-bin")
    binned, _, _ = simulate(4, n=3, n_trial=6, n_bins=10)
    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started before the refusal"))
    model = sp.HierarchicalPSTH(condition="condition")
    with pytest.raises(
        sp.ArgumentError, match=r"binned must be counts with a time dim .*got dims \('neuron', 'trial'\)"
    ):
        model.fit(binned.sum("time"))
    with pytest.raises(sp.ArgumentError, match="at least 2 time bins for a time course; got 1"):
        model.fit(binned.isel(time=[0]))
    with pytest.raises(sp.ArgumentError, match="condition must name a coordinate on 'trial'; got 'odour'"):
        sp.HierarchicalPSTH(condition="odour").fit(binned)
    report = model.check(binned)
    assert report.ok and {"variance_components", "sparse_bins"} <= set(report.checked)
    before = binned.copy(deep=True)
    model.build(binned)
    xr.testing.assert_identical(binned, before)


def test_check_binned_says_what_pooling_can_and_cannot_do_in_sparse_bins(rng):
    binned, _, _ = simulate(5)
    rich = binned.copy(data=binned.values * 8)  # ~2-3 spikes per bin and trial
    report = sp.check_binned(rich, condition="condition")
    assert report.ok and not report.find("sparse_bins") and not report.find("prior_driven_course")
    np.testing.assert_allclose(report.summary["spikes_per_bin"].values, rich.values.mean(axis=(1, 2)), rtol=1e-12)
    sparse = rich.copy(data=rich.values.copy())
    sparse.values[:3] = rng.random(sparse.values[:3].shape) < 0.02  # three neurons: ~0.6 spikes per bin in all
    report = sp.check_binned(sparse, condition="condition")
    (few,) = report.find("prior_driven_course")
    assert few.severity == "info" and few.neurons == ("0", "1", "2")
    (per_trial,) = report.find("sparse_bins")
    assert per_trial.severity == "info" and per_trial.neurons == ("0", "1", "2")  # a minority: info
    assert report.find("sparse_bins")[0].severity == "info"
    assert sp.check_binned(binned, condition="condition").find("sparse_bins")[0].severity == "warning"
    with pytest.raises(sp.ArgumentError, match=r"binned must be counts with a time dim .*got \('neuron', 'trial'\)"):
        sp.check_binned(binned.sum("time"))


def test_a_sparse_neuron_borrows_the_population_shape_and_a_rich_one_keeps_its_own(fit):
    binned, _, _, result = fit
    table = result.shrinkage()
    assert table["rate"].dims == ("neuron", "condition", "time") and table["course_shrinkage"].dims == (
        "neuron",
        "condition",
    )
    raw = binned.values[:, binned["condition"].values == "a"].mean(axis=1) / WIDTH
    np.testing.assert_allclose(table["raw_rate"].sel(condition="a").values, raw, rtol=1e-12)
    assert (table["n_trials"] == 15).all()
    spikes = binned.sum(("trial", "time")).values
    assert spikes[0] < spikes[1] / 50  # neuron 0: a few dozen spikes; neuron 1: thousands
    shrink = table["course_shrinkage"].mean("condition").values
    assert shrink[0] > 0.9  # its raw PSTH is mostly noise: the population's shape at its level
    assert shrink[1] < 0.85  # the rich neuron keeps part of its own course (0.43-0.71 over 8 seeds)
    sparse_gap = np.abs(table["rate"] - table["pooled_rate"]).isel(neuron=0).mean()
    rich_gap = np.abs(table["rate"] - table["pooled_rate"]).isel(neuron=1).mean()
    assert float(sparse_gap / table["rate"].isel(neuron=0).mean()) < float(
        rich_gap / table["rate"].isel(neuron=1).mean()
    )


def test_report_of_a_time_resolved_fit_and_window_plots_refusing_it(fit, tmp_path):
    *_, result = fit
    page = sp.report(result, tmp_path / "report.html").read_text()
    for section in ("Time courses", "Shrinkage", "Variability over time", "PSIS-LOO", "Checks before fitting"):
        assert section in page
    pop = result.population_rates()["mean"].values
    course = np.nanmedian(result.shrinkage()["course_shrinkage"].values)
    assert f"from {pop.min():.3g} to {pop.max():.3g} Hz" in page and f"median course shrinkage {course:.2f}" in page
    assert "8 neurons, 30 trials, 2 conditions, 40 bins of 25 ms" in page and page.count("<img") == 4
    assert "Posterior predictive checks" not in page and "LOO could not be computed" not in page
    with pytest.raises(sp.ArgumentError, match=r"shrinkage\(\) per neuron \[x condition\] .*got one over time"):
        sp.plots.plot_rates(result)
    # one time point of its table is a window table the plot draws
    import matplotlib.pyplot as plt

    ax = sp.plots.plot_rates(result.shrinkage().isel(time=10))
    assert len(ax.get_yticks()) == 16  # 8 neurons x 2 conditions
    plt.close("all")


def test_psth_plots_draw_the_fits_tables(fit, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    *_, result = fit
    ax = sp.plots.plot_psth_fit(result, condition="b")
    population = result.population_rates().sel(condition="b")
    (raw, course) = ax.get_lines()
    np.testing.assert_allclose(course.get_ydata(), population["mean"].values)
    np.testing.assert_allclose(raw.get_ydata(), result.shrinkage()["raw_rate"].sel(condition="b").mean("neuron"))
    ax = sp.plots.plot_psth_fit(result, neuron="1", condition="a")
    table = result.shrinkage().sel(neuron="1", condition="a")
    (raw, course, pooled) = ax.get_lines()
    np.testing.assert_allclose(course.get_ydata(), table["rate"].values)
    np.testing.assert_allclose(pooled.get_ydata(), table["pooled_rate"].values)
    ax = sp.plots.plot_rate_map(result, condition="a")
    np.testing.assert_allclose(ax.get_images()[0].get_array(), result.rates()["mean"].sel(condition="a").values)
    ax.figure.savefig(tmp_path / "map.png")
    with pytest.raises(sp.ArgumentError, match=r"condition must be one of \['a', 'b'\] for this plot; got None"):
        sp.plots.plot_psth_fit(result)
    with pytest.raises(sp.ArgumentError, match=r"neuron must be one of .*got 'u99'"):
        sp.plots.plot_psth_fit(result, neuron="u99", condition="a")
    with pytest.raises(TypeError, match="result must be a time-resolved fit .*got Dataset"):
        sp.plots.plot_rate_map(result.rates())
    plt.close("all")


def test_simulate_binned_draws_the_stated_model():
    binned, truth = sp.simulate_binned(3, 4000, 10, bin_size=0.05, conditions=["a", "b"], alpha=4.0, seed=5)
    assert binned.dims == ("neuron", "trial", "time") and binned.attrs["bin_size"] == 0.05
    assert truth["rate"].dims == ("neuron", "condition", "time") and np.allclose(truth["neuron_effect"].sum(), 0)
    for k in range(2):
        y = binned.values[:, k::2]  # trials cycle through the conditions "a", "b"
        mu = truth["rate"].values[:, k] * 0.05
        # NB mean and variance mu + mu^2 / alpha, per (neuron, bin), over 2000 trials
        np.testing.assert_allclose(y.mean(axis=1), mu, rtol=0.12, atol=0.01)
        np.testing.assert_allclose(y.var(axis=1, ddof=1), mu + mu**2 / 4.0, rtol=0.25, atol=0.02)
    # the population course is the bump over the base rate, its peak at the condition's centre
    t = truth["time"].values
    assert t[np.argmax(truth["population"].values[0])] < t[np.argmax(truth["population"].values[1])]
    np.testing.assert_allclose(truth["population"].values.min(), 10.0, rtol=0.05)
    poisson, _ = sp.simulate_binned(2, 3000, 4, alpha=None, seed=1)
    counts = poisson.values.reshape(2, -1, 4)
    np.testing.assert_allclose(counts.var(axis=1) / counts.mean(axis=1), 1.0, atol=0.1)


def test_one_neuron_has_no_course_shrinkage():
    binned, _ = sp.simulate_binned(1, 20, 12, conditions=["a", "b"], seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalPSTH(condition="condition").fit(
            binned, draws=100, tune=100, chains=1, random_seed=0, progressbar=False
        )
    table = result.shrinkage()
    assert np.isnan(table["course_shrinkage"].values).all() and np.isnan(table["shrinkage"].values).all()
    np.testing.assert_allclose(table["rate"].values, table["pooled_rate"].values, rtol=1e-12)


def test_contrast_and_responsive_over_time(fit):
    binned, truth, course, result = fit
    table = result.contrast("b", "a", ci_prob=0.9)
    assert table["ratio"].dims == ("neuron", "time")
    # the difference is linear in the draws: the difference of the rates' means, bin by bin
    rates = result.rates()["mean"]
    np.testing.assert_allclose(table["difference"], rates.sel(condition="b") - rates.sel(condition="a"), rtol=1e-10)
    # the true ratio (bumps at 0.4 s in a, 0.65 s in b) is inside most 90% intervals, and where the true
    # ratio is large (b's bump) b is surely faster
    true_ratio = truth[:, 1] / truth[:, 0]
    inside = (table["ratio_lower"].values <= true_ratio) & (true_ratio <= table["ratio_upper"].values)
    assert inside.mean() >= 0.75  # 0.86 and 0.96 on two simulated data sets
    assert (table["prob_greater"].values[true_ratio > 2.5] > 0.9).mean() >= 0.9
    resp = result.responsive("a", min_ratio=1.25)
    assert resp["responsive"].dims == ("neuron", "condition", "time") and resp.attrs["n_up"] > 0
    up = resp["responsive"].values[:, 0] == "up"
    assert (true_ratio[up] > 1.0).mean() >= 0.9  # calls mostly where b is truly faster
    # the heat map of one condition over time greys out the bins not called; the report's summary counts them
    import matplotlib

    matplotlib.use("Agg")
    ax = sp.plots.plot_responsive(resp, condition="b")
    grey, colour = ax.images
    called = resp["responsive"].sel(condition="b").transpose("neuron", "time").values != "none"
    np.testing.assert_array_equal(np.isnan(np.asarray(colour.get_array(), dtype=float)), ~called)
    np.testing.assert_array_equal(np.isnan(np.asarray(grey.get_array(), dtype=float)), called)
    assert ax.get_xlabel() == "time (s)" and "log rate ratio b / a" in ax.get_title()
    t = resp["time"].values
    assert grey.get_extent()[:2] == pytest.approx([t[0] - (t[1] - t[0]) / 2, t[-1] + (t[1] - t[0]) / 2])
    with pytest.raises(sp.ArgumentError, match="Did you mean 'b'"):
        sp.plots.plot_responsive(resp, condition="bb")
    summary = responsive_over_time(resp)
    labels = resp["responsive"].sel(condition="b").values
    np.testing.assert_array_equal(summary.xs("b", level="condition")["bins_up"].values, (labels == "up").sum(axis=1))
    first = [t[row != "none"][0] if (row != "none").any() else np.nan for row in labels]
    np.testing.assert_array_equal(summary.xs("b", level="condition")["first_called_s"].values, first)

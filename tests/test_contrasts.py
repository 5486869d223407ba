"""result.contrast and result.responsive: rate ratios between conditions and the Bayesian FDR rule."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import responders

import spikepool as sp
from spikepool.results.contrasts import bayes_fdr


def test_the_fdr_rule_takes_the_largest_top_set_whose_expected_fdr_is_below_the_target():
    # by hand: sorted p = 1, .99, .97, .9, .6 -> running mean of 1 - p = 0, .005, .0133, .035, .108
    p = np.array([0.6, 1.0, 0.97, 0.99, 0.9])
    selected, expected = bayes_fdr(p, 0.05)
    np.testing.assert_array_equal(selected, [False, True, True, True, True])
    assert expected == pytest.approx(0.035)
    selected, expected = bayes_fdr(p, 0.01)
    np.testing.assert_array_equal(selected, [False, True, False, True, False])
    assert expected == pytest.approx(0.005)
    # nothing is sure enough: no call; everything is: all called; the shape is kept
    assert not bayes_fdr(np.full((2, 3), 0.5), 0.05)[0].any() and bayes_fdr(np.full(4, 0.5), 0.05)[1] == 0.0
    assert bayes_fdr(np.ones((2, 3)), 0.05)[0].all()
    # tied cells at the edge are taken together or not at all
    selected, _ = bayes_fdr(np.array([1.0, 0.92, 0.92]), 0.05)
    np.testing.assert_array_equal(selected, [True, False, False])


@pytest.fixture(scope="module")
def fit():
    counts, _, ratio = responders()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalNegBinom(condition="condition").fit(
            counts, draws=500, tune=500, chains=2, random_seed=3, progressbar=False
        )
    return counts, ratio, result


def test_contrast_gives_ratios_differences_and_the_probability_of_the_sign(fit):
    counts, ratio, result = fit
    table = result.contrast("stim", "base", ci_prob=0.9)
    assert table["ratio"].dims == ("neuron",) and table.attrs["a"] == "stim"
    # the difference is linear in the draws: its mean is the difference of the rates' means (rates())
    rates = result.rates()["mean"]
    np.testing.assert_allclose(table["difference"], rates.sel(condition="stim") - rates.sel(condition="base"))
    # the true ratios (2, 0.5, 1) are inside the 90% intervals for most neurons, and the sign is sure where
    # the rate doubled or halved
    inside = (table["ratio_lower"] <= ratio) & (ratio <= table["ratio_upper"])
    assert float(inside.mean()) >= 0.8
    assert (table["prob_greater"].values[ratio == 2.0] > 0.99).all()
    assert (table["prob_greater"].values[ratio == 0.5] < 0.01).all()
    flipped = result.contrast("base", "stim")
    np.testing.assert_allclose(flipped["prob_greater"], 1 - table["prob_greater"])


def test_responsive_calls_the_known_responders(fit):
    counts, ratio, result = fit
    table = result.responsive("base", min_ratio=1.25)
    assert table["responsive"].dims == ("neuron", "condition") and list(table["condition"].values) == ["stim"]
    labels = table["responsive"].values[:, 0]
    truth = np.where(ratio == 2.0, "up", np.where(ratio == 0.5, "down", "none"))
    # every doubled / halved neuron is called, in its direction (a factor 2 against 1.25 with 20 trials each);
    # the rule may spend its 5% on one unchanged neuron (seeds 5-7: one each, with p 0.45-0.88)
    np.testing.assert_array_equal(labels[truth != "none"], truth[truth != "none"])
    assert (labels[truth == "none"] != "none").sum() <= 1
    assert table.attrs["n_up"] >= 8 and table.attrs["n_down"] == 8
    assert table.attrs["n_discoveries"] == int((labels != "none").sum())
    assert 0.0 <= table.attrs["expected_fdr"] <= 0.05
    # the expected FDR is the mean of 1 - max(prob_up, prob_down) over the calls
    p = np.maximum(table["prob_up"], table["prob_down"]).values[:, 0]
    assert table.attrs["expected_fdr"] == pytest.approx(float(np.mean(1 - p[labels != "none"])), abs=1e-12)
    # the sign-only rule (min_ratio 1) calls at least as many
    assert result.responsive("base", min_ratio=1.0).attrs["n_discoveries"] >= 16
    assert result.responsive("base").attrs["min_ratio"] == 1.25  # the default asks for a 25% change


def test_contrast_and_responsive_refuse_what_they_cannot_answer(fit):
    counts, _, result = fit
    with pytest.raises(sp.ArgumentError, match="Did you mean 'stim'"):
        result.contrast("stimm", "base")
    with pytest.raises(sp.ArgumentError, match="two different conditions"):
        result.contrast("base", "base")
    with pytest.raises(sp.ArgumentError, match="must not include the baseline"):
        result.responsive("base", conditions=["stim", "base"])
    with pytest.raises(sp.ArgumentError, match="fdr must be"):
        result.responsive("base", fdr=0.0)
    with pytest.raises(sp.ArgumentError, match="min_ratio must be"):
        result.responsive("base", min_ratio=0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        pooled = sp.HierarchicalNegBinom().fit(counts, draws=100, tune=100, chains=1, random_seed=0, progressbar=False)
    with pytest.raises(sp.ArgumentError, match="needs a fit with conditions"):
        pooled.contrast("stim", "base")


def test_a_saved_fit_gives_the_same_tables(fit, tmp_path):
    _, _, result = fit
    result.to_netcdf(tmp_path / "fit.nc")
    loaded = sp.load_result(tmp_path / "fit.nc")
    a, b = result.responsive("base"), loaded.responsive("base")
    np.testing.assert_array_equal(a["responsive"], b["responsive"])
    np.testing.assert_allclose(a["ratio"], b["ratio"])


def test_the_heat_map_greys_out_the_cells_not_called(fit):
    import matplotlib

    matplotlib.use("Agg")
    _, _, result = fit
    table = result.responsive("base", min_ratio=1.25)
    ax = sp.plots.plot_responsive(result, "base", min_ratio=1.25)
    grey, colour = ax.images
    called = table["responsive"].values != "none"
    np.testing.assert_array_equal(np.isnan(np.asarray(colour.get_array(), dtype=float)), ~called)
    np.testing.assert_array_equal(np.isnan(np.asarray(grey.get_array(), dtype=float)), called)
    np.testing.assert_allclose(np.asarray(colour.get_array(), dtype=float)[called], table["log_ratio"].values[called])
    assert "calls at expected FDR" in ax.get_title()
    with pytest.raises(sp.ArgumentError, match="baseline must name"):
        sp.plots.plot_responsive(result)


def test_cells_without_trials_are_never_called():
    # the unchanged neurons 16-23 were not recorded in any stim trial (valid=False): the model still has their
    # stim rate (the population's prediction, possibly confident) but no data, so no call and no contrast
    counts, _, ratio = responders(seed=8)
    valid = np.ones(counts.shape, dtype=bool)
    valid[16:, counts["condition"].values == "stim"] = False
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalNegBinom(condition="condition").fit(
            counts, draws=300, tune=300, chains=2, random_seed=1, progressbar=False
        )
    table = result.responsive("base")
    assert (table["responsive"].values[16:] == "none").all() and np.isnan(table["prob_up"].values[16:]).all()
    assert table.attrs["n_unobserved"] == 8 and (table["n_trials"].values[16:] == 0).all()
    assert (table["responsive"].values[:16, 0] != "none").mean() >= 0.9  # the recorded responders are still found
    contrast = result.contrast("stim", "base")
    assert np.isnan(contrast["ratio"].values[16:]).all() and np.isfinite(contrast["ratio"].values[:16]).all()
    np.testing.assert_array_equal(contrast["n_trials_a"].values, np.where(np.arange(24) < 16, 20, 0))


def test_on_the_locust_recording_it_reproduces_the_hand_made_analysis(data_dir):
    # tutorial 01's analysis before responsive(): a unit responds to an odour when the 94% interval of
    # rate[odour] / rate[spontaneous] excludes 1. responsive(min_ratio=1) asks the same (sign) question with a
    # stated FDR: every pair the hand rule calls, it calls the same way
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 11.5))
    labels = counts["condition"].values.astype(str)
    counts = counts.assign_coords(
        condition=("trial", np.where(np.char.startswith(labels, "Spontaneous"), "none", labels))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalNegBinom(condition="condition").fit(
            counts, draws=500, tune=500, chains=2, random_seed=1, progressbar=False
        )
    rate = result.posterior["rate"]
    ratio = (rate / rate.sel(condition="none")).drop_sel(condition="none")
    q = ratio.quantile([0.03, 0.97], dim=("chain", "draw"))
    hand = np.where(q.sel(quantile=0.03) > 1, "up", np.where(q.sel(quantile=0.97) < 1, "down", "none"))
    table = result.responsive("none", min_ratio=1.0).sel(condition=ratio["condition"].values)
    calls = table["responsive"].values
    assert (hand != "none").sum() >= 60  # the locust units respond broadly (tutorial 01: 87 of 100 pairs)
    np.testing.assert_array_equal(calls[hand != "none"], hand[hand != "none"])
    assert table.attrs["expected_fdr"] <= 0.05

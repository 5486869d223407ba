"""check_counts: every check with a case built to trigger it and one built not to, messages matched."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import spikepool as sp
from spikepool.checks.counts import MIN_DISPERSION_REPLICATES


def _counts(values, condition=None, duration=1.0, valid=None):
    values = np.asarray(values)
    return sp.from_array(values, duration=duration, condition=condition, valid=valid)


def _codes(report, severity=None):
    return {p.code for p in report.problems if severity is None or p.severity == severity}


def test_variance_components_fails_with_one_trial_per_neuron():
    report = sp.check_counts(_counts([[3], [5], [2]]), dispersion="shared")
    assert not report.ok
    (problem,) = report.find("variance_components")
    assert problem.neurons == ("0", "1", "2")
    with pytest.raises(sp.IdentifiabilityError, match="separable only with repeated trials") as err:
        report.raise_if_failed()
    message = str(err.value)
    assert "only their sum is identified" in message
    assert "pool dispersion across neurons" in message and "fix it" in message and "record repeated trials" in message


def test_variance_components_counts_trials_per_condition_cell_when_conditions_are_modelled():
    counts = _counts([[3, 4], [5, 6]], condition=["a", "b"])
    assert sp.check_counts(counts, dispersion="shared").ok  # exchangeable trials: 2 each
    report = sp.check_counts(counts, dispersion="shared", condition="condition")
    with pytest.raises(sp.IdentifiabilityError, match="at most one valid trial per 'condition' cell"):
        report.raise_if_failed()


def test_variance_components_passes_when_some_neurons_repeat_or_without_dispersion():
    valid = np.array([[True, True], [True, False], [True, False]])
    report = sp.check_counts(_counts([[3, 4], [5, 0], [2, 0]], valid=valid), dispersion="pooled")
    assert report.ok and "variance_components" in report.passed
    assert sp.check_counts(_counts([[3], [5]]), dispersion="poisson").ok


def test_dispersion_trials_warns_below_the_threshold_and_not_above(rng):
    few = _counts(rng.poisson(5, (3, MIN_DISPERSION_REPLICATES)))  # n - 1 replicates: one short
    report = sp.check_counts(few, dispersion="neuron")
    assert report.ok
    (problem,) = report.find("dispersion_trials")
    assert problem.severity == "warning" and len(problem.neurons) == 3
    assert f"fewer than {MIN_DISPERSION_REPLICATES} repeated trials" in problem.message
    assert "dispersion='pooled'" in problem.remedy
    enough = _counts(rng.poisson(5, (3, MIN_DISPERSION_REPLICATES + 1)))
    assert "dispersion_trials" in sp.check_counts(enough, dispersion="neuron").passed
    assert not sp.check_counts(few, dispersion="pooled").find("dispersion_trials")


def _design(valid):
    values = np.where(valid, np.array([3, 5, 2, 6, 4, 7]) + np.arange(3)[:, None], 0)
    return _counts(values, condition=["a", "a", "b", "b", "c", "c"], valid=valid)


def test_coverage_empty_cells_single_neuron_and_confounded_conditions():
    full = np.ones((3, 6), dtype=bool)
    report = sp.check_counts(_design(full), dispersion="shared", condition="condition")
    assert {"empty_cell", "single_neuron_condition", "confounded_condition"} <= set(report.passed)
    valid = full.copy()
    valid[1:, 4:] = False  # condition c: neuron 0 only
    report = sp.check_counts(_design(valid), dispersion="shared", condition="condition")
    assert report.ok
    (empty,) = report.find("empty_cell")
    assert empty.conditions == ("c",) and set(empty.neurons) == {"1", "2"}
    assert "2 neuron x 'condition' cells have no valid trial" in empty.message
    (single,) = report.find("single_neuron_condition")
    assert single.conditions == ("c",) and single.neurons == ("0",)
    assert not report.find("confounded_condition")
    valid[0, :4] = False  # ... and neuron 0 only in c: perfectly confounded
    report = sp.check_counts(_design(valid), dispersion="shared", condition="condition")
    with pytest.raises(sp.IdentifiabilityError, match="perfectly confounded with a neuron"):
        report.raise_if_failed()


def test_condition_confounded_with_a_session():
    counts = _design(np.ones((3, 6), dtype=bool))
    ok = counts.assign_coords(session=("trial", ["s1", "s2", "s1", "s2", "s1", "s2"]))
    assert not sp.check_counts(ok, dispersion="shared", condition="condition").find("confounded_condition")
    bad = counts.assign_coords(session=("trial", ["s1", "s1", "s1", "s1", "s2", "s2"]))
    report = sp.check_counts(bad, dispersion="shared", condition="condition")
    (problem,) = report.find("confounded_condition")
    assert problem.conditions == ("c",)
    assert "confounded with a session" in problem.message


def test_silent_constant_and_unrecorded_neurons(rng):
    values = np.vstack([rng.poisson(4, 6), np.zeros(6, int), np.full(6, 7), np.zeros(6, int)])
    valid = np.ones((4, 6), dtype=bool)
    valid[3] = False
    report = sp.check_counts(_counts(values, valid=valid), dispersion="shared")
    assert report.find("silent_neuron")[0].neurons == ("1",)
    assert "fired no spike in any valid trial: their rates are prior-driven" in report.find("silent_neuron")[0].message
    assert report.find("constant_counts")[0].neurons == ("2",)
    assert "same non-zero count in every valid trial" in report.find("constant_counts")[0].message
    assert report.find("unrecorded_neuron")[0].neurons == ("3",)
    clean = sp.check_counts(_counts(values[:1]), dispersion="shared")
    assert {"silent_neuron", "constant_counts", "unrecorded_neuron"} <= set(clean.passed)


def test_exposure_errors_and_varying_durations(rng):
    values = rng.poisson(4, (2, 4))
    report = sp.check_counts(_counts(values, duration=[1.0, 0.0, np.nan, 1.0]), dispersion="shared")
    (problem,) = report.find("exposure")
    assert problem.severity == "error" and problem.trials == (1, 2)
    assert "positive, finite duration" in problem.message
    varied = sp.check_counts(_counts(values, duration=[1.0, 0.5, 0.5, 1.0]), dispersion="shared")
    assert varied.ok
    assert "trial durations differ (from 0.5 to 1 s)" in varied.find("exposure_varies")[0].message
    same = sp.check_counts(_counts(values), dispersion="shared")
    assert {"exposure", "exposure_varies"} <= set(same.passed)


def test_fano_screen_matches_the_closed_form_for_one_cell():
    y = np.array([[2, 4, 3, 7, 9, 1]])
    report = sp.check_counts(_counts(y), dispersion="shared")
    expected = y.var(ddof=1) / y.mean()
    assert report.summary["fano"].item() == pytest.approx(expected, rel=1e-12)
    from scipy import stats

    d, df = expected * 5, 5
    assert report.summary["fano_low"].item() == pytest.approx(d / stats.chi2.ppf(0.975, df))
    assert report.summary["fano_high"].item() == pytest.approx(d / stats.chi2.ppf(0.025, df))


def test_fano_interval_covers_one_for_poisson_neurons_at_its_nominal_rate(rng):
    counts = _counts(rng.poisson(6.0, (800, 30)))
    s = sp.check_counts(counts, dispersion="shared").summary
    covered = ((s["fano_low"] <= 1) & (s["fano_high"] >= 1)).mean().item()
    assert 0.93 <= covered <= 0.97


def test_underdispersed_neurons_are_flagged_and_poisson_or_nb_ones_are_not(rng):
    regular = 10 + rng.integers(-1, 2, 60)  # variance ~0.67 on a mean of 10
    poisson = rng.poisson(10, 60)
    nb = rng.negative_binomial(2, 2 / (2 + 10), 60)  # mu 10, alpha 2: Fano 6
    report = sp.check_counts(_counts(np.vstack([regular, poisson, nb])), dispersion="neuron")
    (problem,) = report.find("underdispersed")
    assert problem.neurons == ("0",)
    assert "a Negative Binomial (Fano = 1 + mu/alpha >= 1) cannot represent them" in problem.message
    assert "likelihood='com_poisson'" in problem.remedy  # the family that can fit Fano < 1
    (summary,) = report.find("dispersion_summary")
    assert "1 of 3 neurons overdispersed, 1 consistent with Poisson, 1 underdispersed" in summary.message
    assert "underdispersed" in sp.check_counts(_counts(np.vstack([poisson, nb])), dispersion="neuron").passed


def test_schema_problems_are_reported_and_raise():
    bad = _counts([[1, 2]]).copy(data=np.array([[1, -2]]))
    report = sp.check_counts(bad)
    assert not report.ok and report.problems[0].code == "schema"
    with pytest.raises(sp.IdentifiabilityError, match="holds -2"):
        report.raise_if_failed()
    with pytest.raises(TypeError, match="must be an xarray.DataArray"):
        sp.check_counts(np.zeros((2, 2)))


def test_bad_arguments():
    counts = _counts([[1, 2]])
    with pytest.raises(ValueError, match="Did you mean 'pooled'"):
        sp.check_counts(counts, dispersion="pooling")
    with pytest.raises(ValueError, match="Did you mean 'condition'"):
        sp.check_counts(counts, condition="conditon")


def test_report_prints_tabulates_and_renders_html(rng):
    values = np.vstack([rng.poisson(4, 3), np.zeros(3, int)])
    report = sp.check_counts(_counts(values), dispersion="neuron")
    text = str(report)
    assert text.startswith("check_counts(dispersion='neuron', condition=None): OK (0 error(s), 2 warning(s))")
    assert "WARNING silent_neuron  [neurons 1]" in text and "Remedy:" in text and "passed:" in text
    table = report.to_dataframe()
    assert list(table.columns[:3]) == ["code", "severity", "neurons"]
    assert set(table["code"]) == _codes(report)
    assert "<table" in report._repr_html_() and "silent_neuron" in report._repr_html_()


def test_binned_counts_are_checked_on_their_window_totals(rng):
    binned = sp.from_spike_times(
        [np.sort(rng.uniform(0, 30, 300)) for _ in range(3)], np.arange(10) * 2.5, window=(0, 2), bin_size=0.5
    )
    report = sp.check_counts(binned, dispersion="shared")
    np.testing.assert_array_equal(report.summary["spikes"].values, binned.sum(("trial", "time")).values)


def test_checks_do_not_modify_the_counts(rng):
    counts = _counts(rng.poisson(3, (4, 6)), condition=["a", "b"] * 3)
    before = counts.copy(deep=True)
    sp.check_counts(counts, condition="condition")
    xr.testing.assert_identical(counts, before)

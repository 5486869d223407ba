"""responsive_trials: against a brute-force count, with unrecorded trials, conditions, binned counts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import spikepool as sp
from spikepool.models.beta_binomial import as_proportions


def _counts_with_gaps(rng, binned: bool = False) -> xr.DataArray:
    """Simulated counts of 6 neurons x 24 trials in 3 conditions; neuron n5 never recorded, others have gaps."""
    counts, _ = sp.simulate_counts(6, 24, conditions=["lo", "mid", "hi"], mu=[0.5, 1.2, 2.0], tau=0.6, seed=11)
    valid = rng.random((6, 24)) > 0.25
    valid[5] = False  # a neuron lost for the whole session
    valid[4, counts["condition"].values == "hi"] = False  # and one never recorded in "hi"
    values = np.where(valid, counts.values, 0)
    if binned:  # spread each window count over 4 time bins at random
        values = np.stack([rng.multinomial(v, [0.25] * 4) for v in values.ravel()]).reshape(6, 24, 4)
    return sp.from_array(
        values,
        duration=0.5,
        condition=counts["condition"].values,
        neuron=counts["neuron"].values,
        valid=valid,
    ).assign_coords(channel=("neuron", np.arange(6) + 1))


def _brute(counts: xr.DataArray, min_spikes: int, condition: str | None):
    """Loop over neurons and trials: (successes, trials) per neuron [x sorted condition value]."""
    window = counts.sum("time") if "time" in counts.dims else counts
    labels = counts[condition].values if condition else np.zeros(counts.sizes["trial"], dtype=int)
    names = sorted(set(labels.tolist()))
    valid = counts["valid"].values
    succ = np.zeros((counts.sizes["neuron"], len(names)), dtype=int)
    tri = np.zeros_like(succ)
    for i in range(counts.sizes["neuron"]):
        for t in range(counts.sizes["trial"]):
            if not valid[i, t]:
                continue
            k = names.index(labels[t])
            tri[i, k] += 1
            succ[i, k] += int(window.values[i, t] >= min_spikes)
    if condition is None:
        return succ[:, 0], tri[:, 0], names
    return succ, tri, names


@pytest.mark.parametrize("binned", [False, True])
@pytest.mark.parametrize("min_spikes", [1, 2, 5])
@pytest.mark.parametrize("condition", [None, "condition"])
def test_matches_brute_force(rng, binned, min_spikes, condition):
    counts = _counts_with_gaps(rng, binned=binned)
    before = counts.copy(deep=True)
    ds = sp.responsive_trials(counts, min_spikes, condition=condition)
    xr.testing.assert_identical(counts, before)  # counts are not modified
    succ, tri, names = _brute(counts, min_spikes, condition)
    np.testing.assert_array_equal(ds["successes"].values, succ)
    np.testing.assert_array_equal(ds["trials"].values, tri)
    assert ds["successes"].dtype == np.int64 and ds["trials"].dtype == np.int64
    expected_dims = ("neuron",) if condition is None else ("neuron", "condition")
    assert ds["successes"].dims == expected_dims
    if condition:
        assert ds["condition"].values.tolist() == names == ["hi", "lo", "mid"]
    assert ds["neuron"].values.tolist() == counts["neuron"].values.tolist()
    assert ds["channel"].values.tolist() == [1, 2, 3, 4, 5, 6]  # neuron coords carried
    assert ds.attrs["min_spikes"] == min_spikes
    assert (ds["successes"] <= ds["trials"]).all()
    # the lost neuron has no trial; neuron n4 has none in "hi"
    assert int(ds["trials"].sel(neuron="n5").sum()) == 0
    if condition:
        assert int(ds["trials"].sel(neuron="n4", condition="hi")) == 0


def test_binned_counts_equal_window_counts(rng):
    binned = _counts_with_gaps(rng, binned=True)
    window = sp.from_array(
        binned.sum("time").values,
        duration=0.5,
        condition=binned["condition"].values,
        neuron=binned["neuron"].values,
        valid=binned["valid"].values,
    )
    xr.testing.assert_equal(sp.responsive_trials(binned, 3).drop_vars("channel"), sp.responsive_trials(window, 3))


def test_other_trial_coord_names_the_dim():
    counts = sp.from_array([[0, 3, 1, 4], [2, 0, 0, 1]], duration=1.0).assign_coords(
        stimulus=("trial", [10.0, 20.0, 10.0, 20.0])
    )
    ds = sp.responsive_trials(counts, condition="stimulus")
    assert ds["successes"].dims == ("neuron", "stimulus")
    assert ds["stimulus"].values.tolist() == [10.0, 20.0]
    assert ds["successes"].values.tolist() == [[1, 2], [1, 1]]
    assert ds["trials"].values.tolist() == [[2, 2], [2, 2]]


def test_feeds_beta_binomial_after_dropping_neurons_without_trials(rng, monkeypatch):
    import pymc as pm

    counts = _counts_with_gaps(rng)
    ds = sp.responsive_trials(counts, 2)
    monkeypatch.setattr(pm, "sample", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sampled")))
    with pytest.raises(ValueError, match=r"trials must be >= 1; got 0 at position 5 \(neuron 'n5'\)\. Hint: drop"):
        sp.BetaBinomial().fit(ds["successes"], ds["trials"], progressbar=False)
    kept = ds.where(ds.trials > 0, drop=True)  # the hint of the error
    props = as_proportions(kept["successes"], kept["trials"])
    assert props.dim == "neuron" and props.coords.tolist() == ["n0", "n1", "n2", "n3", "n4"]
    np.testing.assert_array_equal(props.successes, ds["successes"].values[:5])
    np.testing.assert_array_equal(props.trials, ds["trials"].values[:5])
    model = sp.BetaBinomial().build(kept["successes"], kept["trials"])
    assert list(model.coords["neuron"]) == ["n0", "n1", "n2", "n3", "n4"]
    # per condition: select one, then drop the neurons without a trial in it
    hi = sp.responsive_trials(counts, 2, condition="condition").sel(condition="hi")
    hi = hi.where(hi.trials > 0, drop=True)
    assert as_proportions(hi["successes"], hi["trials"]).coords.tolist() == ["n0", "n1", "n2", "n3"]


@pytest.mark.parametrize("condition", [None, "condition"])
def test_per_neuron_thresholds(rng, condition):
    counts = _counts_with_gaps(rng)
    thresholds = np.array([1, 2, 3, 4, 2, 1])
    # given in another neuron order: matched by label
    order = [3, 0, 5, 1, 4, 2]
    min_spikes = xr.DataArray(thresholds[order], dims="neuron", coords={"neuron": counts["neuron"].values[order]})
    ds = sp.responsive_trials(counts, min_spikes, condition=condition)
    for i, k in enumerate(thresholds):
        one = sp.responsive_trials(counts.isel(neuron=[i]), int(k), condition=condition)
        np.testing.assert_array_equal(ds["successes"].isel(neuron=i).values, one["successes"].isel(neuron=0).values)
        np.testing.assert_array_equal(ds["trials"].isel(neuron=i).values, one["trials"].isel(neuron=0).values)
    np.testing.assert_array_equal(ds["min_spikes"].values, thresholds)
    assert ds["min_spikes"].dims == ("neuron",)
    # a 0-d DataArray is one threshold for all
    xr.testing.assert_identical(
        sp.responsive_trials(counts, xr.DataArray(2), condition=condition),
        sp.responsive_trials(counts, 2, condition=condition),
    )


@pytest.mark.parametrize(
    ("min_spikes", "error", "match"),
    [
        (xr.DataArray([1, 2], dims="neuron", coords={"neuron": ["0", "x"]}), ValueError, "none for '1'"),
        (xr.DataArray([1, 2, 3], dims="neuron"), ValueError, "one threshold per neuron; got 3 for 2"),
        (xr.DataArray([1.5, 2.0], dims="neuron"), TypeError, "whole numbers"),
        (xr.DataArray([0, 2], dims="neuron"), ValueError, "min_spikes must be >= 1; got 0"),
        (xr.DataArray([[1, 2]], dims=("trial", "neuron")), ValueError, "DataArray over 'neuron'; got dims"),
    ],
)
def test_bad_per_neuron_thresholds(min_spikes, error, match):
    counts = sp.from_array([[0, 3], [2, 0]], duration=1.0)
    with pytest.raises(error, match=match):
        sp.responsive_trials(counts, min_spikes)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_spikes": 0}, ValueError, "min_spikes must be >= 1; got 0"),
        ({"min_spikes": 1.5}, TypeError, "min_spikes must be an int"),
        ({"min_spikes": True}, TypeError, "min_spikes must be an int"),
        ({"condition": "conditon"}, ValueError, "Did you mean 'condition'"),
        ({"condition": "valid"}, ValueError, "must name a coordinate on 'trial'"),
        ({"condition": "neuron"}, ValueError, "must name a coordinate on 'trial'"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    counts = sp.from_array([[0, 3], [2, 0]], duration=1.0, valid=[[True, True], [True, False]])
    with pytest.raises(error, match=match):
        sp.responsive_trials(counts, **kwargs)


def test_bad_counts():
    with pytest.raises(TypeError, match="counts must be an xarray.DataArray"):
        sp.responsive_trials(np.array([[1, 2]]))
    bad = xr.DataArray([[1.0, np.nan]], dims=("neuron", "trial"))
    with pytest.raises(sp.CountsError):
        sp.responsive_trials(bad)


def test_numpy_integer_min_spikes():
    counts = sp.from_array([[0, 3], [2, 0]], duration=1.0)
    ds = sp.responsive_trials(counts, np.int64(3))
    assert ds["successes"].values.tolist() == [1, 0] and ds.attrs["min_spikes"] == 3

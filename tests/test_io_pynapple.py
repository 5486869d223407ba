"""from_pynapple / counts_to_pynapple: pynapple TsGroup and IntervalSet to counts and back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import brute_counts

import spikepool as sp

nap = pytest.importorskip("pynapple", reason="pynapple tests need the 'pynapple' extra")


@pytest.fixture(scope="module")
def units():
    rng = np.random.default_rng(11)
    spikes = {3: np.sort(rng.uniform(0, 100, 800)), 7: np.sort(rng.uniform(0, 100, 300)), 9: np.zeros(0)}
    group = nap.TsGroup(
        {k: nap.Ts(t) for k, t in spikes.items()},
        time_support=nap.IntervalSet(0.0, 100.0),
        metadata={"area": np.array(["CA1", "CA3", "CA1"]), "depth": np.array([100.0, 200.0, 300.0])},
    )
    return group, spikes


def test_binned_counts_equal_pynapples_own_count(units):
    group, spikes = units
    starts = np.arange(2.0, 90.0, 7.0)
    trials = nap.IntervalSet(
        start=starts, end=starts + 3.0, metadata={"label": np.array(["odour", "air"] * 6 + ["odour"])}
    )
    counts = sp.from_pynapple(group, trials, bin_size=0.25)
    assert counts.sizes == {"neuron": 3, "trial": starts.size, "time": 12}
    theirs = group.count(0.25, trials)  # TsdFrame (bin, unit)
    ours = counts.transpose("trial", "time", "neuron").values.reshape(-1, 3)
    np.testing.assert_array_equal(ours, theirs.values)
    assert list(counts["condition"].values[:2]) == ["odour", "air"]
    assert list(counts["area"].values) == ["CA1", "CA3", "CA1"] and "rate" not in counts.coords
    np.testing.assert_array_equal(counts["neuron"].values, ["3", "7", "9"])
    assert counts.values[2].sum() == 0 and counts["valid"].values.all()  # a silent unit: recorded zeros


def test_event_times_with_a_window(units):
    group, spikes = units
    events = nap.Ts(np.array([5.0, 20.0, 41.5, 60.0]))
    counts = sp.from_pynapple(group, events, window=(-0.5, 1.0), conditions=["a", "b", "a", "b"])
    for n, key in enumerate((3, 7, 9)):
        expected = [brute_counts(spikes[key], t - 0.5, t + 1.0) for t in events.t]
        np.testing.assert_array_equal(counts.values[n], expected)
    np.testing.assert_allclose(counts["duration"].values, 1.5)
    # an IntervalSet with a window aligns on each interval's start
    ep = nap.IntervalSet(start=events.t, end=events.t + 2.0)
    aligned = sp.from_pynapple(group, ep, window=(-0.5, 1.0))
    np.testing.assert_array_equal(aligned.values, counts.values)


def test_windows_outside_the_time_support_are_refused_and_bad_inputs_named(units):
    group, _ = units
    with pytest.raises(sp.WindowError, match="time_support"):
        sp.from_pynapple(group, np.array([99.5]), window=(0.0, 1.0))
    with pytest.raises(sp.ArgumentTypeError, match="pynapple.TsGroup"):
        sp.from_pynapple({"a": [1.0]}, np.array([1.0]), window=(0.0, 1.0))
    with pytest.raises(sp.ArgumentTypeError, match="window must be"):
        sp.from_pynapple(group, np.array([1.0]))
    with pytest.raises(sp.SourceError, match="condition_key must be"):
        sp.from_pynapple(group, nap.IntervalSet(1.0, 2.0), condition_key="odour")


def test_the_default_time_support_counts_like_tsgroup_count():
    # a TsGroup built the usual way: its time_support is the span of its spikes (first spike at 0.033 s), which
    # says nothing about when recording began, so windows before the first spike are counted as pynapple counts
    rng = np.random.default_rng(4)
    trains = {k: np.sort(np.r_[0.033 + 0.2 * k, rng.uniform(0.3, 11.0, 60)]) for k in range(3)}
    group = nap.TsGroup({k: nap.Ts(t=t) for k, t in trains.items()})
    assert float(group.time_support.start[0]) == pytest.approx(0.033)
    epochs = nap.IntervalSet(start=np.arange(0.0, 12.0, 2.0), end=np.arange(0.0, 12.0, 2.0) + 0.5)
    counts = sp.from_pynapple(group, epochs)
    theirs = group.count(ep=epochs)  # TsdFrame (epoch, unit)
    assert counts.sizes == {"neuron": 3, "trial": 6} and len(theirs) == 6
    np.testing.assert_array_equal(counts.values.T, theirs.values)
    for n, k in enumerate(trains):
        np.testing.assert_array_equal(counts.values[n], [brute_counts(trains[k], a, a + 0.5) for a in epochs.start])
    assert counts["valid"].values.all()
    # a support the user set still bounds the windows, as does one set on each Ts
    recorded = nap.TsGroup({k: nap.Ts(t=t) for k, t in trains.items()}, time_support=nap.IntervalSet(0.3, 11.0))
    with pytest.raises(sp.WindowError, match=r"time_support \[\[0.3, 11.0\]\]; got 1 outside, the first \[0, 0.5\)"):
        sp.from_pynapple(recorded, epochs)
    own = nap.TsGroup({k: nap.Ts(t=t, time_support=nap.IntervalSet(0.02, 11.0)) for k, t in trains.items()})
    with pytest.raises(sp.WindowError, match="1 outside"):
        sp.from_pynapple(own, epochs)
    # a subset keeps its parent's support (not the span of its own spikes): it is checked like a support set
    with pytest.raises(sp.WindowError, match=r"1 outside.*a subset such as tsgroup\[\[0, 2\]\] keeps"):
        sp.from_pynapple(group[[1, 2]], epochs)
    # spikes in two stretches: the default support has two intervals, and a window in the gap counts 0 as in pynapple
    gap = nap.TsGroup({0: nap.Ts(t=np.array([1.0, 1.5, 2.0])), 1: nap.Ts(t=np.array([5.0, 6.0]))})
    assert len(gap.time_support) == 2
    ep = nap.IntervalSet(start=[0.5, 3.0], end=[1.6, 4.0])
    gap_counts = sp.from_pynapple(gap, ep).values
    np.testing.assert_array_equal(gap_counts, [[2, 0], [0, 0]])
    np.testing.assert_array_equal(gap_counts.T, gap.count(ep=ep).values)


def test_counts_go_back_to_pynapple_with_unrecorded_pairs_as_nan(units):
    group, _ = units
    starts = np.arange(2.0, 50.0, 8.0)
    ep = nap.IntervalSet(start=starts, end=starts + 2.0)
    counts = sp.from_pynapple(group, ep)
    valid = counts["valid"].values.copy()
    valid[1, 2] = False
    marked = counts.where(xr_valid(valid), 0).assign_coords(valid=(("neuron", "trial"), valid))
    frame = sp.counts_to_pynapple(marked)
    np.testing.assert_allclose(frame.t, starts)
    assert list(frame.columns) == ["3", "7", "9"]
    expected = np.where(valid, counts.values, np.nan).T
    np.testing.assert_array_equal(frame.values, expected)
    binned = sp.from_pynapple(group, ep, bin_size=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = sp.counts_to_pynapple(binned)
    np.testing.assert_array_equal(frame.values, group.count(0.5, ep).values)  # the layout of TsGroup.count
    np.testing.assert_allclose(frame.t, group.count(0.5, ep).t)


def xr_valid(valid):
    import xarray as xr

    return xr.DataArray(valid, dims=("neuron", "trial"))

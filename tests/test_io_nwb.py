"""from_nwb: units and trials tables of an NWB file, written with pynwb."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from conftest import brute_counts

import spikepool as sp

pynwb = pytest.importorskip("pynwb", reason="NWB tests need the 'nwb' extra (pynwb)")


def _nwbfile(rng, with_trials=True):
    nwb = pynwb.NWBFile("test session", "id-1", datetime(2026, 1, 1, tzinfo=UTC))
    nwb.add_unit_column("quality", "sorting quality")
    spikes = []
    for q in ("good", "mua", "good"):
        t = np.sort(rng.uniform(0, 30, 300))
        spikes.append(t)
        nwb.add_unit(spike_times=t, quality=q)
    if with_trials:
        nwb.add_trial_column("condition", "odour")
        nwb.add_trial_column("stim_on", "odour onset (s)")
        for k in range(10):
            start = 2.5 * k + 1
            nwb.add_trial(start_time=start, stop_time=start + 2.0, condition="ab"[k % 2], stim_on=start + 0.5)
    return nwb, spikes


def test_from_nwb_file_counts_trials(rng, tmp_path):
    nwb, spikes = _nwbfile(rng)
    path = tmp_path / "s.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    counts = sp.from_nwb(path)
    assert counts.sizes == {"neuron": 3, "trial": 10}
    for n, t in enumerate(spikes):
        expected = [brute_counts(t, 2.5 * k + 1, 2.5 * k + 3) for k in range(10)]
        np.testing.assert_array_equal(counts.values[n], expected)
    assert list(counts["condition"].values[:3]) == ["a", "b", "a"]
    assert list(counts["quality"].values) == ["good", "mua", "good"]
    aligned = sp.load(path, align="stim_on", window=(-0.5, 1.0), bin_size=0.5)
    assert aligned.dims == ("neuron", "trial", "time")
    np.testing.assert_allclose(aligned["time"].values, [-0.25, 0.25, 0.75])
    t0 = spikes[0]
    np.testing.assert_array_equal(
        aligned.sum("time").values[0], [brute_counts(t0, 2.5 * k + 1, 2.5 * k + 2.5) for k in range(10)]
    )


def test_from_nwb_errors(rng):
    nwb, _ = _nwbfile(rng, with_trials=False)
    with pytest.raises(sp.SourceError, match="trials table"):
        sp.from_nwb(nwb)
    nwb, _ = _nwbfile(rng)
    with pytest.raises(sp.SourceError, match="time column"):
        sp.from_nwb(nwb, align="odour_onset", window=(0, 1))
    with pytest.raises(TypeError, match="NWB file path"):
        sp.from_nwb(42)


def _session(path, *, obs=True, invalid=True, electrodes=True):
    """An NWB file as a pipeline writes it: electrodes with brain areas, units with quality labels, a metric,
    ragged obs_intervals (unit 0 observed over [0, 7.9) s only, unit 1 over two stretches, unit 3 never
    spiking), invalid_times over one trial, and trials with an odour column and a stimulus-onset time."""
    nwb = pynwb.NWBFile("pipeline session", "id-2", datetime(2026, 1, 1, tzinfo=UTC))
    if electrodes:
        device = nwb.create_device("probe")
        group = nwb.create_electrode_group("shank0", "shank", "hippocampus", device)
        for place in ("CA1", "CA1", "CA3", "DG"):
            nwb.add_electrode(group=group, location=place)
    nwb.add_unit_column("quality", "sorting quality label")
    nwb.add_unit_column("snr", "signal-to-noise ratio")
    rng = np.random.default_rng(3)
    spikes = [np.sort(rng.uniform(0, 7.9, 200)), np.sort(rng.uniform(0, 30, 400)), np.sort(rng.uniform(0, 30, 300))]
    spikes.append(np.zeros(0))
    observed = [[[0.0, 7.9]], [[0.0, 4.0], [9.0, 30.0]], [[0.0, 30.0]], [[0.0, 30.0]]]
    for k, (t, q, snr) in enumerate(zip(spikes, ("good", "good", "mua", "good"), (6.0, 3.0, 8.0, 5.0), strict=True)):
        extra = {"obs_intervals": observed[k]} if obs else {}
        if electrodes:
            extra["electrodes"] = [[0, 1], [1], [2], [3]][k]
        nwb.add_unit(spike_times=t, quality=q, snr=snr, **extra)
    nwb.add_trial_column("odour", "odour presented")
    nwb.add_trial_column("stim_on", "odour onset (s)")
    for k in range(12):  # trials at 0, 2.5, ..., 27.5 s; onset 0.5 s in
        nwb.add_trial(start_time=2.5 * k, stop_time=2.5 * k + 2.0, odour="xy"[k % 2], stim_on=2.5 * k + 0.5)
    if invalid:
        nwb.add_invalid_time_interval(start_time=21.0, stop_time=21.5)  # inside trial 8 [20, 22)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return spikes


def test_obs_intervals_and_invalid_times_mark_trials_unrecorded_never_silent(tmp_path):
    path = tmp_path / "pipeline.nwb"
    spikes = _session(path)
    counts = sp.load(path, condition_key="odour")
    starts = 2.5 * np.arange(12)
    expected_valid = np.ones((4, 12), dtype=bool)
    expected_valid[0, starts + 2.0 > 7.9] = False  # unit 0: trials ending after 7.9 s (trial 3 [7.5, 9.5) too)
    expected_valid[1, (starts < 9.0) & (starts + 2.0 > 4.0)] = False  # unit 1: trials reaching into [4, 9)
    expected_valid[:, 8] = False  # invalid_times [21, 21.5) lies in trial 8
    np.testing.assert_array_equal(counts["valid"].values, expected_valid)
    assert not counts["valid"].values[0, 4]  # the trial at 10 s: unit 0 unrecorded, not 0 spikes recorded
    for n, t in enumerate(spikes):
        full = np.array([brute_counts(t, s, s + 2.0) for s in starts])
        np.testing.assert_array_equal(counts.values[n], np.where(expected_valid[n], full, 0))
        # nothing silently dropped: the spikes of unrecorded pairs are reported per neuron
        assert int(counts["spikes_unobserved"].values[n]) == int(full[~expected_valid[n]].sum())
    assert counts.attrs["invalid_times_trials"] == 1
    assert counts.attrs["unobserved_pairs"] == int((~expected_valid).sum())
    assert counts.attrs["spikes_unobserved"] == int(counts["spikes_unobserved"].sum())
    # the unit without spikes is recorded and silent: valid zeros
    assert counts["valid"].values[3].sum() == 11 and counts.values[3].sum() == 0
    sp.validate_counts(counts)
    # binned counts carry the same mask, and their bins add up to the window counts
    binned = sp.load(path, align="stim_on", window=(-0.5, 1.5), bin_size=0.5, condition_key="odour")
    np.testing.assert_array_equal(binned["valid"].values, expected_valid)
    np.testing.assert_array_equal(binned.sum("time").values, counts.values)


def test_units_table_columns_become_coords_and_select_units(tmp_path):
    path = tmp_path / "pipeline.nwb"
    _session(path)
    counts = sp.load(path, condition_key="odour", align="stim_on", window=(0.0, 1.0))
    assert list(counts["quality"].values) == ["good", "good", "mua", "good"]
    np.testing.assert_allclose(counts["snr"].values, [6.0, 3.0, 8.0, 5.0])
    assert list(counts["brain_area"].values) == ["CA1", "CA1", "CA3", "DG"]
    assert list(counts["condition"].values[:2]) == ["x", "y"]
    np.testing.assert_allclose(counts["duration"].values, 1.0)
    good = sp.load(path, condition_key="odour", units="quality == 'good' and snr > 4")
    assert list(good["neuron"].values) == ["0", "3"]
    everything = sp.load(path, condition_key="odour")
    np.testing.assert_array_equal(good.values, everything.sel(neuron=["0", "3"]).values)
    by_id = sp.load(path, condition_key="odour", units=["2", "0"])
    assert list(by_id["neuron"].values) == ["2", "0"]
    assert list(sp.load(path, units="brain_area == 'CA1'")["neuron"].values) == ["0", "1"]


def test_nwb_files_without_the_optional_tables_and_bad_selections(tmp_path):
    path = tmp_path / "bare.nwb"
    spikes = _session(path, obs=False, invalid=False, electrodes=False)
    counts = sp.load(path)
    assert counts["valid"].values.all() and "brain_area" not in counts.coords
    assert int(counts["spikes_unobserved"].sum()) == 0
    assert counts.values[0].sum() == sum(brute_counts(spikes[0], 2.5 * k, 2.5 * k + 2.0) for k in range(12))
    assert set(counts["condition"].values) == {""}  # no 'condition' column: no conditions
    with pytest.raises(sp.SourceError, match="condition_key must be a column"):
        sp.load(path, condition_key="stimulus")
    with pytest.raises(sp.SourceError, match="units must be a query"):
        sp.load(path, units="grade == 'A'")
    with pytest.raises(sp.SourceError, match="selects none"):
        sp.load(path, units="snr > 100")
    with pytest.raises(sp.NeuronKeyError, match="units must name neurons"):
        sp.load(path, units=["7"])


def test_interval_edges_follow_the_half_open_rule_with_rounding_tolerance():
    from spikepool.io._core import covered, overlapping

    start = np.array([4.0, 0.0, 10.0])
    stop = start + 2.0
    # observed from 1e-12 s after the trial starts: rounding, still observed; a real gap is not
    np.testing.assert_array_equal(covered(start, stop, np.array([[4.0 + 1e-12, 30.0]])), [True, False, True])
    np.testing.assert_array_equal(covered(start, stop, np.array([[0.0, 3.0], [3.0, 5.9]])), [False, True, False])
    # touching intervals do not overlap a trial, an empty one never does, one inside always does
    touching = np.array([[3.0, 4.0 + 1e-12], [5.0, 5.0], [9.0, 10.0]])
    np.testing.assert_array_equal(overlapping(start, stop, touching), [False, False, False])
    np.testing.assert_array_equal(overlapping(start, stop, np.array([[5.5, 5.6], [11.9, 20.0]])), [True, False, True])


def test_units_queries_may_use_the_id_and_a_unit_never_observed_is_named(tmp_path):
    path = tmp_path / "pipeline.nwb"
    _session(path)
    assert list(sp.load(path, units="id >= 2")["neuron"].values) == ["2", "3"]
    with pytest.raises(sp.NeuronKeyError, match="each neuron once"):
        sp.load(path, units=["0", "0"])
    nwb = pynwb.NWBFile("late unit", "id-3", datetime(2026, 1, 1, tzinfo=UTC))
    nwb.add_unit(spike_times=[50.0, 51.0], obs_intervals=[[40.0, 60.0]])
    nwb.add_unit(spike_times=[1.0, 2.5], obs_intervals=[[0.0, 60.0]])
    for k in range(3):
        nwb.add_trial(start_time=2.0 * k, stop_time=2.0 * k + 1.0)
    with pytest.warns(sp.SpikepoolWarning, match="observed in some trial"):
        counts = sp.from_nwb(nwb)
    np.testing.assert_array_equal(counts["valid"].values, [[False] * 3, [True] * 3])

"""from_neo: trials from segments and from events / epochs, neuron matching, units, binning, errors."""

from __future__ import annotations

import copy

import neo
import numpy as np
import pytest
import quantities as pq
from conftest import brute_counts, make_block

import spikepool as sp


def _times(block, seg, neuron):
    return block.segments[seg].spiketrains[neuron].times.rescale("s").magnitude


def test_segment_trials_count_exactly(rng):
    block = make_block(rng, n_neurons=3, n_trials=5)
    counts = sp.from_neo(block, window=(0.25, 1.5))
    assert counts.dims == ("neuron", "trial")
    assert counts.dtype == np.int64
    assert list(counts["neuron"].values) == ["u0", "u1", "u2"]
    for k in range(5):
        for n in range(3):
            assert counts.values[n, k] == brute_counts(_times(block, k, n), 0.25, 1.5)
    np.testing.assert_allclose(counts["duration"].values, 1.25)
    assert list(counts["condition"].values) == ["a", "b", "a", "b", "a"]
    assert counts["valid"].values.all()
    # every spike is either counted or reported outside
    total = sum(st.size for s in block.segments for st in s.spiketrains)
    assert counts.attrs["spikes_total"] == total
    assert counts.values.sum() + counts.attrs["spikes_outside"] == total
    np.testing.assert_array_equal(counts.attrs["window"], [0.25, 1.5])
    assert counts.attrs["spikepool_version"] == sp.__version__


def test_default_window_is_whole_segment_and_neuron_annotations_become_coords(rng):
    block = make_block(rng, n_neurons=2, n_trials=3, duration=1.5)
    counts = sp.from_neo(block)
    sizes = [[s.spiketrains[n].size for s in block.segments] for n in range(2)]
    np.testing.assert_array_equal(counts.values, sizes)
    np.testing.assert_allclose(counts["duration"].values, 1.5)
    assert counts.attrs["spikes_outside"] == 0
    np.testing.assert_array_equal(counts["channel"].values, [1, 2])
    np.testing.assert_array_equal(counts["trial_id"].values, [0, 1, 2])  # segment annotation -> trial coord


def test_half_open_windows_at_the_edges():
    seg = neo.Segment()
    seg.spiketrains.append(neo.SpikeTrain([0.5, 1.0, 1.5] * pq.s, t_stop=3.0 * pq.s, name="x"))
    counts = sp.from_neo(seg, window=(0.5, 1.5))
    assert counts.item() == 2  # 0.5 counted, 1.5 not
    assert counts.attrs["spikes_outside"] == 1


def test_missing_neuron_is_marked_invalid_not_nan(rng):
    block = make_block(rng, n_neurons=3, n_trials=3)
    block.segments[1].spiketrains = list(block.segments[1].spiketrains)[:2]
    counts = sp.from_neo(block, window=(0.0, 1.0))
    assert counts.dtype == np.int64
    assert not counts["valid"].sel(neuron="u2", trial=1)
    assert counts.sel(neuron="u2", trial=1).item() == 0
    assert counts["valid"].values.sum() == 8
    sp.validate_counts(counts)


def test_neurons_matched_by_key_whatever_their_order(rng):
    block = make_block(rng, n_neurons=3, n_trials=2)
    reference = sp.from_neo(block, window=(0.0, 2.0))
    block.segments[1].spiketrains = list(block.segments[1].spiketrains)[::-1]
    shuffled = sp.from_neo(block, window=(0.0, 2.0))
    np.testing.assert_array_equal(reference.values, shuffled.values)
    by_name = sp.from_neo(block, window=(0.0, 2.0), neuron_key="name")
    assert list(by_name["neuron"].values) == ["n0", "n1", "n2"]
    np.testing.assert_array_equal(by_name.values, reference.values)


def test_position_matching_when_trains_carry_no_identity():
    segs = []
    for k in range(2):
        seg = neo.Segment()
        for n in range(2):
            seg.spiketrains.append(neo.SpikeTrain([0.1 * (n + 1)] * (k + 1) * pq.s, t_stop=1.0))
        segs.append(seg)
    counts = sp.from_neo(segs)
    assert list(counts["neuron"].values) == ["0", "1"]
    np.testing.assert_array_equal(counts.values, [[1, 2], [1, 2]])


@pytest.mark.parametrize("window_units", ["s", "ms"])
@pytest.mark.parametrize("train_units", ["s", "ms"])
def test_units_converted_once_give_the_same_counts(window_units, train_units):
    data_rng = np.random.default_rng(7)
    block = make_block(data_rng, units=train_units)
    reference = sp.from_neo(make_block(np.random.default_rng(7)), window=(0.3, 1.7))
    window = (0.3, 1.7) if window_units == "s" else (300.0, 1700.0) * pq.ms
    counts = sp.from_neo(block, window=window)
    np.testing.assert_array_equal(counts.values, reference.values)
    np.testing.assert_allclose(counts["duration"].values, 1.4)


def test_bin_size_gives_time_dim_that_sums_to_window_counts(rng):
    block = make_block(rng, n_neurons=2, n_trials=3)
    window = sp.from_neo(block, window=(0.0, 1.0))
    binned = sp.from_neo(block, window=(0.0, 1.0), bin_size=0.1)
    assert binned.dims == ("neuron", "trial", "time")
    np.testing.assert_allclose(binned["time"].values, np.arange(10) * 0.1 + 0.05)
    np.testing.assert_array_equal(binned.sum("time").values, window.values)
    assert binned.attrs["bin_size"] == pytest.approx(0.1)
    ms = sp.from_neo(block, window=(0.0, 1.0), bin_size=100 * pq.ms)
    np.testing.assert_array_equal(ms.values, binned.values)


def _continuous(rng, n_events=6):
    seg = neo.Segment(name="session")
    for n in range(2):
        times = np.sort(rng.uniform(0, 20, 400))
        seg.spiketrains.append(neo.SpikeTrain(times * pq.s, t_stop=20.0 * pq.s, unit_id=f"u{n}"))
    onsets = np.arange(1.0, 1.0 + 3.0 * n_events, 3.0)
    labels = np.array(["citral", "mint"] * (n_events // 2))
    seg.events.append(neo.Event(onsets * pq.s, labels=labels, name="odour_onset"))
    seg.epochs.append(neo.Epoch(onsets * pq.s, durations=np.full(n_events, 0.8) * pq.s, labels=labels, name="stim"))
    return seg, onsets, labels


def test_align_to_event_name_cuts_windows_and_takes_conditions_from_labels(rng):
    seg, onsets, labels = _continuous(rng)
    counts = sp.from_neo(seg, align="odour_onset", window=(-0.5, 1.0))
    assert counts.sizes == {"neuron": 2, "trial": 6}
    np.testing.assert_array_equal(counts["condition"].values, labels)
    np.testing.assert_allclose(counts["event_time"].values, onsets)
    for n in range(2):
        t = seg.spiketrains[n].times.magnitude
        expected = [brute_counts(t, o - 0.5, o + 1.0) for o in onsets]
        np.testing.assert_array_equal(counts.values[n], expected)
    total = sum(st.size for st in seg.spiketrains)
    assert counts.values.sum() + counts.attrs["spikes_outside"] == total


def test_align_to_label_and_condition_from_array_annotations(rng):
    seg, onsets, labels = _continuous(rng)
    ev = neo.Event(
        onsets * pq.s,
        labels=np.array(["stim_on"] * 6),
        name="markers",
        array_annotations={"condition": np.array(["hi", "lo", "hi", "lo", "hi", "lo"])},
    )
    seg.events = [ev]
    counts = sp.from_neo(seg, align="stim_on", window=(0.0, 0.5))
    assert list(counts["condition"].values) == ["hi", "lo", "hi", "lo", "hi", "lo"]


def test_align_to_epoch_uses_its_durations(rng):
    seg, onsets, _ = _continuous(rng)
    counts = sp.from_neo(seg, align="stim")
    np.testing.assert_allclose(counts["duration"].values, 0.8)
    t = seg.spiketrains[0].times.magnitude
    np.testing.assert_array_equal(counts.values[0], [brute_counts(t, o, o + 0.8) for o in onsets])


def test_event_aligned_bins(rng):
    seg, onsets, _ = _continuous(rng)
    binned = sp.from_neo(seg, align="odour_onset", window=(-0.5, 1.0), bin_size=0.25)
    np.testing.assert_allclose(binned["time"].values, [-0.375, -0.125, 0.125, 0.375, 0.625, 0.875])
    window = sp.from_neo(seg, align="odour_onset", window=(-0.5, 1.0))
    np.testing.assert_array_equal(binned.sum("time").values, window.values)


def test_list_of_spike_trains_is_one_trial_unless_from_several_segments(rng):
    block = make_block(rng, n_neurons=2, n_trials=3)
    one = sp.from_neo(list(block.segments[0].spiketrains), window=(0.0, 1.0))
    assert one.sizes == {"neuron": 2, "trial": 1}
    all_trains = [st for s in block.segments for st in s.spiketrains]
    for s in block.segments:
        for st in s.spiketrains:
            st.segment = s
    many = sp.from_neo(all_trains, window=(0.0, 1.0))
    np.testing.assert_array_equal(many.values, sp.from_neo(block, window=(0.0, 1.0)).values)


def test_callers_objects_are_not_modified(rng):
    block = make_block(rng, n_neurons=2, n_trials=3)
    for seg in block.segments:  # unsorted times must be sorted on a copy, not in place
        st = seg.spiketrains[0]
        seg.spiketrains[0] = neo.SpikeTrain(
            st.times[::-1], t_stop=st.t_stop, name=st.name, **copy.deepcopy(st.annotations)
        )
    before = [[np.array(st.times) for st in s.spiketrains] for s in block.segments]
    annotations = [copy.deepcopy(s.annotations) for s in block.segments]
    sp.from_neo(block, window=(0.0, 1.0), bin_size=0.5)
    for s, times, ann in zip(block.segments, before, annotations, strict=True):
        assert s.annotations == ann
        for st, t in zip(s.spiketrains, times, strict=True):
            np.testing.assert_array_equal(np.array(st.times), t)


def _dup_block(rng):
    block = make_block(rng, n_neurons=2, n_trials=2)
    block.segments[1].spiketrains[1].annotations["unit_id"] = "u0"
    return block


def _missing_key_block(rng):
    block = make_block(rng, n_neurons=2, n_trials=2)
    del block.segments[1].spiketrains[0].annotations["unit_id"]
    return block


def _block_of(*segments):
    block = neo.Block()
    block.segments.extend(segments)
    return block


BAD = [
    ("window stop <= start", lambda r: make_block(r), {"window": (1.0, 0.5)}, sp.WindowError, "stop > start"),
    ("window equal", lambda r: make_block(r), {"window": (1.0, 1.0)}, sp.WindowError, "stop > start"),
    ("window of 3", lambda r: make_block(r), {"window": (0, 1, 2)}, sp.WindowError, "pair"),
    (
        "bins do not divide",
        lambda r: make_block(r),
        {"window": (0, 1), "bin_size": 0.3},
        sp.WindowError,
        "divide",
    ),
    (
        "bin_size zero",
        lambda r: make_block(r),
        {"window": (0, 1), "bin_size": 0.0},
        sp.WindowError,
        "positive",
    ),
    (
        "bin_size negative",
        lambda r: make_block(r),
        {"window": (0, 1), "bin_size": -0.1},
        sp.WindowError,
        "positive",
    ),
    ("window in volts", lambda r: make_block(r), {"window": (0, 1) * pq.mV}, sp.UnitsError, "units of time"),
    (
        "window outside",
        lambda r: make_block(r),
        {"window": (1.0, 5.0)},
        sp.WindowError,
        "inside the recorded",
    ),
    (
        "align no match",
        lambda r: make_block(r),
        {"align": "odor", "window": (0, 1)},
        sp.SourceError,
        "must match",
    ),
    (
        "events need a window",
        lambda r: _continuous(r)[0],
        {"align": "odour_onset"},
        sp.WindowError,
        "window is required",
    ),
    ("missing neuron key", _missing_key_block, {}, sp.NeuronKeyError, "must carry the neuron key 'unit_id'"),
    (
        "unknown neuron key",
        lambda r: make_block(r),
        {"neuron_key": "cluster"},
        sp.NeuronKeyError,
        "available keys",
    ),
    ("duplicated ids", _dup_block, {}, sp.NeuronKeyError, "unique within a segment"),
    ("empty block", lambda r: neo.Block(), {}, sp.SourceError, "at least one segment"),
    (
        "block without trains",
        lambda r: _block_of(neo.Segment()),
        {},
        sp.SourceError,
        "must hold spike trains",
    ),
    ("empty list", lambda r: [], {}, sp.SourceError, "empty list"),
    ("numpy array", lambda r: np.arange(3.0), {}, TypeError, "Neo object"),
    ("list of arrays", lambda r: [np.arange(3.0)], {}, TypeError, "list of neo.Segment or of neo.SpikeTrain"),
    ("mixed condition", None, {}, sp.SourceError, "every segment or none"),
]


@pytest.mark.parametrize(("case", "make", "kwargs", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_clear_error(rng, case, make, kwargs, error, match):
    if case == "mixed condition":
        source = make_block(rng)
        del source.segments[0].annotations["condition"]
    else:
        source = make(rng)
    with pytest.raises(error, match=match):
        sp.from_neo(source, **kwargs)


def test_spike_train_in_non_time_units_is_refused():
    with pytest.raises(ValueError, match="Unable to convert"):  # Neo itself refuses volts for times
        neo.SpikeTrain([1.0] * pq.mV, t_stop=2.0 * pq.mV)
    seg = neo.Segment()
    st = neo.SpikeTrain([1.0, 2.0] * pq.s, t_stop=3.0 * pq.s, name="a")
    seg.spiketrains.append(st)
    with pytest.raises(sp.UnitsError, match="units of time"):
        sp.from_neo(seg, window=(0.0, 1.0) * pq.dimensionless)

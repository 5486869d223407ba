"""Laps cut from position (spikepool.io.laps) and the nelpy linear-track reader (spikepool.datasets.nelpy)."""

from __future__ import annotations

from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import spikepool as sp
from spikepool.datasets.nelpy import read_linear_track, read_trajectory
from spikepool.exceptions import SourceError
from spikepool.io.laps import clean_position, cut_laps, spatial_bin_epochs, tracking_lost

# ---------------------------------------------------------------------------------------------
# Synthetic tracks: a triangle wave at 10 Hz, 10..110 units, 10 s from one end to the other
# (10 units/s, so 1 unit per sample; 0 is a tracker dropout, so the track starts at 10). With
# ends=(0, 1), low=0.155, high=0.845 the end zones are x <= 25.5 and x >= 94.5: a pass leaves its
# end zone at 1.5 s and reaches the other at 8.5 s.
# ---------------------------------------------------------------------------------------------
ZONES = {"ends": (0.0, 1.0), "low": 0.155, "high": 0.845, "smooth": 0.0}


def triangle(n_passes: int = 4, rate: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(n_passes * 10 * rate) + 1) / rate
    return t, 10.0 + 100.0 * np.abs(((t / 10.0) % 2.0) - 1.0)  # starts at 110 (high end)


def test_triangle_wave_gives_exactly_the_known_laps():
    t, x = triangle(4)
    laps = cut_laps(t, x, **ZONES)
    np.testing.assert_allclose(laps.times.rescale("s").magnitude, [1.5, 11.5, 21.5, 31.5], atol=1e-9)
    np.testing.assert_allclose(laps.durations.rescale("s").magnitude, 7.0, atol=1e-9)
    assert list(laps.labels) == ["decreasing", "increasing"] * 2
    np.testing.assert_array_equal(laps.array_annotations["lap"], [0, 1, 2, 3])
    np.testing.assert_array_equal(laps.array_annotations["condition"], laps.labels)
    assert laps.name == "laps" and laps.annotations["zone_limits"] == pytest.approx([25.5, 94.5])


def test_default_quantile_ends_on_a_sinusoid_alternate():
    t = np.arange(0.0, 120.0, 1 / 60)
    x = 50 + 40 * np.sin(2 * np.pi * t / 20.0)  # 6 periods: 12 passes, the first one cut at t=0
    laps = cut_laps(t, x, directions=("left", "right"))
    assert len(laps) == 11
    labels = list(laps.labels)
    assert all(a != b for a, b in zip(labels[:-1], labels[1:], strict=False))
    np.testing.assert_allclose(np.diff(laps.times.magnitude), 10.0, atol=2 / 60)


def test_short_dropouts_are_bridged_and_long_gaps_break_a_lap():
    t, x = triangle(4)
    x_drop = x.copy()
    x_drop[[30, 31, 55]] = 0.0  # tracker zeros inside the first pass: a 0.3 s gap at most
    x_drop[140] = np.nan
    laps = cut_laps(t, x_drop, **ZONES)
    np.testing.assert_allclose(laps.times.magnitude, [1.5, 11.5, 21.5, 31.5], atol=1e-9)
    x_gap = x.copy()
    x_gap[200:230] = np.nan  # 3 s lost mid-way through the third pass (20-30 s)
    laps = cut_laps(t, x_gap, **ZONES)
    np.testing.assert_allclose(laps.times.magnitude, [1.5, 11.5, 31.5], atol=1e-9)
    assert list(laps.array_annotations["lap"]) == [0, 1, 2]


def test_a_turn_back_before_the_far_end_is_no_lap():
    t = np.arange(301) / 10.0
    x = np.interp(t, [0.0, 10.0, 16.0, 21.0, 30.0], [110.0, 10.0, 70.0, 20.0, 110.0])  # up to 70, back to 20
    laps = cut_laps(t, x, **ZONES)
    np.testing.assert_allclose(laps.times.magnitude, [1.5, 21.5], atol=1e-9)
    np.testing.assert_allclose(laps.durations.magnitude, [7.0, 7.0], atol=1e-9)
    assert list(laps.labels) == ["decreasing", "increasing"]


def test_stuck_tracker_single_frame_jump_and_min_run():
    t, x = triangle(2)
    stuck = np.r_[np.full(200, 57.0), x]  # 20 s at one value before the animal appears
    ts = np.r_[np.arange(200) / 10.0 - 20.0, t]
    assert tracking_lost(ts, stuck)[:200].all() and not tracking_lost(ts, stuck)[200:].any()
    laps = cut_laps(ts, stuck, **ZONES)
    np.testing.assert_allclose(laps.times.magnitude, [1.5, 11.5], atol=1e-9)
    jumpy = x.copy()
    jumpy[40] = 15.0  # one frame in the far end zone at 4 s, mid-way through the first pass
    assert cut_laps(t, jumpy, **ZONES).durations[0] == pytest.approx(2.5 * pq.s)  # unsmoothed: cut short
    smoothed = cut_laps(t, jumpy, **{**ZONES, "smooth": 0.3})  # a 3-sample running median removes it
    # (it also shaves the turning points by a sample, moving the quantile ends and zones by 1 unit)
    np.testing.assert_allclose(smoothed.times.magnitude, [1.5, 11.5], atol=0.1 + 1e-9)
    np.testing.assert_allclose(smoothed.durations.magnitude, 7.0, atol=0.2 + 1e-9)
    assert len(cut_laps(t, x, **{**ZONES, "min_run": 7.5})) == 0
    assert len(cut_laps(t, x, **{**ZONES, "max_run": 6.0})) == 0


def test_clean_position_interpolates_short_gaps_only():
    t = np.arange(10) / 10.0
    x = np.arange(1.0, 11.0)
    x[[2, 3]] = 0.0  # tracker zeros, 0.3 s between the valid samples around them: bridged
    x[6:9] = np.nan  # 0.4 s between valid samples: left missing
    out = clean_position(t, x, max_gap=0.35, smooth=0)
    np.testing.assert_allclose(out[:6], [1, 2, 3, 4, 5, 6])
    assert np.isnan(out[6:9]).all() and out[9] == 10
    assert np.isnan(clean_position(t, np.r_[0.0, x[1:]], smooth=0)[0])  # a leading dropout stays missing


def test_spatial_visits_split_a_return_and_add_up_to_the_lap():
    t = np.arange(7.0)
    x = np.array([5.0, 15.0, 5.0, 15.0, 25.0, 25.0, 5.0])
    laps = neo.Epoch(times=[0.0, 0.5] * pq.s, durations=[5.0, 3.0] * pq.s, labels=["out", "back"])
    visits = spatial_bin_epochs(t, x, laps, [0.0, 10.0, 20.0, 30.0])
    np.testing.assert_allclose(visits.times.magnitude, [0, 1, 2, 3, 4, 0.5, 1, 2, 3])
    np.testing.assert_allclose(visits.durations.magnitude, [1, 1, 1, 1, 1, 0.5, 1, 1, 0.5])
    np.testing.assert_array_equal(visits.array_annotations["bin"], [0, 1, 0, 1, 2, 0, 1, 0, 1])
    np.testing.assert_array_equal(visits.array_annotations["lap"], [0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert list(visits.labels[:2]) == ["out/bin00", "out/bin01"]
    outside = spatial_bin_epochs(t, x, laps, [0.0, 10.0, 20.0])  # 25 is past the last edge: no bin
    assert outside.durations.magnitude.sum() == pytest.approx(4.0 + 3.0)


def test_from_neo_counts_laps_and_visits_with_occupancy_as_duration(rng):
    t, x = triangle(4, rate=60.0)
    spikes = np.sort(rng.uniform(0.0, 40.0, 400))
    laps = cut_laps(t, x, **ZONES)
    visits = spatial_bin_epochs(t, x, laps, np.linspace(10.0, 110.0, 11))
    seg = neo.Segment()
    seg.spiketrains.append(neo.SpikeTrain(spikes * pq.s, t_stop=40.0 * pq.s, unit_id="u1"))
    seg.epochs += [laps, visits]
    per_lap = sp.from_neo(seg, align="laps")
    np.testing.assert_allclose(per_lap["duration"].values, laps.durations.magnitude)
    assert list(per_lap["condition"].values) == list(laps.labels)
    start = laps.times.magnitude
    expected = [np.sum((spikes >= a) & (spikes < a + d)) for a, d in zip(start, laps.durations.magnitude, strict=True)]
    np.testing.assert_array_equal(per_lap.sel(neuron="u1").values, expected)
    per_bin = sp.from_neo(seg, align="spatial bins")
    np.testing.assert_allclose(per_bin["duration"].values, visits.durations.magnitude)
    assert set(per_bin.coords) >= {"lap", "bin", "condition"}
    by_lap = per_bin.groupby("lap").sum().sel(neuron="u1").values
    np.testing.assert_array_equal(by_lap, expected)  # the visits tile each lap exactly
    occupancy = per_bin["duration"].groupby("lap").sum().values
    np.testing.assert_allclose(occupancy, laps.durations.magnitude, atol=1e-9)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.arange(5.0), np.arange(4.0)), {}, SourceError, "1-D arrays of one length"),
        ((np.array([0.0, 2.0, 1.0]), np.arange(3.0)), {}, SourceError, "must not decrease"),
        ((np.arange(5.0), np.full(5, 3.0)), {"smooth": 0}, SourceError, "must span a track"),
        ((np.arange(5.0), np.full(5, np.nan)), {}, SourceError, "got none"),
        ((np.arange(5.0), np.arange(5.0)), {"low": 0.9, "high": 0.1}, ValueError, "0 <= low < high"),
        ((np.arange(5.0), np.arange(5.0)), {"directions": ("a", "a")}, ValueError, "two distinct labels"),
        ((np.arange(5.0), np.arange(5.0)), {"min_lap": 1.0}, TypeError, "unexpected keyword"),
    ],
)
def test_cut_laps_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        cut_laps(*args, **kwargs)


def test_spatial_bin_epochs_refuses_bad_edges_and_laps():
    t, x = triangle(2)
    laps = cut_laps(t, x, **ZONES)
    with pytest.raises(ValueError, match="strictly increasing"):
        spatial_bin_epochs(t, x, laps, [0.0, 50.0, 40.0])
    with pytest.raises(TypeError, match="neo.Epoch"):
        spatial_bin_epochs(t, x, [(1.5, 7.0)], [0.0, 100.0])


# ---------------------------------------------------------------------------------------------
# The .videoPositionTracking format
# ---------------------------------------------------------------------------------------------
HEADER = (
    b"<Start settings>\nthreshold: 199\ndark: 0\nclockrate: 30000\ncamera resolution: 640x480\n"
    b"pixel scale: 0 pix/cm\nFields: <time uint32><xloc uint16><yloc uint16><xloc2 uint16><yloc2 uint16>\n"
    b"<End settings>\n"
)
RECORD = np.dtype([("time", "<u4"), ("x", "<u2"), ("y", "<u2"), ("x2", "<u2"), ("y2", "<u2")])


def _records(ticks, xs, ys) -> bytes:
    rec = np.zeros(len(ticks), dtype=RECORD)
    rec["time"], rec["x"], rec["y"] = ticks, xs, ys
    return rec.tobytes()


def test_read_trajectory_round_trip(tmp_path):
    path = tmp_path / "a.videoPositionTracking"
    path.write_bytes(HEADER + _records([30000, 30500, 31000], [10, 11, 640], [0, 5, 480]))
    t, x, y = read_trajectory(path)
    np.testing.assert_allclose(t, [1.0, 30500 / 30000, 31000 / 30000])
    np.testing.assert_array_equal(x, [10, 11, 640])
    np.testing.assert_array_equal(y, [0, 5, 480])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"just some bytes", "must start with a '<Start settings>' header"),
        (b"<Start settings>\nclockrate: 30000\n", "must close its header"),
        (HEADER.replace(b"clockrate: 30000\n", b""), "positive 'clockrate:'"),
        (HEADER.replace(b"<yloc2 uint16>", b"<yloc2 uint32>"), "must hold records"),
        (HEADER + _records([1, 2], [1, 2], [1, 2])[:-3], "whole, non-zero number of 12-byte records"),
        (HEADER, "whole, non-zero number of 12-byte records"),
        (HEADER + _records([5, 4], [1, 2], [1, 2]), "non-decreasing times"),
    ],
)
def test_read_trajectory_refuses_malformed_files(tmp_path, content, match):
    path = tmp_path / "bad.videoPositionTracking"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=match):
        read_trajectory(path)


def test_read_linear_track_refuses_a_bad_spike_file(tmp_path):
    from scipy.io import savemat

    traj = tmp_path / "t.videoPositionTracking"
    ticks = np.arange(0, 30000 * 20, 500)
    traj.write_bytes(HEADER + _records(ticks, np.abs((ticks // 500) % 200 - 100) + 10, np.full(ticks.size, 9)))
    not_mat = tmp_path / "spikes.mat"
    not_mat.write_bytes(b"not a matlab file at all")
    with pytest.raises(SourceError, match="must be a MATLAB file"):
        read_linear_track(not_mat, traj)
    other = tmp_path / "other.mat"
    savemat(other, {"units": np.arange(3)})
    with pytest.raises(SourceError, match="must hold a 'spikes' variable; got \\['units'\\]"):
        read_linear_track(other, traj)


# ---------------------------------------------------------------------------------------------
# The real session (skipped without SPIKEPOOL_DATA)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(data_dir) -> tuple[Path, Path]:
    folder = data_dir / "nelpy-linear-track"
    return folder / "spikes.mat", folder / "trajectory.videoPositionTracking"


@pytest.fixture(scope="module")
def block(files) -> neo.Block:
    return read_linear_track(*files)


def _raw_units(path: Path) -> dict[str, np.ndarray]:
    """Independent read: scipy's simplify_cells, spikes{day}{epoch}{tetrode}{cluster}.time."""
    from scipy.io import loadmat

    tetrodes = loadmat(path, simplify_cells=True)["spikes"]  # day and epoch cells collapse: 13 tetrodes
    out = {}
    for i, tet in enumerate(tetrodes, start=1):
        clusters = [tet] if hasattr(tet, "time") else list(np.atleast_1d(tet))
        for j, cl in enumerate(clusters, start=1):
            times = np.atleast_1d(getattr(cl, "time", [])).astype(float)
            if times.size:
                out[f"t{i}c{j}"] = times
    return out


def test_units_match_the_raw_file(block, files):
    raw = _raw_units(files[0])
    seg = block.segments[0]
    assert len(block.segments) == 1 and len(seg.spiketrains) == len(raw) == 31
    got = {st.annotations["unit_id"]: st for st in seg.spiketrains}
    assert set(got) == set(raw)
    for uid, times in raw.items():
        assert got[uid].size == times.size
        np.testing.assert_allclose(got[uid].magnitude, np.sort(times))
        assert uid == f"t{got[uid].annotations['tetrode']}c{got[uid].annotations['cluster']}"
    assert sum(st.size for st in seg.spiketrains) == 28829
    assert got["t4c10"].size == 7959 and got["t10c17"].size == 41
    assert float(seg.spiketrains[0].t_start) == pytest.approx(4396.9975)
    assert float(seg.spiketrains[0].t_stop) == pytest.approx(6365.2707)


def test_position_and_spikes_share_one_clock(block, files):
    seg = block.segments[0]
    (pos,) = seg.irregularlysampledsignals
    assert pos.name == "position" and pos.shape == (118965, 2)
    t = pos.times.rescale("s").magnitude
    raw = np.frombuffer(files[1].read_bytes()[len(HEADER) :], dtype=RECORD)
    np.testing.assert_allclose(t, raw["time"] / 30000.0)
    assert t[0] == pytest.approx(4397.0317) and t[-1] == pytest.approx(6379.4556)
    first = min(st.magnitude[0] for st in seg.spiketrains)
    last = max(st.magnitude[-1] for st in seg.spiketrains)
    assert t[0] - 0.05 < first and last < t[-1]  # every spike falls in the tracked period
    valid = np.isfinite(pos.magnitude[:, 0])
    # tracking is frozen before the rat is put on the track and after it is lifted off
    assert t[valid][0] == pytest.approx(4422.888, abs=0.01) and t[valid][-1] == pytest.approx(5382.237, abs=0.01)
    assert valid.sum() == 118965 - 61383


def test_laps_alternate_and_span_the_track(block):
    seg = block.segments[0]
    (laps,) = seg.epochs
    (pos,) = seg.irregularlysampledsignals
    t, x = pos.times.magnitude, clean_position(pos.times.magnitude, pos.magnitude[:, 0])
    assert len(laps) == 48
    labels = list(laps.labels)
    assert labels == ["leftward", "rightward"] * 24
    lo, hi = laps.annotations["track_ends"]
    assert (lo, hi) == (138.0, 475.0)  # camera pixels
    dur = laps.durations.magnitude
    assert np.median(dur) == pytest.approx(3.16, abs=0.01) and dur.min() > 2.0 and dur.max() < 65.0
    for start, d, label in zip(laps.times.magnitude, dur, labels, strict=True):
        inside = x[(t >= start) & (t <= start + d)]
        assert inside.min() <= lo + 0.2 * (hi - lo) and inside.max() >= hi - 0.2 * (hi - lo)
        first, last = inside[0], inside[-1]
        assert (last < first) == (label == "leftward")


def test_spatial_visits_during_each_lap_add_up_to_its_duration(block):
    seg = block.segments[0]
    (laps,) = seg.epochs
    (pos,) = seg.irregularlysampledsignals
    t = pos.times.magnitude
    x = clean_position(t, pos.magnitude[:, 0])
    visits = spatial_bin_epochs(t, x, laps, np.arange(130.0, 561.0, 10.0))  # 10 px bins over every position
    occupancy = np.bincount(visits.array_annotations["lap"], visits.durations.magnitude, minlength=len(laps))
    np.testing.assert_allclose(occupancy, laps.durations.magnitude, atol=1 / 60)
    assert len(visits) > 24 * len(laps)  # a lap crosses the 24 bins between the end zones, at least


def test_load_counts_gives_one_trial_per_lap(block, files):
    counts = sp.datasets.load_counts("nelpy-linear-track")
    sp.validate_counts(counts)
    assert counts.sizes == {"neuron": 31, "trial": 48}
    assert counts.attrs["align"] == "laps"
    (laps,) = block.segments[0].epochs
    np.testing.assert_array_equal(counts["condition"].values, laps.labels)
    np.testing.assert_allclose(counts["duration"].values, laps.durations.magnitude)
    raw = _raw_units(files[0])
    start, stop = laps.times.magnitude, (laps.times + laps.durations).magnitude
    for uid in ["t1c1", "t4c10", "t10c17"]:
        expected = [np.sum((raw[uid] >= a) & (raw[uid] < b)) for a, b in zip(start, stop, strict=True)]
        np.testing.assert_array_equal(counts.sel(neuron=uid).values, expected)
    assert counts.values.sum() + counts.attrs["spikes_outside"] == counts.attrs["spikes_total"] == 28829
    assert set(counts["tetrode"].values) == {1, 3, 4, 9, 10, 13}


def test_place_cells_fire_at_one_place_lap_after_lap(block):
    seg = block.segments[0]
    (laps,) = seg.epochs
    (pos,) = seg.irregularlysampledsignals
    t = pos.times.magnitude
    x = clean_position(t, pos.magnitude[:, 0])
    trains = {st.annotations["unit_id"]: st.magnitude for st in seg.spiketrains}

    def spread(uid: str, direction: str, shift: float = 0.0) -> tuple[int, float]:
        medians = []
        for start, d, label in zip(laps.times.magnitude, laps.durations.magnitude, laps.labels, strict=True):
            s = trains[uid] + shift
            s = s[(s >= start) & (s < start + d)]
            if label == direction and s.size >= 3:
                medians.append(np.median(np.interp(s, t, x)))
        q25, q75 = np.percentile(medians, [25, 75])
        return len(medians), q75 - q25

    def place_cells(shift: float = 0.0) -> bool:  # firing position repeats within 17 px over 20+ laps
        results = [spread(uid, direction, shift) for uid, direction in [("t10c5", "leftward"), ("t1c22", "rightward")]]
        return all(n >= 20 and iqr < 0.05 * 337 for n, iqr in results)

    assert place_cells()
    assert not place_cells(-2.0) and not place_cells(2.0)  # a 2 s offset between the clocks would show

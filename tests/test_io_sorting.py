"""from_sorting: SpikeInterface sortings (and SortingAnalyzers) to counts through the exact counting engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import brute_counts

import spikepool as sp

si = pytest.importorskip("spikeinterface.core", reason="sorting tests need the 'spikeinterface' extra")


@pytest.fixture(scope="module")
def sorting():
    # two segments (20 s and 10 s) at 30 kHz, 10 Hz per unit, a unit property of strings and one of numbers
    out = si.generate_sorting(
        num_units=4, sampling_frequency=30000.0, durations=[20.0, 10.0], firing_rates=10.0, seed=0
    )
    out.set_property("quality", np.array(["good", "mua", "good", "good"]))
    out.set_property("depth_um", np.array([100.0, 250.0, 400.0, 550.0]))
    return out


def _seconds(sorting, unit, segment):
    # independent of spikepool: sample index / sampling frequency (these segments start at 0 s)
    return sorting.get_unit_spike_train(unit, segment_index=segment) / sorting.get_sampling_frequency()


def test_counts_equal_a_direct_count_of_the_sample_indices(sorting):
    events = [np.arange(1.0, 19.0, 2.0), np.arange(0.5, 9.0, 1.5)]
    labels = ["a", "b"] * 7 + ["a"]
    counts = sp.from_sorting(sorting, events, window=(-0.25, 0.75), conditions=labels)
    assert counts.sizes == {"neuron": 4, "trial": 15} and counts["valid"].values.all()
    np.testing.assert_array_equal(counts["segment"].values, [0] * 9 + [1] * 6)
    assert list(counts["condition"].values[:3]) == ["a", "b", "a"]
    for n, unit in enumerate(sorting.get_unit_ids()):
        expected = [
            brute_counts(_seconds(sorting, unit, s), t - 0.25, t + 0.75) for s, ev in enumerate(events) for t in ev
        ]
        np.testing.assert_array_equal(counts.values[n], expected)
        total = sum(sorting.get_unit_spike_train(unit, segment_index=s).size for s in range(2))
        assert int(counts["spikes_outside"].values[n]) == total - int(counts.values[n].sum())  # nothing lost
    assert list(counts["quality"].values) == ["good", "mua", "good", "good"]
    np.testing.assert_allclose(counts["depth_um"].values, [100.0, 250.0, 400.0, 550.0])
    assert counts.attrs["sampling_frequency"] == 30000.0
    # bins add up to the windows; events, window and bins in ms give the same counts
    in_ms = [1000.0 * e for e in events]
    binned = sp.from_sorting(sorting, in_ms, window=(-250, 750), bin_size=250, units="ms")
    assert binned.sizes["time"] == 4
    np.testing.assert_array_equal(binned.sum("time").values, counts.values)


def test_a_sorting_analyzer_gives_its_quality_metrics_as_neuron_coords():
    import spikeinterface.metrics  # noqa: F401  (registers the quality_metrics extension)

    recording, gt = si.generate_ground_truth_recording(durations=[12.0], num_units=3, seed=1)
    analyzer = si.create_sorting_analyzer(gt, recording, sparse=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # presence_ratio: 60 s bins longer than the 12 s recording
        analyzer.compute(["random_spikes", "templates", "noise_levels"], verbose=False)
        analyzer.compute("quality_metrics", metric_names=["snr", "isi_violation"], verbose=False)
    metrics = analyzer.get_extension("quality_metrics").get_data()
    counts = sp.from_sorting(analyzer, np.arange(1.0, 11.0), window=(0.0, 0.5))
    np.testing.assert_allclose(counts["snr"].values, metrics.loc[gt.get_unit_ids(), "snr"].to_numpy())
    assert "isi_violations_ratio" in counts.coords
    assert counts.values.sum() > 0


def test_windows_beyond_a_registered_recording_are_refused():
    recording, gt = si.generate_ground_truth_recording(durations=[12.0], num_units=2, seed=2)
    gt.register_recording(recording)
    sp.from_sorting(gt, [11.0], window=(0.0, 1.0))  # [11, 12): inside
    with pytest.raises(sp.WindowError, match="inside the recorded segment"):
        sp.from_sorting(gt, [11.5], window=(0.0, 1.0))


def test_bad_inputs_are_named(sorting):
    with pytest.raises(sp.SourceError, match="each of the sorting's 2 segments"):
        sp.from_sorting(sorting, np.arange(1.0, 5.0), window=(0.0, 0.5))
    with pytest.raises(sp.SourceError, match="one label per trial"):
        sp.from_sorting(sorting, [np.arange(1.0, 5.0), [1.0]], window=(0.0, 0.5), conditions=["a"])
    with pytest.raises(sp.ArgumentTypeError, match="BaseSorting or SortingAnalyzer"):
        sp.from_sorting({"u": [1.0]}, [1.0], window=(0.0, 0.5))
    with pytest.raises(sp.SourceError, match="at least one trial"):
        sp.from_sorting(sorting, [[], []], window=(0.0, 0.5))

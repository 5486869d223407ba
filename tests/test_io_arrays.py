"""from_spike_times: plain arrays against an independent numpy.histogram count."""

from __future__ import annotations

import numpy as np
import pytest
import quantities as pq

import spikepool as sp


def _session(rng, n_neurons=4, n_trials=30):
    starts = np.arange(n_trials) * 2.0 + 0.5
    spikes = {f"n{i}": np.sort(rng.uniform(0, starts[-1] + 3, rng.integers(200, 600))) for i in range(n_neurons)}
    return spikes, starts


def test_counts_match_numpy_histogram(rng):
    spikes, starts = _session(rng)
    counts = sp.from_spike_times(spikes, starts, window=(-0.2, 0.8), conditions=["x", "y"] * 15)
    for i, (nid, t) in enumerate(spikes.items()):
        expected = [np.histogram(t, bins=[s - 0.2, s + 0.8])[0][0] for s in starts]
        np.testing.assert_array_equal(counts.sel(neuron=nid).values, expected)
        assert counts["neuron"].values[i] == nid
    assert list(counts["condition"].values[:2]) == ["x", "y"]
    np.testing.assert_allclose(counts["duration"].values, 1.0)


def test_binned_counts_match_numpy_histogram(rng):
    spikes, starts = _session(rng, n_neurons=2, n_trials=5)
    binned = sp.from_spike_times(spikes, starts, window=(0.0, 1.0), bin_size=0.1)
    t = spikes["n1"]
    for k, s in enumerate(starts):
        edges = s + np.arange(11) * 0.1
        np.testing.assert_array_equal(binned.sel(neuron="n1").values[k], np.histogram(t, bins=edges)[0])


def test_units_ms_and_quantities_agree(rng):
    spikes, starts = _session(rng, n_neurons=2, n_trials=6)
    ref = sp.from_spike_times(spikes, starts, window=(0.0, 0.5))
    ms = sp.from_spike_times({k: v * 1000 for k, v in spikes.items()}, starts * 1000, window=(0, 500), units="ms")
    q = sp.from_spike_times([v * pq.s for v in spikes.values()], starts * pq.s, window=(0, 500) * pq.ms)
    np.testing.assert_array_equal(ms.values, ref.values)
    np.testing.assert_array_equal(q.values, ref.values)
    assert list(q["neuron"].values) == ["0", "1"]


def test_inputs_are_not_modified(rng):
    spikes, starts = _session(rng, n_neurons=1, n_trials=3)
    t = spikes["n0"][::-1].copy()
    before = t.copy()
    sp.from_spike_times([t], starts, window=(0.0, 1.0))
    np.testing.assert_array_equal(t, before)


BAD = [
    ({"units": None}, sp.UnitsError, "must carry time units"),
    ({"units": "mV"}, sp.UnitsError, "units of time"),
    ({"units": "parsec-ish"}, sp.UnitsError, "units of time"),
    ({"window": (0.5, 0.1)}, sp.WindowError, "stop > start"),
    ({"conditions": ["a"]}, sp.SourceError, "one label per trial"),
    ({"bin_size": 0.3}, sp.WindowError, "divide"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_input(kwargs, error, match):
    args = {"spike_times": [np.array([0.1, 0.2])], "trial_starts": [0.0, 1.0], "window": (0.0, 0.5)}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        sp.from_spike_times(**args)


def test_nan_spike_times_are_refused():
    with pytest.raises(sp.UnitsError, match="finite"):
        sp.from_spike_times([np.array([0.1, np.nan])], [0.0], window=(0.0, 0.5))

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

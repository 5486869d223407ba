"""Hypothesis properties of counting: spikes conserved, bins tile windows, netCDF round-trip exact."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import spikepool as sp

times = arrays(np.float64, st.integers(0, 200), elements=st.floats(0.0, 100.0, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(
    spikes=st.lists(times, min_size=1, max_size=4),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=12),
    n_bins=st.integers(1, 20),
    bin_size=st.sampled_from([0.01, 0.05, 0.1, 0.25, 1.0]),
)
def test_every_spike_counted_once_and_bins_conserve_the_total(spikes, gaps, n_bins, bin_size):
    length = n_bins * bin_size
    starts = np.cumsum(np.asarray(gaps) + length)  # disjoint windows
    window = (0.0, length)
    counts = sp.from_spike_times(spikes, starts, window=window)
    binned = sp.from_spike_times(spikes, starts, window=window, bin_size=bin_size)
    np.testing.assert_array_equal(binned.sum("time").values, counts.values)
    total = sum(a.size for a in spikes)
    assert counts.attrs["spikes_total"] == total
    assert int(counts.values.sum()) + int(counts.attrs["spikes_outside"]) == total
    for i, a in enumerate(spikes):
        inside = ((a[:, None] >= starts) & (a[:, None] < starts + length)).sum()
        assert counts.values[i].sum() == inside


@settings(max_examples=25, deadline=None)
@given(
    values=arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.integers(0, 10**6)),
    conditions=st.lists(st.text("abcxyz_-", min_size=1, max_size=6), min_size=6, max_size=6),
    duration=st.floats(1e-3, 100.0),
    binned=st.booleans(),
)
def test_netcdf_round_trip_is_exact(values, conditions, duration, binned):
    n_trial = values.shape[1]
    data = values[..., None].repeat(2, axis=2) if binned else values
    counts = sp.from_array(
        data,
        duration=duration,
        condition=conditions[:n_trial],
        valid=np.ones(values.shape, dtype=bool),
        attrs={"window": np.array([0.0, 1.5])},
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.nc"
        counts.to_netcdf(path)
        back = sp.open_counts(path)
    xr.testing.assert_identical(back, counts)
    assert back.dims == counts.dims

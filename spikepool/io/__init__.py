"""Loaders: recordings (Neo objects, files, NWB, spike sortings, plain arrays) to spike counts."""

from spikepool.io.arrays import from_spike_times
from spikepool.io.files import load
from spikepool.io.laps import clean_position, cut_laps, spatial_bin_epochs
from spikepool.io.neo import from_neo
from spikepool.io.nwb import from_nwb
from spikepool.io.pynapple import from_pynapple
from spikepool.io.sorting import from_sorting

__all__ = [
    "clean_position",
    "cut_laps",
    "from_neo",
    "from_nwb",
    "from_pynapple",
    "from_sorting",
    "from_spike_times",
    "load",
    "spatial_bin_epochs",
]

"""NWB units and trials tables to spike counts: ``from_nwb`` (extra ``nwb``: pynwb)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, NeuronKeyError, SourceError
from spikepool.io._core import Neurons, Trials, assemble, binned_trials, sorted_times
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_nwb"]


def _pynwb():
    try:
        import pynwb
    except ImportError as err:
        raise ImportError("from_nwb needs pynwb: pip install 'spikepool[nwb]'") from err
    return pynwb


def _scalar_columns(df, skip: set[str]) -> dict[str, np.ndarray]:
    out = {}
    for col in df.columns:
        if col in skip:
            continue
        values = df[col].to_numpy()
        if values.dtype.kind in "biuf":
            out[col] = values
        elif all(isinstance(v, str) for v in values):
            out[col] = values.astype(str)
    return out


def _from_nwbfile(nwb, window, align, bin_size, condition_key, neuron_key, label) -> xr.DataArray:
    if nwb.units is None or len(nwb.units) == 0:
        raise SourceError(f"the NWB file must have a units table with spike times; got none in {label}.")
    if nwb.trials is None or len(nwb.trials) == 0:
        raise SourceError(
            f"the NWB file must have a trials table; got none in {label}. "
            "Hint: for continuous data use from_spike_times() with your own trial starts."
        )
    units = nwb.units.to_dataframe()
    trials_df = nwb.trials.to_dataframe()
    if neuron_key is None:
        ids = [str(i) for i in units.index]
    elif neuron_key in units.columns:
        ids = [str(v) for v in units[neuron_key]]
    else:
        raise SourceError(
            f"neuron_key must be a column of the units table; got {neuron_key!r}, columns {list(units.columns)}."
        )
    if len(set(ids)) != len(ids):
        raise NeuronKeyError(
            f"neuron ids must be unique; got duplicates in {neuron_key or 'units.id'}. "
            "Hint: choose a neuron_key column that tells the units apart."
        )
    spikes = [
        {0: sorted_times(to_seconds(np.asarray(t, dtype=float), f"spike_times of unit {nid}", "s"))}
        for nid, t in zip(ids, units["spike_times"], strict=True)
    ]
    if align not in trials_df.columns:
        raise SourceError(
            f"align must be a time column of the trials table; got {align!r}, columns {list(trials_df.columns)}."
        )
    t_align = trials_df[align].to_numpy(dtype=float)
    win = window_to_seconds(window)
    if win is None:
        if align != "start_time":
            raise SourceError(f"window is required with align={align!r}; got None.")
        start, stop = trials_df["start_time"].to_numpy(float), trials_df["stop_time"].to_numpy(float)
    else:
        start, stop = t_align + win[0], t_align + win[1]
    n = t_align.size
    if condition_key and condition_key in trials_df.columns:
        cond = trials_df[condition_key].to_numpy().astype(str)
    else:
        cond = np.full(n, "")
    extra = _scalar_columns(trials_df, {condition_key, "start_time", "stop_time", "timeseries"})
    extra = {("nwb_" + k if k in ("t_start", "t_stop", "duration", "event_time") else k): v for k, v in extra.items()}
    trials = Trials(t_align, start, stop, np.zeros(n, dtype=np.int64), cond, extra)
    neuron_coords = _scalar_columns(units, {"spike_times", "obs_intervals", neuron_key})
    rel_edges = binned_trials(trials, None if bin_size is None else float(to_seconds(bin_size, "bin_size", "s")))
    attrs: dict = {"align": align, "source": label}
    if win is not None:
        attrs["window"] = np.array(win)
    if rel_edges is not None:
        attrs["bin_size"] = float(rel_edges[1] - rel_edges[0])
        attrs["window"] = rel_edges[[0, -1]].copy()
    return assemble(Neurons(ids, spikes, neuron_coords), trials, rel_edges=rel_edges, attrs=attrs)


def from_nwb(
    source: Any,
    *,
    window: Any = None,
    align: str = "start_time",
    bin_size: Any = None,
    condition_key: str | None = "condition",
    neuron_key: str | None = None,
) -> xr.DataArray:
    """Count the spikes of an NWB file's units table in the trials of its trials table.

    Parameters
    ----------
    source : str, path-like or pynwb.NWBFile
        NWB file (read with ``pynwb.NWBHDF5IO``) or an ``NWBFile`` in memory.
    window : (start, stop), optional
        Window (s, or quantities) relative to the ``align`` column. Default: each trial's
        ``[start_time, stop_time)``.
    align : str
        Time column of the trials table to align to (e.g. ``"stim_on"``); ``"start_time"`` default.
    bin_size : float or quantities.Quantity, optional
        Bin width (s); gives ``("neuron", "trial", "time")`` counts.
    condition_key : str or None
        Trials-table column giving each trial's condition.
    neuron_key : str, optional
        Units-table column giving neuron ids; default the table's ``id``.

    Returns
    -------
    xarray.DataArray
        int64 counts (neuron, trial[, time]) in the schema of ``from_neo``; scalar units-table
        columns become neuron coords and scalar trials-table columns trial coords.
    """
    pynwb = _pynwb()
    if isinstance(source, pynwb.NWBFile):
        return _from_nwbfile(source, window, align, bin_size, condition_key, neuron_key, "NWBFile")
    if not isinstance(source, str | os.PathLike):
        raise ArgumentTypeError(f"source must be an NWB file path or a pynwb.NWBFile; got {type(source).__name__}.")
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source must be an existing NWB file; got {path!r}, which does not exist.")
    try:
        io = pynwb.NWBHDF5IO(path, "r")
        nwb = io.read()
    except Exception as err:
        raise SourceError(f"source must be a readable NWB file; got {path!r}: {type(err).__name__}: {err}.") from err
    try:
        return _from_nwbfile(nwb, window, align, bin_size, condition_key, neuron_key, path)
    finally:
        io.close()

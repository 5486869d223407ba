"""NWB units and trials tables to spike counts: ``from_nwb`` (extra ``nwb``: pynwb)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, NeuronKeyError, SourceError, SpikepoolWarning
from spikepool.io._core import (
    Neurons,
    Trials,
    assemble,
    binned_trials,
    column_conditions,
    covered,
    overlapping,
    scalar_columns,
    sorted_times,
)
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_nwb"]


def _pynwb():
    try:
        import pynwb
    except ImportError as err:
        raise ImportError("from_nwb needs pynwb: pip install 'spikepool[nwb]'") from err
    return pynwb


def _brain_areas(table) -> np.ndarray | None:
    """Each unit's brain area: the ``location`` of its ``electrodes`` rows ("/"-joined where they differ)."""
    if "electrodes" not in table.colnames:
        return None
    out = []
    for i in range(len(table)):
        electrodes = table["electrodes"][i]
        places = electrodes["location"] if "location" in getattr(electrodes, "columns", ()) else []
        out.append("/".join(sorted({str(v) for v in places})))
    return np.asarray(out, dtype=str)


def _select_units(units, selection, ids: list[str], label: str) -> np.ndarray:
    """Row positions of the units table that ``selection`` keeps (a pandas query or a list of neuron ids)."""
    if selection is None:
        return np.arange(len(ids))
    if isinstance(selection, str):
        table = units.reset_index()  # the table's id becomes a column (queries may use it); rows by position
        try:
            kept = table.query(selection)
        except Exception as err:
            columns = [c for c in table.columns if c not in ("spike_times", "obs_intervals", "electrodes")]
            raise SourceError(
                f"units must be a query on the units table's columns {columns}; got {selection!r}: "
                f"{type(err).__name__}: {err}. Hint: units=\"quality == 'good'\"."
            ) from err
        rows = kept.index.to_numpy()
    else:
        wanted = [str(v) for v in np.atleast_1d(np.asarray(selection, dtype=object))]
        if len(set(wanted)) != len(wanted):
            raise NeuronKeyError(f"units must name each neuron once; got duplicates in {wanted}.")
        position = {nid: i for i, nid in enumerate(ids)}
        missing = [w for w in wanted if w not in position]
        if missing:
            raise NeuronKeyError(
                f"units must name neurons of the units table; got {missing[:5]} not among {ids[:10]}"
                f"{'...' if len(ids) > 10 else ''} in {label}."
            )
        rows = np.array([position[w] for w in wanted], dtype=np.int64)
    if rows.size == 0:
        raise SourceError(f"units must select at least one unit; got {selection!r}, which selects none in {label}.")
    return rows


def _from_nwbfile(nwb, window, align, bin_size, condition_key, neuron_key, label, selection=None) -> xr.DataArray:
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
    areas = _brain_areas(nwb.units)
    if areas is not None and "brain_area" not in units.columns:
        units = units.assign(brain_area=areas)
    rows = _select_units(units, selection, ids, label)
    units = units.iloc[rows]
    ids = [ids[i] for i in rows]
    spikes = [
        {0: sorted_times(to_seconds(np.asarray(t, dtype=float), f"spike_times of unit {nid}", "s"))}
        for nid, t in zip(ids, units["spike_times"], strict=True)
    ]
    if align not in trials_df.columns:
        raise SourceError(
            f"align must be a time column of the trials table; got {align!r}, columns {list(trials_df.columns)}."
        )
    try:
        t_align = trials_df[align].to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise SourceError(
            f"align must be a time column of the trials table; got {align!r}, a column of {trials_df[align].dtype}."
        ) from err
    win = window_to_seconds(window)
    if win is None:
        if align != "start_time":
            raise SourceError(f"window is required with align={align!r}; got None.")
        start, stop = trials_df["start_time"].to_numpy(float), trials_df["stop_time"].to_numpy(float)
    else:
        start, stop = t_align + win[0], t_align + win[1]
    n = t_align.size
    cond = column_conditions(trials_df, condition_key, "condition", n, f"the trials table in {label}")
    extra = scalar_columns(trials_df, {condition_key, "start_time", "stop_time", "timeseries"})
    extra = {("nwb_" + k if k in ("t_start", "t_stop", "duration", "event_time") else k): v for k, v in extra.items()}
    trials = Trials(t_align, start, stop, np.zeros(n, dtype=np.int64), cond, extra)
    neuron_coords = scalar_columns(units, {"spike_times", "obs_intervals", neuron_key})
    rel_edges = binned_trials(trials, None if bin_size is None else float(to_seconds(bin_size, "bin_size", "s")))
    attrs: dict = {"align": align, "source": label}
    if win is not None:
        attrs["window"] = np.array(win)
    if rel_edges is not None:
        attrs["bin_size"] = float(rel_edges[1] - rel_edges[0])
        attrs["window"] = rel_edges[[0, -1]].copy()
    counts = assemble(Neurons(ids, spikes, neuron_coords), trials, rel_edges=rel_edges, attrs=attrs)
    return _mark_unobserved(nwb, units, counts, start, stop)


def _mark_unobserved(nwb, units, counts: xr.DataArray, start: np.ndarray, stop: np.ndarray) -> xr.DataArray:
    """``valid = False`` where a unit was not observed over the whole trial (its ``obs_intervals``) or the
    trial shares time with the file's ``invalid_times``; their spikes leave the counts and are reported in
    ``spikes_unobserved`` (neuron) and the attrs, never counted as silence."""
    observed = np.ones(counts["valid"].shape, dtype=bool)
    if "obs_intervals" in units.columns:
        for n, intervals in enumerate(units["obs_intervals"]):
            box = np.asarray(intervals, dtype=float).reshape(-1, 2)
            observed[n] = covered(start, stop, box)
    invalid_trials = np.zeros(start.size, dtype=bool)
    if nwb.invalid_times is not None and len(nwb.invalid_times) > 0:
        table = nwb.invalid_times.to_dataframe()
        box = np.column_stack([table["start_time"].to_numpy(float), table["stop_time"].to_numpy(float)])
        invalid_trials = overlapping(start, stop, box)
        observed &= ~invalid_trials[None, :]
    valid = counts["valid"].values & observed
    never = np.flatnonzero(counts["valid"].values.any(axis=1) & ~valid.any(axis=1))
    if never.size:
        names = counts["neuron"].values[never].tolist()
        warnings.warn(
            f"every unit should be observed in some trial; got {never.size} unit(s) ({names[:5]}) whose "
            "obs_intervals cover none of the trial windows (or whose trials all overlap invalid_times): they are "
            "valid=False throughout. Hint: check the units table's obs_intervals, or select units with units=.",
            SpikepoolWarning,
            stacklevel=4,
        )
    dropped = counts.values * ~valid.reshape(valid.shape + (1,) * (counts.ndim - 2))
    spikes = dropped.reshape(dropped.shape[0], -1).sum(axis=1)
    out = counts.copy(data=counts.values - dropped)
    out = out.assign_coords(
        valid=(("neuron", "trial"), valid),
        spikes_unobserved=(
            "neuron",
            spikes.astype(np.int64),
            {"long_name": "spikes in trials marked valid=False by obs_intervals or invalid_times"},
        ),
    )
    out.attrs["invalid_times_trials"] = np.int64(invalid_trials.sum())
    out.attrs["unobserved_pairs"] = np.int64((counts["valid"].values & ~observed).sum())
    out.attrs["spikes_unobserved"] = np.int64(spikes.sum())
    return out


def from_nwb(
    source: Any,
    *,
    window: Any = None,
    align: str = "start_time",
    bin_size: Any = None,
    condition_key: str | None = "condition",
    neuron_key: str | None = None,
    units: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Count the spikes of an NWB file's units table in the trials of its trials table.

    A unit counts in a trial only where it was observed: a units table with ``obs_intervals`` marks the
    (unit, trial) pairs whose window is not wholly inside the unit's intervals ``valid=False`` (so a unit
    observed over [0, 7.9) s is unrecorded, not silent, in a trial at 8 s), and a trial that shares time
    with the file's ``invalid_times`` is ``valid=False`` for every unit. The spikes of such pairs are left
    out of the counts (which are 0 wherever ``valid`` is False) and reported: ``spikes_unobserved`` per
    neuron, and ``attrs`` ``unobserved_pairs``, ``invalid_times_trials``, ``spikes_unobserved``.

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
    units : str or sequence of str, optional
        Which units to count: a query on the units table's columns (``pandas.DataFrame.query``, e.g.
        ``"quality == 'good'"`` or ``"brain_area == 'CA1' and snr > 4"``), or a list of neuron ids.
        Default: all.

    Returns
    -------
    xarray.DataArray
        int64 counts, dims ``("neuron", "trial")`` or, with ``bin_size``, ``("neuron", "trial", "time")``,
        in the schema of ``from_neo`` (trial coords ``condition``, ``duration``, ``t_start``, ``t_stop``,
        ``event_time``; ``valid`` (neuron, trial); neuron coords ``spikes_outside`` and
        ``spikes_unobserved``). Scalar units-table columns (quality labels, ``location``, metrics) become
        neuron coords, ``brain_area`` the ``location`` of each unit's ``electrodes``, and scalar
        trials-table columns trial coords (``nwb_``-prefixed where a name is taken).

    Raises
    ------
    ImportError
        pynwb is not installed.
    ArgumentTypeError
        ``source`` is neither a path nor an ``NWBFile``; ``window`` is a single number; ``window`` or
        ``bin_size`` is not numeric.
    FileNotFoundError
        ``source`` is a path to no file.
    SourceError
        The file cannot be read as NWB, or has no (or an empty) units or trials table; ``neuron_key`` is
        not a units-table column; ``align`` is not a numeric trials-table column; ``window`` is None with
        ``align`` other than ``"start_time"``; ``condition_key`` (other than the default, which may be
        absent) is not a trials-table column; ``units`` is a failing query or selects no unit.
    NeuronKeyError
        Neuron ids repeat (in ``neuron_key``'s column); ``units`` names a neuron twice or one not in the
        table.
    WindowError
        ``window`` has other than two values or ``stop <= start``; ``bin_size`` is not positive, does not
        divide the window, or meets trials of different lengths (``window`` None).
    UnitsError
        ``window`` or ``bin_size`` quantities in units other than time; NaN or infinite spike times,
        ``window`` or ``bin_size``.

    Examples
    --------
    >>> import datetime, pynwb
    >>> import spikepool as sp
    >>> nwb = pynwb.NWBFile("demo", "demo-1", datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    >>> nwb.add_unit(spike_times=[0.1, 0.4, 1.2, 1.3])
    >>> nwb.add_trial(start_time=0.0, stop_time=0.5)
    >>> nwb.add_trial(start_time=1.0, stop_time=1.5)
    >>> sp.from_nwb(nwb).values.tolist()
    [[2, 2]]

    From a file, aligned to a trials-table column, good units only:

    >>> counts = sp.from_nwb("session.nwb", align="stim_on", window=(-0.5, 1.0),
    ...                      condition_key="odour", units="quality == 'good'")  # doctest: +SKIP
    """
    pynwb = _pynwb()
    if isinstance(source, pynwb.NWBFile):
        return _from_nwbfile(source, window, align, bin_size, condition_key, neuron_key, "NWBFile", units)
    if not isinstance(source, str | os.PathLike):
        raise ArgumentTypeError(f"source must be an NWB file path or a pynwb.NWBFile; got {type(source).__name__}.")
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source must be an existing NWB file; got {path!r}, which does not exist.")
    io = None
    try:
        io = pynwb.NWBHDF5IO(path, "r")
        nwb = io.read()
    except Exception as err:
        if io is not None:
            io.close()
        raise SourceError(f"source must be a readable NWB file; got {path!r}: {type(err).__name__}: {err}.") from err
    try:
        return _from_nwbfile(nwb, window, align, bin_size, condition_key, neuron_key, path, units)
    finally:
        io.close()

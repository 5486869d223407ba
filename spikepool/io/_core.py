"""Exact spike counting on float seconds: the engine behind every loader.

Loaders (Neo, plain arrays, NWB) reduce their input to two things: per neuron, the sorted spike times
of each spike container ("segment"), and a trial table with an absolute counting window per trial.
Counting is a pair of ``searchsorted`` calls per neuron and container, vectorised over trials, so its
cost grows with the number of spikes and windows, never with a per-trial Python loop.

Windows and bins are half-open, ``[start, stop)``: a spike exactly at ``start`` is counted, one exactly
at ``stop`` belongs to the next bin (or to no window).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from spikepool._version import __version__
from spikepool.exceptions import SourceError, SpikepoolWarning, WindowError

__all__ = ["Neurons", "Trials", "assemble", "bin_edges", "count_spikes", "sorted_times"]

#: Tolerance (s) when comparing window edges with the recorded extent and bin sizes with windows.
TIME_TOL = 1e-9

COUNTING_RULE = "half-open windows and bins [start, stop): a spike at start counts, one at stop does not"


@dataclass
class Trials:
    """Trial table: one row per trial, absolute times in seconds."""

    align: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    segment: np.ndarray
    condition: np.ndarray
    coords: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.align.size)


@dataclass
class Neurons:
    """Neurons: ids, per-neuron ``{segment: sorted float64 seconds}``, and neuron-level coords."""

    ids: list[str]
    spikes: list[dict[int, np.ndarray]]
    coords: dict[str, np.ndarray] = field(default_factory=dict)


def scalar_columns(table, skip: set) -> dict[str, np.ndarray]:
    """The columns of a pandas ``table`` that hold one number, boolean or string per row (not in ``skip``)."""
    out = {}
    for col in table.columns:
        if col in skip:
            continue
        values = table[col].to_numpy()
        if values.dtype.kind in "biuf":
            out[str(col)] = values
        elif all(isinstance(v, str) for v in values):
            out[str(col)] = values.astype(str)
    return out


def column_conditions(table, key: str | None, default: str, n: int, where: str) -> np.ndarray:
    """Each of ``n`` trials' condition from column ``key`` of a pandas ``table`` (``None``: no table).

    ``""`` for every trial when ``key`` is None or is the ``default`` column and absent (no conditions then);
    ``SourceError`` naming ``where`` when any other ``key`` is not a column.
    """
    columns = [] if table is None else list(table.columns)
    if key and key in columns:
        return table[key].to_numpy().astype(str)
    if key and key != default:
        raise SourceError(
            f"condition_key must be a column of {where}; got {key!r}, columns {columns}. "
            "Hint: condition_key=None counts without conditions."
        )
    return np.full(n, "")


def trial_conditions(conditions: Any, n: int) -> np.ndarray:
    """One str label per trial (``""`` for every trial without ``conditions``); ``SourceError`` otherwise."""
    if conditions is None:
        return np.full(n, "")
    cond = np.asarray(conditions).astype(str).ravel()
    if cond.size != n:
        raise SourceError(f"conditions must give one label per trial; got {cond.size} labels for {n} trials.")
    return cond


def sorted_times(times: np.ndarray) -> np.ndarray:
    """Return ``times`` sorted ascending (a new array only when they were not already sorted)."""
    if times.size > 1 and np.any(times[1:] < times[:-1]):
        return np.sort(times, kind="stable")
    return times


def bin_edges(window: tuple[float, float], bin_size: float) -> np.ndarray:
    """Return bin edges (s, relative to the alignment) that tile ``window`` exactly.

    Raises
    ------
    WindowError
        If ``bin_size <= 0`` or ``bin_size`` does not divide the window length.
    """
    start, stop = window
    if not (np.isfinite(bin_size) and bin_size > 0):
        raise WindowError(f"bin_size must be a positive time; got {bin_size!r} s. Hint: bin_size=0.02 for 20 ms bins.")
    n_float = (stop - start) / bin_size
    n_bins = int(round(n_float))
    if n_bins < 1 or abs(n_float - n_bins) > 1e-6:
        raise WindowError(
            f"bin_size must divide the window length; got window ({start!r}, {stop!r}) s, "
            f"length {stop - start!r} s, and bin_size {bin_size!r} s ({n_float:.6g} bins). "
            "Hint: choose a window whose length is a whole number of bins."
        )
    edges = start + bin_size * np.arange(n_bins + 1, dtype=np.float64)
    edges[0], edges[-1] = start, stop
    return edges


def merged_intervals(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals, as sorted disjoint ``(starts, stops)``."""
    order = np.argsort(start, kind="stable")
    s, e = start[order], stop[order]
    out_s, out_e = [], []
    for a, b in zip(s, e, strict=True):
        if out_e and a <= out_e[-1]:
            out_e[-1] = max(out_e[-1], b)
        else:
            out_s.append(a)
            out_e.append(b)
    return np.asarray(out_s, dtype=np.float64), np.asarray(out_e, dtype=np.float64)


def covered(start: np.ndarray, stop: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """Boolean (trial,): ``[start, stop)`` lies inside the union of the half-open ``intervals`` (k, 2)."""
    if intervals.size == 0:
        return np.zeros(start.size, dtype=bool)
    lo, hi = merged_intervals(intervals[:, 0], intervals[:, 1])
    k = np.searchsorted(lo, start + TIME_TOL, side="right") - 1  # the merged interval starting at or before it
    ok = k >= 0
    ok[ok] = stop[ok] <= hi[k[ok]] + TIME_TOL
    return ok


def overlapping(start: np.ndarray, stop: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """Boolean (trial,): ``[start, stop)`` shares more than ``TIME_TOL`` with the half-open ``intervals`` (k, 2)
    (empty intervals share nothing)."""
    intervals = intervals[intervals[:, 1] > intervals[:, 0]] if intervals.size else intervals.reshape(0, 2)
    if intervals.size == 0:
        return np.zeros(start.size, dtype=bool)
    lo, hi = merged_intervals(intervals[:, 0], intervals[:, 1])
    # the last merged interval starting before the trial's stop overlaps it iff it ends after the trial's start
    k = np.searchsorted(lo, stop - TIME_TOL, side="left") - 1
    out = k >= 0
    out[out] = hi[k[out]] > start[out] + TIME_TOL
    return out


def count_spikes(
    neurons: Neurons, trials: Trials, rel_edges: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Count every neuron's spikes in every trial window (or bin).

    Parameters
    ----------
    neurons : Neurons
        Sorted spike times per neuron and segment.
    trials : Trials
        Absolute windows. With ``rel_edges`` the bins are ``trials.align + rel_edges``.
    rel_edges : numpy.ndarray, optional
        Bin edges relative to the alignment; ``None`` counts whole windows.

    Returns
    -------
    counts : numpy.ndarray
        int64, (neuron, trial) or (neuron, trial, time).
    valid : numpy.ndarray
        bool (neuron, trial): the neuron was recorded in the trial's segment.
    outside : numpy.ndarray
        int64 (neuron,): spikes that fall in no trial window.
    total : numpy.ndarray
        int64 (neuron,): all spikes seen.
    """
    n_neurons, n_trials = len(neurons.ids), len(trials)
    shape = (n_neurons, n_trials) if rel_edges is None else (n_neurons, n_trials, rel_edges.size - 1)
    counts = np.zeros(shape, dtype=np.int64)
    valid = np.zeros((n_neurons, n_trials), dtype=bool)
    outside = np.zeros(n_neurons, dtype=np.int64)
    total = np.zeros(n_neurons, dtype=np.int64)
    by_segment = {int(s): np.flatnonzero(trials.segment == s) for s in np.unique(trials.segment)}
    unions = {s: merged_intervals(trials.start[idx], trials.stop[idx]) for s, idx in by_segment.items()}
    empty = np.zeros(0, dtype=np.intp)
    for n, per_segment in enumerate(neurons.spikes):
        for s, times in per_segment.items():
            idx = by_segment.get(s, empty)
            total[n] += times.size
            if idx.size == 0:
                outside[n] += times.size
                continue
            valid[n, idx] = True
            u_start, u_stop = unions[s]
            inside = np.searchsorted(times, u_stop) - np.searchsorted(times, u_start)
            outside[n] += times.size - int(inside.sum())
            if rel_edges is None:
                counts[n, idx] = np.searchsorted(times, trials.stop[idx]) - np.searchsorted(times, trials.start[idx])
            else:
                edges = trials.align[idx, None] + rel_edges[None, :]
                pos = np.searchsorted(times, edges.ravel()).reshape(edges.shape)
                counts[n, idx] = np.diff(pos, axis=1)
    return counts, valid, outside, total


def _overlapping_trials(trials: Trials) -> np.ndarray:
    """Boolean (trial,): the trial's window ``[start, stop)`` shares time with another of its segment."""
    out = np.zeros(len(trials), dtype=bool)
    for seg in np.unique(trials.segment):
        idx = np.flatnonzero(trials.segment == seg)
        order = idx[np.argsort(trials.start[idx], kind="stable")]
        start, stop = trials.start[order], trials.stop[order]
        reach = np.maximum.accumulate(stop)  # latest stop among the trials that start earlier
        hit = start[1:] < reach[:-1] - TIME_TOL  # overlaps an earlier trial (touching edges do not)
        out[order[1:][hit]] = True
        out[order[:-1][start[1:] < stop[:-1] - TIME_TOL]] = True  # overlapped by the next trial to start
    return out


def assemble(
    neurons: Neurons,
    trials: Trials,
    *,
    rel_edges: np.ndarray | None,
    attrs: dict,
) -> xr.DataArray:
    """Count and wrap the result in the spikepool counts schema (see ``validate_counts``)."""
    counts, valid, outside, total = count_spikes(neurons, trials, rel_edges)
    overlapping = _overlapping_trials(trials)
    recounted = int(counts.sum()) - int((total - outside).sum())
    if overlapping.any():
        first = np.flatnonzero(overlapping)[:3].tolist()
        warnings.warn(
            f"trial windows should not overlap for independent trials; got {int(overlapping.sum())} trial(s) "
            f"sharing time with another (trials {first}{'...' if overlapping.sum() > 3 else ''}), so {recounted} "
            "spike(s) are counted in more than one trial (attrs['spikes_recounted']; attrs['spikes_total'] counts "
            "each spike once). Sliding windows are legitimate, but such trials are not independent replicates: "
            "a model that treats them as such is overconfident. Hint: shorten the window or space the trials.",
            SpikepoolWarning,
            stacklevel=3,
        )
    dims: tuple[str, ...] = ("neuron", "trial")
    coords: dict = {
        "neuron": np.asarray(neurons.ids, dtype=str),
        "trial": np.arange(len(trials), dtype=np.int64),
        "condition": ("trial", np.asarray(trials.condition, dtype=str)),
        "duration": ("trial", trials.stop - trials.start, {"units": "s", "long_name": "exposure"}),
        "t_start": ("trial", trials.start.copy(), {"units": "s", "long_name": "window start"}),
        "t_stop": ("trial", trials.stop.copy(), {"units": "s", "long_name": "window stop"}),
        "event_time": ("trial", trials.align.copy(), {"units": "s", "long_name": "alignment time"}),
        "valid": (("neuron", "trial"), valid),
        "spikes_outside": ("neuron", outside, {"long_name": "spikes in no trial window"}),
    }
    for name, values in trials.coords.items():
        coords.setdefault(name, ("trial", values))
    for name, values in neurons.coords.items():
        coords.setdefault(name, ("neuron", values))
    if rel_edges is not None:
        dims = (*dims, "time")
        centres = 0.5 * (rel_edges[:-1] + rel_edges[1:])
        coords["time"] = ("time", centres, {"units": "s", "long_name": "bin centre from alignment"})
    full_attrs = {
        **attrs,
        "spikepool_version": __version__,
        "counting": COUNTING_RULE,
        "spikes_total": np.int64(total.sum()),
        "spikes_outside": np.int64(outside.sum()),
        "overlapping_trials": np.int64(overlapping.sum()),
        "spikes_recounted": np.int64(recounted),
    }
    return xr.DataArray(counts, dims=dims, coords=coords, name="counts", attrs=full_attrs)


def common_window(trials: Trials) -> tuple[float, float]:
    """The window relative to the alignment shared by all trials (needed for binning)."""
    rel_start = trials.start - trials.align
    rel_stop = trials.stop - trials.align
    if np.ptp(rel_start) > TIME_TOL or np.ptp(rel_stop) > TIME_TOL:
        raise WindowError(
            "bin_size needs one window shared by all trials; got trial windows from "
            f"{rel_stop.min() - rel_start.max():.6g} s to {rel_stop.max() - rel_start.min():.6g} s long. "
            "Hint: pass window=(start, stop) relative to the alignment."
        )
    return float(rel_start[0]), float(rel_stop[0])


def check_extent(trials: Trials, seg_start: np.ndarray, seg_stop: np.ndarray, what: str = "segment") -> None:
    """Refuse windows that reach outside the recorded extent of their segment."""
    s = trials.segment
    bad = np.flatnonzero((trials.start < seg_start[s] - TIME_TOL) | (trials.stop > seg_stop[s] + TIME_TOL))
    if bad.size:
        k = int(bad[0])
        raise WindowError(
            f"every trial window must lie inside the recorded {what}; got {bad.size} trial(s) outside, "
            f"the first trial {k} with window [{trials.start[k]:.6g}, {trials.stop[k]:.6g}) s in a {what} "
            f"recorded over [{seg_start[s[k]]:.6g}, {seg_stop[s[k]]:.6g}) s. "
            "Hint: shorten the window; unrecorded time would be counted as silence."
        )


def binned_trials(trials: Trials, bin_size: float | None) -> np.ndarray | None:
    """Return relative bin edges (and make trial windows exactly ``align + edges``) or ``None``."""
    if bin_size is None:
        return None
    window = common_window(trials)
    edges = bin_edges(window, bin_size)
    trials.start = trials.align + edges[0]
    trials.stop = trials.align + edges[-1]
    return edges

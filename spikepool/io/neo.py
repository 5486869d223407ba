"""Neo spike trains to spike counts: ``from_neo``.

Neo objects are read once at this boundary: spike times are converted to float64 seconds, neurons
are matched across segments, and trials are laid out (one segment per trial, or windows cut around
events / epochs). Counting itself lives in ``spikepool.io._core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import neo
import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, NeuronKeyError, SourceError, WindowError
from spikepool.io._core import Neurons, Trials, assemble, binned_trials, check_extent, sorted_times
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_neo"]

_RESERVED = {
    "neuron",
    "trial",
    "time",
    "valid",
    "condition",
    "duration",
    "t_start",
    "t_stop",
    "event_time",
    "spikes_outside",
    "segment",
}


@dataclass
class _Segment:
    """What spikepool needs of one neo.Segment (or of a loose list of spike trains)."""

    trains: list
    events: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    annotations: dict = field(default_factory=dict)


def _segments_of(source: Any) -> tuple[list[_Segment], str]:
    hint = (
        "Hint: pass a neo.Block, a neo.Segment, a list of Segments or a list of SpikeTrains; "
        "plain arrays go through from_spike_times(), files through load()."
    )
    if isinstance(source, neo.Block):
        segs = [_from_neo_segment(s) for s in source.segments]
        label = "a neo.Block" + (f" {source.name!r}" if source.name else "")
        label += f" from {source.file_origin}" if source.file_origin else ""
    elif isinstance(source, neo.Segment):
        segs, label = [_from_neo_segment(source)], "a neo.Segment" + (f" {source.name!r}" if source.name else "")
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
        items = list(source)
        if items and all(isinstance(x, neo.Segment) for x in items):
            segs, label = [_from_neo_segment(s) for s in items], f"{len(items)} neo.Segment objects"
        elif items and all(isinstance(x, neo.SpikeTrain) for x in items):
            segs, label = _group_trains(items), f"{len(items)} neo.SpikeTrain objects"
        elif not items:
            raise SourceError(f"source must hold spike trains; got an empty {type(source).__name__}. {hint}")
        else:
            kinds = sorted({type(x).__name__ for x in items})
            raise ArgumentTypeError(
                f"source must be a list of neo.Segment or of neo.SpikeTrain; got a list of {kinds}. {hint}"
            )
    else:
        raise ArgumentTypeError(f"source must be a Neo object; got {type(source).__name__}. {hint}")
    if not segs:
        raise SourceError(f"source must hold at least one segment; got {label} with none. {hint}")
    if not any(s.trains for s in segs):
        raise SourceError(
            f"source must hold spike trains; got {label} with {len(segs)} segment(s) and no "
            "SpikeTrain. Hint: was the file read with lazy=True, or are the trains in another Block?"
        )
    return segs, label


def _from_neo_segment(seg: neo.Segment) -> _Segment:
    return _Segment(
        trains=list(seg.spiketrains),
        events=list(seg.events),
        epochs=list(seg.epochs),
        annotations=dict(seg.annotations),
    )


def _group_trains(trains: list) -> list[_Segment]:
    parents = [getattr(t, "segment", None) for t in trains]
    if all(p is not None for p in parents) and len({id(p) for p in parents}) > 1:
        groups: dict[int, _Segment] = {}
        for t, p in zip(trains, parents, strict=True):
            if id(p) not in groups:
                groups[id(p)] = _Segment([], list(p.events), list(p.epochs), dict(p.annotations))
            groups[id(p)].trains.append(t)
        return list(groups.values())
    return [_Segment(list(trains))]


def _key_of(train: Any, key: str, i_seg: int, j: int) -> str:
    if key == "name":
        value = train.name
    else:
        value = train.annotations.get(key)
    if value is None or (isinstance(value, str) and not value):
        available = ["name"] * (train.name is not None) + sorted(train.annotations)
        raise NeuronKeyError(
            f"every spike train must carry the neuron key {key!r}; got none on segment {i_seg}, "
            f"train {j} (name {train.name!r}; available keys {available}). "
            "Hint: pass neuron_key= one of the available keys, or annotate the trains."
        )
    return str(value)


def _choose_key(segs: list[_Segment]) -> str | None:
    trains = [t for s in segs for t in s.trains]
    if any("unit_id" in t.annotations for t in trains):
        return "unit_id"  # a train without it is an error, never a silent switch to another key
    if all(t.name for t in trains):
        return "name"
    return None


def _neurons(segs: list[_Segment], neuron_key: str | None) -> Neurons:
    if neuron_key is not None and not isinstance(neuron_key, str):
        raise ArgumentTypeError(f"neuron_key must be a string; got {type(neuron_key).__name__}.")
    key = neuron_key if neuron_key is not None else _choose_key(segs)
    ids: list[str] = []
    index: dict[str, int] = {}
    spikes: list[dict[int, np.ndarray]] = []
    annotations: list[list[dict]] = []
    if key is None:
        sizes = {len(s.trains) for s in segs}
        if len(sizes) > 1:
            raise NeuronKeyError(
                "neurons must be matched across segments; the trains carry no 'unit_id' annotation "
                f"nor names, and segments hold different numbers of trains ({sorted(sizes)}). "
                "Hint: pass neuron_key= an annotation that identifies each neuron."
            )
    for i, seg in enumerate(segs):
        seen: set[str] = set()
        for j, train in enumerate(seg.trains):
            nid = str(j) if key is None else _key_of(train, key, i, j)
            if nid in seen:
                raise NeuronKeyError(
                    f"neuron ids must be unique within a segment; got id {nid!r} twice in segment {i} "
                    f"(neuron_key {key!r}). Hint: choose a neuron_key that tells the units apart."
                )
            seen.add(nid)
            if nid not in index:
                index[nid] = len(ids)
                ids.append(nid)
                spikes.append({})
                annotations.append([])
            n = index[nid]
            spikes[n][i] = sorted_times(to_seconds(train.times, f"spike train {nid!r} (segment {i})"))
            annotations[n].append(dict(train.annotations))
    coords = _scalar_coords(annotations, exclude={key} if key else set())
    return Neurons(ids=ids, spikes=spikes, coords=coords)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | Number | np.generic) and not isinstance(value, complex)


def _scalar_coords(per_item: list[list[dict]], exclude: set[str]) -> dict[str, np.ndarray]:
    """Annotations constant within each item (neuron or trial) become coords; others are left out."""
    names = sorted({k for dicts in per_item for d in dicts for k in d} - exclude)
    coords: dict[str, np.ndarray] = {}
    for name in names:
        values = []
        for dicts in per_item:
            vals = [d[name] for d in dicts if name in d]
            if not all(_is_scalar(v) for v in vals) or len({repr(v) for v in vals}) > 1:
                break
            values.append(vals[0] if vals else None)
        else:
            present = [v for v in values if v is not None]
            if all(isinstance(v, str) for v in present) or len({type(v) for v in present}) > 1:
                arr = np.array(["" if v is None else str(v) for v in values])
            elif None in values:
                arr = np.array([np.nan if v is None else float(v) for v in values])
            else:
                arr = np.array(values)
            out = name if name not in _RESERVED else f"annotation_{name}"
            coords[out] = arr
    return coords


def _extents(segs: list[_Segment]) -> tuple[np.ndarray, np.ndarray]:
    starts, stops = [], []
    for i, seg in enumerate(segs):
        objs = seg.trains or [*seg.events, *seg.epochs]
        if not objs:
            raise SourceError(f"every segment must hold spike trains or events; segment {i} is empty.")
        starts.append(min(float(to_seconds(o.t_start, "t_start")) for o in objs))
        stops.append(max(float(to_seconds(o.t_stop, "t_stop")) for o in objs))
    return np.array(starts), np.array(stops)


def _conditions_from_segments(segs: list[_Segment], condition_key: str) -> np.ndarray:
    has = [condition_key in s.annotations for s in segs]
    if any(has) and not all(has):
        missing = [i for i, h in enumerate(has) if not h]
        raise SourceError(
            f"condition_key {condition_key!r} must annotate every segment or none; got it on "
            f"{sum(has)} of {len(segs)} segments (missing on segments {missing[:10]}). "
            "Hint: annotate every segment, or pass condition_key=None."
        )
    return np.array([str(s.annotations[condition_key]) if h else "" for s, h in zip(segs, has, strict=True)])


def _segment_trials(segs, window, condition_key) -> Trials:
    seg_start, seg_stop = _extents(segs)
    n = len(segs)
    cond = _conditions_from_segments(segs, condition_key) if condition_key else np.full(n, "")
    align = seg_start.copy()
    if window is None:
        start, stop = seg_start.copy(), seg_stop.copy()
    else:
        start, stop = align + window[0], align + window[1]
    ann = _scalar_coords([[s.annotations] for s in segs], exclude={condition_key})
    trials = Trials(align, start, stop, np.arange(n), cond, {"segment": np.arange(n), **ann})
    check_extent(trials, seg_start, seg_stop)
    return trials


def _matches(segs: list[_Segment], align: str) -> list[tuple[int, Any, np.ndarray, bool]]:
    by_name = [
        (i, obj, np.ones(len(obj), dtype=bool), True)
        for i, s in enumerate(segs)
        for obj in [*s.events, *s.epochs]
        if obj.name == align
    ]
    if by_name:
        return by_name
    out = []
    for i, s in enumerate(segs):
        for obj in [*s.events, *s.epochs]:
            labels = np.asarray(obj.labels).astype(str)
            if labels.size and np.any(labels == align):
                out.append((i, obj, labels == align, False))
    return out


def _event_trials(segs, align, window, condition_key) -> Trials:
    if not isinstance(align, str):
        raise ArgumentTypeError(f"align must be an event or epoch name or label (str); got {type(align).__name__}.")
    found = _matches(segs, align)
    if not found:
        names = sorted({str(o.name) for s in segs for o in [*s.events, *s.epochs]})
        labels = sorted({str(x) for s in segs for o in [*s.events, *s.epochs] for x in o.labels})
        raise SourceError(
            f"align={align!r} must match the name or a label of a neo.Event or neo.Epoch; got no match. "
            f"Event/epoch names: {names[:10]}; labels: {labels[:10]}. Hint: check the spelling."
        )
    rows: dict[str, list] = {"align": [], "start": [], "stop": [], "segment": [], "condition": []}
    extra: dict[str, list] = {}
    for i, obj, mask, by_name in found:
        times = to_seconds(obj.times, f"times of {align!r}")[mask]
        is_epoch = isinstance(obj, neo.Epoch)
        if is_epoch:
            durations = to_seconds(obj.durations, f"durations of {align!r}")[mask]
        if window is None and not is_epoch:
            raise WindowError(
                f"window is required when aligning to events; got window=None with align={align!r}. "
                "Hint: window=(-0.5, 1.0) counts from 0.5 s before to 1 s after each event."
            )
        if window is None:
            start, stop = times, times + durations
        else:
            start, stop = times + window[0], times + window[1]
        arr_ann = {k: np.asarray(v)[mask] for k, v in obj.array_annotations.items()}
        if condition_key and condition_key in arr_ann:
            cond = arr_ann.pop(condition_key).astype(str)
        elif by_name and len(obj.labels) and np.any(np.asarray(obj.labels).astype(str) != ""):
            cond = np.asarray(obj.labels).astype(str)[mask]
        elif condition_key and condition_key in segs[i].annotations:
            cond = np.full(times.size, str(segs[i].annotations[condition_key]))
        elif by_name:
            cond = np.full(times.size, "")
        else:
            cond = np.full(times.size, align)
        for key in [k for k, v in arr_ann.items() if v.ndim == 1]:
            extra.setdefault(key, [])
        for key in extra:
            extra[key].append(arr_ann.get(key, np.full(times.size, "")))
        rows["align"].append(times)
        rows["start"].append(start)
        rows["stop"].append(stop)
        rows["segment"].append(np.full(times.size, i))
        rows["condition"].append(cond)
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    order = np.lexsort((cat["align"], cat["segment"]))
    coords = {"segment": cat["segment"][order]}
    for key, parts in extra.items():
        if len(parts) == len(found) and key not in _RESERVED:
            coords[key] = np.concatenate(parts)[order]
    seg_ann = _scalar_coords([[s.annotations] for s in segs], exclude={condition_key})
    for key, per_segment in seg_ann.items():
        coords.setdefault(key, per_segment[coords["segment"]])
    trials = Trials(
        cat["align"][order],
        cat["start"][order],
        cat["stop"][order],
        cat["segment"][order],
        cat["condition"][order],
        coords,
    )
    seg_start, seg_stop = _extents(segs)
    check_extent(trials, seg_start, seg_stop)
    return trials


def from_neo(
    source: Any,
    *,
    window: Any = None,
    align: str | None = None,
    bin_size: Any = None,
    neuron_key: str | None = None,
    condition_key: str | None = "condition",
) -> xr.DataArray:
    """Count the spikes of Neo spike trains per neuron and trial (and time bin).

    Parameters
    ----------
    source : neo.Block, neo.Segment, list of neo.Segment, or list of neo.SpikeTrain
        The recording. Loose spike trains attached to several segments are grouped by segment;
        otherwise a list of trains is one trial.
    window : (start, stop), optional
        Counting window relative to the alignment, in seconds for plain numbers, or as
        ``quantities`` (``(100, 600) * pq.ms`` counts the same spikes as ``(0.1, 0.6)``).
        Default: each segment's whole recorded extent (or each epoch's duration).
    align : str, optional
        Name (or label) of a ``neo.Event`` / ``neo.Epoch``. Each matching time starts a trial,
        ``window`` relative to it. Default: one segment is one trial, aligned to its start.
    bin_size : float or quantities.Quantity, optional
        Bin width (s). Gives ``("neuron", "trial", "time")`` counts; it must divide the window.
    neuron_key : str, optional
        How neurons are matched across segments: ``"name"`` or a SpikeTrain annotation such as
        ``"unit_id"``. Default: ``"unit_id"`` if every train has it, else ``"name"`` if every
        train is named, else position within the segment.
    condition_key : str or None
        Segment annotation (segment trials) or event/epoch array annotation giving each trial's
        condition; with events matched by name, their labels are the conditions.

    Returns
    -------
    xarray.DataArray
        int64 counts, dims ``("neuron", "trial")`` or ``("neuron", "trial", "time")``.
        Trial coords: ``condition``, ``duration`` (s, the exposure), ``t_start``/``t_stop``
        (absolute window, s), ``event_time`` (alignment, s), ``segment`` and scalar segment
        annotations. Neuron coords: constant scalar SpikeTrain annotations and
        ``spikes_outside``. ``valid`` (neuron, trial) marks trials in which the neuron was
        recorded (its counts are 0 elsewhere). ``time``: bin centres (s) from the alignment.
        ``attrs``: ``window``, ``align``, ``bin_size``, ``source``, ``spikepool_version``,
        ``spikes_total``, ``spikes_outside`` (spikes in no window, never silently lost),
        ``overlapping_trials``, ``spikes_recounted``.

    Raises
    ------
    ArgumentTypeError
        ``source`` is not a Neo Block, Segment, or list of Segments or of SpikeTrains; ``neuron_key`` or
        ``align`` is not a str; ``window`` is a single number; ``window`` or ``bin_size`` is not numeric.
    SourceError
        ``source`` holds no segment or no spike train (an empty list; a file read with ``lazy=True``);
        a segment holds neither trains nor events; ``condition_key`` annotates some segments but not all;
        ``align`` matches no ``neo.Event`` / ``neo.Epoch`` name or label.
    NeuronKeyError
        A train lacks the ``neuron_key`` (by default ``"unit_id"``, when some train has it); two trains of
        a segment share an id; trains with neither ``unit_id`` nor a name, in segments holding different
        numbers of trains.
    WindowError
        ``window`` has other than two values or ``stop <= start``; ``align`` names an Event and ``window``
        is None; a window reaches outside its segment's recorded extent; ``bin_size`` is not positive, does
        not divide the window, or meets trials of different lengths (segments or epochs without ``window``).
    UnitsError
        ``window`` or ``bin_size`` quantities in units other than time, or NaN or infinite.

    Notes
    -----
    Windows and bins are half-open, ``[start, stop)``. Windows must lie inside the recorded
    extent of their segment, since unrecorded time would be counted as silence.

    Examples
    --------
    >>> import neo, quantities as pq
    >>> seg = neo.Segment()
    >>> seg.spiketrains.append(neo.SpikeTrain([0.1, 0.2, 0.7] * pq.s, t_stop=1.0, name="u1"))
    >>> counts = from_neo(seg, window=(0.0, 0.5))
    >>> int(counts.sel(neuron="u1").item()), int(counts.attrs["spikes_outside"])
    (2, 1)
    """
    segs, label = _segments_of(source)
    win = window_to_seconds(window)
    bin_s = None
    if bin_size is not None:
        bin_s = float(to_seconds(bin_size, "bin_size", None if hasattr(bin_size, "units") else "s"))
    neurons = _neurons(segs, neuron_key)
    if align is None:
        trials = _segment_trials(segs, win, condition_key)
    else:
        trials = _event_trials(segs, align, win, condition_key)
    rel_edges = binned_trials(trials, bin_s)
    attrs: dict = {"align": align if align is not None else "segment start", "source": label}
    if win is not None:
        attrs["window"] = np.array(win)
    if bin_s is not None:
        attrs["bin_size"] = bin_s
        attrs["window"] = rel_edges[[0, -1]].copy()
    return assemble(neurons, trials, rel_edges=rel_edges, attrs=attrs)

"""Laps and spatial-bin visits cut from a 1-D position track, as ``neo.Epoch`` trials for ``from_neo``.

Three steps, each a plain function of sample times ``t`` (s) and positions ``x`` (any length unit):

1. ``clean_position``: tracking dropouts and a stuck tracker become missing; short gaps are
   interpolated, long ones stay ``NaN``; a running median removes single-frame jumps.
2. ``cut_laps``: the two track ends are quantiles of the cleaned position; a lap is a run from one
   end zone to the other without going back to the zone it left and without a gap in the tracking.
3. ``spatial_bin_epochs``: every lap is split into contiguous visits to spatial bins, each an
   interval whose duration is the time spent in that bin.

Position is held between samples: sample ``i`` stands for ``[t[i], t[i + 1])``. Counting the spikes
of an epoch with ``from_neo(..., align=<epoch name>)`` then gives trials whose ``duration`` is the
occupancy time.
"""

from __future__ import annotations

import neo
import numpy as np
import quantities as pq

from spikepool.exceptions import ArgumentError, ArgumentTypeError, SourceError

__all__ = ["clean_position", "cut_laps", "spatial_bin_epochs", "tracking_lost"]

#: Labels of runs towards the low and the high end of the track (decreasing and increasing position).
DIRECTIONS = ("decreasing", "increasing")


def _track(t: np.ndarray, x: np.ndarray, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if t.ndim != 1 or x.shape != t.shape:
        raise SourceError(
            f"t and {name} must be 1-D arrays of one length (one position per sample); got shapes "
            f"{t.shape} and {x.shape}. Hint: pass one coordinate, e.g. signal.magnitude[:, 0]."
        )
    if t.size < 2:
        raise SourceError(f"a track must hold at least 2 samples; got {t.size}.")
    if not np.all(np.isfinite(t)):
        raise SourceError(f"sample times t must be finite; got {int(np.sum(~np.isfinite(t)))} NaN/inf values.")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0])
        raise SourceError(
            f"sample times t must not decrease; got t[{i}] = {t[i]!r} > t[{i + 1}] = {t[i + 1]!r} "
            f"({back.size} decreasing steps). Hint: sort the samples by time (a clock wrap-around?)."
        )
    return t, x


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the runs of equal consecutive values."""
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    return np.r_[0, change], np.r_[change, values.size]


def tracking_lost(
    t: np.ndarray, *coords: np.ndarray, dropout: float | None = 0.0, max_still: float | None = 10.0
) -> np.ndarray:
    """Samples without a real position: NaN, the tracker's dropout value, or a stuck tracker.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times (s), shape ``(sample,)``, non-decreasing.
    *coords : numpy.ndarray
        One or more coordinates, each shape ``(sample,)`` (e.g. ``x`` and ``y``).
    dropout : float or None
        Value a tracker writes when it loses the LED (0 for most camera trackers): a sample whose
        coordinates all equal it is lost. ``None``: no such value.
    max_still : float or None
        A stuck tracker: coordinates repeated exactly (all of them) for longer than ``max_still``
        seconds are lost. A resting animal moves the LED by a pixel within a few seconds.
        ``None``: never.

    Returns
    -------
    numpy.ndarray
        bool, shape ``(sample,)``: True where the position is lost.
    """
    if not coords:
        raise ArgumentTypeError("tracking_lost needs at least one coordinate array after t; got none.")
    arrays = [_track(t, c, name=f"coordinate {k}")[1] for k, c in enumerate(coords)]
    t = np.asarray(t, dtype=np.float64)
    stacked = np.stack(arrays, axis=1)
    lost = ~np.all(np.isfinite(stacked), axis=1)
    if dropout is not None:
        lost |= np.all(stacked == dropout, axis=1)
    if max_still is not None:
        same = np.r_[False, np.all(stacked[1:] == stacked[:-1], axis=1)]
        key = np.cumsum(~same)  # one id per run of identical samples
        starts, stops = _runs(key)
        long = (t[stops - 1] - t[starts]) > max_still
        for a, b in zip(starts[long], stops[long], strict=True):
            lost[a:b] = True
    return lost


def clean_position(
    t: np.ndarray,
    x: np.ndarray,
    *,
    dropout: float | None = 0.0,
    max_still: float | None = 10.0,
    max_gap: float = 1.0,
    smooth: float = 0.2,
) -> np.ndarray:
    """Position with dropouts interpolated over short gaps and single-frame jumps removed.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times (s), shape ``(sample,)``, non-decreasing.
    x : numpy.ndarray
        Position, shape ``(sample,)``; NaN marks a missing sample.
    dropout, max_still : float or None
        Which samples are lost besides NaN; see ``tracking_lost``.
    max_gap : float
        Longest gap (s, between the valid samples around it) bridged by linear interpolation;
        longer gaps stay NaN.
    smooth : float
        Width (s) of the running median applied to each stretch of valid samples; 0 turns it off.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(sample,)``; NaN where the position is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6) / 60.0
    >>> clean_position(t, np.array([1.0, 2.0, 0.0, 4.0, 5.0, 6.0]), smooth=0).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    """
    t, x = _track(t, x)
    lost = tracking_lost(t, x, dropout=dropout, max_still=max_still)
    good = np.flatnonzero(~lost)
    out = np.where(lost, np.nan, x)
    if good.size == 0:
        return out
    gap_idx = np.flatnonzero(lost)
    inner = gap_idx[(gap_idx > good[0]) & (gap_idx < good[-1])]
    if inner.size:
        nxt = good[np.searchsorted(good, inner)]
        prv = good[np.searchsorted(good, inner) - 1]
        bridge = (t[nxt] - t[prv]) <= max_gap
        out[inner[bridge]] = np.interp(t[inner[bridge]], t[good], x[good])
    if smooth > 0:
        from scipy.ndimage import median_filter

        dt = np.median(np.diff(t[good])) if good.size > 1 else 0.0
        width = int(round(smooth / dt)) // 2 * 2 + 1 if dt > 0 else 1
        if width > 1:
            starts, stops = _runs(np.isfinite(out))
            for a, b in zip(starts, stops, strict=True):
                if np.isfinite(out[a]):
                    out[a:b] = median_filter(out[a:b], size=width, mode="nearest")
    return out


def cut_laps(
    t: np.ndarray,
    x: np.ndarray,
    *,
    min_run: float = 0.5,
    max_run: float | None = None,
    low: float = 0.15,
    high: float = 0.85,
    ends: tuple[float, float] = (0.01, 0.99),
    directions: tuple[str, str] = DIRECTIONS,
    name: str = "laps",
    **clean: float | None,
) -> neo.Epoch:
    """Cut a 1-D position track into laps: runs from one end zone to the other.

    The rule, on the position cleaned by ``clean_position`` (``**clean`` goes there):

    - the track ends are ``lo, hi = quantile(x, ends)`` over the valid samples;
    - the end zones are ``x <= lo + low * (hi - lo)`` and ``x >= lo + high * (hi - lo)``;
    - a lap starts at the last sample in one end zone and stops at the first sample in the other,
      with every sample between in the middle of the track: no return to the zone it left, no
      missing sample (a gap longer than ``max_gap`` breaks a run). Pauses mid-track are kept;
    - laps shorter than ``min_run`` seconds (tracking jumps) or longer than ``max_run`` are dropped.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times (s), shape ``(sample,)``, non-decreasing.
    x : numpy.ndarray
        Position along the track, shape ``(sample,)``, any length unit; NaN = missing.
    min_run, max_run : float
        Shortest and longest lap kept (s); ``max_run=None``: no upper bound.
    low, high : float
        End-zone limits as fractions of the track extent ``hi - lo`` (``0 <= low < high <= 1``).
    ends : (float, float)
        Quantiles of the valid positions taken as the two track ends.
    directions : (str, str)
        Labels of laps towards the low end and towards the high end.
    name : str
        Name of the returned Epoch.
    **clean
        ``dropout``, ``max_still``, ``max_gap``, ``smooth``; see ``clean_position``.

    Returns
    -------
    neo.Epoch
        One interval per lap: ``times`` = start (s), ``durations`` = run time (s), ``labels`` =
        direction. Array annotations ``lap`` (int, from 0) and ``condition`` (the direction).
        Annotations ``track_ends`` and ``zone_limits`` (in the units of ``x``) record the rule.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0.0, 40.0, 1 / 60)
    >>> x = 10 + 100 * np.abs(((t / 10) % 2) - 1)  # triangle wave: 10 s from one end to the other
    >>> laps = cut_laps(t, x, smooth=0)
    >>> len(laps), laps.labels[:2].tolist()
    (4, ['decreasing', 'increasing'])
    """
    t, x = _track(t, x)
    if not (0.0 <= low < high <= 1.0):
        raise ArgumentError(f"end zones need 0 <= low < high <= 1; got low={low!r}, high={high!r}.")
    if not (0.0 <= ends[0] < ends[1] <= 1.0):
        raise ArgumentError(f"ends must be two increasing quantiles in [0, 1]; got {ends!r}.")
    if len(directions) != 2 or len(set(directions)) != 2:
        raise ArgumentError(f"directions must be two distinct labels (low end, high end); got {directions!r}.")
    unknown = set(clean) - {"dropout", "max_still", "max_gap", "smooth"}
    if unknown:
        raise ArgumentTypeError(
            f"cut_laps got unexpected keyword(s) {sorted(unknown)}; "
            "expected min_run, max_run, low, high, ends, directions, name, dropout, max_still, max_gap, smooth."
        )
    xc = clean_position(t, x, **clean)
    valid = np.isfinite(xc)
    if not valid.any():
        raise SourceError("x must hold valid positions; got none (all NaN, dropouts or a stuck tracker).")
    lo, hi = np.quantile(xc[valid], ends)
    if not hi > lo:
        raise SourceError(
            f"x must span a track; got one position ({lo!r}) between the {ends} quantiles. "
            "Hint: did the animal run, and is x the coordinate along the track?"
        )
    lim_lo, lim_hi = lo + low * (hi - lo), lo + high * (hi - lo)
    code = np.zeros(t.size, dtype=np.int8)  # 0 middle, -1 low end, +1 high end, 2 missing
    code[valid & (xc <= lim_lo)] = -1
    code[valid & (xc >= lim_hi)] = 1
    code[~valid] = 2
    marks = np.flatnonzero(code != 0)  # between two consecutive marks every sample is mid-track
    a, b = marks[:-1], marks[1:]
    cross = code[a] * code[b] == -1
    a, b = a[cross], b[cross]
    dur = t[b] - t[a]
    keep = dur >= min_run
    if max_run is not None:
        keep &= dur <= max_run
    a, b, dur = a[keep], b[keep], dur[keep]
    labels = np.where(code[b] > 0, directions[1], directions[0]).astype(str)
    return neo.Epoch(
        times=t[a] * pq.s,
        durations=dur * pq.s,
        labels=labels,
        name=name,
        array_annotations={"lap": np.arange(a.size), "condition": labels.copy()},
        track_ends=[float(lo), float(hi)],
        zone_limits=[float(lim_lo), float(lim_hi)],
        rule=f"end zone to end zone; low={low}, high={high}, ends={list(ends)}, min_run={min_run} s",
    )


def spatial_bin_epochs(
    t: np.ndarray, x: np.ndarray, laps: neo.Epoch, edges: np.ndarray, *, name: str = "spatial bins"
) -> neo.Epoch:
    """Split every lap into contiguous visits to spatial bins: the occupancy time as epochs.

    Sample ``i`` holds its position over ``[t[i], t[i + 1])`` (clipped to the lap). Within a lap,
    consecutive samples in one bin form one visit; an animal that leaves a bin and comes back makes
    two visits, never one interval spanning the time away. Bins are ``[edges[k], edges[k + 1])``,
    the last one closed; NaN samples and samples outside ``edges`` count in no bin, so the visits
    of a lap add up to its duration only when every sample of it falls inside ``edges``.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times (s), shape ``(sample,)``, non-decreasing.
    x : numpy.ndarray
        Position, shape ``(sample,)``: the same position the laps were cut on, e.g.
        ``clean_position(t, x)`` (raw dropouts would be binned where they read).
    laps : neo.Epoch
        Laps, e.g. from ``cut_laps``. Its ``lap`` array annotation (else its index) numbers them;
        its labels (the direction) prefix the conditions.
    edges : numpy.ndarray
        Increasing bin edges, in the units of ``x``, shape ``(bin + 1,)``.
    name : str
        Name of the returned Epoch.

    Returns
    -------
    neo.Epoch
        One interval per visit, ordered by time: ``times`` = entry (s), ``durations`` = time in the
        bin (s). Array annotations ``lap`` (int), ``bin`` (int, index into ``edges``) and
        ``condition`` (``"bin03"``, or ``"<lap label>/bin03"`` when laps are labelled), also the labels.
        To count per (lap, bin), sum the visits: ``counts.groupby(...)`` on the trial coords.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0.0, 20.0, 1 / 60)
    >>> x = 10 + 100 * np.abs(((t / 10) % 2) - 1)
    >>> laps = cut_laps(t, x, smooth=0)
    >>> visits = spatial_bin_epochs(t, x, laps, np.linspace(10, 110, 5))
    >>> float(np.round(visits.durations.sum() - laps.durations.sum(), 9))
    0.0
    """
    t, x = _track(t, x)
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0) or not np.all(np.isfinite(edges)):
        raise ArgumentError(f"edges must be at least 2 finite, strictly increasing values; got {edges!r}.")
    if not isinstance(laps, neo.Epoch):
        raise ArgumentTypeError(f"laps must be a neo.Epoch (e.g. from cut_laps); got {type(laps).__name__}.")
    n_bins = edges.size - 1
    width = max(2, len(str(n_bins - 1)))
    which = np.searchsorted(edges, x, side="right") - 1
    which[x == edges[-1]] = n_bins - 1
    which[~np.isfinite(x) | (which < 0) | (which >= n_bins)] = -1
    hold_stop = np.r_[t[1:], t[-1]]  # the last sample holds for no time
    starts = laps.times.rescale(pq.s).magnitude
    stops = starts + laps.durations.rescale(pq.s).magnitude
    lap_ids = np.asarray(laps.array_annotations.get("lap", np.arange(starts.size))).astype(np.int64)
    lap_labels = np.asarray(laps.labels).astype(str) if len(laps.labels) else np.full(starts.size, "")
    rows: dict[str, list] = {"time": [], "duration": [], "lap": [], "bin": [], "condition": []}
    for s, e, lap, label in zip(starts, stops, lap_ids, lap_labels, strict=True):
        i0 = max(int(np.searchsorted(t, s, side="right")) - 1, 0)
        i1 = int(np.searchsorted(t, e, side="left"))
        if i1 <= i0:
            continue
        seg_start = np.clip(t[i0:i1], s, e)
        seg_stop = np.clip(hold_stop[i0:i1], s, e)
        run_start, run_stop = _runs(which[i0:i1])
        for a, b in zip(run_start, run_stop, strict=True):
            k = int(which[i0 + a])
            begin, end = float(seg_start[a]), float(seg_stop[b - 1])
            if k < 0 or end <= begin:
                continue
            rows["time"].append(begin)
            rows["duration"].append(end - begin)
            rows["lap"].append(int(lap))
            rows["bin"].append(k)
            rows["condition"].append(f"{label}/bin{k:0{width}d}" if label else f"bin{k:0{width}d}")
    condition = np.array(rows["condition"], dtype=str)
    return neo.Epoch(
        times=np.array(rows["time"], dtype=np.float64) * pq.s,
        durations=np.array(rows["duration"], dtype=np.float64) * pq.s,
        labels=condition,
        name=name,
        array_annotations={
            "lap": np.array(rows["lap"], dtype=np.int64),
            "bin": np.array(rows["bin"], dtype=np.int64),
            "condition": condition.copy(),
        },
        edges=edges.tolist(),
    )

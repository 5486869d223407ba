"""Spike-sorter output to spike counts: ``from_sorting`` (extra ``spikeinterface``).

Any SpikeInterface ``BaseSorting`` (or a ``SortingAnalyzer``, whose quality metrics become neuron coords):
spike sample indices are converted to seconds with the sorting's own clock (``sample_index_to_time``: the
sampling frequency, the segment's start time, or the registered recording's time vector) and counted by the
same exact engine as every other loader (half-open windows, spikes in no window reported).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, SourceError
from spikepool.io._core import Neurons, Trials, assemble, binned_trials, check_extent, sorted_times, trial_conditions
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_sorting"]

#: quality / template metric columns taken from a SortingAnalyzer, when it has computed them
METRIC_EXTENSIONS = ("quality_metrics", "template_metrics")


def _spikeinterface():
    try:
        import spikeinterface.core as si
    except ImportError as err:
        raise ImportError("from_sorting needs SpikeInterface: pip install 'spikepool[spikeinterface]'") from err
    return si


def _unit_coords(sorting, metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scalar unit properties (numbers, booleans, strings) and the analyzer's metrics, one value per unit."""
    n = len(sorting.get_unit_ids())
    out = {}
    for key in sorting.get_property_keys():
        values = np.asarray(sorting.get_property(key))
        if values.shape != (n,):
            continue
        if values.dtype.kind in "biufU":
            out[str(key)] = values
        elif values.dtype.kind == "O" and all(isinstance(v, str) for v in values):
            out[str(key)] = values.astype(str)
    out.update(metrics)
    return out


def _metrics(analyzer, unit_ids) -> dict[str, np.ndarray]:
    out = {}
    for name in METRIC_EXTENSIONS:
        ext = analyzer.get_extension(name) if analyzer.has_extension(name) else None
        if ext is None:
            continue
        table = ext.get_data().reindex(unit_ids)
        for col in table.columns:
            values = table[col].to_numpy()
            if values.dtype.kind in "biuf":
                out[str(col)] = values.astype(float) if values.dtype.kind == "f" else values
    return out


def _events(events: Any, n_segments: int, units: Any) -> list[np.ndarray]:
    """One float64 array of alignment times (s) per segment."""
    # a list of one array per segment; with one segment also the array itself (a list of numbers is that)
    listed = isinstance(events, list | tuple) and len(events) == n_segments
    if listed and (n_segments > 1 or np.ndim(events[0]) == 1):
        per_segment = list(events)
    elif n_segments == 1:
        per_segment = [events]
    else:
        raise SourceError(
            f"events must give the trials' alignment times of each of the sorting's {n_segments} segments (a list "
            f"of {n_segments} arrays); got {type(events).__name__}"
            f"{f' of {len(events)}' if isinstance(events, list | tuple) else ''}."
        )
    return [
        np.ravel(to_seconds(e, f"events of segment {s}", units)).astype(np.float64) for s, e in enumerate(per_segment)
    ]


def from_sorting(
    sorting: Any,
    events: Any,
    *,
    window: Any,
    conditions: Sequence[str] | None = None,
    bin_size: Any = None,
    units: Any = "s",
) -> xr.DataArray:
    """Count a spike sorting's units in windows around trial events.

    Parameters
    ----------
    sorting : spikeinterface BaseSorting or SortingAnalyzer
        The units. From an analyzer, its computed ``quality_metrics`` (``isi_violations_ratio``,
        ``presence_ratio``, ``snr``, ...) and ``template_metrics`` become neuron coords.
    events : array-like, or a list of array-like per segment
        Alignment time of each trial (``units``; quantities carry their own), in the sorting's time base
        (``sorting.sample_index_to_time``). A multi-segment sorting takes one array per segment.
    window : (start, stop)
        Counting window relative to each event (``units`` or quantities).
    conditions : sequence of str, optional
        Condition of each trial, in the order of the events (segment by segment). Default ``""``.
    bin_size : float or quantities.Quantity, optional
        Bin width; gives ``("neuron", "trial", "time")`` counts.
    units : str or quantities.Quantity
        Units of plain-number ``events``, ``window`` and ``bin_size``; ``"s"`` by default.

    Returns
    -------
    xarray.DataArray
        int64 counts, dims ``("neuron", "trial")`` or, with ``bin_size``, ``("neuron", "trial", "time")``,
        in the schema of ``from_neo`` (trial coords ``condition``, ``duration``, ``t_start``, ``t_stop``,
        ``event_time``, ``segment``; ``valid`` (neuron, trial)). Neuron ids are the unit ids as str; unit
        properties (``quality``, ``brain_area``, ...) and metrics are neuron coords; spikes in no window are
        counted in ``spikes_outside``; ``attrs`` also hold ``sampling_frequency``. Windows are checked
        against each segment's extent when the sorting has a registered recording.

    Raises
    ------
    ImportError
        SpikeInterface is not installed.
    ArgumentTypeError
        ``sorting`` is not a ``BaseSorting`` or ``SortingAnalyzer``; ``window`` is None or a single
        number; times or ``bin_size`` are not numbers.
    SourceError
        ``sorting`` has no unit; ``events`` holds no trial, or is not one array per segment of a
        multi-segment sorting; ``conditions`` does not give one label per trial.
    WindowError
        ``window`` has other than two values or ``stop <= start``; a window reaches outside its segment
        (with a registered recording); ``bin_size`` is not positive or does not divide the window.
    UnitsError
        ``units`` (or a Quantity's units) are not units of time; an event time is NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> import spikeinterface.core as si
    >>> import spikepool as sp
    >>> samples, labels = np.array([1000, 4000, 12000, 13000]), np.array([0, 0, 1, 0])
    >>> sorting = si.NumpySorting.from_samples_and_labels([samples], [labels], sampling_frequency=10000.0)
    >>> counts = sp.from_sorting(sorting, [0.0, 1.0], window=(0.0, 0.5))
    >>> counts.sel(neuron="0").values.tolist(), counts.sel(neuron="1").values.tolist()
    ([2, 1], [0, 1])
    """
    si = _spikeinterface()
    metrics: dict[str, np.ndarray] = {}
    if isinstance(sorting, si.SortingAnalyzer):
        metrics = _metrics(sorting, sorting.sorting.get_unit_ids())
        sorting = sorting.sorting
    if not isinstance(sorting, si.BaseSorting):
        raise ArgumentTypeError(
            f"sorting must be a spikeinterface BaseSorting or SortingAnalyzer; got {type(sorting).__name__}."
        )
    unit_ids = list(sorting.get_unit_ids())
    if not unit_ids:
        raise SourceError("sorting must hold at least one unit; got none.")
    n_segments = sorting.get_num_segments()
    per_segment = _events(events, n_segments, units)
    align = np.concatenate(per_segment)
    if align.size == 0:
        raise SourceError("events must hold at least one trial; got none.")
    segment = np.concatenate([np.full(e.size, s, dtype=np.int64) for s, e in enumerate(per_segment)])
    win = window_to_seconds(window, units=units)
    if win is None:
        raise ArgumentTypeError("window must be a (start, stop) pair; got None.")
    cond = trial_conditions(conditions, align.size)
    trials = Trials(align, align + win[0], align + win[1], segment, cond, {"segment": segment})
    if sorting.has_recording():
        starts = np.array([sorting.sample_index_to_time(0, segment_index=s) for s in range(n_segments)])
        stops = np.array(
            [
                sorting.sample_index_to_time(sorting.get_num_samples(segment_index=s), segment_index=s)
                for s in range(n_segments)
            ]
        )
        check_extent(trials, starts, stops)
    spikes = [
        {
            s: sorted_times(
                np.asarray(
                    sorting.sample_index_to_time(
                        sorting.get_unit_spike_train(uid, segment_index=s).astype(np.int64), segment_index=s
                    ),
                    dtype=np.float64,
                )
            )
            for s in range(n_segments)
        }
        for uid in unit_ids
    ]
    bin_s = None if bin_size is None else float(to_seconds(bin_size, "bin_size", units))
    rel_edges = binned_trials(trials, bin_s)
    attrs: dict = {
        "align": "events",
        "source": f"spikeinterface {type(sorting).__name__}",
        "window": np.array(win),
        "sampling_frequency": float(sorting.get_sampling_frequency()),
    }
    if bin_s is not None:
        attrs["bin_size"] = bin_s
    ids = [str(u) for u in unit_ids]
    return assemble(Neurons(ids, spikes, _unit_coords(sorting, metrics)), trials, rel_edges=rel_edges, attrs=attrs)

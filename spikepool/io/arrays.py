"""Plain spike-time arrays to spike counts: ``from_spike_times``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, NeuronKeyError, SourceError
from spikepool.io._core import Neurons, Trials, assemble, binned_trials, sorted_times, trial_conditions
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_spike_times"]


def _as_seconds(values: Any, name: str, units: Any) -> np.ndarray:
    if hasattr(values, "units"):
        return to_seconds(values, name)
    return to_seconds(values, name, units)


def _neuron_arrays(spike_times: Any) -> tuple[list[str], list[Any]]:
    if isinstance(spike_times, Mapping):
        ids = [str(k) for k in spike_times]
        if len(set(ids)) != len(ids):
            raise NeuronKeyError(
                f"neuron ids must be unique as strings; got {list(spike_times)}. Hint: give each unit its own key."
            )
        return ids, list(spike_times.values())
    if isinstance(spike_times, np.ndarray) and spike_times.ndim == 1 and spike_times.dtype != object:
        return ["0"], [spike_times]
    if isinstance(spike_times, Sequence | np.ndarray) and not isinstance(spike_times, str):
        return [str(i) for i in range(len(spike_times))], list(spike_times)
    raise ArgumentTypeError(
        "spike_times must be a dict {neuron_id: times}, a list of 1-D arrays (one per neuron) or one "
        f"1-D array; got {type(spike_times).__name__}."
    )


def from_spike_times(
    spike_times: Any,
    trial_starts: Any,
    window: Any,
    conditions: Sequence[str] | None = None,
    units: Any = "s",
    *,
    bin_size: Any = None,
) -> xr.DataArray:
    """Count continuous spike-time arrays in windows around trial alignment times.

    Parameters
    ----------
    spike_times : dict of array-like, list of array-like, or array-like
        Spike times of each neuron over one continuous recording, keyed by neuron id (a list
        gives ids ``"0"``, ``"1"``, ...). ``quantities`` arrays carry their own units.
    trial_starts : array-like
        Alignment time of each trial (same units).
    window : (start, stop)
        Counting window relative to each alignment time, in ``units`` (or quantities).
    conditions : sequence of str, optional
        Condition of each trial. Default: ``""`` for every trial.
    units : str or quantities.Quantity
        Units of plain-number inputs; ``"s"`` by default.
    bin_size : float or quantities.Quantity, optional
        Bin width in ``units``; gives ``("neuron", "trial", "time")`` counts.

    Returns
    -------
    xarray.DataArray
        int64 counts, dims ``("neuron", "trial")`` or, with ``bin_size``, ``("neuron", "trial", "time")``,
        in the schema of ``from_neo``. Trial coords: ``condition``, ``duration`` (s), ``t_start`` /
        ``t_stop`` (absolute window, s) and ``event_time`` (its ``trial_starts`` value, s); neuron coord
        ``spikes_outside``; ``valid`` (neuron, trial), all True; ``time``: bin centres (s) from the
        alignment. Windows are half-open ``[start, stop)``; ``attrs``: ``window``, ``bin_size``, ``align``,
        ``source``, ``spikes_total``, ``spikes_outside`` (spikes in no window), ``overlapping_trials``,
        ``spikes_recounted``.

    Raises
    ------
    ArgumentTypeError
        ``spike_times`` is not a dict, a list of arrays or one 1-D array; ``window`` is None or a
        single number; times or ``bin_size`` are not numbers.
    NeuronKeyError
        Two keys of ``spike_times`` are equal as strings (``1`` and ``"1"``).
    SourceError
        ``spike_times`` holds no neuron or ``trial_starts`` no trial; ``conditions`` does not give one label
        per trial.
    UnitsError
        ``units`` (or a Quantity's units) are not units of time; a time is NaN or infinite.
    WindowError
        ``window`` has other than two values or ``stop <= start``; ``bin_size`` is not positive or does
        not divide the window.

    Examples
    --------
    >>> counts = from_spike_times({"u1": [0.1, 0.4, 1.2, 1.3]}, [0.0, 1.0], window=(0.0, 0.5))
    >>> counts.sel(neuron="u1").values.tolist()
    [2, 2]
    """
    ids, arrays = _neuron_arrays(spike_times)
    if not ids:
        raise SourceError("spike_times must hold at least one neuron; got none.")
    spikes = [
        {0: sorted_times(_as_seconds(a, f"spike_times[{nid!r}]", units).ravel())}
        for nid, a in zip(ids, arrays, strict=True)
    ]
    align = _as_seconds(trial_starts, "trial_starts", units).ravel()
    if align.size == 0:
        raise SourceError("trial_starts must hold at least one trial; got none.")
    win = window_to_seconds(window, units=units)
    if win is None:
        raise ArgumentTypeError("window must be a (start, stop) pair; got None.")
    cond = trial_conditions(conditions, align.size)
    n = align.size
    trials = Trials(align, align + win[0], align + win[1], np.zeros(n, dtype=np.int64), cond)
    bin_s = None if bin_size is None else float(_as_seconds(bin_size, "bin_size", units))
    rel_edges = binned_trials(trials, bin_s)
    attrs: dict = {"align": "trial_starts", "source": "spike-time arrays", "window": np.array(win)}
    if bin_s is not None:
        attrs["bin_size"] = bin_s
    return assemble(Neurons(ids, spikes), trials, rel_edges=rel_edges, attrs=attrs)

"""pynapple objects to spike counts: ``from_pynapple`` (extra ``pynapple``; ``counts_to_pynapple`` goes back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentTypeError, SourceError, WindowError
from spikepool.io._core import (
    Neurons,
    Trials,
    assemble,
    binned_trials,
    column_conditions,
    covered,
    scalar_columns,
    sorted_times,
    trial_conditions,
)
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_pynapple", "pynapple_module"]

#: TsGroup metadata that pynapple derives itself (not a property of the unit)
DERIVED = ("rate",)


def pynapple_module():
    try:
        import pynapple as nap
    except ImportError as err:
        raise ImportError("this needs pynapple: pip install 'spikepool[pynapple]'") from err
    return nap


def from_pynapple(
    tsgroup: Any,
    trials: Any,
    *,
    window: Any = None,
    bin_size: Any = None,
    condition_key: str | None = "label",
    conditions: Sequence[str] | None = None,
    units: Any = "s",
) -> xr.DataArray:
    """Count a pynapple ``TsGroup`` in trials given as an ``IntervalSet`` or as event times.

    Parameters
    ----------
    tsgroup : pynapple.TsGroup
        The units (keys become neuron ids; scalar metadata columns, e.g. ``area`` or ``depth``, neuron coords;
        pynapple's derived ``rate`` is left out).
    trials : pynapple.IntervalSet, pynapple.Ts / Tsd, or array-like
        An ``IntervalSet``: one trial per interval, counted over ``[start, end)`` or, with ``window``, over the
        window relative to each start; its ``condition_key`` metadata column (``"label"``) gives conditions.
        Event times: one trial per event, counted over ``window`` relative to it (``conditions`` labels them).
    window : (start, stop), optional
        Counting window relative to each trial's start or event (``units`` or quantities).
    bin_size : float or quantities.Quantity, optional
        Bin width; gives ``("neuron", "trial", "time")`` counts (trials must share one window length).
    condition_key : str or None
        ``IntervalSet`` metadata column giving conditions (the default ``"label"`` may be absent).
    conditions : sequence of str, optional
        Conditions of event-time trials, in order.
    units : str or quantities.Quantity
        Units of plain-number ``window``, ``bin_size`` and event times; ``"s"`` by default (pynapple's own
        times are seconds).

    Returns
    -------
    xarray.DataArray
        int64 counts (neuron, trial[, time]) in the schema of ``from_neo``. Every window must lie inside the
        ``TsGroup``'s ``time_support`` (pynapple's recorded epochs): time outside it is unrecorded, not silence.

    Examples
    --------
    >>> counts = sp.from_pynapple(units, trials_ep, window=(0.0, 0.5))  # doctest: +SKIP
    """
    nap = pynapple_module()
    if not isinstance(tsgroup, nap.TsGroup):
        raise ArgumentTypeError(f"tsgroup must be a pynapple.TsGroup; got {type(tsgroup).__name__}.")
    win = window_to_seconds(window, units=units)
    if isinstance(trials, nap.IntervalSet):
        start, end = np.asarray(trials.start, dtype=float), np.asarray(trials.end, dtype=float)
        table = trials.metadata if hasattr(trials, "metadata") else None
        cond = column_conditions(table, condition_key, "label", start.size, "the IntervalSet's metadata")
        if conditions is not None:
            raise ArgumentTypeError("conditions is for event times; an IntervalSet gives them by condition_key.")
        align = start
        lo, hi = (start, end) if win is None else (start + win[0], start + win[1])
    else:
        times = trials.t if isinstance(trials, nap.Ts | nap.Tsd) else trials
        align = np.ravel(to_seconds(np.asarray(times, dtype=float), "trials (event times)", units))
        if win is None:
            raise ArgumentTypeError("window must be a (start, stop) pair for event-time trials; got None.")
        lo, hi = align + win[0], align + win[1]
        cond = trial_conditions(conditions, align.size)
    if align.size == 0:
        raise SourceError("trials must hold at least one trial; got none.")
    support = np.column_stack([np.asarray(tsgroup.time_support.start), np.asarray(tsgroup.time_support.end)])
    outside = ~covered(lo, hi, support)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise WindowError(
            f"every trial window must lie inside the TsGroup's time_support {support.tolist()}; got "
            f"{int(outside.sum())} outside, the first [{lo[k]:.6g}, {hi[k]:.6g}) s. Hint: build the TsGroup with "
            "time_support= the recorded epochs (its default is the span of its spikes), or shorten the window."
        )
    ids = [str(k) for k in tsgroup.keys()]
    spikes = [{0: sorted_times(np.asarray(tsgroup[k].t, dtype=np.float64))} for k in tsgroup.keys()]
    table_trials = Trials(align, lo, hi, np.zeros(align.size, dtype=np.int64), cond)
    bin_s = None if bin_size is None else float(to_seconds(bin_size, "bin_size", units))
    rel_edges = binned_trials(table_trials, bin_s)
    attrs: dict = {"align": "trial start" if win is None or isinstance(trials, nap.IntervalSet) else "events"}
    attrs["source"] = "pynapple TsGroup"
    if win is not None:
        attrs["window"] = np.array(win)
    if bin_s is not None:
        attrs["bin_size"] = bin_s
    neurons = Neurons(ids, spikes, scalar_columns(tsgroup.metadata, set(DERIVED)))
    return assemble(neurons, table_trials, rel_edges=rel_edges, attrs=attrs)

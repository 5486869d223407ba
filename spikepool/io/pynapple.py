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
    merged_intervals,
    scalar_columns,
    sorted_times,
    trial_conditions,
)
from spikepool.io._units import to_seconds, window_to_seconds

__all__ = ["from_pynapple", "pynapple_module"]

#: TsGroup metadata that pynapple derives itself (not a property of the unit)
DERIVED = ("rate",)


def spans_of_spikes(support: np.ndarray, trains: list[np.ndarray], tol: float = 1e-6) -> bool:
    """Whether ``support`` (k, 2) is pynapple's default time support: the union of each train's first-to-last
    spike span (a support set by hand to exactly that span is indistinguishable from it)."""
    spans = np.array([(t[0], t[-1]) for t in trains if t.size], dtype=np.float64).reshape(-1, 2)
    if spans.size == 0:
        return False
    lo, hi = merged_intervals(spans[:, 0], spans[:, 1])
    start, stop = merged_intervals(support[:, 0], support[:, 1])
    if start.size != lo.size:
        return False
    return bool(np.allclose(start, lo, rtol=0, atol=tol) and np.allclose(stop, hi, rtol=0, atol=tol))


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
        int64 counts, dims ``("neuron", "trial")`` or, with ``bin_size``, ``("neuron", "trial", "time")``,
        in the schema of ``from_neo`` (trial coords ``condition``, ``duration``, ``t_start``, ``t_stop``,
        ``event_time``; ``valid`` (neuron, trial); neuron coords ``spikes_outside`` and the scalar metadata
        columns), equal to ``tsgroup.count`` on the same epochs.

    Raises
    ------
    ImportError
        pynapple is not installed.
    ArgumentTypeError
        ``tsgroup`` is not a ``TsGroup``; ``conditions`` is given with an ``IntervalSet``; ``window`` is
        None with event times, or a single number; times or ``bin_size`` are not numbers.
    SourceError
        ``trials`` holds no trial; ``condition_key`` (other than ``"label"``) is not a metadata column of
        the ``IntervalSet``; ``conditions`` does not give one label per event.
    UnitsError
        ``units`` (or a Quantity's units) are not units of time; an event time is NaN or infinite.
    WindowError
        ``window`` has other than two values or ``stop <= start``; ``bin_size`` is not positive, does not
        divide the window, or meets intervals of different lengths (``window`` None); a window lies outside
        a ``time_support`` the ``TsGroup`` was given (its recorded epochs: time outside them is unrecorded,
        not silence). A ``TsGroup`` built without ``time_support=`` has pynapple's default, the span of its
        spikes, which says nothing about when the recording started or stopped; its windows are then
        counted wherever they lie, as ``TsGroup.count`` counts them. A subset such as ``tsgroup[[0, 2]]``
        keeps its parent's support, which is then checked like one that was set.

    Examples
    --------
    >>> import pynapple as nap
    >>> import spikepool as sp
    >>> spikes = {0: nap.Ts([0.1, 0.4, 1.2, 1.3]), 1: nap.Ts([0.2, 1.1])}
    >>> units = nap.TsGroup(spikes, time_support=nap.IntervalSet(0.0, 2.0))
    >>> trials_ep = nap.IntervalSet(start=[0.0, 1.0], end=[0.5, 1.5], metadata={"label": ["a", "b"]})
    >>> counts = sp.from_pynapple(units, trials_ep)
    >>> counts.values.tolist(), counts["condition"].values.tolist()
    ([[2, 2], [1, 1]], ['a', 'b'])
    >>> sp.from_pynapple(units, [0.0, 1.0], window=(0.0, 0.25)).values.tolist()
    [[1, 1], [1, 1]]
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
    ids = [str(k) for k in tsgroup.keys()]
    spikes = [{0: sorted_times(np.asarray(tsgroup[k].t, dtype=np.float64))} for k in tsgroup.keys()]
    support = np.column_stack([np.asarray(tsgroup.time_support.start), np.asarray(tsgroup.time_support.end)])
    outside = ~covered(lo, hi, support)
    if outside.any() and not spans_of_spikes(support, [s[0] for s in spikes]):
        k = int(np.flatnonzero(outside)[0])
        raise WindowError(
            f"every trial window must lie inside the TsGroup's time_support {support.tolist()}; got "
            f"{int(outside.sum())} outside, the first [{lo[k]:.6g}, {hi[k]:.6g}) s. Hint: time outside the "
            "recorded epochs is unrecorded, not silence; build the TsGroup with time_support= the recorded epochs "
            "(a subset such as tsgroup[[0, 2]] keeps its parent's support, not the span of its own spikes), or "
            "shorten the window."
        )
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

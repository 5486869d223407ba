"""Counts to other libraries' objects: ``counts_to_pynapple`` (extra ``pynapple``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import SourceError
from spikepool.io.pynapple import pynapple_module

__all__ = ["counts_to_pynapple"]


def counts_to_pynapple(counts: xr.DataArray):
    """Counts as a pynapple ``TsdFrame`` (time, neuron).

    Window counts (neuron, trial): one row per trial at its window's start (``t_start``). Binned counts
    (neuron, trial, time): one row per bin at its absolute centre (``t_start`` + the bin's offset), the
    layout of ``TsGroup.count``. Counts of unrecorded (``valid=False``) pairs are NaN (float), never 0.

    Parameters
    ----------
    counts : xarray.DataArray
        Counts from any spikepool loader (they need the ``t_start`` and ``t_stop`` trial coords).

    Returns
    -------
    pynapple.TsdFrame
        float64 counts, rows in time order (trials, or trials x bins), columns the neuron labels;
        ``time_support`` the trial windows ``[t_start, t_stop]`` (pynapple joins windows that overlap).

    Raises
    ------
    ImportError
        pynapple is not installed.
    ArgumentTypeError
        ``counts`` is not a DataArray.
    CountsError
        ``counts`` breaks the counts schema (``validate_counts``).
    SourceError
        ``counts`` has no ``t_start`` or ``t_stop`` trial coord (e.g. from ``from_array``), or they are not
        finite numbers with ``t_stop > t_start``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_spike_times({"u1": [0.1, 0.4, 1.2], "u2": [1.3]}, [0.0, 1.0], window=(0.0, 0.5))
    >>> frame = sp.counts_to_pynapple(counts)
    >>> list(frame.columns), frame.t.tolist(), frame.values.tolist()
    (['u1', 'u2'], [0.0, 1.0], [[2.0, 0.0], [1.0, 1.0]])
    """
    nap = pynapple_module()
    counts = validate_counts(counts)
    if "t_start" not in counts.coords or "t_stop" not in counts.coords:
        raise SourceError(
            "counts must carry absolute trial windows (t_start, t_stop coords) to be placed in time; got "
            f"coords {sorted(counts.coords)}. Hint: counts from from_neo / from_nwb / from_pynapple carry them."
        )
    valid = valid_mask(counts)
    try:
        start, stop = counts["t_start"].values.astype(float), counts["t_stop"].values.astype(float)
    except (TypeError, ValueError):
        start = stop = np.array([np.nan])
    if not (np.isfinite(start).all() and np.isfinite(stop).all() and (stop > start).all()):
        raise SourceError(
            "counts' t_start and t_stop must be finite times (s) with t_stop > t_start in every trial; got "
            f"t_start {counts['t_start'].values[:4].tolist()}, t_stop {counts['t_stop'].values[:4].tolist()} "
            "(first 4). Hint: the loaders write them; check coords assigned by hand."
        )
    values = counts.values.astype(float)
    if counts.ndim == 2:
        values = np.where(valid, values, np.nan)
        t, data = start, values.T
    else:
        values = np.where(valid[:, :, None], values, np.nan)
        width = float(counts.attrs.get("bin_size", (stop[0] - start[0]) / counts.sizes["time"]))
        offsets = width * (np.arange(counts.sizes["time"]) + 0.5)
        t = (start[:, None] + offsets[None, :]).ravel()
        data = values.transpose(1, 2, 0).reshape(-1, counts.sizes["neuron"])
    order = np.argsort(t, kind="stable")
    support = nap.IntervalSet(start=start, end=stop)
    return nap.TsdFrame(t=t[order], d=data[order], columns=counts["neuron"].values.tolist(), time_support=support)

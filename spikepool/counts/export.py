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
        Counts from any spikepool loader (they need the ``t_start`` trial coord).

    Returns
    -------
    pynapple.TsdFrame
        Columns are the neuron ids; ``time_support`` the trial windows.
    """
    nap = pynapple_module()
    counts = validate_counts(counts)
    if "t_start" not in counts.coords or "t_stop" not in counts.coords:
        raise SourceError(
            "counts must carry absolute trial windows (t_start, t_stop coords) to be placed in time; got "
            f"coords {sorted(counts.coords)}. Hint: counts from from_neo / from_nwb / from_pynapple carry them."
        )
    valid = valid_mask(counts)
    start, stop = counts["t_start"].values.astype(float), counts["t_stop"].values.astype(float)
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
    return nap.TsdFrame(t=t[order], d=data[order], columns=list(counts["neuron"].values), time_support=support)

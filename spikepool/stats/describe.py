"""Descriptive summaries of counts: ``summarize_counts`` and its text form ``format_summary``."""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.stats.fano import cell_codes, fano_screen

__all__ = ["format_summary", "summarize_counts"]


def summarize_counts(counts: xr.DataArray) -> xr.Dataset:
    """Per-neuron raw (no pooling) summary of window counts.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]); binned counts are summed over ``time``.

    Returns
    -------
    xarray.Dataset
        Over ``neuron`` (its labels the only coord): ``n_trials`` (valid trials) and ``spikes`` (total), int64;
        ``rate`` (Hz, spikes over summed exposure; NaN without exposure) and ``fano`` (within-condition
        variance / mean of the counts, averaged over conditions with spikes and at least two trials, weighted
        by trials - 1: the dispersion screen's ``spikepool.stats.fano.fano_screen``; NaN when no condition
        qualifies). ``attrs``: ``n_conditions`` and ``n_trials_total``.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray.
    CountsError
        ``counts`` breaks the counts schema (``validate_counts``).

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_array([[3, 5, 4, 6], [0, 1, 0, 1]], duration=0.5)
    >>> summary = sp.summarize_counts(counts)
    >>> summary["spikes"].values.tolist(), summary["rate"].values.tolist()
    ([18, 2], [9.0, 1.0])
    """
    counts = validate_counts(counts)
    window = counts.sum("time") if "time" in counts.dims else counts
    y = window.values.astype(np.float64)
    valid = valid_mask(counts)
    duration = counts["duration"].values.astype(np.float64)
    cond_names, cond_codes = cell_codes(counts["condition"].values)
    n_trials = valid.sum(axis=1)
    spikes = np.where(valid, y, 0).sum(axis=1)
    exposure = (valid * duration[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(exposure > 0, spikes / exposure, np.nan)
    fano = fano_screen(np.where(valid, y, 0.0), valid, cond_codes, cond_names.size)["fano"]
    return xr.Dataset(
        {
            "n_trials": ("neuron", n_trials.astype(np.int64)),
            "spikes": ("neuron", spikes.astype(np.int64)),
            "rate": ("neuron", rate, {"units": "Hz"}),
            "fano": ("neuron", fano),
        },
        coords={"neuron": counts["neuron"].values},
        attrs={"n_conditions": int(cond_names.size), "n_trials_total": int(counts.sizes["trial"])},
    )


def _seconds(value: object) -> str:
    """``"0.05 s"`` for a number of seconds, ``"? s"`` for anything else (a missing or odd ``bin_size``)."""
    return f"{value:g} s" if isinstance(value, numbers.Real) and not isinstance(value, bool) else "? s"


def format_summary(counts: xr.DataArray) -> str:
    """A readable text table of ``summarize_counts`` with the design in its header.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) in the counts schema.

    Returns
    -------
    str
        Header lines (``source``, design, conditions, exposure range, spikes counted and outside every
        window, median Fano), a blank line, then one row per neuron: trials, spikes, rate (Hz), Fano.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray.
    CountsError
        ``counts`` breaks the counts schema (``validate_counts``).

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_array([[3, 5, 4, 6], [0, 1, 0, 1]], duration=0.5, condition=["a", "b", "a", "b"])
    >>> print(format_summary(counts))
    source     : array
    design     : 2 neurons x 4 trials
    conditions : 2 (a, b)
    exposure   : 0.5-0.5 s per trial
    spikes     : 20 counted, 0 outside every window
    median Fano: 0.06 (within condition)
    <BLANKLINE>
        neuron  trials   spikes  rate (Hz)   Fano
             0       4       18       9.00   0.12
             1       4        2       1.00   0.00
    """
    s = summarize_counts(counts)
    conds = np.unique(counts["condition"].values.astype(str))
    dur = counts["duration"].values
    head = [
        f"source     : {counts.attrs.get('source', '?')}",
        f"design     : {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials"
        + (
            f" x {counts.sizes['time']} bins of {_seconds(counts.attrs.get('bin_size'))}"
            if "time" in counts.dims
            else ""
        ),
        f"conditions : {len(conds)} ({', '.join(conds[:8])}{', ...' if len(conds) > 8 else ''})"
        if conds.size > 1 or conds[0]
        else "conditions : none (one unlabelled condition)",
        f"exposure   : {dur.min():g}-{dur.max():g} s per trial",
        f"spikes     : {int(s['spikes'].sum())} counted, "
        f"{int(counts.attrs.get('spikes_outside', 0))} outside every window",
        f"median Fano: {np.nanmedian(s['fano'].values):.2f} (within condition)"
        if np.isfinite(s["fano"].values).any()
        else "median Fano: n/a",
        "",
        f"{'neuron':>10} {'trials':>7} {'spikes':>8} {'rate (Hz)':>10} {'Fano':>6}",
    ]
    rows = [
        f"{str(n):>10} {int(t):>7} {int(k):>8} {r:>10.2f} {f:>6.2f}"
        for n, t, k, r, f in zip(
            s["neuron"].values,
            s["n_trials"].values,
            s["spikes"].values,
            s["rate"].values,
            s["fano"].values,
            strict=True,
        )
    ]
    return "\n".join(head + rows)

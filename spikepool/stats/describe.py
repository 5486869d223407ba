"""Descriptive summaries of counts: ``summarize_counts`` and its text form ``format_summary``."""

from __future__ import annotations

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
        Over ``neuron``: ``n_trials`` (valid trials), ``spikes`` (total), ``rate`` (Hz, spikes
        over summed exposure) and ``fano`` (within-condition variance / mean of the counts, averaged over
        conditions with spikes and at least two trials, weighted by trials - 1: the dispersion screen's
        ``spikepool.stats.fano.fano_screen``; NaN when no condition qualifies).
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


def format_summary(counts: xr.DataArray) -> str:
    """A readable text table of ``summarize_counts`` with the design in its header."""
    s = summarize_counts(counts)
    conds = np.unique(counts["condition"].values.astype(str))
    dur = counts["duration"].values
    head = [
        f"source     : {counts.attrs.get('source', '?')}",
        f"design     : {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials"
        + (
            f" x {counts.sizes['time']} bins of {counts.attrs.get('bin_size', float('nan')):g} s"
            if "time" in counts.dims
            else ""
        ),
        f"conditions : {len(conds)} ({', '.join(conds[:8])}{', ...' if len(conds) > 8 else ''})",
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

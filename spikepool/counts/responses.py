"""Responses out of trials per neuron, from counts: ``responsive_trials``.

A trial is a *response* of a neuron when the neuron fired at least ``min_spikes`` spikes in the counting
window (all time bins summed for binned counts). ``responsive_trials`` counts, per neuron (and per
condition), the recorded trials and the responses among them: the ``(successes, trials)`` of
``BetaBinomial``, which pools the neurons' response probabilities.
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError

__all__ = ["responsive_trials"]


def _check_min_spikes(min_spikes: object, counts: xr.DataArray) -> int | np.ndarray:
    """``min_spikes`` as an int, or as an int64 array (neuron,) in the order of ``counts``' neurons."""
    if isinstance(min_spikes, xr.DataArray):
        if min_spikes.dims not in ((), ("neuron",)):
            raise ArgumentError(
                f"min_spikes must be an int or a DataArray over 'neuron'; got dims {min_spikes.dims}. "
                "Hint: one threshold per neuron, e.g. counts.quantile(0.95, dim='trial')."
            )
        if min_spikes.ndim == 1 and "neuron" in min_spikes.coords:
            given = set(min_spikes["neuron"].values.tolist())
            missing = [n for n in counts["neuron"].values.tolist() if n not in given]
            if missing:
                raise ArgumentError(
                    f"min_spikes must give a threshold for every neuron of counts; got none for {missing[0]!r}."
                )
            min_spikes = min_spikes.sel(neuron=counts["neuron"].values)
        elif min_spikes.ndim == 1 and min_spikes.size != counts.sizes["neuron"]:
            raise ArgumentError(
                f"min_spikes must give one threshold per neuron; got {min_spikes.size} for "
                f"{counts.sizes['neuron']} neurons."
            )
        values = np.asarray(min_spikes.values)
        if values.dtype.kind not in "iuf" or not (np.isfinite(values) & (values == np.round(values))).all():
            raise ArgumentTypeError(
                f"min_spikes must hold whole numbers (spikes in the window); got {values.tolist()!r}."
            )
        if (values < 1).any():
            raise ArgumentError(f"min_spikes must be >= 1; got {values.min():g}. Hint: with 0 every trial responds.")
        if values.ndim == 0:
            return int(values)
        return values.astype(np.int64)
    if isinstance(min_spikes, bool) or not isinstance(min_spikes, numbers.Integral):
        raise ArgumentTypeError(
            f"min_spikes must be an int (spikes in the window) or a DataArray over 'neuron'; got "
            f"{type(min_spikes).__name__} {min_spikes!r}."
        )
    if min_spikes < 1:
        raise ArgumentError(
            f"min_spikes must be >= 1; got {min_spikes}. Hint: with 0 every recorded trial is a response."
        )
    return int(min_spikes)


def _check_condition(counts: xr.DataArray, condition: str) -> str:
    trial_coords = [str(c) for c in counts.coords if counts[c].dims == ("trial",) and c != "trial"]
    if condition not in trial_coords:
        raise ArgumentError(
            f"condition must name a coordinate on 'trial'; got {condition!r}, available {trial_coords}."
            f"{did_you_mean(condition, trial_coords)}"
        )
    return condition


def responsive_trials(
    counts: xr.DataArray, min_spikes: int | xr.DataArray = 1, *, condition: str | None = None
) -> xr.Dataset:
    """Per neuron (and condition): recorded trials, and those with at least ``min_spikes`` spikes.

    Parameters
    ----------
    counts : xarray.DataArray
        Spike counts (neuron, trial) or (neuron, trial, time) in the counts schema (``validate_counts``);
        binned counts are summed over ``time`` (the whole window). Trials whose ``valid`` coord is False
        (neuron not recorded) count neither as trials nor as responses.
    min_spikes : int or xarray.DataArray
        A trial is a response when the window holds at least this many spikes (>= 1): one int for all
        neurons, or a DataArray over ``neuron`` (whole numbers, matched by neuron label) with a threshold
        per neuron, e.g. from its spontaneous trials.
    condition : str, optional
        A coordinate on ``trial`` (e.g. ``"condition"``): count per value of it, sorted. Default: all of a
        neuron's trials together.

    Returns
    -------
    xarray.Dataset
        ``successes`` (responses) and ``trials`` (recorded trials), int64, over ``neuron`` or, with
        ``condition``, over (``neuron``, <condition>) with the condition's values as that dim's coord.
        Neuron coords of ``counts`` are kept; ``attrs`` hold ``min_spikes`` and ``condition`` (per-neuron
        thresholds become the ``min_spikes`` coord on ``neuron``). A neuron without a valid trial (in a
        condition) gets ``trials = 0`` and ``successes = 0``: it carries no information about its response
        probability, and ``BetaBinomial`` refuses it, so drop it first, e.g.
        ``ds.where(ds.trials > 0, drop=True)`` (1-D results; for 2-D ones select a condition, or stack the
        dims, first). ``counts`` is not modified.

    Raises
    ------
    TypeError
        ``counts`` is not a DataArray, or ``min_spikes`` not an int (or DataArray of whole numbers).
    CountsError
        ``counts`` breaks the counts schema.
    ValueError
        ``min_spikes < 1`` or missing for a neuron, or ``condition`` is not a coordinate on ``trial``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_array([[0, 2, 1, 5], [0, 0, 3, 0]], duration=0.5, condition=["a", "b", "a", "b"])
    >>> ds = sp.responsive_trials(counts, min_spikes=2)
    >>> ds["successes"].values.tolist(), ds["trials"].values.tolist()
    ([2, 1], [4, 4])
    >>> sp.responsive_trials(counts, condition="condition")["successes"].values.tolist()
    [[1, 2], [1, 0]]
    """
    counts = validate_counts(counts)
    threshold = _check_min_spikes(min_spikes, counts)
    if condition is not None:
        _check_condition(counts, condition)
    window = counts.values.sum(axis=2) if counts.ndim == 3 else counts.values
    valid = valid_mask(counts)
    per_neuron = isinstance(threshold, np.ndarray)
    responded = valid & (window >= (threshold[:, None] if per_neuron else threshold))
    neuron_coords = {
        str(name): (coord.dims, coord.values, dict(coord.attrs))
        for name, coord in counts.coords.items()
        if coord.dims == ("neuron",)
    }
    if per_neuron:
        neuron_coords["min_spikes"] = (("neuron",), threshold, {"long_name": "spikes that make a response"})
    attrs = {
        "min_spikes": "per neuron (coord min_spikes)" if per_neuron else threshold,
        "condition": "" if condition is None else condition,
    }
    label = "min_spikes" if per_neuron else threshold
    if condition is None:
        dims: tuple[str, ...] = ("neuron",)
        successes = responded.sum(axis=1)
        trials = valid.sum(axis=1)
        coords = neuron_coords
    else:
        names, codes = np.unique(counts[condition].values, return_inverse=True)
        onehot = np.zeros((codes.size, names.size), dtype=np.int64)
        onehot[np.arange(codes.size), codes.ravel()] = 1
        dims = ("neuron", condition)
        successes = responded.astype(np.int64) @ onehot
        trials = valid.astype(np.int64) @ onehot
        coords = {**neuron_coords, condition: names}
    return xr.Dataset(
        {
            "successes": (dims, successes.astype(np.int64), {"long_name": f"trials with >= {label} spikes"}),
            "trials": (dims, trials.astype(np.int64), {"long_name": "recorded (valid) trials"}),
        },
        coords=coords,
        attrs=attrs,
    )

"""The counts schema: ``validate_counts``, ``from_array``, ``open_counts``.

A counts object is a plain ``xarray.DataArray`` of non-negative integers with dims
``("neuron", "trial")`` (window counts) or ``("neuron", "trial", "time")`` (binned counts).
Trial coords: ``condition`` (str) and ``duration`` (s, the exposure); an optional boolean
``valid`` (neuron, trial) marks trials in which a neuron was recorded (counts are 0 elsewhere, never
NaN). Counts round-trip through netCDF (``counts.to_netcdf(path)`` / ``open_counts(path)``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool._version import __version__
from spikepool.exceptions import ArgumentTypeError, CountsError

__all__ = ["from_array", "open_counts", "valid_mask", "validate_counts"]

DIMS = ("neuron", "trial")
BINNED_DIMS = ("neuron", "trial", "time")


def valid_mask(counts: xr.DataArray) -> np.ndarray:
    """Boolean (neuron, trial) array of recorded pairs: the ``valid`` coord, or all True without it."""
    if "valid" in counts.coords:
        return np.asarray(counts["valid"].values, dtype=bool)
    return np.ones((counts.sizes["neuron"], counts.sizes["trial"]), dtype=bool)


def _where(counts: xr.DataArray, mask: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    neuron = counts["neuron"].values[idx[0]].item()
    text = f"neuron {neuron!r}, trial {counts['trial'].values[idx[1]].item()!r}"
    if len(idx) == 3:
        text += f", time bin {idx[2]}"
    return f"{text} holds {counts.values[idx].item()!r}"


def _check_dims(counts: xr.DataArray) -> None:
    if counts.dims in (DIMS, BINNED_DIMS):
        return
    unknown = [d for d in counts.dims if d not in BINNED_DIMS]
    hint = "".join(did_you_mean(d, BINNED_DIMS) for d in unknown)
    raise CountsError(
        f"counts must have dims ('neuron', 'trial') or ('neuron', 'trial', 'time') in that order; "
        f"got {counts.dims}.{hint} Hint: counts.transpose('neuron', 'trial', ...) fixes the order."
    )


def _check_values(counts: xr.DataArray) -> None:
    values = counts.values
    kind = values.dtype.kind
    if kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise CountsError(
                f"counts must be non-negative integers; {_where(counts, bad)}. "
                "Hint: spike counts come from from_neo(); mark unrecorded trials with the 'valid' coord, "
                "not NaN."
            )
    if kind not in "iuf":
        raise CountsError(f"counts must be non-negative integers; got dtype {values.dtype}.")
    if kind in "if" and (values < 0).any():
        raise CountsError(
            f"counts must be non-negative integers; {_where(counts, values < 0)}. "
            "Hint: spike counts come from from_neo()."
        )


def _check_sizes(counts: xr.DataArray) -> None:
    empty = [f"0 {dim}s" for dim in counts.dims if counts.sizes[dim] == 0]
    if empty:
        raise CountsError(
            f"counts must hold at least one neuron, one trial{' and one time bin' if counts.ndim == 3 else ''}; "
            f"got {' and '.join(empty)} (shape {dict(counts.sizes)}). "
            "Hint: check the window, align= and the trial selection that built them."
        )


def _check_coords(counts: xr.DataArray) -> None:
    for dim in counts.dims:
        index = counts.indexes.get(dim)
        if index is None:
            raise CountsError(f"counts must have a {dim!r} coordinate; got none. Hint: from_array() adds it.")
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise CountsError(f"{dim} labels must be unique; got {dup!r} more than once.")
    for name in ("condition", "duration"):
        if name not in counts.coords:
            hint = did_you_mean(name, [str(c) for c in counts.coords])
            raise CountsError(
                f"counts must have a {name!r} coordinate on 'trial'; got coords {list(counts.coords)}.{hint}"
            )
        if counts[name].dims != ("trial",):
            raise CountsError(f"coordinate {name!r} must have dims ('trial',); got {counts[name].dims}.")
    if counts["duration"].dtype.kind not in "iuf":
        raise CountsError(f"duration must be numeric seconds; got dtype {counts['duration'].dtype}.")
    if "valid" in counts.coords:
        valid = counts["valid"]
        if valid.dims != DIMS or valid.dtype != bool:
            raise CountsError(
                f"'valid' must be a boolean (neuron, trial) coordinate; got dims {valid.dims}, dtype {valid.dtype}."
            )
        spill = ~valid.values
        if counts.ndim == 3:
            spill = spill[..., None] & (counts.values != 0)
        else:
            spill = spill & (counts.values != 0)
        if spill.any():
            raise CountsError(
                f"counts must be 0 where 'valid' is False (neuron not recorded); {_where(counts, spill)}."
            )


def validate_counts(counts: Any) -> xr.DataArray:
    """Check that ``counts`` follows the spikepool counts schema; return it (integer-typed).

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial) or (neuron, trial, time) of non-negative integer spike counts,
        with ``condition`` and ``duration`` (s) coords on ``trial``. Floats holding whole numbers (what
        ``counts.where(mask, drop=True)`` returns) are accepted; fractional, NaN or infinite ones are not.

    Returns
    -------
    xarray.DataArray
        The same object when its dtype is an integer; otherwise an int64 copy (the caller's array is
        never modified). Use the returned object.

    Raises
    ------
    TypeError
        If ``counts`` is not a DataArray.
    CountsError
        Naming the first problem: wrong dims, no neuron or no trial, non-integer, negative or NaN values,
        missing or duplicated coords, counts in unrecorded (``valid`` False) trials.

    Examples
    --------
    >>> counts = from_array([[3, 5], [0, 1]], duration=0.5)
    >>> validate_counts(counts.astype(float)).dtype
    dtype('int64')
    """
    if not isinstance(counts, xr.DataArray):
        raise ArgumentTypeError(
            f"counts must be an xarray.DataArray; got {type(counts).__name__}. "
            "Hint: from_array() wraps a numpy array, from_neo() counts spike trains."
        )
    _check_dims(counts)
    _check_sizes(counts)
    _check_values(counts)
    _check_coords(counts)
    return counts.astype(np.int64) if counts.dtype.kind == "f" else counts


def from_array(
    values: Any,
    *,
    duration: Any,
    condition: Any = None,
    neuron: Any = None,
    valid: Any = None,
    time: Any = None,
    attrs: dict | None = None,
) -> xr.DataArray:
    """Wrap an array of spike counts in the counts schema.

    Parameters
    ----------
    values : array-like
        Non-negative integer counts, shape (neuron, trial) or (neuron, trial, time).
    duration : float or array-like
        Exposure of each trial in seconds (a scalar applies to all trials).
    condition : array-like of str, optional
        Condition of each trial; default ``""``.
    neuron : array-like, optional
        Neuron ids; default ``"0"``, ``"1"``, ...
    valid : array-like of bool, optional
        (neuron, trial) mask of recorded trials.
    time : array-like, optional
        Bin centres (s) for 3-D counts.
    attrs : dict, optional
        Extra attributes.

    Returns
    -------
    xarray.DataArray
        Validated counts (a new array; ``values`` is copied).

    Examples
    --------
    >>> counts = from_array([[3, 5], [0, 1]], duration=0.5)
    >>> counts.dims, counts["duration"].values.tolist()
    (('neuron', 'trial'), [0.5, 0.5])
    """
    arr = np.array(values, copy=True)
    if arr.ndim not in (2, 3):
        raise CountsError(f"values must be 2-D (neuron, trial) or 3-D (neuron, trial, time); got {arr.ndim}-D.")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    n_neuron, n_trial = arr.shape[:2]
    dur = np.broadcast_to(np.asarray(duration, dtype=np.float64), (n_trial,)).copy()
    cond = np.full(n_trial, "") if condition is None else np.asarray(condition).astype(str)
    coords: dict = {
        "neuron": np.arange(n_neuron).astype(str) if neuron is None else np.asarray(neuron).astype(str),
        "trial": np.arange(n_trial, dtype=np.int64),
        "condition": ("trial", cond),
        "duration": ("trial", dur, {"units": "s", "long_name": "exposure"}),
    }
    if valid is not None:
        coords["valid"] = (DIMS, np.asarray(valid, dtype=bool))
    dims = DIMS
    if arr.ndim == 3:
        dims = BINNED_DIMS
        coords["time"] = np.arange(arr.shape[2], dtype=float) if time is None else np.asarray(time, float)
    out = xr.DataArray(
        arr,
        dims=dims,
        coords=coords,
        name="counts",
        attrs={"source": "array", "spikepool_version": __version__, **(attrs or {})},
    )
    return validate_counts(out)


def open_counts(path: str | os.PathLike) -> xr.DataArray:
    """Read counts written with ``counts.to_netcdf(path)``; coords and attrs come back intact.

    Returns
    -------
    xarray.DataArray
        Validated counts (neuron, trial[, time]), fully loaded (the file is closed).
    """
    with xr.open_dataarray(path) as da:
        counts = da.load()
    return validate_counts(counts)

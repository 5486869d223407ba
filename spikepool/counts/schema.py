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
from spikepool.exceptions import ArgumentError, ArgumentTypeError, CountsError, SourceError

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


def _sized(name: str, value: Any, shape: tuple, per: str = "trial", dtype: Any = str) -> np.ndarray:
    """``value`` as an array of ``shape`` (one number may stand for all when ``dtype`` is float64), else refuse it."""
    try:
        arr = np.asarray(value).astype(dtype)
    except (TypeError, ValueError):
        kind = "booleans" if dtype is bool else "numbers"
        raise ArgumentTypeError(f"{name} must be {kind}; got {np.asarray(value).dtype} values.") from None
    if arr.shape != shape and not (dtype is np.float64 and arr.ndim == 0):
        one = "one number or " if dtype is np.float64 else ""
        raise ArgumentError(
            f"{name} must be {one}one value per {per}, shape {shape}; got shape {arr.shape}. "
            "Hint: values has shape (neuron, trial[, time])."
        )
    return arr


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
        Validated counts, dims ``("neuron", "trial")`` or ``("neuron", "trial", "time")`` (int64 for whole
        numbers), coords ``neuron`` (str), ``trial`` (0, 1, ...), ``condition`` and ``duration`` on ``trial``,
        ``valid`` and ``time`` when given; ``attrs`` ``source``, ``spikepool_version`` and ``attrs``. A new
        array: ``values`` is copied.

    Raises
    ------
    ArgumentTypeError
        ``duration`` or ``time`` is not numbers; ``attrs`` is not a dict.
    ArgumentError
        ``duration`` is neither one number nor one per trial; ``condition``, ``neuron``, ``valid`` or
        ``time`` is not one per trial, neuron, (neuron, trial) pair or time bin.
    CountsError
        ``values`` is ragged or not 2-D or 3-D, or breaks the schema (``validate_counts``): no neuron or no
        trial, negative, fractional or non-finite counts, repeated ``neuron`` ids, counts where ``valid`` is
        False.

    Examples
    --------
    >>> counts = from_array([[3, 5], [0, 1]], duration=0.5)
    >>> counts.dims, counts["duration"].values.tolist()
    (('neuron', 'trial'), [0.5, 0.5])
    """
    try:
        arr = np.array(values, copy=True)
    except ValueError:
        raise CountsError("values must be a rectangular array of counts; got rows of different lengths.") from None
    if arr.ndim not in (2, 3):
        raise CountsError(f"values must be 2-D (neuron, trial) or 3-D (neuron, trial, time); got {arr.ndim}-D.")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if attrs is not None and not isinstance(attrs, dict):
        raise ArgumentTypeError(f"attrs must be a dict; got {type(attrs).__name__}.")
    n_neuron, n_trial = arr.shape[:2]
    dur = np.broadcast_to(_sized("duration", duration, (n_trial,), "trial", np.float64), (n_trial,)).copy()
    ids = np.arange(n_neuron).astype(str) if neuron is None else _sized("neuron", neuron, (n_neuron,), "neuron")
    cond = np.full(n_trial, "") if condition is None else _sized("condition", condition, (n_trial,))
    coords: dict = {
        "neuron": ids,
        "trial": np.arange(n_trial, dtype=np.int64),
        "condition": ("trial", cond),
        "duration": ("trial", dur, {"units": "s", "long_name": "exposure"}),
    }
    if valid is not None:
        coords["valid"] = (DIMS, _sized("valid", valid, arr.shape[:2], "(neuron, trial) pair", bool))
    dims = DIMS
    if arr.ndim == 3:
        dims = BINNED_DIMS
        bins = arr.shape[2:]
        coords["time"] = np.arange(bins[0], dtype=float) if time is None else _sized("time", time, bins, "bin", float)
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

    Parameters
    ----------
    path : str or os.PathLike
        A netCDF file holding one counts DataArray.

    Returns
    -------
    xarray.DataArray
        Validated counts (neuron, trial[, time]) with the coords and attrs written (``condition``,
        ``duration``, ``valid``, ...), fully loaded (the file is closed).

    Raises
    ------
    ArgumentTypeError
        ``path`` is not a str or path-like.
    FileNotFoundError
        ``path`` is not an existing file.
    SourceError
        The file cannot be read as one netCDF DataArray (not netCDF, truncated, or a result file, which
        ``load_result`` reads).
    CountsError
        The array read breaks the counts schema (``validate_counts``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> counts = from_array([[3, 5], [0, 1]], duration=0.5, condition=["odour", "air"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     counts.to_netcdf(Path(folder) / "counts.nc")
    ...     back = open_counts(Path(folder) / "counts.nc")
    >>> back.identical(counts), back["condition"].values.tolist()
    (True, ['odour', 'air'])
    """
    if not isinstance(path, str | os.PathLike):
        raise ArgumentTypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path must be an existing counts file (from counts.to_netcdf); got {str(path)!r}.")
    try:
        with xr.open_dataarray(path) as da:
            counts = da.load()
    except Exception as err:  # netCDF4 / h5py raise OSError, ValueError or KeyError for damaged files
        raise SourceError(
            f"path must be a netCDF file of counts written by counts.to_netcdf; could not read {str(path)!r}: "
            f"{type(err).__name__}: {err}. Hint: results open with sp.load_result(path)."
        ) from err
    return validate_counts(counts)

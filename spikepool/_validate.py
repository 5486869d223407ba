"""Argument checks shared across the package (one message per idea): choices with "Did you mean", ``ci_prob``,
integers, 1-D inputs."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentError, ArgumentTypeError

__all__ = [
    "check_choice",
    "check_ci_prob",
    "check_int",
    "check_trial_coord",
    "describe_choices",
    "did_you_mean",
    "vector_1d",
]


def check_ci_prob(ci_prob: Any) -> float:
    """Return ``ci_prob`` as a float after checking it is a probability strictly between 0 and 1.

    Examples
    --------
    >>> check_ci_prob(0.94)
    0.94
    """
    ok = isinstance(ci_prob, int | float | np.floating) and not isinstance(ci_prob, bool)
    if not ok or not 0 < ci_prob < 1:
        raise ArgumentError(
            f"ci_prob must be a probability in (0, 1); got {ci_prob!r}. Hint: 0.94 gives a 94% interval."
        )
    return float(ci_prob)


def check_int(name: str, value: Any, low: int) -> None:
    """Refuse ``value`` unless it is an integer (not a bool) >= ``low``, naming it ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ArgumentError(f"{name} must be an integer >= {low}; got {value!r}.")


def did_you_mean(value: Any, choices: Sequence[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def describe_choices(choices: Sequence[str]) -> str:
    """``"'a' or 'b'"`` for two choices, ``"one of ('a', 'b', 'c')"`` for more."""
    return f"{choices[0]!r} or {choices[1]!r}" if len(choices) == 2 else f"one of {tuple(choices)}"


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming ``name`` (with "Did you mean").

    Examples
    --------
    >>> check_choice("pooling", "partial", ("partial", "none"))
    'partial'
    """
    if value not in choices:
        raise ArgumentError(f"{name} must be one of {tuple(choices)}; got {value!r}.{did_you_mean(value, choices)}")
    return value


def check_trial_coord(counts: xr.DataArray, condition: Any, none_ok: bool = False) -> None:
    """Refuse ``condition`` unless it names a coordinate of ``counts`` on ``trial`` alone (with "Did you mean")."""
    if isinstance(condition, str) and condition in counts.coords and counts[condition].dims == ("trial",):
        return
    trial_coords = [str(c) for c in counts.coords if counts[c].dims == ("trial",)]
    raise ArgumentError(
        f"condition must name a coordinate on 'trial'{' or be None' if none_ok else ''}; got {condition!r}, "
        f"available {trial_coords}.{did_you_mean(condition, trial_coords)}"
    )


def vector_1d(name: str, value: Any, hint: str = "") -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """A 1-D float array from an array or DataArray, with the DataArray's dim and coords (not checked finite).

    ``hint`` is appended to the error for a DataArray that is not 1-D.
    """
    dim = coords = None
    if isinstance(value, xr.DataArray):
        if value.ndim != 1:
            raise ArgumentError(f"{name} must be 1-D (one value per group); got dims {value.dims}.{hint}")
        dim = str(value.dims[0])
        coords = value[dim].values if dim in value.coords else None
        value = value.values
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{name} must be numbers (array or DataArray); got {type(value).__name__}.") from None
    if arr.ndim != 1:
        raise ArgumentError(f"{name} must be 1-D (one value per group); got shape {arr.shape}.")
    return arr, dim, coords

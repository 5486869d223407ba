"""Conversion of times to float seconds, once, at the boundary.

Everything inside spikepool works in float64 seconds; ``quantities`` objects are converted here and
nowhere else (Elephant's binning once changed spike totals through repeated unit rounding,
elephant#202).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import quantities as pq

from spikepool.exceptions import ArgumentTypeError, UnitsError, WindowError

__all__ = ["to_seconds", "window_to_seconds"]


def _unit_of(name: str, units: Any) -> pq.Quantity:
    if isinstance(units, pq.Quantity):
        unit = units
    else:
        try:
            unit = pq.Quantity(1.0, units)
        except (LookupError, ValueError, TypeError) as err:
            raise UnitsError(
                f"{name} must be in units of time such as 's' or 'ms'; got units {units!r}. "
                "Hint: pass units='s' or 'ms'."
            ) from err
    try:
        unit.rescale(pq.s)
    except ValueError as err:
        raise UnitsError(
            f"{name} must be in units of time such as 's' or 'ms'; got units "
            f"{unit.dimensionality.string!r}, which cannot be converted to seconds. "
            + (
                "Hint: check which array holds the spike times."
                if "spike" in name or "times" in name
                else "Hint: give it in seconds, or as a quantity such as 500 * pq.ms."
            )
        ) from err
    return unit


def to_seconds(values: Any, name: str, units: Any = None) -> np.ndarray:
    """Return ``values`` as a new float64 array in seconds.

    Parameters
    ----------
    values : array-like or quantities.Quantity
        Times. A ``Quantity`` carries its own units; a plain array takes ``units``.
    name : str
        Name of the input, for error messages.
    units : str or quantities.Quantity, optional
        Units of a plain array. Required when ``values`` is not a ``Quantity``.

    Returns
    -------
    numpy.ndarray
        float64 copy in seconds (the caller's array is never modified).
    """
    if isinstance(values, pq.Quantity):
        if units is not None and not isinstance(units, str | pq.Quantity):
            raise ArgumentTypeError(f"units must be a string or a Quantity; got {type(units).__name__}.")
        _unit_of(name, values.units)
        out = np.array(values.rescale(pq.s).magnitude, dtype=np.float64, copy=True)
    else:
        if units is None:
            raise UnitsError(
                f"{name} must carry time units; got a plain {type(values).__name__} without units. "
                "Hint: pass a quantities.Quantity (e.g. times * pq.s) or units='s'."
            )
        factor = float(_unit_of(name, units).rescale(pq.s).magnitude)
        try:
            out = np.array(values, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as err:
            raise ArgumentTypeError(f"{name} must be numeric times; got {type(values).__name__}.") from err
        if factor != 1.0:
            out = out * factor
    if not np.all(np.isfinite(out)):
        raise UnitsError(f"{name} must be finite times; got NaN or infinite values.")
    return out


def window_to_seconds(window: Any, name: str = "window", units: Any = "s") -> tuple[float, float] | None:
    """Return a ``(start, stop)`` window in float seconds, checking ``stop > start``.

    ``window`` may be a pair of numbers (in ``units``), a length-2 ``Quantity``, or a pair of
    scalar ``Quantity`` objects; ``None`` passes through.
    """
    if window is None:
        return None
    if isinstance(window, pq.Quantity):
        pair = to_seconds(window, name)
    else:
        try:
            items = list(window)
        except TypeError as err:
            raise ArgumentTypeError(f"{name} must be a (start, stop) pair; got {type(window).__name__}.") from err
        if len(items) != 2:
            raise WindowError(
                f"{name} must be a (start, stop) pair; got {len(items)} values. "
                "Hint: window=(0.0, 0.5) counts from 0 to 0.5 s after the alignment."
            )
        pair = np.array(
            [to_seconds(v, name) if isinstance(v, pq.Quantity) else to_seconds(v, name, units) for v in items],
            dtype=np.float64,
        ).ravel()
    if pair.shape != (2,):
        raise WindowError(f"{name} must be a (start, stop) pair; got shape {pair.shape}.")
    start, stop = float(pair[0]), float(pair[1])
    if not stop > start:
        raise WindowError(
            f"{name} must have stop > start; got start={start!r} s, stop={stop!r} s. "
            "Hint: window=(pre, post) is relative to the alignment, e.g. (-0.5, 1.0)."
        )
    return start, stop

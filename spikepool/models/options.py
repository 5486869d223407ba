"""Validation of the ``priors=`` and ``fixed=`` arguments shared by the models of estimates and proportions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spikepool._validate import describe_choices, did_you_mean
from spikepool.exceptions import ArgumentError, ArgumentTypeError

__all__ = ["resolve_fixed", "resolve_priors"]


def resolve_priors(
    defaults: Mapping[str, Any],
    priors: Mapping[str, Any] | None,
    *,
    families: Mapping[str, Sequence[str]],
    positive: Sequence[str],
    finite: Sequence[str] = (),
) -> dict[str, Any]:
    """``defaults`` updated with ``priors``, checked: known keys, a known family for each key of ``families``,
    a positive number for each key of ``positive`` and a finite one for each of ``finite`` (stored as floats).
    """
    if priors is not None and not isinstance(priors, Mapping):
        raise ArgumentTypeError(f"priors must be a dict of prior settings; got {type(priors).__name__}.")
    out = dict(defaults)
    for key, value in (priors or {}).items():
        if key not in out:
            raise ArgumentError(f"priors keys must be among {sorted(out)}; got {key!r}.{did_you_mean(key, list(out))}")
        out[key] = value
    for key, choices in families.items():
        if out[key] not in choices:
            raise ArgumentError(
                f"priors[{key!r}] must be {describe_choices(choices)}; got {out[key]!r}."
                f"{did_you_mean(out[key], choices)}"
            )
    for keys, kind, ok in ((positive, "positive", lambda v: v > 0), (finite, "finite", lambda v: True)):
        for key in keys:
            value = out[key]
            if isinstance(value, bool) or not (isinstance(value, int | float) and np.isfinite(value) and ok(value)):
                raise ArgumentError(f"priors[{key!r}] must be a {kind} number; got {value!r}.")
            out[key] = float(value)
    return out


def resolve_fixed(fixed: Mapping[str, Any] | None, allowed: Sequence[str], *, positive: Sequence[str]) -> dict:
    """``fixed`` as ``{name: float}``: names among ``allowed``, finite values, > 0 for those in ``positive``."""
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ArgumentTypeError(f"fixed must be a dict of parameter values; got {type(fixed).__name__}.")
    out = {}
    for key, value in (fixed or {}).items():
        if key not in allowed:
            raise ArgumentError(
                f"fixed keys must be {describe_choices(allowed)}; got {key!r}. "
                f"Hint: fixed={{{allowed[0]!r}: 0.0}} holds {allowed[0]} at 0."
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ArgumentTypeError(f"fixed[{key!r}] must be a number; got {type(value).__name__}.") from None
        if not np.isfinite(value) or (key in positive and value <= 0):
            raise ArgumentError(f"fixed[{key!r}] must be finite{' and > 0' if key in positive else ''}; got {value}.")
        out[key] = value
    return out

"""Argument checks shared across the package (one message per idea)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_ci_prob", "check_int", "did_you_mean"]


def check_ci_prob(ci_prob: Any) -> float:
    """Return ``ci_prob`` as a float after checking it is a probability strictly between 0 and 1.

    Examples
    --------
    >>> check_ci_prob(0.94)
    0.94
    """
    ok = isinstance(ci_prob, int | float | np.floating) and not isinstance(ci_prob, bool)
    if not ok or not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be a probability in (0, 1); got {ci_prob!r}. Hint: 0.94 gives a 94% interval.")
    return float(ci_prob)


def check_int(name: str, value: Any, low: int) -> None:
    """Refuse ``value`` unless it is an integer (not a bool) >= ``low``, naming it ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")


def did_you_mean(value: Any, choices: Sequence[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""

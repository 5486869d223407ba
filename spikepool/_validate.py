"""Argument checks shared across the package (one message per idea)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_ci_prob"]


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

"""What every figure function shares: a fresh Axes when none is given."""

from __future__ import annotations

__all__ = ["_axes"]


def _axes(ax):
    """``ax``, or a new figure's Axes when None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax

"""What the figure functions share: a fresh Axes when none is given, a result's table checked for what a plot
draws, one row per neuron [x condition], and how many rows a forest plot draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentError, ArgumentTypeError

__all__ = ["COUNT_HINT", "MAX_ROWS", "_axes", "_cells", "_provided"]

#: Rows a forest plot draws; beyond it plot_rates shows the lowest and highest rates, plot_fano and
#: plot_ppc_fano a scatter of every cell and plot_shrinkage plain faint segments instead of arrows.
MAX_ROWS = 60

COUNT_HINT = "this plot draws a count model's fit (HierarchicalNegBinom); plot_pooled_estimates draws any model's."


def _axes(ax):
    """``ax``, or a new figure's Axes when None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax


def _cells(ds: xr.Dataset) -> tuple[list[str], dict[str, np.ndarray]]:
    """Flatten neuron [x condition] to one row per cell with readable labels."""
    if "condition" in ds.dims:
        stacked = ds.stack(cell=("neuron", "condition"))
        labels = [f"{n} / {c}" for n, c in zip(stacked["neuron"].values, stacked["condition"].values, strict=True)]
        return labels, {k: stacked[k].values for k in ds.data_vars} | {"condition": stacked["condition"].values}
    return [str(n) for n in ds["neuron"].values], {k: ds[k].values for k in ds.data_vars}


def _provided(
    result: Any, method: str, variables: tuple[str, ...], hint: str, over_time: bool = False, **kwargs
) -> xr.Dataset:
    """``result``'s table from ``method`` (or ``result`` itself when it is that table), checked for ``variables``.

    Raises ``ArgumentTypeError`` when the result has no such table and ``ArgumentError`` when the table lacks
    what the plot draws, each naming what is missing; a table over time only where ``over_time``.
    """
    if isinstance(result, xr.Dataset):
        table = result
    elif callable(getattr(result, method, None)):
        table = getattr(result, method)(**kwargs)
    else:
        raise ArgumentTypeError(
            f"result must provide {method}() or be its table; got {type(result).__name__}, which has none. Hint: {hint}"
        )
    missing = [v for v in variables if v not in table]
    if missing:
        raise ArgumentError(
            f"result must provide {list(variables)} in its {method}() table; got one without {missing}. Hint: {hint}"
        )
    if "time" in table.dims and not over_time:
        raise ArgumentError(
            f"result must give its {method}() per neuron [x condition] for this plot; got one over time (a "
            "time-resolved fit). Hint: plot_psth_fit, plot_rate_map and plot_fano_time draw time-resolved fits; "
            "or plot one time point (table.sel(time=t))."
        )
    return table

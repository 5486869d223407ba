"""Figures of trial-to-trial variability: the Fano factor per neuron [x condition] and the posterior
predictive checks of the counts. Every function takes ``ax=None`` and returns the Axes (``spikepool.plots``
re-exports them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.viz._common import COUNT_HINT, MAX_ROWS, _axes, _cells, _provided

__all__ = ["plot_fano", "plot_ppc_counts", "plot_ppc_fano"]


def plot_fano(result: Any, *, ci_prob: float = 0.94, ax=None):
    """Posterior Fano factor per neuron [x condition] with interval (the family's: 1 + mu/alpha for the NB, below
    1 for a COM-Poisson with nu > 1), empirical as crosses, Poisson's 1 dashed.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A count model's fit, or its ``fano()`` table (``mean``, ``lower``, ``upper``, ``empirical`` over
        neuron [x condition]).
    ci_prob : float
        Probability of the intervals when ``result`` is a fit, in (0, 1); a table's legend states the table's
        own (``attrs["ci_prob"]``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        One row per neuron [x condition]; beyond ``MAX_ROWS`` rows, the model's Fano factor against the
        empirical one, a dot per cell.

    Raises
    ------
    ArgumentTypeError
        ``result`` is neither a fit with ``fano()`` nor a Dataset.
    ArgumentError
        ``ci_prob`` is not in (0, 1); the table lacks a variable the plot draws, or is over time.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_fano(result)
    >>> ax.get_xlabel(), len(ax.get_yticklabels())  # one row per neuron x condition
    ('Fano factor of the counts', 40)
    >>> bool((result.fano()["mean"] > 1).all())  # the NB's Fano factor, 1 + mu / alpha
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    table = _provided(result, "fano", ("mean", "lower", "upper", "empirical"), COUNT_HINT, ci_prob=ci_prob)
    labels, v = _cells(table)
    if len(labels) > MAX_ROWS:
        return _fano_scatter(ax, v["empirical"], v["mean"], (v["lower"], v["upper"]), "model Fano factor (mean)")
    y = np.arange(len(labels))
    ax.errorbar(
        v["mean"],
        y,
        xerr=[v["mean"] - v["lower"], v["upper"] - v["mean"]],
        fmt="o",
        ms=4,
        color="C2",
        label=f"model, {table.attrs.get('ci_prob', ci_prob):.0%} interval",
    )
    ax.scatter(v["empirical"], y, marker="x", color="0.3", s=20, label="empirical var/mean", zorder=3)
    ax.axvline(1.0, ls="--", color="0.5", lw=1, label="Poisson (Fano = 1)")
    ax.set_yticks(y, labels, fontsize=7 if len(labels) > 30 else 9)
    ax.set_xlabel("Fano factor of the counts")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Trial-to-trial variability")
    return ax


def _fano_scatter(ax, observed, fitted, interval, ylabel: str):
    """Many cells: fitted against observed Fano factor, one dot per cell, red where the observed one is outside
    the interval; the identity and Poisson's 1 dashed (a forest plot of thousands of rows cannot be read)."""
    lower, upper = interval
    outside = (observed < lower) | (observed > upper)
    ax.scatter(observed[~outside], fitted[~outside], s=4, alpha=0.3, color="C2", label="inside the interval")
    if outside.any():
        ax.scatter(observed[outside], fitted[outside], s=6, alpha=0.6, color="C3", label="observed outside")
    finite = np.isfinite(observed) & np.isfinite(fitted)
    low = float(np.nanmin([observed[finite].min(), fitted[finite].min()])) if finite.any() else 0.5
    high = float(np.nanmax([observed[finite].max(), fitted[finite].max()])) if finite.any() else 2.0
    ax.plot([low, high], [low, high], color="0.4", lw=1, ls="--", label="fitted = observed")
    ax.axvline(1.0, ls=":", color="0.5", lw=1)
    ax.axhline(1.0, ls=":", color="0.5", lw=1, label="Poisson (Fano = 1)")
    ax.set_xlabel("observed Fano factor (var/mean across the cell's trials)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"Trial-to-trial variability of {observed.size:,} cells: {int(outside.sum()):,} outside")
    ax.legend(fontsize=8, loc="best")
    return ax


def _replicates(result, random_seed):
    if not callable(getattr(result, "posterior_predictive", None)):
        raise ArgumentTypeError(
            f"result must provide posterior_predictive() (replicated counts); got {type(result).__name__}. "
            f"Hint: {COUNT_HINT}"
        )
    if "posterior_predictive" not in result.idata.children:
        result.posterior_predictive(random_seed=random_seed)
    rep = result.idata["posterior_predictive"]["y"]
    obs = result.idata["observed_data"]["y"]
    return obs, rep


def plot_ppc_counts(result: Any, *, neuron: str | None = None, random_seed: int | None = 0, ax=None):
    """Hanging rootogram: observed count frequencies vs the posterior predictive (sqrt scale).

    Bars of observed frequencies hang from the predicted curve; a bar that ends far from 0 marks a
    count value the model over- or under-predicts. ``neuron`` selects one neuron (default: all).

    Parameters
    ----------
    result : FitResult
        A count model's fit; replicated counts are drawn (and kept in ``result.idata``) when it has none yet.
    neuron : str, optional
        A fitted neuron's label; default all neurons' counts together.
    random_seed : int or None
        Seed of the replicated counts when they are drawn here (None: fresh entropy).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The rootogram: count per trial on x, the last bin holding every larger count.

    Raises
    ------
    ArgumentTypeError
        ``result`` has no ``posterior_predictive()`` (not a count model's fit).
    ArgumentError
        ``neuron`` is not a fitted neuron.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_ppc_counts(result, neuron="n0")
    >>> ax.get_title(), "posterior_predictive" in result.idata.children  # replicated counts now kept
    ('Rootogram of n0', True)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    obs, rep = _replicates(result, random_seed)
    if neuron is not None:
        sel = obs["obs_neuron"].values == neuron
        if not sel.any():
            raise ArgumentError(f"neuron must be one of the fitted neurons; got {neuron!r}.")
        obs, rep = obs.isel(obs=sel), rep.isel(obs=sel)
    y = obs.values.astype(int)
    r = rep.values.reshape(-1, y.size).astype(int)
    top = int(np.quantile(np.concatenate([y, r[:: max(1, r.shape[0] // 200)].ravel()]), 0.995)) + 1
    edges = np.arange(top + 2)
    observed = np.histogram(np.minimum(y, top), edges)[0]
    expected = np.mean(
        [np.histogram(np.minimum(row, top), edges)[0] for row in r[:: max(1, r.shape[0] // 400)]], axis=0
    )
    x = edges[:-1]
    se, so = np.sqrt(expected), np.sqrt(observed)
    ax.bar(x, so, bottom=se - so, width=0.8, color="C0", alpha=0.6, label="observed (hanging)")
    ax.plot(x, se, "o-", color="C3", ms=3, label="posterior predictive")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel(f"spike count per trial (last bin: >= {top})")
    ax.set_ylabel("sqrt(number of trials)")
    ax.set_title(f"Rootogram{'' if neuron is None else f' of {neuron}'}")
    ax.legend(fontsize=8)
    return ax


def plot_ppc_fano(result: Any, *, ci_prob: float = 0.9, random_seed: int | None = 0, ax=None):
    """Observed Fano factor per neuron [x condition] against its posterior predictive interval (``ppc_fano``;
    ``result`` a count model's fit or that table).

    One row per (neuron, condition) cell: the replicated Fano factor's ``ci_prob`` interval (bar) and the
    observed one (dot, red where it falls outside); Poisson's 1 dashed. A family that cannot reach the data's
    variability (an NB on counts more regular than Poisson) shows as dots left of their bars.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A count model's fit, or its ``ppc_fano()`` table (``observed``, ``lower``, ``upper`` over neuron
        [x condition]).
    ci_prob : float
        Probability of the replicated Fano factor's interval when ``result`` is a fit, in (0, 1) (a table
        keeps its own).
    random_seed : int or None
        Seed of the replicated counts when ``result`` is a fit (None: fresh entropy).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        One row per neuron [x condition]; beyond ``MAX_ROWS`` rows, the observed Fano factor against the
        middle of its interval, a dot per cell.

    Raises
    ------
    ArgumentTypeError
        ``result`` is neither a fit with ``ppc_fano()`` nor a Dataset.
    ArgumentError
        ``ci_prob`` is not in (0, 1); the table lacks a variable the plot draws, or is over time.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_ppc_fano(result)
    >>> ax.get_title(), len(ax.get_yticklabels())
    ('Posterior predictive check of the Fano factor', 40)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    variables = ("observed", "lower", "upper")
    table = _provided(result, "ppc_fano", variables, COUNT_HINT, ci_prob=ci_prob, random_seed=random_seed)
    labels, v = _cells(table)
    y = np.arange(len(labels))
    outside = (v["observed"] < v["lower"]) | (v["observed"] > v["upper"])
    shown = table.attrs.get("ci_prob", ci_prob)
    if len(labels) > MAX_ROWS:
        middle = (v["lower"] + v["upper"]) / 2
        ax = _fano_scatter(
            ax, v["observed"], middle, (v["lower"], v["upper"]), f"replicated Fano ({shown:.0%} midpoint)"
        )
        ax.set_title(f"Posterior predictive check: {int(outside.sum()):,} of {outside.size:,} cells outside")
        return ax
    ax.hlines(y, v["lower"], v["upper"], color="C3", lw=3, alpha=0.5, label=f"replicated {shown:.0%}")
    ax.scatter(v["observed"][~outside], y[~outside], color="k", s=16, zorder=3, label="observed")
    if outside.any():
        ax.scatter(v["observed"][outside], y[outside], color="C3", s=22, zorder=3, label="observed, outside")
    ax.axvline(1.0, ls="--", color="0.5", lw=1, label="Poisson (Fano = 1)")
    ax.set_yticks(y, labels, fontsize=7 if len(labels) > 30 else 9)
    ax.set_xlabel("Fano factor across the cell's trials")
    ax.set_title("Posterior predictive check of the Fano factor")
    ax.legend(fontsize=8)
    return ax

"""Figures of formula fits (``GLMResult``): per-neuron coefficients, predicted rate curves, tuning curves.

Every function takes ``ax=None`` and returns the Axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikepool._validate import did_you_mean
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.results.glm_predict import typical_values
from spikepool.viz._common import MAX_ROWS, _axes

__all__ = ["covariate_defaults", "plot_coefficients", "plot_predicted", "plot_tuning"]

GLM_HINT = "this plot draws a formula fit (sp.HierarchicalGLM(...).fit(counts))."


def _glm(result: Any, what: str):
    if not callable(getattr(result, "coefficients", None)) or getattr(result, "design", None) is None:
        raise ArgumentTypeError(f"result must be a formula fit (GLMResult) for {what}; got {type(result).__name__}. "
                                f"Hint: {GLM_HINT}")  # fmt: skip
    return result


def plot_coefficients(result: Any, coef: str, *, group: str = "neuron", ci_prob: float = 0.94, ax=None):
    """Forest plot of one coefficient per level of a grouping (e.g. each neuron's slope), sorted by its mean.

    Dots and bars: the level's coefficient (population + own deviation) with its equal-tailed ``ci_prob``
    interval; the shaded band and line: the population coefficient's interval and mean; at most ``MAX_ROWS``
    levels (the lowest and highest).

    Parameters
    ----------
    result : GLMResult
        A formula fit (``HierarchicalGLM``).
    coef : str
        A column of the fixed effects (``result.coefficients()["coef"]``), e.g. ``"Intercept"``.
    group : str
        A grouping of the formula, one row per level (``"neuron"``, ``"session"``, ``"neuron:condition"``).
    ci_prob : float
        Probability of the equal-tailed intervals, in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The forest plot: one row per level, the population's interval shaded behind.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); ``group`` is not a grouping of the formula; ``coef`` is not one of its
        coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> rng = np.random.default_rng(0)
    >>> direction = np.tile(np.arange(0, 360, 45), 3)  # 24 trials, 8 directions
    >>> log_gain = rng.normal(0.0, 0.5, 24)  # one per trial, shared by the 12 neurons
    >>> rate = np.exp(2.0 + rng.normal(0.0, 0.5, (12, 1)) + 0.5 * np.cos(np.radians(direction)) + log_gain)
    >>> counts = sp.from_array(rng.poisson(rate), duration=1.0).assign_coords(direction=("trial", direction))
    >>> formula = "count ~ np.cos(np.radians(direction)) + np.sin(np.radians(direction)) + (1 | neuron) + (1 | trial)"
    >>> model = sp.HierarchicalGLM(formula, likelihood="poisson")
    >>> result = model.fit(counts, draws=1000, tune=500, chains=2, random_seed=0, progressbar=False)
    >>> ax = sp.plots.plot_coefficients(result, "Intercept")
    >>> len(ax.get_yticklabels()), ax.get_xlabel()  # a row per neuron
    (12, 'Intercept (log rate per unit; per neuron)')
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_coefficients")
    table = result.coefficients(group, ci_prob=ci_prob)
    names = [str(c) for c in table["coef"].values]
    if coef not in names:
        raise ArgumentError(f"coef must be one of {names}; got {coef!r}.{did_you_mean(coef, names)}")
    ax = _axes(ax)
    row = table.sel(coef=coef)
    dim = row["mean"].dims[0]
    order = np.argsort(row["mean"].values)
    if order.size > MAX_ROWS:
        order = np.concatenate([order[: MAX_ROWS // 2], order[-MAX_ROWS // 2 :]])
    y = np.arange(order.size)
    mean, low, high = (row[k].values[order] for k in ("mean", "lower", "upper"))
    ax.errorbar(mean, y, xerr=[mean - low, high - mean], fmt="o", ms=4, color="C0", ecolor="C0", elinewidth=1)
    beta = result.posterior["beta"].sel(coef=coef).values.ravel()
    b_lo, b_hi = np.quantile(beta, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
    ax.axvspan(b_lo, b_hi, color="0.85", zorder=0, label=f"population {ci_prob:.0%}")
    ax.axvline(beta.mean(), color="k", lw=1, ls="--", label="population mean")
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.set_yticks(y, [str(v) for v in row[dim].values[order]], fontsize=7 if order.size > 30 else 9)
    ax.set_xlabel(f"{coef} (log rate per unit; per {dim})")
    ax.set_ylabel(dim)
    ax.legend(fontsize=8, loc="best")
    return ax


def covariate_defaults(result: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Values of the formula's trial covariates for a curve over another: numeric ones at their mean over the
    fitted observations, categorical ones at their most frequent level (``skip``: those left out)."""
    return typical_values(result.design, result.counts, skip)


def plot_predicted(result: Any, covariate: str, *, ci_prob: float = 0.94, neurons: bool = True, ax=None, **at):
    """Predicted rate (Hz) over the observed range of a numeric covariate: the population curve with its
    ``ci_prob`` band, and each neuron's mean curve (thin lines).

    The other covariates are at ``at`` or at ``covariate_defaults`` (numeric at their mean, categorical at their
    most frequent level).

    Parameters
    ----------
    result : GLMResult
        A formula fit (``HierarchicalGLM``).
    covariate : str
        A numeric trial covariate of the formula: the x axis, over its observed range.
    ci_prob : float
        Probability of the population's equal-tailed band, in (0, 1).
    neurons : bool
        Draw each neuron's mean curve too.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.
    **at
        Values of the formula's other covariates, e.g. ``condition="stim"``.

    Returns
    -------
    matplotlib.axes.Axes
        The curves on a log rate axis, titled with the other covariates' values.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``covariate`` is not a numeric covariate of the formula; ``ci_prob`` is not in (0, 1); a name in ``at``
        is not a variable of the formula, or a numeric one is given a value that is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> rng = np.random.default_rng(0)
    >>> direction = np.tile(np.arange(0, 360, 45), 3)  # 24 trials, 8 directions
    >>> log_gain = rng.normal(0.0, 0.5, 24)  # one per trial, shared by the 12 neurons
    >>> rate = np.exp(2.0 + rng.normal(0.0, 0.5, (12, 1)) + 0.5 * np.cos(np.radians(direction)) + log_gain)
    >>> counts = sp.from_array(rng.poisson(rate), duration=1.0).assign_coords(direction=("trial", direction))
    >>> formula = "count ~ np.cos(np.radians(direction)) + np.sin(np.radians(direction)) + (1 | neuron) + (1 | trial)"
    >>> model = sp.HierarchicalGLM(formula, likelihood="poisson")
    >>> result = model.fit(counts, draws=1000, tune=500, chains=2, random_seed=0, progressbar=False)
    >>> ax = sp.plots.plot_predicted(result, "direction")
    >>> len(ax.get_lines()), ax.get_xlabel()  # a curve per neuron, and the population's
    (13, 'direction')
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_predicted")
    design = result.design
    if covariate not in design.frame or design.frame[covariate].dtype.kind not in "iuf":
        numeric = [n for n in design.variables if n in design.frame and design.frame[n].dtype.kind in "iuf"]
        raise ArgumentError(
            f"covariate must be a numeric covariate of the formula ({numeric}); got {covariate!r}."
            f"{did_you_mean(covariate, numeric)}"
        )
    values = design.frame[covariate].to_numpy(dtype=float)
    grid = np.linspace(values.min(), values.max(), 60)
    settings = {**covariate_defaults(result, skip=(covariate,)), **at, covariate: grid}
    pred = result.predict(ci_prob=ci_prob, **settings)
    ax = _axes(ax)
    if neurons:
        for i in range(pred.sizes["neuron"]):
            ax.plot(grid, pred["mean"].isel(neuron=i).values, color="C0", lw=0.6, alpha=0.45)
    if "population_mean" in pred:
        ax.fill_between(grid, pred["population_lower"], pred["population_upper"], color="k", alpha=0.15,
                        label=f"population {ci_prob:.0%}")  # fmt: skip
        ax.plot(grid, pred["population_mean"], color="k", lw=2, ls="--", label="population (typical neuron)")
    ax.set_yscale("log")
    ax.set_xlabel(covariate)
    ax.set_ylabel("rate (Hz)")
    others = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items()
                       if k != covariate)  # fmt: skip
    ax.set_title(f"rate over {covariate}" + (f" ({others})" if others else ""), fontsize=9)
    ax.legend(fontsize=8)
    return ax


def plot_tuning(result: Any, neuron: Any, covariate: str = "direction", *, ci_prob: float = 0.94, ax=None, **at):
    """A neuron's von Mises tuning curve with its ``ci_prob`` band over the observed mean rate per direction
    (dots with standard errors), and the population's curve dashed; angles in the covariate's units.

    Parameters
    ----------
    result : GLMResult
        A formula fit with one ``cos`` and one ``sin`` term of ``covariate``.
    neuron : str or int
        A fitted neuron's label (compared as a string).
    covariate : str
        The angle covariate, in degrees when the formula converts it with ``np.radians``.
    ci_prob : float
        Probability of the neuron's equal-tailed band, in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.
    **at
        Values of the formula's other covariates (default: numeric ones at their mean, categorical ones at
        their most frequent level).

    Returns
    -------
    matplotlib.axes.Axes
        The curves over a full turn, the preferred direction dotted, titled with it and the depth.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``neuron`` is not a fitted neuron; ``ci_prob`` is not in (0, 1); the formula lacks one ``cos`` and one
        ``sin`` term of ``covariate``; a name in ``at`` is not a variable of the formula, or a numeric one is
        given a value that is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> rng = np.random.default_rng(0)
    >>> direction = np.tile(np.arange(0, 360, 45), 3)  # 24 trials, 8 directions
    >>> log_gain = rng.normal(0.0, 0.5, 24)  # one per trial, shared by the 12 neurons
    >>> rate = np.exp(2.0 + rng.normal(0.0, 0.5, (12, 1)) + 0.5 * np.cos(np.radians(direction)) + log_gain)
    >>> counts = sp.from_array(rng.poisson(rate), duration=1.0).assign_coords(direction=("trial", direction))
    >>> formula = "count ~ np.cos(np.radians(direction)) + np.sin(np.radians(direction)) + (1 | neuron) + (1 | trial)"
    >>> model = sp.HierarchicalGLM(formula, likelihood="poisson")
    >>> result = model.fit(counts, draws=1000, tune=500, chains=2, random_seed=0, progressbar=False)
    >>> ax = sp.plots.plot_tuning(result, "0", "direction")
    >>> ax.get_xlabel()
    'direction (degrees)'
    >>> bool(np.cos(np.radians(result.tuning("direction")["population_preferred"])) > 0.7)  # simulated at 0
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_tuning")
    counts = result.counts
    names = [str(n) for n in counts["neuron"].values]
    if str(neuron) not in names:
        raise ArgumentError(f"neuron must be one of the fitted neurons; got {neuron!r}.{did_you_mean(neuron, names)}")
    i = names.index(str(neuron))
    table = result.tuning(covariate, ci_prob=ci_prob, **at)  # checks the cos / sin terms first
    degrees = table.attrs["angle_units"] == "degrees"
    grid = np.linspace(0.0, 360.0 if degrees else 2 * np.pi, 181)
    settings = {**covariate_defaults(result, skip=(covariate,)), **at, covariate: grid}
    pred = result.predict(ci_prob=ci_prob, **settings)
    ax = _axes(ax)
    row = pred.isel(neuron=i)
    ax.fill_between(grid, row["lower"], row["upper"], color="C0", alpha=0.25, label=f"{neuron} {ci_prob:.0%}")
    ax.plot(grid, row["mean"], color="C0", lw=2, label=f"{neuron}")
    if "population_mean" in pred:
        ax.plot(grid, pred["population_mean"], color="k", lw=1.5, ls="--", label="population")
    window = counts.sum("time") if "time" in counts.dims else counts
    valid = valid_mask(counts)[i]
    theta = np.asarray(counts[covariate].values, dtype=float)[valid]
    rate = window.values[i][valid] / counts["duration"].values[valid]
    levels = np.unique(theta)
    if levels.size <= 72:  # discrete directions: the observed mean rate and its standard error at each
        means = np.array([rate[theta == v].mean() for v in levels])
        ses = np.array([rate[theta == v].std(ddof=1) / np.sqrt((theta == v).sum()) if (theta == v).sum() > 1 else 0
                        for v in levels])  # fmt: skip
        ax.errorbar(levels % (360.0 if degrees else 2 * np.pi), means, yerr=ses, fmt="o", color="C1", ms=4,
                    label="observed mean")  # fmt: skip
    else:
        ax.plot(theta, rate, ".", color="C1", ms=3, alpha=0.5, label="observed")
    pref = float(table["preferred"].isel(neuron=i))
    ax.axvline(pref, color="C0", lw=0.8, ls=":")
    ax.set_xlabel(f"{covariate} ({'degrees' if degrees else 'radians'})")
    ax.set_ylabel("rate (Hz)")
    ax.set_title(f"{neuron}: preferred {pref:.3g}, depth {float(table['depth'].isel(neuron=i)):.2f}", fontsize=9)
    ax.legend(fontsize=8)
    return ax

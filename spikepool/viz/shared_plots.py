"""Figures of shared variability (a formula fit with ``(1 | trial)`` or ``shared`` factors): the variance
partition, noise correlations beside the raw r_sc, and the trial gains.

Every function takes ``ax=None`` (``axes=None`` for the two-panel correlation figure) and returns the Axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikepool._validate import did_you_mean
from spikepool.exceptions import ArgumentError
from spikepool.viz._common import MAX_ROWS, _axes
from spikepool.viz.glm_plots import _glm

__all__ = ["plot_gains", "plot_noise_correlations", "plot_variance_partition"]

PART_COLORS = {"poisson": "0.75", "private": "C0", "shared": "C3"}


def plot_variance_partition(result: Any, *, ci_prob: float = 0.94, ax=None):
    """Stacked bars, one per neuron (sorted by shared share): the shares of its count variance that are Poisson,
    private and shared, with the ``ci_prob`` interval of the shared share as an error bar.

    Parameters
    ----------
    result : GLMResult
        A formula fit with shared variability (``(1 | trial)`` in the formula, or ``shared=``).
    ci_prob : float
        Probability of the shared share's equal-tailed interval, in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The bars of the (at most ``MAX_ROWS``) neurons with the largest shared shares.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); the fit has no shared variability (neither ``(1 | trial)`` nor
        ``shared=``), or its ``( | trial)`` effects vary over a neuron's trials.

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
    >>> ax = sp.plots.plot_variance_partition(result)
    >>> len(ax.patches), ax.get_ylabel()  # 3 parts of 12 neurons' variance
    (36, 'share of count variance')
    >>> bool(result.variance_partition()["mean"].sel(part="shared").mean() > 0.5)
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_variance_partition")
    vp = result.variance_partition(ci_prob=ci_prob)
    ax = _axes(ax)
    order = np.argsort(-vp["mean"].sel(part="shared").values)[:MAX_ROWS]
    x = np.arange(order.size)
    bottom = np.zeros(order.size)
    for part in ("shared", "private", "poisson"):
        share = vp["mean"].sel(part=part).values[order]
        ax.bar(x, share, bottom=bottom, color=PART_COLORS[part], label=part, width=0.8)
        if part == "shared":
            low, high = vp["lower"].sel(part=part).values[order], vp["upper"].sel(part=part).values[order]
            ax.errorbar(x, share, yerr=[share - low, high - share], fmt="none", ecolor="k", elinewidth=1, capsize=2)
        bottom += share
    ax.set_xticks(x, [str(v) for v in vp["neuron"].values[order]], rotation=90 if order.size > 12 else 0,
                  fontsize=7 if order.size > 30 else 9)  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of count variance")
    ax.set_xlabel("neuron")
    ax.legend(fontsize=8, loc="upper right", ncols=3)
    ax.set_title(f"variance partition (shared: mean and {ci_prob:.0%} interval)", fontsize=10)
    return ax


def plot_noise_correlations(result: Any, *, ci_prob: float = 0.94, n_boot: int = 1000, axes=None):
    """Two heatmaps on one colour scale: the model's noise correlations (posterior mean) and the raw r_sc
    (counts z-scored within condition); a pair whose model interval excludes 0 is marked with a dot.

    Parameters
    ----------
    result : GLMResult
        A formula fit with shared variability (``(1 | trial)`` in the formula, or ``shared=``).
    ci_prob : float
        Probability of the model's equal-tailed interval (a dot marks a pair whose interval excludes 0), in
        (0, 1).
    n_boot : int
        Bootstrap resamples of the trials behind the raw r_sc's interval (``noise_correlations``), at least 1.
    axes : sequence of two matplotlib.axes.Axes, optional
        Axes to draw the model's and the raw correlations into; a new figure's two when None.

    Returns
    -------
    sequence of two matplotlib.axes.Axes
        ``axes`` as given (a new figure's array of two when None): the model's heat map, then the raw r_sc's,
        with one colour bar beside both.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); the fit has no shared variability (neither ``(1 | trial)`` nor
        ``shared=``), or its ``( | trial)`` effects vary over a neuron's trials; ``axes`` is not two Axes.

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
    >>> axes = sp.plots.plot_noise_correlations(result, n_boot=100)
    >>> [ax.get_title() for ax in axes]
    ['model (posterior mean)', 'raw r_sc']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_noise_correlations")
    nc = result.noise_correlations(ci_prob=ci_prob, n_boot=n_boot)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(10.0, 4.4), layout="constrained")
    if len(axes) != 2:
        raise ArgumentError(f"axes must be two Axes (model, raw); got {len(axes)}.")
    values = np.concatenate([nc["mean"].values.ravel(), nc["raw"].values.ravel()])
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    names = [str(v) for v in nc["neuron"].values]
    ticks = np.arange(len(names)) if len(names) <= 30 else np.arange(0, len(names), max(1, len(names) // 15))
    image = None
    for ax, key, title in ((axes[0], "mean", "model (posterior mean)"), (axes[1], "raw", "raw r_sc")):
        image = ax.imshow(nc[key].values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=7)
        ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=7)
        ax.set_title(title, fontsize=10)
    sure = (nc["lower"].values > 0) | (nc["upper"].values < 0)
    i, j = np.nonzero(sure)
    axes[0].plot(j, i, "k.", ms=3, label=f"{ci_prob:.0%} interval excludes 0")
    if i.size:
        axes[0].legend(fontsize=7, loc="upper right")
    axes[0].figure.colorbar(image, ax=list(axes), shrink=0.8, label="correlation of counts")
    return axes


def plot_gains(result: Any, term: str | None = None, *, x: str | None = None, ci_prob: float = 0.94, ax=None):
    """A shared term over the trials: the ``(1 | trial)`` log gain or a factor's score, with its ``ci_prob``
    band, against a trial coordinate ``x`` (None: the trials in order), one colour per condition if any.

    Parameters
    ----------
    result : GLMResult
        A formula fit with shared variability (``(1 | trial)`` in the formula, or ``shared=``).
    term : str, optional
        The term to draw, one of ``result.gains()["term"]`` (``"trial"``, ``"f1"``, ...); default the first.
    x : str, optional
        A trial coordinate of the counts for the x axis (e.g. ``"t_start"``); default the trials in order.
    ci_prob : float
        Probability of the equal-tailed band, in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The posterior means as dots in their band, the y axis the log gain or the factor's score.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a formula fit (``GLMResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); the fit has no shared variability (neither ``(1 | trial)`` nor
        ``shared=``); ``term`` is not one of the fit's shared terms; ``x`` is not a trial coordinate of the counts.

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
    >>> ax = sp.plots.plot_gains(result)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('trial (in order)', 'log gain')
    >>> bool(np.corrcoef(result.gains()["mean"].sel(term="trial"), log_gain)[0, 1] > 0.9)  # the simulated gains
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _glm(result, "plot_gains")
    gains = result.gains(ci_prob=ci_prob)
    terms = [str(t) for t in gains["term"].values]
    term = terms[0] if term is None else term
    if term not in terms:
        raise ArgumentError(f"term must be one of {terms}; got {term!r}.{did_you_mean(str(term), terms)}")
    row = gains.sel(term=term)
    if x is None:
        xs, label = np.arange(row.sizes["trial"]), "trial (in order)"
    elif x in row.coords and row[x].dims == ("trial",):
        xs, label = np.asarray(row[x].values), x
    else:
        names = [str(c) for c in row.coords if row[c].dims == ("trial",)]
        raise ArgumentError(f"x must be a trial coordinate of the counts ({names}); got {x!r}.{did_you_mean(x, names)}")
    ax = _axes(ax)
    order = np.argsort(xs, kind="stable")
    ax.fill_between(xs[order], row["lower"].values[order], row["upper"].values[order], color="0.85",
                    label=f"{ci_prob:.0%} interval")  # fmt: skip
    if "condition" in row.coords:
        for k, c in enumerate(np.unique(row["condition"].values.astype(str))):
            pick = row["condition"].values.astype(str) == c
            ax.plot(xs[pick], row["mean"].values[pick], ".", ms=4, color=f"C{k % 10}", label=c)
    else:
        ax.plot(xs[order], row["mean"].values[order], ".-", ms=3, lw=0.6, color="C0", label="posterior mean")
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(label)
    ax.set_ylabel("log gain" if term.startswith("trial") else f"{term} score")
    ax.legend(fontsize=6, loc="best", ncols=5)
    return ax

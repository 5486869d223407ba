"""Figures of counts and fits (matplotlib). Every function takes ``ax=None`` and returns the Axes.

``plot_trace`` delegates to ArviZ's ``plot_trace_dist`` / ``plot_rank`` and returns their ``PlotCollection``;
``raster_times`` returns the spike times a raster draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.exceptions import ArgumentError
from spikepool.results.contrasts import MIN_RATIO
from spikepool.viz._common import COUNT_HINT, MAX_ROWS, _axes, _cells, _provided
from spikepool.viz.glm_plots import plot_coefficients, plot_predicted, plot_tuning
from spikepool.viz.shared_plots import plot_gains, plot_noise_correlations, plot_variance_partition
from spikepool.viz.time_plots import plot_fano_time, plot_psth, plot_psth_fit, plot_raster, plot_rate_map, raster_times
from spikepool.viz.variability_plots import plot_fano, plot_ppc_counts, plot_ppc_fano

__all__ = [
    "MAX_ROWS",
    "plot_coefficients",
    "plot_predicted",
    "plot_tuning",
    "plot_gains",
    "plot_noise_correlations",
    "plot_variance_partition",
    "plot_fano",
    "plot_fano_time",
    "plot_psth_fit",
    "plot_rate_map",
    "plot_pooled_estimates",
    "plot_ppc_counts",
    "plot_ppc_fano",
    "plot_psth",
    "plot_raster",
    "plot_rates",
    "plot_responsive",
    "plot_shrinkage",
    "plot_trace",
    "raster_times",
]


def plot_shrinkage(result: Any, *, ci_prob: float = 0.94, ax=None):
    """Raw (no pooling) -> partial-pooling posterior rate for every neuron [x condition].

    Arrows run from each neuron's raw rate (left) to its posterior mean (right); point size grows with
    the neuron's spikes; the dashed line is the population rate exp(mu), the dotted one the
    complete-pooling rate. Rates in Hz on a log axis.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A count model's fit, or its ``shrinkage()`` table.
    ci_prob : float
        Passed to ``result.shrinkage`` (the plot draws means), in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The arrows, one per cell (faint segments beyond ``MAX_ROWS`` cells).

    Raises
    ------
    ArgumentTypeError
        ``result`` is neither a fit with ``shrinkage()`` nor a Dataset.
    ArgumentError
        ``ci_prob`` is not in (0, 1); the table lacks a variable the plot draws, or is over time.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_shrinkage(result)
    >>> ax.get_title()
    'Shrinkage of 40 neuron rates toward the population (size ~ spikes)'
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    table = _provided(result, "shrinkage", ("raw_rate", "rate", "spikes"), COUNT_HINT, ci_prob=ci_prob)
    labels, v = _cells(table)
    raw, post, spikes = v["raw_rate"], v["rate"], v["spikes"].astype(float)
    floor = np.nanmin(post) / 2
    raw_shown = np.where(raw > 0, raw, floor)
    if raw.size <= MAX_ROWS:
        size = 15 + 135 * np.sqrt(spikes / max(spikes.max(), 1))
    else:  # thousands of cells: small dots
        size = np.full(raw.size, 3.0)
    colours = None
    if "condition" in v:
        names, codes = np.unique(v["condition"], return_inverse=True)
        import matplotlib as mpl

        cmap = mpl.colormaps["tab10"]
        colours = cmap(codes % 10)
    if raw.size <= MAX_ROWS:
        for i in range(raw.size):
            colour = colours[i] if colours is not None else "C0"
            ax.annotate(
                "",
                xy=(1, post[i]),
                xytext=(0, raw_shown[i]),
                arrowprops={"arrowstyle": "->", "color": colour, "alpha": 0.6, "lw": 1},
            )
    else:  # thousands of cells: plain segments (one collection), faint so that the density shows
        from matplotlib.collections import LineCollection

        segments = np.stack([np.stack([np.zeros(raw.size), raw_shown], 1), np.stack([np.ones(raw.size), post], 1)], 1)
        ax.add_collection(LineCollection(segments, colors=colours if colours is not None else "C0", alpha=0.08, lw=0.6))
    ax.scatter(
        np.zeros(raw.size),
        raw_shown,
        s=size,
        c=colours if colours is not None else "C0",
        alpha=0.7,
        label="raw (no pooling)",
        zorder=3,
    )
    ax.scatter(
        np.ones(raw.size),
        post,
        s=size,
        c=colours if colours is not None else "C1",
        marker="D",
        alpha=0.8,
        label="partial pooling",
        zorder=3,
    )
    pop = np.unique(np.round(v["population_rate"], 12))
    for j, p in enumerate(pop):
        ax.axhline(p, ls="--", color="0.4", lw=1, label="population exp(mu)" if j == 0 else None)
    ax.axhline(float(np.nanmean(v["pooled_rate"])), ls=":", color="0.6", lw=1, label="complete pooling")
    ax.set_yscale("log")
    ax.set_xlim(-0.3, 1.3)
    ax.set_xticks([0, 1], ["raw rate\n(each neuron alone)", "partial pooling\n(posterior mean)"])
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(f"Shrinkage of {raw.size} neuron rates toward the population (size ~ spikes)")
    if (raw <= 0).any():
        ax.text(-0.25, floor, "silent", fontsize=8, va="center", color="0.4")
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return ax


def plot_pooled_estimates(result: Any, *, ci_prob: float = 0.94, sort: bool = True, ax=None):
    """Forest plot of group estimates before and after pooling (Normal-Normal, random effects, Beta-Binomial).

    For each group (one row): the raw estimate (open circle; with a +-1 standard-error bar when the table has
    ``standard_error``) and the posterior mean of theta with its equal-tailed ``ci_prob`` interval (filled
    diamond); the dashed line is the population mean (``attrs["mu"]`` or ``attrs["population_mean"]``).

    Parameters
    ----------
    result : NormalNormalResult, RandomEffectsNormalResult, BetaBinomialResult or xarray.Dataset
        A fit, or its ``shrinkage()`` table (over one group dim, with ``theta``, ``lower``, ``upper`` and
        ``estimate`` or ``raw``).
    ci_prob : float
        Interval probability when ``result`` is a fit, in (0, 1).
    sort : bool
        Order the rows by raw estimate.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The forest plot, one row per group.

    Raises
    ------
    ArgumentTypeError
        ``result`` is neither a fit with ``shrinkage()`` nor a Dataset.
    ArgumentError
        ``ci_prob`` is not in (0, 1); the table lacks ``theta``, ``lower``, ``upper`` or the raw estimate, is
        not over one dim, or is over time.

    Examples
    --------
    The shrinkage table of a Normal-Normal model with known ``mu`` and ``tau``, from its exact posterior:

    >>> import numpy as np, xarray as xr
    >>> import spikepool as sp
    >>> from spikepool.stats.analytic import normal_conditional_posterior
    >>> y, se = np.array([28.0, 8.0, -3.0, 7.0]), np.array([15.0, 10.0, 16.0, 11.0])
    >>> theta, sd = normal_conditional_posterior(y, se, mu=8.0, tau=6.0)
    >>> table = xr.Dataset(
    ...     {"estimate": ("school", y), "standard_error": ("school", se), "theta": ("school", theta),
    ...      "lower": ("school", theta - 1.96 * sd), "upper": ("school", theta + 1.96 * sd)},
    ...     coords={"school": ["A", "B", "C", "D"]}, attrs={"mu": 8.0, "ci_prob": 0.95},
    ... )
    >>> ax = sp.plots.plot_pooled_estimates(table)
    >>> ax.get_ylabel(), [label.get_text() for label in ax.get_yticklabels()]  # rows sorted by raw estimate
    ('school', ['C', 'D', 'B', 'A'])
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    table = _provided(result, "shrinkage", (), "plot_shrinkage draws count-model fits.", ci_prob=ci_prob)
    raw_name = "estimate" if "estimate" in table else "raw"
    missing = [k for k in (raw_name, "theta", "lower", "upper") if k not in table]
    if missing or len(table["theta"].dims) != 1:
        raise ArgumentError(
            f"result must be a pooled-estimates fit or its shrinkage table over one dim; got variables "
            f"{sorted(table.data_vars)} (missing {missing}). Hint: plot_shrinkage draws count-model fits."
        )
    dim = table["theta"].dims[0]
    raw = table[raw_name].values.astype(float)
    order = np.argsort(raw) if sort else np.arange(raw.size)
    rows = np.arange(raw.size)
    labels = [str(x) for x in table[dim].values[order]]
    se = table["standard_error"].values[order] if "standard_error" in table else None
    ax.errorbar(
        raw[order], rows + 0.15, xerr=se, fmt="o", mfc="white", color="0.35", ms=5, lw=1, label=f"raw {raw_name}"
    )
    theta = table["theta"].values[order]
    err = np.vstack([theta - table["lower"].values[order], table["upper"].values[order] - theta])
    level = table.attrs.get("ci_prob", ci_prob)
    ax.errorbar(theta, rows - 0.15, xerr=err, fmt="D", color="C1", ms=5, lw=1.5, label=f"pooled ({level:.0%} interval)")
    population = table.attrs.get("mu", table.attrs.get("population_mean"))
    if population is not None:
        ax.axvline(float(population), ls="--", color="0.4", lw=1, label="population mean")
    ax.set_yticks(rows, labels)
    ax.set_ylabel(dim)
    ax.set_xlabel("estimate")
    ax.set_title(f"{raw.size} {dim}s: raw estimates and partial pooling")
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return ax


def plot_rates(result: Any, *, ci_prob: float = 0.94, ax=None):
    """Caterpillar plot: posterior mean and interval of every rate (Hz), sorted, raw rates as crosses.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A count model's fit, or its ``shrinkage()`` table.
    ci_prob : float
        Interval probability when ``result`` is a fit, in (0, 1); a table's legend states its own ``ci_prob``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        One row per neuron [x condition]; beyond ``MAX_ROWS`` rows, the lowest and the highest half of them.

    Raises
    ------
    ArgumentTypeError
        ``result`` is neither a fit with ``shrinkage()`` nor a Dataset.
    ArgumentError
        ``ci_prob`` is not in (0, 1); the table lacks a variable the plot draws, or is over time.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_rates(result)
    >>> ax.get_xscale(), len(ax.get_yticklabels())  # one row per neuron x condition
    ('log', 40)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    table = _provided(result, "shrinkage", ("raw_rate", "rate", "lower", "upper"), COUNT_HINT, ci_prob=ci_prob)
    labels, v = _cells(table)
    order = np.argsort(v["rate"])
    title = "Firing rates"
    if order.size > MAX_ROWS:  # the lowest and highest rates, each half of what stays readable
        title = f"The {MAX_ROWS // 2} lowest and {MAX_ROWS // 2} highest of {order.size:,} rates"
        order = np.concatenate([order[: MAX_ROWS // 2], order[-(MAX_ROWS // 2) :]])
    y = np.arange(order.size)
    ax.errorbar(
        v["rate"][order],
        y,
        xerr=[v["rate"][order] - v["lower"][order], v["upper"][order] - v["rate"][order]],
        fmt="o",
        ms=4,
        color="C1",
        ecolor="C1",
        elinewidth=1.2,
        label=f"posterior mean, {table.attrs.get('ci_prob', ci_prob):.0%} interval",
    )
    ax.scatter(v["raw_rate"][order], y, marker="x", color="C0", s=20, label="raw rate", zorder=3)
    ax.set_yticks(y, [labels[i] for i in order], fontsize=7 if order.size > 30 else 9)
    ax.set_xscale("log")
    ax.set_xlabel("firing rate (Hz)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    if y.size == MAX_ROWS and len(labels) > MAX_ROWS:
        ax.axhline(MAX_ROWS // 2 - 0.5, color="0.5", lw=0.8, ls=":")
    return ax


def plot_responsive(
    result: Any,
    baseline: str | None = None,
    *,
    fdr: float = 0.05,
    min_ratio: float = MIN_RATIO,
    condition: str | None = None,
    ax=None,
):
    """Heat map of each neuron's log rate ratio to the baseline (rows: neurons, columns: conditions, or time
    bins of one condition for a time-resolved fit), with the cells ``responsive`` calls "none" greyed out.

    A table over time (``HierarchicalPSTH``) shows one ``condition`` with time on the x axis. The colour scale
    is symmetric around 0 (no change): red faster than the baseline, blue slower.

    Parameters
    ----------
    result : FitResult, PSTHResult or xarray.Dataset
        A count model's or a time-resolved fit, or its ``responsive()`` table (``log_ratio``, ``responsive``).
    baseline : str, optional
        The reference condition; required with a fit, not used with a table.
    fdr, min_ratio : float
        With a fit, as in ``result.responsive``: the target expected FDR, in (0, 1), and the ratio a call
        needs, at least 1.
    condition : str, optional
        The condition to show from a table over time (a time-resolved fit's); default its first.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The heat map with a colour bar of log(rate / baseline rate).

    Raises
    ------
    ArgumentTypeError
        ``baseline`` is given and ``result`` is neither a fit with ``responsive()`` nor a Dataset.
    ArgumentError
        ``baseline`` is None and ``result`` not a Dataset, or not one of the fit's conditions; the fit has no
        conditions; ``fdr`` or ``min_ratio`` is out of range; the table lacks ``log_ratio`` or ``responsive``;
        ``condition`` is given for a table not over time, or is not one of its conditions.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> ax = sp.plots.plot_responsive(result, "base")
    >>> [label.get_text() for label in ax.get_xticklabels()], len(ax.get_yticklabels())
    (['stim'], 20)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    if baseline is None and not isinstance(result, xr.Dataset):
        raise ArgumentError("baseline must name the reference condition when result is a fit; got None.")
    variables = ("log_ratio", "responsive")
    table = _provided(
        result, "responsive", variables, COUNT_HINT, over_time=True, baseline=baseline, fdr=fdr, min_ratio=min_ratio
    )
    names = [str(c) for c in table["condition"].values]
    if condition is not None and "time" not in table.dims:
        raise ArgumentError(
            f"condition is for a table over time (a time-resolved fit); got condition={condition!r} for a table "
            "over (neuron, condition). Hint: leave it out."
        )
    ax = _axes(ax)
    if "time" in table.dims:
        shown = names[0] if condition is None else str(condition)
        if shown not in names:
            raise ArgumentError(
                f"condition must be one of the table's conditions {names}; got {condition!r}."
                f"{did_you_mean(str(condition), names)}"
            )
        table = table.sel(condition=shown)
        columns, labels = "time", None
    else:
        columns, labels = "condition", names
    values = table["log_ratio"].transpose("neuron", columns).values
    called = table["responsive"].transpose("neuron", columns).values != "none"
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    extent = None
    if labels is None:  # time bins: centres to edges
        t = np.asarray(table["time"].values, dtype=float)
        half = (t[1] - t[0]) / 2 if t.size > 1 else 0.5
        extent = (t[0] - half, t[-1] + half, values.shape[0] - 0.5, -0.5)
    ax.imshow(
        np.where(called, np.nan, 0.0),
        aspect="auto",
        cmap="Greys",
        vmin=-1,
        vmax=4,
        interpolation="nearest",
        extent=extent,
    )
    image = ax.imshow(
        np.where(called, values, np.nan),
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=extent,
    )
    if labels is not None:
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("condition")
    else:
        ax.set_xlabel("time (s)")
    ax.set_yticks(np.arange(table.sizes["neuron"]), [str(n) for n in table["neuron"].values], fontsize=8)
    ax.set_ylabel("neuron")
    attrs = table.attrs
    base, expected = attrs.get("baseline", "baseline"), attrs.get("expected_fdr", float("nan"))
    total = attrs.get("n_discoveries", int(called.sum()))
    if labels is None:
        title = f"log rate ratio {shown} / {base}: {int(called.sum())} of {total} calls"
    else:
        title = f"log rate ratio to {base}: {total} calls"
    ax.set_title(f"{title} at expected FDR {expected:.3f} (grey: none)")
    ax.figure.colorbar(image, ax=ax, label="log(rate / baseline rate)")
    return ax


def plot_trace(result: Any, *, var_names=("mu", "tau", "alpha", "nu"), kind: str = "trace"):
    """Trace (``kind="trace"``) or rank (``kind="rank"``) plots of ArviZ; returns its PlotCollection.

    Parameters
    ----------
    result : FitResult, GLMResult, PSTHResult or another model's result
        A fit; its ``idata`` is drawn.
    var_names : sequence of str
        Posterior variables to draw; names the fit does not have are skipped. The default names the population
        mean and scale and the count family's dispersion (``alpha`` for the NB, ``nu`` for the COM-Poisson).
    kind : {"trace", "rank"}
        Trace and density plots, or rank plots.

    Returns
    -------
    arviz_plots.PlotCollection
        ArviZ's figure; its ``viz`` holds the plotted elements.

    Raises
    ------
    ArgumentError
        ``kind`` is neither ``"trace"`` nor ``"rank"``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> collection = sp.plots.plot_trace(result, var_names=("mu", "tau", "nu"))  # an NB fit has no nu
    >>> sorted(collection.viz["trace"].data_vars)
    ['mu', 'tau']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import arviz_plots as azp

    names = [v for v in var_names if v in result.idata["posterior"].data_vars]
    if kind == "trace":
        return azp.plot_trace_dist(result.idata, var_names=names, backend="matplotlib")
    if kind == "rank":
        return azp.plot_rank(result.idata, var_names=names, backend="matplotlib")
    raise ArgumentError(f"kind must be 'trace' or 'rank'; got {kind!r}.")

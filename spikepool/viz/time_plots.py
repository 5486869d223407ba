"""Figures over time (matplotlib): a neuron's raster, the PSTH, the Fano factor's course and a time-resolved fit's
rates.

Every plot takes ``ax=None`` and returns the Axes (``raster_times`` returns the spike times ``plot_raster``
draws); ``spikepool.plots`` re-exports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.io._units import window_to_seconds
from spikepool.io.neo import _event_trials, _neurons, _segment_trials, _segments_of
from spikepool.stats.binned import bin_width
from spikepool.viz._common import _axes

__all__ = ["plot_fano_time", "plot_psth", "plot_psth_fit", "plot_raster", "plot_rate_map", "raster_times"]


def plot_fano_time(fano: xr.Dataset, *, show_all: bool = True, condition: str | None = None, ax=None):
    """The Fano factor over time with its interval band.

    Takes ``mean_matched_fano``'s Dataset (the mean-matched Fano factor as a line in its band, the unmatched
    slope ``fano_all`` dashed when ``show_all``) or a time-resolved fit's ``result.fano()`` (the neurons'
    average model Fano factor, ``population_mean`` in its band, per condition or the one ``condition``).
    Poisson (1) dotted. Drawn on one ``ax``, the two put the model's Fano factor beside the classical one;
    a Fano factor depends on the counting window, so the two compare only where the mean-matched ``window``
    equals the fit's bin width.
    A drop that the matched line shows is a change of variability; one that only the unmatched line shows
    follows the rates.

    Parameters
    ----------
    fano : xarray.Dataset
        ``mean_matched_fano``'s Dataset (``fano``, ``lower``, ``upper`` over ``time``), or a time-resolved
        fit's ``result.fano()`` (``population_mean``, ``population_lower``, ``population_upper``).
    show_all : bool
        Draw the unmatched ``fano_all`` too (a mean-matched Dataset).
    condition : str, optional
        The one condition to draw from a fit's table over conditions; default each condition. Not used
        with a mean-matched Dataset.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The lines in their bands, and Poisson's 1 unless ``ax`` has it already.

    Raises
    ------
    ArgumentTypeError
        ``fano`` is not a Dataset.
    ArgumentError
        ``fano`` is neither a fit's table nor holds ``fano``, ``lower`` and ``upper`` over ``time``;
        ``condition`` is not one of the fit's conditions.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, _ = sp.simulate_binned(20, 40, 40, bin_size=0.01, conditions=["a", "b"], peak=0.8, alpha=None, seed=0)
    >>> ax = sp.plots.plot_fano_time(sp.mean_matched_fano(binned, window=0.08))  # Poisson counts: about 1
    >>> ax.get_title()
    'Fano factor over time (80 ms windows, 16 points kept)'
    >>> [line.get_label() for line in ax.get_lines()]
    ['mean-matched', 'all points (unmatched)', 'Poisson (Fano = 1)']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    if not isinstance(fano, xr.Dataset):
        raise ArgumentTypeError(
            "fano must be the Dataset of sp.mean_matched_fano or of a time-resolved fit's result.fano() (over "
            f"time); got {type(fano).__name__}."
        )
    if "population_mean" in fano:
        _model_fano(fano, condition, ax)
    else:
        missing = [v for v in ("fano", "lower", "upper") if v not in fano] + ([] if "time" in fano.dims else ["time"])
        if missing:
            raise ArgumentError(
                f"fano must hold fano, lower and upper over time; got a Dataset without {missing}. "
                "Hint: pass the output of sp.mean_matched_fano or of result.fano()."
            )
        t = fano["time"].values
        prob = fano.attrs.get("ci_prob")
        band = f"{prob:.0%} interval" if prob else "interval"
        ax.fill_between(t, fano["lower"].values, fano["upper"].values, color="0.2", alpha=0.2, lw=0, label=band)
        ax.plot(t, fano["fano"].values, color="k", label="mean-matched")
        if show_all and "fano_all" in fano:
            ax.plot(t, fano["fano_all"].values, color="0.35", ls="--", lw=1, label="all points (unmatched)")
        title = "Fano factor over time"
        if "window" in fano.attrs:
            title += f" ({fano.attrs['window'] * 1000:g} ms windows"
            title += f", {int(fano['n_points'][0])} points kept)" if "n_points" in fano else ")"
        ax.set_title(title)
    if not any(line.get_label().startswith("Poisson") for line in ax.get_lines()):
        ax.axhline(1.0, color="0.5", ls=":", lw=1, label="Poisson (Fano = 1)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Fano factor")
    ax.legend(fontsize=8, loc="best")
    return ax


def _model_fano(fano: xr.Dataset, condition: str | None, ax) -> None:
    """A fit's average Fano factor per condition, each a coloured line in its band."""
    table = fano[["population_mean", "population_lower", "population_upper"]]
    if "condition" in table.dims and condition is not None:
        table = _pick(table, "condition", condition).expand_dims(condition=[condition])
    elif "condition" not in table.dims:
        table = table.expand_dims(condition=[""])
    t = table["time"].values
    prob = fano.attrs.get("ci_prob")
    for k, label in enumerate(table["condition"].values):
        row = table.isel(condition=k)
        name = f"model{', ' + str(label) if str(label) else ''}"
        band = f" ({prob:.0%})" if prob else ""
        ax.fill_between(t, row["population_lower"], row["population_upper"], color=f"C{k}", alpha=0.2, lw=0)
        ax.plot(t, row["population_mean"], color=f"C{k}", label=name + band)
    ax.set_title("Fano factor over time (model: the neurons' average)")


def _time_fit(result: Any, what: str):
    if not callable(getattr(result, "population_rates", None)) or not callable(getattr(result, "shrinkage", None)):
        raise ArgumentTypeError(
            f"result must be a time-resolved fit (HierarchicalPSTH's PSTHResult); got {type(result).__name__}. "
            f"Hint: {what}"
        )


def _pick(table: xr.Dataset, dim: str, label: Any) -> xr.Dataset:
    if dim not in table.dims:
        return table
    labels = [str(x) for x in table[dim].values]
    if label is None:
        if len(labels) > 1:
            raise ArgumentError(f"{dim} must be one of {labels} for this plot; got None.")
        return table.isel({dim: 0})
    if str(label) not in labels:
        raise ArgumentError(f"{dim} must be one of {labels}; got {label!r}.")
    return table.isel({dim: labels.index(str(label))})


def plot_psth_fit(
    result: Any, *, neuron: str | None = None, condition: str | None = None, ci_prob: float = 0.94, ax=None
):
    """A time-resolved fit's rate over time (Hz) with its band, the raw PSTH as steps behind.

    ``neuron=None`` draws the population course (``population_rates``) over the neurons' mean raw PSTH;
    a neuron draws its posterior course, its raw PSTH and, dashed, its pooled course (the population's
    shape at its level, ``shrinkage()["pooled_rate"]``). ``condition`` picks the condition when the fit
    has several.

    Parameters
    ----------
    result : PSTHResult
        A time-resolved fit (``HierarchicalPSTH``).
    neuron : str, optional
        A fitted neuron's label; default the population course.
    condition : str, optional
        The condition to draw; needed when the fit has more than one.
    ci_prob : float
        Probability of the equal-tailed band, in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The course in its band over the raw PSTH (time in s, rate in Hz).

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a time-resolved fit (``PSTHResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); ``condition`` is not one of the fit's conditions, or None when it has
        several; ``neuron`` is not a fitted neuron.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, _ = sp.simulate_binned(8, 20, 10, bin_size=0.05, rate=30.0, alpha=None, seed=0)  # bump at 0.15 s
    >>> model = sp.HierarchicalPSTH(likelihood="poisson")
    >>> result = model.fit(binned, draws=1500, tune=1000, chains=2, random_seed=0, progressbar=False)
    >>> ax = sp.plots.plot_psth_fit(result)
    >>> [line.get_label() for line in ax.get_lines()]
    ['raw PSTH', 'population course']
    >>> bool(abs(float(result.population_rates()["mean"].idxmax("time")) - 0.15) < 0.05)  # the course peaks
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _time_fit(result, "plot_psth(counts) draws binned counts without a model.")
    ax = _axes(ax)
    table = result.shrinkage(ci_prob=ci_prob)
    if neuron is None:
        band = _pick(result.population_rates(ci_prob=ci_prob), "condition", condition)
        raw = _pick(table["raw_rate"].mean("neuron").to_dataset(), "condition", condition)["raw_rate"]
        label, pooled = "population course", None
    else:
        table = _pick(_pick(table, "neuron", neuron), "condition", condition)
        band = table.rename({"rate": "mean"})
        raw, label, pooled = table["raw_rate"], f"neuron {neuron}", table["pooled_rate"]
    t = band["time"].values
    ax.step(t, raw.values, where="mid", color="0.6", lw=1, label="raw PSTH")
    ax.fill_between(
        t, band["lower"].values, band["upper"].values, color="C0", alpha=0.3, lw=0, label=f"{ci_prob:.0%} interval"
    )
    ax.plot(t, band["mean"].values, color="C0", label=label)
    if pooled is not None:
        ax.plot(t, pooled.values, color="C3", ls="--", lw=1, label="population shape at its level")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (Hz)")
    title = "Population course" if neuron is None else f"Neuron {neuron}"
    ax.set_title(title + (f", {condition}" if condition is not None else ""))
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_rate_map(result: Any, *, condition: str | None = None, ci_prob: float = 0.94, ax=None):
    """Heat map of a time-resolved fit's posterior mean rates: neurons (rows) x time, in Hz.

    Parameters
    ----------
    result : PSTHResult
        A time-resolved fit (``HierarchicalPSTH``).
    condition : str, optional
        The condition to draw; needed when the fit has more than one.
    ci_prob : float
        Probability passed to ``result.rates`` (the map shows the posterior means), in (0, 1).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The heat map, one row per neuron, with a colour bar in Hz.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a time-resolved fit (``PSTHResult``).
    ArgumentError
        ``ci_prob`` is not in (0, 1); ``condition`` is not one of the fit's conditions, or None when it has
        several.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, _ = sp.simulate_binned(8, 20, 10, bin_size=0.05, rate=30.0, alpha=None, seed=0)  # bump at 0.15 s
    >>> model = sp.HierarchicalPSTH(likelihood="poisson")
    >>> result = model.fit(binned, draws=1500, tune=1000, chains=2, random_seed=0, progressbar=False)
    >>> ax = sp.plots.plot_rate_map(result)
    >>> ax.get_ylabel(), ax.images[0].get_array().shape  # neurons x time bins
    ('neuron', (8, 10))
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _time_fit(result, "a heat map of raw counts is binned.mean('trial') drawn with imshow.")
    ax = _axes(ax)
    rates = _pick(result.rates(ci_prob=ci_prob), "condition", condition)["mean"]
    t = rates["time"].values
    half = (t[1] - t[0]) / 2 if t.size > 1 else 0.5
    image = ax.imshow(
        rates.values,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="viridis",
        extent=(t[0] - half, t[-1] + half, -0.5, rates.sizes["neuron"] - 0.5),
    )
    ax.set_yticks(np.arange(rates.sizes["neuron"]), [str(n) for n in rates["neuron"].values], fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_title("Posterior mean rate" + (f", {condition}" if condition is not None else ""))
    ax.figure.colorbar(image, ax=ax, label="rate (Hz)")
    return ax


def raster_times(
    source: Any, neuron: str, *, window: Any, align: str | None = None, neuron_key: str | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Spike times (s, relative to each trial's alignment) of one neuron, trial by trial.

    Parameters
    ----------
    source : neo.Block, neo.Segment, or list of Segments or of SpikeTrains
        The recording; its trials laid out as ``from_neo`` lays them out.
    neuron : str
        The neuron's id (its ``neuron_key`` value).
    window : (start, stop) or None
        Window relative to each trial's alignment (s, or quantities); None: whole segments or epochs.
    align : str, optional
        Name or label of a ``neo.Event`` / ``neo.Epoch``: one trial per occurrence; default one per segment.
    neuron_key : str, optional
        Train annotation naming the neurons; default ``"unit_id"`` if a train has it, else train names.

    Returns
    -------
    times : list of numpy.ndarray
        One array per trial (empty where the neuron was not recorded).
    conditions : numpy.ndarray
        The trials' conditions (segments' ``condition`` annotations, or the event labels with ``align``).

    Raises
    ------
    ArgumentTypeError
        ``source`` is not a Neo Block, Segment, or list of Segments or of SpikeTrains; ``window`` is one
        number or not numeric; ``align`` or ``neuron_key`` is not a str.
    SourceError
        ``source`` holds no segment or no spike train; ``condition`` annotates some segments but not all;
        ``align`` matches no Event or Epoch.
    NeuronKeyError
        A train lacks the neuron key; two trains of a segment share an id; unnamed trains differ in number
        between segments.
    WindowError
        ``window`` is not a pair with ``stop > start``, is None with an Event's ``align``, or reaches outside
        a segment.
    UnitsError
        ``window`` is in units other than time, or NaN or infinite.
    ArgumentError
        ``neuron`` is not one of the neurons.

    Examples
    --------
    >>> import neo, quantities as pq
    >>> import spikepool as sp
    >>> trials = [neo.Segment(condition="a"), neo.Segment(condition="b")]
    >>> trials[0].spiketrains.append(neo.SpikeTrain([0.1, 0.4, 0.9] * pq.s, t_stop=1.0, name="u1"))
    >>> trials[1].spiketrains.append(neo.SpikeTrain([0.25] * pq.s, t_stop=1.0, name="u1"))
    >>> times, conditions = sp.plots.raster_times(trials, "u1", window=(0.0, 0.5))
    >>> [t.tolist() for t in times], conditions.tolist()
    ([[0.1, 0.4], [0.25]], ['a', 'b'])
    """
    segs, _ = _segments_of(source)
    win = window_to_seconds(window)
    neurons = _neurons(segs, neuron_key)
    if str(neuron) not in neurons.ids:
        raise ArgumentError(f"neuron must be one of {neurons.ids[:10]}...; got {neuron!r}.")
    spikes = neurons.spikes[neurons.ids.index(str(neuron))]
    trials = _segment_trials(segs, win, "condition") if align is None else _event_trials(segs, align, win, "condition")
    out = []
    for k in range(len(trials)):
        t = spikes.get(int(trials.segment[k]), np.zeros(0))
        lo, hi = np.searchsorted(t, [trials.start[k], trials.stop[k]])
        out.append(t[lo:hi] - trials.align[k])
    return out, trials.condition


def plot_raster(
    source: Any, neuron: str, *, window: Any, align: str | None = None, neuron_key: str | None = None, ax=None
):
    """Raster of one neuron's spikes, one row per trial, trials grouped by condition.

    Parameters
    ----------
    source : neo.Block, neo.Segment, or list of Segments or of SpikeTrains
        The recording; its trials laid out as ``from_neo`` lays them out.
    neuron : str
        The neuron's id (its ``neuron_key`` value).
    window : (start, stop) or None
        Window relative to each trial's alignment (s, or quantities); None: whole segments or epochs.
    align : str, optional
        Name or label of a ``neo.Event`` / ``neo.Epoch``: one trial per occurrence; default one per segment.
    neuron_key : str, optional
        Train annotation naming the neurons; default ``"unit_id"`` if a train has it, else train names.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        The raster (time from alignment in s), each condition's name at the right of its rows.

    Raises
    ------
    ArgumentTypeError, SourceError, NeuronKeyError, WindowError, UnitsError, ArgumentError
        For the inputs ``raster_times`` refuses.

    Examples
    --------
    >>> import neo, quantities as pq
    >>> import spikepool as sp
    >>> trials = [neo.Segment(condition=c) for c in ("a", "b", "a")]
    >>> for seg, t in zip(trials, ([0.1, 0.4], [0.25], [0.3])):
    ...     seg.spiketrains.append(neo.SpikeTrain(t * pq.s, t_stop=1.0, name="u1"))
    >>> ax = sp.plots.plot_raster(trials, "u1", window=(0.0, 0.5))
    >>> ax.get_title(), len(ax.collections), [text.get_text() for text in ax.texts]  # a row per trial
    ('Raster of u1', 3, ['a', 'b'])
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    ax = _axes(ax)
    times, conditions = raster_times(source, neuron, window=window, align=align, neuron_key=neuron_key)
    order = np.argsort(conditions, kind="stable")
    names = list(dict.fromkeys(conditions[order]))
    for row, k in enumerate(order):
        colour = f"C{names.index(conditions[k]) % 10}"
        ax.vlines(times[k], row + 0.1, row + 0.9, color=colour, lw=0.8)
    for name in names:
        rows = np.flatnonzero(conditions[order] == name)
        ax.text(1.01, rows.mean() + 0.5, name, transform=ax.get_yaxis_transform(), fontsize=7, va="center")
    ax.set_ylim(0, len(times))
    ax.set_xlabel("time from alignment (s)")
    ax.set_ylabel("trial")
    ax.set_title(f"Raster of {neuron}")
    return ax


def plot_psth(counts: xr.DataArray, *, neuron: str | None = None, by_condition: bool = True, ax=None):
    """Peri-stimulus time histogram (Hz) from binned counts (neuron, trial, time).

    Parameters
    ----------
    counts : xarray.DataArray
        Binned counts (neuron, trial, time), e.g. from ``from_neo(..., bin_size=...)``; by condition, they
        need a ``condition`` coordinate on ``trial``.
    neuron : str, optional
        One neuron's label; default the sum over all neurons.
    by_condition : bool
        One line per condition; False: one over all trials.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure's when None.

    Returns
    -------
    matplotlib.axes.Axes
        Step lines of the mean rate (Hz) over the valid trials.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray.
    ArgumentError
        ``counts`` has no ``time`` dim, or its bins are neither equally spaced nor give
        ``attrs["bin_size"]``; ``neuron`` is not one of its neurons; ``by_condition`` without a ``condition``
        coordinate.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, _ = sp.simulate_binned(4, 10, 20, conditions=["a", "b"], seed=0)
    >>> ax = sp.plots.plot_psth(binned, neuron="n0")
    >>> ax.get_title(), [line.get_label() for line in ax.get_lines()][:2]  # one step line per condition
    ('PSTH of n0 (25 ms bins)', ['a', 'b'])
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    if not isinstance(counts, xr.DataArray):
        raise ArgumentTypeError(f"counts must be an xarray.DataArray of binned counts; got {type(counts).__name__}.")
    if "time" not in counts.dims:
        raise ArgumentError("counts must be binned (dims neuron, trial, time); got window counts. Hint: pass bin_size.")
    names = counts["neuron"].values.tolist()
    if neuron is not None and neuron not in names:
        raise ArgumentError(f"neuron must be one of the counts' neurons; got {neuron!r}.{did_you_mean(neuron, names)}")
    if by_condition and "condition" not in counts.coords:
        raise ArgumentError("by_condition needs a 'condition' coordinate on trial; got none. Hint: by_condition=False.")
    ax = _axes(ax)
    bin_size = bin_width(counts)
    sel = counts if neuron is None else counts.sel(neuron=[neuron])
    valid = sel["valid"] if "valid" in sel.coords else xr.ones_like(sel.isel(time=0), dtype=bool)
    total = (sel * valid).sum("neuron")
    n = valid.any("neuron")
    groups = np.unique(counts["condition"].values) if by_condition else [None]
    for g in groups:
        mask = n & (counts["condition"] == g) if g is not None else n
        rate = total.where(mask).mean("trial") / bin_size
        ax.step(counts["time"].values, rate.values, where="mid", label=str(g) if g is not None else "all trials")
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("time from alignment (s)")
    ax.set_ylabel("rate (Hz)" + ("" if neuron is not None else ", summed over neurons"))
    ax.set_title(f"PSTH{'' if neuron is None else f' of {neuron}'} ({bin_size * 1000:g} ms bins)")
    if len(groups) > 1:
        ax.legend(fontsize=7, ncols=2)
    return ax

"""Figures over time (matplotlib): the Fano factor's course and a time-resolved fit's rates.

Every function takes ``ax=None`` and returns the Axes; ``spikepool.plots`` re-exports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.viz._common import _axes

__all__ = ["plot_fano_time", "plot_psth_fit", "plot_rate_map"]


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

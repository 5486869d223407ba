"""The report's sections for a time-resolved fit (``PSTHResult``): courses, shrinkage and Fano factors over time.

``spikepool.viz.report.report`` writes them in place of the window-count sections; the data, checks,
diagnostics and LOO sections are shared.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from spikepool.results.psth import PSTHResult
from spikepool.stats.binned import bin_width
from spikepool.viz._html import _figure, _figures, _table
from spikepool.viz.time_plots import plot_fano_time, plot_psth_fit, plot_rate_map

__all__ = ["FAMILY_MATHS", "family_maths", "psth_headline", "psth_maths", "psth_sections"]

#: Neurons drawn one by one in the shrinkage section: the sparsest and the richest.
SHOWN = 2


def _conditions(result: PSTHResult) -> list:
    """The fit's conditions (``[None]`` when it has one course)."""
    if result.spec["condition"] is None:
        return [None]
    return [str(c) for c in result.population_rates()["condition"].values]


#: Each family's counts in one phrase (HTML), for the model paragraphs of the reports.
FAMILY_MATHS = {
    "negbin": "y ~ NegativeBinomial(mu = r &times; {exposure}, alpha), Var = mu + mu<sup>2</sup>/alpha "
    "(Gamma-Poisson; Poisson as alpha &rarr; &infin;)",
    "poisson": "y ~ Poisson(mu = r &times; {exposure})",
    "com_poisson": "y ~ COM-Poisson(mean = r &times; {exposure}, nu), P(y) &prop; lambda<sup>y</sup>/(y!)<sup>nu"
    "</sup> with lambda solved from the mean (nu &gt; 1: Fano below 1; nu = 1: Poisson)",
}


def family_maths(likelihood: str, exposure: str) -> str:
    """The counts' distribution of a fit with ``likelihood`` in one phrase (HTML)."""
    return FAMILY_MATHS[likelihood].format(exposure=exposure)


def psth_maths(likelihood: str = "negbin") -> str:
    """The model in one paragraph (HTML)."""
    return (
        "<p>log r<sub>icb</sub> = m<sub>cb</sub> + u<sub>i</sub> + v<sub>ic</sub> + s<sub>icb</sub>: the "
        "population course m of each condition is a cubic B-spline whose coefficients follow a random walk with "
        "learnt step sd (sigma_time); u the neuron's level, v its level in each condition, s its own smooth "
        f"deviation (a spline with coefficient sd tau_shape), all pooled; {family_maths(likelihood, 'bin width')}, "
        "on (neuron, condition, bin) groups. The docstring of spikepool.models.psth has the priors and why.</p>"
    )


def psth_headline(result: PSTHResult, shrink, status: str) -> str:
    """One sentence: the design, the model, whether it sampled cleanly, the courses' range and shrinkage."""
    counts, spec = result.counts, result.spec
    t = counts["time"].values
    width = bin_width(counts)
    conditions = _conditions(result)
    cond = f", {len(conditions)} conditions" if conditions != [None] else ""
    dispersion = "" if spec["likelihood"] == "poisson" else f", dispersion {spec['dispersion']!r}"
    pop = result.population_rates()["mean"].values
    course = shrink["course_shrinkage"].values
    pooled = (
        f"median course shrinkage {np.nanmedian(course):.2f} (0: each neuron's raw PSTH kept, 1: the population's "
        "shape)"
        if np.isfinite(course).any()
        else "one neuron: its course is the population's, nothing is pooled across neurons"
    )
    return (
        f"<p>{counts.sizes['neuron']} neurons, {counts.sizes['trial']} trials{cond}, {t.size} bins of "
        f"{width * 1000:g} ms ({t[0] - width / 2:g} to {t[-1] + width / 2:g} s); {spec['likelihood']} "
        f"likelihood{dispersion}: {status}. The population course runs from {np.nanmin(pop):.3g} to "
        f"{np.nanmax(pop):.3g} Hz; {pooled}.</p>"
    )


def psth_sections(result: PSTHResult, shrink, ci_prob: float) -> list[tuple[str, str, str]]:
    """(anchor, title, html) of the courses, their shrinkage and the Fano factor over time."""
    return [
        ("courses", "Time courses", _courses(result, ci_prob)),
        ("shrinkage", "Shrinkage", _shrinkage(result, shrink, ci_prob)),
        ("variability", "Variability over time", _variability(result, ci_prob)),
    ]


def _courses(result: PSTHResult, ci_prob: float) -> str:
    conditions = _conditions(result)
    n = len(conditions)
    height = max(3.0, 0.25 * result.counts.sizes["neuron"] + 1.5)
    return (
        "<p>The population course of each condition (the typical neuron's rate) with its interval, over the "
        "neurons' mean raw PSTH, and every neuron's posterior mean rate over time.</p>"
        + _figures(
            lambda ax, k: plot_psth_fit(result, condition=conditions[k], ci_prob=ci_prob, ax=ax),
            n,
            f"Population course with its {ci_prob:.0%} interval; grey steps: the neurons' mean raw PSTH",
        )
        + _figures(
            lambda ax, k: plot_rate_map(result, condition=conditions[k], ci_prob=ci_prob, ax=ax),
            n,
            "Posterior mean rate of each neuron over time (Hz)",
            panel=(5.5, height),
        )
    )


def _shrinkage(result: PSTHResult, shrink, ci_prob: float) -> str:
    table = shrink[["course_shrinkage", "n_trials"]].to_dataframe()
    width = bin_width(result.counts)
    summed = shrink["raw_rate"].fillna(0.0).sum("time") * width * shrink["n_trials"]
    table["spikes"] = np.rint(summed.to_series().reindex(table.index).to_numpy()).astype(np.int64)
    table["mean_raw_rate"] = shrink["raw_rate"].mean("time").to_series().reindex(table.index)
    table["mean_rate"] = shrink["rate"].mean("time").to_series().reindex(table.index)
    table = table[["n_trials", "spikes", "mean_raw_rate", "mean_rate", "course_shrinkage"]]
    conditions = _conditions(result)
    # the sparsest and richest by spikes per trial in the plotted condition, among neurons with trials there
    shown = table.xs(conditions[0], level="condition") if conditions[0] is not None else table
    shown = shown[shown["n_trials"] > 0]
    order = (shown["spikes"] / shown["n_trials"]).sort_values(kind="stable")
    picks = list(dict.fromkeys([order.index[0], order.index[-1]]))[:SHOWN]
    return (
        "<p><i>course_shrinkage</i>: the share of the raw PSTH's own deviations from the population's shape (at "
        "the neuron's level) that the model removed: near 1 a sparse neuron borrows the population's shape, near "
        "0 a rich one keeps its own. Below, the sparsest and the richest neuron"
        f"{' in ' + html.escape(str(conditions[0])) if conditions[0] is not None else ''}.</p>"
        + _figures(
            lambda ax, k: plot_psth_fit(result, neuron=picks[k], condition=conditions[0], ci_prob=ci_prob, ax=ax),
            len(picks),
            f"Neuron courses ({ci_prob:.0%} interval) over their raw PSTH; dashed: the population's shape at "
            "the neuron's level",
        )
        + _table(pd.DataFrame(table))
    )


def _variability(result: PSTHResult, ci_prob: float) -> str:
    fano = result.fano(ci_prob=ci_prob)
    by_time = fano[["mean", "lower", "upper"]]
    table = by_time.mean("time").to_dataframe().rename(columns=lambda c: f"per-bin {c}, averaged over time")
    return (
        "<p>The model's Fano factor of each bin's count (1 + mu/alpha for the Negative Binomial; 1 for "
        "Poisson; summed from the pmf for COM-Poisson, below 1 where nu &gt; 1), averaged over the neurons, "
        "with its interval; and each neuron's average over time. "
        "sp.mean_matched_fano gives the classical (Churchland et al. 2010) estimate from the counts alone.</p>"
        + _figure(lambda ax: plot_fano_time(fano, ax=ax), f"The neurons' average Fano factor ({ci_prob:.0%})")
        + _table(table)
    )

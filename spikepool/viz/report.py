"""A self-contained HTML report of a fit: ``report(result, path)`` (figures embedded as PNG)."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikepool._validate import check_ci_prob
from spikepool._version import __version__
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.results.base import Result
from spikepool.results.fit import FitResult
from spikepool.results.glm import GLMResult
from spikepool.results.psth import PSTHResult
from spikepool.stats.describe import format_summary
from spikepool.viz import plots
from spikepool.viz._html import _figure, _table
from spikepool.viz.report_glm import glm_headline, glm_maths, glm_sections
from spikepool.viz.report_psth import family_maths, psth_headline, psth_maths, psth_sections

__all__ = ["report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
.ok{color:#1b7d2b;font-weight:bold} .bad{color:#b00020;font-weight:bold} .note{color:#555;font-size:.9em}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%}
nav a{margin-right:1em}
"""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<h2 id="{anchor}">{html.escape(title)}</h2>\n{body}'


def report(
    result: Any,
    path: str | os.PathLike,
    *,
    others: list | None = None,
    ci_prob: float = 0.94,
    baseline: str | None = None,
    fdr: float = 0.05,
) -> Path:
    """Write a self-contained HTML report of ``result`` (any model's) to ``path``.

    Sections: data, pre-fit checks, model and priors, sampling diagnostics, shrinkage (table and plot), LOO
    (compared with ``others``, fits of the same data, e.g. a Poisson model); for count models
    (``FitResult``) also Fano factors and posterior predictive checks, and with ``baseline`` (a condition)
    the responsive units (``result.responsive(baseline, fdr=fdr)``: heat map and table; over time, a heat map
    of each condition and one row per unit and condition); for time-resolved
    fits (``PSTHResult``) the courses, their shrinkage and the Fano factor over time
    (``spikepool.viz.report_psth``).

    Parameters
    ----------
    result : FitResult, GLMResult, PSTHResult or another model's result
        Any model's fit, or one read back with ``load_result``.
    path : str or os.PathLike
        The HTML file to write, in an existing folder (a file there is replaced).
    others : list of results, optional
        Fits of the same data to compare by LOO; a comparison that fails is said in the page, not raised.
    ci_prob : float
        Probability of the report's intervals, in (0, 1).
    baseline : str, optional
        A condition of a count model's or a time-resolved fit: adds its responsive units against it.
    fdr : float
        With ``baseline``: the target expected false discovery rate of the calls, in (0, 1).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ArgumentTypeError
        ``result`` is not a spikepool result.
    ArgumentError
        ``ci_prob`` or ``fdr`` is not in (0, 1); ``baseline`` is given for a fit other than a count model's
        or a time-resolved one, is not one of its conditions, or the fit has none.
    OSError
        ``path`` cannot be written, e.g. its folder does not exist (``FileNotFoundError``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = sp.report(result, pathlib.Path(folder.name) / "report.html", baseline="base")
    >>> page = path.read_text(encoding="utf-8")
    >>> path.name, "<h1>spikepool report</h1>" in page, "Responsive units (against base)" in page
    ('report.html', True, True)
    >>> folder.cleanup()
    """
    ci_prob = check_ci_prob(ci_prob)
    if not isinstance(result, Result):
        raise ArgumentTypeError(
            f"result must be a spikepool result (a model's fit, or sp.load_result(path)); got {type(result).__name__}."
        )
    import matplotlib

    matplotlib.use("Agg", force=False)
    counts_fit = isinstance(result, FitResult)
    time_fit = isinstance(result, PSTHResult)
    glm_fit = isinstance(result, GLMResult)
    shrink = result.shrinkage(ci_prob=ci_prob)
    sections = [
        ("data", "Data", _data(result)),
        ("checks", "Checks before fitting", result.pre_checks._repr_html_()),
        ("model", "Model and priors", _model(result)),
        ("diagnostics", "Sampling diagnostics", _diagnostics(result, ci_prob)),
    ]
    if time_fit:
        sections += psth_sections(result, shrink, ci_prob)
    elif glm_fit:
        sections += glm_sections(result, ci_prob)
    else:
        sections.append(
            (
                "shrinkage",
                "Shrinkage",
                _counts_shrinkage(shrink, ci_prob) if counts_fit else _pooled(result, shrink, ci_prob),
            )
        )
    if baseline is not None and not (counts_fit or time_fit):
        raise ArgumentError(
            "baseline is for spike-count fits (HierarchicalNegBinom, HierarchicalPSTH); got a "
            f"{type(result).__name__}. Hint: leave out baseline."
        )
    responsive = result.responsive(baseline, fdr=fdr, ci_prob=ci_prob) if baseline is not None else None
    if counts_fit:
        sections += [
            ("fano", "Fano factors", _fano(result, ci_prob)),
            ("ppc", "Posterior predictive checks", _ppc(result)),
        ]
    if responsive is not None:
        sections.append(("responsive", f"Responsive units (against {baseline})", _responsive(responsive)))
    sections.append(("loo", "Leave-one-out comparison (PSIS-LOO)", _loo(result, others)))
    nav = "".join(f'<a href="#{anchor}">{title.split(" (")[0]}</a>' for anchor, title, _ in sections)
    body = "".join(_section(anchor, title, html_) for anchor, title, html_ in sections)
    with_counts = counts_fit or time_fit or glm_fit
    source = str(result.counts.attrs.get("source", "")) if with_counts else result.spec["model"]
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>spikepool report: {html.escape(source)}"
        f"</title><style>{_CSS}</style></head><body><h1>spikepool report</h1><p class='note'>{html.escape(source)} "
        f"&middot; spikepool {__version__}</p>{_headline(result, shrink)}<nav>{nav}</nav>{body}</body></html>"
    )
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path


def _status(result: Result) -> str:
    post = result.post_checks
    laplace = result.spec.get("method") == "laplace"
    if not post.warnings:
        return f'<span class="ok">{"Laplace approximation checked (Pareto k)" if laplace else "sampled cleanly"}</span>'
    return f'<span class="bad">{len(post.warnings)} {"Laplace" if laplace else "sampling"} warning(s)</span>'


def _headline(result: Result, shrink) -> str:
    if isinstance(result, PSTHResult):
        return psth_headline(result, shrink, _status(result))
    if isinstance(result, GLMResult):
        return glm_headline(result, _status(result))
    if not isinstance(result, FitResult):
        dim = result.spec.get("dim", "group")
        hypers = "; ".join(f"{k} = {v:.3g}" for k, v in shrink.attrs.items() if isinstance(v, float) and k != "ci_prob")
        return (
            f"<p>{shrink.sizes[dim]} {dim}s, {result.spec['model']}: {_status(result)}. Posterior means: {hypers}.</p>"
        )
    counts, spec = result.counts, result.spec
    rng = shrink["rate"].values
    conditions = f", {shrink.sizes.get('condition', 1)} conditions" if spec["condition"] else ""
    dispersion = "" if spec["likelihood"] == "poisson" else f", dispersion {spec['dispersion']!r}"
    tau = (
        f"; between-neuron sd of log rates tau = {shrink.attrs['tau']:.3g}" if np.isfinite(shrink.attrs["tau"]) else ""
    )
    return (
        f"<p>{counts.sizes['neuron']} neurons, {counts.sizes['trial']} trials{conditions}; {spec['pooling']} pooling, "
        f"{spec['likelihood']} likelihood{dispersion}: {_status(result)}. Posterior rates from {np.nanmin(rng):.3g} "
        f"to {np.nanmax(rng):.3g} Hz{tau}; median shrinkage {np.nanmedian(shrink['shrinkage'].values):.2f}.</p>"
    )


def _data(result: Result) -> str:
    if isinstance(result, FitResult | PSTHResult | GLMResult):
        return f"<pre>{html.escape(format_summary(result.counts))}</pre>"
    observed = result.idata["observed_data"].to_dataset()
    return f"<p>{observed['y'].size} observations of y.</p>" + _table(observed.to_dataframe().head(40))


def _model(result: Result) -> str:
    spec = result.spec
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(repr(v))}</td></tr>"
        for k, v in spec.items()
        if k != "priors" and not isinstance(v, dict) and not str(k).endswith("_reason")
    )
    priors = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(repr(v))}</td></tr>" for k, v in spec.get("priors", {}).items()
    )
    centered = result.centered
    param = (
        "<p class='note'>Parameterisation: the population course, the neuron levels and the condition "
        "levels centered, the shape deviations non-centered (summing to zero over neurons); NUTS "
        f"target_accept {spec.get('target_accept') or 'at the sampler default'}.</p>"
        if isinstance(result, PSTHResult)
        else "<p class='note'>Parameterisation per grouping (how many levels take 0, 1, ... of their leading effects "
        "in the centered form, chosen from how informative each level's data are): "
        + "; ".join(
            f"{html.escape(k)} " + ", ".join(f"{m}: {v.count(m)}" for m in sorted(set(v)))
            for k, v in spec.get("centered", {}).items()
        )
        + f"; NUTS target_accept {spec.get('target_accept') or 'at the sampler default'}.</p>"
        if isinstance(result, GLMResult)
        else f"<p class='note'>Parameterisation: {int(centered.sum())} unit(s) centered, {int((~centered).sum())} "
        "non-centered (chosen per unit from how informative its data are); NUTS target_accept "
        f"{spec.get('target_accept') or 'at the sampler default'}.</p>"
        if centered.size
        else ""
    )
    base = html.escape(str(spec.get("baseline")))
    sparse = (
        f"log r<sub>i,base</sub> ~ Normal(mu, tau) across neurons in the baseline {base}"
        "; in each other condition c, log r<sub>ic</sub> = log r<sub>i,base</sub> + s<sub>ic</sub> d<sub>ic</sub> "
        "with s<sub>ic</sub> ~ Bernoulli(respond_frac<sub>c</sub>) (summed out) and d<sub>ic</sub> ~ Normal(0, "
        "sigma_response): a point mass at no change"
    )
    maths = (
        f"<p>{sparse if spec.get('baseline') else 'log r ~ Normal(mu, tau) across neurons'}; "
        f"{family_maths(spec['likelihood'], 'duration')}.</p>"
        if isinstance(result, FitResult)
        else psth_maths(spec["likelihood"])
        if isinstance(result, PSTHResult)
        else glm_maths(spec)
        if isinstance(result, GLMResult)
        else f"<p>{html.escape(spec['model'])}: see its docstring for the model.</p>"
    )
    timings = result.timings
    laplace = spec.get("method") == "laplace"
    stages = (
        "<p class='note'>Time of each stage of the fit (s): "
        + ", ".join(f"{html.escape(k)} {v:.3g}" for k, v in timings.items())
        + ("." if laplace else " (the NUTS loop is part of sampling, which also compiles the model).")
        + "</p>"
        if timings
        else ""
    )
    if laplace:
        param = (
            "<p class='note'>Fitted by the nested Laplace approximation (method='laplace', "
            "spikepool.models.laplace): hyperparameters from their Laplace marginal posterior (importance-"
            "weighted), each neuron's log rates from Gaussians given its log dispersion, whose marginal is "
            "computed on a grid; the diagnostics below are Pareto k of those approximations, not R-hat.</p>"
        )
    return (
        f"{maths}<table><tr><th>option</th><th>value</th></tr>{rows}</table>{param}"
        f"<table><tr><th>prior</th><th>value</th></tr>{priors}</table>{stages}"
    )


def _diagnostics(result: Result, ci_prob: float) -> str:
    post = result.posterior
    unit_dims = {"neuron", "unit", "group"}
    per_unit = sum(post[n].size // (post.sizes["chain"] * post.sizes["draw"]) for n in result.DIAGNOSED if n in post)
    names = [n for n in result.DIAGNOSED if n in post and not unit_dims & set(post[n].dims)]
    if per_unit > 200 and names:  # a thousand units: the population parameters (the check above covers all)
        import arviz_stats as azs

        summary = azs.summary(result.idata, var_names=names, ci_prob=ci_prob)
    else:
        summary = result.summary(ci_prob=ci_prob)
    keep = [i for i in summary.index if not str(i).startswith(("rate[", "theta["))][:40]
    return (
        result.post_checks._repr_html_()
        + _table(summary.loc[keep])
        + "<p class='note'>Per-unit estimates are in the next section.</p>"
    )


def _counts_shrinkage(shrink, ci_prob: float) -> str:
    n_cells = int(np.prod([shrink.sizes[d] for d in shrink["rate"].dims]))
    table = shrink.to_dataframe()
    cols = ["raw_rate", "rate", "lower", "upper", "population_rate", "shrinkage", "kappa", "n_trials", "spikes"]
    return (
        "<p>Each neuron's raw rate (no pooling) and its partial-pooling posterior. <i>shrinkage</i>: fraction of "
        "the way from the raw rate to the population rate that the posterior moved (log scale); <i>kappa</i>: "
        "the data's weight tau<sup>2</sup>/(tau<sup>2</sup> + sigma<sup>2</sup>) in the Normal analogue.</p>"
        + _figure(lambda ax: plots.plot_shrinkage(shrink, ax=ax), "Raw -> posterior rate per neuron (size ~ spikes)")
        + _figure(
            lambda ax: plots.plot_rates(shrink, ci_prob=ci_prob, ax=ax),
            f"Posterior rates with {ci_prob:.0%} intervals; crosses: raw rates"
            + (
                f" (the {plots.MAX_ROWS // 2} lowest and {plots.MAX_ROWS // 2} highest of {n_cells:,}: all are in "
                "the table)"
                if n_cells > plots.MAX_ROWS
                else ""
            ),
            size=(8, max(4, 0.16 * min(n_cells, plots.MAX_ROWS) + 1.5)),
        )
        + _table(table[[c for c in cols if c in table.columns]])
    )


def _pooled(result: Result, shrink, ci_prob: float) -> str:
    rows = shrink.sizes[result.spec.get("dim", "group")]
    return (
        "<p>Each group's raw estimate and its partial-pooling posterior, with the closed-form shrinkage factors "
        "beside the posterior means.</p>"
        + _figure(
            lambda ax: plots.plot_pooled_estimates(shrink, ax=ax),
            f"Raw estimates (open) and posterior means with {ci_prob:.0%} intervals (filled)",
            size=(8, max(4, 0.3 * rows + 1.5)),
        )
        + _table(shrink.to_dataframe())
    )


#: How each family's Fano factor is computed, for the report's caption.
FANO_FORMS = {
    "negbin": "1 + mu/alpha",
    "poisson": "1",
    "com_poisson": "COM-Poisson, variance/mean summed from the pmf: below 1 where nu > 1",
}


def _fano(result: FitResult, ci_prob: float) -> str:
    fano = result.fano(ci_prob=ci_prob)
    n_cells = int(np.prod([fano.sizes[d] for d in fano["mean"].dims]))
    return _figure(
        lambda ax: plots.plot_fano(fano, ci_prob=ci_prob, ax=ax),
        f"Model Fano factor ({FANO_FORMS.get(result.spec['likelihood'], 'from the pmf')}, per trial) with "
        + (
            f"{ci_prob:.0%} intervals, and empirical var/mean"
            if n_cells <= plots.MAX_ROWS
            else f"its posterior mean against the empirical var/mean, one dot per cell (red: the empirical one "
            f"outside the {ci_prob:.0%} interval)"
        ),
        size=(8, max(4, 0.16 * n_cells + 1.5)) if n_cells <= plots.MAX_ROWS else (7, 6),
    ) + _table(fano.to_dataframe())


def _ppc(result: FitResult) -> str:
    condition = result.spec.get("condition")
    rows = result.counts.sizes["neuron"] * (np.unique(result.counts[condition].values).size if condition else 1)
    return _figure(
        lambda ax: plots.plot_ppc_counts(result, ax=ax), "Hanging rootogram of the counts, all neurons"
    ) + _figure(
        lambda ax: plots.plot_ppc_fano(result, ax=ax),
        "Observed Fano factor of each neuron [x condition] against its replicates (90% of the replicated Fano "
        "factors; a dot outside its bar is variability the family does not reproduce)"
        if rows <= plots.MAX_ROWS
        else "Observed Fano factor of each neuron x condition against the middle of its replicates' 90% interval, "
        "one dot per cell (red: outside the interval, variability the family does not reproduce)",
        size=(8, max(4, 0.2 * rows + 1.5)) if rows <= plots.MAX_ROWS else (7, 6),
    )


def _responsive(table) -> str:
    a = table.attrs
    over_time = "time" in table.dims
    cells = "(unit, condition, time bin) cell" if over_time else "unit's rate in each condition"
    text = (
        f"<p>Each {cells} against <b>{html.escape(str(a['baseline']))}</b>: the posterior "
        f"ratio with its {a['ci_prob']:.0%} interval, P(up) = P(ratio &gt; {a['min_ratio']:g}) and P(down). A cell is "
        "called in its more probable direction when it belongs to the largest set of cells, taken from the most "
        f"certain down, whose expected false discovery rate is at most {a['fdr']:g} (the Bayesian FDR rule of Newton "
        f"et al. 2004 / M&uuml;ller et al. 2004): <b>{a['n_discoveries']}</b> calls ({a['n_up']} up, {a['n_down']} "
        f"down), expected FDR {a['expected_fdr']:.3f}. "
        + (
            "The model has a point mass at no change against this baseline (a unit either keeps its baseline rate "
            "exactly or responds), which keeps the expected FDR calibrated where some units do not respond at all "
            "(spikepool.results.contrasts documents the measured calibration).</p>"
            if a.get("point_mass")
            else "The expected FDR assumes the model; where some units cannot respond at all it is optimistic "
            "unless the model has a point mass at no change (HierarchicalNegBinom(baseline=...), spikepool fit "
            "--sparse-responses; spikepool.results.contrasts documents the measured calibration).</p>"
        )
    )
    n = table.sizes["neuron"]
    height = max(4, min(0.22 * n, 60) + 1.5)
    if not over_time:
        figure = _figure(
            lambda ax: plots.plot_responsive(table, ax=ax),
            "Log rate ratio to the baseline per unit and condition; grey cells are not called",
            size=(max(6, 0.5 * table.sizes["condition"] + 3), height),
        )
        frame = table[["ratio", "ratio_lower", "ratio_upper", "prob_up", "prob_down", "responsive"]].to_dataframe()
        return text + figure + _table(frame)
    names = [str(c) for c in table["condition"].values]
    shown = names[:MAX_RESPONSIVE_PANELS]
    figure = "".join(
        _figure(
            lambda ax, c=c: plots.plot_responsive(table, condition=c, ax=ax),
            f"Log rate ratio {c} / {a['baseline']} per unit and time bin; grey cells are not called",
            size=(8, height),
        )
        for c in shown
    )
    if len(names) > len(shown):
        figure += f"<p class='note'>Heat maps of the first {len(shown)} of {len(names)} conditions.</p>"
    return text + figure + _table(responsive_over_time(table))


#: Heat maps drawn for a responsive table over time (one per condition).
MAX_RESPONSIVE_PANELS = 8


def responsive_over_time(table) -> Any:
    """One row per (neuron, condition) of a responsive table over time: bins called up / down, the first
    called bin's centre (s) and the largest posterior mean ratio and smallest among the called bins."""
    import pandas as pd

    label = table["responsive"].transpose("neuron", "condition", "time").values
    ratio = table["ratio"].transpose("neuron", "condition", "time").values
    time = np.asarray(table["time"].values, dtype=float)
    rows = []
    for i, neuron in enumerate(table["neuron"].values):
        for k, condition in enumerate(table["condition"].values):
            called = label[i, k] != "none"
            first = time[np.argmax(called)] if called.any() else np.nan
            rows.append(
                {
                    "neuron": neuron,
                    "condition": condition,
                    "bins_up": int((label[i, k] == "up").sum()),
                    "bins_down": int((label[i, k] == "down").sum()),
                    "first_called_s": first,
                    "max_ratio_called": ratio[i, k][called].max() if called.any() else np.nan,
                    "min_ratio_called": ratio[i, k][called].min() if called.any() else np.nan,
                }
            )
    return pd.DataFrame(rows).set_index(["neuron", "condition"])


def _loo(result: Result, others: list | None) -> str:
    try:
        if others:
            loo_html = _table(result.compare(*others), digits=4)
        else:
            loo_html = f"<pre>{html.escape(str(result.loo()))}</pre>"
        reliability = result.loo_checks
        if reliability is not None and reliability.problems:
            loo_html += "".join(f"<p class='bad'>{html.escape(p.text())}</p>" for p in reliability.problems)
        elif reliability is not None:
            loo_html += "<p>Every observation's Pareto k is below the reliability threshold: the estimates hold.</p>"
    except Exception as err:  # LOO is informative, not essential: say why it is missing
        loo_html = f"<p class='bad'>LOO could not be computed: {html.escape(str(err))}</p>"
    return loo_html

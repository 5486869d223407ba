"""A self-contained HTML report of a fit: ``report(result, path)`` (figures embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikepool._validate import check_ci_prob
from spikepool._version import __version__
from spikepool.counts.describe import format_summary
from spikepool.viz import plots

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


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(draw, caption: str, size=(8, 5)) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    draw(ax)
    text = html.escape(caption)
    image = f'<img alt="{text}" src="data:image/png;base64,{_png(fig)}">'
    return f"<figure>{image}<figcaption>{text}</figcaption></figure>"


def _table(df, digits: int = 3) -> str:
    return df.to_html(float_format=lambda x: f"{x:.{digits}g}", border=0, na_rep="-")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<h2 id="{anchor}">{html.escape(title)}</h2>\n{body}'


def report(result: Any, path: str | os.PathLike, *, others: list | None = None, ci_prob: float = 0.94) -> Path:
    """Write a self-contained HTML report of ``result`` to ``path``.

    Sections: data summary, pre-fit checks, model and priors, sampling diagnostics, shrinkage table
    and plot, Fano factors, posterior predictive checks, LOO (compared with ``others``, fits of the
    same counts, e.g. a Poisson model).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    ci_prob = check_ci_prob(ci_prob)
    import matplotlib

    matplotlib.use("Agg", force=False)
    counts = result.counts
    spec = result.spec
    shrink = result.shrinkage(ci_prob=ci_prob)
    fano = result.fano(ci_prob=ci_prob)
    post = result.post_checks
    n_cells = int(np.prod([shrink.sizes[d] for d in shrink["rate"].dims]))
    tall = (8, max(4, 0.16 * n_cells + 1.5))
    parts = []

    status = (
        '<span class="ok">sampled cleanly</span>'
        if not post.warnings
        else (f'<span class="bad">{len(post.warnings)} sampling warning(s)</span>')
    )
    rng = shrink["rate"].values
    headline = (
        f"<p>{counts.sizes['neuron']} neurons, {counts.sizes['trial']} trials"
        f"{'' if not spec['condition'] else f', {shrink.sizes.get("condition", 1)} conditions'}; "
        f"{spec['pooling']} pooling, {spec['likelihood']} likelihood"
        f"{'' if spec['likelihood'] == 'poisson' else f', dispersion {spec["dispersion"]!r}'}: {status}. "
        f"Posterior rates from {np.nanmin(rng):.3g} to {np.nanmax(rng):.3g} Hz"
        + (
            f"; between-neuron sd of log rates tau = {shrink.attrs['tau']:.3g}"
            if np.isfinite(shrink.attrs["tau"])
            else ""
        )
        + f"; median shrinkage {np.nanmedian(shrink['shrinkage'].values):.2f}.</p>"
    )
    parts.append(_section("data", "Data", f"<pre>{html.escape(format_summary(counts))}</pre>"))
    parts.append(_section("checks", "Checks before fitting", result.pre_checks._repr_html_()))
    priors = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(repr(v))}</td></tr>" for k, v in spec["priors"].items()
    )
    model_rows = "".join(
        f"<tr><td>{k}</td><td>{html.escape(repr(spec[k]))}</td></tr>"
        for k in ("pooling", "dispersion", "likelihood", "condition", "parameterization", "sampler")
    )
    centered = result.centered
    param = (
        f"<p class='note'>Parameterisation: {int(centered.sum())} neuron(s) centered, "
        f"{int((~centered).sum())} non-centered (chosen per neuron from how informative its data are); "
        f"NUTS target_accept {spec.get('target_accept') or 'at the sampler default'}.</p>"
        if centered.size
        else ""
    )
    parts.append(
        _section(
            "model",
            "Model and priors",
            "<p>log r ~ Normal(mu, tau) across neurons; y ~ NegativeBinomial(mu = r &times; duration, alpha), "
            "Var = mu + mu<sup>2</sup>/alpha (Gamma-Poisson; Poisson as alpha &rarr; &infin;).</p>"
            f"<table><tr><th>option</th><th>value</th></tr>{model_rows}</table>{param}"
            f"<table><tr><th>prior</th><th>value</th></tr>{priors}</table>",
        )
    )
    summary = result.summary(ci_prob=ci_prob)
    keep = [i for i in summary.index if not str(i).startswith("rate[")][:40]
    parts.append(
        _section(
            "diagnostics",
            "Sampling diagnostics",
            post._repr_html_()
            + _table(summary.loc[keep])
            + "<p class='note'>Per-neuron rates are in the next section.</p>",
        )
    )
    table = shrink.to_dataframe()
    cols = ["raw_rate", "rate", "lower", "upper", "population_rate", "shrinkage", "kappa", "n_trials", "spikes"]
    parts.append(
        _section(
            "shrinkage",
            "Shrinkage",
            "<p>Each neuron's raw rate (no pooling) and its partial-pooling posterior. <i>shrinkage</i>: fraction of "
            "the way from the raw rate to the population rate that the posterior moved (log scale); <i>kappa</i>: "
            "the data's weight tau<sup>2</sup>/(tau<sup>2</sup> + sigma<sup>2</sup>) in the Normal analogue.</p>"
            + _figure(
                lambda ax: plots.plot_shrinkage(shrink, ax=ax), "Raw -> posterior rate per neuron (size ~ spikes)"
            )
            + _figure(
                lambda ax: plots.plot_rates(shrink, ci_prob=ci_prob, ax=ax),
                f"Posterior rates with {ci_prob:.0%} intervals; crosses: raw rates",
                size=tall,
            )
            + _table(table[[c for c in cols if c in table.columns]]),
        )
    )
    parts.append(
        _section(
            "fano",
            "Fano factors",
            _figure(
                lambda ax: plots.plot_fano(fano, ci_prob=ci_prob, ax=ax),
                "Model Fano factor 1 + mu/alpha (per trial) and empirical var/mean",
                size=tall,
            )
            + _table(fano.to_dataframe()),
        )
    )
    parts.append(
        _section(
            "ppc",
            "Posterior predictive checks",
            _figure(lambda ax: plots.plot_ppc_counts(result, ax=ax), "Hanging rootogram of the counts, all neurons")
            + _figure(
                lambda ax: plots.plot_ppc_fano(result, ax=ax),
                "Observed Fano factor of each neuron against its replicates",
                size=(8, max(4, 0.35 * counts.sizes["neuron"] + 1.5)),
            ),
        )
    )
    try:
        if others:
            loo_html = _table(result.compare(*others), digits=4)
        else:
            loo = result.loo()
            loo_html = f"<pre>{html.escape(str(loo))}</pre>"
        reliability = result.loo_checks
        if reliability is not None and reliability.problems:
            loo_html += "".join(f"<p class='bad'>{html.escape(p.text())}</p>" for p in reliability.problems)
        elif reliability is not None:
            loo_html += "<p>Every observation's Pareto k is below the reliability threshold: the estimates hold.</p>"
    except Exception as err:  # LOO is informative, not essential: say why it is missing
        loo_html = f"<p class='bad'>LOO could not be computed: {html.escape(str(err))}</p>"
    parts.append(_section("loo", "Leave-one-out comparison (PSIS-LOO)", loo_html))

    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("data", "Data"),
            ("checks", "Checks"),
            ("model", "Model"),
            ("diagnostics", "Diagnostics"),
            ("shrinkage", "Shrinkage"),
            ("fano", "Fano"),
            ("ppc", "PPC"),
            ("loo", "LOO"),
        )
    )
    source = html.escape(str(counts.attrs.get("source", "")))
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>spikepool report: {source}</title>"
        f"<style>{_CSS}</style></head><body><h1>spikepool report</h1><p class='note'>{source} &middot; spikepool "
        f"{__version__}</p>{headline}<nav>{nav}</nav>{''.join(parts)}</body></html>"
    )
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path

"""The report's sections for formula fits (``GLMResult``): coefficients per neuron, predicted rate curves and
tuning curves."""

from __future__ import annotations

import html

import numpy as np

from spikepool.results.glm_shared import has_shared, partition_table
from spikepool.viz._html import _figure, _png, _table
from spikepool.viz.glm_plots import plot_coefficients, plot_predicted, plot_tuning
from spikepool.viz.report_psth import family_maths
from spikepool.viz.shared_plots import plot_gains, plot_noise_correlations, plot_variance_partition

__all__ = ["MAX_PANELS", "glm_headline", "glm_maths", "glm_sections"]

#: Forest plots, rate curves and tuning curves drawn at most (the tables hold every value).
MAX_PANELS = 4


def glm_headline(result, status: str) -> str:
    counts, spec = result.counts, result.spec
    beta = result.posterior["beta"]
    fixed = "; ".join(f"{html.escape(str(c))} {float(beta.sel(coef=c).mean()):.3g}" for c in beta["coef"].values[:6])
    sds = "; ".join(
        f"sd of {html.escape(e)} by {html.escape(g.name)} {float(result.posterior[f'sd_{g.key}'].sel({f'{g.key}_effect': e}).mean()):.3g}"  # noqa: E501
        for g in result.design.groups
        for e in g.effects
    )
    return (
        f"<p>{counts.sizes['neuron']} neurons, {counts.sizes['trial']} trials; <code>{html.escape(spec['formula'])}"
        f"</code>, {spec['likelihood']} likelihood, dispersion {spec['dispersion']!r}: {status}. Posterior means "
        f"(log rate in Hz per unit of each covariate): {fixed}{'; ' + sds if sds else ''}.</p>"
    )


def glm_maths(spec: dict) -> str:
    return (
        "<p>log r<sub>o</sub> = x<sub>o</sub>'&beta; + &Sigma;<sub>g</sub> z<sub>o,g</sub>'b<sub>g</sub>[level] for "
        "every valid (neuron, trial) o, from the formula <code>"
        f"{html.escape(spec['formula'])}</code>; b<sub>g</sub> ~ MvNormal(0, diag(sd<sub>g</sub>) C<sub>g</sub> "
        "diag(sd<sub>g</sub>)) with an LKJ prior on the correlations C<sub>g</sub> (independent effects for "
        "<code>(a || g)</code>); priors scaled to the covariates (spikepool.models.glm_data); "
        f"{family_maths(spec['likelihood'], 'duration')}.</p>"
    )


def _slopes(result) -> list[str]:
    g = result.design.group("neuron")
    coefs = list(result.design.coefs)
    if g is None:
        return []
    return [e for e in g.effects if e != "Intercept" and e in coefs][:MAX_PANELS]


def glm_sections(result, ci_prob: float) -> list[tuple[str, str, str]]:
    """The coefficients ("Shrinkage"), rate-curve and tuning sections of a formula fit's report."""
    sections = []
    coefs_html = (
        "<p>Each neuron's coefficients: the population's plus the neuron's own deviation, with "
        f"{ci_prob:.0%} intervals. <i>shrinkage</i>: posterior variance of the coefficient over the mean squared SD "
        "of its grouping (near 0: the neuron's data pin it; 1: it is the population's), the Normal-Normal "
        "B = sigma<sup>2</sup>/(sigma<sup>2</sup> + tau<sup>2</sup>).</p>"
    )
    if result.design.group("neuron") is not None:
        n = result.counts.sizes["neuron"]
        first = "Intercept" if "Intercept" in result.design.coefs else result.design.coefs[0]
        for coef in _slopes(result) or [first]:
            coefs_html += _figure(
                lambda ax, c=coef: plot_coefficients(result, c, ci_prob=ci_prob, ax=ax),
                f"{coef} per neuron (dots, {ci_prob:.0%} intervals) against the population's (band)",
                size=(7, max(3.5, 0.18 * min(n, 60) + 1.5)),
            )
        table = result.coefficients("neuron", ci_prob=ci_prob).to_dataframe()
        coefs_html += _table(table[["mean", "lower", "upper", "shrinkage"]])
    sections.append(("shrinkage", "Shrinkage (coefficients per neuron)", coefs_html))
    numeric = [
        v
        for v in result.design.variables
        if v in result.design.frame
        and result.design.frame[v].dtype.kind in "iuf"
        and result.counts[v].dims == ("trial",)
        and not any(f"({v})" in c or f"({v}))" in c for c in result.design.coefs if ("cos(" in c or "sin(" in c))
    ][:MAX_PANELS]
    if numeric:
        curves = "".join(
            _figure(
                lambda ax, v=v: plot_predicted(result, v, ci_prob=ci_prob, ax=ax),
                f"Predicted rate over {v}: the population (typical neuron, {ci_prob:.0%} band) and each neuron "
                "(thin lines); the other covariates at their mean or most frequent level",
            )
            for v in numeric
        )
        sections.append(("curves", "Predicted rates", curves))
    tuned = _tuning_covariate(result)
    if tuned is not None:
        table = result.tuning(tuned, ci_prob=ci_prob)
        depth = table["depth"].values
        shown = np.argsort(depth)[::-1][:MAX_PANELS]
        names = result.counts["neuron"].values
        figures = "".join(
            _figure(
                lambda ax, n=names[i]: plot_tuning(result, n, tuned, ci_prob=ci_prob, ax=ax),
                f"Tuning of {names[i]} over {tuned} (band {ci_prob:.0%}; dots: observed mean rates; dashed: "
                "the population)",
            )
            for i in shown
        )
        frame = table[[k for k in table.data_vars if not k.startswith("population")]].to_dataframe()
        sections.append(("tuning", f"Tuning over {tuned}", figures + _table(frame)))
    if has_shared(result.design, result.spec):
        sections.append(("shared", "Shared variability", _shared_section(result, ci_prob)))
    return sections


def _shared_section(result, ci_prob: float) -> str:
    """The variance partition, noise correlations beside the raw r_sc, and the trial gains."""
    import matplotlib.pyplot as plt

    n = result.counts.sizes["neuron"]
    out = (
        "<p>Each count's variance split by the law of total variance into Poisson (its mean), private (the count "
        "family's own dispersion) and shared (the trial gains and factors) parts, summed over the neuron's trials; "
        "noise correlations implied by the shared terms at fixed covariates beside the raw r_sc (counts z-scored "
        f"within condition), with {ci_prob:.0%} intervals; <i>fano_private</i> is the Fano factor without the "
        "shared part.</p>"
    )
    out += _figure(lambda ax: plot_variance_partition(result, ci_prob=ci_prob, ax=ax),
                   f"Shares of each neuron's count variance (shared: {ci_prob:.0%} interval)",
                   size=(max(6.0, 0.25 * min(n, 60) + 2), 4))  # fmt: skip
    vp = result.variance_partition(ci_prob=ci_prob)
    out += _table(partition_table(vp))
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.4), layout="constrained")
    plot_noise_correlations(result, ci_prob=ci_prob, axes=axes)
    caption = html.escape("Noise correlations: the model's (left; dots where the interval excludes 0) and the raw "
                          "r_sc (right), on one colour scale")  # fmt: skip
    image = f'<img alt="{caption}" src="data:image/png;base64,{_png(fig)}">'
    out += f"<figure>{image}<figcaption>{caption}</figcaption></figure>"
    for term in [str(t) for t in result.gains()["term"].values][:MAX_PANELS]:
        out += _figure(lambda ax, t=term: plot_gains(result, t, ci_prob=ci_prob, ax=ax),
                       f"Shared term {term} over the trials ({ci_prob:.0%} band)", size=(8, 3.5))  # fmt: skip
    return out


def _tuning_covariate(result) -> str | None:
    for v in result.design.variables:
        names = [c for c in result.design.coefs if v in c]
        if any("cos(" in c for c in names) and any("sin(" in c for c in names):
            return v
    return None

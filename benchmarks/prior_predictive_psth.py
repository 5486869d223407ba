"""Prior predictive check of ``HierarchicalPSTH``'s population time course on the locust recording.

Question
--------
The population course of each condition is ``m_c(t) = sum_k B_k(t) beta_ck`` with a first-order random walk
on the spline coefficients, ``beta_ck - beta_c,k-1 ~ Normal(0, sigma_time)``, ``sigma_time ~
HalfNormal(time_scale)`` (``spikepool.models.psth``). Does the default ``time_scale`` (0.5) predict courses
that look like a real recording's, neither flat nor absurdly jagged, and how often does it predict absurd
ones? Compared with ``time_scale`` 0.25 and 1.0.

Method
------
Data: locust20010214, 8-14 s (odour onset near 10 s) in 50 ms bins, odour blocks only. Observed: each
odour's population PSTH (spikes of all units / units / trials / bin width), averaged over the knot spacing
(4 bins, 200 ms) so that Poisson noise does not pass for structure; per odour its range ``max / min`` over
time and its roughness, the sd of the differences of the log course between adjacent 200 ms blocks; the
median over odours. Prior predictive: the model built on these counts (``model.build``),
``pm.sample_prior_predictive`` draws ``population_coef``; the course ``exp(B beta_c)`` is averaged and
summarised the same way. Absurd: a course spanning more than a factor 1,000 or above 500 Hz.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/prior_predictive_psth.py [--draws 2000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import spikepool as sp

BLOCK = 4  # bins per knot spacing ("auto" smoothing)


def course_stats(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Range, roughness and peak of courses (..., time) in Hz, after averaging over ``BLOCK`` bins."""
    n = rates.shape[-1] // BLOCK * BLOCK
    blocks = rates[..., :n].reshape(*rates.shape[:-1], -1, BLOCK).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log = np.log(blocks)
        span = blocks.max(axis=-1) / blocks.min(axis=-1)
        rough = np.diff(log, axis=-1).std(axis=-1, ddof=1)
    return span, rough, blocks.max(axis=-1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import pymc as pm

    counts = sp.datasets.load_counts("locust20010214", window=(8.0, 14.0), bin_size=0.05)
    odour = ~np.char.startswith(counts["condition"].values.astype(str), "Spontaneous")
    counts = counts.isel(trial=np.flatnonzero(odour))
    width = counts.attrs["bin_size"]
    names, codes = np.unique(counts["condition"].values.astype(str), return_inverse=True)
    observed = np.stack(
        [
            counts.values[:, codes == c].sum(axis=(0, 1)) / counts.sizes["neuron"] / (codes == c).sum() / width
            for c in range(names.size)
        ]
    )
    obs_span, obs_rough, obs_peak = (np.median(s) for s in course_stats(observed))
    print(
        f"locust20010214, 8-14 s, 50 ms bins, {names.size} odours; observed (median over odours): "
        f"range x{obs_span:.3g}, roughness {obs_rough:.3g}, peak {obs_peak:.3g} Hz"
    )
    print(f"{'time_scale':>10}  {'range 5/50/95%':>24}  {'roughness 5/50/95%':>22}  {'obs pct':>14}  {'absurd':>7}")
    for scale in (0.25, 0.5, 1.0):
        model = sp.HierarchicalPSTH(condition="condition", priors={"time_scale": scale})
        data = model.prepare(counts)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Potential.*")
            prior = pm.sample_prior_predictive(
                draws=args.draws, model=model.build(data), var_names=["population_coef"], random_seed=args.seed
            )
        coef = prior["prior"]["population_coef"].values.reshape(args.draws, names.size, -1)
        with np.errstate(over="ignore"):
            rates = np.exp(coef @ data.basis.T)
        span, rough, peak = course_stats(rates)
        span, rough, peak = span.ravel(), rough.ravel(), peak.ravel()
        absurd = np.mean((span > 1e3) | (peak > 500))
        q = lambda v: "/".join(f"{x:.3g}" for x in np.quantile(v, [0.05, 0.5, 0.95]))  # noqa: E731
        pct = f"{np.mean(span <= obs_span):.0%} / {np.mean(rough <= obs_rough):.0%}"
        print(f"{scale:>10g}  {q(span):>24}  {q(rough):>22}  {pct:>14}  {absurd:>7.1%}")
    print("obs pct: share of prior draws at or below the observed range / roughness (near 0 or 1 = a misfit)")


if __name__ == "__main__":
    main()

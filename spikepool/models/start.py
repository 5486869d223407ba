"""Where NUTS starts and how finely it steps in a ``HierarchicalNegBinom`` fit: empirical-Bayes initial values and
the target acceptance of fits with non-centered neurons."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikepool.models.data import CountsData
from spikepool.models.responses import baseline_index
from spikepool.stats.empirical import fit_empirical_bayes

__all__ = ["MANY_RATES", "SPARSE_TARGET_ACCEPT", "negbin_initial_values", "sparse_target_accept"]

SPARSE_TARGET_ACCEPT = 0.99  # see sparse_target_accept
#: Pooled rates (neurons x conditions) from which tau is pinned and the default target_accept is kept.
MANY_RATES = 1000


def negbin_initial_values(spec: Any, data: CountsData, model) -> dict[str, np.ndarray]:
    """Starting values of a ``HierarchicalNegBinom`` (``spec``) fit of ``data`` from the closed-form
    empirical-Bayes fit (``fit_empirical_bayes``), for the free variables of ``model`` (its ``pm.Model``).

    Log rates start at the shrunk EB rates, ``mu`` and ``tau`` at the EB population, dispersion at
    the neurons' moment estimates (with ``baseline=``: the baseline's log rates, and the EB log ratios to
    them as responses); anything the EB fit cannot give (NaN) is left to PyMC.
    """
    eb = fit_empirical_bayes(data.counts, condition=spec.condition)
    log_rate = np.log(eb["rate"].values)
    mu = np.asarray(eb["mu"].values, dtype=float)
    fill = np.where(np.isfinite(mu), mu, np.nanmean(mu) if np.isfinite(mu).any() else 0.0)
    log_rate = np.where(np.isfinite(log_rate), log_rate, fill)
    response = {}
    if getattr(spec, "baseline", None):  # sparse responses: the log rates sampled are the baseline's
        b = baseline_index(data.cells, spec.baseline)
        ratio = np.clip(np.delete(log_rate, b, axis=1) - log_rate[:, b : b + 1], -3.0, 3.0)
        response = {
            "response_log_ratio": ratio,
            "sigma_response": float(np.clip(np.sqrt(np.mean(ratio**2)), 0.1, 2.0)),
            "respond_frac": np.full(ratio.shape[1], 0.5),
        }
        log_rate, fill = log_rate[:, b], fill[b]
    tau = float(np.clip(np.nanmean(eb["tau"].values), 0.05, 3.0)) if np.isfinite(eb["tau"].values).any() else 0.5
    log_alpha = np.clip(np.log(eb["alpha"].values), -3.0, 6.0)
    log_alpha = np.where(np.isfinite(log_alpha), log_alpha, spec.priors["log_alpha_loc"])
    centered = model.spikepool_centered
    target = np.broadcast_to(fill, log_rate.shape)
    extra = {}
    if data.sessions is not None:
        names, codes = data.sessions
        # session means of the EB log rates, and their spread around the population as tau_session
        means = np.stack([log_rate[codes == k].mean(axis=0) for k in range(names.size)])
        tau_s = float(np.clip(np.std(means - fill), 0.05, 2.0)) if names.size > 1 else 0.3
        cen_s = model.spikepool_sessions_centered
        extra = {
            "tau_session": tau_s,
            "mu_session_centered": means[cen_s],
            "mu_session_offset": ((means - fill) / tau_s)[~cen_s],
        }
        target = means[codes]
    candidates = {
        "mu": fill,
        "tau": tau,
        **extra,
        "log_rate": log_rate,
        "log_rate_centered": log_rate[centered],
        "log_rate_offset": (log_rate[~centered] - target[~centered]) / tau,
        "log_alpha": log_alpha if spec.dispersion == "neuron" else float(np.median(log_alpha)),
        "mu_a": float(np.median(log_alpha)),
        "tau_a": 0.5,
        "log_alpha_offset": np.clip((log_alpha - np.median(log_alpha)) / 0.5, -3, 3),
        **response,
    }
    out = {}
    for name, value in candidates.items():
        if name in model.named_vars and model[name] in model.free_RVs:
            value = np.asarray(value, dtype=float)
            if value.shape == tuple(model.initial_point()[_value_name(model, name)].shape) or value.ndim == 0:
                out[name] = value
    return out


def sparse_target_accept(
    pooling: str, centered: np.ndarray, sampler_kwargs: dict, n_rates: int | None = None
) -> float | None:
    """NUTS ``target_accept`` for this fit, set in ``sampler_kwargs`` where the caller gave none.

    Partial pooling with any non-centered neuron (data that do not pin the neuron's rate at the low end of
    what tau can be) samples at ``SPARSE_TARGET_ACCEPT``: there the posterior of tau spans a wide range on
    the log scale and no single step size fits all of it (``benchmarks/sbc_negbin.py``, 200 data sets of 12
    neurons: at 0.95, 10 fits diverged, 1-10 transitions each, in tau's upper tail next to a strongly
    over-dispersed neuron; at 0.99 none did). With ``n_rates`` (neurons x conditions pooled) of at least
    ``MANY_RATES`` the data pin tau (its posterior sd on the log scale is about ``1 / sqrt(2 n_rates)``, under
    0.03) and a few weakly informed neurons do not change that: the sampler's default is kept. At 0.99 the
    1,000-unit session of ``benchmarks/bench_scale.py`` (one non-centered unit of 1,000) took 127 gradient
    evaluations per draw instead of about 15. Returns the value used, ``None`` for the sampler's default.
    """
    given = sampler_kwargs.get("target_accept", sampler_kwargs.get("nuts", {}).get("target_accept"))
    if given is not None:
        return float(given)
    if pooling == "partial" and not np.all(centered) and (n_rates is None or n_rates < MANY_RATES):
        sampler_kwargs["target_accept"] = SPARSE_TARGET_ACCEPT
        return SPARSE_TARGET_ACCEPT
    return None


def _value_name(model, name: str) -> str:
    return model.rvs_to_values[model[name]].name

"""Building blocks shared by the PyMC models: scale priors and group effects in either parameterisation."""

from __future__ import annotations

import numpy as np

__all__ = ["half_prior", "nb_dispersion", "pooled_normal", "split_coords"]


def split_coords(dim: str, coords: np.ndarray, centered: np.ndarray) -> dict[str, np.ndarray]:
    """Model coords: ``dim``, plus ``<dim>_centered`` / ``<dim>_noncentered`` when the groups are split."""
    out = {dim: coords}
    if centered.any() and not centered.all():
        out[f"{dim}_centered"] = coords[centered]
        out[f"{dim}_noncentered"] = coords[~centered]
    return out


def half_prior(name: str, family: str, scale: float):
    """A scale parameter ``name ~ HalfCauchy(scale)`` or ``HalfNormal(scale)`` (inside a model)."""
    import pymc as pm

    if family == "halfcauchy":
        return pm.HalfCauchy(name, beta=scale)
    return pm.HalfNormal(name, sigma=scale)


def pooled_normal(name: str, mu, tau, centered: np.ndarray, dim: str):
    """Group effects ``name ~ Normal(mu, tau)`` over ``dim``, each group centered or not (inside a model).

    All centered: ``name`` is sampled. All non-centered: ``name_offset ~ Normal(0, 1)`` is sampled and
    ``name = mu + tau * name_offset`` is a Deterministic. Split: ``name_centered`` over ``<dim>_centered``
    and ``name_offset`` over ``<dim>_noncentered`` (coords from ``split_coords``), stacked back into
    ``name`` in the groups' order. Returns the tensor of ``name``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    cen, non = np.flatnonzero(centered), np.flatnonzero(~centered)
    if not non.size:
        return pm.Normal(name, mu, tau, dims=dim)
    if not cen.size:
        offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims=dim)
        return pm.Deterministic(name, mu + tau * offset, dims=dim)
    centered_part = pm.Normal(f"{name}_centered", mu, tau, dims=f"{dim}_centered")
    offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims=f"{dim}_noncentered")
    stacked = pt.concatenate([centered_part, mu + tau * offset])
    inverse = np.argsort(np.concatenate([cen, non]))
    return pm.Deterministic(name, stacked[inverse], dims=dim)


def nb_dispersion(dispersion: str, priors: dict, neuron: np.ndarray, mu):
    """The Negative Binomial's alpha at each observation (inside a model; ``Var = mu + mu**2 / alpha``).

    ``dispersion``: ``"neuron"`` (``log_alpha`` per neuron ~ Normal(log_alpha_loc, log_alpha_scale)),
    ``"pooled"`` (``log alpha_i = mu_a + tau_a z_i``, ``mu_a`` with that prior, ``tau_a ~
    HalfNormal(tau_alpha_scale)``), ``"shared"`` (one ``log_alpha``) or ``"fano"`` (``alpha = eta * mu``,
    ``log_eta ~ Normal(log_eta_loc, log_eta_scale)``: a rate-independent Fano factor ``1 + 1/eta``).
    ``neuron`` (obs,) indexes each observation's neuron (model coords ``neuron``); ``mu`` is its mean count.
    Adds the Deterministic ``alpha`` (or ``eta``) to the model.
    """
    import pymc as pm
    import pytensor.tensor as pt

    loc, scale = priors["log_alpha_loc"], priors["log_alpha_scale"]
    if dispersion == "neuron":
        log_alpha = pm.Normal("log_alpha", loc, scale, dims="neuron")
        return pm.Deterministic("alpha", pt.exp(log_alpha), dims="neuron")[neuron]
    if dispersion == "pooled":
        mu_a = pm.Normal("mu_a", loc, scale)
        tau_a = pm.HalfNormal("tau_a", priors["tau_alpha_scale"])
        z = pm.Normal("log_alpha_offset", 0.0, 1.0, dims="neuron")
        return pm.Deterministic("alpha", pt.exp(mu_a + tau_a * z), dims="neuron")[neuron]
    if dispersion == "shared":
        log_alpha = pm.Normal("log_alpha", loc, scale)
        return pm.Deterministic("alpha", pt.exp(log_alpha))
    log_eta = pm.Normal("log_eta", priors["log_eta_loc"], priors["log_eta_scale"])
    return pm.Deterministic("eta", pt.exp(log_eta)) * mu

"""Building blocks shared by the PyMC models: scale priors and group effects in either parameterisation."""

from __future__ import annotations

import numpy as np

from spikepool.exceptions import ArgumentError

__all__ = [
    "check_family_options",
    "com_dispersion",
    "half_prior",
    "nb_dispersion",
    "pooled_normal",
    "split_coords",
    "split_normal",
]


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


def split_normal(name: str, target, tau, centered: np.ndarray, tail: tuple = ()):
    """Groups ``~ Normal(target(idx), tau)`` over their first axis, each centered or not (inside a model).

    The centered groups are sampled as ``<name>_centered`` (shape (n_centered, *tail)), the others as
    ``<name>_offset ~ Normal(0, 1)`` with value ``target(idx) + tau * offset``; ``target(idx)`` gives the
    groups' means at the positions ``idx``. Returns the tensor of all groups in their original order (no
    named variable: the caller names it).
    """
    import pymc as pm
    import pytensor.tensor as pt

    cen, non = np.flatnonzero(centered), np.flatnonzero(~centered)
    parts, order = [], []
    if cen.size:
        parts.append(pm.Normal(f"{name}_centered", target(cen), tau, shape=(cen.size, *tail)))
        order.append(cen)
    if non.size:
        parts.append(target(non) + tau * pm.Normal(f"{name}_offset", 0.0, 1.0, shape=(non.size, *tail)))
        order.append(non)
    stacked = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
    return stacked[np.argsort(np.concatenate(order))]


def nb_dispersion(dispersion: str, priors: dict, neuron: np.ndarray | None, mu):
    """The Negative Binomial's alpha at each observation (inside a model; ``Var = mu + mu**2 / alpha``).

    ``dispersion``: ``"neuron"`` (``log_alpha`` per neuron ~ Normal(log_alpha_loc, log_alpha_scale)),
    ``"pooled"`` (``log alpha_i = mu_a + tau_a z_i``, ``mu_a`` with that prior, ``tau_a ~
    HalfNormal(tau_alpha_scale)``), ``"shared"`` (one ``log_alpha``) or ``"fano"`` (``alpha = eta * mu``,
    ``log_eta ~ Normal(log_eta_loc, log_eta_scale)``: a rate-independent Fano factor ``1 + 1/eta``).
    ``neuron`` (obs,) indexes each observation's neuron (model coords ``neuron``; None: alpha per neuron, or
    the shared scalar); ``mu`` is its mean count (``"fano"`` only).
    Adds the Deterministic ``alpha`` (or ``eta``) to the model.
    """
    import pymc as pm
    import pytensor.tensor as pt

    loc, scale = priors["log_alpha_loc"], priors["log_alpha_scale"]
    if dispersion == "neuron":
        log_alpha = pm.Normal("log_alpha", loc, scale, dims="neuron")
        alpha = pm.Deterministic("alpha", pt.exp(log_alpha), dims="neuron")
        return alpha if neuron is None else alpha[neuron]
    if dispersion == "pooled":
        mu_a = pm.Normal("mu_a", loc, scale)
        tau_a = pm.HalfNormal("tau_a", priors["tau_alpha_scale"])
        z = pm.Normal("log_alpha_offset", 0.0, 1.0, dims="neuron")
        alpha = pm.Deterministic("alpha", pt.exp(mu_a + tau_a * z), dims="neuron")
        return alpha if neuron is None else alpha[neuron]
    if dispersion == "shared":
        log_alpha = pm.Normal("log_alpha", loc, scale)
        return pm.Deterministic("alpha", pt.exp(log_alpha))
    log_eta = pm.Normal("log_eta", priors["log_eta_loc"], priors["log_eta_scale"])
    return pm.Deterministic("eta", pt.exp(log_eta)) * mu


def com_dispersion(dispersion: str, priors: dict):
    """COM-Poisson's ``nu`` (inside a model): a vector over the model's ``neuron`` coords, or a scalar.

    ``"neuron"``: ``log_nu`` per neuron ~ Normal(log_nu_loc, log_nu_scale); ``"pooled"``:
    ``log nu_i = mu_nu + tau_nu z_i`` (``mu_nu`` with that prior, ``tau_nu ~ HalfNormal(tau_nu_scale)``);
    ``"shared"``: one ``log_nu``. Adds the Deterministic ``nu``. ``nu = 1`` is the Poisson, ``nu > 1``
    counts more regular than Poisson.
    """
    import pymc as pm
    import pytensor.tensor as pt

    loc, scale = priors["log_nu_loc"], priors["log_nu_scale"]
    if dispersion == "neuron":
        return pm.Deterministic("nu", pt.exp(pm.Normal("log_nu", loc, scale, dims="neuron")), dims="neuron")
    if dispersion == "pooled":
        mu_nu = pm.Normal("mu_nu", loc, scale)
        tau_nu = pm.HalfNormal("tau_nu", priors["tau_nu_scale"])
        z = pm.Normal("log_nu_offset", 0.0, 1.0, dims="neuron")
        return pm.Deterministic("nu", pt.exp(mu_nu + tau_nu * z), dims="neuron")
    return pm.Deterministic("nu", pt.exp(pm.Normal("log_nu", loc, scale)))


def check_family_options(likelihood: str, dispersion: str, sampler: str) -> None:
    """Refuse model options the family cannot take (before anything is built).

    COM-Poisson has no rate-independent Fano form (``dispersion="fano"`` is the NB's ``alpha = eta mu``)
    and no JAX graph (its normalising series runs in a numba kernel), so ``sampler="numpyro"`` is refused.
    """
    if likelihood != "com_poisson":
        return
    if dispersion == "fano":
        raise ArgumentError(
            "dispersion must be 'neuron', 'pooled' or 'shared' with likelihood='com_poisson'; got 'fano' (the "
            "Negative Binomial's alpha = eta * mu). Hint: dispersion='shared' gives one nu for all neurons."
        )
    if sampler == "numpyro":
        raise ArgumentError(
            "sampler must be 'auto', 'pymc' or 'nutpie' with likelihood='com_poisson'; got 'numpyro' (its "
            "normalising series has no JAX version). Hint: sampler='auto'."
        )

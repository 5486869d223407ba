"""Sparse responses to a baseline: a point mass at "no change" in ``HierarchicalNegBinom(baseline=...)``.

The default count model puts a continuous prior on every neuron's condition effects, so it never believes a
ratio to the baseline is exactly 1, and where some units do not respond at all its posterior probabilities of
a response are optimistic (``benchmarks/fdr_responsive.py``). With ``baseline=b`` the rates are instead::

    mu             ~ Normal(mu_loc, mu_scale)         population mean log rate in the baseline
    tau            ~ HalfNormal(tau_scale)            between-neuron sd of baseline log rates
    log r_ib       ~ Normal(mu, tau)                  partial pooling (centered or not per neuron)
    respond_frac_c ~ Beta(1, 1)                       share of neurons responding to condition c
    sigma_response ~ HalfNormal(response_scale)       size of responses (sd of the log ratio)
    response_log_ratio_ic ~ Normal(0, sigma_response)  log(r_ic / r_ib) if neuron i responds to c
    s_ic           ~ Bernoulli(respond_frac_c)        whether it does (a spike-and-slab prior)
    log r_ic       = log r_ib + s_ic * response_log_ratio_ic

The indicator ``s_ic`` is summed out of the likelihood of each (neuron, condition) cell, all its trials
together (``logaddexp(log pi + L1, log(1 - pi) + L0)``), so NUTS samples only continuous parameters. After
sampling, ``respond_prob`` (the probability of ``s_ic = 1`` given each draw's parameters and the data, a
Deterministic) gives one draw of ``s_ic`` per posterior draw (``draw_responses``), and ``log_rate`` is then
computed exactly as above: every result table (rates, contrasts, ``responsive``, Fano, PPC, LOO) reads the
rates of this joint posterior, in which an unchanged cell's ratio is exactly 1 in a share of the draws (the
posterior probability that it does not respond). The pointwise log-likelihood that LOO uses is conditional on
the drawn indicators.
"""

from __future__ import annotations

import copy

import numpy as np
import xarray as xr

from spikepool.models.components import half_prior, nb_dispersion, split_normal
from spikepool.models.likelihoods import family_logp
from spikepool.stats.cells import Cells
from spikepool.stats.families import Family

__all__ = ["baseline_index", "draw_responses", "response_model"]


def baseline_index(cells: Cells, baseline: str) -> int:
    """The position of the condition ``baseline`` among ``cells.condition_names`` (checked by ``prepare``)."""
    return [str(c) for c in cells.condition_names].index(baseline)


def response_model(
    cells: Cells,
    n_neuron: int,
    baseline: int,
    centered: np.ndarray,
    priors: dict,
    mu_loc: float,
    family: Family,
    dispersion: str,
) -> None:
    """Add the sparse-response rates and likelihood to the current ``pm.Model`` (see the module docstring).

    The model has coords ``neuron`` and ``response`` (the conditions other than ``baseline``, the index of
    the baseline among ``cells.condition_names``). Adds ``mu``, ``tau``, ``log_rate_baseline`` (neuron),
    ``respond_frac`` (response), ``sigma_response``, ``response_log_ratio`` (neuron, response), the Potential
    ``loglik`` and the Deterministic ``respond_prob`` (neuron, response).
    """
    import pymc as pm
    import pytensor.tensor as pt

    p = priors
    n_cond = cells.condition_names.size
    mu = pm.Normal("mu", mu_loc, p["mu_scale"])
    tau = half_prior("tau", p["tau"], p["tau_scale"])
    stacked = split_normal("log_rate", lambda idx: mu, tau, centered)
    base = pm.Deterministic("log_rate_baseline", stacked, dims="neuron")
    frac = pm.Beta("respond_frac", 1.0, 1.0, dims="response")
    sigma = pm.HalfNormal("sigma_response", p["response_scale"])
    response = pm.Normal("response_log_ratio", 0.0, sigma, dims=("neuron", "response"))

    alpha = nb_dispersion(dispersion, p, cells.neuron, None) if family.dispersion_names else None
    log_mu0 = base[cells.neuron] + np.log(cells.duration)
    lp0 = cells.weight * family_logp(family, cells.y, pt.exp(log_mu0), alpha)
    tested = np.flatnonzero(cells.condition != baseline)
    column = cells.condition[tested] - (cells.condition[tested] > baseline)  # index among the responses
    alpha1 = alpha[tested] if alpha is not None and alpha.ndim == 1 else alpha
    mu1 = pt.exp(log_mu0[tested] + response[cells.neuron[tested], column])
    lp1 = cells.weight[tested] * family_logp(family, cells.y[tested], mu1, alpha1)
    # per (neuron, response) cell: the log-likelihood of all its trials without and with the response
    group = cells.neuron[tested] * (n_cond - 1) + column
    size = n_neuron * (n_cond - 1)
    like0 = pt.inc_subtensor(pt.zeros(size)[group], lp0[tested]).reshape((n_neuron, n_cond - 1))
    like1 = pt.inc_subtensor(pt.zeros(size)[group], lp1).reshape((n_neuron, n_cond - 1))
    log_pi, log_not = pt.log(frac)[None, :], pt.log1p(-frac)[None, :]
    in_baseline = lp0[np.flatnonzero(cells.condition == baseline)].sum()
    pm.Potential("loglik", in_baseline + pt.logaddexp(log_pi + like1, log_not + like0).sum())
    pm.Deterministic("respond_prob", pt.sigmoid(log_pi + like1 - log_not - like0), dims=("neuron", "response"))


def draw_responses(post: xr.Dataset, conditions: np.ndarray, baseline: int, random_seed) -> xr.Dataset:
    """``post`` with one draw of the response indicators and the log rates they give.

    Parameters
    ----------
    post : xarray.Dataset
        Posterior of a ``baseline=`` fit: ``log_rate_baseline`` (chain, draw, neuron), ``response_log_ratio`` and
        ``respond_prob`` (chain, draw, neuron, response).
    conditions : numpy.ndarray
        The fitted condition names.
    baseline : int
        The baseline's index among ``conditions``: its column of ``log_rate`` is ``log_rate_baseline``.
    random_seed : int, numpy.random.Generator or None
        Seed of the indicator draws (the fit's ``random_seed``; a Generator is copied, not advanced), so a
        seeded fit is repeatable.

    Returns
    -------
    xarray.Dataset
        ``post`` plus ``responds`` (chain, draw, neuron, response; int8, 1 where the neuron responds in that
        draw, drawn from ``respond_prob``) and ``log_rate`` (chain, draw, neuron, condition).
    """
    if isinstance(random_seed, np.random.Generator):  # a copy: the caller's generator is not advanced
        seed = int(copy.deepcopy(random_seed).integers(2**63))
    else:
        seed = random_seed
    rng = np.random.default_rng(None if seed is None else [int(seed), 8713])
    prob = post["respond_prob"].transpose("chain", "draw", "neuron", "response")
    responds = (rng.random(prob.shape) < prob.values).astype(np.int8)
    base = post["log_rate_baseline"].transpose("chain", "draw", "neuron").values
    tested = base[..., None] + responds * post["response_log_ratio"].transpose(*prob.dims).values
    log_rate = np.insert(tested, baseline, base, axis=-1)
    out = post.copy()
    out["responds"] = (prob.dims, responds)
    dims = ("chain", "draw", "neuron", "condition")
    out["log_rate"] = xr.DataArray(log_rate, dims=dims, coords={"condition": np.asarray(conditions)})
    return out

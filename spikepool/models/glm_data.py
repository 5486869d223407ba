"""Counts prepared once for a ``HierarchicalGLM`` fit, and the formula model's priors.

Priors (``GLM_PRIORS``; rates in Hz on the log scale, each scaled to its covariate so that a default is
weakly informative whatever the covariate's units):

======================  ============  ===========================================================================
key                     default       meaning
======================  ============  ===========================================================================
``intercept_loc``       ``None``      mean of the Normal prior of the intercept (or of each level mean of a
                                      categorical term coded without one); ``None``: the log of the data's
                                      pooled rate
``intercept_scale``     1.5           its sd (a factor e^3 ~ 20 either way at 95%)
``slope_scale``         0.5           a numeric column x: coefficient ~ Normal(0, slope_scale / sd(x)): one sd
                                      of x changes the rate by a factor e^0.5 = 1.6 at one prior sd
``contrast_scale``      1.0           a 0/1 column (a category's contrast): coefficient ~ Normal(0, 1)
``sd``                  "halfnormal"  family of the prior of each random effect's SD ("halfnormal", "halfcauchy")
``sd_scale``            1.0           its scale for intercepts and 0/1 columns (the window model's ``tau``)
``slope_sd_scale``      0.5           and for a numeric column x: slope_sd_scale / sd(x)
``lkj_eta``             2.0           LKJ shape of the correlations of a grouping's effects (1: uniform;
                                      2: mild pull toward 0)
``loading_scale``       0.5           shared factors: each factor's loading sd across neurons ~
                                      HalfNormal(loading_scale) (a neuron's log gain sd is its loading)
``log_alpha_loc``, ...  as in         the count family's dispersion (``spikepool.models.priors``)
                        ``priors``
======================  ============  ===========================================================================

By name: ``priors={"coef": {"block_trial": 0.1}}`` gives a fixed column Normal(0, 0.1) (or a ``(loc, sd)``
pair), ``priors={"group_sd": {"neuron": 0.5}}`` a grouping's SD scale (numeric effects divided by sd(x) as
above); the names are checked against the formula's columns and groupings when the counts are prepared. The
default's prior predictive rates are checked in ``benchmarks/prior_predictive_glm.py``: on the locust
adaptation design and a simulated one with three covariates, most of the rates the defaults predict over the
observed covariates lie in 0.01-500 Hz, 92% and 96% (the wider ``intercept_scale=2``, ``slope_scale=1``,
``contrast_scale=2``, ``slope_sd_scale=1`` gave 79-84%, with 5% above 3,000 Hz).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.checks.design import numeric_columns
from spikepool.counts.design import Design, dispersion_units, formula_design
from spikepool.counts.schema import validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.models.glm_parts import Sweep, swept_grouping
from spikepool.models.options import resolve_priors
from spikepool.models.priors import DEFAULT_PRIORS
from spikepool.stats.glm import ObsGroups, choose_centered_levels, design_groups, fixed_start

__all__ = ["GLM_PRIORS", "GLMData", "glm_priors", "prepare_glm", "shared_directions"]

_DISPERSION_KEYS = ("log_alpha_loc", "log_alpha_scale", "tau_alpha_scale", "log_nu_loc", "log_nu_scale", "tau_nu_scale")
GLM_PRIORS: dict[str, Any] = {
    "intercept_loc": None,
    "intercept_scale": 1.5,
    "slope_scale": 0.5,
    "contrast_scale": 1.0,
    "sd": "halfnormal",
    "sd_scale": 1.0,
    "slope_sd_scale": 0.5,
    "lkj_eta": 2.0,
    "loading_scale": 0.5,
    **{k: DEFAULT_PRIORS[k] for k in _DISPERSION_KEYS},
    "coef": {},
    "group_sd": {},
}


def glm_priors(priors: Mapping[str, Any] | None) -> dict[str, Any]:
    """``GLM_PRIORS`` updated with ``priors`` (checked; the names inside ``coef`` and ``group_sd`` are checked once
    the formula's columns are known, in ``prepare_glm``)."""
    if priors is not None and not isinstance(priors, Mapping):
        raise ArgumentTypeError(f"priors must be a dict; got {type(priors).__name__}.")
    given = dict(priors or {})
    finite = ("log_alpha_loc", "log_nu_loc") + (("intercept_loc",) if given.get("intercept_loc") is not None else ())
    resolved = resolve_priors(
        GLM_PRIORS,
        given,
        families={"sd": ("halfnormal", "halfcauchy")},
        positive=tuple(k for k in GLM_PRIORS if k.endswith("_scale")) + ("lkj_eta",),
        finite=finite,
    )
    for key in ("coef", "group_sd"):
        if not isinstance(resolved[key], Mapping):
            raise ArgumentTypeError(f"priors[{key!r}] must be a dict of names to values; got {resolved[key]!r}.")
        resolved[key] = {str(k): list(v) if isinstance(v, tuple) else v for k, v in resolved[key].items()}
    return resolved


@dataclass(frozen=True)
class GLMData:
    """Validated counts, their design and what every step of a fit derives from them.

    Attributes
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) after ``validate_counts``.
    design : Design
        The formula's design over the valid (neuron, trial) pairs.
    unit : numpy.ndarray
        int (obs,): each observation's dispersion unit.
    unit_dims : tuple of str
        Dims of the dispersion (``("neuron",)``, ``("neuron", by)``, ``(by,)`` or ``()``).
    unit_coords : dict
        Coords of those dims.
    obs : ObsGroups
        The observations grouped for the likelihood.
    centered : tuple of numpy.ndarray
        Per grouping, int (level,): how many leading effects each level takes in the centered form.
    beta_loc, beta_scale : numpy.ndarray
        (coef,): the Normal prior of each fixed column.
    sd_scale : tuple of numpy.ndarray
        Per grouping, (effect,): the scale of each effect's SD prior.
    beta_start : numpy.ndarray
        (coef,): pooled Poisson estimates (starting values).
    shared : int
        The number of shared factors (0: none).
    directions, score_directions : numpy.ndarray
        (neuron, shared) and (trial, shared): the orthonormal directions that identify the factors, and the
        unit zero-sum directions their scores are sampled near (``shared_directions``).
    sweep : Sweep or None
        The crossed grouping whose projection on the fixed part is sampled in the coefficients
        (``spikepool.models.glm_parts.swept_grouping``).
    loading_centered : tuple of bool
        Per factor, whether its loadings are sampled centered: most neurons' loadings are pinned by their data
        (``informative_loadings``) and the factor stands out of the residuals' noise (``shared_directions``).
    """

    counts: xr.DataArray
    design: Design
    unit: np.ndarray
    unit_dims: tuple[str, ...]
    unit_coords: dict
    obs: ObsGroups
    centered: tuple[np.ndarray, ...]
    beta_loc: np.ndarray
    beta_scale: np.ndarray
    sd_scale: tuple[np.ndarray, ...]
    beta_start: np.ndarray
    shared: int = 0
    directions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    score_directions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    loading_centered: tuple[bool, ...] = ()
    sweep: Sweep | None = None


def _fixed_priors(design: Design, priors: dict, mu_loc: float) -> tuple[np.ndarray, np.ndarray]:
    X = design.X
    numeric = numeric_columns(X)
    sd = X.std(axis=0)
    loc = np.zeros(X.shape[1])
    scale = np.where(numeric, priors["slope_scale"] / np.where(sd > 0, sd, 1.0), priors["contrast_scale"])
    loc[design.intercept_like] = mu_loc
    scale[design.intercept_like] = priors["intercept_scale"]
    for j, name in enumerate(design.coefs):
        if name in priors["coef"]:
            loc[j], scale[j] = _normal_override(name, priors["coef"][name])
    return loc, scale


def _normal_override(name: str, value) -> tuple[float, float]:
    pair = value if isinstance(value, tuple | list) else (0.0, value)
    ok = len(pair) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    if not ok or not np.isfinite(pair[0]) or not (np.isfinite(pair[1]) and pair[1] > 0):
        raise ArgumentError(f"priors['coef'][{name!r}] must be a positive sd or a (loc, sd) pair; got {value!r}.")
    return float(pair[0]), float(pair[1])


def _sd_scales(design: Design, priors: dict) -> tuple[np.ndarray, ...]:
    out = []
    for g in design.groups:
        numeric = numeric_columns(g.Z)
        sd = g.Z.std(axis=0)
        scale = np.where(numeric, priors["slope_sd_scale"] / np.where(sd > 0, sd, 1.0), priors["sd_scale"])
        key = g.name if g.name in priors["group_sd"] else g.key
        if key in priors["group_sd"]:
            value = priors["group_sd"][key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not (np.isfinite(value) and value > 0):
                raise ArgumentError(f"priors['group_sd'][{key!r}] must be a positive number; got {value!r}.")
            scale = np.where(numeric, value / np.where(sd > 0, sd, 1.0), float(value))
        out.append(scale)
    return tuple(out)


def prepare_glm(
    counts: xr.DataArray,
    *,
    formula: str,
    dispersion: str,
    dispersion_by: str | None,
    priors: dict,
    correlated: bool,
    parameterization: str,
    shared: int = 0,
) -> GLMData:
    """Validate ``counts`` once and derive the design, dispersion units, likelihood groups and priors."""
    counts = validate_counts(counts)
    design = formula_design(counts, formula, correlated=correlated)
    for key, names in (("coef", list(design.coefs)), ("group_sd", [g.name for g in design.groups])):
        unknown = sorted(set(priors[key]) - set(names) - {g.key for g in design.groups})
        if unknown:
            raise ArgumentError(
                f"priors[{key!r}] must name {'fixed columns' if key == 'coef' else 'groupings'} of the formula "
                f"({names}); got {unknown[0]!r}.{did_you_mean(unknown[0], names)}"
            )
    unit, unit_dims, unit_coords = dispersion_units(counts, design, dispersion, dispersion_by)
    obs = design_groups(design, unit, shared)
    spikes, exposure = float(design.y.sum()), float(design.duration.sum())
    mu_loc = priors["intercept_loc"]
    if mu_loc is None:
        mu_loc = float(np.log(max(spikes, 0.5) / max(exposure, 1e-12)))
    beta_loc, beta_scale = _fixed_priors(design, priors, mu_loc)
    beta_start = fixed_start(design.X, design.y, design.duration) if design.n_obs else beta_loc.copy()
    if not np.all(np.isfinite(beta_start)):
        beta_start = beta_loc.copy()
    offset = design.X @ beta_start + np.log(design.duration)
    centered = []
    for g in design.groups:
        if parameterization == "auto":
            centered.append(choose_centered_levels(design.y, offset, g.level, g.Z, g.n_levels))
        else:
            centered.append(np.full(g.n_levels, len(g.effects) if parameterization == "centered" else 0))
    directions, score_directions, signal = shared_directions(
        design, counts.sizes["neuron"], shared, counts.sizes["trial"]
    )
    informative = informative_loadings(design, counts.sizes["neuron"]) if shared else np.zeros(0, dtype=bool)
    return GLMData(
        counts=counts,
        design=design,
        unit=unit,
        unit_dims=unit_dims,
        unit_coords=unit_coords,
        obs=obs,
        centered=tuple(centered),
        beta_loc=beta_loc,
        beta_scale=beta_scale,
        sd_scale=_sd_scales(design, priors),
        beta_start=beta_start,
        shared=shared,
        directions=directions,
        score_directions=score_directions,
        loading_centered=tuple(bool(2 * np.count_nonzero(informative) >= informative.size and s) for s in signal),
        sweep=swept_grouping(design),
    )


#: How far above the noise's largest singular value a factor's must be for its loadings to be drawn centered.
SIGNAL_EDGE = 1.1


def shared_directions(
    design: Design, n_neurons: int, shared: int, n_trials: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``shared`` directions of the neurons' shared trial-to-trial variation: (neuron, shared),
    orthonormal, the leading left singular vectors of the Pearson residuals (count minus its neuron's mean in its
    cell of the fixed part, over the square root of that mean; 0 where a count is invalid); (trial, shared), unit
    vectors, the matching right singular vectors made to sum to zero over the trials (the factor scores are
    sampled as directions near these, ``spikepool.models.glm_factors.stiefel_points``); and bool (shared,):
    whether each factor stands out of the noise: the singular value of the residuals standardized per neuron
    above ``SIGNAL_EDGE`` times ``sqrt(neuron) + sqrt(trial)``, the largest singular value of a matrix of
    independent unit-variance noise (a factor below it is drawn non-centered: the data may not hold it at all).

    Factor j's loadings are constrained orthogonal to directions 1..j-1: this fixes the rotation among the
    factors, which leaves the likelihood unchanged, and every neuron's loading pins it (a constraint on one
    anchor neuron's loading leaves the rotation as uncertain as that neuron's loading, and all the loadings and
    scores turn together with it: a direction along which NUTS needs several times the steps). Each factor's
    sign is fixed per draw after sampling so that its loadings point along its direction
    (``spikepool.results.glm_shared.align_factor_signs``).
    """
    if n_trials is None:
        n_trials = int(design.obs_trial.max()) + 1 if design.n_obs else 1
    if shared == 0:
        return np.zeros((n_neurons, 0)), np.zeros((n_trials, 0)), np.zeros(0, dtype=bool)
    _, cell = np.unique(np.column_stack([design.obs_neuron, design.X]), axis=0, return_inverse=True)
    cell = cell.ravel()
    rate = design.y / design.duration
    mean = np.bincount(cell, weights=rate) / np.bincount(cell)
    expected = np.maximum(mean[cell] * design.duration, 1e-3)
    residual = np.zeros((n_neurons, n_trials))
    residual[design.obs_neuron, design.obs_trial] = (design.y - expected) / np.sqrt(expected)
    u, _, vt = np.linalg.svd(residual, full_matrices=False)
    valid = np.zeros((n_neurons, n_trials), dtype=bool)
    valid[design.obs_neuron, design.obs_trial] = True
    n_valid = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    centred = np.where(valid, residual - residual.sum(axis=1, keepdims=True) / n_valid, 0.0)
    sd = np.sqrt((centred**2).sum(axis=1, keepdims=True) / n_valid)
    singular = np.linalg.svd(centred / np.where(sd > 0, sd, 1.0), compute_uv=False)
    signal = singular[:shared] > SIGNAL_EDGE * (np.sqrt(n_neurons) + np.sqrt(n_trials))
    sign = np.where(u[:, :shared].sum(axis=0) < 0, -1.0, 1.0)  # mostly positive: a common gain reads as one
    v = vt[:shared].T * sign
    v = v - v.mean(axis=0)
    norm = np.linalg.norm(v, axis=0)
    fallback = np.zeros(n_trials)
    fallback[:2] = [np.sqrt(0.5), -np.sqrt(0.5)]  # any zero-sum unit vector where the residuals have none
    v = np.where(norm > 1e-9, v / np.where(norm > 1e-9, norm, 1.0), fallback[:, None])
    return u[:, :shared] * sign, v, signal


#: The loading sd against which a neuron's loading counts as informative (half the default prior scale).
TYPICAL_LOADING = 0.25


def informative_loadings(design: Design, n_neurons: int) -> np.ndarray:
    """bool (neuron,): the neurons whose loadings the data pin. Where most do, a factor's loadings are drawn
    centered (``w ~ N(0, sd_loading)``), otherwise non-centered (``w = sd_loading z``), which avoids the funnel
    where the data say little.

    A loading on a unit-variance factor has sampling sd about ``1 / sqrt(sum_t m / (1 + m / alpha))`` over the
    neuron's valid trials (m its mean count, alpha its moment estimate); informative when that is below
    ``TYPICAL_LOADING``.
    """
    n = np.bincount(design.obs_neuron, minlength=n_neurons).astype(np.float64)
    total = np.bincount(design.obs_neuron, weights=design.y, minlength=n_neurons)
    squares = np.bincount(design.obs_neuron, weights=design.y.astype(np.float64) ** 2, minlength=n_neurons)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = total / n
        excess = squares / n - m**2 - m  # moment estimate of m^2 / alpha
        per_trial = np.where(excess > 0, m / (1.0 + excess / np.where(m > 0, m, 1.0)), m)
        se = 1.0 / np.sqrt(n * per_trial)
    return np.nan_to_num(se, nan=np.inf, posinf=np.inf) < TYPICAL_LOADING

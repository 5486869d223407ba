"""Counts prepared once for a ``HierarchicalGLM`` fit, and the formula model's priors.

Priors (``GLM_PRIORS``; rates in Hz on the log scale, each scaled to its covariate so that a default is
weakly informative whatever the covariate's units):

======================  ============  ===========================================================================
key                     default       meaning
======================  ============  ===========================================================================
``intercept_loc``       ``None``      mean of the Normal prior of the intercept (or of each level mean of a
                                      categorical term coded without one); ``None``: the log of the data's
                                      pooled rate
``intercept_scale``     2.0           its sd (a factor e^4 ~ 55 either way at 95%)
``slope_scale``         1.0           a numeric column x: coefficient ~ Normal(0, slope_scale / sd(x)): one sd
                                      of x changes the rate by a factor e at one prior sd
``contrast_scale``      2.0           a 0/1 column (a category's contrast): coefficient ~ Normal(0, 2)
``sd``                  "halfnormal"  family of the prior of each random effect's SD ("halfnormal", "halfcauchy")
``sd_scale``            1.0           its scale for intercepts and 0/1 columns; sd_scale / sd(x) for numeric
``lkj_eta``             2.0           LKJ shape of the correlations of a grouping's effects (1: uniform;
                                      2: mild pull toward 0)
``log_alpha_loc``, ...  as in         the count family's dispersion (``spikepool.models.priors``)
                        ``priors``
======================  ============  ===========================================================================

By name, ``priors`` also takes a fixed column's prior (``{"block_trial": 0.1}``: Normal(0, 0.1), or a
``(loc, sd)`` pair) and a grouping's SD scale (``{"sd_neuron": 0.5}``). The default's prior predictive
rates are checked in ``benchmarks/prior_predictive_glm.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.checks.design import numeric_columns
from spikepool.counts.design import Design, dispersion_units, formula_design
from spikepool.counts.schema import validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.models.options import resolve_priors
from spikepool.models.priors import DEFAULT_PRIORS
from spikepool.stats.glm import ObsGroups, choose_centered_levels, fixed_start, group_observations

__all__ = ["GLM_PRIORS", "GLMData", "glm_priors", "prepare_glm"]

_DISPERSION_KEYS = ("log_alpha_loc", "log_alpha_scale", "tau_alpha_scale", "log_nu_loc", "log_nu_scale", "tau_nu_scale")
GLM_PRIORS: dict[str, Any] = {
    "intercept_loc": None,
    "intercept_scale": 2.0,
    "slope_scale": 1.0,
    "contrast_scale": 2.0,
    "sd": "halfnormal",
    "sd_scale": 1.0,
    "lkj_eta": 2.0,
    **{k: DEFAULT_PRIORS[k] for k in _DISPERSION_KEYS},
}


def glm_priors(priors: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``GLM_PRIORS`` updated with the known keys of ``priors`` (checked), and the by-name overrides (checked
    once the formula's names are known, in ``prepare_glm``)."""
    if priors is not None and not isinstance(priors, Mapping):
        raise ArgumentTypeError(f"priors must be a dict; got {type(priors).__name__}.")
    known = {k: v for k, v in (priors or {}).items() if k in GLM_PRIORS}
    named = {k: v for k, v in (priors or {}).items() if k not in GLM_PRIORS}
    finite = ("log_alpha_loc", "log_nu_loc") + (("intercept_loc",) if known.get("intercept_loc") is not None else ())
    resolved = resolve_priors(
        GLM_PRIORS,
        known,
        families={"sd": ("halfnormal", "halfcauchy")},
        positive=tuple(k for k in GLM_PRIORS if k.endswith("_scale")) + ("lkj_eta",),
        finite=finite,
    )
    return resolved, named


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
        Per grouping, boolean (level,): which levels are sampled centered.
    beta_loc, beta_scale : numpy.ndarray
        (coef,): the Normal prior of each fixed column.
    sd_scale : tuple of numpy.ndarray
        Per grouping, (effect,): the scale of each effect's SD prior.
    beta_start : numpy.ndarray
        (coef,): pooled Poisson estimates (starting values).
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


def _fixed_priors(design: Design, priors: dict, named: dict, mu_loc: float) -> tuple[np.ndarray, np.ndarray]:
    X = design.X
    numeric = numeric_columns(X)
    sd = X.std(axis=0)
    loc = np.zeros(X.shape[1])
    scale = np.where(numeric, priors["slope_scale"] / np.where(sd > 0, sd, 1.0), priors["contrast_scale"])
    loc[design.intercept_like] = mu_loc
    scale[design.intercept_like] = priors["intercept_scale"]
    for j, name in enumerate(design.coefs):
        if name in named:
            loc[j], scale[j] = _normal_override(name, named[name])
    return loc, scale


def _normal_override(name: str, value) -> tuple[float, float]:
    pair = value if isinstance(value, tuple | list) else (0.0, value)
    ok = len(pair) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    if not ok or not np.isfinite(pair[0]) or not (np.isfinite(pair[1]) and pair[1] > 0):
        raise ArgumentError(f"priors[{name!r}] must be a positive sd or a (loc, sd) pair; got {value!r}.")
    return float(pair[0]), float(pair[1])


def _sd_scales(design: Design, priors: dict, named: dict) -> tuple[np.ndarray, ...]:
    out = []
    for g in design.groups:
        numeric = numeric_columns(g.Z)
        sd = g.Z.std(axis=0)
        scale = np.where(numeric, priors["sd_scale"] / np.where(sd > 0, sd, 1.0), priors["sd_scale"])
        key = f"sd_{g.key}"
        if key in named:
            value = named[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not (np.isfinite(value) and value > 0):
                raise ArgumentError(f"priors[{key!r}] must be a positive number; got {value!r}.")
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
    named: dict,
    correlated: bool,
    parameterization: str,
) -> GLMData:
    """Validate ``counts`` once and derive the design, dispersion units, likelihood groups and priors."""
    counts = validate_counts(counts)
    design = formula_design(counts, formula, correlated=correlated)
    names = set(design.coefs) | {f"sd_{g.key}" for g in design.groups}
    unknown = sorted(set(named) - names)
    if unknown:
        choices = sorted(names | set(GLM_PRIORS))
        raise ArgumentError(
            f"priors keys must be among {choices} (defaults, fixed columns, sd_<grouping>); got {unknown[0]!r}."
            f"{did_you_mean(unknown[0], choices)}"
        )
    unit, unit_dims, unit_coords = dispersion_units(counts, design, dispersion, dispersion_by)
    obs = group_observations(
        design.y, unit, design.X, [g.level for g in design.groups], [g.Z for g in design.groups], design.duration
    )
    spikes, exposure = float(design.y.sum()), float(design.duration.sum())
    mu_loc = priors["intercept_loc"]
    if mu_loc is None:
        mu_loc = float(np.log(max(spikes, 0.5) / max(exposure, 1e-12)))
    beta_loc, beta_scale = _fixed_priors(design, priors, named, mu_loc)
    beta_start = fixed_start(design.X, design.y, design.duration) if design.n_obs else beta_loc.copy()
    if not np.all(np.isfinite(beta_start)):
        beta_start = beta_loc.copy()
    offset = design.X @ beta_start + np.log(design.duration)
    centered = []
    for g in design.groups:
        if parameterization == "auto":
            centered.append(choose_centered_levels(design.y, offset, g.level, g.Z, g.n_levels))
        else:
            centered.append(np.full(g.n_levels, parameterization == "centered"))
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
        sd_scale=_sd_scales(design, priors, named),
        beta_start=beta_start,
    )

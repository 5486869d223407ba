"""Rates of a fitted formula model at chosen covariate values, and von Mises tuning curves.

``linear_predictor`` evaluates ``log r = x' beta + sum_g z_g' b_g[level]`` for every posterior draw at rows of
new covariate values (``spikepool.counts.design.new_rows`` keeps the fitted transforms: ``scale()``, splines,
category codes). ``predict_rates`` lays the rows out on a grid of the covariates given (one dim per array) for
every neuron, with the neuron's own coordinates and effects, and for the population (every grouping's effect
at 0: the rate of a typical neuron, the median of the population's log rates). ``tuning`` reads a cos/sin pair
of a circular covariate on the log link, ``b0 + b1 cos(theta) + b2 sin(theta) = b0 + depth cos(theta - pref)``:
a von Mises curve with preferred direction ``atan2(b2, b1)`` and depth ``sqrt(b1**2 + b2**2)``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr

from spikepool._validate import check_ci_prob, did_you_mean
from spikepool.counts.design import Design, new_rows
from spikepool.exceptions import ArgumentError
from spikepool.stats.intervals import draw_summary

#: The value of a grouping-only variable in new rows: a level no fit has seen (its effect is 0).
UNSEEN = "\x00unseen"

__all__ = [
    "circular_summary",
    "linear_predictor",
    "predict_rates",
    "tuning_columns",
    "tuning_table",
    "typical_values",
]


def flat_draws(post: xr.Dataset, name: str, *dims: str, index: np.ndarray | None = None) -> np.ndarray:
    """Flattened draws (sample, ...) of a posterior variable, its other dims in the order ``dims`` (as stored
    when none are given); only the samples ``index`` when given."""
    values = post[name].transpose("chain", "draw", *(dims or (...,))).values
    values = values.reshape(-1, *values.shape[2:])
    return values if index is None else values[index]


def linear_predictor(post: xr.Dataset, design: Design, frame: pd.DataFrame, population: bool = False) -> np.ndarray:
    """Log rates (sample, row) at the rows of ``frame`` (every variable of the design given).

    ``population``: every grouping's effect at 0. A level the fit never saw has effect 0 (the population's).
    """
    X, groups = new_rows(design, frame)
    eta = flat_draws(post, "beta") @ X.T
    if population:
        return eta
    for g, (level, Z) in zip(design.groups, groups, strict=True):
        b = flat_draws(post, f"b_{g.key}")  # (sample, level, effect)
        seen = level >= 0
        if seen.any():
            eta[:, seen] += np.einsum("slk,lk->sl", b[:, level[seen], :], Z[seen])
    return eta


def _required(design: Design) -> tuple[set[str], set[str]]:
    """Variables of the fixed terms and slopes, and those that only name groupings."""
    m = design.matrices
    fixed = set().union(*(t.var_names for t in m.common.terms.values())) if m.common is not None else set()
    factors: set[str] = set()
    if m.group is not None:
        for t in m.group.terms.values():
            fixed |= set(t.expr.var_names)
            factors |= set(t.factor.var_names)
    return {v for v in fixed if v}, {v for v in factors if v} - fixed


def _neuron_columns(counts: xr.DataArray) -> dict[str, np.ndarray]:
    out = {"neuron": counts["neuron"].values.astype(str)}
    for name, coord in counts.coords.items():
        if coord.dims == ("neuron",) and name != "neuron":
            out[str(name)] = coord.values
    return out


def _grid(covariates: dict) -> tuple[dict[str, np.ndarray], list[str]]:
    values, dims = {}, []
    for name, value in covariates.items():
        arr = np.asarray(value)
        if arr.ndim > 1:
            raise ArgumentError(f"{name} must be a value or a 1-D array of values; got an array of shape {arr.shape}.")
        values[name] = arr
        if arr.ndim == 1:
            dims.append(name)
    return values, dims


def predict_rates(
    post: xr.Dataset, design: Design, counts: xr.DataArray, ci_prob: float, covariates: dict
) -> xr.Dataset:
    """Rates in Hz per neuron and for the population on the grid of ``covariates`` (see the module docstring).

    Returns a Dataset with ``mean``, ``lower``, ``upper`` (neuron, *grid) and ``population_mean``,
    ``population_lower``, ``population_upper`` (*grid; left out when a neuron coordinate of the fixed terms is
    not given).
    """
    ci_prob = check_ci_prob(ci_prob)
    fixed, grouping_only = _required(design)
    neuron_cols = _neuron_columns(counts)
    known = set(design.variables)
    for name in covariates:
        if name not in known:
            raise ArgumentError(
                f"covariates must be variables of the formula {design.formula!r} ({sorted(known)}); got {name!r}."
                f"{did_you_mean(name, sorted(known))}"
            )
    missing = sorted(v for v in fixed if v not in covariates and v not in neuron_cols)
    if missing:
        hints = ", ".join(f"{v}=..." for v in missing)
        raise ArgumentError(
            f"predict needs a value of every trial covariate of the formula's fixed terms and slopes; got none for "
            f"{missing}. Hint: result.predict({hints}) (arrays make a grid)."
        )
    values, dims = _grid(covariates)
    shape = tuple(values[d].size for d in dims)
    points = list(itertools.product(*(range(s) for s in shape))) or [()]
    base = {}
    for name, arr in values.items():
        base[name] = [arr[p[dims.index(name)]] if name in dims else arr.item() for p in points]
    n_neuron, n_point = counts.sizes["neuron"], len(points)
    frame = {}
    for name in known:
        if name in neuron_cols and name not in covariates:
            frame[name] = np.repeat(neuron_cols[name], n_point)
        elif name in base:
            frame[name] = np.tile(np.asarray(base[name], dtype=object), n_neuron)
        elif name in neuron_cols:
            frame[name] = np.repeat(neuron_cols[name], n_point)
        elif name in grouping_only:
            frame[name] = np.full(n_neuron * n_point, UNSEEN, dtype=object)
    frame = _typed(pd.DataFrame(frame), design)
    eta = linear_predictor(post, design, frame)
    mean, low, high = draw_summary(np.exp(eta), ci_prob)
    grid_coords = {d: values[d] for d in dims}
    full = ("neuron", *dims)
    coords = {"neuron": counts["neuron"].values, **grid_coords}
    data = {k: (full, v.reshape(n_neuron, *shape)) for k, v in (("mean", mean), ("lower", low), ("upper", high))}
    population_missing = [v for v in fixed if v in neuron_cols and v not in covariates]
    if not population_missing:
        pframe = {n: np.asarray(base[n], dtype=object) for n in known if n in base}
        for name in known - set(pframe):
            pframe[name] = np.full(n_point, UNSEEN, dtype=object)
        eta_p = linear_predictor(post, design, _typed(pd.DataFrame(pframe), design), population=True)
        pm_, pl, ph = draw_summary(np.exp(eta_p), ci_prob)
        for k, v in (("population_mean", pm_), ("population_lower", pl), ("population_upper", ph)):
            data[k] = (tuple(dims), v.reshape(shape))
    attrs = {"ci_prob": ci_prob, "interval": "equal-tailed", "units": "Hz", "formula": design.formula,
             "population": "every grouping's effect at 0 (a typical neuron)"}  # fmt: skip
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _typed(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """New values in the dtypes of the fitted data (numbers as float, labels as str)."""
    out = {}
    for name in frame.columns:
        fitted = design.frame[name] if name in design.frame else None
        if fitted is not None and fitted.dtype.kind in "iufb":
            out[name] = [_number(name, v) for v in frame[name]]
        else:
            out[name] = frame[name].astype(str)
    return pd.DataFrame(out)


def _number(name: str, value) -> float:
    if isinstance(value, str) and value == UNSEEN:
        return np.nan  # a grouping-only variable: its level is unseen, its effect 0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be numeric, as in the fitted counts; got {value!r}.") from None


def typical_values(design: Design, counts: xr.DataArray, skip: tuple[str, ...] = ()) -> dict:
    """The formula's trial covariates at typical values: numeric ones at their mean over the fitted observations,
    categorical ones at their most frequent level (neuron coordinates and ``skip`` left out)."""
    neuron_cols = _neuron_columns(counts)
    out = {}
    for name in design.variables:
        if name in skip or name in neuron_cols or name == "trial":
            continue
        column = design.frame[name]
        out[name] = float(column.mean()) if column.dtype.kind in "iufb" else str(column.value_counts().index[0])
    return out


def tuning_columns(design: Design, covariate: str) -> tuple[int, int, bool]:
    """The fixed columns of ``cos`` and ``sin`` of ``covariate``, and whether the covariate is in degrees
    (the formula converts it with ``np.radians`` / ``np.deg2rad``)."""
    cos = [j for j, c in enumerate(design.coefs) if "cos(" in c and covariate in c]
    sin = [j for j, c in enumerate(design.coefs) if "sin(" in c and covariate in c]
    if len(cos) != 1 or len(sin) != 1:
        raise ArgumentError(
            f"tuning needs one cos and one sin term of {covariate!r} in the formula, e.g. "
            f"'np.cos(np.radians({covariate})) + np.sin(np.radians({covariate}))'; got the columns "
            f"{list(design.coefs)}."
        )
    name = design.coefs[cos[0]]
    return cos[0], sin[0], ("radians(" in name or "deg2rad(" in name)


def circular_summary(angle: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Circular mean and equal-tailed interval over axis 0 of angles (radians), the draws unwrapped about
    their mean; the mean in [0, 2 pi), the ends as offsets from it (lower may be < 0, upper > 2 pi)."""
    centre = np.arctan2(np.sin(angle).mean(axis=0), np.cos(angle).mean(axis=0))
    unwrapped = centre + np.angle(np.exp(1j * (angle - centre)))
    low, high = np.quantile(unwrapped, [(1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
    shift = np.where(centre < 0, 2 * np.pi, 0.0)
    return centre + shift, low + shift, high + shift


def tuning_table(post: xr.Dataset, design: Design, counts: xr.DataArray, covariate: str, ci_prob: float,
                 at: dict) -> xr.Dataset:  # fmt: skip
    """Preferred direction, depth, peak and trough rates per neuron and for the population (see the module
    docstring); the other covariates of the formula at ``at``."""
    ci_prob = check_ci_prob(ci_prob)
    jc, js, degrees = tuning_columns(design, covariate)
    beta = flat_draws(post, "beta")
    units = {"neuron": (beta[:, None, jc], beta[:, None, js])}
    g = design.group("neuron")
    b_cos = np.repeat(beta[:, None, jc], counts.sizes["neuron"], axis=1)
    b_sin = np.repeat(beta[:, None, js], counts.sizes["neuron"], axis=1)
    if g is not None:
        b = flat_draws(post, f"b_{g.key}")
        for k, effect in enumerate(g.effects):
            if effect == design.coefs[jc]:
                b_cos = b_cos + b[:, :, k]
            if effect == design.coefs[js]:
                b_sin = b_sin + b[:, :, k]
    units["neuron"] = (b_cos, b_sin)
    units["population"] = (beta[:, None, jc], beta[:, None, js])
    at = {**typical_values(design, counts, skip=(covariate,)), **at}
    zero = {**at, covariate: 0.0}
    eta0 = {
        "neuron": linear_predictor(post, design, _frame_at(design, counts, zero)),
        "population": linear_predictor(post, design, _frame_at(design, counts, zero, population=True), population=True),
    }
    scale = 180.0 / np.pi if degrees else 1.0
    out = {}
    for who, (bc, bs) in units.items():
        pref = np.arctan2(bs, bc)
        depth = np.hypot(bc, bs)
        level = eta0[who] - bc  # log rate with the cos / sin terms at 0
        prefix = "" if who == "neuron" else "population_"
        m, lo, hi = circular_summary(pref, ci_prob)
        out[f"{prefix}preferred"], out[f"{prefix}preferred_lower"], out[f"{prefix}preferred_upper"] = (
            m * scale, lo * scale, hi * scale)  # fmt: skip
        for name, draws in (("depth", depth), ("peak", np.exp(level + depth)), ("trough", np.exp(level - depth))):
            m, lo, hi = draw_summary(draws, ci_prob)
            out[f"{prefix}{name}"], out[f"{prefix}{name}_lower"], out[f"{prefix}{name}_upper"] = m, lo, hi
    data = {k: (("neuron",), v) if not k.startswith("population") else ((), v[0]) for k, v in out.items()}
    attrs = {"ci_prob": ci_prob, "covariate": covariate, "angle_units": "degrees" if degrees else "radians",
             "depth": "log-rate modulation (peak / trough = exp(2 depth))", "rates": "Hz",
             "at": ", ".join(f"{k}={v}" for k, v in at.items())}  # fmt: skip
    return xr.Dataset(data, coords={"neuron": counts["neuron"].values}, attrs=attrs)


def _frame_at(design: Design, counts: xr.DataArray, at: dict, population: bool = False) -> pd.DataFrame:
    """One row per neuron (or one row for the population) at the covariate values ``at``."""
    fixed, _ = _required(design)
    neuron_cols = _neuron_columns(counts)
    missing = sorted(v for v in fixed if v not in at and (v not in neuron_cols or population))
    if missing:
        raise ArgumentError(
            f"tuning needs a value of every other covariate of the formula's fixed terms; got none for {missing}. "
            f"Hint: result.tuning(..., {', '.join(f'{v}=...' for v in missing)})."
        )
    n = 1 if population else counts.sizes["neuron"]
    frame = {}
    for name in design.variables:
        if name in at and not (name in neuron_cols and not population):
            frame[name] = np.full(n, at[name], dtype=object)
        elif name in neuron_cols and not population:
            frame[name] = neuron_cols[name]
        else:
            frame[name] = np.full(n, UNSEEN, dtype=object)
    return _typed(pd.DataFrame(frame), design)

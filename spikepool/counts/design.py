"""Formulas on counts: the design matrices of a model formula over the coordinates of a counts array.

A formula such as ``"count ~ condition + block_trial + (1 + block_trial | neuron)"`` names coordinates of a
counts DataArray (neuron, trial): trial coordinates (``condition``, ``block_trial``, ``contrast``), neuron
coordinates (``tetrode``, ``depth``), (neuron, trial) coordinates, and ``neuron`` and ``trial`` themselves.
``formulae`` (Bambi's formula library) parses it and builds, over the valid (neuron, trial) pairs:

- the fixed design ``X`` (obs, coef): intercept, numeric covariates, categorical coding, interactions,
  ``scale()``, ``bs()`` splines, numpy functions (``np.cos(np.radians(direction))``);
- one group design per grouping factor (``neuron``, ``session``, ``neuron:condition``): each observation's
  level and its row ``Z`` (obs, effect) of the effects that vary by that grouping. Every ``(terms | group)``
  naming the same grouping joins one block, whose effects are correlated unless the block is written
  ``(terms || group)``.

The response is the counts (the left-hand side may be omitted); the exposure (``duration``) is an offset of
the model, not a term. Unrecorded (``valid=False``) pairs are left out. Everything here is numpy and pandas:
the checks (``spikepool.checks.design``) read these matrices before any model is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError, ArgumentTypeError, FormulaError

__all__ = ["Design", "GroupDesign", "RESPONSES", "design_frame", "dispersion_units", "formula_design", "new_rows"]

#: Names the left-hand side of a formula may give the counts.
RESPONSES = ("count", "counts", "spikes", "y")
_DOUBLE_BAR = re.compile(r"\(([^()|]*)\|\|([^()|]*)\)")


@dataclass(frozen=True)
class GroupDesign:
    """The effects that vary by one grouping factor.

    Attributes
    ----------
    name : str
        The grouping as the formula writes it (``"neuron"``, ``"neuron:condition"``).
    key : str
        The name in results (``"neuron"``, ``"neuron_condition"``): variables ``sd_<key>``, ``b_<key>``.
    levels : numpy.ndarray
        Names of the levels (for ``neuron`` and ``trial``: every neuron or trial of the counts, in their order).
    level : numpy.ndarray
        int (obs,): each observation's level.
    effects : tuple of str
        Names of the effects (``"Intercept"``, ``"block_trial"``).
    Z : numpy.ndarray
        float (obs, effect): each observation's row of the group design.
    correlated : bool
        Whether the effects of a level are correlated (an LKJ prior) or independent.
    terms : tuple of str
        The ``formulae`` terms of the block (``"1|neuron"``, ``"block_trial|neuron"``).
    """

    name: str
    key: str
    levels: np.ndarray
    level: np.ndarray
    effects: tuple[str, ...]
    Z: np.ndarray
    correlated: bool
    terms: tuple[str, ...]

    @property
    def n_levels(self) -> int:
        return int(self.levels.size)


@dataclass(frozen=True)
class Design:
    """A formula's design over the valid (neuron, trial) pairs of counts (see the module docstring).

    Attributes
    ----------
    formula : str
        The formula as given.
    X : numpy.ndarray
        float (obs, coef): the fixed design.
    coefs : tuple of str
        Names of the fixed-effect columns (``"Intercept"``, ``"condition[Citral]"``, ``"block_trial"``).
    coef_terms : tuple of str
        The formula term of each column.
    intercept_like : numpy.ndarray
        Boolean (coef,): the intercept, or the full coding of a categorical term without one (a level mean).
    groups : tuple of GroupDesign
        One per grouping factor.
    obs_neuron, obs_trial : numpy.ndarray
        int (obs,): the neuron and trial of each observation (``np.nonzero(valid)``, row-major).
    y : numpy.ndarray
        int64 (obs,): the counts.
    duration : numpy.ndarray
        float (obs,): the exposure (s).
    variables : tuple of str
        The coordinates the formula reads.
    frame : pandas.DataFrame
        The data the formula was evaluated on (one row per observation).
    matrices : object
        ``formulae``'s ``DesignMatrices`` (evaluates new covariate values with the fitted transforms).
    """

    formula: str
    X: np.ndarray
    coefs: tuple[str, ...]
    coef_terms: tuple[str, ...]
    intercept_like: np.ndarray
    groups: tuple[GroupDesign, ...]
    obs_neuron: np.ndarray
    obs_trial: np.ndarray
    y: np.ndarray
    duration: np.ndarray
    variables: tuple[str, ...]
    frame: pd.DataFrame = field(repr=False)
    matrices: Any = field(repr=False)

    @property
    def n_obs(self) -> int:
        return int(self.y.size)

    def group(self, key: str) -> GroupDesign | None:
        """The grouping with ``key`` or ``name`` (None when the formula has none)."""
        return next((g for g in self.groups if key in (g.key, g.name)), None)


def _coordinate_columns(counts: xr.DataArray) -> dict[str, tuple[str, np.ndarray]]:
    """Every coordinate a formula may name: its kind (``"neuron"``, ``"trial"``, ``"pair"``) and values."""
    out: dict[str, tuple[str, np.ndarray]] = {
        "neuron": ("neuron", counts["neuron"].values),
        "trial": ("trial", counts["trial"].values),
    }
    for name, coord in counts.coords.items():
        if name in ("neuron", "trial", "valid") or "time" in coord.dims:
            continue
        if coord.dims == ("neuron",):
            out[str(name)] = ("neuron", coord.values)
        elif coord.dims == ("trial",):
            out[str(name)] = ("trial", coord.values)
        elif set(coord.dims) == {"neuron", "trial"}:
            out[str(name)] = ("pair", coord.transpose("neuron", "trial").values)
    return out


def _column(kind: str, values: np.ndarray, obs_neuron: np.ndarray, obs_trial: np.ndarray) -> np.ndarray:
    if kind == "neuron":
        return values[obs_neuron]
    if kind == "trial":
        return values[obs_trial]
    return values[obs_neuron, obs_trial]


def _as_frame_column(values: np.ndarray) -> np.ndarray:
    """Strings and labels as Python ``str`` objects (``formulae`` codes them as categories); numbers as they are."""
    if values.dtype.kind in "USO":
        return np.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
                        dtype=object)  # fmt: skip
    return values


def _split_formula(formula: str) -> tuple[str, set[str]]:
    """``formula`` with every ``(terms || group)`` written ``(terms | group)``, and the groupings so written."""
    independent = {m.group(2).replace(" ", "") for m in _DOUBLE_BAR.finditer(formula)}
    return _DOUBLE_BAR.sub(r"(\1|\2)", formula), independent


def _describe(formula: str):
    """``formulae``'s description of ``formula``, its errors as ``FormulaError`` naming the formula."""
    import formulae

    try:
        return formulae.model_description(formula)
    except Exception as error:  # formulae raises ScanError / ParseError / ValueError with its own text
        raise FormulaError(
            f"formula must be a model formula such as 'count ~ x + (1 + x | neuron)'; got {formula!r}, which "
            f"cannot be parsed: {error}. Hint: terms are joined by '+', random effects are '(terms | group)'."
        ) from None


def design_frame(
    counts: xr.DataArray, variables: set[str], formula: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The coordinates ``variables`` over the valid (neuron, trial) pairs: a DataFrame and the pairs' indices.

    Raises ``FormulaError`` for a name that is no coordinate (with a did-you-mean) and for missing values
    (naming the coordinate and how many trials or neurons lack it).
    """
    columns = _coordinate_columns(counts)
    unknown = sorted(v for v in variables if v not in columns)
    if unknown:
        name = unknown[0]
        raise FormulaError(
            f"formula {formula!r} must name coordinates of the counts; got {name!r}, which is none of "
            f"{sorted(columns)}.{did_you_mean(name, list(columns))} Hint: add it with "
            f"counts.assign_coords({name}=('trial', values))."
        )
    obs_neuron, obs_trial = np.nonzero(valid_mask(counts))
    data = {}
    for name in sorted(variables):
        kind, values = columns[name]
        column = _as_frame_column(_column(kind, np.asarray(values), obs_neuron, obs_trial))
        missing = pd.isna(column)
        if missing.any():
            where = {"neuron": obs_neuron, "trial": obs_trial, "pair": obs_trial}[kind][missing]
            what = "neurons" if kind == "neuron" else "trials"
            raise FormulaError(
                f"coordinate {name!r} of formula {formula!r} must have a value for every valid (neuron, trial); "
                f"got missing values (NaN or None) in {np.unique(where).size} {what}. Hint: fill them, or mark "
                "those pairs valid=False to leave them out."
            )
        if column.dtype == object and len(set(column)) < 2:
            raise FormulaError(
                f"coordinate {name!r} of formula {formula!r} must take at least two values over the valid "
                f"(neuron, trial) pairs to be a term or a grouping; got only {column[0]!r}. Hint: drop it."
            )
        if column.dtype == bool:
            column = column.astype(int)
        data[name] = column
    return pd.DataFrame(data), obs_neuron, obs_trial


def formula_design(counts: xr.DataArray, formula: str, correlated: bool = True) -> Design:
    """Parse ``formula`` over the coordinates of validated ``counts`` into a ``Design``.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) after ``validate_counts`` (binned counts are summed over time).
    formula : str
        ``"[count ~] fixed terms + (effects | group) ..."`` (see the module docstring).
    correlated : bool
        Whether the effects of one grouping are correlated (``(a || g)`` blocks are independent either way).

    Raises
    ------
    FormulaError
        A formula that does not parse, whose response is not the counts, that names no coordinate, or whose
        coordinates miss values.
    """
    import formulae

    if not isinstance(formula, str):
        raise ArgumentTypeError(
            f"formula must be a str such as 'count ~ x + (1 + x | neuron)'; got {type(formula).__name__}."
        )
    text, independent = _split_formula(formula.strip())
    if not text:
        raise FormulaError("formula must name at least one term, e.g. '1 + (1 | neuron)'; got an empty string.")
    description = _describe(text)
    response = None
    if description.response is not None:
        response = description.response.term.name
        if response not in RESPONSES and response != counts.name:
            raise FormulaError(
                f"formula {formula!r} must have the counts as its response ({', '.join(RESPONSES)}, or none); "
                f"got {response!r}. Hint: write 'count ~ ...'; the exposure enters as an offset by itself."
            )
    variables = {v for v in description.var_names if v and v != response}
    frame, obs_neuron, obs_trial = design_frame(counts, variables, formula)
    window = counts.sum("time") if "time" in counts.dims else counts
    y = np.asarray(window.values, dtype=np.int64)[obs_neuron, obs_trial]
    if response is not None:
        frame[response] = y
    if frame.shape[1] == 0:  # an intercept-only formula reads no coordinate
        frame["neuron"] = _as_frame_column(counts["neuron"].values[obs_neuron])
    try:
        matrices = formulae.design_matrices(text, frame, na_action="error", extra_namespace={"np": np})
    except Exception as error:
        raise FormulaError(f"formula {formula!r} could not be evaluated on the counts' coordinates: {error}.") from None
    common = matrices.common
    if common is None:
        raise FormulaError(
            f"formula {formula!r} must have at least one fixed effect; got none. Hint: keep the intercept, "
            "e.g. '1 + (1 | neuron)'."
        )
    coefs, coef_terms, spans = [], [], []
    for name, term in common.terms.items():
        labels = list(term.labels) if term.kind != "intercept" else ["Intercept"]
        coefs += labels
        coef_terms += [name] * len(labels)
        spans += [term.kind == "intercept" or (bool(getattr(term, "spans_intercept", False)) and
                  "Intercept" not in common.terms)] * len(labels)  # fmt: skip
    groups = _group_designs(matrices, counts, obs_neuron, obs_trial, correlated, independent)
    return Design(
        formula=formula,
        X=np.asarray(common).astype(np.float64),
        coefs=tuple(coefs),
        coef_terms=tuple(coef_terms),
        intercept_like=np.array(spans, dtype=bool),
        groups=groups,
        obs_neuron=obs_neuron,
        obs_trial=obs_trial,
        y=y,
        duration=counts["duration"].values.astype(np.float64)[obs_trial],
        variables=tuple(sorted(variables)),
        frame=frame,
        matrices=matrices,
    )


def _group_designs(
    matrices, counts, obs_neuron, obs_trial, correlated: bool, independent: set[str]
) -> tuple[GroupDesign, ...]:
    if matrices.group is None:
        return ()
    blocks: dict[str, list] = {}
    for name, term in matrices.group.terms.items():
        blocks.setdefault(term.factor.name, []).append((name, term))
    out = []
    for factor, terms in blocks.items():
        first = terms[0][1]
        level = np.asarray(first.factor.data).argmax(axis=1)
        levels = np.asarray(first.groups, dtype=object).astype(str)
        if factor == "neuron":  # every neuron of the counts, in their order (unrecorded ones from the prior)
            level, levels = obs_neuron, counts["neuron"].values.astype(str)
        elif factor == "trial":  # every trial, in their order
            level, levels = obs_trial, counts["trial"].values.astype(str)
        effects, columns = [], []
        for _, term in terms:
            data = np.asarray(term.expr.data, dtype=np.float64)
            data = data[:, None] if data.ndim == 1 else data
            effects += ["Intercept"] if term.kind == "intercept" else list(term.expr.labels)
            columns.append(data)
        out.append(
            GroupDesign(
                name=factor,
                key=re.sub(r"\W+", "_", factor).strip("_"),
                levels=np.asarray(levels),
                level=level.astype(np.int64),
                effects=tuple(effects),
                Z=np.concatenate(columns, axis=1),
                correlated=correlated and factor.replace(" ", "") not in independent,
                terms=tuple(name for name, _ in terms),
            )
        )
    return tuple(out)


def new_rows(design: Design, frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The fixed design and each grouping's (level, Z) of new covariate values (the fitted transforms kept).

    ``frame`` holds every variable of the design (one row per prediction). A level the fit never saw gets
    index -1 (its effect is then 0: the population's).
    """
    X = np.asarray(design.matrices.common.evaluate_new_data(frame)).astype(np.float64)
    out = []
    terms = design.matrices.group.terms if design.matrices.group is not None else {}
    for g in design.groups:
        columns = []
        level = None
        for name in g.terms:
            term = terms[name]
            data = np.asarray(term.expr.eval_new_data(frame), dtype=np.float64)
            columns.append(data[:, None] if data.ndim == 1 else data)
            if level is None:
                level = _levels_of(g, frame)
        out.append((level, np.concatenate(columns, axis=1)))
    return X, out


def _levels_of(g: GroupDesign, frame: pd.DataFrame) -> np.ndarray:
    parts = [frame[p.strip()].astype(str).to_numpy() for p in g.name.split(":")]
    names = parts[0] if len(parts) == 1 else np.array([":".join(v) for v in zip(*parts, strict=True)])
    index = {str(v): i for i, v in enumerate(g.levels)}
    return np.array([index.get(str(v), -1) for v in names], dtype=np.int64)


def dispersion_units(
    counts: xr.DataArray, design: Design, dispersion: str, by: str | None
) -> tuple[np.ndarray, tuple[str, ...], dict]:
    """Each observation's dispersion unit, and the dims and coords of the dispersion.

    ``dispersion`` "neuron" or "pooled": one per neuron, and per level of the coordinate ``by`` when given;
    "shared": one, or one per level of ``by``. Raises ``ArgumentError`` when ``by`` is no trial or neuron
    coordinate.
    """
    neurons = counts["neuron"].values
    if by is None:
        if dispersion == "shared":
            return np.zeros(design.n_obs, dtype=np.int64), (), {}
        return design.obs_neuron.astype(np.int64), ("neuron",), {"neuron": neurons}
    if by not in counts.coords or by in ("neuron", "valid") or counts[by].dims not in (("trial",), ("neuron",)):
        choices = [str(c) for c, v in counts.coords.items() if v.dims in (("trial",), ("neuron",))]
        raise ArgumentError(
            f"dispersion_by must name a trial or neuron coordinate of the counts; got {by!r}."
            f"{did_you_mean(by, choices)}"
        )
    coord = counts[by]
    values = coord.values[design.obs_trial if coord.dims == ("trial",) else design.obs_neuron].astype(str)
    names, code = np.unique(values, return_inverse=True)
    code = code.ravel().astype(np.int64)
    if dispersion == "shared":
        return code, (by,), {by: names}
    return design.obs_neuron * names.size + code, ("neuron", by), {"neuron": neurons, by: names}

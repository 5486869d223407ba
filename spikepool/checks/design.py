"""Checks of a formula's design before anything is built: what the fixed and group designs can identify.

Each finding names the term, the levels and what to change (``Problem`` codes):

- ``slope_no_variation``: a random slope whose covariate does not vary within a level of its grouping cannot
  be estimated there (error when no level varies, warning naming the levels otherwise);
- ``rank_deficient``: collinear fixed columns, e.g. a category confounded with another term (error, naming
  the column and those it is a combination of);
- ``group_confounded``: a grouping's levels are fixed effects too (``0 + neuron + (1 | neuron)``, or a
  condition recorded by one neuron each with ``(1 | neuron)``): its SD is not identified (error);
- ``few_levels``: a grouping with fewer than 3 levels: its SD is set by the prior (warning);
- ``covariate_scale``: numeric covariates far from 0 or on very different scales (warning, ``scale()``).

Shared variability (a ``(1 | trial)`` gain or ``shared`` factors):

- ``shared_neurons``: a gain shared on a trial is told apart from each neuron's own variability only where at
  least 2 neurons were recorded on it (error when no trial has 2; warning naming the trials with 1);
- ``shared_factors``: ``k`` factors need fewer than half as many factors as neurons, and ``k + 2`` trials (error);
- ``trial_confounded``: the fixed columns that are constant within a trial already hold one value per trial
  (one trial per condition): the trial gains are not identified (error).
"""

from __future__ import annotations

import numpy as np

from spikepool.checks.problems import Problem
from spikepool.counts.design import Design

__all__ = ["FAR_FROM_ZERO", "SCALE_RATIO", "check_design", "dependent_columns", "numeric_columns"]

#: A covariate whose mean is more than this many sds from 0 is warned (its intercept is far outside the data).
FAR_FROM_ZERO = 5.0
#: Numeric covariates whose sds differ by more than this factor are warned.
SCALE_RATIO = 100.0


def numeric_columns(X: np.ndarray) -> np.ndarray:
    """Boolean (coef,): columns that are neither constant nor 0/1 indicators (covariates, their transforms)."""
    binary = np.all((X == 0) | (X == 1), axis=0)
    constant = np.ptp(X, axis=0) == 0 if X.shape[0] else np.ones(X.shape[1], dtype=bool)
    return ~binary & ~constant


def _rank(A: np.ndarray) -> int:
    if A.size == 0:
        return 0
    s = np.linalg.svd(A / np.maximum(np.abs(A).max(axis=0), 1e-300), compute_uv=False)
    return int((s > s[0] * max(A.shape) * 1e-10).sum()) if s.size and s[0] > 0 else 0


def dependent_columns(X: np.ndarray) -> list[tuple[int, list[int]]]:
    """Columns of ``X`` that are linear combinations of earlier ones: ``(column, [columns it combines])``."""
    X = np.unique(X, axis=0)
    kept: list[int] = []
    out = []
    for j in range(X.shape[1]):
        if _rank(X[:, [*kept, j]]) > len(kept):
            kept.append(j)
            continue
        coef, *_ = np.linalg.lstsq(X[:, kept], X[:, j], rcond=None) if kept else (np.zeros(0),)
        scale = np.abs(coef).max() if coef.size else 0.0
        out.append((j, [kept[i] for i in np.flatnonzero(np.abs(coef) > 1e-8 * max(scale, 1.0))]))
    return out


def check_design(design: Design, shared: int = 0, n_neurons: int | None = None) -> list[Problem]:
    """The ``Problem`` list of a formula's design, with ``shared`` factors over ``n_neurons`` neurons (see the
    module docstring)."""
    problems = []
    problems += _slopes(design)
    ranks = _rank_problems(design)
    problems += ranks
    for g in design.groups:
        if g.n_levels < 3:
            problems.append(
                Problem(
                    "few_levels",
                    "warning",
                    f"grouping {g.name!r} has {g.n_levels} level(s) ({', '.join(map(str, g.levels))}): the SD of its "
                    "effects is set by its prior, not by the data.",
                    f"use 3 or more levels, or make {g.name!r} a fixed effect (drop '( | {g.name})').",
                )
            )
    problems += _scales(design)
    if shared or design.group("trial") is not None:
        confounded = any(p.code == "group_confounded" for p in ranks)
        problems += _shared_problems(design, shared, n_neurons, confounded)
    return problems


def _shared_problems(design: Design, shared: int, n_neurons: int | None, confounded: bool) -> list[Problem]:
    out = []
    what = f"{shared} shared factor(s)" if shared else "'(1 | trial)'"
    n_neurons = int(design.obs_neuron.max()) + 1 if n_neurons is None and design.n_obs else (n_neurons or 0)
    if shared and shared >= n_neurons / 2:
        out.append(
            Problem(
                "shared_factors",
                "error",
                f"shared must be below half the number of neurons ({n_neurons}) for its loadings to be estimated; "
                f"got {shared}: each factor has a loading per neuron, and with so few neurons per factor the "
                "shared and private variability cannot be told apart.",
                f"use shared={max(1, (n_neurons - 1) // 2)} or fewer, or '(1 | trial)' for one gain shared by all.",
            )
        )
    per_trial = np.bincount(design.obs_trial) if design.n_obs else np.zeros(0, dtype=np.int64)
    trials = np.flatnonzero(per_trial > 0)
    if shared and trials.size < shared + 2:
        out.append(
            Problem(
                "shared_factors",
                "error",
                f"shared factors need at least shared + 2 = {shared + 2} trials with valid counts; got "
                f"{trials.size}: each factor's scores vary over the trials around their mean, in a direction "
                "orthogonal to the earlier factors'.",
                "record more trials, or use fewer factors.",
            )
        )
    single = np.flatnonzero(per_trial == 1)
    if trials.size and (per_trial < 2).all():
        out.append(
            Problem(
                "shared_neurons",
                "error",
                f"{what} need(s) at least 2 neurons with valid counts on the same trials; got at most 1 on every "
                "trial: a shared gain cannot be told from each neuron's own variability.",
                "fit neurons recorded together (the same session), or drop the shared terms.",
            )
        )
    elif single.size:
        out.append(
            Problem(
                "shared_neurons",
                "warning",
                f"{single.size} of {trials.size} trials have one neuron with a valid count: their shared gain is "
                "set by its prior, and that neuron's count there informs it only through the prior.",
                "expected where units drop in and out; otherwise check the 'valid' mask.",
            )
        )
    X = design.X
    if trials.size and not confounded:
        low = np.full((per_trial.size, X.shape[1]), np.inf)
        high = np.full((per_trial.size, X.shape[1]), -np.inf)
        np.minimum.at(low, design.obs_trial, X)
        np.maximum.at(high, design.obs_trial, X)
        within = np.all(low[trials] == high[trials], axis=0)  # columns constant within every trial
        if within.any() and _rank(low[np.ix_(trials, np.flatnonzero(within))]) >= trials.size > 1:
            out.append(
                Problem(
                    "trial_confounded",
                    "error",
                    f"{what} must vary within the trial-level terms of formula {design.formula!r}; got fixed "
                    f"columns that hold a value for each of the {trials.size} trials (e.g. one trial per condition): "
                    "the trial gains are not identified.",
                    "record several trials per condition, or drop the shared terms.",
                )
            )
    return out


def _slopes(design: Design) -> list[Problem]:
    out = []
    for g in design.groups:
        observed = np.unique(g.level)
        for j, effect in enumerate(g.effects):
            column = g.Z[:, j]
            if effect == "Intercept" or np.ptp(column) == 0 and np.all(column == 1):
                continue
            low = np.full(g.n_levels, np.inf)
            high = np.full(g.n_levels, -np.inf)
            np.minimum.at(low, g.level, column)
            np.maximum.at(high, g.level, column)
            still = observed[high[observed] - low[observed] <= 0]
            if still.size == observed.size:
                out.append(
                    Problem(
                        "slope_no_variation",
                        "error",
                        f"the slope of {effect!r} by {g.name!r} needs {effect!r} to vary within levels of "
                        f"{g.name!r}; got one value in every level ({observed.size}).",
                        f"drop {effect!r} from '( | {g.name})', or vary it within {g.name!r}; as a fixed effect "
                        f"'{effect} + (1 | {g.name})' it compares levels instead.",
                    )
                )
            elif still.size:
                names = [str(v) for v in g.levels[still]]
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                out.append(
                    Problem(
                        "slope_no_variation",
                        "warning",
                        f"{effect!r} does not vary within {still.size} of {observed.size} levels of {g.name!r} "
                        f"({shown}): their slopes come from the population's only.",
                        "expected where those levels saw one value; otherwise check the coordinate.",
                        neurons=tuple(names) if g.name == "neuron" else (),
                    )
                )
    return out


def _rank_problems(design: Design) -> list[Problem]:
    out = []
    names = design.coefs
    for j, parts in dependent_columns(design.X):
        combo = " and ".join(repr(names[i]) for i in parts) if parts else "nothing (it is all zeros)"
        out.append(
            Problem(
                "rank_deficient",
                "error",
                f"fixed column {names[j]!r} of formula {design.formula!r} must add to the columns before it; got "
                f"a linear combination of {combo}: the fixed design is rank deficient.",
                "drop one of those terms (a category confounded with another, e.g. a condition given to one "
                "neuron only, cannot be told apart from it).",
            )
        )
    X = design.X
    for g in design.groups:
        if "Intercept" not in g.effects or g.n_levels > X.shape[1]:
            continue  # levels in the span of the fixed columns need at most as many columns
        J = np.zeros((X.shape[0], g.n_levels))
        J[np.arange(X.shape[0]), g.level] = 1.0
        observed = J[:, J.any(axis=0)]
        both = np.unique(np.concatenate([X, observed], axis=1), axis=0)
        if _rank(both) == _rank(np.unique(X, axis=0)):
            out.append(
                Problem(
                    "group_confounded",
                    "error",
                    f"the levels of {g.name!r} must not be fixed effects as well; got fixed columns of formula "
                    f"{design.formula!r} that hold every level of {g.name!r}: the SD of its intercepts is not "
                    "identified.",
                    f"drop the fixed term that codes {g.name!r}, or drop '(1 | {g.name})'.",
                )
            )
    return out


def _scales(design: Design) -> list[Problem]:
    X = design.X
    numeric = np.flatnonzero(numeric_columns(X))
    if not numeric.size:
        return []
    sd = X[:, numeric].std(axis=0)
    mean = X[:, numeric].mean(axis=0)
    out = []
    far = numeric[np.abs(mean) > FAR_FROM_ZERO * sd]
    if far.size:
        named = ", ".join(f"{design.coefs[j]!r} (mean {X[:, j].mean():.3g}, sd {X[:, j].std():.3g})" for j in far)
        out.append(
            Problem(
                "covariate_scale",
                "warning",
                f"covariate(s) {named} lie far from 0: the intercept is the rate at 0, outside the data, and it "
                "and the slope are strongly correlated in the posterior.",
                "centre them, e.g. scale(x) in the formula (or x - its mean as a coordinate).",
            )
        )
    if sd.max() > SCALE_RATIO * sd.min():
        named = ", ".join(f"{design.coefs[j]!r} (sd {s:.3g})" for j, s in zip(numeric, sd, strict=True))
        out.append(
            Problem(
                "covariate_scale",
                "warning",
                f"covariates are on very different scales: {named}.",
                "put them on one scale with scale(x) in the formula.",
            )
        )
    return out

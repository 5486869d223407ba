"""numpy pieces of the formula model: observations grouped for the likelihood, rough fits for the parameterisation.

Grouping. Observations that share (dispersion unit, fixed design row, each grouping's level and design row,
duration) have the same mean count, so the Poisson's and the Negative Binomial's log-likelihood depend on them
only through their number ``n`` and summed count ``total`` (``spikepool.stats.cells.CellGroups``), with the
NB's ``lgamma(y + alpha)`` part once per distinct (unit, count) (``count_pairs``). A categorical design keeps
its sufficient statistics (one group per neuron x condition x duration); a continuous covariate costs one group
per (neuron, trial).

Parameterisation. A level of a grouping is sampled centered when its data pin each of its effects more
tightly than the spread of the effects between levels can be (the rule of ``spikepool.stats.parameterization``,
per effect): each level's effects are estimated by a few Poisson IRLS steps with the fixed part as offset, their
sampling sds from the Negative Binomial's Fisher information (moment alpha per level), and the between-level
sd of each effect by its moment estimate (the spread of the estimates less their mean sampling variance). An
effect is informative at a level when its sampling sd is below that estimate; a level takes its leading
informative effects in the centered form and the rest non-centered given them (sparse levels, or effects that
hardly vary between levels, where the centered form has a funnel). Centered levels sample their coefficients
(the population's plus their own), not their deviations (``HierarchicalGLM._shift``): on the locust recording
(10 units x 244 trials, ``condition + block_trial + (1 + block_trial | neuron) + (1 | neuron:condition)``)
that takes NUTS from about 300 leapfrog steps per draw to about 25.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikepool.counts.design import Design
from spikepool.stats.cells import CellGroups, CountPairs, count_pairs

#: An effect is informative at a level when its sampling sd is below this fraction of the moment estimate of the
#: effect's between-level sd.
CENTER_FRACTION = 1.0

__all__ = [
    "CENTER_FRACTION",
    "ObsGroups",
    "choose_centered_levels",
    "design_groups",
    "fixed_start",
    "group_observations",
]


@dataclass(frozen=True)
class ObsGroups:
    """Observations grouped by their mean (see the module docstring).

    Attributes
    ----------
    groups : CellGroups
        ``neuron`` is each group's dispersion unit, ``condition`` 0; ``total``, ``n``, ``lf_sum``.
    pairs : CountPairs
        The (dispersion unit, count) pairs of all observations.
    X : numpy.ndarray
        (group, coef): the fixed design row of each group.
    levels : tuple of numpy.ndarray
        Per grouping, int (group,): each group's level.
    Z : tuple of numpy.ndarray
        Per grouping, (group, effect): each group's design row.
    obs_group : numpy.ndarray
        int (obs,): the group of each observation.
    by : tuple of numpy.ndarray
        The extra keys the observations were grouped by too (e.g. neuron and trial for shared factors), per group.
    """

    groups: CellGroups
    pairs: CountPairs
    X: np.ndarray
    levels: tuple[np.ndarray, ...]
    Z: tuple[np.ndarray, ...]
    obs_group: np.ndarray
    by: tuple[np.ndarray, ...] = ()

    @property
    def n_groups(self) -> int:
        return int(self.groups.n.size)


def group_observations(
    y: np.ndarray,
    unit: np.ndarray,
    X: np.ndarray,
    levels: list[np.ndarray],
    Z: list[np.ndarray],
    duration: np.ndarray,
    by: tuple[np.ndarray, ...] = (),
) -> ObsGroups:
    """``ObsGroups`` of observations with counts ``y``, dispersion ``unit``, fixed rows ``X``, each grouping's
    ``levels`` and rows ``Z``, exposures ``duration`` and any further int keys ``by`` (all over the same
    observations)."""
    from scipy.special import gammaln

    # ``by`` first, then the unit: groups in (neuron, trial) order with shared factors, by unit otherwise, so that the
    # model gathers a unit's or a level's value by a repeat where it can (``spikepool.models.likelihoods.take``)
    parts = [key[:, None].astype(np.float64) for key in by]
    parts += [unit[:, None].astype(np.float64), X]
    for level, z in zip(levels, Z, strict=True):
        parts += [level[:, None].astype(np.float64), z]
    parts.append(duration[:, None])
    keys = np.concatenate(parts, axis=1)
    unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    size = unique.shape[0]
    yf = y.astype(np.float64)
    groups = CellGroups(
        neuron=unit[first].astype(np.int64),
        condition=np.zeros(size, dtype=np.int64),
        duration=duration[first],
        total=np.bincount(inverse, yf, size),
        n=np.bincount(inverse, None, size).astype(np.float64),
        lf_sum=np.bincount(inverse, gammaln(yf + 1.0), size),
    )
    return ObsGroups(
        groups=groups,
        pairs=count_pairs(unit, y, np.ones(y.size)),
        X=X[first],
        levels=tuple(level[first] for level in levels),
        Z=tuple(z[first] for z in Z),
        obs_group=inverse,
        by=tuple(np.asarray(key)[first].astype(np.int64) for key in by),
    )


def design_groups(design: Design, unit: np.ndarray, shared: int = 0) -> ObsGroups:
    """``group_observations`` of a formula's design, with each observation's dispersion ``unit``; with ``shared``
    factors the groups are (neuron, trial) pairs too (``by``: their neuron and trial)."""
    by = (design.obs_neuron, design.obs_trial) if shared else ()
    levels, Z = [g.level for g in design.groups], [g.Z for g in design.groups]
    return group_observations(design.y, unit, design.X, levels, Z, design.duration, by=by)


def _poisson_irls(X: np.ndarray, y: np.ndarray, offset: np.ndarray, ridge: float, steps: int = 25) -> np.ndarray:
    """Poisson log-link coefficients by iteratively reweighted least squares, with a small ridge for stability."""
    beta = np.zeros(X.shape[1])
    for _ in range(steps):
        eta = np.clip(X @ beta + offset, -30, 30)
        mu = np.exp(eta)
        z = eta - offset + (y - mu) / np.maximum(mu, 1e-10)
        A = X.T @ (mu[:, None] * X) + ridge * np.eye(X.shape[1])
        new = np.linalg.solve(A, X.T @ (mu * z))
        if np.max(np.abs(new - beta)) < 1e-8:
            return new
        beta = new
    return beta


def fixed_start(X: np.ndarray, y: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Pooled Poisson estimates of the fixed effects (log rate in Hz), every level of every grouping at 0."""
    return _poisson_irls(X, y.astype(np.float64), np.log(duration), ridge=1e-6)


def choose_centered_levels(
    y: np.ndarray, offset: np.ndarray, level: np.ndarray, Z: np.ndarray, n_levels: int
) -> np.ndarray:
    """int (level,): how many of a grouping's effects, in their order, each level takes in the centered form.

    Effect k of a level is informative when its sampling sd is below ``CENTER_FRACTION`` of the moment estimate
    of the effect's between-level sd (see the module docstring); a level centres the leading effects that are
    all informative (e.g. 1: its intercept centered, its slopes non-centered given it) and 0 where even its
    first is not, or where it has no observations (prior only).

    ``offset`` (obs,) is the fixed part of each observation's log mean count (including log duration).
    """
    k = Z.shape[1]
    est = np.full((n_levels, k), np.nan)
    se = np.full((n_levels, k), np.inf)
    yf = y.astype(np.float64)
    order = np.argsort(level, kind="stable")
    bounds = np.searchsorted(level[order], np.arange(n_levels + 1))
    for i in range(n_levels):
        rows = order[bounds[i] : bounds[i + 1]]
        if rows.size < 2 or yf[rows].sum() == 0:
            continue
        Zi, yi, oi = Z[rows], yf[rows], offset[rows]
        b = _poisson_irls(Zi, yi, oi, ridge=1e-3)
        mu = np.exp(np.clip(Zi @ b + oi, -30, 30))
        excess = np.mean((yi - mu) ** 2 - yi)  # moment estimate of mu^2 / alpha
        alpha = np.mean(mu**2) / excess if excess > 0 else 1e3
        w = mu / (1.0 + mu / alpha)
        info = Zi.T @ (w[:, None] * Zi)
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            continue
        diag = np.diag(cov)
        if np.all(np.isfinite(diag)) and np.all(diag > 0):
            est[i], se[i] = b, np.sqrt(diag)
    estimable = np.isfinite(se).all(axis=1)
    if estimable.sum() < 3:
        return np.zeros(n_levels, dtype=np.int64)
    informative = np.zeros((n_levels, k), dtype=bool)
    for j in range(k):
        e, s = est[estimable, j], se[estimable, j]
        tau2 = float(np.var(e, ddof=1) - np.mean(s**2))
        informative[:, j] = estimable & (se[:, j] < CENTER_FRACTION * np.sqrt(max(tau2, 0.0)))
    return np.cumprod(informative, axis=1).sum(axis=1).astype(np.int64)

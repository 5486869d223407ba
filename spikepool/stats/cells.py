"""Sufficient-statistic cells: the counts compressed for an exact, cheap likelihood.

With ``y_t | lambda_t ~ Poisson(lambda_t d_t)`` and ``lambda_t ~ Gamma(shape alpha, rate alpha / r)``,
integrating lambda out gives ``y_t ~ NegativeBinomial(mu = r d_t, alpha)`` with
``Var = mu + mu**2 / alpha`` (PyMC's ``mu``, ``alpha``; Fano = 1 + mu / alpha). The per-trial Gamma
rates are never sampled. A neuron's log-likelihood depends on its trials only through how often each
(condition, count value, duration) occurs, so the model sums over distinct
(neuron, condition, count, duration) cells with multiplicities: exact, and its cost stops growing
with the number of trials once count values repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool.counts.schema import valid_mask

__all__ = [
    "CellGroups",
    "Cells",
    "CountPairs",
    "TAIL_FACTOR",
    "cell_groups",
    "compress",
    "count_pairs",
    "count_tails",
    "tails_cheaper",
]


@dataclass(frozen=True)
class Cells:
    """Distinct (neuron, condition, count, duration) cells of valid trials, with multiplicities.

    Attributes
    ----------
    neuron, condition : numpy.ndarray
        int index of each cell's neuron and condition.
    y : numpy.ndarray
        int64 count value of each cell.
    duration : numpy.ndarray
        Exposure (s) of each cell.
    weight : numpy.ndarray
        Number of trials in each cell (float64).
    obs_cell : numpy.ndarray
        For every valid (neuron, trial) pair, in row-major order, the index of its cell.
    obs_neuron, obs_trial : numpy.ndarray
        Index of the neuron and trial of each valid pair.
    condition_names : numpy.ndarray
        Names of the conditions (``[""]`` when conditions are not modelled).
    """

    neuron: np.ndarray
    condition: np.ndarray
    y: np.ndarray
    duration: np.ndarray
    weight: np.ndarray
    obs_cell: np.ndarray
    obs_neuron: np.ndarray
    obs_trial: np.ndarray
    condition_names: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.y.size)


def compress(counts: xr.DataArray, condition: str | None = None) -> Cells:
    """Compress window counts into sufficient-statistic cells.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) of validated counts; binned counts are summed over time.
    condition : str, optional
        Trial coordinate holding the conditions.

    Returns
    -------
    Cells
        Exact: ``sum(weight * logpmf(y | ...))`` equals the sum over valid trials.
    """
    window = counts.sum("time") if "time" in counts.dims else counts
    values = np.asarray(window.values, dtype=np.int64)
    valid = valid_mask(counts)
    if condition is None:
        names, cond_of_trial = np.array([""]), np.zeros(values.shape[1], dtype=np.int64)
    else:
        names, cond_of_trial = np.unique(counts[condition].values.astype(str), return_inverse=True)
    duration = counts["duration"].values.astype(np.float64)
    obs_neuron, obs_trial = np.nonzero(valid)
    # exact duration matching: map durations to integer codes, then group on integer keys
    dur_values, dur_code = np.unique(duration, return_inverse=True)
    keys = np.stack([obs_neuron, cond_of_trial[obs_trial], values[obs_neuron, obs_trial], dur_code[obs_trial]], axis=1)
    uniq, obs_cell, weight = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return Cells(
        neuron=uniq[:, 0],
        condition=uniq[:, 1],
        y=uniq[:, 2],
        duration=dur_values[uniq[:, 3]],
        weight=weight.astype(np.float64),
        obs_cell=obs_cell.ravel(),
        obs_neuron=obs_neuron,
        obs_trial=obs_trial,
        condition_names=names,
    )


@dataclass(frozen=True)
class CellGroups:
    """The cells summed per (neuron, condition, duration) group.

    Every count of a group has the same mean (rate x duration). The COM-Poisson log-likelihood of a
    group's counts is ``total log lambda - nu lf_sum - n log Z``: it depends on them only through
    ``total``, ``n`` and ``lf_sum`` (``spikepool.stats.com_poisson``). The Poisson's and, with one
    dispersion per neuron, the Negative Binomial's depend on the group's mean only through ``total`` and
    ``n``; the NB's one other term needs the neuron's ``CountPairs`` (``count_pairs``). Exact.

    Attributes
    ----------
    neuron, condition : numpy.ndarray
        int index of each group's neuron and condition.
    duration : numpy.ndarray
        Exposure (s) of the group's counts.
    total, n, lf_sum : numpy.ndarray
        float64: the sum of the group's counts, how many there are, and the sum of their ``log y!``.
    """

    neuron: np.ndarray
    condition: np.ndarray
    duration: np.ndarray
    total: np.ndarray
    n: np.ndarray
    lf_sum: np.ndarray


@dataclass(frozen=True)
class CountPairs:
    """The distinct (neuron, count > 0) pairs of some cells and how many trials have each.

    The Negative Binomial's ``sum_t [lgamma(y_t + alpha_i) - lgamma(alpha_i)]`` over a neuron's trials is
    ``sum(weight * [lgamma(y + alpha_i) - lgamma(alpha_i)])`` over its pairs (counts of 0 add nothing).

    Attributes
    ----------
    neuron : numpy.ndarray
        int index of each pair's neuron.
    y : numpy.ndarray
        float64 count (> 0).
    weight : numpy.ndarray
        float64 number of trials (or trial-bins) with that count.
    log_factorial : float
        ``sum(weight * lgamma(y + 1))`` over all the cells (a constant of every count likelihood).
    """

    neuron: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    log_factorial: float


def count_pairs(neuron: np.ndarray, y: np.ndarray, weight: np.ndarray) -> CountPairs:
    """The ``CountPairs`` of cells given by their ``neuron`` index, count ``y`` and multiplicity ``weight``."""
    from scipy.special import gammaln

    positive = y > 0
    pairs, inverse = np.unique(np.stack([neuron[positive], y[positive]], axis=1), axis=0, return_inverse=True)
    pairs = pairs.reshape(-1, 2)
    return CountPairs(
        neuron=pairs[:, 0].astype(np.int64),
        y=pairs[:, 1].astype(np.float64),
        weight=np.bincount(inverse.ravel(), weight[positive], pairs.shape[0]),
        log_factorial=float((weight * gammaln(y + 1.0)).sum()),
    )


#: Largest number of (neuron, k) tail entries relative to the count pairs for which ``count_tails`` are used.
TAIL_FACTOR = 4


def count_tails(pairs: CountPairs, n_neuron: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The count tails of ``pairs``: ``(neuron, k, weight)`` for every neuron and every k below its largest count,
    with ``weight`` the number of its trials whose count is above k.

    For whole-number counts ``lgamma(y + a) - lgamma(a) = sum_{k<y} log(a + k)``, so the Negative Binomial's
    ``sum(pairs.weight * [lgamma(pairs.y + a) - lgamma(a)])`` equals ``sum(weight * log(a + k))`` (exact): a log
    in place of two lgamma, a reciprocal in place of two digamma in the gradient.
    """
    top = _largest_counts(pairs, n_neuron).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(top)])
    steps = np.zeros(offset[-1] + 1)
    np.add.at(steps, offset[pairs.neuron], pairs.weight)
    np.add.at(steps, offset[pairs.neuron] + pairs.y.astype(np.int64), -pairs.weight)
    neuron = np.repeat(np.arange(n_neuron), top)
    return neuron, (np.arange(offset[-1]) - offset[neuron]).astype(float), np.cumsum(steps)[:-1]


def tails_cheaper(pairs: CountPairs, n_neuron: int) -> bool:
    """Whether ``count_tails`` of ``pairs`` are cheaper than the pairs: at most ``TAIL_FACTOR`` times as many
    entries (plus 10,000), and whole-number counts."""
    if pairs.y.size == 0 or not np.all(pairs.y == np.round(pairs.y)):
        return False
    return bool(_largest_counts(pairs, n_neuron).sum() <= TAIL_FACTOR * pairs.y.size + 10_000)


def _largest_counts(pairs: CountPairs, n_neuron: int) -> np.ndarray:
    """Each neuron's largest count (0 for a neuron without counts above 0): its number of tail entries."""
    top = np.zeros(n_neuron)
    np.maximum.at(top, pairs.neuron, pairs.y)
    return top


def cell_groups(cells: Cells) -> CellGroups:
    """The ``CellGroups`` of ``cells`` (groups in (neuron, condition, duration) order)."""
    from scipy.special import gammaln

    keys = np.stack([cells.neuron, cells.condition, cells.duration], axis=1).astype(np.float64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    size = unique.shape[0]
    return CellGroups(
        neuron=unique[:, 0].astype(np.int64),
        condition=unique[:, 1].astype(np.int64),
        duration=unique[:, 2],
        total=np.bincount(inverse, cells.weight * cells.y, size),
        n=np.bincount(inverse, cells.weight, size),
        lf_sum=np.bincount(inverse, cells.weight * gammaln(cells.y + 1.0), size),
    )

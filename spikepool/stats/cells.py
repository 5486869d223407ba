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

__all__ = ["CellGroups", "Cells", "cell_groups", "compress"]


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
    """The cells summed per (neuron, condition, duration) group: all that COM-Poisson needs of them.

    Every count of a group has the same mean (rate x duration), and the COM-Poisson log-likelihood of a
    group's counts is ``total log lambda - nu lf_sum - n log Z``: it depends on them only through
    ``total``, ``n`` and ``lf_sum`` (``spikepool.stats.com_poisson``). Exact.

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

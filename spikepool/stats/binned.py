"""Binned counts for time-resolved models (numpy): sufficient-statistic cells per time bin and a smooth basis.

A time-resolved count model gives every (neuron, condition, bin) its own mean, so a neuron's log-likelihood
depends on its trials only through how often each count value occurs in each (condition, bin): the model
sums the family's log density over distinct (neuron, condition, bin, count) cells with multiplicities, exact,
its cost set by the distinct counts rather than by the trials. ``bspline_basis`` gives the smooth functions of
time the time courses are built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.interpolate import BSpline

from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError
from spikepool.stats.cells import CountPairs, count_pairs

__all__ = [
    "BinnedCells",
    "GroupSums",
    "basis_of",
    "bin_width",
    "bspline_basis",
    "compress_binned",
    "condition_names",
    "group_sums",
    "n_basis_of",
]


@dataclass(frozen=True)
class BinnedCells:
    """Distinct (neuron, condition, bin, count) cells of the valid trials' binned counts, with multiplicities.

    Attributes
    ----------
    neuron, condition, bin : numpy.ndarray
        int index of each cell's neuron, condition and time bin.
    y : numpy.ndarray
        int64 count of each cell.
    weight : numpy.ndarray
        Number of (trial) observations in each cell (float64).
    obs_cell : numpy.ndarray
        int (obs, bin): for every valid (neuron, trial) pair (row-major order) and bin, the index of its cell.
    obs_neuron, obs_trial : numpy.ndarray
        Index of the neuron and trial of each valid pair.
    condition_names : numpy.ndarray
        Names of the conditions (``[""]`` when conditions are not modelled).
    """

    neuron: np.ndarray
    condition: np.ndarray
    bin: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    obs_cell: np.ndarray
    obs_neuron: np.ndarray
    obs_trial: np.ndarray
    condition_names: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.y.size)

    @property
    def group(self) -> np.ndarray:
        """Each cell's flat index into the (neuron, condition, bin) grid (C order)."""
        n_cond, n_bins = self.condition_names.size, self.obs_cell.shape[1]
        return (self.neuron * n_cond + self.condition) * n_bins + self.bin


@dataclass(frozen=True)
class GroupSums:
    """The cells summed per (neuron, condition, bin) group: what a mean-only family needs of them.

    For the Poisson and, with its dispersion per neuron, the Negative Binomial, the log-likelihood of a
    group's counts depends on its mean only through ``Y`` (the sum of the counts) and ``N`` (how many):
    ``sum_t log NB(y_t | mu, alpha) = Y log(mu / (mu + alpha)) - N alpha log1p(mu / alpha)
    + sum_t [lgamma(y_t + alpha) - lgamma(alpha)] - sum_t lgamma(y_t + 1)``, and the one term left depends
    on the counts through the neuron's (count, multiplicity) pairs only. Exact: no approximation.

    Attributes
    ----------
    total, n : numpy.ndarray
        float64 (neuron, condition, bin): ``Y`` and ``N`` of each group (0 for a group without valid trials).
    pairs : CountPairs
        The distinct (neuron, count > 0) pairs, their multiplicities over the neuron's cells, and
        ``log_factorial``, ``sum(weight * lgamma(y + 1))`` over the cells (``spikepool.stats.cells.count_pairs``).
    lf_sum : numpy.ndarray
        float64 (neuron, condition, bin): the same sum per group (the COM-Poisson needs it per group).
    """

    total: np.ndarray
    n: np.ndarray
    pairs: CountPairs
    lf_sum: np.ndarray


def group_sums(cells: BinnedCells, n_neuron: int, n_bins: int) -> GroupSums:
    """The ``GroupSums`` of ``cells`` (on the dense (neuron, condition, bin) grid)."""
    from scipy.special import gammaln

    n_cond = cells.condition_names.size
    shape = (n_neuron, n_cond, n_bins)
    size = n_neuron * n_cond * n_bins
    total = np.bincount(cells.group, cells.weight * cells.y, size).reshape(shape)
    n = np.bincount(cells.group, cells.weight, size).reshape(shape)
    return GroupSums(
        total=total,
        n=n,
        pairs=count_pairs(cells.neuron, cells.y, cells.weight),
        lf_sum=np.bincount(cells.group, cells.weight * gammaln(cells.y + 1.0), size).reshape(shape),
    )


def condition_names(counts: xr.DataArray, condition: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted condition names (``[""]`` when ``condition`` is None) and each trial's condition index."""
    if condition is None:
        return np.array([""]), np.zeros(counts.sizes["trial"], dtype=np.int64)
    names, codes = np.unique(counts[condition].values.astype(str), return_inverse=True)
    return names, codes.ravel()


def bin_width(binned: xr.DataArray) -> float:
    """The width (s) of the time bins: ``attrs["bin_size"]``, else the spacing of the bin centres.

    Raises ``ArgumentError`` when neither says: bin centres that are not equally spaced, or one bin without
    ``attrs["bin_size"]``.
    """
    if "bin_size" in binned.attrs:
        return float(binned.attrs["bin_size"])
    time = binned["time"].values.astype(np.float64)
    steps = np.diff(time)
    if steps.size == 0 or not np.allclose(steps, steps[0], rtol=1e-6):
        raise ArgumentError(
            "binned must have equally spaced time bins (or attrs['bin_size']); got bin centres "
            f"{time[:5].tolist()}{' ...' if time.size > 5 else ''}. Hint: count with from_neo(..., bin_size=0.01)."
        )
    return float(steps[0])


def compress_binned(binned: xr.DataArray, condition: str | None = None) -> BinnedCells:
    """Compress binned counts (neuron, trial, time) into (neuron, condition, bin, count) cells.

    Parameters
    ----------
    binned : xarray.DataArray
        DataArray (neuron, trial, time) of validated counts.
    condition : str, optional
        Trial coordinate holding the conditions.

    Returns
    -------
    BinnedCells
        Exact: ``sum(weight * logpmf(y | neuron, condition, bin))`` equals the sum over valid trials and bins.
    """
    values = np.asarray(binned.values, dtype=np.int64)
    valid = valid_mask(binned)
    names, cond_of_trial = condition_names(binned, condition)
    obs_neuron, obs_trial = np.nonzero(valid)
    n_bins = values.shape[2]
    y = values[obs_neuron, obs_trial]  # (obs, bin)
    keys = np.stack(
        [
            np.repeat(obs_neuron, n_bins),
            np.repeat(cond_of_trial[obs_trial], n_bins),
            np.tile(np.arange(n_bins), obs_neuron.size),
            y.ravel(),
        ],
        axis=1,
    )
    uniq, inverse, weight = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return BinnedCells(
        neuron=uniq[:, 0],
        condition=uniq[:, 1],
        bin=uniq[:, 2],
        y=uniq[:, 3],
        weight=weight.astype(np.float64),
        obs_cell=inverse.reshape(obs_neuron.size, n_bins),
        obs_neuron=obs_neuron,
        obs_trial=obs_trial,
        condition_names=names,
    )


def bspline_basis(x: np.ndarray, n_basis: int, degree: int = 3) -> np.ndarray:
    """Clamped B-spline basis (len(x), n_basis) on equally spaced knots spanning ``x``.

    Each row sums to 1 (a partition of unity), so adding a constant to every coefficient shifts the curve
    by that constant. ``n_basis`` must exceed ``degree``.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        hi = lo + 1.0
    n_inner = n_basis - degree - 1
    inner = np.linspace(lo, hi, n_inner + 2)[1:-1]
    knots = np.concatenate([np.full(degree + 1, lo), inner, np.full(degree + 1, hi)])
    return BSpline.design_matrix(np.clip(x, lo, hi), knots, degree).toarray()


def n_basis_of(n_bins: int, width: float, smoothing: str | float) -> int:
    """Basis functions for ``n_bins`` bins of ``width`` s: knots ``smoothing`` s apart ("auto": four bins),
    at least 4 (a cubic) and at most one per bin."""
    spacing = 4 * width if smoothing == "auto" else float(smoothing)
    return int(np.clip(round(n_bins * width / spacing) + 3, 4, max(n_bins, 4)))


def basis_of(binned: xr.DataArray, smoothing: str | float) -> np.ndarray:
    """The B-spline basis (time, basis) of the bins of ``binned`` for knots ``smoothing`` s apart."""
    time = binned["time"].values.astype(np.float64)
    return bspline_basis(time, n_basis_of(time.size, bin_width(binned), smoothing))

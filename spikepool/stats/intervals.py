"""Posterior summaries over the sample dims: the mean and the equal-tailed interval (one definition)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob

__all__ = ["SAMPLE_DIMS", "draw_summary", "eti", "interval", "sample_mean"]

SAMPLE_DIMS = ("chain", "draw")


def _dims(da: xr.DataArray) -> list[str]:
    return [d for d in SAMPLE_DIMS if d in da.dims]


def sample_mean(da: xr.DataArray) -> xr.DataArray:
    """Mean over the sample dims present (a fixed hyperparameter has none)."""
    return da.mean(_dims(da))


def eti(da: xr.DataArray, ci_prob: float) -> tuple[xr.DataArray, xr.DataArray]:
    """Lower and upper ends of the equal-tailed ``ci_prob`` interval over the sample dims present.

    A value without sample dims (a fixed hyperparameter) is its own interval.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> draws = xr.DataArray(np.arange(101.0).reshape(1, 101), dims=("chain", "draw"))
    >>> [round(float(x), 6) for x in eti(draws, 0.9)]
    [5.0, 95.0]
    """
    ci_prob = check_ci_prob(ci_prob)
    dims = _dims(da)
    if not dims:
        return da, da
    q = da.quantile([(1 - ci_prob) / 2, (1 + ci_prob) / 2], dim=dims)
    return q.isel(quantile=0, drop=True), q.isel(quantile=1, drop=True)


def draw_summary(draws: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and equal-tailed ``ci_prob`` interval over axis 0 of a numpy array of flattened draws."""
    low, high = np.quantile(draws, [(1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
    return draws.mean(axis=0), low, high


def interval(da: xr.DataArray, ci_prob: float, units: str | None = None) -> xr.Dataset:
    """Dataset of ``mean``, ``lower`` and ``upper`` (equal-tailed, ``ci_prob``) over the sample dims."""
    low, high = eti(da, ci_prob)
    attrs = {"ci_prob": float(ci_prob), "interval": "equal-tailed"}
    if units:
        attrs["units"] = units
    return xr.Dataset({"mean": sample_mean(da), "lower": low, "upper": high}, attrs=attrs)

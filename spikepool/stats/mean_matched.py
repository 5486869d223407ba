"""The mean-matched Fano factor over time (Churchland et al. 2010): ``mean_matched_fano``.

The classical, model-free analysis of how trial-to-trial variability changes within the trial: spike counts in
a sliding window; each neuron x condition a (mean, variance) point across its trials; at every window
position the Fano factor is the slope of a weighted regression of variance on mean through the origin. Where
the firing rates change, so does the spread of the means, and with a Fano factor that grows with the mean
(as it does under a Gamma-Poisson, ``1 + mu / alpha``) the slope would change with the rates alone. Mean
matching removes that: the points are binned by mean, each bin keeps, at every time, only as many points as
it holds at the time where it holds fewest (the "greatest common distribution"), chosen at random, and the
slope is averaged over ``n_resamples`` random choices.

Churchland MM, Yu BM, Cunningham JP, et al. (2010) Stimulus onset quenches neural variability: a widespread
cortical phenomenon. Nat Neurosci 13:369-378 (methods, and the authors' MATLAB function ``VarVsMean``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from spikepool._validate import check_ci_prob, check_int, check_trial_coord
from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.stats.binned import bin_width

__all__ = ["mean_matched_fano", "weighted_slope"]

#: Fewest points a mean-matched regression may rest on (``VarVsMean`` gives up below 5 as well).
MIN_POINTS = 5


def weighted_slope(mean: np.ndarray, var: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares slope of ``var`` on ``mean`` through the origin, and its standard error.

    ``B = sum(w m v) / sum(w m^2)``; ``se = sqrt(s2 / sum(w m^2))`` with ``s2 = sum(w (v - B m)^2) / (n - 1)``
    (MATLAB's ``lscov(m, v, w)``). NaN when no point has a non-zero mean.
    """
    sxx = float(np.sum(weight * mean**2))
    if sxx <= 0 or mean.size < 2:
        return np.nan, np.nan
    slope = float(np.sum(weight * mean * var)) / sxx
    s2 = float(np.sum(weight * (var - slope * mean) ** 2)) / (mean.size - 1)
    return slope, float(np.sqrt(s2 / sxx))


def _in_bins(name: str, value: float, width: float, most: int) -> int:
    """``value`` seconds as a whole number of bins of ``width`` (ArgumentError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or not value > 0:
        raise ArgumentError(f"{name} must be a positive time in s; got {value!r}. Hint: {name}=0.08 for 80 ms.")
    n = round(value / width)
    if n < 1 or abs(n * width - value) > 1e-6 * max(value, width):
        raise ArgumentError(
            f"{name} must be a whole number of {width:g} s bins; got {value!r} s ({value / width:.4g} bins). "
            f"Hint: {name}={max(n, 1) * width:g}."
        )
    if n > most:
        raise ArgumentError(
            f"{name} must fit in the {most} bins ({most * width:g} s) of the counts; got {value!r} s ({n} bins)."
        )
    return int(n)


def mean_matched_fano(
    binned: xr.DataArray,
    condition: str | None = "condition",
    window: float = 0.08,
    step: float | None = None,
    n_resamples: int = 10,
    ci_prob: float = 0.95,
    random_seed: int | None = 0,
    bin_spacing: float = 0.25,
) -> xr.Dataset:
    """The mean-matched Fano factor over time, with its interval (Churchland et al. 2010).

    Parameters
    ----------
    binned : xarray.DataArray
        DataArray (neuron, trial, time) of binned counts (``from_neo(..., bin_size=...)``); ``time`` holds bin
        centres. Trials that are not ``valid`` for a neuron are left out of its points.
    condition : str or None
        Trial coordinate of the conditions: each neuron x condition with at least two valid trials is one
        (mean, variance) point. None: one point per neuron.
    window : float
        Width of the sliding counting window (s), a whole number of bins (Churchland et al.: 80 ms).
    step : float, optional
        Spacing of the window positions (s), a whole number of bins; default half the window, rounded down
        to whole bins (at least one). Fewer positions let more points survive matching.
    n_resamples : int
        Random down-selections averaged (``VarVsMean``'s ``matchReps``).
    ci_prob : float
        Probability of the interval of the slope: ``slope -/+ z se`` with ``z`` the normal quantile
        (1.96 for 0.95), averaged over the resamples.
    random_seed : int, optional
        Seed of the down-selection.
    bin_spacing : float
        Width (spikes per window) of the bins of means that are matched (``VarVsMean``: 0.25).

    Returns
    -------
    xarray.Dataset
        Over ``time`` (window centres, s): ``fano`` (mean-matched slope, averaged over resamples), ``lower``,
        ``upper`` (its interval), ``fano_all`` (the slope over all points, unmatched), ``lower_all``,
        ``upper_all``, ``n_points`` (points kept at each time after matching; the same at every time),
        ``mean_rate`` and ``mean_rate_all`` (the points' mean rate in Hz, matched and unmatched: matching
        holds the first nearly constant). Attributes: ``window``, ``step``, ``n_resamples``, ``ci_prob``,
        ``n_points_all``, ``bin_spacing``.

    Raises
    ------
    ArgumentTypeError
        ``binned`` is not a DataArray.
    CountsError
        ``binned`` breaks the counts schema (``validate_counts``).
    ArgumentError
        ``binned`` has no ``time`` dim, or unequally spaced bins (or one bin) without ``attrs["bin_size"]``;
        ``condition`` is not a coordinate on ``trial``; ``window`` or ``step`` is not a positive whole number
        of bins that fits in the counts; ``n_resamples`` is not an int >= 1; ``ci_prob`` is not in (0, 1);
        ``bin_spacing`` is not a positive number; fewer than 5 points have two valid trials, or mean
        matching keeps fewer than 5.
    TypeError, ValueError
        ``random_seed`` is not a non-negative int, a Generator or None (from numpy).

    Notes
    -----
    As in ``VarVsMean``: counts in windows of ``window`` at each position; each point's variance across
    trials is the unbiased one (``ddof=1``); the regression is weighted by ``n_trials / (mean + eps)^2``
    (the sampling variance of a variance grows with the squared mean and shrinks with the trials), with
    ``eps`` one spike per second times the window; means are binned at ``bin_spacing`` spikes, each bin keeps
    at every time the fewest points it holds at any time, chosen at random per time and resample; the
    reported slope and interval are averages over the resamples. Departures: the interval is
    ``slope -/+ z se`` for ``ci_prob`` where ``VarVsMean`` uses ``-/+ 2 se``; counts come in bins (of any
    width dividing the window) rather than 1 ms spike trains; a neuron's unrecorded trials (``valid``
    False) and points with fewer than two valid trials are left out where ``VarVsMean`` stops; the
    down-selection uses numpy's seeded generator.

    Examples
    --------
    >>> import numpy as np, spikepool as sp
    >>> rng = np.random.default_rng(0)
    >>> binned = sp.from_array(rng.poisson(0.5, (20, 30, 40)), duration=0.4, time=0.005 + 0.01 * np.arange(40))
    >>> out = sp.mean_matched_fano(binned, condition=None, window=0.08)
    >>> bool(abs(float(out["fano"].mean()) - 1) < 0.2)
    True
    """
    if not isinstance(binned, xr.DataArray):
        raise ArgumentTypeError(
            f"binned must be counts (an xarray.DataArray (neuron, trial, time)); got {type(binned).__name__}."
        )
    if "time" not in binned.dims:
        raise ArgumentError(
            f"binned must be counts with a time dim (neuron, trial, time); got dims {binned.dims}. "
            "Hint: count with from_neo(..., bin_size=0.01) or load_counts(..., bin_size=0.01)."
        )
    binned = validate_counts(binned)
    if condition is not None:
        check_trial_coord(binned, condition, none_ok=True)
    check_int("n_resamples", n_resamples, 1)
    z = stats.norm.ppf(0.5 + check_ci_prob(ci_prob) / 2)
    if isinstance(bin_spacing, bool) or not isinstance(bin_spacing, int | float) or not bin_spacing > 0:
        raise ArgumentError(f"bin_spacing must be a positive number of spikes; got {bin_spacing!r}. Hint: 0.25.")
    width = bin_width(binned)
    n_time = binned.sizes["time"]
    w = _in_bins("window", window, width, n_time)
    s = max(w // 2, 1) if step is None else _in_bins("step", step, width, n_time)

    # window counts at each position: (neuron, trial, position) from the cumulative sum over bins
    values = binned.values.astype(np.float64)
    csum = np.concatenate([np.zeros(values.shape[:2] + (1,)), np.cumsum(values, axis=2)], axis=2)
    starts = np.arange(0, n_time - w + 1, s)
    window_counts = csum[:, :, starts + w] - csum[:, :, starts]
    centres = binned["time"].values[starts] - width / 2 + w * width / 2

    # points: neuron x condition with >= 2 valid trials
    valid = valid_mask(binned)
    labels = binned[condition].values.astype(str) if condition else np.zeros(binned.sizes["trial"], dtype=str)
    means, variances, trials = [], [], []
    for i in range(values.shape[0]):
        for label in np.unique(labels):
            sel = valid[i] & (labels == label)
            if sel.sum() >= 2:
                c = window_counts[i, sel]  # (trial, position)
                means.append(c.mean(axis=0))
                variances.append(c.var(axis=0, ddof=1))
                trials.append(sel.sum())
    if len(means) < MIN_POINTS:
        raise ArgumentError(
            f"binned must give at least {MIN_POINTS} neuron x condition points with two or more valid trials; "
            f"got {len(means)}. Hint: the mean-matched Fano factor needs many neurons and/or conditions."
        )
    mean, var = np.array(means), np.array(variances)  # (point, position)
    n_trials = np.array(trials, dtype=np.float64)
    eps = window  # one spike per second, in spikes per window
    weight = n_trials[:, None] / (mean + eps) ** 2

    all_slopes = np.array([weighted_slope(mean[:, k], var[:, k], weight[:, k]) for k in range(starts.size)])
    which = np.floor(mean / bin_spacing).astype(np.int64)  # bin of each point's mean, per position
    n_bins = int(which.max()) + 1
    held = np.stack([np.bincount(which[:, k], minlength=n_bins) for k in range(starts.size)])
    target = held.min(axis=0)  # the greatest common distribution of means
    n_kept = int(target.sum())
    if n_kept < MIN_POINTS:
        raise ArgumentError(
            f"mean matching must keep at least {MIN_POINTS} points at every time; got {n_kept} of {mean.shape[0]}. "
            f"Hint: fewer window positions (a larger step), a larger bin_spacing (got {bin_spacing!r}) or a "
            "shorter stretch of time where the rates overlap."
        )
    rng = np.random.default_rng(random_seed)
    slope_sum = np.zeros(starts.size)
    se_sum = np.zeros((starts.size, 2))
    rate_sum = np.zeros(starts.size)
    for _ in range(n_resamples):
        for k in range(starts.size):
            keep = np.concatenate(
                [rng.permutation(np.flatnonzero(which[:, k] == b))[: target[b]] for b in np.flatnonzero(target)]
            )
            slope, se = weighted_slope(mean[keep, k], var[keep, k], weight[keep, k])
            slope_sum[k] += slope
            se_sum[k] += (slope - z * se, slope + z * se)
            rate_sum[k] += mean[keep, k].mean() / window
    dims = ("time",)
    return xr.Dataset(
        {
            "fano": (dims, slope_sum / n_resamples),
            "lower": (dims, se_sum[:, 0] / n_resamples),
            "upper": (dims, se_sum[:, 1] / n_resamples),
            "fano_all": (dims, all_slopes[:, 0]),
            "lower_all": (dims, all_slopes[:, 0] - z * all_slopes[:, 1]),
            "upper_all": (dims, all_slopes[:, 0] + z * all_slopes[:, 1]),
            "n_points": (dims, np.full(starts.size, n_kept, dtype=np.int64)),
            "mean_rate": (dims, rate_sum / n_resamples, {"units": "Hz"}),
            "mean_rate_all": (dims, mean.mean(axis=0) / window, {"units": "Hz"}),
        },
        coords={"time": ("time", centres, {"units": "s", "long_name": "window centre"})},
        attrs={
            "window": w * width,
            "step": s * width,
            "n_resamples": n_resamples,
            "ci_prob": float(ci_prob),
            "n_points_all": int(mean.shape[0]),
            "bin_spacing": float(bin_spacing),
        },
    )

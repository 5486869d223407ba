"""Rank-normalised split R-hat and bulk / tail ESS (Vehtari et al. 2021), vectorised over parameters.

The same numbers as ``arviz_stats.rhat`` and ``arviz_stats.ess(method="bulk" | "tail")`` (``tests/test_convergence.py``
checks the agreement), computed for every element of a variable at once instead of one element at a time:
ArviZ's loop took about 65 s for the 8,000 rates and 1,000 dispersions of a 1,000-unit fit (2 chains x 1,000
draws); this takes about a second. ``spikepool.checks.sampling.check_sampling`` uses it.

References
----------
Vehtari, Gelman, Simpson, Carpenter, Buerkner (2021). Rank-normalization, folding, and localization: an improved
R-hat for assessing convergence of MCMC. Bayesian Analysis 16(2).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import ndtri

from spikepool.exceptions import ArgumentError

__all__ = ["diagnose", "ess", "rhat"]

#: Fewest draws per chain a diagnostic is computed from (NaN below, as ArviZ).
MIN_DRAWS = 4


def _split(a: np.ndarray) -> np.ndarray:
    """(chain, draw, K) -> (2 chain, draw // 2, K): each chain's first and last halves as chains."""
    half = a.shape[1] // 2
    return np.concatenate([a[:, :half], a[:, a.shape[1] - half :]], axis=0)


def _z_scale(a: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks of each parameter's draws (Blom's offset 3/8), over all chains."""
    rows = np.ascontiguousarray(a.reshape(-1, a.shape[-1]).T)  # (K, draws): rank along contiguous rows
    order = np.argsort(rows, axis=1)
    ranks = np.empty_like(rows)
    np.put_along_axis(ranks, order, np.arange(1.0, rows.shape[1] + 1.0)[None, :], axis=1)
    tied = (np.diff(np.take_along_axis(rows, order, axis=1), axis=1) == 0).any(axis=1)
    if tied.any():  # average ranks of ties (rows without ties, the usual case, need no more)
        ranks[tied] = stats.rankdata(rows[tied], method="average", axis=1)
    z = ndtri((ranks - 0.375) / (rows.shape[1] + 0.25))
    return z.T.reshape(a.shape)


def _rhat(a: np.ndarray) -> np.ndarray:
    n = a.shape[1]
    between = n * np.var(a.mean(axis=1), axis=0, ddof=1)
    within = np.var(a, axis=1, ddof=1).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant parameter: NaN, as ArviZ
        return np.sqrt((between / within + n - 1) / n)


def _ess(a: np.ndarray) -> np.ndarray:
    """ESS of each parameter of (chain, draw, K) draws: Geyer's initial monotone sequence (as ArviZ)."""
    a = np.asarray(a, dtype=float)
    n_chain, n, k = a.shape
    size = n_chain * n
    centred = a - a.mean(axis=1, keepdims=True)
    m = next_fast_len(2 * n)
    f = rfft(centred, n=m, axis=1)
    acov = irfft(f * np.conjugate(f), n=m, axis=1)[:, :n] / n
    mean_var = acov[:, 0].mean(axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if n_chain > 1:
        var_plus = var_plus + np.var(a.mean(axis=1), axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (n, K)
    rho[0] = 1.0
    n_pairs = n // 2
    pairs = rho[0 : 2 * n_pairs : 2] + rho[1 : 2 * n_pairs : 2]  # P_j = rho_2j + rho_2j+1, (n_pairs, K)
    # pair j >= 1 is computed while every earlier pair is > 0 and 2j - 1 < n - 3 (ArviZ's loop)
    last = np.zeros(k, dtype=np.int64)  # J, the last pair computed (0: none)
    alive = pairs[0] > 0
    for j in range(1, n_pairs):
        if 2 * j - 1 >= n - 3 or not alive.any():
            break
        last = np.where(alive, j, last)
        alive = alive & (pairs[j] > 0)
    cols = np.arange(k)
    p_last = pairs[last, cols]
    even_last = np.where(last > 0, rho[2 * last, cols], 1.0)
    stored = (last > 0) & (p_last >= 0)
    tail_term = np.where(stored | (even_last > 0), even_last, 0.0)
    # Geyer's initial monotone sequence: pairs 0 .. J - 1 as their running minimum
    running = np.minimum.accumulate(pairs, axis=0)
    below = np.arange(n_pairs)[:, None] < last[None, :]
    tau = -1.0 + 2.0 * np.where(below, running, 0.0).sum(axis=0) + tail_term
    tau = np.maximum(tau, 1.0 / np.log10(size))
    out = size / tau
    constant = (a.max(axis=(0, 1)) - a.min(axis=(0, 1))) < np.finfo(float).resolution
    out = np.where(constant, float(size), out)
    return np.where(np.isnan(rho).any(axis=0) & ~constant, np.nan, out)


def _as_blocks(ds: xr.Dataset):
    for name, da in ds.data_vars.items():
        da = da.transpose("chain", "draw", ...)
        rest = da.dims[2:]
        values = np.asarray(da.values, dtype=float).reshape(da.shape[0], da.shape[1], -1)
        coords = {d: da[d] for d in rest if d in da.coords}
        yield name, values, rest, da.shape[2:], coords


#: Parameters diagnosed at a time (bounds the FFT's memory: 2 chains x 1,000 draws x 1,024 x 16 bytes x 2).
CHUNK = 1024


def _chunked(fn, values: np.ndarray) -> np.ndarray:
    """``fn`` of (chain, draw, K) draws, applied to at most ``CHUNK`` parameters at a time (last axis joined)."""
    parts = [fn(values[:, :, k : k + CHUNK]) for k in range(0, values.shape[2], CHUNK)]
    return np.concatenate(parts, axis=-1)


def _apply(ds: xr.Dataset, fn, min_chains: int, n_out: int = 1) -> list[xr.Dataset]:
    """``fn`` of each variable's (chain, draw, K) draws, giving ``n_out`` stacked (K,) results: one Dataset each,
    the variables without ``chain`` and ``draw``; NaN with too few chains or draws, or where a draw is NaN."""
    out: list[dict] = [{} for _ in range(n_out)]
    for name, values, rest, shape, coords in _as_blocks(ds):
        if values.shape[1] < MIN_DRAWS or values.shape[0] < min_chains or values.shape[2] == 0:
            result = np.full((n_out, values.shape[2]), np.nan)
        else:
            result = _chunked(fn, values).reshape(n_out, -1)
            result = np.where(np.isnan(values).any(axis=(0, 1)), np.nan, result)
        for k in range(n_out):
            out[k][name] = xr.DataArray(result[k].reshape(shape), dims=rest, coords=coords)
    return [xr.Dataset(d) for d in out]


def _larger(bulk: np.ndarray, folded: np.ndarray) -> np.ndarray:
    """ArviZ's ``max(bulk, folded)``: the folded R-hat where it is larger, else the bulk one (also where the folded
    one is NaN: chains stuck at different constants have a huge bulk R-hat and a NaN folded one)."""
    return np.where(folded > bulk, folded, bulk)


def _rhat_and_z(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rank-normalised R-hat (NaN with one chain) and the normal scores of the split chains (for the bulk
    ESS), ranking the draws once for both."""
    split = _split(a)
    z = _z_scale(split)
    if a.shape[0] < 2:
        return np.full(a.shape[-1], np.nan), z
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[-1]), axis=0))
    return _larger(_rhat(z), _rhat(_z_scale(folded))), z


def _ess_tail(a: np.ndarray) -> np.ndarray:
    from arviz_base import rcParams

    prob = float(rcParams["stats.ci_prob"])  # ArviZ's default tail: the quantiles 1 - prob and prob
    flat = a.reshape(-1, a.shape[-1])
    low, high = np.quantile(flat, sorted((prob, 1.0 - prob)), axis=0)
    return np.minimum(_ess(_split((a <= low).astype(float))), _ess(_split((a <= high).astype(float))))


def diagnose(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """``(rhat(ds), ess(ds, "bulk"), ess(ds, "tail"))``, ranking each variable's draws once for both."""

    def both(a: np.ndarray) -> np.ndarray:
        r, z = _rhat_and_z(a)
        return np.stack([r, _ess(z)])

    r_ds, b_ds = _apply(ds, both, min_chains=1, n_out=2)
    return r_ds, b_ds, ess(ds, method="tail")


def rhat(ds: xr.Dataset) -> xr.Dataset:
    """Rank-normalised split R-hat of every element of every variable of ``ds`` (chain, draw, ...).

    Parameters
    ----------
    ds : xarray.Dataset
        Posterior draws with dims ``chain`` and ``draw``.

    Returns
    -------
    xarray.Dataset
        The maximum of the bulk and folded (tail) R-hat, each variable without ``chain`` and ``draw``; NaN
        with fewer than 2 chains or 4 draws, or where a draw is NaN.
    """
    return _apply(ds, lambda a: _rhat_and_z(a)[0], min_chains=2)[0]


def ess(ds: xr.Dataset, method: str = "bulk") -> xr.Dataset:
    """Bulk (rank-normalised) or tail effective sample size of every element of ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
        Posterior draws with dims ``chain`` and ``draw``.
    method : {"bulk", "tail", "mean"}
        Bulk ESS of the rank-normalised split chains, or the smaller ESS of the indicators of the draws
        below two quantiles: ``1 - p`` and ``p`` with ArviZ's ``rcParams["stats.ci_prob"]`` (0.89 by
        default, as ``arviz_stats.ess(method="tail")``), or the ESS of the mean (the split chains as drawn,
        ``method="mean"``; PSIS-LOO's relative efficiency).

    Returns
    -------
    xarray.Dataset
        Each variable without ``chain`` and ``draw``; NaN with fewer than 4 draws or where a draw is NaN.
    """
    if method not in ("bulk", "tail", "mean"):
        raise ArgumentError(f"method must be 'bulk', 'tail' or 'mean'; got {method!r}.")
    fns = {"bulk": lambda a: _ess(_z_scale(_split(a))), "tail": _ess_tail, "mean": lambda a: _ess(_split(a))}
    fn = fns[method]
    return _apply(ds, fn, min_chains=1)[0]

"""Empirical Fano factors (variance / mean of counts across trials): per cell, and pooled per neuron with a
chi-square interval (the dispersion screen). The counts' summary, the checks and the fitted results' empirical
column all read them from here."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["FANO_CI_PROB", "cell_codes", "cell_fano", "cell_sums", "fano_screen"]

#: Central probability of the Fano-factor interval of the dispersion screen.
FANO_CI_PROB = 0.95


def cell_codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels (as str) and the code of each label."""
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    return names, codes.ravel()


def cell_sums(y: np.ndarray, valid: np.ndarray, codes: np.ndarray, n_cells: int):
    """Per (neuron, cell): number of valid trials, sum of counts, sum of squared counts."""
    onehot = np.zeros((codes.size, n_cells))
    onehot[np.arange(codes.size), codes] = 1.0
    w = valid.astype(np.float64)
    yw = y * w
    return w @ onehot, yw @ onehot, (yw * y) @ onehot


def cell_fano(n: np.ndarray, s: np.ndarray, ss: np.ndarray) -> np.ndarray:
    """Fano factor of each cell from its trial count ``n``, spike sum ``s`` and sum of squares ``ss``.

    ``var / mean`` with the unbiased variance (``ddof=1``); NaN where a cell has fewer than two trials or no
    spikes. Arrays broadcast (e.g. (neuron, cell) from ``cell_sums``).
    """
    n, s, ss = (np.asarray(a, dtype=np.float64) for a in (n, s, ss))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = (ss - s * mean) / (n - 1)
        return np.where((n >= 2) & (mean > 0), var / mean, np.nan)


def fano_screen(
    y: np.ndarray, valid: np.ndarray, codes: np.ndarray, n_cells: int, ci_prob: float = FANO_CI_PROB
) -> dict[str, np.ndarray]:
    """Per-neuron within-cell Fano factor with a chi-square interval (numpy core).

    The Poisson dispersion statistic ``D_i = sum_c sum_t (y_ict - ybar_ic)^2 / ybar_ic`` over cells
    with a non-zero mean and at least two valid trials has ``df_i = sum_c (n_ic - 1)`` degrees of
    freedom; ``F_i = D_i / df_i`` (the cells' ``cell_fano`` weighted by ``n_ic - 1``) estimates the Fano
    factor (Var / mean) and, treating
    ``D_i / F_i ~ chi2(df_i)``, ``[D_i / q_hi, D_i / q_lo]`` is its ``ci_prob`` interval.
    Under a Negative Binomial, ``Fano = 1 + mu / alpha`` (Var = mu + mu**2 / alpha).

    Returns
    -------
    dict
        ``fano``, ``fano_low``, ``fano_high`` (NaN where df = 0) and ``df``, each (neuron,).
    """
    n, s, ss = cell_sums(y, valid, codes, n_cells)
    fano = cell_fano(n, s, ss)
    usable = np.isfinite(fano)
    d = np.where(usable, (n - 1) * fano, 0.0).sum(axis=1)  # each cell's squared deviations over its mean
    df = np.where(usable, n - 1, 0).sum(axis=1)
    alpha = 1.0 - ci_prob
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = np.where(df > 0, d / np.maximum(df, 1), np.nan)
        low = np.where(df > 0, d / stats.chi2.ppf(1 - alpha / 2, np.maximum(df, 1)), np.nan)
        high = np.where(df > 0, d / stats.chi2.ppf(alpha / 2, np.maximum(df, 1)), np.nan)
    return {"fano": fano, "fano_low": low, "fano_high": high, "df": df.astype(np.int64)}

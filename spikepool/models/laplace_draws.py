"""Draws of the units' blocks for the nested Laplace fit (``spikepool.models.laplace``): Gaussian, or the log
dispersion from its marginal on a grid and the rest Gaussian given it (``DispersionGrid``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikepool.stats.laplace import LOG_2PI, BlockData, Hyper, block_modes, grid_draws

__all__ = ["GRID_SPAN", "DispersionGrid", "block_draws", "dispersion_grid"]

#: Nodes of the log dispersion's marginal, in sds of its Gaussian from the mode (the right tail, toward the
#: Poisson limit, is the long one).
GRID_SPAN = np.linspace(-6.0, 10.0, 41)


@dataclass(frozen=True)
class DispersionGrid:
    """Each block's log dispersion marginal on a grid, and its other values' Gaussian given each node.

    ``nodes``, ``log_d`` (N, G): the nodes and the Laplace log marginal density there; ``mode`` (G, N, d - 1):
    the other values' mode given the node; ``inv_lt`` (G, N, d - 1, d - 1) and ``log_det`` (G, N): the inverse
    transposed Cholesky factor of their Hessian there, and half its log determinant.
    """

    nodes: np.ndarray
    log_d: np.ndarray
    mode: np.ndarray
    inv_lt: np.ndarray
    log_det: np.ndarray


def dispersion_grid(data: BlockData, hyper: Hyper, z: np.ndarray, h: np.ndarray) -> DispersionGrid:
    """The ``DispersionGrid`` of the blocks at one hyperparameter setting (``hyper``, batch of 1), their modes ``z``
    (N, d) and Hessians ``h`` (N, d, d) there.

    At each node phi the other values are integrated out by Laplace (their mode given phi, ``pinned``):
    the NB's log dispersion is skewed (flat toward the Poisson limit), which one Gaussian misses, and the
    other values' spread given phi changes with it.
    """
    sd = np.sqrt(np.linalg.inv(h)[:, -1, -1])
    nodes = z[:, -1][:, None] + sd[:, None] * GRID_SPAN[None, :]
    start = np.repeat(z[None], GRID_SPAN.size, axis=0)
    start[..., -1] = nodes.T
    batch = Hyper(**{k: None if v is None else np.repeat(v, GRID_SPAN.size, axis=0) for k, v in vars(hyper).items()})
    z_grid, f, h_grid = block_modes(data, batch, start, pinned=True)
    chol = np.linalg.cholesky(h_grid[..., :-1, :-1])
    log_det = np.log(np.diagonal(chol, 0, -2, -1)).sum(-1)
    inv_lt = np.linalg.inv(np.swapaxes(chol, -1, -2))
    log_d = (-f + 0.5 * (z.shape[-1] - 1) * LOG_2PI - log_det).T
    return DispersionGrid(nodes, log_d, z_grid[..., :-1], inv_lt, log_det)


def block_draws(
    rng, z: np.ndarray, h: np.ndarray, n: int, grid: DispersionGrid | None = None, shift: np.ndarray | None = None
):
    """``n`` draws (n, N, d) of every block from its approximation at one theta, and their log densities (n, N).

    ``z`` (N, d) and ``h`` (N, d, d) are the blocks' modes and Hessians. Without ``grid`` the draws are
    Gaussian, N(z, h^-1). With a ``DispersionGrid`` (made at another theta: ``shift`` (N, d) is the blocks'
    mode here minus there), the log dispersion is drawn from its grid marginal and the other values from
    their Gaussian given it (mean interpolated between the segment's nodes, spread from the nearer node).
    """
    if grid is None:
        chol = np.linalg.cholesky(h)  # h = L L'; z + L'^-1 e has covariance h^-1
        e = rng.standard_normal((n, *z.shape))
        x = z + np.einsum("nij,snj->sni", np.linalg.inv(np.swapaxes(chol, -1, -2)), e)
        log_q = -0.5 * (e**2).sum(-1) - 0.5 * z.shape[-1] * LOG_2PI + np.log(np.diagonal(chol, 0, -2, -1)).sum(-1)
        return x, log_q
    phi, log_q, seg, frac = grid_draws(rng, grid.nodes, grid.log_d, n)
    unit = np.arange(z.shape[0])[None, :]
    nearest = seg + (frac > 0.5)
    mean = (1 - frac)[..., None] * grid.mode[seg, unit] + frac[..., None] * grid.mode[seg + 1, unit]
    e = rng.standard_normal(mean.shape)
    x = np.empty_like(mean)
    for first in range(0, n, 64):  # the factors gathered per draw: (64, N, d - 1, d - 1) at a time
        rows = slice(first, first + 64)
        x[rows] = np.einsum("snij,snj->sni", grid.inv_lt[nearest[rows], unit], e[rows])
    log_q = log_q - 0.5 * (e**2).sum(-1) - 0.5 * mean.shape[-1] * LOG_2PI + grid.log_det[nearest, unit]
    moved = 0.0 if shift is None else shift[None]
    return np.concatenate([mean + x, phi[..., None]], axis=-1) + moved, log_q

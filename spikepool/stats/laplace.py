"""Per-neuron blocks of the window-count model for the nested Laplace approximation (numpy only).

Given the hyperparameters, the neurons of ``HierarchicalNegBinom`` (partial pooling, Negative Binomial or
Poisson, dispersion per neuron, pooled or shared) are independent: neuron i's block of latent values is

    z_i = (eta_i1 .. eta_iC [, u_i] [, phi_i])

with eta_ic its log rate (Hz) in condition c, u_i its crossed neuron effect and phi_i = log alpha_i its
dispersion, and its log density (up to the data's constant)::

    log N(u_i; 0, tau_n) + sum_c log N(eta_ic; m_c + u_i, tau) + log N(phi_i; a, s)
        + sum_groups [T log mu - (T + n alpha) log(mu + alpha) + n alpha log alpha]
        + sum_pairs w [lgamma(y + alpha) - lgamma(alpha)] - sum log y!

(mu = d exp(eta) the mean count of a (neuron, condition, duration) group of n counts summing to T; the
Poisson's terms are T log mu - n mu). ``block_terms`` gives the blocks' negative log densities with exact
gradients and Hessians, ``block_modes`` their modes by damped Newton, ``laplace_terms`` the Laplace
approximation of each neuron's marginal likelihood. Every function takes a batch of B hyperparameter
settings at once (arrays with a leading axis B), so that finite differences and draws of the
hyperparameters run as one vectorised pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import sparse, special

from spikepool.stats.cells import CellGroups, CountPairs, count_tails, tails_cheaper

__all__ = [
    "BlockData",
    "Hyper",
    "block_data",
    "block_modes",
    "block_terms",
    "grid_draws",
    "laplace_terms",
]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class BlockData:
    """The sufficient statistics of the counts and the layout of each neuron's block.

    Attributes
    ----------
    n_neuron, n_cond : int
        Neurons and conditions.
    effect : bool
        Whether the block holds a crossed neuron effect ``u_i`` (after the C log rates).
    phi : bool
        Whether the block holds the neuron's log dispersion ``phi_i`` (last).
    negbin : bool
        Negative Binomial (True) or Poisson.
    groups : CellGroups
        (neuron, condition, duration) groups with their totals and sizes.
    pairs : CountPairs
        Distinct (neuron, count) pairs (the Negative Binomial's lgamma terms).
    tails : tuple of numpy.ndarray or None
        ``(neuron, k, weight)``: for every neuron and every k below its largest count, the number of its
        trials with a count above k. For whole-number counts ``lgamma(y + a) - lgamma(a)`` is
        ``sum_{k<y} log(a + k)``, so the pairs' lgamma, digamma and trigamma sums become sums of
        ``weight * log(a + k)``, ``weight / (a + k)`` and ``weight / (a + k)^2`` (exact, and several times
        faster). None where counts are so large that the pairs are cheaper.
    """

    n_neuron: int
    n_cond: int
    effect: bool
    phi: bool
    negbin: bool
    groups: CellGroups
    pairs: CountPairs
    tails: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        """Latent values per block."""
        return self.n_cond + int(self.effect) + int(self.phi)

    @functools.cached_property
    def sums(self) -> dict[str, sparse.csr_array]:
        """Sparse (target, term) matrices that sum the groups' and pairs' terms into neurons and cells."""
        gr = self.groups
        pair_neuron = self.tails[0] if self.tails is not None else self.pairs.neuron
        n, cells = self.n_neuron, self.n_neuron * self.n_cond

        def indicator(index: np.ndarray, size: int) -> sparse.csr_array:
            ones = np.ones(index.size)
            return sparse.csr_array((ones, (index, np.arange(index.size))), shape=(size, index.size))

        return {
            "neuron": indicator(gr.neuron, n),
            "cell": indicator(gr.neuron * self.n_cond + gr.condition, cells),
            "pair": indicator(pair_neuron, n),
        }


@dataclass(frozen=True)
class Hyper:
    """A batch of B hyperparameter settings (arrays with leading axis B).

    ``m`` (B, C) population mean log rates; ``tau`` (B,); ``tau_n`` (B,) or None without neuron effects;
    ``phi_loc``, ``phi_scale`` (B,) the Normal prior of each neuron's log dispersion (None without one);
    ``phi_shared`` (B,) one log dispersion for all neurons (None unless shared).
    """

    m: np.ndarray
    tau: np.ndarray
    tau_n: np.ndarray | None = None
    phi_loc: np.ndarray | None = None
    phi_scale: np.ndarray | None = None
    phi_shared: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return int(self.m.shape[0])


def block_data(groups: CellGroups, pairs: CountPairs, n_neuron: int, n_cond: int, *, effect: bool, phi: bool,
               negbin: bool) -> BlockData:  # fmt: skip
    """The ``BlockData`` of a model's groups and count pairs (with ``tails`` where they are cheaper)."""
    tails = count_tails(pairs, n_neuron) if negbin and tails_cheaper(pairs, n_neuron) else None
    return BlockData(n_neuron, n_cond, effect, phi and negbin, negbin, groups, pairs, tails)


def _scatter(values: np.ndarray, matrix: sparse.csr_array) -> np.ndarray:
    """Sum ``values`` (B, K) into (B, size) with an indicator ``matrix`` (size, K) of ``BlockData.sums``."""
    return (matrix @ values.T).T


def _prior(z: np.ndarray, data: BlockData, hyper: Hyper, order: int):
    """Negative log prior of the blocks (B, N), with gradient (B, N, d) and Hessian (d, d) per setting (B, d, d)."""
    c = data.n_cond
    eta = z[..., :c]
    u = z[..., c] if data.effect else 0.0
    tau2 = hyper.tau[:, None, None] ** 2
    resid = eta - hyper.m[:, None, :] - (u[..., None] if data.effect else 0.0)
    f = 0.5 * (resid**2 / tau2).sum(-1) + c * (np.log(hyper.tau)[:, None] + 0.5 * LOG_2PI)
    if data.effect:
        f = f + 0.5 * u**2 / hyper.tau_n[:, None] ** 2 + np.log(hyper.tau_n)[:, None] + 0.5 * LOG_2PI
    if data.phi:
        dphi = z[..., -1] - hyper.phi_loc[:, None]
        s = hyper.phi_scale[:, None]
        f = f + 0.5 * dphi**2 / s**2 + np.log(s) + 0.5 * LOG_2PI
    if order == 0:
        return f, None, None
    g = np.zeros_like(z)
    g[..., :c] = resid / tau2
    if data.effect:
        g[..., c] = -(resid / tau2).sum(-1) + u / hyper.tau_n[:, None] ** 2
    if data.phi:
        g[..., -1] = dphi / s**2
    d = data.size
    h = np.zeros((hyper.batch, d, d))
    inv = 1.0 / hyper.tau**2
    idx = np.arange(c)
    h[:, idx, idx] = inv[:, None]
    if data.effect:
        h[:, idx, c] = h[:, c, idx] = -inv[:, None]
        h[:, c, c] = c * inv + 1.0 / hyper.tau_n**2
    if data.phi:
        h[:, -1, -1] = 1.0 / hyper.phi_scale**2
    return f, g, h


def block_terms(z: np.ndarray, data: BlockData, hyper: Hyper, order: int = 2):
    """Negative log density of every block, with its gradient and Hessian.

    Parameters
    ----------
    z : numpy.ndarray
        float (B, N, d) blocks (``BlockData`` layout), one batch entry per hyperparameter setting.
    data : BlockData
    hyper : Hyper
        B settings.
    order : {0, 2}
        0: the values only; 2: with gradients (B, N, d) and Hessians (B, N, d, d).

    Returns
    -------
    f : numpy.ndarray
        (B, N) negative log joint density of each neuron's counts and block (normalised priors; the
        counts' ``log y!`` included).
    g, h : numpy.ndarray or None
    """
    gr, pr = data.groups, data.pairs
    n, c, bsz = data.n_neuron, data.n_cond, z.shape[0]
    f, gp, hp = _prior(z, data, hyper, order)
    sums = data.sums
    eta = z[:, gr.neuron, gr.condition]  # (B, G)
    log_mu = eta + np.log(gr.duration)
    mu = np.exp(log_mu)
    if data.negbin:
        phi = z[:, gr.neuron, -1] if data.phi else np.broadcast_to(hyper.phi_shared[:, None], eta.shape)
        alpha = np.exp(phi)
        log_ratio = np.logaddexp(0.0, log_mu - phi)  # log(1 + mu / alpha), exact for alpha >> mu
        # the group's terms less T phi, which the pairs' terms give back (sum of a neuron's pair terms
        # = its spikes x phi): both are then free of the cancellation of large terms when alpha >> mu
        ll = gr.total * log_mu - (gr.total + gr.n * alpha) * log_ratio
        if data.tails is not None:
            t_neuron, t_k, t_w = data.tails
            pair_neuron, pair_weight = t_neuron, t_w
        else:
            pair_neuron, pair_weight = pr.neuron, pr.weight
        pair_phi = (
            z[:, pair_neuron, -1] if data.phi else np.broadcast_to(hyper.phi_shared[:, None], (bsz, pair_neuron.size))
        )
        pair_alpha = np.exp(pair_phi)
        if data.tails is not None:
            shifted = pair_alpha + t_k
            lp = t_w * np.log1p(t_k * np.exp(-pair_phi))  # log(alpha + k) - phi
        else:
            lp = pr.weight * (special.gammaln(pr.y + pair_alpha) - special.gammaln(pair_alpha) - pr.y * pair_phi)
        ll_neuron = _scatter(ll, sums["neuron"]) + _scatter(lp, sums["pair"])
    else:
        ll_neuron = _scatter(gr.total * log_mu - gr.n * mu, sums["neuron"])
    log_fact = np.bincount(gr.neuron, gr.lf_sum, n)
    f = f - ll_neuron + log_fact[None, :]
    if order == 0:
        return f, None, None
    if data.negbin:
        share = np.exp(log_mu - phi - log_ratio)  # mu / (mu + alpha)
        d_eta = gr.total - (gr.total + gr.n * alpha) * share
        d_eta2 = -(gr.total + gr.n * alpha) * share * (1.0 - share)  # mu alpha / (mu + alpha)^2
    else:
        d_eta, d_eta2 = gr.total - gr.n * mu, -gr.n * mu
    g = gp.copy()
    g[..., :c] -= _scatter(d_eta, sums["cell"]).reshape(bsz, n, c)
    h = np.broadcast_to(hp[:, None], (bsz, n, *hp.shape[1:])).copy()
    ic = np.arange(c)
    h[:, :, ic, ic] -= _scatter(d_eta2, sums["cell"]).reshape(bsz, n, c)
    if data.phi:
        inv_ma = np.exp(-phi - log_ratio)  # 1 / (mu + alpha)
        # d/d alpha of the group terms (the pairs' terms are added below)
        d_alpha = (gr.n * mu - gr.total) * inv_ma - gr.n * log_ratio
        rest = 1.0 - share  # alpha / (mu + alpha)
        # alpha^2 d2/d alpha2 of the group terms = n mu s (1 - s) + T (1 - s)^2, s = mu / (mu + alpha): no
        # cancellation of O(n alpha) terms when alpha >> mu
        curv_alpha = gr.n * mu * share * rest + gr.total * rest**2
        if data.tails is not None:
            inv = 1.0 / shifted
            psi, psi1 = inv, -(inv**2)
        else:
            psi = special.digamma(pr.y + pair_alpha) - special.digamma(pair_alpha)
            psi1 = special.polygamma(1, pr.y + pair_alpha) - special.polygamma(1, pair_alpha)
        g_phi = _scatter(alpha * d_alpha, sums["neuron"]) + _scatter(pair_weight * pair_alpha * psi, sums["pair"])
        h_phi = (
            _scatter(curv_alpha, sums["neuron"]) + _scatter(pair_weight * pair_alpha**2 * psi1, sums["pair"]) + g_phi
        )
        cross = (gr.total - gr.n * mu) * share * rest  # alpha mu (T - n mu) / (mu + alpha)^2
        g[..., -1] -= g_phi
        h[..., -1, -1] -= h_phi
        cross_cell = _scatter(cross, sums["cell"]).reshape(bsz, n, c)
        h[:, :, ic, -1] -= cross_cell
        h[:, :, -1, ic] -= cross_cell
    return f, g, h


def _factor(h: np.ndarray) -> np.ndarray:
    """The Cholesky factors of ``h`` (..., d, d), each shifted along its diagonal where it is not positive
    definite (a Newton step from far off a mode: the log dispersion's curvature can be negative there)."""
    try:
        return np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        low = np.linalg.eigvalsh(h)[..., 0]
        shift = np.maximum(0.0, 1e-6 - low) * (1.0 + 1e-6)
        return np.linalg.cholesky(h + shift[..., None, None] * np.eye(h.shape[-1]))


def _cho_solve(chol: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``(L L')^-1 g`` per block: forward then back substitution, vectorised over the blocks."""
    d = g.shape[-1]
    y = np.empty_like(g)
    for i in range(d):
        y[..., i] = (g[..., i] - (chol[..., i, :i] * y[..., :i]).sum(-1)) / chol[..., i, i]
    x = np.empty_like(g)
    for i in reversed(range(d)):
        x[..., i] = (y[..., i] - (chol[..., i + 1 :, i] * x[..., i + 1 :]).sum(-1)) / chol[..., i, i]
    return x


def block_modes(
    data: BlockData, hyper: Hyper, z0: np.ndarray, tol: float = 1e-14, max_iter: int = 100, pinned: bool = False
):
    """The mode of every block by damped Newton with backtracking, each block on its own.

    Parameters
    ----------
    data : BlockData
    hyper : Hyper
        B settings.
    z0 : numpy.ndarray
        (B, N, d) or (N, d) starting blocks.
    tol : float
        Stop when every block's Newton decrement g' H^-1 g is below it.
    pinned : bool
        Hold the last value of every block (the log dispersion) where ``z0`` has it: the mode of the others
        given it.

    Returns
    -------
    z, f, h : numpy.ndarray
        The modes (B, N, d), their negative log densities (B, N) and Hessians (B, N, d, d).
    """
    z = np.array(np.broadcast_to(z0, (hyper.batch, data.n_neuron, data.size)), dtype=float)
    f, g, h = block_terms(z, data, hyper)
    free = slice(0, data.size - 1) if pinned else slice(None)
    stalled = np.zeros(z.shape[:2], dtype=bool)
    for _ in range(max_iter):
        step = np.zeros_like(z)
        step[..., free] = -_cho_solve(_factor(h[..., free, free]), g[..., free])
        decrement = -(g * step).sum(-1)
        active = (decrement > tol) & ~stalled
        if not active.any():
            break
        t = active.astype(float)
        for _ in range(30):
            trial = z + t[..., None] * step
            with np.errstate(over="ignore", invalid="ignore"):  # a full step can overshoot: halved below
                f_new, g_new, h_new = block_terms(trial, data, hyper)
            bad = active & ~(f_new <= f - 1e-4 * t * decrement + 1e-13 * np.abs(f))
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
        if bad.any():  # no step helps: at the mode to rounding (the decrement is below f's precision)
            stalled |= bad
            trial[bad] = z[bad]
            f_new, g_new, h_new = block_terms(trial, data, hyper)
        z, f, g, h = trial, f_new, g_new, h_new
    return z, f, h


def grid_draws(rng, nodes: np.ndarray, log_d: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Draws from 1-D densities given on a grid, exact for a log density linear between the nodes.

    Parameters
    ----------
    rng : numpy.random.Generator
    nodes : numpy.ndarray
        (N, G) equally spaced nodes of each of N densities.
    log_d : numpy.ndarray
        (N, G) unnormalised log densities at the nodes.
    n : int
        Draws of each.

    Returns
    -------
    x, log_q : numpy.ndarray
        (n, N) draws and their normalised log densities.
    seg, frac : numpy.ndarray
        (n, N) the segment of each draw (its left node) and where in it (0 to 1).
    """
    log_d = np.maximum(log_d, log_d.max(axis=1, keepdims=True) - 700.0)  # exp() of every difference is finite
    width = nodes[:, 1] - nodes[:, 0]
    rise = log_d[:, 1:] - log_d[:, :-1]
    # each segment's mass: width exp(l0) (exp(rise) - 1) / rise
    log_mass = log_d[:, :-1] + np.log(width)[:, None] + _log_expm1_ratio(rise)
    log_z = np.logaddexp.reduce(log_mass, axis=1)
    cum = np.cumsum(np.exp(log_mass - log_z[:, None]), axis=1)
    u = rng.random((2, n, nodes.shape[0]))
    seg = np.minimum((cum[None] < u[0][..., None]).sum(-1), nodes.shape[1] - 2)  # (n, N)
    row = np.arange(nodes.shape[0])[None, :]
    a = rise[row, seg]
    frac = _inverse_exp_cdf(u[1], a)
    x = nodes[row, seg] + frac * width[None, :]
    log_q = log_d[row, seg] + a * frac - log_z[None, :]
    return x, log_q, seg, frac


def _log_expm1_ratio(a: np.ndarray) -> np.ndarray:
    """``log((exp(a) - 1) / a)``, 0 at a = 0, without overflow."""
    tiny = np.abs(a) < 1e-8
    b = np.where(tiny, 1.0, a)
    pos = b + np.log(-np.expm1(-np.abs(b))) - np.log(np.abs(b))
    neg = np.log(-np.expm1(-np.abs(b))) - np.log(np.abs(b))
    return np.where(tiny, a / 2, np.where(b > 0, pos, neg))


def _inverse_exp_cdf(u: np.ndarray, a: np.ndarray) -> np.ndarray:
    """t in [0, 1] with (exp(a t) - 1) / (exp(a) - 1) = u: a draw within a segment whose log density rises by a."""
    tiny = np.abs(a) < 1e-8
    b = np.where(tiny, 1.0, a)
    pos = 1.0 + np.log(u + (1.0 - u) * np.exp(-np.abs(b))) / np.abs(b)
    neg = np.log1p(u * np.expm1(-np.abs(b))) / -np.abs(b)
    return np.where(tiny, u, np.where(b > 0, pos, neg))


def laplace_terms(f: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Each block's Laplace log marginal likelihood (B, N): ``-f + d/2 log 2 pi - 1/2 log det h`` at the mode."""
    chol = _factor(h)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    return -f + 0.5 * h.shape[-1] * LOG_2PI - 0.5 * logdet

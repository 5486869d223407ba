"""The pieces of ``HierarchicalGLM``'s linear predictor: the fixed part, what a centered level is centred on,
and the crossed grouping whose projection on the fixed part is swept into it.

A crossed intercept-only grouping such as ``(1 | trial)`` beside ``(1 | neuron)`` leaves the likelihood
unchanged when every neuron's level moves up and every trial's gain moves down by the same amount, and when
the gains of one condition's trials move down while that condition's effect moves up: the fixed columns
constant within a trial (``W``, level x p) and the gains share directions that only the gains' prior holds
(sd ``sd_trial / sqrt(n)``), and with a few hundred neurons NUTS crawled along them (R-hat 1.2-1.3). The gains
``g ~ N(0, sd^2 I)`` are sampled as ``g = W a + Q u``: their projection on ``W``'s columns, ``a ~ N(0, sd^2
(W'W)^-1)``, and the rest in an orthonormal basis ``Q`` of the complement, ``u ~ N(0, sd^2 I)`` (the same
density: a linear change of variables with constant Jacobian). ``W a`` is then swept into the fixed effects:
the free coefficients are ``beta + E a`` (``E`` puts ``a`` in its columns' places; prior ``N(loc + E a,
scale)``), every centered level centred on them moves with them, and the likelihood sees ``Q u`` only. The model
is unchanged; ``beta`` and ``b_<g>`` = ``W a + Q u`` are reported as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikepool.models.likelihoods import take


@dataclass(frozen=True)
class Sweep:
    """The swept grouping ``index``: ``columns`` (p,) of the coefficients its levels' projection goes to,
    ``W`` (level, p), ``cov_chol`` (p, p) with ``cov_chol cov_chol' = (W'W)^-1``, and the complement's basis:
    ``Q`` (level, level - p) dense, or where ``W``'s distinct rows span it (categorical columns: cells of
    levels) ``cells`` (level,) and a Helmert basis within each cell, applied in O(level) (``orthogonal_part``).
    """

    index: int
    columns: np.ndarray
    W: np.ndarray
    cov_chol: np.ndarray
    Q: np.ndarray | None = None
    cells: np.ndarray | None = None

    @property
    def n_free(self) -> int:
        return self.W.shape[0] - self.W.shape[1]

    def basis(self) -> np.ndarray:
        """(level, level - p): the orthonormal basis of the complement of ``W``'s columns, as a matrix."""
        return self.Q if self.Q is not None else orthogonal_part(self, np.eye(self.n_free)).T


def orthogonal_part(sweep: Sweep, u, pt=None):
    """``Q u`` (level,) for ``u`` (level - p,), a PyTensor vector when ``pt`` is given (numpy: (..., level - p)).

    Within a cell of m levels (in level order) the k-th Helmert vector is ``(1, ..., 1, -k, 0, ...) / sqrt(k (k
    + 1))``, k = 1..m-1: level j of the cell gets ``sum_{k > j} s_k - j s_j`` with ``s_k = u_k / sqrt(k (k + 1))``,
    a reverse cumulative sum.
    """
    if sweep.Q is not None:
        return pt.dot(sweep.Q, u) if pt is not None else u @ sweep.Q.T
    order = np.argsort(sweep.cells, kind="stable")
    n = order.size
    start = np.searchsorted(sweep.cells[order], sweep.cells[order], side="left")
    end = np.searchsorted(sweep.cells[order], sweep.cells[order], side="right")
    k = np.arange(n) - start  # position in the cell
    slot = np.flatnonzero(k > 0)
    scale = 1.0 / np.sqrt(k[slot] * (k[slot] + 1.0))
    unsort = np.argsort(order)
    if pt is not None:
        full = pt.zeros(n + 1)[slot].set(u * scale)
        suffix = pt.cumsum(full[::-1])[::-1]
        return (suffix[1:] - suffix[end] - k * full[:n])[unsort]
    full = np.zeros((*u.shape[:-1], n + 1))
    full[..., slot] = u * scale
    suffix = np.cumsum(full[..., ::-1], axis=-1)[..., ::-1]
    return (suffix[..., 1:] - suffix[..., end] - k * full[..., :n])[..., unsort]


def swept_grouping(design) -> Sweep | None:
    """The intercept-only grouping crossed with another one that has an intercept (the one with the most levels
    when several are), and no grouping nested in it, with the bases of its sweep; or None."""
    candidates = []
    for i, g in enumerate(design.groups):
        if tuple(g.effects) != ("Intercept",) or "Intercept" not in design.coefs:
            continue
        others = [f for j, f in enumerate(design.groups) if j != i]
        if any(parent_levels(f.level, g.level, f.n_levels) is not None for f in others):
            continue  # a finer grouping centres on its levels
        if any("Intercept" in f.effects and parent_levels(g.level, f.level, g.n_levels) is None for f in others):
            candidates.append(i)
    if not candidates:
        return None
    i = max(candidates, key=lambda i: design.groups[i].n_levels)
    W = within_level(design, design.groups[i])
    columns: list[int] = []
    for j in np.flatnonzero(W.any(axis=0)):  # linearly independent columns, in order
        if np.linalg.matrix_rank(W[:, [*columns, j]]) == len(columns) + 1:
            columns.append(int(j))
    W = W[:, columns]
    if W.shape[1] >= W.shape[0]:
        return None
    common = {"index": i, "columns": np.asarray(columns, dtype=np.int64), "W": W}
    common["cov_chol"] = np.linalg.cholesky(np.linalg.inv(W.T @ W))
    rows, cells = np.unique(W, axis=0, return_inverse=True)
    if rows.shape[0] == W.shape[1]:  # the cells' indicators span W's columns: zero-sum within each cell
        return Sweep(**common, cells=cells.ravel())
    return Sweep(**common, Q=np.linalg.svd(W, full_matrices=True)[0][:, W.shape[1] :])


def absorbing_grouping(design) -> tuple[int | None, np.ndarray | None]:
    """The ``neuron`` grouping whose intercept (its first effect) takes each neuron's mean shared gain, with the
    neuron (index into the counts) of each of its levels; ``(None, None)`` when there is none.

    Shared factor scores ``f_jt`` and every neuron's intercept trade off as ``f_jt + c``, ``theta_i - w_ij c``:
    the scores are sampled as their mean and deviations, and ``sum_j w_ij mean_j`` is drawn with ``theta_i``.
    """
    for i, g in enumerate(design.groups):
        if g.key != "neuron" or g.effects[0] != "Intercept":
            continue
        neuron = np.full(g.n_levels, -1, dtype=np.int64)
        neuron[g.level] = design.obs_neuron
        if (neuron >= 0).all():
            return i, neuron
    return None, None


def householder_chain(directions: np.ndarray) -> list[np.ndarray]:
    """Householder vectors (each (neuron,), or None for the identity) of reflections ``H_1 ... H_m`` whose
    product maps ``e_j`` to the orthonormal ``directions[:, j]`` (neuron, m): ``reflect(x, chain[:j])`` with
    ``x``'s first j entries 0 spans the complement of the first j directions, at O(neuron) per reflection."""
    chain: list[np.ndarray | None] = []
    for j in range(directions.shape[1]):
        d = unreflect(directions[:, j].astype(np.float64), chain)  # d_j = H_{j-1} ... H_1 c_j
        h = -d
        h[j] += 1.0
        chain.append(None if h @ h < 1e-24 else h)
    return chain


def reflect_once(x, h):
    """``x`` reflected through the hyperplane orthogonal to ``h`` (numpy or PyTensor; the identity where ``h`` is
    0, as a PyTensor ``h`` built from sampled values may be)."""
    return x - h * (2.0 * (x * h).sum() / ((h * h).sum() + 1e-300))


def reflect(x, chain: list):
    """``H_1 ... H_m x`` for the chain's reflections (the last applied first); numpy or PyTensor ``x``."""
    for h in reversed(chain):
        if h is not None:
            x = reflect_once(x, h)
    return x


def unreflect(x, chain: list):
    """The inverse of ``reflect(x, chain)`` (the first reflection applied first): the coordinates of ``x`` in the
    chain's frame; numpy or PyTensor ``x``."""
    for h in chain:
        if h is not None:
            x = reflect_once(x, h)
    return x


def within_level(design, g) -> np.ndarray:
    """(level, coef): each level's value of every fixed column that is constant within it (0 elsewhere, and for
    a grouping's slope columns): what a centered level's intercept is centred on."""
    coefs = list(design.coefs)
    counts = np.bincount(g.level, minlength=g.n_levels)
    slopes = set(g.effects) - {"Intercept"}
    W = np.zeros((g.n_levels, len(coefs)))
    for j in (j for j, c in enumerate(coefs) if c not in slopes):
        low = np.full(g.n_levels, np.inf)
        high = np.full(g.n_levels, -np.inf)
        np.minimum.at(low, g.level, design.X[:, j])
        np.maximum.at(high, g.level, design.X[:, j])
        W[:, j] = np.where((counts > 0) & (low == high), np.where(np.isfinite(low), low, 0.0), 0.0)
    return W


def fixed_part(pt, X: np.ndarray, beta):
    """``X @ beta`` (group,): the few distinct rows' products gathered where rows repeat (categories), else a sum
    of columns (PyTensor's matrix-vector product without a linked BLAS costs several times the elementwise one)."""
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    if rows.shape[0] * 4 <= X.shape[0]:
        return take(pt.dot(rows, beta), inverse.ravel())
    if X.shape[1] <= 16:
        return sum(X[:, j] * beta[j] for j in range(X.shape[1]) if np.any(X[:, j] != 0))
    return pt.dot(X, beta)


def rows_of(pt, W: np.ndarray, beta):
    """``W @ beta`` (level,) without a dense product where ``W`` selects at most one column per row (a level's
    condition code) or nothing at all."""
    nonzero = W != 0
    if not nonzero.any():
        return pt.zeros(W.shape[0])
    if (nonzero.sum(axis=1) <= 1).all():
        index = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), 0)
        weight = W[np.arange(W.shape[0]), index]
        return beta[index] if np.all(weight == 1.0) else beta[index] * weight
    return pt.dot(W, beta)


def parent_levels(fine: np.ndarray, coarse: np.ndarray, n_fine: int) -> np.ndarray | None:
    """int (fine level,): the coarse level each fine level lies in (-1 for a level without observations), or
    None when some fine level spans several coarse levels (the groupings are not nested)."""
    parent = np.full(n_fine, -1, dtype=np.int64)
    pairs = np.unique(np.stack([fine, coarse], axis=1), axis=0)
    if np.unique(pairs[:, 0]).size != pairs.shape[0]:
        return None
    parent[pairs[:, 0]] = pairs[:, 1]
    return parent

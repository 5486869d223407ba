"""The shared factors of ``HierarchicalGLM(shared=k)`` in the coordinates they are sampled in.

The model: neuron i's log rate on trial t gains ``sum_j w_ij f_jt``, scores ``f_jt ~ N(0, 1)`` and loadings
``w_ij ~ N(0, sd_loading_j)`` with ``sd_loading_j ~ HalfNormal(loading_scale)``. The likelihood sees only the
product ``W F'`` (neuron x trial), which is unchanged when ``W -> W A^-T``, ``F -> F A`` for any invertible k x k
``A``: the rotations, the scales and the shears among the factors. Each is taken out of the coordinates NUTS
moves in:

- **the scores' mean**: ``f_jt = m_j + d_jt`` with ``sum_t d_jt = 0``; each neuron's ``sum_j w_ij m_j`` is drawn
  with its intercept (``spikepool.models.glm_parts.absorbing_grouping``);
- **rotation**: factor j's loadings are orthogonal to the data's first j - 1 directions of shared variation
  (``spikepool.models.glm_data.shared_directions``; ``householder_chain``);
- **scales and shears**: only the scores' prior pins them (the scale of a factor to a relative sd ``1 /
  sqrt(2 T)``), and each moves every score and loading at once: at 1,000 neurons x 400 trials a third of each
  one's own sd, along which NUTS crawled (R-hat 1.09 after 2 x 1,000 draws). The deviations ``D_f`` (trial -
  1 zero-sum coordinates x k) are sampled by their Bartlett decomposition ``D_f = U R``: ``U`` with orthonormal
  columns, uniform (each column a direction in stereographic coordinates around the data's direction of the
  scores, orthogonal to the earlier ones: ``stiefel_points``), and ``R`` upper triangular with ``R_jj^2 ~
  chi^2(T - j)`` (``factor_variance`` = ``R_jj^2 / (T - j) ~ Gamma``) and ``R_ij ~ N(0, 1)`` above the diagonal
  (``factor_overlap``), all independent. The loadings are sampled as ``A = W R' / sqrt(T - 1)``
  (``loading_f<j>_*``): the likelihood sees ``A`` and ``sqrt(T - 1) U`` only, and ``R`` enters the prior only.
  Given ``R``, ``A``'s columns are drawn from the last to the first, each Normal around what the later ones
  imply, with sd ``sd_loading_scaled_j = sd_loading_j R_jj / sqrt(T - 1) ~ HalfNormal(loading_scale R_jj /
  sqrt(T - 1))``.

Each is an exact change of variables (the Bartlett decomposition of iid normal columns; a linear map of the
loadings given ``R``), so the model is unchanged: ``loading``, ``sd_loading`` and ``factor_score`` are reported
on the model's own scale.
"""

from __future__ import annotations

import numpy as np

from spikepool.models.glm_parts import householder_chain, reflect, reflect_once, unreflect
from spikepool.models.likelihoods import take


def _zero_sum_embedding(x, pt=None):
    """(..., n + 1): the orthonormal map of ``x`` (..., n) into the zero-sum subspace of R^(n + 1) (PyMC's
    ``ZeroSumTransform.backward``)."""
    lib = pt if pt is not None else np
    n = x.shape[-1] + 1
    total = x.sum(axis=-1, keepdims=True)
    norm = total / (np.sqrt(n) + n)
    return lib.concatenate([x, norm - total / np.sqrt(n)], axis=-1) - norm


def zero_sum_coordinates(y: np.ndarray) -> np.ndarray:
    """(..., n - 1): the coordinates of zero-sum ``y`` (..., n) under ``_zero_sum_embedding`` (its inverse)."""
    n = y.shape[-1]
    total = -np.sqrt(n) * y[..., -1:]
    return y[..., :-1] + total / (np.sqrt(n) + n)


def stiefel_points(zetas: list, poles: np.ndarray, pt):
    """Orthonormal rows ``U`` (factor, n) and the log density (up to a constant) of a uniform ``U`` in these
    coordinates, from stereographic coordinates ``zetas[j]`` (n - 1 - j,) per factor; PyTensor.

    Row j is a unit vector orthogonal to rows 0..j-1. Its sphere (dimension m = n - 1 - j) is reached from
    ``z = zetas[j] / sqrt(2 m)`` (the uniform density then about N(0, 1) per coordinate near 0) by ``s = (2 z,
    |z|^2 - 1) / (1 + |z|^2)``, mapped into the complement of the earlier rows by the Householder chain that
    takes ``e_0..e_{j-1}`` to them; a last reflection, which fixes the earlier rows, puts ``z = 0`` at ``poles[j]``
    (n,) made orthogonal to them. The uniform density is ``(2 / (1 + |z|^2))^m`` in ``z``; the antipode of the
    pole is at infinity, so a chain started near ``z = 0`` keeps each factor's sign.
    """
    n = poles.shape[1]
    rows, chain, log_density = [], [], 0.0
    south = np.zeros(n)
    south[-1] = -1.0
    for j, zeta in enumerate(zetas):
        m = n - 1 - j
        z = zeta / np.sqrt(2.0 * m)
        sq = (z**2).sum()
        s = pt.concatenate([pt.zeros(j), 2.0 * z, (sq - 1.0)[None]]) / (1.0 + sq)
        image, start = s, pt.as_tensor(south)
        for h in reversed(chain):  # the chain's product (the last reflection applied first)
            image, start = reflect_once(image, h), reflect_once(start, h)
        pole = pt.as_tensor(poles[j])
        for u in rows:
            pole = pole - u * (u * pole).sum()
        pole = pole / pt.sqrt((pole * pole).sum() + 1e-300)
        row = reflect_once(image, start - pole)
        log_density = log_density + m * (np.log(2.0) - pt.log1p(sq))
        d = row  # the next reflection of the chain: H_j ... H_0 row = e_j
        for h in chain:
            d = reflect_once(d, h)
        chain.append(pt.set_subtensor((-d)[j], 1.0 - d[j]))
        rows.append(row)
    return pt.stack(rows), log_density


def shared_factors(pm, pt, data, loading_scale: float):
    """The shared factors of ``data`` (a ``GLMData``) in the current ``pm.Model``.

    Returns ``scaled`` (neuron, factor): ``A = W R' / sqrt(T - 1)``; ``unit`` (factor, trial): ``sqrt(T - 1)``
    times ``U``'s rows in the zero-sum subspace of the trials (``scaled @ unit`` is the scores' deviations'
    gain); ``loading`` W (neuron, factor); the scores' mean (factor,). Records ``loading``, ``sd_loading`` and
    ``factor_score`` (trial, factor) as Deterministics.
    """
    k, n, n_trials = data.shared, data.counts.sizes["neuron"], data.counts.sizes["trial"]
    dim = n_trials - 1  # of the zero-sum subspace
    dof = dim - np.arange(k)
    variance = pm.Gamma("factor_variance", alpha=dof / 2.0, beta=dof / 2.0, dims="factor")
    diagonal = pt.sqrt(dof * variance)
    upper = np.triu_indices(k, 1)
    R = pt.diag(diagonal)
    if k > 1:
        R = R[upper].set(pm.Normal("factor_overlap", 0.0, 1.0, shape=upper[0].size))
    sd = pm.HalfNormal("sd_loading_scaled", sigma=loading_scale * diagonal / np.sqrt(dim), dims="factor")
    pm.Deterministic("sd_loading", sd * np.sqrt(dim) / diagonal, dims="factor")
    chain = householder_chain(data.directions[:, : k - 1])
    scaled, loading = [None] * k, [None] * k
    for j in reversed(range(k)):  # factor j orthogonal to the first j directions: n - j free values
        shift = sum((R[j, i] * loading[i] for i in range(j + 1, k)), pt.zeros(n)) / np.sqrt(dim)
        centre = unreflect(shift, chain[:j])[j:]
        if data.loading_centered[j]:
            free = pm.Normal(f"loading_f{j + 1}_centered", centre, sd[j], shape=n - j)
        else:
            free = centre + sd[j] * pm.Normal(f"loading_f{j + 1}_offset", 0.0, 1.0, shape=n - j)
        scaled[j] = reflect(pt.concatenate([pt.zeros(j), free]) if j else free, chain[:j])
        loading[j] = (scaled[j] - shift) * np.sqrt(dim) / diagonal[j]
    loading = pm.Deterministic("loading", pt.stack(loading, axis=1), dims=("neuron", "factor"))
    zetas = [pm.Flat(f"factor_f{j + 1}_direction", shape=dim - 1 - j) for j in range(k)]
    rows, log_density = stiefel_points(zetas, zero_sum_coordinates(data.score_directions.T), pt)
    pm.Potential("factor_direction_density", log_density)
    unit = _zero_sum_embedding(rows, pt)  # (factor, trial)
    mean = pm.Normal("factor_mean_offset", 0.0, 1.0, dims="factor") / np.sqrt(n_trials)
    deviation = sum(R[i][:, None] * unit[i][None, :] for i in range(k))  # R' U: row j = sum_i R_ij u_i
    pm.Deterministic("factor_score", (deviation + mean[:, None]).T, dims=("trial", "factor"))
    return pt.stack(scaled, axis=1), np.sqrt(dim) * unit, loading, mean


def shared_gain(data, loading, scores):
    """(group,): each likelihood group's shared log gain ``sum_j w_ij s_jt`` for scores (factor, trial)."""
    neuron, trial = data.obs.by
    cell = neuron * data.counts.sizes["trial"] + trial
    # every (neuron, trial), elementwise: PyTensor's matrix product without a linked BLAS is many times slower
    gain = (loading[:, :, None] * scores[None, :, :]).sum(axis=1).reshape((-1,))
    return take(gain, cell)

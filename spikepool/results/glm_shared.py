"""Shared variability of a formula fit: variance partition, noise correlations and the trial gains.

A shared term is a ``(... | trial)`` grouping (a gain shared by every neuron recorded on a trial) or the
``shared`` factors (neuron i's gain ``sum_j w_ij f_jt``). Given the rest of the model, neuron i's log rate on
trial t is ``eta_it + s_it`` with ``s_it`` Normal(0, v_i) across trials and ``Cov(s_it, s_lt) = c_il``
(``c = Z_n Sigma_trial Z_n' + W W'``, ``Z_n`` each neuron's row of the trial grouping's design). With
``mu = exp(eta) * duration`` and ``m = E[y] = mu exp(v / 2)``, the law of total variance splits a count's
variance into

- Poisson: ``m``;
- private: ``E[Var(y | s)] - m`` (the Negative Binomial's ``m**2 exp(v) / alpha``: its dispersion on top of
  the Poisson's; negative for an under-dispersed COM-Poisson);
- shared: ``Var(E[y | s]) = m**2 (exp(v) - 1)``;

and two neurons' counts on a trial co-vary by ``m_i m_l (exp(c_il) - 1)``, so their correlation at fixed
covariates is ``(exp(c_il) - 1) m_i m_l / sqrt(V_i V_l)``. Both are computed per draw and trial and averaged
over the trials (a neuron's valid trials; a pair's common ones).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob, did_you_mean
from spikepool.counts.design import Design, dispersion_units
from spikepool.exceptions import ArgumentError
from spikepool.results.glm_predict import flat_draws
from spikepool.stats.families import family_of
from spikepool.stats.intervals import draw_summary

__all__ = [
    "align_factor_signs",
    "draw_chunks",
    "draw_index",
    "gains",
    "has_shared",
    "noise_correlations",
    "partition_table",
    "raw_noise_correlations",
    "require_shared",
    "shared_covariance",
    "summarize",
    "trial_groupings",
    "variance_partition",
    "variance_parts",
]

#: Gauss-Hermite nodes for a family without a closed form of ``E[Var(y | s)]`` (the COM-Poisson).
HERMITE_NODES = 12


def draw_index(post: xr.Dataset, max_draws: int | None) -> np.ndarray:
    """Evenly spaced indices into the flattened (chain x draw) samples, at most ``max_draws`` of them."""
    total = post.sizes["chain"] * post.sizes["draw"]
    if max_draws is None or max_draws >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, int(max_draws)).round().astype(np.int64))


def draw_chunks(index: np.ndarray, n_obs: int, budget: int = 4_000_000) -> list[np.ndarray]:
    """``index`` split so that a chunk's (draw, obs) arrays hold at most ``budget`` values (bounded memory)."""
    step = max(1, budget // max(1, n_obs))
    return [index[i : i + step] for i in range(0, index.size, step)]


def trial_groupings(design: Design) -> list[int]:
    """Indices of the groupings whose levels are the trials."""
    return [i for i, g in enumerate(design.groups) if g.name == "trial"]


def has_shared(design: Design, spec: dict) -> bool:
    return bool(trial_groupings(design)) or bool(spec.get("shared", 0))


def _neuron_rows(design: Design, i: int, n_neurons: int) -> np.ndarray:
    """(neuron, effect): each neuron's row of trial grouping ``i``'s design, which must not vary over trials."""
    g = design.groups[i]
    rows = np.ones((n_neurons, len(g.effects)))
    for n in range(n_neurons):
        mine = g.Z[design.obs_neuron == n]
        if mine.size and np.ptp(mine, axis=0).max() > 0:
            raise ArgumentError(
                f"shared variability needs the effects of '( | trial)' to be the same on every trial of a neuron; "
                f"got {list(g.effects)} varying over neuron {n}'s trials. Hint: keep '(1 | trial)' (a gain) or "
                "effects of neuron coordinates only."
            )
        if mine.size:
            rows[n] = mine[0]
    return rows


def shared_covariance(post: xr.Dataset, design: Design, n_neurons: int, index: np.ndarray) -> np.ndarray:
    """(draw, neuron, neuron): the covariance of the neurons' shared log gains on a trial, per draw."""
    cov = np.zeros((index.size, n_neurons, n_neurons))
    for i in trial_groupings(design):
        g = design.groups[i]
        z = _neuron_rows(design, i, n_neurons)
        sd = flat_draws(post, f"sd_{g.key}", f"{g.key}_effect", index=index)
        if f"corr_{g.key}" in post and len(g.effects) > 1:
            corr = flat_draws(post, f"corr_{g.key}", f"{g.key}_effect", f"{g.key}_effect_bis", index=index)
        else:
            corr = np.broadcast_to(np.eye(len(g.effects)), (index.size, len(g.effects), len(g.effects)))
        sigma = sd[:, :, None] * corr * sd[:, None, :]
        cov += np.einsum("nk,skl,ml->snm", z, sigma, z)
    if "loading" in post:
        w = flat_draws(post, "loading", "neuron", "factor", index=index)
        cov += np.einsum("snk,smk->snm", w, w)
    return cov


def nonshared_mean(post: xr.Dataset, design: Design, index: np.ndarray) -> np.ndarray:
    """(draw, obs): each valid (neuron, trial)'s mean count without the shared terms (``mu`` of the docstring)."""
    beta = flat_draws(post, "beta", "coef", index=index)
    eta = beta @ design.X.T
    shared = set(trial_groupings(design))
    for i, g in enumerate(design.groups):
        if i in shared:
            continue
        b = flat_draws(post, f"b_{g.key}", g.key, f"{g.key}_effect", index=index)
        eta += np.einsum("sok,ok->so", b[:, g.level, :], g.Z)
    return np.exp(eta) * design.duration


def variance_parts(
    post: xr.Dataset, design: Design, spec: dict, unit: np.ndarray, n_neurons: int, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per draw and valid (neuron, trial) (draw, obs): ``m``, the Poisson, private and shared variances; and the
    shared log gains' covariance (draw, neuron, neuron). ``unit``: each observation's dispersion unit."""
    mu = nonshared_mean(post, design, index)
    cov = shared_covariance(post, design, n_neurons, index)
    v = np.diagonal(cov, axis1=1, axis2=2)[:, design.obs_neuron]  # (draw, obs)
    m = mu * np.exp(v / 2)
    family = family_of(spec["likelihood"])
    if family.name == "poisson":
        conditional = m
    elif family.name == "negbin":
        alpha = observation_dispersion(post, spec, unit, index)
        conditional = m + m**2 * np.exp(v) / alpha
    else:  # E over s ~ Normal(0, v) of the family's variance at mu exp(s), by Gauss-Hermite quadrature
        nu = observation_dispersion(post, spec, unit, index)
        x, w = np.polynomial.hermite.hermgauss(HERMITE_NODES)
        conditional = np.zeros_like(m)
        for xk, wk in zip(x, w, strict=True):
            conditional += wk / np.sqrt(np.pi) * family.variance(mu * np.exp(np.sqrt(2 * v) * xk), nu)
    shared = m**2 * np.expm1(v)
    return m, m, conditional - m, shared, cov


def observation_dispersion(post: xr.Dataset, spec: dict, unit: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(draw, obs) or (draw, 1): alpha or nu of each valid (neuron, trial) (``unit``: its dispersion unit)."""
    name = "nu" if spec["likelihood"] == "com_poisson" else "alpha"
    values = flat_draws(post, name, index=index).reshape(index.size, -1)
    if values.shape[1] == 1:
        return values
    return values[:, unit]


def align_factor_signs(post: xr.Dataset, directions: np.ndarray, rounds: int = 3) -> xr.Dataset:
    """The posterior with each draw's factors signed alike: ``loading`` and ``factor_score`` of factor j flipped
    together in a draw where its loadings point away from the factor's mean direction.

    The likelihood and the priors are unchanged when a factor's loadings and scores both change sign, so its
    posterior is symmetric and each draw may be mapped to one half of it: first so that the loadings point along
    ``directions[:, j]`` (neuron, factor), then, ``rounds`` times, so that they correlate positively with their
    mean over the draws. Noise correlations and the variance partition depend on ``W W'`` only and are the same
    either way.
    """
    if "loading" not in post:
        return post
    w = post["loading"].transpose("chain", "draw", "neuron", "factor").values.copy()
    f = post["factor_score"].transpose("chain", "draw", "trial", "factor").values.copy()
    for j in range(w.shape[-1]):
        sign = np.where(np.einsum("cdn,n->cd", w[..., j], directions[:, j]) < 0, -1.0, 1.0)
        for _ in range(rounds):
            ref = (w[..., j] * sign[..., None]).mean(axis=(0, 1))
            dot = np.einsum("cdn,n->cd", w[..., j], ref)
            sign = np.where(dot < 0, -1.0, 1.0)
        w[..., j] *= sign[..., None]
        f[..., j] *= sign[..., None]
    out = post.copy()
    out["loading"] = (("chain", "draw", "neuron", "factor"), w)
    out["factor_score"] = (("chain", "draw", "trial", "factor"), f)
    return out


def raw_noise_correlations(
    counts: np.ndarray, valid: np.ndarray, condition: np.ndarray, ci_prob: float, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw r_sc (neuron, neuron): Pearson correlation of counts z-scored within condition over the trials
    both neurons have; the equal-tailed ``ci_prob`` interval of ``n_boot`` bootstrap resamples of the trials; the
    number of common trials. NaN where a pair has fewer than 3 common trials on which both vary."""
    point = _raw(counts, valid, condition)
    rng = np.random.default_rng(seed)
    n_trials = counts.shape[1]
    boot = np.empty((n_boot, *point.shape))
    for b in range(n_boot):
        pick = rng.integers(0, n_trials, n_trials)
        boot[b] = _raw(counts[:, pick], valid[:, pick], condition[pick])
    common = valid.astype(float) @ valid.T.astype(float)
    _, low, high = summarize(boot, ci_prob)
    return point, low, high, common


def _raw(counts: np.ndarray, valid: np.ndarray, condition: np.ndarray) -> np.ndarray:
    z = np.zeros(counts.shape)
    ok = np.zeros(counts.shape, dtype=bool)
    for c in np.unique(condition):
        cols = condition == c
        y, v = counts[:, cols].astype(float), valid[:, cols]
        n = v.sum(axis=1, keepdims=True)
        mean = np.where(v, y, 0.0).sum(axis=1, keepdims=True) / np.maximum(n, 1)
        sd = np.sqrt(np.where(v, (y - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / np.maximum(n, 1))
        usable = v & (sd > 0) & (n > 1)
        z[:, cols] = np.where(usable, (y - mean) / np.where(sd > 0, sd, 1.0), 0.0)
        ok[:, cols] = usable
    okf = ok.astype(float)
    num = z @ z.T
    zz = (z**2) @ okf.T  # sum over the pair's common trials of z_i**2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / np.sqrt(zz * zz.T)
    r[(okf @ okf.T) < 3] = np.nan
    return r


def summarize(draws: np.ndarray, ci_prob: float):
    """Mean and equal-tailed interval over axis 0, NaN-safe where every draw is NaN."""
    if np.isnan(draws).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN entries (a diagonal) stay NaN
            low, high = np.nanquantile(draws, [(1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
            return np.nanmean(draws, axis=0), low, high
    return draw_summary(draws, ci_prob)


def partition_table(partition: xr.Dataset):
    """A ``variance_partition`` as a DataFrame: one row per neuron [and level], columns ``<part>_<stat>``, ``fano``
    and ``fano_private``."""
    frame = partition[["mean", "lower", "upper"]].to_dataframe().unstack("part")
    frame.columns = [f"{part}_{stat}" for stat, part in frame.columns]
    frame["fano"], frame["fano_private"] = partition["fano"].values.ravel(), partition["fano_private"].values.ravel()
    return frame


def require_shared(result, what: str) -> None:
    """Refuse a result without shared terms, naming what needs them."""
    if not has_shared(result.design, result.spec):
        raise ArgumentError(
            f"{what} needs a fit with shared variability ('(1 | trial)' in the formula, or shared=k); got "
            f"{result.spec['formula']!r} with shared={result.spec.get('shared', 0)}. Hint: "
            f"sp.HierarchicalGLM({result.spec['formula']!r} + ' + (1 | trial)') or shared=1."
        )


def variance_partition(result, by: str | None = None, ci_prob: float = 0.94, max_draws: int | None = 1000):
    """``GLMResult.variance_partition`` (see there)."""
    ci_prob = check_ci_prob(ci_prob)
    require_shared(result, "variance_partition")
    design, counts = result.design, result.counts
    n_neurons = counts.sizes["neuron"]
    index = draw_index(result.posterior, max_draws)
    unit = dispersion_units(counts, design, result.spec["dispersion"], result.spec["dispersion_by"])[0]
    if by is None:
        cell, levels = design.obs_neuron, None
    else:
        if by not in counts.coords or counts[by].dims != ("trial",):
            names = [str(c) for c, v in counts.coords.items() if v.dims == ("trial",)]
            raise ArgumentError(f"by must be a trial coordinate of the counts ({names}); got {by!r}."
                                f"{did_you_mean(str(by), names)}")  # fmt: skip
        levels, code = np.unique(counts[by].values.astype(str), return_inverse=True)
        cell = design.obs_neuron * levels.size + code[design.obs_trial]
    n_cells = n_neurons * (1 if levels is None else levels.size)
    sums = np.zeros((3, index.size, n_cells))  # (part, draw, cell): the variances summed over the cell's trials
    means = np.zeros((index.size, n_cells))
    done = 0
    for chunk in draw_chunks(index, design.n_obs):
        m, poisson, private, shared, _ = variance_parts(result.posterior, design, result.spec, unit, n_neurons, chunk)
        rows = slice(done, done + chunk.size)
        for k, part in enumerate((poisson, private, shared)):
            sums[k, rows] = _cell_sums(part, cell, n_cells)
        means[rows] = _cell_sums(m, cell, n_cells)
        done += chunk.size
    total = sums.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.moveaxis(sums / total, 0, -1)  # (draw, cell, part)
        fano = (total / means).mean(axis=0)
        fano_private = ((sums[0] + sums[1]) / means).mean(axis=0)
    mean, low, high = summarize(share, ci_prob)
    shape = (n_neurons,) if levels is None else (n_neurons, levels.size)
    dims = ("neuron",) if levels is None else ("neuron", by)
    coords = {"neuron": counts["neuron"].values, "part": ["poisson", "private", "shared"]}
    if levels is not None:
        coords[by] = levels
    return xr.Dataset(
        {
            "mean": ((*dims, "part"), mean.reshape(*shape, 3)),
            "lower": ((*dims, "part"), low.reshape(*shape, 3)),
            "upper": ((*dims, "part"), high.reshape(*shape, 3)),
            "fano": (dims, fano.reshape(shape)),
            "fano_private": (dims, fano_private.reshape(shape)),
        },
        coords=coords,
        attrs={"ci_prob": ci_prob, "interval": "equal-tailed", "draws": int(index.size),
               "scale": "share of each count's variance"},
    )  # fmt: skip


def noise_correlations(
    result, ci_prob: float = 0.94, max_draws: int | None = 500, n_boot: int = 1000, seed: int = 0
) -> xr.Dataset:
    """``GLMResult.noise_correlations`` (see there)."""
    ci_prob = check_ci_prob(ci_prob)
    require_shared(result, "noise_correlations")
    design, counts = result.design, result.counts
    n_neurons, n_trials = counts.sizes["neuron"], counts.sizes["trial"]
    index = draw_index(result.posterior, max_draws)
    unit = dispersion_units(counts, design, result.spec["dispersion"], result.spec["dispersion_by"])[0]
    valid = np.zeros((n_neurons, n_trials))
    valid[design.obs_neuron, design.obs_trial] = 1.0
    common = valid @ valid.T
    upper = np.triu_indices(n_neurons, k=1)
    # each draw's pairs (i < j) only, in single precision: 500 draws of 1,000 neurons' pairs take 1 GB
    pairs = np.empty((index.size, upper[0].size), dtype=np.float32)
    R = np.zeros((n_neurons, n_trials))
    done = 0
    for chunk in draw_chunks(index, design.n_obs):
        m, poisson, private, shared, cov = variance_parts(result.posterior, design, result.spec, unit, n_neurons, chunk)
        r = m / np.sqrt(poisson + private + shared)  # (draw, obs)
        for s in range(chunk.size):
            R[design.obs_neuron, design.obs_trial] = r[s]
            with np.errstate(invalid="ignore", divide="ignore"):
                pairs[done + s] = (np.expm1(cov[s]) * (R @ R.T) / common)[upper]
        done += chunk.size
    pairs[:, common[upper] < 1] = np.nan
    diagonal = np.eye(n_neurons, dtype=bool)
    mean, low, high = (np.full((n_neurons, n_neurons), np.nan) for _ in range(3))
    for block in np.array_split(np.arange(upper[0].size), max(1, upper[0].size // 50_000)):
        stats = summarize(pairs[:, block].astype(np.float64), ci_prob)
        for out, value in zip((mean, low, high), stats, strict=True):
            out[upper[0][block], upper[1][block]] = value
            out[upper[1][block], upper[0][block]] = value
    window = counts.sum("time") if "time" in counts.dims else counts
    condition = counts["condition"].values.astype(str) if "condition" in counts.coords else np.zeros(n_trials)
    raw, raw_low, raw_high, _ = raw_noise_correlations(
        np.asarray(window.values), valid.astype(bool), condition, ci_prob, n_boot, seed
    )
    for a in (raw, raw_low, raw_high):
        a[diagonal] = np.nan
    names = counts["neuron"].values
    dims = ("neuron", "neuron_other")
    return xr.Dataset(
        {"mean": (dims, mean), "lower": (dims, low), "upper": (dims, high), "raw": (dims, raw),
         "raw_lower": (dims, raw_low), "raw_upper": (dims, raw_high), "n_trials": (dims, common.astype(int))},
        coords={"neuron": names, "neuron_other": names},
        attrs={"ci_prob": ci_prob, "interval": "equal-tailed", "draws": int(index.size), "n_boot": n_boot},
    )  # fmt: skip


def gains(result, ci_prob: float = 0.94) -> xr.Dataset:
    """``GLMResult.gains`` (see there)."""
    ci_prob = check_ci_prob(ci_prob)
    require_shared(result, "gains")
    post = result.posterior
    draws, terms = [], []
    for i in trial_groupings(result.design):
        g = result.design.groups[i]
        b = flat_draws(post, f"b_{g.key}", g.key, f"{g.key}_effect")
        for k, effect in enumerate(g.effects):
            draws.append(b[:, :, k])
            terms.append("trial" if effect == "Intercept" else f"trial:{effect}")
    if "factor_score" in post:
        f = flat_draws(post, "factor_score", "trial", "factor")
        for j, name in enumerate(post["factor"].values):
            draws.append(f[:, :, j])
            terms.append(str(name))
    mean, low, high = draw_summary(np.stack(draws, axis=-1), ci_prob)
    trial_coords = {n: c.variable for n, c in result.counts.coords.items() if c.dims == ("trial",)}
    dims = ("trial", "term")
    return xr.Dataset(
        {"mean": (dims, mean), "lower": (dims, low), "upper": (dims, high)},
        coords={**trial_coords, "term": terms},
        attrs={"ci_prob": ci_prob, "interval": "equal-tailed", "scale": "log gain (trial), factor score"},
    )


def _cell_sums(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """(draw, cell): ``values`` (draw, obs) summed over the observations of each cell."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(cell.size), (np.arange(cell.size), cell)), shape=(cell.size, n_cells))
    return np.asarray((onehot.T @ values.T).T)

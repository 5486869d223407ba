"""The fast path of ``HierarchicalNegBinom``: ``fit(counts, method="laplace")``, a nested Laplace approximation.

Why our own: pymc-extras' ``fit_laplace`` / INLA / Pathfinder pin ``pymc<6.4`` (installing them downgrades
PyMC), and its Laplace forms one dense Hessian of every latent value (10,000² at 1,000 units, O(n³)); ADVI
and Pathfinder approximate the whole posterior by one Gaussian or a mixture, which a funnel between tau and
the neurons' log rates defeats. Here the neurons' blocks are independent given the hyperparameters, so the
approximation runs block by block (``spikepool.stats.laplace``), as INLA does:

1. the hyperparameters theta (``mu`` per condition, ``log tau``, ``log tau_neuron``, and ``mu_a``,
   ``log tau_a`` or the shared ``log_alpha`` as the model has them) go to the mode of their Laplace-
   approximated marginal posterior ``log p(theta) + sum_i log p~(y_i | theta)``, found by L-BFGS with
   central-difference gradients (each difference one vectorised Newton pass over all blocks);
2. ``S`` theta draws from the Gaussian at that mode (Hessian by second differences) are importance-weighted
   by the Laplace marginal and Pareto-smoothed (PSIS): their Pareto k says whether the hyperparameters'
   posterior is close enough to Gaussian for the weights to correct it;
3. every posterior draw picks one theta by those weights and draws each neuron's block: with a log dispersion
   per neuron, that from its marginal on a grid (made at the mode of theta) and the rest from their Gaussian
   given it, both moved by the change of the block's mode at the drawn theta (their spread is the mode's);
   otherwise from the Gaussian at that theta (mode and Hessian there);
4. each neuron's block Gaussian is checked against its exact conditional density at the mode of theta by
   PSIS (``K`` draws): its Pareto k says whether the Gaussian may stand in for that neuron.

The result is the same ``FitResult`` as NUTS gives (rates, shrinkage, Fano, LOO, report), with
``spec["method"] = "laplace"``, the Pareto k values in the group ``laplace`` and the checks of
``spikepool.checks.sampling.laplace_checks`` in place of R-hat and ESS.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import optimize, stats

from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentError
from spikepool.models.data import CountsData
from spikepool.models.laplace_draws import block_draws, dispersion_grid
from spikepool.models.sampling import StageClock, default_cores
from spikepool.results.fit import FitResult, add_fit_groups
from spikepool.stats.cells import cell_groups, count_pairs
from spikepool.stats.laplace import (
    BlockData,
    Hyper,
    block_data,
    block_modes,
    block_terms,
    laplace_terms,
)
from spikepool.stats.psis import psislw

__all__ = [
    "BLOCK_SOLVES",
    "hyper_draws",
    "unit_draws",
    "HyperSpace",
    "check_laplace_options",
    "fit_laplace",
    "laplace_posterior",
]

#: Blocks solved for the hyperparameters' importance weights: each draw solves every neuron's block, so fewer
#: neurons afford more draws (``hyper_draws``), where the weights' Pareto k matters most.
BLOCK_SOLVES = 200_000


def hyper_draws(n_neuron: int) -> int:
    """Hyperparameter draws importance-weighted by the Laplace marginal: ``BLOCK_SOLVES / n_neuron``, from 200
    (PSIS's Pareto k needs a few hundred) to 4,000."""
    return int(np.clip(BLOCK_SOLVES // max(n_neuron, 1), 200, 4000))


#: Block densities evaluated for the neurons' Pareto k (``unit_draws``).
BLOCK_DRAWS = 2_000_000


def unit_draws(n_neuron: int) -> int:
    """Draws of each neuron's approximate block for its Pareto k: ``BLOCK_DRAWS / n_neuron``, from 1,000 to 4,000
    (k's own noise falls with the draws: at 200 a good approximation's k often crossed the threshold)."""
    return int(np.clip(BLOCK_DRAWS // max(n_neuron, 1), 1000, 4000) // 100 * 100)


#: Hyperparameter settings solved in one vectorised pass (bounds memory: chunk x neurons x block^2).
CHUNK = 32


def check_laplace_options(options: dict) -> None:
    """Refuse, before anything is prepared, a ``HierarchicalNegBinom`` the Laplace path does not cover.

    It covers partial pooling of window counts with or without conditions and crossed neuron effects, the
    Negative Binomial (dispersion ``"neuron"``, ``"pooled"`` or ``"shared"``) and the Poisson.
    """
    wanted = {
        "pooling": ("partial", options["pooling"] == "partial"),
        "likelihood": ("'negbin' or 'poisson'", options["likelihood"] in ("negbin", "poisson")),
        "dispersion": (
            "'neuron', 'pooled' or 'shared'",
            options["dispersion"] != "fano" or options["likelihood"] == "poisson",
        ),
        "session": ("None", options["session"] is None),
        "baseline": ("None", options["baseline"] is None),
    }
    for name, (expected, ok) in wanted.items():
        if not ok:
            raise ArgumentError(
                f"method='laplace' needs {name}={expected}; got {name}={options[name]!r}. "
                "Hint: method='nuts' fits every option."
            )


@dataclass(frozen=True)
class HyperSpace:
    """The unconstrained hyperparameters theta of a model: names, priors and the map to ``Hyper``.

    ``names`` in order: ``mu[c]`` per condition, ``log_tau``, then ``log_tau_neuron`` (crossed effects),
    ``mu_a`` and ``log_tau_a`` (pooled dispersion) or ``log_alpha`` (shared dispersion).
    """

    names: tuple[str, ...]
    n_cond: int
    priors: dict
    mu_loc: float
    effect: bool
    dispersion: str | None

    def hyper(self, theta: np.ndarray) -> Hyper:
        """The ``Hyper`` batch of theta (B, p)."""
        c, col = self.n_cond, {n: k for k, n in enumerate(self.names)}
        p = self.priors
        out = {"m": theta[:, :c], "tau": np.exp(theta[:, col["log_tau"]])}
        if self.effect:
            out["tau_n"] = np.exp(theta[:, col["log_tau_neuron"]])
        b = theta.shape[0]
        if self.dispersion == "neuron":
            out["phi_loc"], out["phi_scale"] = np.full(b, p["log_alpha_loc"]), np.full(b, p["log_alpha_scale"])
        elif self.dispersion == "pooled":
            out["phi_loc"], out["phi_scale"] = theta[:, col["mu_a"]], np.exp(theta[:, col["log_tau_a"]])
        elif self.dispersion == "shared":
            out["phi_shared"] = theta[:, col["log_alpha"]]
        return Hyper(**out)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        """log p(theta) (B,), with the Jacobians of the log scales."""
        c, col, p = self.n_cond, {n: k for k, n in enumerate(self.names)}, self.priors
        out = stats.norm.logpdf(theta[:, :c], self.mu_loc, p["mu_scale"]).sum(-1)
        scales = [("log_tau", p["tau"], p["tau_scale"])]
        scales += [("log_tau_neuron", "halfnormal", p["tau_scale"])] if self.effect else []
        scales += [("log_tau_a", "halfnormal", p["tau_alpha_scale"])] if self.dispersion == "pooled" else []
        for name, family, scale in scales:
            log_s = theta[:, col[name]]
            dist = stats.halfcauchy if family == "halfcauchy" else stats.halfnorm
            out = out + dist.logpdf(np.exp(log_s), scale=scale) + log_s
        for name in ("mu_a", "log_alpha"):
            if name in col:
                out = out + stats.norm.logpdf(theta[:, col[name]], p["log_alpha_loc"], p["log_alpha_scale"])
        return out


def _space(spec: dict, data: CountsData, mu_loc: float) -> HyperSpace:
    c = data.n_condition
    names = [f"mu[{k}]" for k in range(c)] + ["log_tau"]
    names += ["log_tau_neuron"] if data.neuron_effect else []
    dispersion = None if spec["likelihood"] == "poisson" else spec["dispersion"]
    names += {"pooled": ["mu_a", "log_tau_a"], "shared": ["log_alpha"]}.get(dispersion, [])
    return HyperSpace(tuple(names), c, spec["priors"], mu_loc, data.neuron_effect, dispersion)


def _start(data: BlockData, space: HyperSpace) -> tuple[np.ndarray, np.ndarray]:
    """Starting theta (p,) and blocks (N, d) from each cell's raw log rate (0.5 spikes added)."""
    gr, n, c = data.groups, data.n_neuron, data.n_cond
    cell = gr.neuron * c + gr.condition
    spikes = np.bincount(cell, gr.total, n * c).reshape(n, c)
    exposure = np.bincount(cell, gr.n * gr.duration, n * c).reshape(n, c)
    seen = exposure > 0
    raw = np.log((spikes + 0.5) / np.where(seen, exposure, 1.0))
    pooled = np.log((spikes.sum(0) + 0.5) / np.maximum(exposure.sum(0), 1e-9))
    eta = np.where(seen, raw, pooled)
    z = [eta]
    effect = (eta - eta.mean(0)).mean(1) if data.effect else None
    if data.effect:
        z.append(effect[:, None])
    if data.phi:
        z.append(np.full((n, 1), space.priors["log_alpha_loc"]))
    level = np.array([eta[seen[:, k], k].mean() if seen[:, k].any() else pooled[k] for k in range(c)])
    spread = eta - level - (effect[:, None] if data.effect else 0.0)
    theta = list(level) + [np.log(max(float(spread[seen].std()) if seen.any() else 0.5, 0.05))]
    theta += [np.log(max(float(effect.std()), 0.05))] if data.effect else []
    loc = space.priors["log_alpha_loc"]
    theta += {"pooled": [loc, 0.0], "shared": [loc]}.get(space.dispersion, [])
    return np.asarray(theta, float), np.concatenate(z, axis=1)


class NestedLaplace:
    """The Laplace marginal of theta, its mode and curvature, and draws (see the module docstring)."""

    def __init__(self, data: BlockData, space: HyperSpace) -> None:
        self.data, self.space = data, space
        self.theta0, self.z_ref = _start(data, space)

    def solve(self, theta: np.ndarray, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Block modes (B, N, d) and the log marginal posterior (B,) of theta (B, p), in chunks.

        ``start`` (B, N, d) are the blocks Newton starts from (default: the last mode found, ``z_ref``).
        """

        def chunk(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            part = theta[rows]
            z0 = self.z_ref if start is None else start[rows]
            z, f, h = block_modes(self.data, self.space.hyper(part), z0)
            return z, laplace_terms(f, h).sum(-1) + self.space.log_prior(part)

        out = _threaded(chunk, theta.shape[0])
        return np.concatenate([z for z, _ in out]), np.concatenate([lp for _, lp in out])

    def log_post(self, theta: np.ndarray) -> np.ndarray:
        return self.solve(theta)[1]

    def mode(self, step: float = 1e-4) -> np.ndarray:
        """theta at the maximum of the Laplace marginal posterior (L-BFGS, central differences).

        Each gradient solves the centre first, then its 2p neighbours from the centre's blocks (one or two
        Newton steps); the neighbours' blocks give ``slope``, the blocks' derivative along theta (N, d, p),
        from which ``predict`` starts the blocks of other thetas.
        """
        p = self.theta0.size
        eye = np.eye(p) * step

        def neg(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z, lp = self.solve(theta[None])
            self.z_ref, self.theta_ref = z[0], theta
            near, lp_near = self.solve(np.concatenate([theta + eye, theta - eye]))
            self.slope = np.moveaxis((near[:p] - near[p:]) / (2 * step), 0, -1)
            return -lp[0], -(lp_near[:p] - lp_near[p:]) / (2 * step)

        res = optimize.minimize(neg, self.theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-4})
        if not np.all(np.isfinite(res.x)):
            raise ArgumentError(
                "the Laplace fit's hyperparameters must reach a finite mode; got "
                f"{dict(zip(self.space.names, res.x, strict=True))} ({res.message}). Hint: method='nuts'."
            )
        neg(res.x)
        return res.x

    def tail_error(self, theta: np.ndarray, axes: np.ndarray) -> float:
        """The largest |log p~(theta + a) - (log p~(theta) - a'H a / 2)| over a = +-``TAIL_SDS`` sds along each
        principal axis (``axes``: columns of 1 sd): how far the Laplace marginal departs from its Gaussian where
        the Gaussian still puts draws. Piled up against tau = 0 (few trials, small tau) the marginal falls off
        like e^(log tau) in log tau, not like a Gaussian: measured 4.7-18 nats there, 0.23-0.27 with 200
        neurons x 20 trials."""
        points = np.concatenate([theta + TAIL_SDS * axes.T, theta - TAIL_SDS * axes.T])
        lp = self.log_post(np.concatenate([theta[None], points]))
        return float(np.abs(lp[1:] - (lp[0] - TAIL_SDS**2 / 2)).max())

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Starting blocks (B, N, d) for thetas (B, p): the last mode moved linearly along ``slope``."""
        return self.z_ref[None] + np.einsum("ndp,bp->bnd", self.slope, theta - self.theta_ref)

    def curvature(self, theta: np.ndarray, step: float = 1e-3) -> np.ndarray:
        """The negative Hessian (p, p) of the log marginal posterior at theta (second differences)."""
        p = theta.size
        e = np.eye(p) * step
        i, j = np.triu_indices(p, 1)
        points = [theta[None], theta + e, theta - e]
        points += [theta + e[i] + e[j], theta + e[i] - e[j], theta - e[i] + e[j], theta - e[i] - e[j]]
        lp = self.log_post(np.concatenate(points))
        centre, plus, minus = lp[0], lp[1 : p + 1], lp[p + 1 : 2 * p + 1]
        rest = lp[2 * p + 1 :].reshape(4, -1)
        hess = np.diag((plus - 2 * centre + minus) / step**2)
        hess[i, j] = hess[j, i] = (rest[0] - rest[1] - rest[2] + rest[3]) / (4 * step**2)
        return -hess


#: Largest difference (nats) between the hyperparameters' Laplace marginal and its Gaussian at ``TAIL_SDS`` sds
#: along each principal axis for the Gaussian to be trusted (``NestedLaplace.tail_error``).
TAIL_NATS = 1.0
TAIL_SDS = 3.0


def _threaded(fn, n: int, size: int = CHUNK, exact: bool = False) -> list:
    """``fn(rows)`` over slices of ``range(n)`` of at most ``size`` (of exactly ``size`` with ``exact``: each slice
    its own random stream), in threads (numpy releases the GIL in its array loops: about 1.3x on 2 cores), in
    order."""
    cores = default_cores(n)
    step = size if exact else max(1, min(size, -(-n // cores)))
    rows = [slice(first, first + step) for first in range(0, n, step)]
    if len(rows) == 1:
        return [fn(rows[0])]
    with ThreadPoolExecutor(cores) as pool:
        return list(pool.map(fn, rows))


def laplace_posterior(spec: dict, data: CountsData, mu_loc: float, *, draws: int, chains: int, random_seed,
                      clock) -> tuple[xr.Dataset, xr.Dataset]:  # fmt: skip
    """The posterior draws (chain, draw, ...) of the nested Laplace fit and its diagnostics.

    Returns
    -------
    posterior : xarray.Dataset
        ``mu`` (condition), ``tau``, ``tau_neuron`` and ``neuron_effect`` (neuron; summing to zero, the level
        in ``mu``, as NUTS's ``ZeroSumNormal``; the prior is independent Normals, re-centred: the same for many
        neurons), ``log_rate`` (neuron[, condition]), ``log_alpha`` (neuron or scalar), ``mu_a``, ``tau_a``: the
        names NUTS gives, except that pooled dispersion gives ``log_alpha`` where NUTS has ``log_alpha_offset``
        (``alpha`` is computed from it either way).
    laplace : xarray.Dataset
        ``pareto_k`` (neuron) of each block's approximation (grid and conditional Gaussian, or Gaussian),
        ``hyper_pareto_k`` of the hyperparameters' Gaussian, ``good_k`` thresholds, ``theta_mode`` / ``theta_sd``
        (hyper) of that Gaussian, ``hyper_tail_error`` and its threshold ``tail_nats``.
    """
    rng = np.random.default_rng(random_seed)
    cells, n, c = data.cells, data.n_neuron, data.n_condition
    negbin = spec["likelihood"] == "negbin"
    blocks = block_data(
        cell_groups(cells), count_pairs(cells.neuron, cells.y, cells.weight), n, c,
        effect=data.neuron_effect, phi=negbin and spec["dispersion"] in ("neuron", "pooled"), negbin=negbin,
    )  # fmt: skip
    space = _space(spec, data, mu_loc)
    nested = NestedLaplace(blocks, space)
    with clock("hyper_mode"):
        theta_hat = nested.mode()
        prec = nested.curvature(theta_hat)
        w, v = np.linalg.eigh(prec)
        if not w.min() > 0:
            raise ArgumentError(
                "the hyperparameters' Laplace marginal must curve down in every direction at its mode; got a "
                f"curvature of {w.min():.3g} along {dict(zip(space.names, np.round(v[:, 0], 3), strict=True))}. "
                "Hint: the data leave a hyperparameter unidentified for the Laplace path: method='nuts'."
            )
        cov = (v / w) @ v.T
        tail_error = nested.tail_error(theta_hat, v / np.sqrt(w))
    with clock("hyper_draws"):
        n_hyper = hyper_draws(n)
        thetas = rng.multivariate_normal(theta_hat, cov, size=n_hyper, method="cholesky")
        z_modes, lp = nested.solve(thetas, nested.predict(thetas))
        log_q = stats.multivariate_normal(theta_hat, cov).logpdf(thetas)
        ratio = np.where(np.isfinite(lp), lp - log_q, -np.inf)  # a draw whose blocks failed weighs nothing
        if not np.isfinite(ratio).sum() > 0.9 * n_hyper:
            raise ArgumentError(
                f"the hyperparameter draws' Laplace marginals must be finite; got {int((~np.isfinite(lp)).sum())} of "
                f"{n_hyper} that are not. Hint: method='nuts'."
            )
        lw, hyper_k = psislw(np.where(np.isfinite(ratio), ratio, ratio[np.isfinite(ratio)].min() - 50)[None])
        lw, hyper_k = lw[0], hyper_k[0]
        total = draws * chains
        pick = rng.choice(n_hyper, size=total, p=np.exp(lw - np.logaddexp.reduce(lw)))
    with clock("block_draws"):
        z_hat, _, h_hat = block_modes(blocks, space.hyper(theta_hat[None]), nested.z_ref)
        grid = dispersion_grid(blocks, space.hyper(theta_hat[None]), z_hat[0], h_hat[0]) if blocks.phi else None
        z = np.empty((total, n, blocks.size))
        used = np.unique(pick)
        for first in range(0, used.size, CHUNK):
            part = used[first : first + CHUNK]
            # the grid's draws need no Hessian at each theta (the grid holds the spread)
            hessians = (
                np.zeros(part.size)
                if grid is not None
                else block_terms(z_modes[part], blocks, space.hyper(thetas[part]))[2]
            )
            for s, h in zip(part, hessians, strict=True):
                shift = z_modes[s] - z_hat[0]
                picked = np.flatnonzero(pick == s)
                for first in range(0, picked.size, 256):  # bounded memory if the weights pick few thetas
                    rows = picked[first : first + 256]
                    z[rows] = block_draws(rng, z_modes[s], h, rows.size, grid, shift)[0]
    with clock("unit_pareto_k"):
        n_unit = unit_draws(n)
        seeds = rng.spawn(n_unit // 100)
        reps = space.hyper(np.repeat(theta_hat[None], 100, axis=0))

        def log_ratio(rows: slice) -> np.ndarray:
            x, log_q = block_draws(seeds[rows.start // 100], z_hat[0], h_hat[0], 100, grid, np.zeros_like(z_hat[0]))
            return -block_terms(x, blocks, reps, order=0)[0] - log_q

        ratios = np.concatenate(_threaded(log_ratio, n_unit, 100, exact=True))
        _, unit_k = psislw(ratios.T)
    post = _posterior(z, thetas[pick], space, data, draws, chains, spec)
    sd = np.sqrt(np.diag(cov))
    laplace = xr.Dataset(
        {
            "pareto_k": ("neuron", unit_k),
            "hyper_pareto_k": float(hyper_k),
            "good_k": min(1 - 1 / np.log10(n_hyper), 0.7),
            "unit_good_k": min(1 - 1 / np.log10(n_unit), 0.7),
            "theta_mode": ("hyper", theta_hat),
            "theta_sd": ("hyper", sd),
            "hyper_tail_error": tail_error,
            "tail_nats": TAIL_NATS,
        },
        coords={"neuron": data.counts["neuron"].values, "hyper": list(space.names)},
    )
    return post, laplace


def _posterior(z, theta, space: HyperSpace, data: CountsData, draws: int, chains: int, spec: dict) -> xr.Dataset:
    """The draws as the NUTS posterior names them, (chain, draw, ...)."""
    c, col = data.n_condition, {n: k for k, n in enumerate(space.names)}
    with_cond = spec["condition"] is not None
    shape = (chains, draws)
    mu = theta[:, :c].copy()
    out: dict[str, tuple] = {}
    if data.neuron_effect:
        u = z[..., c]
        centre = u.mean(-1)
        mu += centre[:, None]  # the zero-sum effects of NUTS: the level goes to mu
        out["neuron_effect"] = (("chain", "draw", "neuron"), (u - centre[:, None]).reshape(*shape, -1))
        out["tau_neuron"] = (("chain", "draw"), np.exp(theta[:, col["log_tau_neuron"]]).reshape(shape))
    cond_dims = ("condition",) if with_cond else ()
    out["mu"] = (("chain", "draw", *cond_dims), mu.reshape(*shape, *([c] if with_cond else [])))
    out["tau"] = (("chain", "draw"), np.exp(theta[:, col["log_tau"]]).reshape(shape))
    log_rate = z[..., :c] if with_cond else z[..., 0]
    out["log_rate"] = (("chain", "draw", "neuron", *cond_dims), log_rate.reshape(*shape, *log_rate.shape[1:]))
    if space.dispersion in ("neuron", "pooled"):
        out["log_alpha"] = (("chain", "draw", "neuron"), z[..., -1].reshape(*shape, -1))
    if space.dispersion == "pooled":
        out["mu_a"] = (("chain", "draw"), theta[:, col["mu_a"]].reshape(shape))
        out["tau_a"] = (("chain", "draw"), np.exp(theta[:, col["log_tau_a"]]).reshape(shape))
    if space.dispersion == "shared":
        out["log_alpha"] = (("chain", "draw"), theta[:, col["log_alpha"]].reshape(shape))
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "neuron": data.counts["neuron"].values}
    if with_cond:
        coords["condition"] = data.cells.condition_names
    return xr.Dataset(out, coords=coords)


def fit_laplace(data: CountsData, spec: dict, report: CheckReport, mu_loc: float, *, draws: int, chains: int,
                random_seed, clock: StageClock) -> FitResult:  # fmt: skip
    """The ``FitResult`` of the nested Laplace fit (``HierarchicalNegBinom.fit(counts, method="laplace")``).

    Its ``post_checks`` are ``laplace_checks`` (the Pareto k of the hyperparameters and of each neuron);
    the stages ``hyper_mode``, ``hyper_draws``, ``block_draws``, ``unit_pareto_k`` and ``result`` are timed.
    """
    post, laplace = laplace_posterior(
        spec, data, mu_loc, draws=draws, chains=chains, random_seed=random_seed, clock=clock
    )
    with clock("result"):
        tree = xr.DataTree.from_dict({"posterior": post, "laplace": laplace})
        tree = add_fit_groups(tree, data.counts, data.cells, spec)
        result = FitResult(
            idata=tree,
            counts=data.counts,
            spec=spec,
            pre_checks=report,
            post_checks=FitResult.check(tree),
            centered=np.zeros(0, dtype=bool),  # no sampler parameterisation
        )
    return result

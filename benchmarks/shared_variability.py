"""Shared variability in ``HierarchicalGLM``: recovery, calibration, held-out prediction and speed.

What is measured
----------------
1. Calibration on simulated truth (``--reps`` datasets each): 20 neurons x 300 trials in 3 conditions, NB
   counts (alpha 6) whose log rate gains a per-trial shared term: ``gain`` (every neuron's log gain
   ``sd_gain * g_t``, g_t ~ N(0, 1), fitted with ``(1 | trial)``) and ``factor`` (neuron i's log gain
   ``w_i g_t`` with loadings w_i ~ N(0.25, 0.15), fitted with ``shared=1``). Each dataset is fitted with
   2 chains x (500 + 500); printed: the coverage of the 90% intervals of ``variance_partition()``'s shared
   share of every neuron and of ``noise_correlations()``'s model correlation of every pair, against their true
   values computed by the same formulas from the truth (target 90 +- 3%), and the largest R-hat and
   divergences. ``none``: the same data without a shared term, fitted with ``(1 | trial)``: the largest lower
   end of a shared share's interval (~0: no neuron is called shared) and how many pairs' intervals lie above
   0.01 ("called correlated").
2. The 200-neuron case: ``--reps-200`` ``gain`` and ``factor`` datasets of 200 neurons x 300 trials, the same
   figures. Every share and correlation of a dataset depends on the same few population values (``sd_trial``,
   ``sd_loading``), so a dataset's intervals cover or miss together: the coverage is a mean over few
   independent outcomes, not over the thousands of intervals it counts.
3. Held-out: a random 10% of the (neuron, trial) counts of a recording are left out (``valid=False``); the
   independent model ``count ~ condition + (1 | neuron) + (1 | neuron:condition)``, the same plus
   ``(1 | trial)``, and the same with ``shared=1`` are fitted to the rest (2 chains x (500 + 500)), and each
   held-out count is scored by its log predictive density (posterior-averaged NB pmf; a shared model's mean
   includes the gain its trial was given by the other neurons' counts). Printed per split: nats per held-out
   count, each shared model minus the independent one (positive: the shared term predicts better). On
   locust20010214 (10-11.5 s, every trial) and on a simulated ``gain`` dataset, ``--splits`` splits each.
4. Speed: locust20010214 10 units x 359 trials, ``count ~ condition + (1 | neuron) + (1 | trial)`` with
   the default NUTS (4 chains, default draws): wall time of the whole ``fit`` (target < 2 min).
5. Scale: 1,000 simulated neurons x 400 trials in 4 conditions with 2 factors (``shared=2``), 2 chains x
   (1,000 + 1,000): wall time (target < 15 min on 2 cores), R-hat, the loadings' recovery (canonical correlations of
   the fitted and true loading spans) and the time of ``variance_partition`` and ``noise_correlations``.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/shared_variability.py            # ~50 min on 2 cores
    SPIKEPOOL_DATA=../shared/data python benchmarks/shared_variability.py --reps 2 --splits 1 --no-200
    SPIKEPOOL_DATA=../shared/data python benchmarks/shared_variability.py --only heldout
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
from scipy.special import logsumexp

import spikepool as sp
from spikepool.counts.design import design_frame, new_rows
from spikepool.stats.families import family_of

QUICK = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False}
INDEPENDENT = "count ~ condition + (1 | neuron) + (1 | neuron:condition)"
SHARED = INDEPENDENT + " + (1 | trial)"
MODELS = (("independent", INDEPENDENT, 0), ("(1 | trial)", SHARED, 0), ("shared=1", INDEPENDENT, 1))
CI = 0.9
#: The 1,000-neuron fit: one chain per core (4 chains would run two after two), 1,000 draws after 1,000.
LARGE = {"chains": 2, "draws": 1000, "tune": 1000, "progressbar": False, "random_seed": 1}


def quiet() -> None:
    import pymc  # noqa: F401

    for name in ("pymc", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def simulate(kind: str, n_neuron: int, n_trial: int, seed: int, sd_gain: float = 0.35):
    """Counts with a shared gain (``gain``), a one-factor gain (``factor``) or none, and the truth."""
    rng = np.random.default_rng(seed)
    condition = np.repeat(["a", "b", "c"], n_trial // 3)
    log_rate = rng.normal(1.6, 0.4, n_neuron)[:, None] + np.where(condition == "b", 0.4, 0.0)[None]
    g = rng.normal(size=n_trial)
    w = {"gain": np.full(n_neuron, sd_gain), "factor": rng.normal(0.25, 0.15, n_neuron)}.get(kind, np.zeros(n_neuron))
    mu = np.exp(log_rate + w[:, None] * g[None])
    alpha = 6.0
    y = rng.poisson(rng.gamma(alpha, mu / alpha))
    counts = sp.from_array(y, duration=1.0).assign_coords(condition=("trial", condition))
    return counts, {"w": w, "alpha": alpha, "log_rate": log_rate, "g": g}


def truth_tables(truth) -> tuple[np.ndarray, np.ndarray]:
    """The true shared share (neuron,) and correlations (neuron, neuron) by the formulas of ``glm_shared``."""
    w, alpha = truth["w"], truth["alpha"]
    mu = np.exp(truth["log_rate"])
    v = (w**2)[:, None]
    m = mu * np.exp(v / 2)
    parts = np.stack([m, m**2 * np.exp(v) / alpha, m**2 * np.expm1(v)])
    share = parts[2].sum(axis=1) / parts.sum(axis=(0, 2))
    r = m / np.sqrt(parts.sum(axis=0))
    corr = np.expm1(np.outer(w, w)) * (r @ r.T) / r.shape[1]
    return share, corr


def diagnostics(result) -> tuple[tuple[float, str], int]:
    """The largest R-hat (and its variable) over the population, shared and neuron terms, and divergences."""
    import arviz_stats as azs

    post = result.posterior
    names = [n for n in ("beta", "sd_neuron", "b_neuron", "sd_trial", "b_trial", "sd_loading", "loading",
                         "factor_score", "alpha") if n in post]  # fmt: skip
    rhat = max(
        (float(np.nanmax(np.asarray(azs.rhat(post[n].transpose("chain", "draw", ...).values)))), n) for n in names
    )
    return rhat, int(result.idata["sample_stats"]["diverging"].sum())


def calibration(kind: str, n_neuron: int, n_trial: int, reps: int, seed: int) -> None:
    formula = "count ~ condition + (1 | neuron)" + ("" if kind == "factor" else " + (1 | trial)")
    shared = 1 if kind == "factor" else 0
    share_in, corr_in, walls, worst = [], [], [], ((0.0, ""), 0)
    lowest, called = [], 0
    for r in range(reps):
        counts, truth = simulate(kind, n_neuron, n_trial, seed + r)
        start = time.perf_counter()
        result = sp.HierarchicalGLM(formula, shared=shared).fit(counts, random_seed=seed + r, **QUICK)
        walls.append(time.perf_counter() - start)
        rhat, div = diagnostics(result)
        worst = (max(worst[0], rhat), worst[1] + div)
        share, corr = truth_tables(truth)
        vp = result.variance_partition(ci_prob=CI).sel(part="shared")
        nc = result.noise_correlations(ci_prob=CI, n_boot=200)
        off = ~np.eye(n_neuron, dtype=bool) & np.triu(np.ones((n_neuron, n_neuron), dtype=bool))
        if kind == "none":
            lowest.append(float(vp["lower"].max()))
            called += int((nc["lower"].values[off] > 0.01).sum())
            continue
        share_in.append((vp["lower"].values <= share) & (share <= vp["upper"].values))
        corr_in.append(((nc["lower"].values <= corr) & (corr <= nc["upper"].values))[off])
    head = f"  {kind:7s} {n_neuron:4d} x {n_trial:3d}, {reps} dataset(s): fit {np.mean(walls):6.1f} s each; "
    head += f"max R-hat {worst[0][0]:.3f} ({worst[0][1]}), divergences {worst[1]}"
    print(head)
    if kind == "none":
        print(
            f"          largest lower end of a shared share's {CI:.0%} interval {max(lowest):.4f}; pairs called "
            f"correlated (lower end > 0.01): {called} of {reps * n_neuron * (n_neuron - 1) // 2}"
        )
        return
    s, c = np.concatenate(share_in), np.concatenate(corr_in)
    for name, inside in (("shared shares", s), ("pair correlations", c)):
        verdict = "PASS" if abs(inside.mean() - CI) <= 0.03 else "FAIL"
        print(f"          coverage of the {CI:.0%} intervals of the true {name}: {inside.mean():.1%} "
              f"({inside.size} intervals) {verdict}")  # fmt: skip


# ----------------------------------------------------------------------------------------------- held-out
def heldout_density(result, counts, neuron: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Log predictive density (posterior-averaged pmf) of ``counts`` at the (neuron, trial) pairs given."""
    design, post, spec = result.design, result.posterior, result.spec
    full = counts.assign_coords(valid=(("neuron", "trial"), np.ones(counts.shape[:2], dtype=bool)))
    frame, obs_n, obs_t = design_frame(full, set(design.variables) | {"neuron", "trial"}, spec["formula"])
    row = {(a, b): k for k, (a, b) in enumerate(zip(obs_n, obs_t, strict=True))}
    pick = np.array([row[(a, b)] for a, b in zip(neuron, trial, strict=True)])
    X, groups = new_rows(design, frame.iloc[pick].reset_index(drop=True))
    beta = post["beta"].transpose("chain", "draw", "coef").values.reshape(-1, X.shape[1])
    eta = beta @ X.T
    for g, (level, Z) in zip(design.groups, groups, strict=True):
        b = post[f"b_{g.key}"].transpose("chain", "draw", ...).values.reshape(beta.shape[0], g.n_levels, -1)
        eta += np.where(level >= 0, np.einsum("sok,ok->so", b[:, np.maximum(level, 0), :], Z), 0.0)
    if "loading" in post:
        w = post["loading"].transpose("chain", "draw", "neuron", "factor").values.reshape(beta.shape[0], -1, 1)
        w = w.reshape(beta.shape[0], counts.sizes["neuron"], -1)
        f = post["factor_score"].transpose("chain", "draw", "trial", "factor").values
        f = f.reshape(beta.shape[0], counts.sizes["trial"], -1)
        eta += np.einsum("sok,sok->so", w[:, neuron], f[:, trial])
    mu = np.exp(eta) * counts["duration"].values[trial]
    y = np.asarray(counts.values)[neuron, trial]
    family = family_of(spec["likelihood"])
    assert spec["dispersion"] == "neuron" and spec["dispersion_by"] is None  # alpha (neuron,)
    alpha = post["alpha"].transpose("chain", "draw", "neuron").values.reshape(beta.shape[0], -1)
    logp = family.logpmf(y, mu, alpha[:, neuron])
    return logsumexp(logp, axis=0) - np.log(beta.shape[0])


def heldout(name: str, counts, splits: int, seed: int) -> None:
    valid = counts["valid"].values if "valid" in counts.coords else np.ones(counts.shape[:2], dtype=bool)
    print(f"  {name}: {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials, {valid.sum()} valid counts")
    for s in range(splits):
        rng = np.random.default_rng(seed + s)
        n, t = np.nonzero(valid)
        out = rng.random(n.size) < 0.1
        keep = valid.copy()
        keep[n[out], t[out]] = False
        train = counts.where(keep, 0).assign_coords(valid=(("neuron", "trial"), keep))
        scores = {}
        for label, formula, shared in MODELS:
            result = sp.HierarchicalGLM(formula, shared=shared).fit(train, random_seed=seed + s, **QUICK)
            scores[label] = heldout_density(result, counts, n[out], t[out])
        line = f"    split {s + 1}: {out.sum()} held-out counts; nats per count: independent "
        line += f"{scores['independent'].mean():.4f}"
        for label in ("(1 | trial)", "shared=1"):
            diff = scores[label] - scores["independent"]
            se = diff.std(ddof=1) / np.sqrt(diff.size)
            verdict = "better" if diff.mean() > 0 else "WORSE"
            line += f"; {label} {diff.mean():+.4f} (se {se:.4f}) {verdict}"
        print(line)


def speed() -> None:
    counts = locust()
    start = time.perf_counter()
    result = sp.HierarchicalGLM("count ~ condition + (1 | neuron) + (1 | trial)").fit(counts, progressbar=False)
    wall = time.perf_counter() - start
    rhat, div = diagnostics(result)
    post = result.posterior
    print(
        f"  locust20010214 {counts.sizes['neuron']} x {counts.sizes['trial']}, default NUTS "
        f"({post.sizes['chain']} x {post.sizes['draw']}): {wall:.1f} s ({'PASS' if wall < 120 else 'FAIL'} < 120 s); "
        f"max R-hat {rhat[0]:.3f} ({rhat[1]}), divergences {div}; sd_trial {float(post['sd_trial'].mean()):.3f}; "
        f"timings { ({k: round(v, 1) for k, v in result.timings.items()}) }"
    )
    vp = result.variance_partition()
    shared = vp["mean"].sel(part="shared").values
    print(f"  shared share per unit: {np.round(shared, 3).tolist()}")


def large(n_neuron: int = 1000, n_trial: int = 400, seed: int = 1) -> None:
    """``shared=2`` on simulated counts of ``n_neuron`` x ``n_trial`` (``LARGE``): wall time (target < 15 min on
    2 cores), R-hat, and how well the loadings are recovered (canonical correlations with the truth)."""
    rng = np.random.default_rng(seed)
    condition = np.repeat(["a", "b", "c", "d"], n_trial // 4)
    log_rate = rng.normal(1.6, 0.4, n_neuron)[:, None] + np.where(condition == "b", 0.4, 0.0)[None]
    w = np.stack([rng.normal(0.25, 0.1, n_neuron), rng.normal(0.0, 0.2, n_neuron)], axis=1)
    f = rng.normal(size=(n_trial, 2))
    mu = np.exp(log_rate + w @ f.T)
    y = rng.poisson(rng.gamma(6.0, mu / 6.0))
    counts = sp.from_array(y, duration=1.0).assign_coords(condition=("trial", condition))
    start = time.perf_counter()
    result = sp.HierarchicalGLM("count ~ condition + (1 | neuron)", shared=2).fit(counts, **LARGE)
    wall = time.perf_counter() - start
    rhat, div = diagnostics(result)
    post = result.posterior
    stats = result.idata["sample_stats"]
    loading = post["loading"].mean(("chain", "draw")).values
    # the fitted span of the loadings against the true one: canonical correlations (1: the same 2-d subspace)
    canon = np.linalg.svd(np.linalg.qr(loading)[0].T @ np.linalg.qr(w)[0], compute_uv=False)
    start = time.perf_counter()
    vp = result.variance_partition()
    nc = result.noise_correlations(n_boot=100)
    after = time.perf_counter() - start
    print(
        f"  {n_neuron} x {n_trial}, shared=2, NUTS {post.sizes['chain']} x ({LARGE['tune']} + {post.sizes['draw']}): "
        f"{wall:.0f} s ({'PASS' if wall < 900 else 'FAIL'} < 900 s); max R-hat {rhat[0]:.3f} ({rhat[1]}), "
        f"divergences {div}, mean tree depth {float(stats['tree_depth'].mean()):.1f}; canonical correlations of "
        f"the loadings with the truth {np.round(canon, 3).tolist()}; variance_partition + noise_correlations "
        f"{after:.0f} s ({vp.sizes['neuron']} neurons, {nc.sizes['neuron'] ** 2} pairs); timings "
        f"{ ({k: round(v, 1) for k, v in result.timings.items()}) }"
    )


def locust():
    return sp.datasets.load_counts("locust20010214", window=(10.0, 11.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=6, help="simulated datasets per calibration row")
    parser.add_argument("--splits", type=int, default=3, help="held-out splits per dataset")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps-200", type=int, default=4, help="simulated datasets per 200-neuron row")
    parser.add_argument("--no-200", action="store_true", help="leave out the 200-neuron datasets")
    parser.add_argument("--only", choices=("calibration", "heldout", "speed", "large"), help="one section")
    args = parser.parse_args()
    quiet()
    print(f"spikepool {sp.__version__}; seed {args.seed}")
    if args.only in (None, "calibration"):
        print("\n== 1. calibration, 20 neurons x 300 trials")
        for kind in ("gain", "factor", "none"):
            calibration(kind, 20, 300, args.reps, args.seed)
        if not args.no_200:
            print("\n== 2. 200 neurons x 300 trials")
            for kind in ("gain", "factor"):
                calibration(kind, 200, 300, args.reps_200, args.seed)
    if args.only in (None, "heldout"):
        print("\n== 3. held-out counts")
        heldout("locust20010214 (10-11.5 s)", locust(), args.splits, args.seed)
        heldout("simulated gain (20 x 300)", simulate("gain", 20, 300, args.seed + 100)[0], args.splits, args.seed)
    if args.only in (None, "speed"):
        print("\n== 4. speed")
        speed()
    if args.only in (None, "large"):
        print("\n== 5. 1,000 neurons x 400 trials, 2 factors")
        large(seed=args.seed)


if __name__ == "__main__":
    main()

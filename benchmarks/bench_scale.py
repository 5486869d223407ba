"""Scaling spikepool past one session: lazy loading, parallel fits, one large session, a Neuropixels-scale one.

What is measured (every ratio against a baseline timed in the same run)
------------------------------------------------------------------------
1. Loading the six locust experiments (``window=(2, 4)`` s): eager ``sp.concat_sessions`` in this process
   against ``sp.open_sessions`` on a ``LocalCluster(n_workers=2, threads_per_worker=1)`` (processes),
   opened then computed. Wall time of each (untraced runs); peak memory the driver allocates while loading
   (``tracemalloc``, in a second run of the same calls: Python and numpy allocations of this process) and the
   workers' peak resident memory (``ru_maxrss``, which includes their imports). Cluster start-up is timed apart.
2. Independent per-session fits of ``HierarchicalNegBinom(dispersion="pooled")`` to the six locust
   experiments: ``sp.fit_many`` with ``client=None`` (a serial loop, one process, chains one after the
   other: ``cores=1``) against ``sp.fit_many`` on 2 worker processes (one session per worker at a time).
   Target: speed-up close to 2x on 2 cores. Both first run a 10-draw warm-up, so the compiled models are
   cached in this process's and in each worker's own compile folder before the timed runs.
3. One simulated large session, ``simulate_counts(5000, 500, mu=1.5, tau=0.6, alpha=4, duration=0.5)``
   (2.5 million neuron-trials), fitted with the default ``HierarchicalNegBinom`` (per-neuron alpha,
   ``sampler="auto"``: nutpie when installed, ``pip install 'spikepool[fast]'``; PyMC's own NUTS did not
   finish 2 x 1000 iterations at this size in 22 minutes) whose likelihood sums over sufficient-statistic
   cells (distinct neuron, count, duration): wall time of
   ``fit`` (checks, build, sampling, prior draws, result groups), PyMC's NUTS-loop time, min bulk ESS over
   mu, tau, the rates and alphas, ESS per second of NUTS loop, and peak memory (driver ``tracemalloc`` and
   the chain processes' ``ru_maxrss``). Baseline in the same run: the gradient of the same model written
   with one Negative-Binomial term per neuron-trial (``pm.NegativeBinomial(..., observed=y)``), timed
   against the cell likelihood's gradient.
4. What breaks first as the size grows: for 500 to 20,000 neurons x 500 trials, the size of the cell
   likelihood, the time of one gradient, and the memory the result's pointwise log-likelihood would need
   for LOO (chains x draws x neuron-trials x 8 bytes; it is computed when LOO asks for it, and refused above
   ``spikepool.results.fit.MAX_LOGLIK_VALUES`` values).

5. The Neuropixels-scale session (``--only neuropixels``): ``simulate_neuropixels`` draws 1,000 units x
   8 conditions x 50 trials of 0.5 s (400,000 counts; crossed ``log r_ic = m_c + u_i + e_ic``, per-neuron
   dispersion), fitted with the default ``HierarchicalNegBinom(condition="condition")`` (crossed neuron
   effects), 2 chains x (1,000 tune + the default draws: 2,500 here), ``--sampler`` (pymc, nutpie, numpyro:
   on a GPU the two chains run vectorised). Prints each stage's time (``result.timings``), gradient evaluations
   per draw, divergences, R-hat over every parameter, ESS, peak memory, the 90% coverage of the true rates and tau,
   tau_neuron against the truth; baseline in the same run: the gradient of the same model with one likelihood
   term per (neuron, condition, count) cell, the likelihood without grouping (``--no-baseline`` skips it).
   ``--neurons`` sets the size.
6. Growth of that fit (``--only growth_crossed``): 100 units x 50 trials per condition, 10x the trials
   (100 x 500) and 10x the units (1,000 x 50), each the whole default fit; wall times as ratios to the first.

Run from the repository root (SPIKEPOOL_DATA must point at the data folder)::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_scale.py            # ~10-15 minutes on 2 cores
    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_scale.py --quick    # smoke run, ~3 minutes
    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_scale.py --only neuropixels --sampler pymc   # ~4 min

The script prints tables and always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings

import numpy as np

import spikepool as sp

LOCUST = [n for n in sp.datasets.names() if n.startswith("locust2")]
WINDOW = (2.0, 4.0)


def _mb(nbytes: float) -> float:
    return nbytes / 2**20


def _traced(fn):
    """Run ``fn()``; return its value, wall seconds and the peak bytes it allocated (tracemalloc)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        value = fn()
    finally:
        wall = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return value, wall, peak


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    cells = [[str(h) for h in header]] + [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    for k, r in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def bench_load(client) -> None:
    # times without tracemalloc (it slows allocation-heavy Python several-fold, and only in this process);
    # peak memory from a second, traced run of the same calls
    eager, t_eager = _timed(lambda: sp.concat_sessions(LOCUST, window=WINDOW))
    lazy, t_open = _timed(lambda: sp.open_sessions(LOCUST, window=WINDOW))
    computed, t_compute = _timed(lambda: lazy.compute())
    _, _, m_eager = _traced(lambda: sp.concat_sessions(LOCUST, window=WINDOW))
    traced_lazy, _, m_open = _traced(lambda: sp.open_sessions(LOCUST, window=WINDOW))
    _, _, m_compute = _traced(lambda: traced_lazy.compute())
    same = bool(np.array_equal(computed.values, eager.values))
    workers = client.run(_maxrss_mb)
    _table(
        f"1. Loading {len(LOCUST)} locust sessions, window {WINDOW} s: {eager.sizes['neuron']} neurons x "
        f"{eager.sizes['trial']} trials (values equal: {same})",
        ["how", "wall s", "driver peak MB", "vs eager time", "vs eager memory"],
        [
            ["eager concat_sessions", t_eager, _mb(m_eager), 1.0, 1.0],
            ["lazy open_sessions (open)", t_open, _mb(m_open), t_open / t_eager, m_open / m_eager],
            ["lazy .compute()", t_compute, _mb(m_compute), t_compute / t_eager, m_compute / m_eager],
            [
                "lazy open + compute",
                t_open + t_compute,
                _mb(max(m_open, m_compute)),
                (t_open + t_compute) / t_eager,
                max(m_open, m_compute) / m_eager,
            ],
        ],
    )
    print("  worker peak RSS MB (incl. imports): " + ", ".join(f"{v:.0f}" for v in workers.values()))


def bench_fit_many(client, draws: int, tune: int) -> None:
    sessions = {name: sp.datasets.load_counts(name, window=WINDOW) for name in LOCUST}
    model = sp.HierarchicalNegBinom(dispersion="pooled")
    kw = {"draws": draws, "tune": tune, "chains": 2, "random_seed": 1, "cores": 1}
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-session sampling warnings are not what is measured here
        # warm-up: compile every session's model once in this process and in the workers' own cache folders
        warm = {**kw, "draws": 10, "tune": 10}
        sp.fit_many(model, sessions, **warm)
        sp.fit_many(model, sessions, client=client, **warm)
        t0 = time.perf_counter()
        serial = sp.fit_many(model, sessions, **kw)
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        parallel = sp.fit_many(model, sessions, client=client, **kw)
        t_parallel = time.perf_counter() - t0
    same = all(np.array_equal(serial[s].posterior["rate"].values, parallel[s].posterior["rate"].values) for s in serial)
    rows.append(["serial loop (client=None)", t_serial, sum(serial.wall_s.values()), len(serial), 1.0])
    rows.append(["2 worker processes", t_parallel, sum(parallel.wall_s.values()), len(parallel), t_serial / t_parallel])
    _table(
        f"2. fit_many: {len(sessions)} locust sessions, HierarchicalNegBinom(dispersion='pooled'), "
        f"2 chains x ({tune} tune + {draws} draws) each, cores=1 (same draws both ways: {same})",
        ["how", "wall s", "sum of fit s", "fitted", "speed-up"],
        rows,
    )
    if serial.failures or parallel.failures:
        print(f"  failures: serial {serial.failures}, parallel {parallel.failures}")


def _grad_ms(fn, point, repeats: int = 10) -> float:
    fn(point)  # first call compiles (numba) / warms caches
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn(point)
    return (time.perf_counter() - t0) / repeats * 1000


def _per_trial_model(counts):
    """The same partial-pooling NB model with one likelihood term per neuron-trial (the baseline)."""
    import pymc as pm

    y = counts.values
    i = np.repeat(np.arange(y.shape[0]), y.shape[1])
    d = np.tile(counts["duration"].values, y.shape[0])
    with pm.Model() as model:
        mu = pm.Normal("mu", 1.0, 2.0)
        tau = pm.HalfNormal("tau", 1.0)
        log_rate = pm.Normal("log_rate", mu, tau, shape=y.shape[0])
        log_alpha = pm.Normal("log_alpha", 1.0, 1.5, shape=y.shape[0])
        pm.NegativeBinomial("y", mu=pm.math.exp(log_rate)[i] * d, alpha=pm.math.exp(log_alpha)[i], observed=y.ravel())
    return model


def bench_large(n_neurons: int, n_trials: int, draws: int, tune: int, sampler: str = "auto") -> None:
    import arviz_stats as azs

    from spikepool.results.fit import MAX_LOGLIK_VALUES
    from spikepool.stats.cells import compress

    counts, _ = sp.simulate_counts(n_neurons, n_trials, mu=1.5, tau=0.6, alpha=4.0, duration=0.5, seed=1)
    model = sp.HierarchicalNegBinom(sampler=sampler)
    cells = compress(counts, None)
    built = model.build(counts)
    ms_cells = _grad_ms(built.compile_dlogp(), built.initial_point())
    base = _per_trial_model(counts)
    ms_trials = _grad_ms(base.compile_dlogp(), base.initial_point())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        fit, wall, peak = _traced(
            lambda: model.fit(counts, draws=draws, tune=tune, chains=2, random_seed=1, progressbar=False)
        )
    post = fit.posterior
    loop = float(fit.idata["posterior"].attrs.get("sampling_time", np.nan))
    ess = azs.ess(post[["mu", "tau", "rate", "alpha"]], method="bulk")
    min_ess = min(float(ess[v].min()) for v in ess.data_vars)
    div = int(fit.idata["sample_stats"]["diverging"].sum())
    rhat = float(fit.post_checks.summary["rhat_max"])
    loo_possible = post.sizes["chain"] * post.sizes["draw"] * cells.obs_cell.size <= MAX_LOGLIK_VALUES
    _table(
        f"3. One large session: {n_neurons} neurons x {n_trials} trials ({counts.size:,} neuron-trials, "
        f"{cells.y.size:,} cells), default HierarchicalNegBinom, 2 chains x ({tune} tune + {draws} draws), "
        f"sampler {fit.idata['posterior'].attrs.get('inference_library', '?')}",
        ["figure", "value"],
        [
            ["fit wall s", wall],
            ["NUTS loop s (2 chains in parallel)", loop],
            ["min bulk ESS (mu, tau, rates, alphas)", min_ess],
            ["ESS per second of NUTS loop", min_ess / loop],
            ["divergences / max R-hat", f"{div} / {rhat:.3f}"],
            ["driver peak MB (tracemalloc, in fit)", _mb(peak)],
            ["driver max RSS MB", _maxrss_mb()],
            ["chain processes max RSS MB", _children_maxrss_mb()],
            ["LOO possible (pointwise log-likelihood within MAX_LOGLIK_VALUES)", loo_possible],
            ["gradient ms, cell likelihood", ms_cells],
            ["gradient ms, one term per neuron-trial (baseline)", ms_trials],
            ["speed-up of the cell likelihood", ms_trials / ms_cells],
        ],
    )


def simulate_neuropixels(n_neurons: int, n_cond: int = 8, n_trials: int = 50, seed: int = 1):
    """Crossed counts like a Neuropixels session: ``log r_ic = m_c + u_i + e_ic``, NB trials.

    ``m_c`` from log 4 to log 12 Hz over the conditions, ``u_i ~ Normal(0, 0.8)``, ``e_ic ~ Normal(0, 0.3)``,
    per-neuron ``alpha_i ~ LogNormal(log 5, 0.5)``, ``n_trials`` trials of 0.5 s per condition.
    """
    rng = np.random.default_rng(seed)
    conditions = [f"c{k}" for k in range(n_cond)]
    mu = np.linspace(np.log(4.0), np.log(12.0), n_cond)
    alpha = np.exp(rng.normal(np.log(5.0), 0.5, n_neurons))
    return sp.simulate_counts(
        n_neurons, n_trials * n_cond, conditions=conditions, mu=mu, tau=0.3, alpha=alpha, duration=0.5,
        neuron_sd=0.8, seed=rng,
    )  # fmt: skip


def _cell_loglik_model(model, counts):
    """``model.build(counts)`` with the likelihood written without grouping: one NB term per
    (neuron, condition, count, duration) cell (the baseline of the grouped likelihood)."""
    import pymc as pm

    from spikepool.models.likelihoods import family_logp
    from spikepool.stats.families import NEGBIN

    built = model.build(counts)
    cells, n_cond = built.spikepool_cells, built.spikepool_cells.condition_names.size
    old = built["loglik"]
    built.potentials.remove(old)
    del built.named_vars["loglik"]
    with built:
        mu_cell = built["rate"].reshape((-1,))[cells.neuron * n_cond + cells.condition] * cells.duration
        alpha = built["alpha"][cells.neuron]
        pm.Potential("loglik", (cells.weight * family_logp(NEGBIN, cells.y, mu_cell, alpha)).sum())
    return built


def bench_neuropixels(
    n_neurons: int, n_trials: int, draws: int | None, tune: int, sampler: str = "auto", baseline: bool = True
) -> None:
    """The Neuropixels-scale session: the default crossed model (``draws=None``: ``fit``'s default for its size),
    stage times, memory and recovery of the truth; with ``baseline``, the gradient of the same model with one
    likelihood term per cell (the likelihood without grouping)."""
    import arviz_stats as azs

    from spikepool.stats.cells import cell_groups, count_pairs

    counts, truth = simulate_neuropixels(n_neurons, n_trials=n_trials)
    model = sp.HierarchicalNegBinom(condition="condition")
    _, t_check = _timed(lambda: model.check(counts))
    built, t_build = _timed(lambda: model.build(counts))
    cells = built.spikepool_cells
    groups, pairs = cell_groups(cells), count_pairs(cells.neuron, cells.y, cells.weight)
    dlogp, t_compile = _timed(built.compile_dlogp)
    ms_grouped = _grad_ms(dlogp, built.initial_point(), repeats=20)
    ms_cells = np.nan
    if baseline:
        base = _cell_loglik_model(model, counts)
        ms_cells = _grad_ms(base.compile_dlogp(), base.initial_point(), repeats=20)
    # on a GPU the chains run side by side in one vectorised program
    extra = {"nuts_sampler_kwargs": {"chain_method": "vectorized"}} if sampler == "numpyro" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        t0 = time.perf_counter()
        fit = model.fit(
            counts, draws=draws, tune=tune, chains=2, random_seed=1, progressbar=False, sampler=sampler, **extra
        )
        wall = time.perf_counter() - t0
    # printed at once: the diagnostics below take a while, and a timed-out run should still report the fit
    print(f"fit of {n_neurons} units: {wall:.1f} s; stages {fit.timings}", flush=True)
    post, stats = fit.posterior, fit.idata["sample_stats"]
    draws = post.sizes["draw"]
    steps = stats["n_steps"] if "n_steps" in stats else 2 ** stats["tree_depth"] - 1
    ess = azs.ess(post[["mu", "tau", "tau_neuron", "log_rate", "alpha"]], method="bulk")
    min_ess = min(float(ess[v].min()) for v in ess.data_vars)
    lo, hi = post["rate"].quantile([0.05, 0.95], dim=("chain", "draw"))
    true_rate = truth["rate"].sel(condition=post["condition"].values).values
    cover = float(((lo.values <= true_rate) & (true_rate <= hi.values)).mean())
    timings = fit.timings
    rows = [[f"stage: {k}", v] for k, v in timings.items()]
    rows += [
        ["compile (cold, outside fit: the dlogp function alone)", t_compile],
        ["fit wall s (everything)", wall],
        ["gradient evaluations per draw (mean)", float(steps.mean())],
        [
            "divergences / max R-hat",
            f"{int(stats['diverging'].sum())} / {float(fit.post_checks.summary['rhat_max']):.3f}",
        ],
        ["min bulk ESS (mu, tau, tau_neuron, log rates, alphas)", min_ess],
        ["driver max RSS MB", _maxrss_mb()],
        ["chain processes max RSS MB", _children_maxrss_mb()],
        ["90% intervals covering the true rates", cover],
    ]
    from spikepool.stats.convergence import rhat as rhat_of

    r = rhat_of(post[["mu", "tau", "tau_neuron", "rate", "alpha"]])
    values = np.concatenate([r[v].values.ravel() for v in r.data_vars])
    worst = max(r.data_vars, key=lambda v: float(r[v].max()))
    rows += [
        [f"R-hat over {values.size:,} parameters: max (where) / 99th percentile / share > 1.01",
         f"{values.max():.4f} ({worst}) / {np.quantile(values, 0.99):.4f} / {(values > 1.01).mean():.4f}"],
    ]  # fmt: skip
    u = truth["neuron_effect"].values
    for name, true in (("tau", 0.3), ("tau_neuron", float(np.std(u - u.mean(), ddof=1)))):
        draws_ = post[name].values.ravel()
        mcse = float(azs.mcse(post[name], method="mean"))
        rows.append(
            [
                f"{name}: truth / posterior mean +- MCSE (sd)",
                f"{true:.4f} / {draws_.mean():.4f} +- {mcse:.4f} ({draws_.std():.4f})",
            ]
        )
    rows += [
        ["gradient ms, grouped likelihood (this model)", ms_grouped],
        ["gradient ms, one term per cell (before, baseline)", ms_cells],
        ["speed-up of the grouped likelihood", ms_cells / ms_grouped],
    ]
    _table(
        f"5. Neuropixels-scale session: {n_neurons} neurons x 8 conditions x {n_trials} trials "
        f"({counts.size:,} counts, {cells.n_cells:,} cells, {groups.n.size:,} groups + {pairs.y.size:,} count "
        f"pairs), crossed HierarchicalNegBinom(condition=...), 2 chains x ({tune} tune + {draws} draws), sampler "
        f"{fit.idata['posterior'].attrs.get('inference_library', '?')}; checks {t_check:.2f} s, build {t_build:.2f} s",
        ["figure", "value"],
        rows,
    )


def bench_growth(sizes: list[int], n_trials: int, draws: int) -> None:
    from spikepool.results.fit import MAX_LOGLIK_VALUES
    from spikepool.stats.cells import compress

    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        counts, _ = sp.simulate_counts(n, n_trials, mu=1.5, tau=0.6, alpha=4.0, duration=0.5, seed=1)
        cells = compress(counts, None)
        t_prep = time.perf_counter() - t0
        built = sp.HierarchicalNegBinom().build(counts)
        ms = _grad_ms(built.compile_dlogp(), built.initial_point(), repeats=5)
        loglik = 2 * draws * counts.size
        rows.append(
            [
                n,
                f"{counts.size:,}",
                f"{cells.y.size:,}",
                t_prep,
                ms,
                _mb(counts.nbytes),
                _mb(loglik * 8) / 1024,
                "yes" if loglik <= MAX_LOGLIK_VALUES else "no (skipped)",
            ]
        )
    _table(
        f"4. Growth at {n_trials} trials per neuron (log-likelihood for 2 chains x {draws} draws)",
        ["neurons", "neuron-trials", "cells", "simulate+compress s", "grad ms", "counts MB", "loglik GB", "LOO"],
        rows,
    )


def bench_growth_crossed(sizes: list[tuple[int, int]], draws: int, tune: int, sampler: str = "auto") -> None:
    """Growth: the default crossed fit of ``simulate_neuropixels`` at (units, trials per condition)."""
    rows, first = [], None
    for n, trials in sizes:
        counts, _ = simulate_neuropixels(n, n_trials=trials)
        model = sp.HierarchicalNegBinom(condition="condition")
        built = model.build(counts)
        ms = _grad_ms(built.compile_dlogp(), built.initial_point(), repeats=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SpikepoolWarning)
            fit, wall = _timed(
                lambda counts=counts, model=model: model.fit(
                    counts, draws=draws, tune=tune, chains=2, random_seed=1, progressbar=False, sampler=sampler
                )
            )
        stats = fit.idata["sample_stats"]
        steps = float((stats["n_steps"] if "n_steps" in stats else 2 ** stats["tree_depth"] - 1).mean())
        first = first or (wall, ms)
        rows.append(
            [n, trials, f"{counts.size:,}", wall, fit.timings.get("nuts_loop", np.nan), ms, steps,
             int(stats["diverging"].sum()), float(fit.post_checks.summary["rhat_max"]), wall / first[0]]
        )  # fmt: skip
    _table(
        f"6. Growth of the default crossed fit (8 conditions, 2 chains x ({tune} tune + {draws} draws), sampler "
        f"{sampler}); ratios against the first row",
        ["units", "trials/cond", "counts", "fit wall s", "NUTS loop s", "grad ms", "steps/draw", "div", "max R-hat",
         "x first wall"],
        rows,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes and few draws")
    parser.add_argument(
        "--sampler",
        default="auto",
        help="sampler of the large session (default auto: nutpie when installed; PyMC's NUTS did not finish "
        "2 x 1000 iterations of 5,000 neurons in 22 minutes)",
    )
    parser.add_argument(
        "--only",
        default="load,fit_many,large,growth,neuropixels,growth_crossed",
        help="comma-separated sections (default: all six)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="neuropixels: skip the per-cell likelihood's gradient (the baseline; it compiles a second model)",
    )
    parser.add_argument("--neurons", type=int, default=None, help="neuropixels: units (default 1000; 100 --quick)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    draws, tune = (100, 100) if args.quick else (500, 500)
    big = (500, 100) if args.quick else (5000, 500)
    growth = [500, 2000] if args.quick else [500, 2000, 5000, 20000]
    print(f"spikepool {sp.__version__}; sessions {LOCUST}")
    if only & {"load", "fit_many"}:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            with Client(cluster) as client:
                print(f"LocalCluster(2 worker processes) started in {time.perf_counter() - t0:.1f} s")
                if "load" in only:
                    bench_load(client)
                if "fit_many" in only:
                    bench_fit_many(client, draws, tune)
    if "large" in only:
        bench_large(*big, draws=draws, tune=tune, sampler=args.sampler)
    if "growth" in only:
        bench_growth(growth, big[1], draws)
    if "neuropixels" in only:
        n_np = args.neurons or (100 if args.quick else 1000)
        bench_neuropixels(n_np, 50, draws=draws if args.quick else None, tune=tune if args.quick else 1000,
                          sampler=args.sampler, baseline=not args.no_baseline)  # fmt: skip
    if "growth_crossed" in only:
        sizes = [(30, 20), (30, 200), (300, 20)] if args.quick else [(100, 50), (100, 500), (1000, 50)]
        bench_growth_crossed(sizes, draws=draws if args.quick else 1000, tune=tune if args.quick else 1000,
                             sampler=args.sampler)  # fmt: skip


if __name__ == "__main__":
    main()

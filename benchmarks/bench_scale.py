"""Scaling spikepool past one session: lazy loading, parallel fits, one large session.

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

Run from the repository root (SPIKEPOOL_DATA must point at the data folder)::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_scale.py            # ~10-15 minutes on 2 cores
    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_scale.py --quick    # smoke run, ~3 minutes

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
        "--only", default="load,fit_many,large,growth", help="comma-separated sections (default: all four)"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    from distributed import Client, LocalCluster

    draws, tune = (100, 100) if args.quick else (500, 500)
    big = (500, 100) if args.quick else (5000, 500)
    growth = [500, 2000] if args.quick else [500, 2000, 5000, 20000]
    print(f"spikepool {sp.__version__}; sessions {LOCUST}")
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


if __name__ == "__main__":
    main()

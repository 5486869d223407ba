"""Sampling efficiency of ``HierarchicalNegBinom``: against the latent-Gamma PyMC model, Bambi, and over session length.

What is measured
----------------
All data come from ``sp.simulate_counts(n_neurons, n_trials, mu=1.5, tau=0.6, alpha=4.0, duration=1.0,
seed=0)`` (one shared true alpha; the models do not know that unless they assume it). Every model is
sampled with the same NUTS settings: ``draws=1000, tune=1000, chains=2, cores=2, random_seed=0`` by
default, PyMC's default ``target_accept`` (0.8) unless ``--target-accept`` sets one for all models.

Timings (wall clock, ``time.perf_counter``), per model:

* fit s: the whole user-facing call. spikepool: ``model.fit(counts, ...)`` (checks, build, EB initial
  values, ``pm.sample``, ``pm.sample_prior_predictive``, the log-likelihood group, diagnostics).
  Latent-Gamma: building the ``pm.Model`` and ``pm.sample``. Bambi: ``bmb.Model(...)``, ``build()``
  and ``model.fit(...)``.
* pm.sample s: the ``pm.sample`` call alone (for spikepool the call made inside ``fit``, timed by
  wrapping ``pymc.sample``; Bambi's ``model.fit`` is ``pm.sample`` plus light renaming, so it counts as
  its pm.sample). It includes PyMC's function compilation (fast when PyTensor's cache is warm),
  NUTS initialisation, starting the two chain processes, the NUTS loop and collecting the trace.
* NUTS loop s: PyMC's own ``sampling_time`` (the tuning + draw iterations only).
* first run s: the same fit in a fresh process with an empty PyTensor cache (``PYTENSOR_FLAGS``
  ``base_compiledir`` set to a new temporary directory), i.e. what a first fit on a new machine
  costs. Compile ~ = (first fit - its NUTS loop) - (warm fit - its NUTS loop): the extra overhead of
  the cold run, which leaves the noise of the sampling loop out.

Warm timings are the best of ``--repeats`` runs in this process (the PyTensor cache in ``~/.pytensor``
is warm after the first); the models are run alternately (spikepool, other, spikepool, other, ...).
Draws are identical across repeats (same seed), so the ESS and posterior means come from one of them.

Efficiency: bulk ESS (``arviz_stats.ess(ds, method="bulk")``, the same arviz_stats for all models, on
draws handed back as arrays) of every scalar of mu, tau, all neuron rates (Hz) and all alphas; the
minimum over them, divided by the pm.sample wall time, is "ESS/s" (the limiting parameter is named).

1. spikepool's default fit (``dispersion="neuron"``, partial pooling; its likelihood is the Negative
   Binomial summed over sufficient-statistic cells) against the textbook latent-Gamma model a lab would
   write: mu ~ Normal(log(pooled rate), 2), tau ~ HalfNormal(1), z_i ~ Normal(0, 1),
   rate_i = exp(mu + tau z_i), log alpha_i ~ Normal(1, 1.5), lambda_it ~ Gamma(alpha_i, alpha_i / rate_i),
   y_it ~ Poisson(lambda_it d_t); 50 neurons x 40 trials. Target: ESS/s ratio >= 25x.
2. spikepool with ``dispersion="shared"`` against Bambi's ``count ~ 1 + offset(np.log(duration)) +
   (1|neuron)``, ``family="negativebinomial"`` (one shared alpha, Bambi's default priors), on the same
   data; Bambi runs in a Python 3.11 virtualenv (Bambi needs PyMC < 6) created once at
   ``--bambi-venv`` (default ``benchmarks/.bambi-venv``: ``python3.11 -m venv`` + ``pip install bambi
   "matplotlib<3.11"``; arviz_plots 0.8 breaks on matplotlib 3.11) and is driven through
   ``benchmarks/_bambi_fit.py`` with the counts in a temporary .npz. The minimum ESS is over mu /
   Intercept, tau / 1|neuron_sigma and the rates (alpha is listed but not in the minimum). Target >= 5x.
3. Scaling: the default fit on 500 neurons x 200 trials and on 500 x 2,000 trials. Targets: the 10x
   longer session costs < 2x (warm fit and pm.sample wall both), and the first 500 x 200 fit with
   compilation from an empty cache takes < 3 minutes.

Interference: for every timed run the CPU time used by other processes on the machine (``/proc/stat``
busy time minus this process tree's CPU time) is reported as "other CPU" in cores; on a 2-core machine
anything above ~0.2 means the timings are pessimistic. The script always exits 0: it is a report.

Run from the repository root::

    python benchmarks/bench_models.py               # full run (~12-20 minutes on 2 cores)
    python benchmarks/bench_models.py --no-bambi    # without the Bambi section
    python benchmarks/bench_models.py --quick       # smoke run on tiny data, ~1-2 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pymc as pm
import xarray as xr
from arviz_stats import ess as arviz_ess

import spikepool as sp
from spikepool.results.fit import MAX_LOGLIK_VALUES
from spikepool.stats.cells import compress

HERE = Path(__file__).resolve().parent
MU, TAU, ALPHA, DURATION, SEED = 1.5, 0.6, 4.0, 1.0, 0
LATENT_TARGET, BAMBI_TARGET, SCALING_TARGET, FIRST_FIT_TARGET = 25.0, 5.0, 2.0, 180.0
WORKER_PREFIX = "BENCH_WORKER "
BAMBI_PREFIX = "BAMBI_RESULT "
BAMBI_PACKAGES = ["bambi", "matplotlib<3.11"]
PARAMS = ("mu", "tau", "rate", "alpha")


def quiet_pymc() -> None:
    for name in ("pymc", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)


# --------------------------------------------------------------------------------------------- records
@dataclasses.dataclass
class Run:
    """One timed fit: wall times (s), efficiency and the posterior summaries that are compared."""

    label: str
    fit_s: float
    sample_s: float
    loop_s: float
    ess: dict[str, float]
    divergences: int
    means: dict[str, float]
    tree_depth: float = float("nan")
    other_cpu: float | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    def min_ess(self, names=PARAMS) -> tuple[float, str]:
        name = min((n for n in names if n in self.ess), key=lambda n: self.ess[n])
        return self.ess[name], name

    def ess_per_s(self, names=PARAMS, wall: str = "sample_s") -> float:
        return self.min_ess(names)[0] / getattr(self, wall)


def best(runs: list[Run]) -> Run:
    """The run with the shortest fit wall time, with the best pm.sample and loop times of all runs."""
    out = dataclasses.replace(min(runs, key=lambda r: r.fit_s))
    out.sample_s = min(r.sample_s for r in runs)
    out.loop_s = min(r.loop_s for r in runs)
    others = [r.other_cpu for r in runs if r.other_cpu is not None]
    out.other_cpu = max(others) if others else None
    out.extra = {**out.extra, "n_runs": len(runs)}
    return out


def summarize(label: str, draws: dict[str, np.ndarray], fit_s: float, sample_s: float, loop_s: float, stats) -> Run:
    """Bulk ESS (min per parameter), posterior means of mu and tau, divergences from ``stats``."""
    data = {}
    for name in PARAMS:
        if name in draws:
            arr = np.asarray(draws[name], dtype=np.float64)
            data[name] = (("chain", "draw", "neuron")[: arr.ndim], arr)
    ess = arviz_ess(xr.Dataset(data), method="bulk")
    return Run(
        label=label,
        fit_s=fit_s,
        sample_s=sample_s,
        loop_s=loop_s,
        ess={name: float(ess[name].min()) for name in data},
        divergences=int(np.asarray(stats["diverging"]).sum()),
        means={name: float(np.mean(draws[name])) for name in ("mu", "tau", "alpha") if name in draws},
        tree_depth=float(np.mean(stats["tree_depth"])) if "tree_depth" in stats else float("nan"),
    )


# ------------------------------------------------------------------------------------------ CPU monitor
class CpuMonitor:
    """CPU used by other processes during a block, in cores (None where /proc/stat is unreadable)."""

    def __enter__(self) -> CpuMonitor:
        self.other_cpu = None
        self.t0, self.busy0, self.own0 = time.perf_counter(), machine_busy(), own_cpu()
        return self

    def __exit__(self, *exc) -> None:
        busy1, wall = machine_busy(), time.perf_counter() - self.t0
        if self.busy0 is not None and busy1 is not None and wall > 0:
            self.other_cpu = max(0.0, ((busy1 - self.busy0) - (own_cpu() - self.own0)) / wall)


def machine_busy() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    jiffies = [int(f) for f in fields]
    busy = sum(jiffies[:8]) - jiffies[3] - jiffies[4]  # user nice system (idle iowait) irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process and its waited-for children (the chain processes, workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ----------------------------------------------------------------------------------------------- models
def simulate(n_neurons: int, n_trials: int):
    return sp.simulate_counts(n_neurons, n_trials, mu=MU, tau=TAU, alpha=ALPHA, duration=DURATION, seed=SEED)


def nuts_sampler() -> str:
    """The NUTS implementation spikepool's fit picks (sampler="auto"), used for the latent model too."""
    return "nutpie" if importlib.util.find_spec("nutpie") else "pymc"


@contextlib.contextmanager
def timing_pm_sample(record: list[float]):
    """Wrap ``pymc.sample`` so the wall time of each call made inside the block is appended to ``record``."""
    original = pm.sample

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record.append(time.perf_counter() - t0)

    pm.sample = timed
    try:
        yield record
    finally:
        pm.sample = original


def run_spikepool(counts, dispersion: str, settings: dict, label: str) -> Run:
    model = sp.HierarchicalNegBinom(dispersion=dispersion)
    kwargs = {"target_accept": settings["target_accept"]} if settings.get("target_accept") else {}
    record: list[float] = []
    with warnings.catch_warnings(), timing_pm_sample(record), CpuMonitor() as mon:
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        result = model.fit(
            counts,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            random_seed=SEED,
            progressbar=False,
            cores=settings["chains"],
            **kwargs,
        )
        fit_s = time.perf_counter() - t0
    post = result.idata["posterior"].to_dataset()
    run = summarize(
        label,
        {name: post[name].values for name in PARAMS if name in post},
        fit_s,
        record[0] if record else float("nan"),
        float(post.attrs.get("sampling_time", np.nan)),
        result.idata["sample_stats"].to_dataset(),
    )
    run.other_cpu = mon.other_cpu
    run.extra = {
        "cells": compress(counts).n_cells,
        "loo_possible": post.sizes["chain"] * post.sizes["draw"] * compress(counts).obs_cell.size <= MAX_LOGLIK_VALUES,
    }
    return run


def latent_gamma_model(counts):
    """The textbook latent-Gamma formulation: one Gamma rate per (neuron, trial), Poisson counts."""
    y = np.asarray(counts.values, dtype=np.int64)
    duration = np.asarray(counts["duration"].values, dtype=np.float64)
    pooled = max(float(y.sum()), 0.5) / (y.shape[0] * float(duration.sum()))
    coords = {"neuron": counts["neuron"].values, "trial": np.arange(y.shape[1])}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", np.log(pooled), 2.0)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="neuron")
        rate = pm.Deterministic("rate", pm.math.exp(mu + tau * z), dims="neuron")
        log_alpha = pm.Normal("log_alpha", 1.0, 1.5, dims="neuron")
        alpha = pm.Deterministic("alpha", pm.math.exp(log_alpha), dims="neuron")
        lam = pm.Gamma("lam", alpha=alpha[:, None], beta=(alpha / rate)[:, None], dims=("neuron", "trial"))
        pm.Poisson("y", lam * duration[None, :], observed=y, dims=("neuron", "trial"))
    return model


def run_latent(counts, settings: dict, label: str = "latent-Gamma PyMC model") -> Run:
    kwargs = {"target_accept": settings["target_accept"]} if settings.get("target_accept") else {}
    with warnings.catch_warnings(), CpuMonitor() as mon:
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = latent_gamma_model(counts)
        t1 = time.perf_counter()
        with model:
            idata = pm.sample(
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                cores=settings["chains"],
                random_seed=SEED,
                progressbar=False,
                nuts_sampler=nuts_sampler(),
                compute_convergence_checks=False,
                **kwargs,
            )
        t2 = time.perf_counter()
    post = idata["posterior"].to_dataset()
    run = summarize(
        label,
        {name: post[name].values for name in PARAMS},
        t2 - t0,
        t2 - t1,
        float(post.attrs.get("sampling_time", np.nan)),
        idata["sample_stats"].to_dataset(),
    )
    run.other_cpu = mon.other_cpu
    return run


# ---------------------------------------------------------------------------- cold-cache worker process
def worker(spec: dict) -> int:
    """``--worker``: one fit in this (fresh) process; prints its Run as JSON on the last line."""
    counts, _ = simulate(spec["neurons"], spec["trials"])
    if spec["model"] == "latent":
        run = run_latent(counts, spec)
    else:
        run = run_spikepool(counts, spec["model"], spec, label=spec["model"])
    print(WORKER_PREFIX + json.dumps(dataclasses.asdict(run)), flush=True)
    return 0


def last_json(stdout: str, prefix: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    if not lines:
        raise RuntimeError("no result line")
    return json.loads(lines[-1][len(prefix) :])


def cold_env() -> tuple[dict, str]:
    """Environment whose PyTensor cache (C modules and Numba cache) is a new, empty directory."""
    cache = tempfile.mkdtemp(prefix="bench-pytensor-")
    env = dict(os.environ)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = f"{flags},base_compiledir={cache}" if flags else f"base_compiledir={cache}"
    return env, cache


def cold_run(model: str, n_neurons: int, n_trials: int, settings: dict) -> Run | str:
    """The fit in a fresh process with an empty PyTensor cache (compilation included); str on failure."""
    spec = {**settings, "model": model, "neurons": n_neurons, "trials": n_trials}
    env, cache = cold_env()
    try:
        with CpuMonitor() as mon:
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        try:
            data = last_json(proc.stdout, WORKER_PREFIX)
        except (RuntimeError, json.JSONDecodeError):
            return f"cold worker failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    run = Run(**data)
    run.other_cpu = mon.other_cpu
    return run


def compile_estimate(cold: Run | str | None, warm: Run) -> float:
    """Extra non-sampling time of the cold run over the warm one (s)."""
    if not isinstance(cold, Run):
        return float("nan")
    return (cold.fit_s - cold.loop_s) - (warm.fit_s - warm.loop_s)


# ------------------------------------------------------------------------------------------------ Bambi
def bambi_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_bambi_venv(venv: Path) -> str | None:
    """Create the Python 3.11 + Bambi virtualenv once; None when ready, else why it is not."""
    python = bambi_python(venv)
    check = [str(python), "-c", "import bambi, pymc, matplotlib.style.core"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return None
    base = shutil.which("python3.11")
    if base is None:
        return "python3.11 not found on PATH"
    print(f"  creating the Bambi virtualenv at {venv} (once; pip install {' '.join(BAMBI_PACKAGES)}) ...", flush=True)
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *BAMBI_PACKAGES],
    ]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd[:4])} failed: {exc}"
        if proc.returncode != 0:
            tail = "\n".join(line for line in proc.stderr.splitlines() if "is ignored" not in line)[-800:]
            return f"{' '.join(cmd[:4])} failed (exit {proc.returncode}): {tail}"
    proc = subprocess.run(check, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"bambi does not import in {venv}: {proc.stderr.strip()[-500:]}"
    return None


def run_bambi(venv: Path, counts, settings: dict, env: dict | None = None) -> Run | str:
    """One Bambi fit through _bambi_fit.py in the 3.11 virtualenv; str on failure."""
    with tempfile.TemporaryDirectory(prefix="bench-bambi-") as tmp:
        data, out = Path(tmp) / "counts.npz", Path(tmp) / "post.npz"
        np.savez(
            data,
            counts=np.asarray(counts.values, dtype=np.int64),
            duration=np.asarray(counts["duration"].values, dtype=np.float64),
            neuron=np.asarray(counts["neuron"].values).astype(str),
        )
        cmd = [str(bambi_python(venv)), str(HERE / "_bambi_fit.py"), "--data", str(data), "--out", str(out)]
        cmd += ["--draws", str(settings["draws"]), "--tune", str(settings["tune"])]
        cmd += ["--chains", str(settings["chains"]), "--seed", str(SEED)]
        if settings.get("target_accept"):
            cmd += ["--target-accept", str(settings["target_accept"])]
        with CpuMonitor() as mon:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        try:
            info = last_json(proc.stdout, BAMBI_PREFIX)
        except (RuntimeError, json.JSONDecodeError):
            return f"_bambi_fit.py failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}"
        with np.load(out) as post:
            draws = {name: post[name] for name in post.files}
    stats = {"diverging": np.array([info["divergences"]]), "tree_depth": np.array([info["mean_tree_depth"]])}
    run = summarize(
        f"Bambi {info['bambi']} (PyMC {info['pymc']})",
        draws,
        info["build_s"] + info["fit_s"],
        info["fit_s"],
        info["loop_s"],
        stats,
    )
    run.other_cpu = mon.other_cpu
    run.extra = info
    return run


# ----------------------------------------------------------------------------------------------- output
def fmt(value, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if j == 0 else f"{{:>{w}}}" for j, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def ess_detail(run: Run) -> str:
    return ", ".join(f"{name} {run.ess[name]:.0f}" for name in PARAMS if name in run.ess)


def model_rows(runs: list[tuple[Run, Run | str | None]], names=PARAMS) -> list[list[str]]:
    rows = []
    for warm, cold in runs:
        ess, limit = warm.min_ess(names)
        rows.append(
            [
                warm.label,
                fmt(cold.fit_s) if isinstance(cold, Run) else "-",
                fmt(compile_estimate(cold, warm)),
                fmt(warm.fit_s),
                fmt(warm.sample_s),
                fmt(warm.loop_s),
                f"{ess:.0f} ({limit})",
                fmt(warm.ess_per_s(names)),
                str(warm.divergences),
                fmt(warm.tree_depth, ".2f"),
                fmt(warm.means.get("mu"), ".3f"),
                fmt(warm.means.get("tau"), ".3f"),
                fmt(warm.other_cpu, ".2f"),
            ]
        )
    return rows


MODEL_HEADER = [
    "model",
    "first run s",
    "compile~ s",
    "fit s",
    "pm.sample s",
    "NUTS loop s",
    "min bulk ESS",
    "ESS/s",
    "div",
    "depth",
    "mu mean",
    "tau mean",
    "other CPU",
]


def verdict(ok: bool | None, quick: bool) -> str:
    if quick:
        return "n/a (quick)"
    if ok is None:
        return "n/a"
    return "PASS" if ok else "FAIL"


def print_cold(cold) -> None:
    if isinstance(cold, str):
        print(f"  note: {cold}")


# --------------------------------------------------------------------------------------------- sections
def section_latent(args, settings: dict) -> dict:
    n, t = args.latent_size
    counts, truth = simulate(n, t)
    print(f"\n== 1. spikepool default fit vs the latent-Gamma PyMC model: {n} neurons x {t} trials ==", flush=True)
    cold_sp = cold_latent = None
    if args.cold and not args.quick:
        print("  first runs with an empty PyTensor cache (separate processes) ...", flush=True)
        cold_sp = cold_run("neuron", n, t, settings)
        cold_latent = cold_run("latent", n, t, settings)
    sp_runs, latent_runs = [], []
    for k in range(args.repeats):
        print(f"  warm run {k + 1}/{args.repeats}: spikepool, latent-Gamma ...", flush=True)
        sp_runs.append(run_spikepool(counts, "neuron", settings, 'spikepool fit (dispersion="neuron")'))
        latent_runs.append(run_latent(counts, settings))
    sp_best, latent_best = best(sp_runs), best(latent_runs)
    print()
    table(MODEL_HEADER, model_rows([(sp_best, cold_sp), (latent_best, cold_latent)]))
    print_cold(cold_sp)
    print_cold(cold_latent)
    ratio = sp_best.ess_per_s() / latent_best.ess_per_s()
    ratio_fit = sp_best.ess_per_s(wall="fit_s") / latent_best.ess_per_s()
    print(f"bulk ESS min per parameter: spikepool {ess_detail(sp_best)}; latent {ess_detail(latent_best)}")
    print(
        f"ESS/s ratio spikepool / latent-Gamma: {ratio:.1f}x on pm.sample wall (like for like); "
        f"{ratio_fit:.1f}x with spikepool's whole fit() wall in the numerator"
    )
    print(
        f"wall-time ratio latent / spikepool: pm.sample {latent_best.sample_s / sp_best.sample_s:.1f}x, "
        f"NUTS loop {latent_best.loop_s / sp_best.loop_s:.1f}x, latent pm.sample / spikepool fit() "
        f"{latent_best.sample_s / sp_best.fit_s:.1f}x"
    )
    print(
        f"posterior means: mu {sp_best.means['mu']:.3f} vs {latent_best.means['mu']:.3f}, tau "
        f"{sp_best.means['tau']:.3f} vs {latent_best.means['tau']:.3f} (truth: mu {MU}, tau {TAU}; sample sd of "
        f"the {n} true log rates {float(truth['log_rate'].std()):.3f})"
    )
    return {"ratio": ratio}


def section_bambi(args, settings: dict) -> dict:
    n, t = args.latent_size
    counts, _ = simulate(n, t)
    print(f"\n== 2. spikepool (dispersion=shared) vs Bambi: {n} neurons x {t} trials ==", flush=True)
    venv = Path(args.bambi_venv).resolve()
    reason = ensure_bambi_venv(venv)
    if reason is not None:
        print(f"  Bambi section skipped: {reason}")
        return {"ratio": None, "skipped": reason}
    cold_sp = cold_bambi = None
    if args.cold and not args.quick:
        print("  first runs with an empty PyTensor cache (separate processes) ...", flush=True)
        cold_sp = cold_run("shared", n, t, settings)
        env, cache = cold_env()
        try:
            cold_bambi = run_bambi(venv, counts, settings, env=env)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    sp_runs, bambi_runs, failures = [], [], []
    for k in range(args.repeats):
        print(f"  warm run {k + 1}/{args.repeats}: spikepool, Bambi ...", flush=True)
        sp_runs.append(run_spikepool(counts, "shared", settings, 'spikepool fit (dispersion="shared")'))
        result = run_bambi(venv, counts, settings)
        (bambi_runs if isinstance(result, Run) else failures).append(result)
    if not bambi_runs:
        print(f"  Bambi failed: {failures[0]}")
        return {"ratio": None, "skipped": failures[0]}
    sp_best, bambi_best = best(sp_runs), best(bambi_runs)
    names = ("mu", "tau", "rate")
    print()
    table(MODEL_HEADER, model_rows([(sp_best, cold_sp), (bambi_best, cold_bambi)], names=names))
    print_cold(cold_sp)
    print_cold(cold_bambi)
    info = bambi_best.extra
    print(
        f"Bambi: python {info['python']}, bambi {info['bambi']}, pymc {info['pymc']}, pytensor {info['pytensor']}; "
        f"formula {info['formula']!r}; free RVs {info['free_rvs']}; venv {venv}"
    )
    print("Bambi priors: " + " | ".join(line.strip() for line in info["model"].splitlines() if "~" in line))
    print(
        "spikepool row uses dispersion='shared' (one alpha, like Bambi's NB); min ESS over mu, tau and rates "
        "(alpha listed, not in the minimum); Bambi's fit s = Model()+build()+fit(), its pm.sample s = fit()"
    )
    print(f"bulk ESS min per parameter: spikepool {ess_detail(sp_best)}; Bambi {ess_detail(bambi_best)}")
    ratio = sp_best.ess_per_s(names) / bambi_best.ess_per_s(names)
    ratio_fit = sp_best.ess_per_s(names, wall="fit_s") / bambi_best.ess_per_s(names, wall="fit_s")
    print(
        f"ESS/s ratio spikepool / Bambi: {ratio:.1f}x on pm.sample wall; {ratio_fit:.1f}x on whole-fit wall; "
        f"wall-time ratio Bambi / spikepool: pm.sample {bambi_best.sample_s / sp_best.sample_s:.1f}x, "
        f"NUTS loop {bambi_best.loop_s / sp_best.loop_s:.1f}x"
    )
    agree = []
    for name, label in (("mu", "mu vs Intercept"), ("tau", "tau vs 1|neuron_sigma"), ("alpha", "alpha")):
        a, b = sp_best.means.get(name), bambi_best.means.get(name)
        agree.append(f"{label}: {a:.3f} vs {b:.3f} (diff {b - a:+.3f})")
    print("posterior means (spikepool vs Bambi): " + "; ".join(agree))
    return {"ratio": ratio}


def section_scaling(args, settings: dict) -> dict:
    sizes = args.scaling_sizes
    print(
        f"\n== 3. Scaling of the default fit: {' and '.join(f'{n} x {t}' for n, t in sizes)} (neurons x trials) ==",
        flush=True,
    )
    rows, results = [], []
    for i, (n, t) in enumerate(sizes):
        counts, _ = simulate(n, t)
        cold = None
        if args.cold and (i == 0 or not args.quick):
            print(f"  {n} x {t}: first fit with an empty PyTensor cache (separate process) ...", flush=True)
            cold = cold_run("neuron", n, t, settings)
        runs = []
        for k in range(args.scaling_repeats):
            print(f"  {n} x {t}: warm fit {k + 1}/{args.scaling_repeats} ...", flush=True)
            runs.append(run_spikepool(counts, "neuron", settings, f"{n} x {t}"))
        warm = best(runs)
        results.append((warm, cold))
        ess, limit = warm.min_ess()
        rows.append(
            [
                f"{n} x {t:,}",
                f"{warm.extra['cells']:,}",
                fmt(cold.fit_s) if isinstance(cold, Run) else "-",
                fmt(compile_estimate(cold, warm)),
                fmt(warm.fit_s),
                fmt(warm.sample_s),
                fmt(warm.loop_s),
                f"{ess:.0f} ({limit})",
                fmt(warm.ess_per_s()),
                fmt(warm.ess_per_s(wall="fit_s")),
                str(warm.divergences),
                fmt(warm.tree_depth, ".2f"),
                "yes" if warm.extra["loo_possible"] else "no",
                fmt(warm.other_cpu, ".2f"),
                fmt(cold.other_cpu, ".2f") if isinstance(cold, Run) else "-",
            ]
        )
    print()
    header = [
        "neurons x trials",
        "NB cells",
        "first fit s",
        "compile~ s",
        "fit s",
        "pm.sample s",
        "NUTS loop s",
        "min bulk ESS",
        "ESS/s sample",
        "ESS/s fit",
        "div",
        "depth",
        "loo",
        "other CPU",
        "other CPU 1st",
    ]
    table(header, rows)
    for warm, cold in results:
        print_cold(cold)
        print(f"bulk ESS min per parameter, {warm.label}: {ess_detail(warm)}")
    (small, small_cold), (large, _) = results[0], results[-1]
    fit_ratio, sample_ratio = large.fit_s / small.fit_s, large.sample_s / small.sample_s
    loop_ratio = large.loop_s / small.loop_s
    print(
        f"cost of the {sizes[-1][1] // sizes[0][1]}x longer session: fit {fit_ratio:.2f}x, "
        f"pm.sample {sample_ratio:.2f}x, "
        f"NUTS loop {loop_ratio:.2f}x (the pointwise log-likelihood is computed only when LOO asks; 'loo' says "
        f"whether it fits within {MAX_LOGLIK_VALUES:,} values)"
    )
    first = small_cold.fit_s if isinstance(small_cold, Run) else None
    return {"fit_ratio": fit_ratio, "sample_ratio": sample_ratio, "first": first, "first_size": sizes[0]}


# ------------------------------------------------------------------------------------------------- main
def parse_size(text: str) -> tuple[int, int]:
    n, _, t = text.lower().partition("x")
    return int(n), int(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, 200 draws, no repeats")
    parser.add_argument("--bambi", dest="bambi", action="store_true", default=None, help="run the Bambi section")
    parser.add_argument("--no-bambi", dest="bambi", action="store_false", help="skip the Bambi section")
    parser.add_argument("--bambi-venv", default=str(HERE / ".bambi-venv"), help="Python 3.11 + Bambi virtualenv")
    parser.add_argument("--no-cold", dest="cold", action="store_false", help="skip the empty-cache first runs")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=None, help="for every model (default PyMC's)")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per model in sections 1 and 2")
    parser.add_argument("--scaling-repeats", type=int, default=1, help="warm fits per size in section 3")
    parser.add_argument("--latent-size", type=parse_size, default=(50, 40), help="sections 1-2, e.g. 50x40")
    parser.add_argument("--scaling-sizes", type=parse_size, nargs=2, default=[(500, 200), (500, 2000)])
    parser.add_argument("--sections", default="123", help="which sections to run, e.g. 13")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quiet_pymc()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.quick:
        args.draws = args.tune = 200
        args.repeats = args.scaling_repeats = 1
        args.latent_size, args.scaling_sizes = (20, 20), [(50, 20), (50, 200)]
    if args.bambi is None:
        args.bambi = shutil.which("python3.11") is not None
    settings = {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "target_accept": args.target_accept,
    }
    t_start = time.perf_counter()
    print("spikepool model benchmark")
    print(
        f"spikepool {sp.__version__}, PyMC {pm.__version__}, NUTS sampler {nuts_sampler()!r}, python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs; draws={args.draws} tune={args.tune} chains={args.chains} "
        f"cores={args.chains} seed={SEED} target_accept={args.target_accept or 'PyMC default (0.8)'}"
    )
    print(
        f"data: simulate_counts(mu={MU}, tau={TAU}, alpha={ALPHA}, duration={DURATION}, seed={SEED}); "
        f"warm times best of {args.repeats} (sections 1-2) / {args.scaling_repeats} (section 3); "
        f"first runs {'in fresh processes with an empty PyTensor cache' if args.cold else 'skipped (--no-cold)'}"
    )
    out = {}
    if "1" in args.sections:
        out["latent"] = section_latent(args, settings)
    if "2" in args.sections:
        if args.bambi:
            out["bambi"] = section_bambi(args, settings)
        else:
            print("\n== 2. Bambi section skipped (--no-bambi, or python3.11 not on PATH) ==")
    if "3" in args.sections:
        out["scaling"] = section_scaling(args, settings)

    print("\n== targets ==")
    if args.quick:
        print("(--quick is a smoke run on tiny data: the targets are judged on the full run only)")
    if "latent" in out:
        r = out["latent"]["ratio"]
        print(
            f"{verdict(r >= LATENT_TARGET, args.quick)}: ESS/s spikepool default fit / latent-Gamma model "
            f"{r:.1f}x (target >= {LATENT_TARGET:g}x)"
        )
    if "bambi" in out:
        r = out["bambi"]["ratio"]
        shown = f"{r:.1f}x" if r is not None else f"not measured ({out['bambi'].get('skipped')})"
        print(
            f"{verdict(None if r is None else r >= BAMBI_TARGET, args.quick)}: ESS/s spikepool "
            f"(dispersion=shared) / Bambi {shown} (target >= {BAMBI_TARGET:g}x)"
        )
    if "scaling" in out:
        s = out["scaling"]
        ok = max(s["fit_ratio"], s["sample_ratio"]) < SCALING_TARGET
        print(
            f"{verdict(ok, args.quick)}: 10x longer session costs fit {s['fit_ratio']:.2f}x, pm.sample "
            f"{s['sample_ratio']:.2f}x (target < {SCALING_TARGET:g}x)"
        )
        n, t = s["first_size"]
        first = s["first"]
        shown = f"{first:.1f} s" if first is not None else "not measured"
        print(
            f"{verdict(None if first is None else first < FIRST_FIT_TARGET, args.quick)}: first {n} x {t} fit with "
            f"compilation from an empty cache {shown} (target < {FIRST_FIT_TARGET:g} s)"
        )
    print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

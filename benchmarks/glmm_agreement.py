"""``HierarchicalGLM`` against glmmTMB and brms: recovery, calibration and agreement of a negative-binomial GLMM.

What is measured
----------------
1. Simulated recovery (spikepool alone). 200 neurons x 400 trials (duration 1 s) from
   ``count ~ 1 + x1 + x2 + (1 + x1 + x2 | neuron)``, x1, x2 ~ N(0, 1) per trial (trial coordinates),
   beta = (1.5, 0.3, -0.2), random-effect SDs (0.5, 0.25, 0.2), corr(Intercept, x1) = 0.5 (the others 0),
   NB2 counts ``Var = mu + mu**2 / alpha_i`` with log alpha_i ~ N(1, 0.3) (seed ``--seed``). Fitted with
   ``sp.HierarchicalGLM(FORMULA).fit(counts, random_seed=seed, progressbar=False)`` (the default
   NUTS: draws, tune, chains, sampler). Printed: fit wall time (s, the whole call) and ``result.timings``,
   the largest R-hat over beta, sd, corr (off-diagonal) and b, divergences, the coverage of the 90%
   intervals of ``result.coefficients(ci_prob=0.9)`` of every neuron's true slopes beta_x1 + b_i,x1 and
   beta_x2 + b_i,x2 (target 90 +- 3%), whether the true corr(Intercept, x1) lies in the 90% interval of
   ``corr_neuron``, and ESS/s: the smallest bulk ESS (``arviz_stats.ess``) of beta and sd over the wall time.
2. The same data fitted by glmmTMB (``count ~ 1 + x1 + x2 + (1 + x1 + x2 | neuron) +
   offset(log(duration))``, ``family = nbinom2``, ``dispformula = ~ 0 + neuron``: one theta = alpha per
   neuron; ``~ 1`` when that fit does not converge, and the table says so), through ``Rscript
   benchmarks/_glmmtmb_fit.R`` with the data in a temporary CSV. Printed per parameter: the truth, the
   spikepool posterior mean and sd, the glmmTMB estimate (and SE for fixed effects), and |difference| /
   posterior sd (target: <= 2 for fixed effects and random-effect SDs; correlations are listed, not
   judged), plus the per-neuron log alpha against glmmTMB's log theta (median |diff| / sd).
3. Recorded data: ``sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))`` (10 units x 359
   trials) with ``count ~ condition + scale(block_trial) + (1 + scale(block_trial) | neuron)``, compared with
   glmmTMB as in 2. R gets the same coding: ``condition`` a factor whose reference is the first level in
   sorted order (formulae's treatment coding), block_trial scaled over the valid observations with the
   population sd (formulae's ``scale``: divisor n, not R's n - 1).
4. A small case against brms (Stan NUTS): 20 neurons x 50 trials of the design of 1 (its own seed), both
   with 2 chains x 1,000 draws after 1,000 warm-up. brms: ``bf(count ~ 1 + x1 + x2 + offset(log(duration))
   + (1 + x1 + x2 | neuron), shape ~ 0 + neuron)``, ``family = negbinomial`` through ``benchmarks/_brms_fit.R``
   (brms's default priors, spikepool's Normal(1, 1.5) on the log shapes). Printed: wall time of the whole
   call (brms: Stan compilation included; spikepool: PyTensor compilation, warm or cold cache) and of
   sampling alone, the smallest bulk ESS of the fixed effects and SDs (the same ``arviz_stats.ess`` on both
   draws), ESS/s over each time, divergences, and the posterior means side by side.

"other CPU" is the CPU time other processes used during a timed block, in cores (``/proc/stat``); on a 2-core
machine anything above ~0.2 makes the timings pessimistic. The script exits 0: it is a report.

Needs ``Rscript`` with glmmTMB and jsonlite, and brms and rstan for 4 (its failure is printed, the rest runs):
``apt-get install r-cran-glmmtmb r-cran-brms r-cran-jsonlite``; Debian's r-cran-bh ships without its
``include`` folder, so brms compiles nothing until it is linked to the system's Boost headers
(``ln -s /usr/include "$(Rscript -e 'cat(system.file(package="BH"))')/include"``).

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/glmm_agreement.py           # full, ~40 min on 2 cores
    SPIKEPOOL_DATA=../shared/data python benchmarks/glmm_agreement.py --quick   # smoke run, ~4 min
    python benchmarks/glmm_agreement.py --no-brms --no-locust
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import arviz_stats as azs
import numpy as np
import pandas as pd

import spikepool as sp
from spikepool.counts.design import formula_design

HERE = Path(__file__).resolve().parent
FORMULA = "count ~ 1 + x1 + x2 + (1 + x1 + x2 | neuron)"
LOCUST_FORMULA = "count ~ condition + scale(block_trial) + (1 + scale(block_trial) | neuron)"
BETA = np.array([1.5, 0.3, -0.2])
SD = np.array([0.5, 0.25, 0.2])
CORR = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
EFFECTS = ("Intercept", "x1", "x2")
LOG_ALPHA = (1.0, 0.3)
CI = 0.9


# ----------------------------------------------------------------------------------------------- helpers
class CpuMonitor:
    """CPU used by other processes during a block, in cores (None where /proc/stat is unreadable)."""

    def __enter__(self) -> CpuMonitor:
        self.other_cpu = None
        self.t0, self.busy0, self.own0 = time.perf_counter(), machine_busy(), own_cpu()
        return self

    def __exit__(self, *exc) -> None:
        busy1, self.wall = machine_busy(), time.perf_counter() - self.t0
        if self.busy0 is not None and busy1 is not None and self.wall > 0:
            self.other_cpu = max(0.0, ((busy1 - self.busy0) - (own_cpu() - self.own0)) / self.wall)


def machine_busy() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    jiffies = [int(f) for f in fields]
    return (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process and its waited-for children (chain processes, Rscript)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other(mon: CpuMonitor) -> str:
    return "n/a" if mon.other_cpu is None else f"{mon.other_cpu:.2f}"


def draws_of(post, name: str) -> np.ndarray:
    """(chain, draw, k) values of a posterior variable, its non-sample dims flattened."""
    da = post[name].transpose("chain", "draw", ...)
    return da.values.reshape(da.sizes["chain"], da.sizes["draw"], -1)


def lower_pairs(post, name: str, effects) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """(chain, draw, pair) draws of the strictly lower triangle of a correlation matrix, and the pairs."""
    values = post[name].transpose("chain", "draw", ...).values
    i, j = np.tril_indices(len(effects), -1)
    return values[..., i, j], [(effects[a], effects[b]) for a, b in zip(i, j, strict=True)]


def min_ess(*arrays: np.ndarray) -> float:
    return float(min(np.nanmin(np.asarray(azs.ess(a, method="bulk"))) for a in arrays))


def spikepool_fit(counts, formula: str, seed: int, **kwargs):
    import pymc  # noqa: F401  (imported first, so that its logger's level set here sticks)

    for name in ("pymc", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with CpuMonitor() as mon, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sp.HierarchicalGLM(formula).fit(counts, random_seed=seed, progressbar=False, **kwargs)
    return result, mon


def long_frame(counts, columns) -> pd.DataFrame:
    """One row per valid (neuron, trial): neuron, trial, count, duration and the trial coordinates named."""
    valid = counts["valid"].values if "valid" in counts.coords else np.ones(counts.shape, dtype=bool)
    n, t = np.nonzero(valid)
    frame = {
        "neuron": counts["neuron"].values[n].astype(str),
        "trial": counts["trial"].values[t],
        "count": counts.values[n, t].astype(np.int64),
        "duration": counts["duration"].values[t],
    }
    frame.update({c: counts[c].values[t] for c in columns})
    return pd.DataFrame(frame)


def run_r(script: str, frame: pd.DataFrame, config: dict, tmp: Path, extra: tuple[str, ...] = ()):
    """Rscript ``script`` on the frame and config; (its JSON output or None, an error text or None, the monitor)."""
    data, cfg, out = tmp / "data.csv", tmp / "config.json", tmp / "out.json"
    frame.to_csv(data, index=False)
    cfg.write_text(json.dumps(config))
    out.unlink(missing_ok=True)
    with CpuMonitor() as mon:
        proc = subprocess.run(
            ["Rscript", str(HERE / script), str(data), str(cfg), str(out), *extra], capture_output=True, text=True
        )
    if proc.returncode != 0 or not out.exists():
        return None, (proc.stderr or proc.stdout).strip()[-2000:], mon
    return json.loads(out.read_text()), None, mon


def glmmtmb(frame, r_formula: str, factors: dict, scale: list, tmp: Path):
    """glmmTMB with one theta per neuron, or a shared theta where that fit fails or does not converge."""
    notes = []
    for dispersion in ("neuron", "shared"):
        config = {"formula": r_formula, "dispersion": dispersion, "factors": factors, "scale": scale}
        out, error, mon = run_r("_glmmtmb_fit.R", frame, config, tmp)
        if out is not None and out["converged"]:
            return out, notes, mon
        notes.append(
            f"glmmTMB dispersion={dispersion!r} "
            + (f"failed: {error}" if out is None else f"did not converge (pdHess={out['pd_hess']}, {out['message']})")
        )
    return out, notes, mon


def r_name(name: str, factors: dict, scale: list) -> str:
    """spikepool's coefficient / effect name of a glmmTMB one."""
    if name == "(Intercept)":
        return "Intercept"
    for column in scale:
        if name == f"z_{column}":
            return f"scale({column})"
    for column in factors:
        if name.startswith(column):
            return f"{column}[{name[len(column) :]}]"
    return name


# ----------------------------------------------------------------------------------------------- data
def simulate(n_neurons: int, n_trials: int, seed: int):
    """Counts (neuron, trial) with x1, x2 trial coordinates, and the truth."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n_trials), rng.normal(size=n_trials)
    cov = np.diag(SD) @ CORR @ np.diag(SD)
    b = rng.multivariate_normal(np.zeros(3), cov, size=n_neurons)
    alpha = np.exp(rng.normal(*LOG_ALPHA, size=n_neurons))
    coef = BETA + b  # (neuron, effect)
    mu = np.exp(coef[:, :1] + coef[:, 1:2] * x1 + coef[:, 2:3] * x2) * 1.0
    y = rng.poisson(rng.gamma(alpha[:, None], mu / alpha[:, None]))
    counts = sp.from_array(y, duration=1.0).assign_coords(x1=("trial", x1), x2=("trial", x2))
    return counts, {"b": b, "coef": coef, "alpha": alpha}


# ----------------------------------------------------------------------------------------------- tables
def diagnostics(result, mon: CpuMonitor, effects) -> dict:
    post = result.posterior
    corr, _ = lower_pairs(post, "corr_neuron", effects)
    arrays = [draws_of(post, "beta"), draws_of(post, "sd_neuron"), corr, draws_of(post, "b_neuron")]
    rhat = max(float(np.nanmax(np.asarray(azs.rhat(a)))) for a in arrays)
    ess = min_ess(arrays[0], arrays[1])
    centered = np.asarray(result.spec.get("centered", {}).get("neuron", []))
    if centered.dtype == bool:
        centered_text = f"{centered.sum()}/{centered.size} levels"
    else:  # per level, the number of its leading effects sampled centered
        centered_text = (
            f"{(centered == len(effects)).sum()}/{centered.size} levels fully, "
            f"{centered.sum()}/{centered.size * len(effects)} effects"
        )
    return {
        "wall": mon.wall,
        "other": other(mon),
        "rhat": rhat,
        "divergences": int(result.idata["sample_stats"]["diverging"].sum()),
        "ess": ess,
        "ess_s": ess / mon.wall,
        "centered": centered_text,
        "target_accept": result.spec.get("target_accept"),
        "timings": {k: round(v, 1) for k, v in result.timings.items()},
        "draws": f"{post.sizes['chain']} x {post.sizes['draw']}",
        "per_variable": per_variable(result, effects),
    }


def per_variable(result, effects) -> list[str]:
    """Per variable: the largest R-hat and smallest bulk ESS (with the worst value's index), and per chain the
    NUTS step size, mean tree depth and the means of beta and sd (chains that disagree show there)."""
    post, stats = result.posterior, result.idata["sample_stats"]
    corr, pairs = lower_pairs(post, "corr_neuron", effects)
    arrays = {name: draws_of(post, name) for name in ("beta", "sd_neuron", "b_neuron", "alpha") if name in post}
    arrays["corr_neuron"] = corr
    lines = []
    for name, a in arrays.items():
        rhat, ess = np.asarray(azs.rhat(a)), np.asarray(azs.ess(a, method="bulk"))
        lines.append(
            f"{name:12s} max R-hat {np.nanmax(rhat):.3f} (index {int(np.nanargmax(rhat))}), "
            f"min bulk ESS {np.nanmin(ess):.0f} (index {int(np.nanargmin(ess))}), median ESS {np.nanmedian(ess):.0f}"
        )
    depth = "tree_depth" if "tree_depth" in stats else "depth"
    beta, sd = draws_of(post, "beta"), draws_of(post, "sd_neuron")
    for c in range(post.sizes["chain"]):
        step = stats["step_size"].isel(chain=c).values.mean() if "step_size" in stats else np.nan
        tree = stats[depth].isel(chain=c).values.mean() if depth in stats else np.nan
        lines.append(
            f"chain {c}: step size {step:.4f}, mean tree depth {tree:.1f}, beta means "
            + ", ".join(f"{v:.3f}" for v in beta[c].mean(0))
            + "; sd means "
            + ", ".join(f"{v:.3f}" for v in sd[c].mean(0))
        )
    for problem in result.post_checks.problems:
        lines.append(f"post-fit check {problem.severity} {problem.code}: {problem.message}")
    return lines


def print_diagnostics(d: dict) -> None:
    print(f"  spikepool fit wall {d['wall']:.1f} s (other CPU {d['other']} cores), chains x draws {d['draws']}")
    print(f"  result.timings: {d['timings']}")
    print(
        f"  max R-hat (beta, sd, corr, b) {d['rhat']:.3f}; divergences {d['divergences']}; "
        f"centered {d['centered']}; target_accept {d['target_accept']}"
    )
    print(f"  min bulk ESS (beta, sd) {d['ess']:.0f}; ESS/s {d['ess_s']:.2f}")
    for line in d["per_variable"]:
        print(f"    {line}")


def agreement(result, tmb, effects, factors, scale, truth=None) -> None:
    """The fixed effects, SDs and correlations: spikepool posterior against glmmTMB, |diff| / posterior sd."""
    post = result.posterior
    fixed = {r_name(f["name"], factors, scale): f for f in tmb["fixed"]}
    sds = {r_name(k, factors, scale): v for k, v in tmb["sd"].items()}
    corr_tmb = {
        frozenset((r_name(c["row"], factors, scale), r_name(c["col"], factors, scale))): c["value"] for c in tmb["corr"]
    }
    rows = []
    beta = draws_of(post, "beta").reshape(-1, post.sizes["coef"])
    for j, coef in enumerate(post["coef"].values):
        f = fixed.get(str(coef))
        rows.append(
            (
                "beta",
                str(coef),
                beta[:, j],
                None if f is None else f["estimate"],
                None if f is None else f["se"],
                None if truth is None else truth["beta"][j],
            )
        )
    sd = draws_of(post, "sd_neuron").reshape(-1, len(effects))
    for k, e in enumerate(effects):
        rows.append(("sd", e, sd[:, k], sds.get(e), None, None if truth is None else truth["sd"][k]))
    corr, pairs = lower_pairs(post, "corr_neuron", effects)
    corr = corr.reshape(-1, len(pairs))
    for k, (a, b) in enumerate(pairs):
        true = None if truth is None else truth["corr"][effects.index(a), effects.index(b)]
        rows.append(("corr", f"{a}, {b}", corr[:, k], corr_tmb.get(frozenset((a, b))), None, true))
    print(
        f"  {'':4s} {'parameter':28s} {'truth':>7s} {'sp mean':>8s} {'sp sd':>7s} {'sp 90% interval':>18s} "
        f"{'glmmTMB':>8s} {'(SE)':>7s} {'|d|/sd':>7s}"
    )
    worst = {"beta": 0.0, "sd": 0.0}
    for kind, name, draws, est, se, true in rows:
        mean, sd_ = draws.mean(), draws.std(ddof=1)
        lo, hi = np.quantile(draws, [(1 - CI) / 2, (1 + CI) / 2])
        z = abs(mean - est) / sd_ if est is not None else np.nan
        if kind in worst and np.isfinite(z):
            worst[kind] = max(worst[kind], z)
        flag = "" if kind == "corr" or not np.isfinite(z) else (" ok" if z <= 2 else " > 2")
        print(
            f"  {kind:4s} {name:28s} {'' if true is None else f'{true:.3f}':>7s} {mean:8.3f} {sd_:7.3f} "
            f"{f'[{lo:.3f}, {hi:.3f}]':>18s} {'' if est is None else f'{est:.3f}':>8s} "
            f"{'' if se is None else f'({se:.3f})':>7s} {z:7.2f}{flag}"
        )
    log_alpha = np.log(draws_of(post, "alpha").reshape(-1, post.sizes["neuron"]))
    if tmb["dispersion"] == "neuron":
        theta = np.log(np.array([tmb["theta"][k] for k in tmb["theta"]]))
        z = np.abs(log_alpha.mean(0) - theta) / log_alpha.std(0, ddof=1)
        print(
            f"  log alpha per neuron vs glmmTMB log theta: median |d|/sd {np.median(z):.2f}, max {np.max(z):.2f}, "
            f"share <= 2 {np.mean(z <= 2):.0%}"
        )
    else:
        theta = float(np.log(next(iter(tmb["theta"].values()))))
        print(
            f"  glmmTMB shared log theta {theta:.3f}; spikepool per-neuron log alpha means "
            f"{log_alpha.mean(0).min():.3f} .. {log_alpha.mean(0).max():.3f}"
        )
    verdict = "PASS" if max(worst.values()) <= 2 else "FAIL"
    print(f"  largest |d|/sd: fixed {worst['beta']:.2f}, SDs {worst['sd']:.2f} (target <= 2): {verdict}")
    print(
        f"  glmmTMB {tmb['versions']['glmmTMB']}: dispersion {tmb['dispersion']!r}, converged {tmb['converged']}, "
        f"fit {tmb['wall_s']:.1f} s, {tmb['n_obs']} observations"
    )


# ----------------------------------------------------------------------------------------------- sections
def section_simulated(n_neurons: int, n_trials: int, seed: int, quick: bool, tmp: Path) -> None:
    print(f"\n== 1-2. simulated {n_neurons} neurons x {n_trials} trials, {FORMULA} (seed {seed})")
    counts, truth = simulate(n_neurons, n_trials, seed)
    print(
        f"  mean count {counts.values.mean():.2f}; true alpha {truth['alpha'].min():.2f} .. {truth['alpha'].max():.2f}"
    )
    kwargs = {"draws": 300, "tune": 300} if quick else {}
    try:
        result, mon = spikepool_fit(counts, FORMULA, seed, **kwargs)
    except Exception as error:  # a report: say what failed and go on
        print(f"  spikepool fit FAILED: {type(error).__name__}: {error}")
        return
    d = diagnostics(result, mon, EFFECTS)
    print_diagnostics(d)
    coefs = result.coefficients(ci_prob=CI)
    covered = []
    for k, e in enumerate(EFFECTS[1:], start=1):
        lo, hi = coefs["lower"].sel(coef=e).values, coefs["upper"].sel(coef=e).values
        inside = (lo <= truth["coef"][:, k]) & (truth["coef"][:, k] <= hi)
        covered.append(inside)
        print(f"  coverage of the 90% intervals of the true per-neuron {e} slopes: {inside.mean():.1%}")
    both = np.concatenate(covered)
    ok = abs(both.mean() - CI) <= 0.03
    print(
        f"  coverage, both slopes ({both.size} intervals): {both.mean():.1%} (target 90 +- 3%): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    corr = result.posterior["corr_neuron"].sel(neuron_effect="Intercept", neuron_effect_bis="x1").values.ravel()
    lo, hi = np.quantile(corr, [(1 - CI) / 2, (1 + CI) / 2])
    inside = lo <= CORR[0, 1] <= hi
    print(
        f"  corr(Intercept, x1): truth {CORR[0, 1]:.2f}, mean {corr.mean():.3f}, 90% [{lo:.3f}, {hi:.3f}]: "
        f"{'inside' if inside else 'OUTSIDE'}"
    )
    if d["wall"] > 300 or d["rhat"] > 1.01 or d["divergences"] > 0:
        print("  NOTE: slow (> 300 s), R-hat > 1.01 or divergences: see the diagnostics above")
    if shutil.which("Rscript") is None:
        print("  glmmTMB: skipped (no Rscript)")
        return
    tmb, notes, tmon = glmmtmb(
        long_frame(counts, ["x1", "x2"]), "count ~ 1 + x1 + x2 + (1 + x1 + x2 | neuron)", {}, [], tmp
    )
    for note in notes:
        print(f"  NOTE: {note}")
    if tmb is None:
        return
    print(f"  glmmTMB Rscript wall {tmon.wall:.1f} s (other CPU {other(tmon)} cores)")
    agreement(result, tmb, list(EFFECTS), {}, [], {"beta": BETA, "sd": SD, "corr": CORR})


def section_locust(seed: int, quick: bool, tmp: Path) -> None:
    print(f"\n== 3. locust20010214, window (10, 12) s, {LOCUST_FORMULA}")
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    frame = long_frame(counts, ["condition", "block_trial"])
    levels = sorted(np.unique(frame["condition"]))
    x = frame["block_trial"].to_numpy(float)
    design = formula_design(counts, LOCUST_FORMULA)
    column = np.asarray(design.X)[:, list(design.coefs).index("scale(block_trial)")]
    print(
        f"  {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials, {len(frame)} valid observations; "
        f"reference level {levels[0]!r}; max |spikepool scale(block_trial) - (x - mean) / sd_pop| "
        f"{np.max(np.abs(column - (x - x.mean()) / x.std())):.1e}"
    )
    kwargs = {"draws": 300, "tune": 300} if quick else {}
    try:
        result, mon = spikepool_fit(counts, LOCUST_FORMULA, seed, **kwargs)
    except Exception as error:
        print(f"  spikepool fit FAILED: {type(error).__name__}: {error}")
        return
    effects = list(result.posterior["neuron_effect"].values.astype(str))
    print_diagnostics(diagnostics(result, mon, effects))
    if shutil.which("Rscript") is None:
        print("  glmmTMB: skipped (no Rscript)")
        return
    factors, scale = {"condition": levels}, ["block_trial"]
    tmb, notes, tmon = glmmtmb(
        frame, "count ~ condition + z_block_trial + (1 + z_block_trial | neuron)", factors, scale, tmp
    )
    for note in notes:
        print(f"  NOTE: {note}")
    if tmb is None:
        return
    print(f"  glmmTMB Rscript wall {tmon.wall:.1f} s (other CPU {other(tmon)} cores)")
    agreement(result, tmb, effects, factors, scale)


def section_brms(n_neurons: int, n_trials: int, iters: int, seed: int, tmp: Path) -> None:
    chains = 2
    print(
        f"\n== 4. against brms: simulated {n_neurons} neurons x {n_trials} trials, {chains} chains x {iters // 2} "
        f"draws after {iters // 2} warm-up (seed {seed + 1})"
    )
    counts, _ = simulate(n_neurons, n_trials, seed + 1)
    try:
        result, mon = spikepool_fit(counts, FORMULA, seed, draws=iters // 2, tune=iters // 2, chains=chains)
    except Exception as error:
        print(f"  spikepool fit FAILED: {type(error).__name__}: {error}")
        return
    d = diagnostics(result, mon, EFFECTS)
    sp_sample = result.timings.get("sampling", np.nan)
    config = {
        "formula": FORMULA,
        "chains": chains,
        "iter": iters,
        "seed": seed,
        "log_alpha_loc": 1.0,
        "log_alpha_scale": 1.5,
    }
    out, error, bmon = run_r("_brms_fit.R", long_frame(counts, ["x1", "x2"]), config, tmp, (str(tmp / "draws.csv"),))
    if out is None:
        print(f"  spikepool: wall {d['wall']:.1f} s, min ESS {d['ess']:.0f}, ESS/s {d['ess_s']:.2f}")
        print(f"  brms FAILED: {error}")
        return
    draws = pd.read_csv(tmp / "draws.csv")
    names = {"b_Intercept": ("beta", 0), "b_x1": ("beta", 1), "b_x2": ("beta", 2)}
    names.update({f"sd_neuron__{e}": ("sd", k) for k, e in enumerate(EFFECTS)})
    n_chain = draws["chain"].nunique()
    brms = {k: draws[k].to_numpy().reshape(n_chain, -1) for k in names}
    brms_ess = min_ess(np.stack(list(brms.values()), axis=-1))
    brms_sample = max(a + b for a, b in zip(out["warmup_s"], out["sample_s"], strict=True))
    print(
        f"  {'':10s} {'wall s':>7s} {'sample s':>9s} {'min ESS':>8s} {'ESS/s wall':>11s} {'ESS/s sample':>13s} "
        f"{'diverg.':>8s} {'max R-hat':>10s} {'other CPU':>10s}"
    )
    print(
        f"  {'spikepool':10s} {d['wall']:7.1f} {sp_sample:9.1f} {d['ess']:8.0f} {d['ess_s']:11.2f} "
        f"{d['ess'] / sp_sample:13.2f} {d['divergences']:8d} {d['rhat']:10.3f} {d['other']:>10s}"
    )
    print(
        f"  {'brms':10s} {out['wall_s']:7.1f} {brms_sample:9.1f} {brms_ess:8.0f} {brms_ess / out['wall_s']:11.2f} "
        f"{brms_ess / brms_sample:13.2f} {out['divergences']:8d} {out['max_rhat']:10.3f} {other(bmon):>10s}"
    )
    print(
        "  (spikepool sample s: result.timings['sampling']; brms sample s: the slowest chain's Stan warm-up + "
        "sampling, the rest of its wall is mostly compilation; brms max R-hat over all its parameters)"
    )
    post = result.posterior
    print(f"  {'parameter':20s} {'sp mean':>8s} {'sp sd':>7s} {'brms mean':>10s} {'brms sd':>8s} {'|d|/sd':>7s}")
    for key, (var, k) in names.items():
        x = draws_of(post, "beta" if var == "beta" else "sd_neuron")[..., k].ravel()
        y = brms[key].ravel()
        print(
            f"  {key:20s} {x.mean():8.3f} {x.std(ddof=1):7.3f} {y.mean():10.3f} {y.std(ddof=1):8.3f} "
            f"{abs(x.mean() - y.mean()) / x.std(ddof=1):7.2f}"
        )
    print(f"  brms {out['versions']['brms']}, rstan {out['versions']['rstan']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer draws (smoke run)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-locust", action="store_true", help="leave out the recorded-data section")
    parser.add_argument("--no-brms", action="store_true", help="leave out the brms section")
    args = parser.parse_args()
    print(
        f"spikepool {sp.__version__}; {'quick' if args.quick else 'full'} run; seed {args.seed}; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="glmm_agreement_") as name:
        tmp = Path(name)
        n_neurons, n_trials = (30, 80) if args.quick else (200, 400)
        section_simulated(n_neurons, n_trials, args.seed, args.quick, tmp)
        if not args.no_locust:
            section_locust(args.seed, args.quick, tmp)
        if not args.no_brms:
            if shutil.which("Rscript") is None:
                print("\n== 4. brms: skipped (no Rscript)")
            else:
                section_brms(*((10, 30, 400) if args.quick else (20, 50, 2000)), args.seed, tmp)


if __name__ == "__main__":
    main()

"""Seed sweep: do the seeded sampling tests and tutorials hold for other seeds, and with what margin?

Question
--------
A seeded test that asserts clean sampling (R-hat <= 1.01, bulk / tail ESS >= 400, no divergences; any
``SamplingWarning`` is an error in the test run) passes on the machine where it was written, but a fresh
machine may draw differently (another CPU, other library versions). Does each verdict hold for other
seeds, and how far from its threshold is it?

Method
------
The selected pytest tests (node ids, all in one pytest process) and tutorials (``tutorials/NN_*.py``,
one process each) are run once per sweep seed k = 0..N-1. This file is also a pytest plugin
(``-p seed_sweep``) that, for k > 0, replaces every integer ``random_seed`` passed to ``pymc.sample``
(all of spikepool's samplers go through it) by ``SeedSequence([seed, k])``'s first word, so every fit of
the test draws anew while everything else (data, settings) stays as written; k = 0 keeps the written
seeds. Every call of ``spikepool.checks.sampling.check_sampling`` (each model runs it after sampling) is
logged with its summary: max R-hat, min bulk and tail ESS, divergences and the codes of its warnings.
Fits inside Dask workers (``fit_many``) and CLI subprocesses are not logged, though their tests'
verdicts are.

Printed: per test, the seeds run and passed, and over all its fits and seeds the worst R-hat, lowest bulk
/ tail ESS, most divergences and the number of fits with any warning. Per-fit rows go to ``--log``
(JSON lines).

Run from the repository root, e.g.::

    SPIKEPOOL_DATA=../shared/data python benchmarks/seed_sweep.py --seeds 20 \\
        tests/test_random_effects.py::test_mostly_single_trials_still_identify_both_components \\
        tutorials/07_many_sessions.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_STATE: dict = {"seed": 0, "log": None, "label": None}


def derived_seed(seed, k: int):
    """The seed a sweep run uses in place of ``seed`` (unchanged for k = 0 or a non-integer seed)."""
    if k == 0 or not isinstance(seed, int | np.integer):
        return seed
    return int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])


def install(k: int, log: str | None, label: str | None = None) -> None:
    """Patch ``pymc.sample`` (seed k) and ``check_sampling`` (logging) in this process."""
    import pymc

    import spikepool.checks.sampling as diagnostics

    _STATE.update(seed=k, log=log, label=label)
    sample, check = pymc.sample, diagnostics.check_sampling

    def swept_sample(*args, **kwargs):
        if "random_seed" in kwargs:
            kwargs["random_seed"] = derived_seed(kwargs["random_seed"], k)
        return sample(*args, **kwargs)

    def logged_check(*args, **kwargs):
        report = check(*args, **kwargs)
        if _STATE["log"]:
            test = _STATE["label"] or os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
            summary = {
                key: float(np.min(value)) if key.startswith("ess") else float(np.max(value))
                for key, value in report.summary.items()
                if key in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences")
            }
            row = {"test": test, "seed": k, **summary, "warnings": [p.code for p in report.warnings]}
            with open(_STATE["log"], "a") as f:
                f.write(json.dumps(row) + "\n")
        return report

    pymc.sample = swept_sample
    # every module that imported the function by name (the models and results) calls it through its own name
    for name, module in list(sys.modules.items()):
        if (name == "spikepool" or name.startswith("spikepool.")) and getattr(module, "check_sampling", None) is check:
            module.check_sampling = logged_check


# ---------------------------------------------------------------- the pytest plugin (-p seed_sweep)
def pytest_addoption(parser):
    parser.addoption("--sweep-seed", type=int, default=0, help="seed-sweep index k (0: the written seeds)")
    parser.addoption("--sweep-log", default=None, help="JSON-lines file for the check_sampling summaries")


def pytest_configure(config):
    install(config.getoption("--sweep-seed"), config.getoption("--sweep-log"))


# ---------------------------------------------------------------- the driver
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *a, **k: None
sys.path.insert(0, sys.argv[1])
import seed_sweep
seed_sweep.install(int(sys.argv[2]), sys.argv[3], sys.argv[4])
runpy.run_path(sys.argv[4], run_name="__main__")
"""


def run_tests(targets: list[str], k: int, log: str) -> dict[str, bool]:
    """Run pytest node ids in one process with sweep seed k; {node id: passed}."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "seed_sweep"]
    cmd += ["--sweep-seed", str(k), "--sweep-log", log, *targets]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    lines = done.stdout.splitlines()
    out = {}
    for target in targets:
        mine = [line for line in lines if line.startswith(("PASSED ", "FAILED ", "ERROR ")) and target in line]
        out[target] = bool(mine) and all(line.startswith("PASSED ") for line in mine)
        if not out[target]:
            reason = next((line for line in mine if not line.startswith("PASSED ")), "not run")
            print(f"    seed {k}: FAILED {reason[:300]}", flush=True)
    return out


def run_tutorial(target: str, k: int, log: str, workdir: Path) -> bool:
    """Run one tutorial script with sweep seed k; True when it exited 0."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    if "SPIKEPOOL_DATA" in env:  # the tutorial runs in a scratch folder: a relative data folder must be resolved
        env["SPIKEPOOL_DATA"] = str((ROOT / env["SPIKEPOOL_DATA"]).resolve())
    cmd = [sys.executable, "-c", RUNNER, str(ROOT / "benchmarks"), str(k), log, str(ROOT / target)]
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()
        reason = next((line for line in reversed(lines) if "Error" in line or "Warning" in line), lines[-1:])
        print(f"    seed {k}: {target} FAILED {str(reason)[:300]}", flush=True)
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="+", help="pytest node ids or tutorials/NN_*.py")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="first sweep index (resume)")
    parser.add_argument("--log", default=None, help="JSON-lines log (default: a temporary file)")
    args = parser.parse_args()
    log = args.log or tempfile.mkstemp(suffix=".jsonl")[1]
    tests = [t for t in args.targets if not t.startswith("tutorials/")]
    tutorials = [t for t in args.targets if t.startswith("tutorials/")]
    results: dict[str, list[bool]] = {t: [] for t in args.targets}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.first, args.first + args.seeds):
            start = time.perf_counter()
            if tests:
                for target, ok in run_tests(tests, k, log).items():
                    results[target].append(ok)
            for target in tutorials:
                results[target].append(run_tutorial(target, k, log, Path(tmp)))
            passed = sum(r[-1] for r in results.values())
            print(f"seed {k}: {passed}/{len(results)} passed, {time.perf_counter() - start:.0f} s", flush=True)
    rows = [json.loads(line) for line in Path(log).read_text().splitlines()] if Path(log).exists() else []
    print(f"\nlog: {log}")
    columns = ("R-hat max", "bulk min", "tail min", "div max", "warned")
    print(f"{'test':<90} {'passed':>7} {'fits':>5} " + " ".join(f"{c:>9}" for c in columns))
    for target, passed in results.items():
        mine = [r for r in rows if _matches(r["test"], target)]
        if not mine:
            print(f"{target[-90:]:<90} {sum(passed):>3}/{len(passed):<3} {0:>5}")
            continue
        print(
            f"{target[-90:]:<90} {sum(passed):>3}/{len(passed):<3} {len(mine):>5} "
            f"{max(r['rhat_max'] for r in mine):>9.4f} {min(r['ess_bulk_min'] for r in mine):>9.0f} "
            f"{min(r['ess_tail_min'] for r in mine):>9.0f} {max(r['divergences'] for r in mine):>9.0f} "
            f"{sum(bool(r['warnings']) for r in mine):>9}"
        )


def _matches(logged: str, target: str) -> bool:
    if target.startswith("tutorials/"):
        return logged.endswith(target)
    return logged == target or logged.startswith(target + "::") or logged.startswith(target + "[")


if __name__ == "__main__":
    main()

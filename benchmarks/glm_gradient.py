"""The cost of one gradient of ``HierarchicalGLM`` against the window model on the same counts.

Question
--------
The formula model's likelihood groups the observations that share (neuron's dispersion, design row, duration)
(``spikepool.stats.glm``), so a categorical design written as a formula keeps the window model's sufficient
statistics. Does the gradient of ``"0 + condition + (1 | neuron) + (1 | neuron:condition)"`` cost what
``HierarchicalNegBinom(condition="condition", neuron_effect=True)``'s does (the target: at most 1.5 times), and
what does a continuous covariate add?

Method
------
Both models are built on the same counts; ``model.compile_dlogp()`` is timed at the model's initial point (the
median of 5 repeats of 200 evaluations, after a warm-up call), in the same process, one after the other.
Counts: the locust recording (10 units x 359 trials, 14 blocks, ``locust20010214`` 10-12 s) and a simulated
session (``sp.simulate_counts``: 200 neurons x 400 trials in 8 conditions). The last row adds a continuous
trial covariate to the locust design (``... + block_trial + (1 + block_trial | neuron)``): one likelihood group
per (neuron, trial).

Run from the repository root::

    python benchmarks/glm_gradient.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import spikepool as sp
from spikepool.stats.cells import cell_groups


def _time(model, counts, repeats: int = 5, evals: int = 200) -> float:
    pm_model = model.build(counts)
    dlogp = pm_model.compile_dlogp()
    point = pm_model.initial_point()
    dlogp(point)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(evals):
            dlogp(point)
        runs.append((time.perf_counter() - start) / evals)
    return statistics.median(runs)


def main() -> None:
    if not os.environ.get("SPIKEPOOL_DATA"):
        here = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
        if not here.is_dir():
            sys.exit("set SPIKEPOOL_DATA to the folder of the recordings (../shared/data)")
        os.environ["SPIKEPOOL_DATA"] = str(here.resolve())
    locust = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    conditions = [f"c{k}" for k in range(8)]
    sim = sp.simulate_counts(200, 400, conditions=conditions, mu=1.5, tau=0.5, alpha=4.0, seed=3)[0]
    window = sp.HierarchicalNegBinom(condition="condition", neuron_effect=True)
    formula = "0 + condition + (1 | neuron) + (1 | neuron:condition)"
    print(f"{'counts':<34}{'window model (ms)':>18}{'formula (ms)':>14}{'ratio':>8}{'groups':>14}")
    for name, counts in (("locust20010214 (10 x 359)", locust), ("simulated (200 x 400, 8 cond.)", sim)):
        glm = sp.HierarchicalGLM(formula)
        t_window, t_glm = _time(window, counts), _time(glm, counts)
        n_window = cell_groups(window.build(counts).spikepool_cells).n.size
        n_glm = glm.prepare(counts).obs.n_groups
        print(f"{name:<34}{1e3 * t_window:>18.3f}{1e3 * t_glm:>14.3f}{t_glm / t_window:>8.2f}"
              f"{f'{n_window} / {n_glm}':>14}")  # fmt: skip
    slope = sp.HierarchicalGLM(formula + " + block_trial + (0 + block_trial | neuron)")
    t_slope = _time(slope, locust)
    t_window = _time(window, locust)
    print(f"{'locust + block_trial slopes':<34}{1e3 * t_window:>18.3f}{1e3 * t_slope:>14.3f}"
          f"{t_slope / t_window:>8.2f}{slope.prepare(locust).obs.n_groups:>14}")  # fmt: skip
    print("groups: the window model's (neuron, condition, duration) groups / the formula's likelihood groups")


if __name__ == "__main__":
    main()

"""Prior predictive check of ``HierarchicalGLM``'s default priors: plausible firing rates over the covariates.

Question
--------
The formula model's default priors are scaled to the covariates (``spikepool.models.glm_data``: intercept
``Normal(log pooled rate, 2)``, a numeric column's coefficient ``Normal(0, 1 / sd(x))``, a category's contrast
``Normal(0, 2)``, each grouping's SDs ``HalfNormal(1)`` or ``HalfNormal(1 / sd(x))`` for slopes, LKJ(2)
correlations). Do they predict firing rates a recording could have (0.01-500 Hz) over the observed range of
every covariate, without fixing them to the data?

Method
------
For each design, ``pm.sample_prior_predictive`` draws ``beta`` and every grouping's effects from the model
``model.build(counts)`` builds; the rate of every valid (neuron, trial) is ``exp(x' beta + z' b)`` (computed
here from the draws and the design, ``spikepool.counts.design``), i.e. the rate at each observed covariate value.
Reported per design: quantiles of those rates and the share of (draw, neuron, trial) rates in 0.01-500 Hz.

Designs: the locust recording's adaptation formula (``count ~ condition + block_trial + (1 + block_trial |
neuron) + (1 | neuron:condition)``, 10 units x 244 odour trials), and a simulated design with two standard-normal
covariates and one in raw units far from 0 (``count ~ x1 + x2 + speed + (1 + x1 + x2 | neuron)``, 50 neurons x
100 trials, speed 4-105 px/s as on the linear track).

Run from the repository root::

    python benchmarks/prior_predictive_glm.py            # 2000 prior draws per design
    python benchmarks/prior_predictive_glm.py --quick    # 300 draws
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import spikepool as sp


def _data_folder() -> None:
    if not os.environ.get("SPIKEPOOL_DATA"):
        here = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
        if not here.is_dir():
            sys.exit("set SPIKEPOOL_DATA to the folder of the recordings (../shared/data)")
        os.environ["SPIKEPOOL_DATA"] = str(here.resolve())


def _designs(seed: int):
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    odours = ~np.char.startswith(counts["condition"].values.astype(str), "Spontaneous")
    yield (
        "locust adaptation",
        counts.isel(trial=np.flatnonzero(odours)),
        ("count ~ condition + block_trial + (1 + block_trial | neuron) + (1 | neuron:condition)"),
    )
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, (50, 100))
    sim = sp.from_array(y, duration=0.5).assign_coords(
        x1=("trial", rng.normal(size=100)),
        x2=("trial", rng.normal(size=100)),
        speed=("trial", rng.uniform(4, 105, 100)),
    )
    yield "simulated x1, x2, speed", sim, "count ~ x1 + x2 + speed + (1 + x1 + x2 | neuron)"


def _rates(model, counts, draws: int, seed: int) -> np.ndarray:
    import pymc as pm

    data = model.prepare(counts)
    design = data.design
    names = ["beta", *(f"b_{g.key}" for g in design.groups)]
    with model.build(counts):
        prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed)["prior"]
    beta = prior["beta"].values.reshape(draws, -1)
    eta = beta @ design.X.T
    for g in design.groups:
        b = prior[f"b_{g.key}"].values.reshape(draws, g.n_levels, -1)
        eta += np.einsum("sok,ok->so", b[:, g.level, :], g.Z)
    return np.exp(np.clip(eta, -50, 50))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    draws = 300 if args.quick else args.draws
    _data_folder()
    print(
        f"{'design':<26}{'rate quantiles (Hz): 0.5%':>28}{'5%':>9}{'50%':>9}{'95%':>9}{'99.5%':>10}"
        f"{'in 0.01-500 Hz':>16}"
    )
    for name, counts, formula in _designs(args.seed):
        rates = _rates(sp.HierarchicalGLM(formula), counts, draws, args.seed)
        q = np.quantile(rates, [0.005, 0.05, 0.5, 0.95, 0.995])
        inside = np.mean((rates >= 0.01) & (rates <= 500))
        print(f"{name:<26}{q[0]:>28.3g}{q[1]:>9.3g}{q[2]:>9.3g}{q[3]:>9.3g}{q[4]:>10.3g}{100 * inside:>15.1f}%")
        print(f"{'':<26}formula: {formula}")


if __name__ == "__main__":
    main()

"""Fit Bambi's negative-binomial random-intercept model to counts handed over by ``bench_models.py``.

Runs inside the Python 3.11 virtualenv that ``bench_models.py`` creates (Bambi needs PyMC < 6), so it
imports nothing from spikepool. Model, in long format (one row per neuron x trial)::

    count ~ 1 + offset(np.log(duration)) + (1|neuron),  family="negativebinomial"  (Bambi's default priors)

i.e. log E[y_it] = Intercept + b_i + log d_t with b_i ~ Normal(0, sigma) (Bambi's non-centered
``1|neuron_offset``) and one dispersion ``alpha`` for the whole model.

Usage (by bench_models.py)::

    python _bambi_fit.py --data in.npz --out post.npz --draws 1000 --tune 1000 --chains 2 --seed 0

``in.npz`` holds ``counts`` (neuron, trial) int, ``duration`` (trial,) float and ``neuron`` (names).
``post.npz`` receives the posterior draws, arrays (chain, draw[, neuron]): ``mu`` (Intercept), ``tau``
(``1|neuron_sigma``), ``rate`` (exp(Intercept + b_i), Hz) and ``alpha``. The last line of stdout is
``BAMBI_RESULT {json}`` with versions, timings (s) and divergences.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
import warnings

RESULT_PREFIX = "BAMBI_RESULT "
FORMULA = "count ~ 1 + offset(np.log(duration)) + (1|neuron)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-accept", type=float, default=None)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    import bambi as bmb
    import numpy as np
    import pandas as pd
    import pymc as pm
    import pytensor

    t_import = time.perf_counter() - t0
    for name in ("pymc", "bambi", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)

    data = np.load(args.data, allow_pickle=False)
    counts = np.asarray(data["counts"], dtype=np.int64)
    duration = np.asarray(data["duration"], dtype=np.float64)
    names = np.asarray(data["neuron"]).astype(str)
    n_neuron, n_trial = counts.shape
    frame = pd.DataFrame(
        {
            "count": counts.ravel(),
            "neuron": pd.Categorical(np.repeat(names, n_trial), categories=names),
            "duration": np.tile(duration, n_neuron),
        }
    )

    kwargs = {"compute_convergence_checks": False}
    if args.target_accept is not None:
        kwargs["target_accept"] = args.target_accept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = bmb.Model(FORMULA, frame, family="negativebinomial")
        model.build()
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        idata = model.fit(
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            cores=args.chains,
            random_seed=args.seed,
            progressbar=False,
            inference_method="pymc",
            **kwargs,
        )
        t_fit = time.perf_counter() - t0

    post = idata.posterior
    effect = post["1|neuron"]
    level_dim = next(d for d in effect.dims if d not in ("chain", "draw"))
    effect = effect.sel({level_dim: list(names)}).transpose("chain", "draw", level_dim).values
    intercept = post["Intercept"].values
    np.savez(
        args.out,
        mu=intercept,
        tau=post["1|neuron_sigma"].values,
        rate=np.exp(intercept[:, :, None] + effect),
        alpha=post["alpha"].values,
    )
    stats = idata.sample_stats
    result = {
        "python": platform.python_version(),
        "bambi": bmb.__version__,
        "pymc": pm.__version__,
        "pytensor": pytensor.__version__,
        "formula": FORMULA,
        "model": str(model),
        "free_rvs": sorted(v.name for v in model.backend.model.free_RVs),
        "import_s": t_import,
        "build_s": t_build,
        "fit_s": t_fit,
        "loop_s": float(post.attrs.get("sampling_time", float("nan"))),
        "divergences": int(stats["diverging"].sum()),
        "mean_tree_depth": float(stats["tree_depth"].mean()) if "tree_depth" in stats else float("nan"),
        "n_obs": int(counts.size),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

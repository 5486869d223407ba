"""Sampler settings shared by the models."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_int, did_you_mean
from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SamplingWarning

__all__ = [
    "StageClock",
    "check_lengths",
    "check_sampler_args",
    "default_cores",
    "default_draws",
    "free_values",
    "one_blas_thread",
    "process_options",
    "reproducible_compilation",
    "rhat_floor",
    "sample_tree",
    "warn_problems",
]

#: Keywords ``pm.sample`` takes besides draws, tune, chains and random_seed, and those it hands to NUTS.
SAMPLE_KWARGS = (
    "cores", "progressbar_theme", "quiet", "step", "var_names", "initvals", "init", "jitter_max_retries", "n_init",
    "trace", "discard_tuned_samples", "keep_warning_stat", "idata_kwargs", "nuts_sampler_kwargs", "callback",
    "mp_ctx", "blas_cores", "backend", "compile_kwargs",
    "target_accept", "max_treedepth", "early_max_treedepth", "step_scale", "scaling", "is_cov", "potential",
    "Emax", "gamma", "k", "t0", "adapt_step_size",
)  # fmt: skip


#: Sampler statistics a result leaves out: the wall-clock time of each draw (the fit's total is the posterior's
#: ``sampling_time`` attribute), the energy errors of each trajectory (the ``diverging`` flag is their verdict;
#: ``energy``, which the BFMI reads, is kept) and the sampler's internal bookkeeping (mass-matrix eigenvalues,
#: the tuning average of the step size, the draw's position in its trajectory). No diagnostic reads them.
LEFT_OUT_STATS = (
    "perf_counter_start", "perf_counter_diff", "process_time_diff", "energy_error", "max_energy_error",
    "largest_eigval", "smallest_eigval", "step_size_bar", "index_in_trajectory",
)  # fmt: skip


class StageClock:
    """Wall-clock seconds of a fit's stages, in the order they ran (``result.timings``).

    ``with clock("build"): ...`` adds the block's time to the stage ``"build"``; ``clock.add(name, s)``
    records a time measured elsewhere (PyMC's own ``sampling_time`` of the NUTS loop).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + float(seconds)

    def json(self) -> str:
        return json.dumps({k: round(v, 3) for k, v in self.seconds.items()})


def default_cores(chains: int) -> int:
    """Processes for ``pm.sample``: one per chain, at most the CPUs this process may use.

    PyMC 6 samples sequentially by default on these machines; this runs the chains in parallel.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    return max(1, min(chains, cpus))


#: Effective draws per draw of the worst-mixing values that ``default_draws`` assumes: the largest R-hats of
#: the 1,000-unit session (``benchmarks/bench_scale.py``) and of the PSTH fits (``benchmarks/bench_psth_scale.py``)
#: match about 0.4.
WORST_ESS_PER_DRAW = 0.3
#: Fewest and most draws per chain ``default_draws`` gives.
DRAWS_RANGE = (1000, 5000)


def rhat_floor(n_values: int, chains: int, draws: int, ess_per_draw: float = WORST_ESS_PER_DRAW) -> float:
    """The largest rank-normalised split R-hat expected over ``n_values`` values that mix well.

    Even chains that agree give R-hats above 1: with ``m = 2 chains`` split chains of ``n = draws / 2``
    draws each, ``R-hat - 1 ~ (X / (m - 1) - 1) / (2 n_eff)``, ``X ~ chi-square(m - 1)`` and ``n_eff =
    ess_per_draw * n``. The largest of ``n_values`` values (bulk and folded: ``2 n_values`` R-hats) sits near
    the ``1 - 1 / (2 n_values)`` quantile of ``X``, and grows with ``log(n_values)``: 2 chains x 1,000 draws of
    9,010 values give about 1.02 where 100 values give 1.01.
    """
    from scipy.stats import chi2

    m = 2 * chains
    q = chi2.isf(1.0 / (2 * max(n_values, 1)), m - 1) / (m - 1)
    return float(1.0 + (q - 1.0) / (2 * ess_per_draw * draws / 2))


def default_draws(n_values: int, chains: int, rhat_max: float = 1.01) -> int:
    """Draws per chain of ``fit(draws=None)``: 1,000, or the fewest multiple of 500 (at most 5,000) whose
    ``rhat_floor`` over the model's ``n_values`` free values is at most ``rhat_max``.

    So a large model's fit of chains that agree does not fail the R-hat check by chance alone: the 1,000-unit
    session (10,009 values) on 2 chains gets 2,500 draws, on 4 chains 1,500; a model of 100 values on 4 chains
    keeps 1,000.
    """
    low, high = DRAWS_RANGE
    for draws in range(low, high + 1, 500):
        if rhat_floor(n_values, chains, draws) <= rhat_max:
            return draws
    return high


def free_values(model) -> int:
    """The number of values ``model`` (a ``pm.Model``) samples: the sizes of its free variables."""
    shapes = model.eval_rv_shapes()
    return int(sum(np.prod(shapes[v.name]) for v in model.value_vars))


def process_options(chains: int, kwargs: dict) -> dict:
    """``pm.sample`` options for PyMC's own NUTS: ``cores`` defaults to ``default_cores(chains)``.

    Once JAX has started a backend (a ``sampler="numpyro"`` fit earlier in the session; importing JAX, as
    arviz_stats does, is not enough) the process is multithreaded and forking it for parallel chains can
    deadlock, while ``forkserver`` or ``spawn`` re-run a script that lacks an ``if __name__ == "__main__":``
    guard. The chains then run one after the other unless the caller passes ``cores`` (with
    ``mp_ctx="forkserver"`` and that guard, they run in parallel safely).
    """
    out = dict(kwargs)
    if "cores" not in out:
        out["cores"] = 1 if jax_started() and "mp_ctx" not in out else default_cores(chains)
    return out


@contextlib.contextmanager
def reproducible_compilation() -> Iterator[None]:
    """Compile PyTensor functions without Numba's fast-math flags, so that a seed gives the same draws.

    PyTensor's Numba backend compiles with LLVM fast-math (``reassoc``, ``contract``, ...) by default. Those
    flags let LLVM reorder floating-point sums and fuse multiply-adds differently depending on how a
    graph's kernels are put together: compiled fresh in one module (a cold compile cache) or loaded from
    PyTensor's Numba cache (a warm one). The gradients then differ in the last bits, and NUTS amplifies the
    difference within a few dozen warm-up steps: the same ``random_seed`` gave different draws on a cold
    and a warm cache (``benchmarks/reproducibility.py``). Without fast-math the result of every float
    operation is fixed, and the draws are identical (measured: the gradient is no slower).

    The flag is part of PyTensor's cache key, so functions compiled here never reuse fast-math ones.
    Chain processes started by ``fork`` (Linux's default) inherit the setting; with
    ``mp_ctx="forkserver"`` or ``"spawn"`` the chain processes recompile with PyTensor's own default
    unless ``PYTENSOR_FLAGS=numba__fastmath=False`` is set in the environment.
    """
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=False):
        yield


#: Environment variables that set the BLAS / OpenMP threads of a process that loads numpy afresh.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run NUTS with one BLAS thread per chain.

    The models' few matrix products (a spline basis, a design matrix) are small; PyTensor without a linked
    BLAS hands them to numpy's OpenBLAS, which starts a thread per core for each, and its threads spin
    while they wait. With one chain per core, every chain's threads then compete for the same cores:
    measured on 2 cores (``HierarchicalPSTH``, locust20010214 8-14 s in 50 ms bins, 2 chains x 600
    iterations), 396 s with OpenBLAS's default threads against 79 s with one. ``threadpoolctl`` limits the
    BLAS of this process (and of chain processes forked from it); the environment variables, set for the
    duration unless already set, do the same for chain processes started by ``forkserver`` or ``spawn``.
    """
    from threadpoolctl import threadpool_limits

    unset = [name for name in BLAS_THREAD_VARS if name not in os.environ]
    for name in unset:
        os.environ[name] = "1"
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for name in unset:
            os.environ.pop(name, None)


def check_lengths(draws: Any, tune: Any, chains: Any) -> None:
    """Refuse ``draws`` unless None (``default_draws``) or an integer >= 1, ``tune`` unless an integer >= 0,
    ``chains`` unless an integer >= 1 (``check_sampler_args``, ``fit_many``)."""
    if draws is not None:
        check_int("draws", draws, 1)
    check_int("tune", tune, 0)
    check_int("chains", chains, 1)


def check_sampler_args(draws: Any, tune: Any, chains: Any, random_seed: Any, sample_kwargs: dict) -> None:
    """Refuse bad sampler settings before anything is built or sampled.

    ``draws`` must be None (``default_draws``) or an integer >= 1, ``chains`` an integer >= 1, ``tune`` one
    >= 0, ``random_seed`` None, an integer >= 0 or a ``numpy.random.Generator``; ``sample_kwargs`` keys must be
    ``pm.sample`` or NUTS keywords (``SAMPLE_KWARGS``) and ``target_accept`` in (0, 1).
    """
    check_lengths(draws, tune, chains)
    seed_ok = random_seed is None or isinstance(random_seed, np.random.Generator)
    seed_ok |= isinstance(random_seed, int | np.integer) and not isinstance(random_seed, bool) and random_seed >= 0
    if not seed_ok:
        raise ArgumentError(
            f"random_seed must be None, an integer >= 0 or a numpy Generator; got {random_seed!r}. Hint: random_seed=0."
        )
    for key in sample_kwargs:
        if key in ("model", "nuts_sampler", "compute_convergence_checks", "return_inferencedata"):
            raise ArgumentTypeError(f"{key!r} is set by spikepool's fit; got it among the sampler keywords.")
        if key not in SAMPLE_KWARGS:
            raise ArgumentTypeError(
                f"sampler keywords must be pm.sample or NUTS options; got {key!r}.{did_you_mean(key, SAMPLE_KWARGS)}"
            )
    if "target_accept" in sample_kwargs:
        value = sample_kwargs["target_accept"]
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating) or not 0 < value < 1:
            raise ArgumentError(f"target_accept must be a number in (0, 1); got {value!r}. Hint: 0.9 or 0.95.")


def jax_started() -> bool:
    """Whether JAX has created a backend (and its threads) in this process."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def sample_tree(
    model,
    *,
    spec: dict,
    prior_names: list[str],
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    sample_kwargs: dict[str, Any],
    clock: StageClock | None = None,
) -> xr.DataTree:
    """Sample ``model`` with NUTS (``sampler``: "pymc", "nutpie" or "numpyro") and return the DataTree.

    Groups: those of ``pm.sample`` (``sample_stats`` without ``LEFT_OUT_STATS``); ``log_likelihood`` of the
    observed variables, if the model has any (a model whose likelihood is a ``Potential`` computes its own);
    ``prior`` draws of ``prior_names`` (for the contraction check; none when empty). ``spec`` is stored as
    JSON in ``attrs["spikepool_spec"]``. For PyMC's own NUTS, ``cores`` defaults to ``default_cores(chains)``
    (``process_options``); for nutpie too (its chains are threads: PyMC's own default, half the CPUs,
    ran nutpie's two chains one after the other on 2 CPUs). Compilation runs under
    ``reproducible_compilation``, sampling with ``one_blas_thread``. ``clock`` (a ``StageClock``) records
    the stages' times: ``sampling`` (all of ``pm.sample``: compiling, the NUTS loop, converting the draws),
    ``nuts_loop`` (its loop alone), ``log_likelihood`` and ``prior_draws``.
    The caller has checked the settings (``check_sampler_args``).
    """
    import pymc as pm

    kwargs = dict(sample_kwargs)
    if sampler == "pymc":
        kwargs = process_options(chains, sample_kwargs)
    elif sampler == "nutpie":
        # nutpie runs its chains in threads; pm.sample would pass cores = cpu_count() // 2 (1 on 2 CPUs)
        kwargs.setdefault("cores", default_cores(chains))
    clock = StageClock() if clock is None else clock
    with model, reproducible_compilation(), one_blas_thread():
        with clock("sampling"):
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=random_seed,
                progressbar=progressbar,
                nuts_sampler=sampler,
                compute_convergence_checks=False,
                **kwargs,
            )
        loop = idata["posterior"].attrs.get("sampling_time")
        if loop is not None:
            # pm.sample's time = compiling the model + the NUTS loop (tuning and draws) + converting the draws
            clock.add("nuts_loop", loop)
        with clock("log_likelihood"):
            if model.observed_RVs and "log_likelihood" not in idata.children:
                idata = pm.compute_log_likelihood(idata, progressbar=False)
        groups = {name: idata[name].to_dataset() for name in idata.children}
        stats = groups["sample_stats"]
        groups["sample_stats"] = stats.drop_vars([name for name in LEFT_OUT_STATS if name in stats])
        if prior_names:
            with clock("prior_draws"), warnings.catch_warnings():  # a likelihood Potential is rightly ignored
                warnings.filterwarnings("ignore", message=".*Potential.*")
                prior = pm.sample_prior_predictive(draws=1000, random_seed=random_seed, var_names=prior_names)
            groups["prior"] = prior["prior"].to_dataset()
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


def warn_problems(checks: CheckReport, stacklevel: int = 3) -> None:
    """Issue every warning of a post-fit ``CheckReport`` as a ``SamplingWarning``."""
    for problem in checks.warnings:
        warnings.warn(problem.text(), SamplingWarning, stacklevel=stacklevel)

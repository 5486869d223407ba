"""Sampler settings shared by the models."""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

import xarray as xr

from spikepool.exceptions import SamplingWarning
from spikepool.problems import CheckReport

__all__ = ["default_cores", "process_options", "sample_tree", "warn_problems"]


def default_cores(chains: int) -> int:
    """Processes for ``pm.sample``: one per chain, at most the CPUs this process may use.

    PyMC 6 samples sequentially by default on these machines; this runs the chains in parallel.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    return max(1, min(chains, cpus))


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


def jax_started() -> bool:
    """Whether JAX has created a backend (and its threads) in this process."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def sample_tree(
    model,
    *,
    spec: dict,
    prior_names: list[str],
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    sample_kwargs: dict[str, Any],
) -> xr.DataTree:
    """Sample ``model`` with NUTS and return the DataTree the ``TreeResult`` models keep.

    Groups: those of ``pm.sample``, ``log_likelihood`` of the observed ``y``, and ``prior`` draws of
    ``prior_names`` (for the contraction check; skipped when empty). ``spec`` is stored as JSON in
    ``attrs["spikepool_spec"]``. ``cores`` defaults to ``default_cores(chains)``, ``nuts_sampler`` to
    ``"pymc"``.
    """
    import pymc as pm

    kwargs = process_options(chains, sample_kwargs)
    kwargs.setdefault("nuts_sampler", "pymc")
    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
        if "log_likelihood" not in idata.children:
            idata = pm.compute_log_likelihood(idata, var_names=["y"], progressbar=False)
        groups = {name: idata[name].to_dataset() for name in idata.children}
        if prior_names:
            prior = pm.sample_prior_predictive(draws=1000, random_seed=random_seed, var_names=prior_names)
            groups["prior"] = prior["prior"].to_dataset()
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


def warn_problems(checks: CheckReport, stacklevel: int = 3) -> None:
    """Issue every warning of a post-fit ``CheckReport`` as a ``SamplingWarning``."""
    for problem in checks.warnings:
        warnings.warn(problem.text(), SamplingWarning, stacklevel=stacklevel)

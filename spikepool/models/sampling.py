"""Sampler settings shared by the models."""

from __future__ import annotations

import os

__all__ = ["default_cores"]


def default_cores(chains: int) -> int:
    """Processes for ``pm.sample``: one per chain, at most the CPUs this process may use.

    PyMC 6 samples sequentially by default on these machines; this runs the chains in parallel.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    return max(1, min(chains, cpus))

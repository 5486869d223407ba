"""Shared fixtures (a seeded rng, the real-data folder, small in-memory Neo recordings, simulated responders)
and the order in which parallel test workers (``pytest -n 2``, pytest-xdist) take the tests.

Under pytest-xdist a worker takes a whole test file at a time, so a module-scoped fixture (a fitted model several
tests read) is fitted once; the tutorials and the command-line tests, each its own process, are taken one at a
time. The longest work starts first (``COLD_SECONDS``), so that the two workers finish together.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import neo
import numpy as np
import pytest
import quantities as pq

import spikepool as sp


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SPIKEPOOL_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("real-data test: SPIKEPOOL_DATA is unset (export SPIKEPOOL_DATA=../shared/data)")
    return Path(value)


def make_block(
    rng: np.random.Generator,
    n_neurons: int = 3,
    n_trials: int = 4,
    duration: float = 2.0,
    rate: float = 20.0,
    units: str = "s",
    conditions: tuple[str, ...] = ("a", "b"),
) -> neo.Block:
    """A Block with one Segment per trial, trains annotated unit_id / channel, times in ``units``."""
    scale = float(pq.Quantity(1.0, "s").rescale(units).magnitude)
    block = neo.Block(name="test")
    for k in range(n_trials):
        seg = neo.Segment(name=f"trial {k}", condition=conditions[k % len(conditions)], trial_id=k)
        for n in range(n_neurons):
            times = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
            seg.spiketrains.append(
                neo.SpikeTrain(
                    times * scale * pq.Quantity(1.0, units),
                    t_start=0.0 * pq.Quantity(1.0, units),
                    t_stop=duration * scale * pq.Quantity(1.0, units),
                    name=f"n{n}",
                    unit_id=f"u{n}",
                    channel=n + 1,
                )
            )
        block.segments.append(seg)
    return block


def brute_counts(times: np.ndarray, start: float, stop: float) -> int:
    """Independent count of spikes in [start, stop)."""
    return int(np.sum((times >= start) & (times < stop)))


def responders(seed: int = 5, n_each: int = 8, trials: int = 40):
    """NB counts (alpha 10) of 3 x n_each neurons in 'base' and 'stim' (alternating 1 s trials): the first n_each
    fire twice as fast under stim, the next half as fast, the last exactly as fast. Returns (counts, true
    baseline rates, true ratios)."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(np.log(10.0), 0.5, 3 * n_each))
    ratio = np.repeat([2.0, 0.5, 1.0], n_each)
    cond = np.tile([0, 1], trials // 2)
    rate = np.stack([base, base * ratio], axis=1)[:, cond]
    y = rng.poisson(rng.gamma(10.0, rate / 10.0))
    return sp.from_array(y, duration=1.0, condition=np.array(["base", "stim"])[cond]), base, ratio


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): a download or proxy there fails at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Files whose tests are independent processes (no shared fixture): parallel workers take them one test at a time.
ONE_TEST_AT_A_TIME = ("tests/test_tutorials.py", "tests/test_cli.py")

#: Seconds each unit of work took with cold compile caches on 2 cores (a unit: a test file, or a test of the
#: files above), measured from ``pytest --durations=0``. Parallel workers start the longest units first; the
#: figures only order the work, so a stale one costs minutes, never a result.
COLD_SECONDS = {
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[08_time_resolved_rates]": 255,
    "tests/test_psth.py": 174,
    "tests/test_glm.py": 160,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[10_covariates_and_slopes]": 150,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[11_shared_variability]": 155,
    "tests/test_shared.py": 70,
    "tests/test_contract.py": 123,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[05_hippocampal_laps]": 101,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[02_pooling_and_shrinkage]": 80,
    "tests/test_com_poisson.py": 62,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[07_many_sessions]": 62,
    "tests/test_models.py": 60,
    "tests/test_laplace.py": 50,
    "tests/test_pooling.py": 48,
    "tests/test_sparse_responses.py": 48,
    "tests/test_session_model.py": 47,
    "tests/test_contrasts.py": 39,
    "tests/test_random_effects.py": 39,
    "tests/test_parallel.py": 34,
    "tests/test_beta_binomial.py": 33,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[06_normal_and_beta_binomial]": 32,
    "tests/test_cli.py::test_fit_then_report_on_the_locust_data": 31,
    "tests/test_cli.py::test_fit_with_bin_size_fits_the_time_resolved_model": 31,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[03_identifiability_and_parameterization]": 31,
    "tests/test_cli.py::test_fit_with_a_formula_fits_the_regression": 30,
    "tests/test_cli.py::test_fit_with_shared_factors_writes_the_variance_partition": 30,
    "tests/test_reproducibility.py": 29,
    "spikepool/viz/time_plots.py": 60,  # doctests: a time-resolved fit's compile
    "spikepool/viz/glm_plots.py": 30,  # doctests: a formula fit's compile (shared_plots.py then reuses it)
    "tests/test_design.py": 28,
    "tests/test_models_locust.py": 26,
    "tests/test_tutorials.py::test_tutorial_runs_end_to_end[04_single_neuron_conditions]": 26,
    "tests/test_plots.py": 26,
    "tests/test_likelihood.py": 26,
    "tests/test_io_files.py": 25,
    "tests/test_lazy.py": 24,
    "tests/test_report.py": 21,
    "tests/test_cli.py::test_fit_with_com_poisson_compares_it_with_the_nb_and_the_poisson": 20,
    "tests/test_cli.py::test_fit_with_method_laplace": 20,
}


def work_unit(nodeid: str) -> str:
    """The unit of work a parallel worker takes whole: the test's file, or the test itself (ONE_TEST_AT_A_TIME)."""
    path = nodeid.split("::", 1)[0]
    return nodeid if path in ONE_TEST_AT_A_TIME else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a parallel worker, put the longest units of work first (each unit's tests stay together, in order)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    first = {}
    for k, item in enumerate(items):
        first.setdefault(work_unit(item.nodeid), k)
    items.sort(key=lambda item: (-COLD_SECONDS.get(work_unit(item.nodeid), 0), first[work_unit(item.nodeid)]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n N`` (``--dist load``, xdist's default, or ``loadscope``): hand out whole ``work_unit``s in the
    order the workers collected them (longest first), so module-scoped fits are made once per run."""
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep the collected order: longest first
    return WorkUnitScheduling(config, log)

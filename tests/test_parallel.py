"""fit_many: independent per-session fits, serially and on a two-process dask.distributed cluster.

Real PyMC sampling of small models (draws=tune=200, 2 chains). The sampler's ESS / R-hat warnings at this size
are expected and not what is tested here, so ``SamplingWarning`` is ignored; every other spikepool warning is
still an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import xarray as xr

import spikepool as sp
from spikepool.exceptions import CountsError, SamplingWarning, SpikepoolWarning
from spikepool.workflows.compiledir import prepare_workers

pytestmark = pytest.mark.filterwarnings("ignore::spikepool.exceptions.SamplingWarning")

MODEL = sp.HierarchicalNegBinom(dispersion="shared")
FIT = {"draws": 200, "tune": 200, "chains": 2}


@pytest.fixture(scope="module")
def sessions() -> dict[str, xr.DataArray]:
    a, _ = sp.simulate_counts(6, 8, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)
    b, _ = sp.simulate_counts(4, 10, mu=2.0, tau=0.5, alpha=4.0, duration=0.5, seed=2)
    return {"a": a, "b": b.assign_coords(neuron=[f"v{k}" for k in range(4)])}


@pytest.fixture(scope="module")
def serial(sessions):
    return sp.fit_many(MODEL, sessions, **FIT, random_seed=11)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


def _draws(result) -> np.ndarray:
    return result.posterior["rate"].values


def test_serial_fits_equal_direct_fits_with_the_recorded_seeds(serial, sessions):
    assert list(serial) == ["a", "b"] and serial.failures == {}
    assert len(set(serial.seeds.values())) == 2
    for s, counts in sessions.items():
        assert serial[s].posterior["neuron"].values.tolist() == counts["neuron"].values.tolist()
        direct = MODEL.fit(counts, **FIT, random_seed=serial.seeds[s], progressbar=False)
        np.testing.assert_array_equal(_draws(serial[s]), _draws(direct))
    table = serial.summary()
    assert table["status"].tolist() == ["ok", "ok"]
    assert table["n_neurons"].tolist() == [6, 4] and table["n_trials"].tolist() == [8, 10]
    assert (table["rhat_max"] > 0.9).all()


def test_cluster_returns_the_good_sessions_and_reports_the_failed_one(client, serial, sessions):
    one_trial, _ = sp.simulate_counts(6, 1, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=3)
    data = {**sessions, "s_fail": one_trial}  # one trial per neuron: alpha and tau not separable
    with pytest.warns(SpikepoolWarning, match="s_fail") as record:
        fits = sp.fit_many(MODEL, data, client, **FIT, random_seed=11)
    assert list(fits) == ["a", "b"] and fits.sessions == ["a", "b", "s_fail"]
    assert fits.failures["s_fail"].startswith("IdentifiabilityError: ")
    assert "variance_components" in fits.failures["s_fail"]
    with pytest.raises(KeyError, match="IdentifiabilityError"):
        fits["s_fail"]
    reported = [w for w in record if not issubclass(w.category, SamplingWarning)]
    assert len(reported) == 1 and "1 of 3 failed" in str(reported[0].message)
    assert all(str(w.message).startswith("session '") for w in record if issubclass(w.category, SamplingWarning))
    # Each worker process compiled into a directory of its own (pymc#7819), as the workers themselves report.
    used = {d for d in fits.compiledirs.values() if d is not None}
    root = os.path.join(tempfile.gettempdir(), "spikepool-pytensor-")
    assert len(used) == 2 and all(d.startswith(root) for d in used)
    per_worker = client.run(lambda: str(sys.modules["pytensor"].config.base_compiledir))
    assert set(per_worker.values()) == used and set(fits.workers.values()) <= set(per_worker)
    # The seeds come from the session names alone, so a worker samples the serial run's posterior with its seed.
    # Draws are bit-identical only between processes whose Numba caches were in the same state (a worker that
    # compiled from scratch drifts in the last bits after some iterations), so the means are compared: within
    # half a posterior sd, about 3.5 Monte Carlo standard errors of the difference at these ESS (>= 100).
    for s in ("a", "b"):
        assert fits.seeds[s] == serial.seeds[s]
        here, there = fits[s].posterior["rate"], serial[s].posterior["rate"]
        gap = abs(here.mean(("chain", "draw")) - there.mean(("chain", "draw")))
        assert (gap < 0.5 * there.std(("chain", "draw"))).all()
    assert fits.summary()["status"].tolist() == ["ok", "ok", "failed"]
    assert "s_fail  failed" in repr(fits)


def test_a_worker_that_joins_later_gets_its_own_compile_dir_from_the_plugin(client):
    prepare_workers(client)  # what fit_many does first: registers the plugin (the test may run alone)
    before = set(client.scheduler_info()["workers"])
    client.cluster.scale(len(before) + 1)
    client.wait_for_workers(len(before) + 1, timeout=120)
    flags = client.run(lambda: os.environ.get("PYTENSOR_FLAGS", ""))
    assert len(set(flags.values())) == len(before) + 1 and all("base_compiledir=" in f for f in flags.values())
    # The new worker has run no task (PyTensor not even imported there): only the registered plugin's
    # setup can have set its directory.
    new = sorted(set(flags) - before)
    assert len(new) == 1 and client.run(lambda: "pytensor" in sys.modules, workers=new) == {new[0]: False}


def test_concat_sessions_are_split_into_their_own_neurons_and_trials(rng):
    day1 = sp.from_array(rng.poisson(3.0, (3, 5)), duration=1.0, neuron=["u1", "u2", "u3"])
    day2 = sp.from_array(rng.poisson(3.0, (2, 4)), duration=0.5, neuron=["u1", "u9"])
    both = sp.concat_sessions([day1, day2], session_ids=["day1", "day2"])
    model = sp.HierarchicalNegBinom(pooling="complete", likelihood="poisson")
    fits = sp.fit_many(model, both, draws=100, tune=100, chains=1, random_seed=0)
    assert list(fits) == ["day1", "day2"]
    assert fits.summary()[["n_neurons", "n_trials"]].values.tolist() == [[3, 5], [2, 4]]
    for s, part in (("day1", day1), ("day2", day2)):
        fitted = fits[s].counts
        assert fitted.attrs["session"] == s
        np.testing.assert_array_equal(fitted.values, part.values)
        assert fitted["neuron"].values.tolist() == part["neuron"].values.tolist()
        np.testing.assert_array_equal(fitted["trial"].values, part["trial"].values)
        np.testing.assert_array_equal(fitted["duration"].values, part["duration"].values)
        assert fitted["valid"].values.all() and "neuron_session" not in fitted.coords
        assert fits[s].posterior["neuron"].values.tolist() == part["neuron"].values.tolist()


def _negative(counts: xr.DataArray) -> xr.DataArray:
    bad = counts.copy()
    bad.values[0, 0] = -1
    return bad


COUNTS, _ = sp.simulate_counts(3, 4, seed=0)
BAD_INPUTS = [
    ((object(), {"a": COUNTS}), {}, TypeError, "model must be a spikepool model with a .fit method"),
    ((MODEL, {}), {}, ValueError, "at least one session; got none"),
    ((MODEL, [COUNTS, COUNTS]), {}, TypeError, "must be a mapping session -> counts"),
    ((MODEL, COUNTS), {}, TypeError, "concat_sessions .coords 'neuron_session' and 'session'."),
    ((MODEL, {"a": COUNTS, "b": COUNTS.values}), {}, TypeError, "got ndarray for session 'b'"),
    ((MODEL, {"a": COUNTS, "b": [[1, 2]]}), {}, TypeError, "must be a DataArray .* got list for session 'b'"),
    ((MODEL, {"a": COUNTS, "b": _negative(COUNTS)}), {}, CountsError, "session 'b': counts must be non-negative"),
    ((MODEL, {1: COUNTS, "1": COUNTS}), {}, ValueError, "distinct as text; got \\['1'\\]"),
    ((MODEL, {"a": COUNTS}), {"draws": 0}, ValueError, "draws must be an integer >= 1; got 0"),
    ((MODEL, {"a": COUNTS}), {"random_seed": -1}, ValueError, "random_seed must be an integer >= 0; got -1"),
    ((MODEL, {"a": COUNTS}, "tcp://127.0.0.1:8786"), {}, TypeError, "client must be a distributed.Client"),
    (
        (sp.HierarchicalNegBinom(session="neuron_session"), {"a": COUNTS}),
        {},
        ValueError,
        "must not pool across sessions; got a model with session='neuron_session'",
    ),
]


@pytest.mark.parametrize(("args", "kwargs", "error", "match"), BAD_INPUTS)
def test_bad_inputs_raise_before_sampling(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        sp.fit_many(*args, **kwargs)


def test_importing_spikepool_leaves_pytensor_unimported():
    # Workers import spikepool to run the compile-dir plugin; PyTensor must not be imported by then.
    code = "import sys, spikepool; sys.exit('pytensor' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

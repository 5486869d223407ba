"""open_sessions: Dask-backed counts of many sessions, counted per session in worker processes.

The locust tests run on a ``dask.distributed`` LocalCluster of two worker processes; the task stream of the
scheduler says which tasks ran, where (worker PIDs versus this process) and when. The file tests write tiny
Neo recordings (Neo pickle files) and use Dask's default scheduler, or one that records every call.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr
from conftest import make_block

import spikepool as sp

dask = pytest.importorskip("dask", reason="open_sessions needs the 'dask' extra (dask[array], distributed)")
da = pytest.importorskip("dask.array", reason="open_sessions needs the 'dask' extra (dask[array])")

WINDOW = (2.0, 4.0)  # inside every locust trial (locust20000214 records 10 s per trial)


def _write(block, path):
    from neo.io import PickleIO

    PickleIO(str(path)).write_block(block)
    return path


@pytest.fixture
def on_disk(rng, tmp_path):
    """Two sessions as Neo files: day1 (3 neurons x 4 trials), day2 (2 neurons x 3 trials), 2 s trials."""
    return [
        _write(make_block(rng, n_neurons=3, n_trials=4), tmp_path / "day1.pkl"),
        _write(make_block(rng, n_neurons=2, n_trials=3, conditions=("b", "c")), tmp_path / "day2.pkl"),
    ]


class _RecordingScheduler:
    """Dask's synchronous scheduler that records the keys of every graph it is asked to compute."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, dsk, keys, **kwargs):
        self.calls.append([str(k) for k in dask.core.flatten(keys)])
        return dask.get(dsk, keys, **kwargs)


def _opened_as(eager: xr.DataArray) -> xr.DataArray:
    return eager.assign_attrs(source="spikepool.open_sessions")


# ---------------------------------------------------------------- files, Dask's default scheduler


def test_files_binned_counts_equal_concat_sessions(on_disk):
    kwargs = {"window": (0.2, 1.8), "bin_size": 0.4}
    out = sp.open_sessions(on_disk, **kwargs)
    assert isinstance(out.data, da.Array)
    assert out.dims == ("neuron", "trial", "time")
    assert out.chunks == ((3, 2), (4, 3), (4,))  # one block per (session, session), the time axis whole
    eager = sp.concat_sessions(on_disk, **kwargs)
    computed = out.compute()
    assert isinstance(computed.data, np.ndarray)
    xr.testing.assert_identical(computed, _opened_as(eager))
    assert computed.attrs["sessions"] == ["day1", "day2"]
    again = sp.open_sessions(on_disk, session_ids=["a", "b"], chunks=2, **kwargs)
    assert again.chunks == ((2, 2, 1), (2, 2, 2, 1), (2, 2))
    np.testing.assert_array_equal(again.values, eager.values)
    assert again["neuron"].values.tolist() == ["a/u0", "a/u1", "a/u2", "b/u0", "b/u1"]


def test_values_are_read_when_computed_not_when_opened(rng, on_disk):
    record = _RecordingScheduler()
    with dask.config.set(scheduler=record):
        out = sp.open_sessions(on_disk, window=(0.0, 2.0))
        # Opening computed the layouts only: one task per session, no counts.
        assert len(record.calls) == 1
        assert sorted(k.rsplit("-", 1)[0] for k in record.calls[0]) == [
            "open_sessions-layout-day1",
            "open_sessions-layout-day2",
        ]
        # A recording replaced after opening, with the same neurons and trials but other spikes: the
        # computed values are the new ones, so they were read at compute time.
        replaced = make_block(rng, n_neurons=2, n_trials=3, rate=60.0, conditions=("b", "c"))
        _write(replaced, on_disk[1])
        computed = out.compute()
        assert len(record.calls) == 2
        np.testing.assert_array_equal(
            computed.sel(neuron=["day2/u0", "day2/u1"]).isel(trial=slice(4, 7)).values,
            sp.from_neo(replaced, window=(0.0, 2.0)).values,
        )
        # Replaced by a recording with other neurons: computing says so instead of misplacing counts.
        _write(make_block(rng, n_neurons=4, n_trials=3), on_disk[1])
        with pytest.raises(sp.SourceError, match="session 'day2' must count the same when its values are computed"):
            out.compute()


BAD = [
    (lambda p: [p[0], sp.from_array([[1]], duration=1.0)], {}, TypeError, "DataArray at position 1.*concat_sessions"),
    (lambda p: str(p[0]), {}, TypeError, "list of dataset names or file paths; got str"),
    (lambda p: [], {}, ValueError, "at least one session; got none"),
    (lambda p: [p[0], 3], {}, TypeError, "dataset name or a file path; got int"),
    (lambda p: [p[0], "locus20010214"], {}, sp.DatasetError, "Did you mean 'locust20010214'"),
    (lambda p: p, {"session_ids": ["s", "s"]}, ValueError, r"unique; got \['s'\]"),
    (lambda p: [p[0], p[0]], {}, ValueError, r"unique; got \['day1'\]"),
    (lambda p: p, {"session_ids": ["a/b", "c"]}, ValueError, "must not contain '/'"),
    (lambda p: p, {"chunks": {"trail": 5}}, ValueError, "Did you mean 'trial'"),
    (lambda p: p, {"chunks": {"neuron": 0}}, ValueError, r"chunks\['neuron'\] must be a positive int"),
    (lambda p: p, {"chunks": 0}, ValueError, "positive int; got 0"),
    (lambda p: p, {"chunks": "auto"}, TypeError, "chunks must be None, an int or a dict"),
]


@pytest.mark.parametrize(("sessions", "kwargs", "error", "match"), BAD)
def test_bad_inputs_fail_before_anything_is_counted(on_disk, sessions, kwargs, error, match):
    record = _RecordingScheduler()
    with dask.config.set(scheduler=record), pytest.raises(error, match=match):
        sp.open_sessions(sessions(on_disk), window=(0.0, 2.0), **kwargs)
    assert record.calls == []


def test_errors_while_counting_name_the_session(on_disk, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        sp.open_sessions([on_disk[0], tmp_path / "gone" / "day3.nix"], window=(0.0, 2.0))
    assert any("while counting session 'day3'" in note for note in err.value.__notes__)
    with pytest.raises(ValueError, match=r"chunks must name dims of the counts.*got \['time'\]"):
        sp.open_sessions(on_disk, window=(0.0, 2.0), chunks={"time": 2})


# ---------------------------------------------------------------- the six locust experiments, two worker processes


@pytest.fixture(scope="module")
def names(data_dir):
    found = [n for n in sp.datasets.names() if n.startswith("locust2")]
    assert len(found) == 6
    return found


@pytest.fixture(scope="module")
def client(data_dir):
    distributed = pytest.importorskip("dask.distributed", reason="the cluster tests need distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def eager(names):
    return sp.concat_sessions(names, window=WINDOW)


@pytest.fixture(scope="module")
def opened(client, names):
    from dask.distributed import get_task_stream

    with get_task_stream(client) as stream:
        out = sp.open_sessions(names, window=WINDOW)
    return out, stream.data


def _ran(stream, prefix):
    return [task for task in stream if str(task["key"]).startswith(prefix)]


def _scheduler_keys(dask_scheduler):
    return [str(key) for key in dask_scheduler.tasks]


def _worker_pids(client):
    pids = client.run(os.getpid)
    assert os.getpid() not in pids.values()
    return pids


def test_opening_counts_layouts_in_parallel_on_worker_processes(opened, client, names, eager):
    out, stream = opened
    assert isinstance(out.data, da.Array)
    sizes = [(int((eager["neuron_session"] == n).sum()), int((eager["session"] == n).sum())) for n in names]
    assert out.chunks == (tuple(s[0] for s in sizes), tuple(s[1] for s in sizes))
    layouts = _ran(stream, "open_sessions-layout-")
    assert sorted(str(t["key"]).split("-")[2] for t in layouts) == sorted(names)
    # Only layouts were computed: no session was counted for its values yet.
    assert len(stream) == len(layouts) == 6
    assert not _ran(stream, "open_sessions-count-")
    # Nor is any count under way or held on the cluster (persist() would leave its tasks there).
    held = client.run_on_scheduler(_scheduler_keys)
    assert [k for k in held if not k.startswith("open_sessions-layout-")] == []
    # On both worker processes (not this one). Whether their run times overlap is the scheduler's and the
    # machine's business (under CPU load they did not always): that is a timing, not a property of the graph.
    pids = _worker_pids(client)
    assert {t["worker"] for t in layouts} == set(pids)
    # The coords and attrs are known without computing and equal the eager ones.
    xr.testing.assert_identical(out.coords.to_dataset(), eager.coords.to_dataset())
    assert out.attrs.keys() == eager.attrs.keys() and out.attrs["source"] == "spikepool.open_sessions"


def test_computed_counts_equal_concat_sessions(opened, client, names, eager):
    from dask.distributed import get_task_stream

    out, _ = opened
    with get_task_stream(client) as stream:
        computed = out.compute(optimize_graph=False)  # unfused, so the stream names each session's task
    counted = _ran(stream.data, "open_sessions-count-")
    assert sorted(str(t["key"]).split("-")[2] for t in counted) == sorted(names)
    assert {t["worker"] for t in counted} <= set(_worker_pids(client))
    assert isinstance(computed.data, np.ndarray)
    xr.testing.assert_identical(computed, _opened_as(eager))
    report = sp.check_counts(computed, dispersion="pooled", condition="condition")
    assert report.ok, report


def test_chunks_dict_rechunks_the_same_values(client, names, eager):
    pair = [names[0], names[-1]]
    out = sp.open_sessions(pair, window=WINDOW, chunks={"neuron": 7, "trial": 50})
    n_neurons, n_trials = out.shape
    assert out.chunks == (
        (7,) * (n_neurons // 7) + ((n_neurons % 7,) if n_neurons % 7 else ()),
        (50,) * (n_trials // 50) + ((n_trials % 50,) if n_trials % 50 else ()),
    )
    part = eager.isel(neuron=eager["neuron_session"].isin(pair), trial=eager["session"].isin(pair))
    computed = out.compute()
    np.testing.assert_array_equal(computed.values, part.values)
    np.testing.assert_array_equal(computed["valid"].values, part["valid"].values)
    np.testing.assert_array_equal(computed["neuron"].values, part["neuron"].values)

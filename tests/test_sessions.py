"""concat_sessions: neurons nested in sessions, a block-diagonal valid mask, and the six locust experiments."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import spikepool as sp


def _session(rng, n_neurons, n_trials, duration, conditions=("a", "b"), ids=None):
    values = rng.poisson(3.0, (n_neurons, n_trials))
    cond = [conditions[k % len(conditions)] for k in range(n_trials)]
    return sp.from_array(values, duration=duration, condition=cond, neuron=ids)


def test_two_sessions_keep_every_count_in_its_block(rng):
    a = _session(rng, 3, 5, 1.0, ids=["u1", "u2", "u3"])
    b = _session(rng, 2, 4, 0.5, ids=["u1", "u9"], conditions=("b", "c"))
    a_before, b_before = a.copy(deep=True), b.copy(deep=True)
    both = sp.concat_sessions([a, b], session_ids=["day1", "day2"])
    xr.testing.assert_identical(a, a_before)
    xr.testing.assert_identical(b, b_before)
    assert both.sizes == {"neuron": 5, "trial": 9}
    assert both["neuron"].values.tolist() == ["day1/u1", "day1/u2", "day1/u3", "day2/u1", "day2/u9"]
    assert both["neuron_id"].values.tolist() == ["u1", "u2", "u3", "u1", "u9"]
    for sid, part in (("day1", a), ("day2", b)):
        block = both.isel(neuron=both["neuron_session"].values == sid, trial=both["session"].values == sid)
        np.testing.assert_array_equal(block.values, part.values)
        np.testing.assert_array_equal(block["duration"].values, part["duration"].values)
        np.testing.assert_array_equal(block["condition"].values, part["condition"].values)
        np.testing.assert_array_equal(block["trial_id"].values, part["trial"].values)
        assert block["valid"].values.all()
    # Off the diagonal nothing is recorded (and nothing counted).
    across = both["neuron_session"].values[:, None] != both["session"].values[None, :]
    assert not both["valid"].values[across].any() and not both.values[across].any()
    assert int(both.sum()) == int(a.sum()) + int(b.sum())
    assert both.attrs["sessions"] == ["day1", "day2"]
    assert sp.check_counts(both, dispersion="pooled", condition="condition").ok
    # split_sessions undoes it: each block with its own labels and values
    blocks = sp.split_sessions(both)
    assert list(blocks) == ["day1", "day2"]
    for sid, part in (("day1", a), ("day2", b)):
        assert blocks[sid].attrs["session"] == sid
        assert blocks[sid]["valid"].values.all()  # every trial of a session was recorded by its neurons
        xr.testing.assert_equal(blocks[sid].drop_vars("valid"), part)


def test_binned_sessions_and_default_ids(rng):
    a = sp.from_array(rng.poisson(1.0, (2, 3, 4)), duration=0.4, time=[0.05, 0.15, 0.25, 0.35])
    b = sp.from_array(rng.poisson(1.0, (1, 2, 4)), duration=0.4, time=[0.05, 0.15, 0.25, 0.35])
    b.attrs["session"] = "rat7"
    both = sp.concat_sessions([a, b])
    assert both.dims == ("neuron", "trial", "time") and both.sizes == {"neuron": 3, "trial": 5, "time": 4}
    assert both.attrs["sessions"] == ["session0", "rat7"]
    np.testing.assert_array_equal(both.sel(neuron="rat7/0").isel(trial=slice(3, 5)).values, b.values[0])
    c = sp.from_array(rng.poisson(1.0, (1, 2, 4)), duration=0.4, time=[0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="share their time bins; got different bins for session 'session1'"):
        sp.concat_sessions([a, c])


def test_shared_extra_coords_are_kept_and_others_listed(rng):
    a = _session(rng, 2, 3, 1.0).assign_coords(tetrode=("neuron", [1, 2]), stim=("trial", [0.1, 0.2, 0.3]))
    b = _session(rng, 1, 2, 1.0).assign_coords(tetrode=("neuron", [4]))
    both = sp.concat_sessions([a, b], session_ids=["x", "y"])
    assert both["tetrode"].values.tolist() == [1, 2, 4]
    assert "stim" not in both.coords and both.attrs["coords_not_shared"] == ["stim"]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ("one", {}, TypeError, "list of counts"),
        ([], {}, ValueError, "at least one session"),
        (["two"], {"session_ids": ["a", "b"]}, ValueError, "one id per session; got 2 for 1"),
        (["same", "same"], {"session_ids": ["s", "s"]}, ValueError, r"unique; got \['s'\]"),
        (["one"], {"session_ids": ["a/b"]}, ValueError, "must not contain '/'"),
        (["dims"], {}, ValueError, "every session must have dims"),
        (["one"], {"window": (0, 1)}, ValueError, "load options apply to names and files only"),
        ([3], {}, TypeError, "got int"),
    ],
)
def test_bad_sessions(rng, args, kwargs, error, match):
    made = {
        "one": _session(rng, 1, 2, 1.0),
        "two": _session(rng, 1, 2, 1.0),
        "same": _session(rng, 1, 2, 1.0),
        "dims": sp.from_array(np.ones((1, 2, 3), dtype=int), duration=1.0),
    }
    if isinstance(args, list):
        sessions = [made.get(x, x) if isinstance(x, str) else x for x in args]
        if args == ["dims"]:
            sessions = [made["one"], made["dims"]]
    else:
        sessions = made[args]
    with pytest.raises(error, match=match):
        sp.concat_sessions(sessions, **kwargs)


def test_six_locust_experiments(data_dir):
    # 2-3 s into each trial: inside every experiment's recorded trials (locust20000214 records 10 s).
    names = [n for n in sp.datasets.names() if n.startswith("locust2")]
    assert len(names) == 6
    both = sp.concat_sessions(names, window=(2.0, 3.0))
    assert both.attrs["sessions"] == names
    alone_by_name = {name: sp.datasets.load_counts(name, window=(2.0, 3.0)) for name in names}
    for name, alone in alone_by_name.items():
        block = both.isel(neuron=both["neuron_session"].values == name, trial=both["session"].values == name)
        assert block.shape == alone.shape
        np.testing.assert_array_equal(block.values, alone.values)
        np.testing.assert_array_equal(block["neuron_id"].values, alone["neuron"].values.astype(str))
    assert both.sizes["neuron"] == sum(a.sizes["neuron"] for a in alone_by_name.values())
    report = sp.check_counts(both, dispersion="pooled", condition="condition")
    assert report.ok, report

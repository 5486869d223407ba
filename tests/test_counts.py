"""The counts schema: validate_counts, from_array, netCDF round-trip with open_counts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import make_block

import spikepool as sp


def _good():
    return sp.from_array([[1, 2, 3], [0, 4, 5]], duration=0.5, condition=["a", "b", "a"], neuron=["x", "y"])


def test_from_array_builds_valid_counts():
    counts = _good()
    assert counts.dims == ("neuron", "trial")
    assert counts.dtype.kind == "i"
    assert list(counts["neuron"].values) == ["x", "y"]
    np.testing.assert_allclose(counts["duration"].values, [0.5, 0.5, 0.5])
    assert sp.validate_counts(counts) is counts


def test_from_array_copies_the_callers_array():
    values = np.array([[1, 2], [3, 4]])
    counts = sp.from_array(values, duration=1.0)
    counts.values[0, 0] = 99
    assert values[0, 0] == 1


BAD = [
    ("not a DataArray", lambda: np.zeros((2, 3), dtype=int), TypeError, "must be an xarray.DataArray"),
    ("misspelt dim", lambda: _good().rename(trial="trail"), sp.CountsError, "Did you mean 'trial'"),
    ("wrong order", lambda: _good().transpose("trial", "neuron"), sp.CountsError, "in that order"),
    (
        "negative",
        lambda: _good().copy(data=np.array([[1, -1, 3], [0, 4, 5]])),
        sp.CountsError,
        "neuron 'x', trial 1 holds -1",
    ),
    (
        "NaN",
        lambda: _good().astype(float).where(lambda c: c != 4),
        sp.CountsError,
        r"neuron 'y', trial 1 holds nan",
    ),
    ("non-integer", lambda: _good().astype(float) + 0.5, sp.CountsError, "non-negative integers"),
    ("no trial", lambda: _good().isel(trial=[]), sp.CountsError, "at least one neuron, one trial; got 0 trials"),
    ("strings", lambda: _good().astype(str), sp.CountsError, "non-negative integers"),
    ("no condition", lambda: _good().drop_vars("condition"), sp.CountsError, "'condition' coordinate"),
    ("no duration", lambda: _good().drop_vars("duration"), sp.CountsError, "'duration' coordinate"),
    (
        "duplicate neuron",
        lambda: _good().assign_coords(neuron=["x", "x"]),
        sp.CountsError,
        "neuron labels must be unique",
    ),
    (
        "counts where invalid",
        lambda: _good().assign_coords(valid=(("neuron", "trial"), np.array([[True, False, True], [True, True, True]]))),
        sp.CountsError,
        "0 where 'valid' is False",
    ),
    (
        "valid not bool",
        lambda: _good().assign_coords(valid=(("neuron", "trial"), np.ones((2, 3)))),
        sp.CountsError,
        "boolean",
    ),
]


@pytest.mark.parametrize(("case", "make", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_validate_counts_rejects(case, make, error, match):
    with pytest.raises(error, match=match):
        sp.validate_counts(make())


def test_from_array_rejects_negative_and_wrong_rank():
    with pytest.raises(sp.CountsError, match="holds -2"):
        sp.from_array([[1, -2]], duration=1.0)
    with pytest.raises(sp.CountsError, match="2-D"):
        sp.from_array([1, 2], duration=1.0)


@pytest.mark.parametrize("bin_size", [None, 0.25])
def test_netcdf_round_trip_keeps_everything(rng, tmp_path, bin_size):
    block = make_block(rng)
    block.segments[2].spiketrains = list(block.segments[2].spiketrains)[:2]
    counts = sp.from_neo(block, window=(0.0, 1.0), bin_size=bin_size)
    path = tmp_path / "counts.nc"
    counts.to_netcdf(path)
    back = sp.open_counts(path)
    xr.testing.assert_identical(back, counts)
    assert back["valid"].dtype == bool
    assert back.dtype == np.int64
    assert back.attrs["spikes_outside"] == counts.attrs["spikes_outside"]


def test_open_counts_validates(tmp_path):
    bad = _good().astype(float) + 0.5
    bad.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(sp.CountsError, match="non-negative integers"):
        sp.open_counts(tmp_path / "bad.nc")


def test_summary_matches_an_independent_computation():
    counts = sp.from_array(
        [[2, 4, 6, 8], [0, 0, 0, 0]],
        duration=[1.0, 1.0, 2.0, 2.0],
        condition=["a", "a", "b", "b"],
        neuron=["p", "q"],
    )
    s = sp.summarize_counts(counts)
    assert s["spikes"].values.tolist() == [20, 0]
    assert s["rate"].sel(neuron="p").item() == pytest.approx(20 / 6)
    # Fano within condition: a -> var(2,4)/3 = 2/3, b -> var(6,8)/7 = 2/7; averaged
    assert s["fano"].sel(neuron="p").item() == pytest.approx((2 / 3 + 2 / 7) / 2)
    assert np.isnan(s["fano"].sel(neuron="q").item())
    text = sp.format_summary(counts)
    assert "2 neurons x 4 trials" in text and "20" in text


def test_one_fano_estimator_per_cell_and_per_neuron(rng):
    # unequal trials per condition: the per-neuron Fano weights each condition's var / mean by its trials - 1
    from spikepool.stats.fano import cell_codes, cell_fano, cell_sums

    cond = np.array(["a"] * 3 + ["b"] * 6 + ["c"] * 1)
    y = rng.poisson([[3.0], [8.0]], size=(2, cond.size))
    counts = sp.from_array(y, duration=1.0, condition=cond, neuron=["p", "q"])
    names, codes = cell_codes(cond)
    n, s, ss = cell_sums(y.astype(float), np.ones_like(y, dtype=bool), codes, names.size)
    per_cell = cell_fano(n, s, ss)
    for i in range(2):
        for j, c in enumerate(names):
            vals = y[i, cond == c]
            expected = vals.var(ddof=1) / vals.mean() if vals.size >= 2 and vals.mean() > 0 else np.nan
            np.testing.assert_allclose(per_cell[i, j], expected, rtol=1e-12)
    usable = np.isfinite(per_cell)
    weighted = np.nansum((n - 1) * per_cell, axis=1) / np.where(usable, n - 1, 0).sum(axis=1)
    np.testing.assert_allclose(sp.summarize_counts(counts)["fano"].values, weighted, rtol=1e-12)
    np.testing.assert_allclose(sp.check_counts(counts).summary["fano"].values, weighted, rtol=1e-12)

"""The vectorised R-hat and ESS (spikepool.stats.convergence) agree with ArviZ's element-by-element ones."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

from spikepool.exceptions import ArgumentError
from spikepool.stats.convergence import diagnose, ess, rhat


def _draws(rng, chains=3, draws=301, k=40):
    """AR(1) chains with a spread of autocorrelations, offsets (chains that disagree), ties and a constant."""
    phi = np.linspace(-0.3, 0.97, k)
    x = np.zeros((chains, draws, k))
    x[:, 0] = rng.normal(size=(chains, k))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=(chains, k))
    x[:, :, 1] += np.arange(chains)[:, None] * 0.8  # chains that disagree: R-hat well above 1
    x[:, :, 2] = np.round(x[:, :, 2])  # ties in the ranks
    x[:, :, 3] = 1.5  # constant
    x[:, :, 4] = rng.poisson(0.2, size=(chains, draws))  # mostly zeros
    return xr.Dataset(
        {
            "v": (("chain", "draw", "a", "b"), x.reshape(chains, draws, 8, 5)),
            "s": (("chain", "draw"), x[:, :, 7]),
        },
        coords={"a": np.arange(8), "b": list("pqrst")},
    )


@pytest.mark.parametrize(("chains", "draws"), [(3, 301), (2, 40), (4, 7), (1, 100)])
def test_rhat_and_ess_agree_with_arviz(rng, chains, draws):
    ds = _draws(rng, chains, draws)
    ours, theirs = rhat(ds), azs.rhat(ds)
    for name in ds.data_vars:
        np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-10, equal_nan=True)
        assert ours[name].dims == theirs[name].dims
    for method in ("bulk", "tail", "mean"):
        ours, theirs = ess(ds, method=method), azs.ess(ds, method=method)
        for name in ds.data_vars:
            np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9, equal_nan=True)
    for ours, theirs in zip(diagnose(ds), (azs.rhat(ds), azs.ess(ds), azs.ess(ds, method="tail")), strict=True):
        for name in ds.data_vars:
            np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9, equal_nan=True)
    if chains > 1:
        assert float(rhat(ds)["v"].sel(a=0, b="q")) > 1.1  # the disagreeing chains are flagged


def test_chains_stuck_at_different_values_are_flagged(rng):
    # each chain constant at its own value: the folded R-hat is NaN (no spread), the bulk one huge, as ArviZ's
    stuck = np.concatenate([np.ones((1, 50)), np.full((1, 50), 2.0)])
    ds = xr.Dataset({"x": (("chain", "draw"), stuck)})
    assert float(rhat(ds)["x"]) == pytest.approx(float(azs.rhat(ds)["x"])) and float(rhat(ds)["x"]) > 1e6
    assert float(diagnose(ds)[0]["x"]) > 1e6


def test_nan_draws_and_too_few_draws_give_nan(rng):
    ds = _draws(rng, 2, 50)
    ds["v"][0, 3, 0, 0] = np.nan
    assert np.isnan(rhat(ds)["v"].values[0, 0]) and np.isnan(ess(ds)["v"].values[0, 0])
    assert np.isfinite(rhat(ds)["v"].values[1, 0])
    assert np.isnan(ess(_draws(rng, 2, 3))["s"]).all()
    with pytest.raises(ArgumentError, match="method must be 'bulk', 'tail' or 'mean'; got 'median'"):
        ess(ds, method="median")


def test_parameters_diagnosed_in_chunks_give_the_same_numbers(rng, monkeypatch):
    from spikepool.stats import convergence

    ds = _draws(rng, 2, 120)
    whole = diagnose(ds)
    monkeypatch.setattr(convergence, "CHUNK", 7)  # 40 parameters of v in 6 chunks
    for ours, theirs in zip(diagnose(ds), whole, strict=True):
        xr.testing.assert_allclose(ours, theirs, rtol=1e-12)
    xr.testing.assert_allclose(ess(ds, method="tail"), whole[2], rtol=1e-12)

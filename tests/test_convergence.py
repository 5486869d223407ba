"""The vectorised R-hat and ESS (spikepool.stats.convergence) agree with ArviZ's element-by-element ones."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

from spikepool.exceptions import ArgumentError
from spikepool.models.sampling import default_draws, rhat_floor
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


@pytest.mark.parametrize(("chains", "draws", "phi"), [(2, 1000, 0.0), (2, 1000, 0.5), (4, 500, 0.5)])
def test_rhat_floor_is_the_largest_rhat_of_chains_that_agree(rng, chains, draws, phi):
    # 1,000 values whose chains agree (AR(1), ESS per draw (1 - phi) / (1 + phi)): the median over 8 sets of
    # their largest R-hat sits at rhat_floor; default_draws keeps that under 1.01 for the model's size
    n_values, largest = 1000, []
    for _ in range(8):
        noise = rng.normal(size=(chains, draws, n_values))
        x = noise.copy()
        for t in range(1, draws):
            x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi**2) * noise[:, t]
        largest.append(float(rhat(xr.Dataset({"a": (("chain", "draw", "v"), x)}))["a"].max()))
    floor = rhat_floor(n_values, chains, draws, ess_per_draw=(1 - phi) / (1 + phi))
    assert 0.8 < (np.median(largest) - 1) / (floor - 1) < 1.5  # 0.95-1.31 over 12 seeds
    assert default_draws(100, 4) == 1000 and default_draws(10_009, 2) == 2500  # the 1,000-unit session
    for n, c in [(10, 1), (332, 2), (10_009, 4)]:
        best = default_draws(n, c)
        assert rhat_floor(n, c, best) <= 1.01 and (best == 1000 or rhat_floor(n, c, best - 500) > 1.01)

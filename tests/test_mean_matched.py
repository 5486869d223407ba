"""mean_matched_fano (Churchland et al. 2010): a direct computation, a known Fano time course, and mean matching."""

from __future__ import annotations

import numpy as np
import pytest

import spikepool as sp
from spikepool.stats.mean_matched import weighted_slope

BIN = 0.01


def _simulate(rng, *, fano_pre=2.0, fano_post=1.0, gain_var=None, rate_change=1.0, n_neuron=60, n_cond=4, n_trial=40):
    """Binned counts over 1 s in 10 ms bins, onset at 0.5 s.

    Without ``gain_var``: each trial's rate is multiplied by a Gamma gain (mean 1) that gives every point a
    window Fano factor of ``fano_pre`` before onset and ``fano_post`` after it. With ``gain_var``: the gain has
    that variance throughout (a Fano factor ``1 + gain_var * mean``, which grows with the mean) and half the
    points change their rate by ``rate_change`` at onset.
    """
    t = BIN * (np.arange(100) + 0.5)
    rate = rng.lognormal(np.log(15), 0.5, (n_neuron, n_cond))
    after = rate * np.where(rng.random(rate.shape) < 0.5, rate_change, 1.0)
    cond = np.repeat(np.arange(n_cond), n_trial)
    before = t < 0.5
    lam = np.where(before, rate[:, cond, None], after[:, cond, None]) * BIN
    if gain_var is None:

        def gain(r, fano):
            if fano == 1:
                return np.ones((n_neuron, cond.size))
            k = r[:, cond] * 0.08 / (fano - 1)  # window mean m: Var = m + m^2 / k = fano * m
            return rng.gamma(k, 1 / k)

        g = np.where(before, gain(rate, fano_pre)[..., None], gain(after, fano_post)[..., None])
    else:
        g = rng.gamma(1 / gain_var, gain_var, (n_neuron, cond.size))[..., None]
    y = rng.poisson(lam * g)
    return sp.from_array(y, duration=1.0, condition=cond.astype(str), time=t, attrs={"bin_size": BIN})


def test_slopes_equal_a_direct_weighted_regression(rng):
    binned = sp.from_array(rng.poisson(0.3, (12, 10, 20)), duration=0.2, time=BIN * (np.arange(20) + 0.5))
    out = sp.mean_matched_fano(binned, condition=None, window=0.05, step=0.05, ci_prob=0.9)
    np.testing.assert_allclose(out["time"].values, [0.025, 0.075, 0.125, 0.175])
    for k, start in enumerate(range(0, 20, 5)):
        counts = binned.values[:, :, start : start + 5].sum(axis=2)
        m, v = counts.mean(axis=1), counts.var(axis=1, ddof=1)
        w = 10 / (m + 0.05) ** 2
        # an independent solver: least squares on sqrt(w)-scaled rows, and its textbook standard error
        (slope,), res, *_ = np.linalg.lstsq(np.sqrt(w)[:, None] * m[:, None], np.sqrt(w) * v, rcond=None)
        se = np.sqrt(res[0] / (m.size - 1) / np.sum(w * m**2))
        assert out["fano_all"].values[k] == pytest.approx(slope, rel=1e-10)
        assert out["upper_all"].values[k] - slope == pytest.approx(1.6448536 * se, rel=1e-6)
        assert out["mean_rate_all"].values[k] == pytest.approx(m.mean() / 0.05, rel=1e-12)
    assert np.isnan(weighted_slope(np.zeros(3), np.zeros(3), np.ones(3))[0])  # no spikes: no slope
    # one window position: every point is kept, so matching changes nothing
    one = sp.mean_matched_fano(binned, condition=None, window=0.2)
    assert one.sizes["time"] == 1 and one["n_points"].item() == 12
    np.testing.assert_allclose(one["fano"], one["fano_all"], rtol=1e-12)


def test_a_drop_in_variability_at_onset_comes_out(rng):
    out = sp.mean_matched_fano(_simulate(rng), window=0.08, step=0.04)
    pre, post = out.sel(time=slice(None, 0.44)), out.sel(time=slice(0.56, None))
    assert (np.abs(pre["fano"] - 2.0) < 0.25).all() and (np.abs(post["fano"] - 1.0) < 0.08).all()
    assert (pre["lower"] > post["upper"].max()).all()  # the intervals separate before from after
    assert (pre["lower"] < 2.0).mean() > 0.6 and (post["lower"] < 1.0).mean() > 0.6
    assert (out["n_points"] == out["n_points"][0]).all() and out.attrs["n_points_all"] == 240


def test_a_pure_rate_increase_makes_no_spurious_change_once_mean_matched(rng):
    # the gain's variance never changes, but half the points fire 2.5x after onset: their Fano 1 + v m rises
    out = sp.mean_matched_fano(_simulate(rng, gain_var=0.3, rate_change=2.5), window=0.08, step=0.04)
    pre, post = out.sel(time=slice(None, 0.44)), out.sel(time=slice(0.56, None))
    change_all = float(post["fano_all"].mean() - pre["fano_all"].mean())
    change_matched = float(post["fano"].mean() - pre["fano"].mean())
    assert change_all > 0.15  # the unmatched slope follows the rates alone
    assert abs(change_matched) < 0.06 and abs(change_matched) < change_all / 5
    # matching holds the mean rate of the kept points steady where the population's rises
    assert float(out["mean_rate"].std()) < 0.1 * float(out["mean_rate_all"].std())


def test_a_rate_increase_at_a_constant_fano_leaves_it_constant(rng):
    out = sp.mean_matched_fano(_simulate(rng, fano_pre=1.5, fano_post=1.5, rate_change=2.5), window=0.08, step=0.04)
    # windows astride onset mix two independent gains (a lower Fano there); the others hold 1.5
    out = out.where((out["time"] < 0.46) | (out["time"] > 0.54), drop=True)
    assert (np.abs(out["fano"] - 1.5) < 0.2).all() and (np.abs(out["fano_all"] - 1.5) < 0.2).all()
    assert ((out["lower"] < 1.5) & (out["upper"] > 1.5)).mean() > 0.6


def test_seeded_and_does_not_modify_its_input(rng):
    binned = _simulate(rng, n_neuron=20)
    before = binned.copy(deep=True)
    a = sp.mean_matched_fano(binned, random_seed=3)
    b = sp.mean_matched_fano(binned, random_seed=3)
    import xarray as xr

    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(binned, before)
    assert a.attrs["step"] == pytest.approx(0.04) and a.attrs["window"] == pytest.approx(0.08)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda b: b.sum("time"),
            sp.ArgumentError,
            r"binned must be counts with a time dim .*got dims \('neuron', 'trial'\)",
        ),
        (lambda b: b.values, TypeError, "binned must be counts .*got ndarray"),
        (lambda b: {"window": 0.085}, sp.ArgumentError, r"window must be a whole number of 0.01 s bins; got 0.085 s"),
        (lambda b: {"window": 2.0}, sp.ArgumentError, r"window must fit in the 100 bins"),
        (lambda b: {"step": -0.01}, sp.ArgumentError, "step must be a positive time"),
        (
            lambda b: {"condition": "odour"},
            sp.ArgumentError,
            r"condition must name a coordinate on 'trial' .*got 'odour'",
        ),
        (lambda b: {"n_resamples": 0}, sp.ArgumentError, "n_resamples must be an integer >= 1; got 0"),
        (lambda b: {"ci_prob": 95}, sp.ArgumentError, r"ci_prob must be a probability in \(0, 1\); got 95"),
        (
            lambda b: b.isel(neuron=[0, 1]).assign_coords(condition=("trial", np.full(160, "a"))),
            sp.ArgumentError,
            "at least 5 neuron x condition points",
        ),
    ],
)
def test_bad_inputs_are_refused_clearly(rng, change, error, match):
    binned = _simulate(rng, n_neuron=10)
    changed = change(binned)
    with pytest.raises(error, match=match):
        if isinstance(changed, dict):
            sp.mean_matched_fano(binned, **changed)
        else:
            sp.mean_matched_fano(changed)


def test_unequal_bins_without_a_bin_size_are_refused(rng):
    binned = _simulate(rng, n_neuron=10)
    uneven = binned.assign_coords(time=np.sort(rng.uniform(0, 1, binned.sizes["time"])))
    uneven.attrs = {}
    with pytest.raises(sp.ArgumentError, match=r"binned must have equally spaced time bins \(or attrs\['bin_size'\]\)"):
        sp.mean_matched_fano(uneven)
    with pytest.raises(sp.ArgumentError, match="binned must have equally spaced time bins"):
        sp.HierarchicalPSTH().fit(uneven)

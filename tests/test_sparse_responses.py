"""HierarchicalNegBinom(baseline=...): responses with a point mass at no change (spikepool.models.responses)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import responders
from scipy import special, stats

import spikepool as sp
from spikepool.models.responses import draw_responses


def _small_counts() -> xr.DataArray:
    """4 neurons x 18 trials in base / s1 / s2 with two durations, an unrecorded pair, and neuron 3 never
    recorded in s2."""
    rng = np.random.default_rng(2)
    cond = np.tile(np.array(["base", "s1", "s2"]), 6)
    duration = np.where(np.arange(18) % 2, 0.5, 1.0)
    y = rng.poisson(8.0 * duration, size=(4, 18))
    valid = np.ones((4, 18), dtype=bool)
    valid[0, 4] = False
    valid[3, cond == "s2"] = False
    y[~valid] = 0
    return sp.from_array(y, duration=duration, condition=cond, valid=valid)


def _by_hand(counts, likelihood, base, ratio, frac, alpha):
    """The log-likelihood and P(respond | parameters, data) from scipy, cell by cell."""
    y, d = counts.values, counts["duration"].values
    valid, cond = counts["valid"].values, counts["condition"].values
    tested = ["s1", "s2"]

    def logpmf(i, sel, log_rate):
        mu = np.exp(log_rate) * d[sel]
        if likelihood == "poisson":
            return stats.poisson.logpmf(y[i, sel], mu).sum()
        return stats.nbinom.logpmf(y[i, sel], alpha[i], alpha[i] / (alpha[i] + mu)).sum()

    total, prob = 0.0, np.zeros((4, 2))
    for i in range(4):
        total += logpmf(i, valid[i] & (cond == "base"), base[i])
        for k, c in enumerate(tested):
            sel = valid[i] & (cond == c)
            l0, l1 = logpmf(i, sel, base[i]), logpmf(i, sel, base[i] + ratio[i, k])
            total += np.logaddexp(np.log(frac[k]) + l1, np.log1p(-frac[k]) + l0)
            prob[i, k] = special.expit(np.log(frac[k]) + l1 - np.log1p(-frac[k]) - l0)
    return total, prob


@pytest.mark.parametrize(
    ("likelihood", "dispersion", "parameterization"),
    [
        ("negbin", "neuron", "auto"),
        ("negbin", "pooled", "noncentered"),
        ("negbin", "shared", "centered"),
        ("poisson", "neuron", "noncentered"),
    ],
)
def test_the_likelihood_sums_each_cell_over_responding_or_not(likelihood, dispersion, parameterization):
    counts = _small_counts()
    model = sp.HierarchicalNegBinom(
        condition="condition",
        baseline="base",
        likelihood=likelihood,
        dispersion=dispersion,
        parameterization=parameterization,
    ).build(counts)
    names = ["loglik", "respond_prob", "log_rate_baseline", "response_log_ratio", "respond_frac"]
    names += ["alpha"] if likelihood == "negbin" else []
    fn = model.compile_fn(
        [model[n] for n in names], inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE"
    )
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {v.name: rng.normal(0, 0.8, size=model.initial_point()[v.name].shape) for v in model.value_vars}
        out = dict(zip(names, fn(point), strict=True))
        alpha = np.broadcast_to(out.get("alpha", np.nan), (4,))
        frac = out["respond_frac"]
        total, prob = _by_hand(
            counts, likelihood, out["log_rate_baseline"], out["response_log_ratio"], out["respond_frac"], alpha
        )
        np.testing.assert_allclose(out["loglik"], total, rtol=1e-10)
        np.testing.assert_allclose(out["respond_prob"], prob, rtol=1e-8, atol=1e-12)
        # a cell without trials is the prior's: P(respond) = respond_frac
        np.testing.assert_allclose(out["respond_prob"][3, 1], frac[1], rtol=1e-12)


def test_drawn_indicators_follow_their_probabilities_and_give_the_log_rates():
    rng = np.random.default_rng(1)
    chains, draws, n = 2, 4000, 3
    prob = np.broadcast_to(np.array([[0.0, 1.0], [0.3, 0.3], [1.0, 0.0]]), (chains, draws, n, 2))
    post = xr.Dataset(
        {
            "respond_prob": (("chain", "draw", "neuron", "response"), prob),
            "log_rate_baseline": (("chain", "draw", "neuron"), rng.normal(2.0, 0.1, (chains, draws, n))),
            "response_log_ratio": (("chain", "draw", "neuron", "response"), rng.normal(0, 0.7, (chains, draws, n, 2))),
        },
        coords={"response": ["s1", "s2"]},
    )
    names = np.array(["s1", "base", "s2"])
    out = draw_responses(post, names, 1, random_seed=4)
    s = out["responds"].values
    assert s[:, :, 0, 0].max() == 0 and s[:, :, 0, 1].min() == 1 and abs(s[:, :, 1].mean() - 0.3) < 0.02
    log_rate = out["log_rate"]
    assert list(log_rate["condition"].values) == ["s1", "base", "s2"]
    base = post["log_rate_baseline"].values
    np.testing.assert_array_equal(log_rate.sel(condition="base").values, base)
    np.testing.assert_allclose(
        log_rate.sel(condition="s2").values, base + s[..., 1] * post["response_log_ratio"].values[..., 1]
    )
    again = draw_responses(post, names, 1, random_seed=4)
    np.testing.assert_array_equal(again["responds"].values, s)
    # a Generator seed: repeatable, and the caller's generator is not advanced
    gen = np.random.default_rng(9)
    state = gen.bit_generator.state
    first = draw_responses(post, names, 1, random_seed=gen)["responds"].values
    assert gen.bit_generator.state == state
    np.testing.assert_array_equal(draw_responses(post, names, 1, random_seed=gen)["responds"].values, first)
    assert "responds" not in post and "log_rate" not in post  # the caller's posterior is not modified


BAD = [
    ({"baseline": "base"}, "needs a condition coordinate"),
    ({"condition": "condition", "baseline": "base", "pooling": "none"}, "needs pooling='partial'"),
    ({"condition": "condition", "baseline": "base", "session": "neuron_session"}, "needs session=None"),
    ({"condition": "condition", "baseline": "base", "neuron_effect": True}, "needs neuron_effect='auto'"),
    ({"condition": "condition", "baseline": "base", "likelihood": "com_poisson"}, "likelihood='negbin' or"),
    ({"condition": "condition", "baseline": "base", "dispersion": "fano"}, "got dispersion='fano'"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD)
def test_options_it_cannot_take_are_refused(kwargs, match):
    with pytest.raises(sp.ArgumentError, match=match):
        sp.HierarchicalNegBinom(**kwargs)


def test_a_baseline_that_is_not_a_condition_is_refused_before_sampling():
    model = sp.HierarchicalNegBinom(condition="condition", baseline="bse")
    with pytest.raises(sp.ArgumentError, match=r"got 'bse', conditions \['base', 's1', 's2'\]. Did you mean 'base'"):
        model.fit(_small_counts(), draws=10, tune=10, chains=1)
    with pytest.raises(sp.ArgumentTypeError, match="baseline must be a condition name"):
        sp.HierarchicalNegBinom(condition="condition", baseline=3)


@pytest.fixture(scope="module")
def fit():
    counts, base, ratio = responders()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        result = sp.HierarchicalNegBinom(condition="condition", baseline="base", sampler="pymc").fit(
            counts, draws=500, tune=500, chains=2, random_seed=3, progressbar=False
        )
    return counts, base, ratio, result


def test_unchanged_units_keep_their_rate_and_responders_are_called(fit):
    counts, base, ratio, result = fit
    post = result.posterior
    assert int(result.idata["sample_stats"]["diverging"].sum()) == 0
    assert result.spec["baseline"] == "base" and result.spec["neuron_effect"] is False
    assert "no crossed neuron x condition effects" in result.spec["neuron_effect_reason"]
    # the share of responding neurons (2/3) is inside its 98% interval (sampler seeds 0-6: 3% quantile
    # 0.59-0.64; the slab's mass near no change pulls it up, and on other data sets it can miss)
    frac = post["respond_frac"].values.ravel()
    assert np.quantile(frac, 0.01) < 2 / 3 < np.quantile(frac, 0.99)
    responds = post["responds"].sel(response="stim").mean(("chain", "draw")).values
    unchanged = ratio == 1.0
    # 20 trials per condition cannot rule out a small response (a Bayes factor of about 1 against it), but
    # every responder is surer than every unchanged unit
    assert responds[~unchanged].min() > 0.9 and responds[unchanged].max() < 0.85  # seeds 0-6: > 0.97, < 0.75
    # the point mass: an unchanged unit's rate under stim equals its baseline rate exactly in many draws
    rate = post["rate"]
    same = (rate.sel(condition="stim") == rate.sel(condition="base")).mean(("chain", "draw")).values
    assert same[unchanged].min() > 0.15 and same[~unchanged].max() < 0.1  # seeds 0-6: > 0.26, < 0.03
    # the 94% intervals of the baseline rates cover the truth (at least 20 of 24: 22.6 expected); the
    # responders' ratios are their own data's (the ratio of their mean counts) within 15%
    rates = result.rates().sel(condition="base")
    assert ((rates["lower"].values < base) & (base < rates["upper"].values)).sum() >= 20
    table = result.responsive("base")
    stim = counts["condition"].values == "stim"
    raw = counts.values[:, stim].mean(axis=1) / counts.values[:, ~stim].mean(axis=1)
    np.testing.assert_allclose(table["ratio"].values[~unchanged, 0], raw[~unchanged], rtol=0.15)
    label = table["responsive"].values[:, 0]
    truth = np.where(ratio > 1, "up", np.where(ratio < 1, "down", "none"))
    assert (label[unchanged] == "none").all() and (label == truth).mean() >= 22 / 24
    # the point mass is against 'base' only: ratios to another reference are the continuous model's
    assert table.attrs["point_mass"] == 1 and result.responsive("stim").attrs["point_mass"] == 0


def test_a_saved_sparse_fit_reads_back_the_same_draws_and_tables(fit, tmp_path):
    _, _, _, result = fit
    result.to_netcdf(tmp_path / "sparse.nc")
    again = sp.load_result(tmp_path / "sparse.nc")
    assert again.spec["baseline"] == "base"
    xr.testing.assert_identical(again.posterior["rate"], result.posterior["rate"])
    np.testing.assert_array_equal(again.posterior["responds"].values, result.posterior["responds"].values)
    xr.testing.assert_identical(again.responsive("base"), result.responsive("base"))


def test_the_report_states_the_point_mass(fit, tmp_path):
    _, _, _, result = fit
    page = sp.report(result, tmp_path / "report.html", baseline="base").read_text()
    assert "a point mass at no change" in page and "Responsive units (against base)" in page
    assert "keeps the expected FDR calibrated" in page
    assert "respond_frac" in page and "sigma_response" in page

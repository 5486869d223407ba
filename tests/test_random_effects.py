"""RandomEffectsNormal: identifiability (n_i = 1 refused), recovery, the closed form, ANOVA agreement, bad inputs.

The one-way random-effects model y_ij = mu + a_i + e_ij. Independent references: the ANOVA (method of moments)
estimators of a balanced design, sigma^2 = MSW and tau^2 = (MSB - MSW) / n (e.g. Searle, Casella & McCulloch,
"Variance Components", 1992, ch. 3), and the exact conditional posterior of the neuron means for known mu, tau,
sigma (``spikepool.stats.analytic.normal_conditional_posterior`` with standard errors sigma / sqrt(n_i)).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import spikepool as sp
from spikepool.models.random_effects import as_responses

FIT = {"draws": 1000, "tune": 1000, "chains": 2, "progressbar": False}
TRUTH = {"mu": 10.0, "tau": 3.0, "sigma": 5.0}


def _simulate(rng, n_trials, mu=TRUTH["mu"], tau=TRUTH["tau"], sigma=TRUTH["sigma"], width=None):
    n_trials = np.asarray(n_trials)
    width = width or int(n_trials.max())
    theta = mu + tau * rng.standard_normal(n_trials.size)
    values = np.full((n_trials.size, width), np.nan)
    for i, n in enumerate(n_trials):
        values[i, :n] = theta[i] + sigma * rng.standard_normal(n)
    neurons = [f"u{i}" for i in range(n_trials.size)]
    return xr.DataArray(values, dims=("neuron", "trial"), coords={"neuron": neurons, "trial": np.arange(width)}), theta


def _fit(model, responses, seed, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", sp.SpikepoolWarning)
        result = model.fit(responses, random_seed=seed, **{**FIT, **kwargs})
    return result, [w for w in caught if issubclass(w.category, sp.SpikepoolWarning)]


@pytest.fixture(scope="module")
def balanced():
    """30 neurons x 6 trials, and its fit (reused across tests)."""
    responses, theta = _simulate(np.random.default_rng(7), np.full(30, 6))
    # 2000 draws: at 1000 the max R-hat ranged 1.004-1.012 over seeds (benchmarks/seed_sweep.py)
    result, caught = _fit(sp.RandomEffectsNormal(), responses, seed=11, draws=2000)
    return responses, theta, result, caught


def test_one_trial_per_neuron_is_refused_with_the_reason(rng, monkeypatch):
    import pymc as pm

    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started"))
    responses, _ = _simulate(rng, np.ones(20, dtype=int))
    with pytest.raises(sp.IdentifiabilityError, match=r"only their sum tau\^2 \+ sigma\^2 is identified"):
        sp.RandomEffectsNormal().fit(responses)
    report = sp.check_responses(responses)
    assert not report.ok and [p.code for p in report.errors] == ["variance_components"]


def test_balanced_fit_recovers_the_truth_and_agrees_with_anova(balanced):
    responses, _, result, caught = balanced
    # Clean R-hat, ESS and contraction for every seed tried; "auto" centres every neuron here (se 2.0 against
    # tau 3), and the funnel that leaves in the tail of tau diverged once in 4000-6000 draws for 2 of 20 seeds
    # (also at target_accept 0.95), so up to 0.1% of draws may diverge (benchmarks/seed_sweep.py).
    assert [str(w.message) for w in caught if "divergen" not in str(w.message)] == []
    assert int(result.post_checks.summary["divergences"]) <= 4
    post = result.posterior
    for name in ("tau", "sigma"):
        lo, hi = np.quantile(post[name].values, [0.03, 0.97])
        assert lo < TRUTH[name] < hi, (name, lo, hi)
    # mu is the mean of the 30 realised neuron means' population: within 3 posterior sd of the truth.
    assert abs(float(post["mu"].mean()) - TRUTH["mu"]) < 3 * float(post["mu"].std())
    # ANOVA estimators of the same data (balanced: n = 6).
    y = responses.values
    n, k = y.shape[1], y.shape[0]
    msw = np.sum((y - y.mean(1, keepdims=True)) ** 2) / (k * (n - 1))
    msb = n * np.sum((y.mean(1) - y.mean()) ** 2) / (k - 1)
    sigma_anova, tau_anova = np.sqrt(msw), np.sqrt(max(0.0, (msb - msw) / n))
    assert float(post["sigma"].mean()) == pytest.approx(sigma_anova, rel=0.05)
    assert float(post["tau"].median()) == pytest.approx(tau_anova, rel=0.2)
    assert float(post["mu"].mean()) == pytest.approx(y.mean(), abs=0.1)
    vc = result.variance_components()
    icc = post["tau"] ** 2 / (post["tau"] ** 2 + post["sigma"] ** 2)
    assert float(vc["mean"].sel(parameter="icc")) == pytest.approx(float(icc.mean()))
    assert float(post["icc"].mean()) == pytest.approx(float(icc.mean()))


def test_shrinkage_table_relations(balanced):
    _, theta_true, result, _ = balanced
    table = result.shrinkage()
    assert table.sizes == {"neuron": 30}
    np.testing.assert_array_equal(table["n"], 6)
    tau, sigma, mu = table.attrs["tau"], table.attrs["sigma"], table.attrs["mu"]
    kappa = sp.analytic.mse_ratio_normal(6, tau, sigma)
    np.testing.assert_allclose(table["kappa"], kappa)
    np.testing.assert_allclose(table["B"], 1 - kappa)
    np.testing.assert_allclose(table["closed_form"], mu + kappa * (table["raw"] - mu))
    # The Rao-Blackwell mean is E[theta | y]: the sampled theta agrees up to Monte-Carlo error.
    mcse = result.posterior["theta"].std(("chain", "draw")) / np.sqrt(400)
    assert (np.abs(table["theta"] - table["rao_blackwell"]) < 4 * mcse).all()
    # Partial pooling beats the raw means here (on average kappa < 1 shrinks noise away).
    assert np.mean((table["theta"] - theta_true) ** 2) < np.mean((table["raw"] - theta_true) ** 2)
    assert ((table["lower"] < table["theta"]) & (table["theta"] < table["upper"])).all()


def test_mostly_single_trials_still_identify_both_components(rng):
    n = np.r_[np.ones(40, dtype=int), np.full(6, 5)]
    responses, _ = _simulate(rng, n)
    report = sp.check_responses(responses)
    assert report.ok and [p.code for p in report.problems] == ["single_trial"]
    # tau is weakly located here (6 neurons with repeats), so its funnel reaches the 5-trial neurons: the
    # non-centered form with a higher target_accept samples it without divergences ("auto" gave a few).
    # 3000 draws: at 1000 the max R-hat sat at 1.005-1.015 depending on the seed; target_accept 0.99: at 0.95
    # one seed in 20 gave 8 divergences in 6000 draws (benchmarks/seed_sweep.py).
    model = sp.RandomEffectsNormal(parameterization="noncentered")
    result, caught = _fit(model, responses, seed=5, target_accept=0.99, draws=3000)
    assert not caught, [str(w.message) for w in caught]
    summary = result.summary()
    assert summary.loc["sigma", "eti94_lb"] < TRUTH["sigma"] < summary.loc["sigma", "eti94_ub"]
    assert summary.loc["tau", "eti94_lb"] < TRUTH["tau"] < summary.loc["tau", "eti94_ub"]
    assert result.diagnostics().summary["contraction_sigma_min"] > 0.5


def test_known_hyperparameters_give_the_closed_form(rng):
    responses, _ = _simulate(rng, rng.integers(1, 6, 12))
    fixed = {"mu": 9.0, "tau": 2.0, "sigma": 4.0}
    result, _ = _fit(sp.RandomEffectsNormal(fixed=fixed), responses, seed=2, draws=2000)
    exact = result.closed_form_posterior(**fixed)
    theta = result.posterior["theta"]
    np.testing.assert_allclose(theta.mean(("chain", "draw")), exact["mean"], atol=4 * float(exact["sd"].max()) / 40)
    np.testing.assert_allclose(theta.std(("chain", "draw")), exact["sd"], rtol=0.08)
    # Independently: precision weighting of the raw mean and mu.
    ybar = np.nanmean(responses.values, axis=1)
    n = np.sum(~np.isnan(responses.values), axis=1)
    w = (n / 16.0) / (n / 16.0 + 1 / 4.0)
    np.testing.assert_allclose(exact["mean"], w * ybar + (1 - w) * 9.0)


def test_known_sigma_identifies_tau_from_single_trials(rng):
    responses, _ = _simulate(rng, np.ones(25, dtype=int))
    model = sp.RandomEffectsNormal(fixed={"sigma": TRUTH["sigma"]})
    assert sorted(v.name for v in model.build(responses).free_RVs)[:2] == ["mu", "tau"]


def test_auto_parameterization_follows_the_information(rng):
    # Neurons with many trials have small standard errors (centered); single-trial ones do not.
    responses, _ = _simulate(rng, np.r_[np.full(10, 40), np.ones(10, dtype=int)], tau=4.0, sigma=4.0)
    centered = sp.RandomEffectsNormal().centered(responses)
    assert centered[:10].all() and not centered[10:].any()
    model = sp.RandomEffectsNormal().build(responses)
    assert {v.name for v in model.free_RVs} == {"mu", "tau", "sigma", "theta_centered", "theta_offset"}
    assert list(model.coords["neuron_centered"]) == [f"u{i}" for i in range(10)]


def test_netcdf_roundtrip_loo_and_compare(balanced, tmp_path):
    responses, _, result, _ = balanced
    path = tmp_path / "re.nc"
    result.to_netcdf(path)
    back = type(result).from_netcdf(path)
    xr.testing.assert_allclose(back.shrinkage(), result.shrinkage())
    assert back.spec == result.spec and back.spec["priors"]["tau_scale"] > 0
    obs = back.idata["log_likelihood"].to_dataset()["y"]
    assert obs.sizes["obs"] == 180 and set(obs["obs_neuron"].values) == set(responses["neuron"].values)
    assert result.loo().elpd < 0
    other, _ = _fit(sp.RandomEffectsNormal(priors={"tau": "halfnormal", "tau_scale": 2.0}), responses, seed=3)
    table = result.compare(other, names=["halfcauchy", "halfnormal"])
    assert set(table.index) == {"halfcauchy", "halfnormal"}
    with pytest.raises(ValueError, match="same data"):
        result.compare(sp.NormalNormal(fixed={"mu": 0.0, "tau": 1.0}).fit([1.0, 2.0], [1.0, 1.0], random_seed=1, **FIT))
    with pytest.raises(ValueError, match="must hold a NormalNormal result"):
        sp.results.NormalNormalResult.from_netcdf(path)


def test_inputs_are_not_modified_and_nan_marks_unrecorded(rng):
    responses, _ = _simulate(rng, [3, 1, 2])
    before = responses.copy(deep=True)
    r = as_responses(responses)
    xr.testing.assert_identical(responses, before)
    np.testing.assert_array_equal(r.n, [3, 1, 2])
    assert r.y.size == 6 and list(r.trial) == [0, 1, 2, 0, 0, 1]
    plain = as_responses(responses.values.T.T)
    assert plain.dim == "neuron" and list(plain.coords) == [0, 1, 2]
    by_session = as_responses(responses.rename(neuron="session"))
    assert by_session.dim == "session"


@pytest.mark.parametrize(
    ("responses", "error", "match"),
    [
        (np.ones(4), ValueError, "2-D"),
        (xr.DataArray(np.ones((2, 3)), dims=("neuron", "time")), ValueError, "'trial' dim"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), ValueError, "finite where recorded .*; got inf at neuron=0, trial=1"),
        (np.array([[1.0, 2.0], [np.nan, np.nan]]), ValueError, "at least one recorded trial; got none for 1"),
        (np.array([[1.0, 2.0]]), ValueError, "at least 2 neurons"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "must be numbers"),
        (np.full((3, 2), 5.0), sp.IdentifiabilityError, "must vary"),
    ],
)
def test_bad_responses_raise_before_sampling(responses, error, match, monkeypatch):
    import pymc as pm

    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started"))
    with pytest.raises(error, match=match):
        sp.RandomEffectsNormal().fit(responses)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"parameterization": "centred"}, "Did you mean 'centered'"),
        ({"priors": {"tau_scal": 1.0}}, "Did you mean 'tau_scale'"),
        ({"priors": {"sigma": "cauchy"}}, "'halfcauchy' or 'halfnormal'"),
        ({"priors": {"mu_scale": -1.0}}, "positive number"),
        ({"fixed": {"sigma": 0.0}}, "finite and > 0"),
        ({"fixed": {"alpha": 1.0}}, "'mu', 'tau', 'sigma'"),
    ],
)
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sp.RandomEffectsNormal(**kwargs)

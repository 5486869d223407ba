"""HierarchicalNegBinom fits: recovery, shrinkage direction, an independent latent-Gamma formulation."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import spikepool as sp
from spikepool.models.start import MANY_RATES, SPARSE_TARGET_ACCEPT, sparse_target_accept
from spikepool.stats.cells import compress
from spikepool.stats.parameterization import choose_centered, tau_lower_bound

FIT = {"draws": 500, "tune": 500, "chains": 2, "cores": 1, "progressbar": False}


def _fit(model, counts, seed, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # pre-fit and sampling warnings: tested elsewhere
        return model.fit(counts, random_seed=seed, **{**FIT, **kwargs})


@pytest.fixture(scope="module")
def recovery():
    """40 neurons x 30 trials; a quarter of them recorded in 3 trials only (sparse)."""
    counts, truth = sp.simulate_counts(40, 30, mu=1.2, tau=0.8, alpha=4.0, duration=0.5, seed=11)
    valid = np.ones(counts.shape, dtype=bool)
    valid[30:, 3:] = False
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    result = _fit(sp.HierarchicalNegBinom(dispersion="shared"), counts, seed=5)
    return counts, truth, result


def test_recovers_population_and_rates(recovery):
    counts, truth, result = recovery
    post = result.posterior
    true_log_rates = truth["log_rate"].values[:, 0]
    # tolerances: within 3 posterior sd of the population the neurons were drawn from
    for name, true in (("mu", true_log_rates.mean()), ("tau", true_log_rates.std(ddof=1)), ("alpha", 4.0)):
        mean, sd = float(post[name].mean()), float(post[name].std())
        assert abs(mean - true) < 3 * sd, (name, mean, sd, true)
    rates = result.rates(ci_prob=0.9)
    true = truth["rate"].values[:, 0]
    inside = (rates["lower"].values <= true) & (true <= rates["upper"].values)
    # nominal 90%; with 40 neurons the binomial sd is 4.7 points: accept 75-100%
    assert 0.75 <= inside.mean() <= 1.0
    assert result.post_checks.summary["divergences"].item() == 0


def test_shrinkage_moves_sparse_neurons_most(recovery):
    counts, _, result = recovery
    raw = np.log(
        (counts.where(counts["valid"]).sum("trial") / (counts["duration"] * counts["valid"]).sum("trial")).values
    )
    log_rate = result.posterior["log_rate"]
    post, sd = log_rate.mean(("chain", "draw")).values, log_rate.std(("chain", "draw")).values
    pop = float(result.posterior["mu"].mean())
    finite = np.isfinite(raw)
    # between the raw rate and the population mean; a neuron already at the population mean may sit
    # a hair beyond it (E[log r] vs log E[r], Monte-Carlo error): allowed up to 0.1 posterior sd
    toward = (post - raw) * (pop - raw) >= 0
    assert np.all((toward | (np.abs(post - raw) < 0.1 * sd))[finite])
    moved = np.abs(post - raw) / np.abs(pop - raw)
    sparse, rich = moved[30:][finite[30:]], moved[:30]
    assert np.median(sparse) > 2 * np.median(rich)
    assert np.median(rich) < 0.15


def test_auto_parameterization_splits_rich_and_sparse_neurons():
    counts, _ = sp.simulate_counts(20, 40, mu=2.5, tau=0.8, alpha=5.0, duration=1.0, seed=2)
    valid = np.ones(counts.shape, dtype=bool)
    valid[15:, 1:] = False  # five neurons with a single trial and at most one spike
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    counts[15:, 0] = [0, 0, 1, 1, 1]
    centered = choose_centered(compress(counts), 20, 1)
    assert centered[:15].all() and not centered[15:].any()
    model = sp.HierarchicalNegBinom(dispersion="shared")
    np.testing.assert_array_equal(model.centered(counts), centered)
    built = model.build(counts)
    assert {"log_rate_centered", "log_rate_offset"} <= set(built.named_vars)
    assert not sp.HierarchicalNegBinom(parameterization="noncentered").centered(counts).any()


def _log_rate_table(rng, n_neurons, n_conditions, tau, sigma, neuron_sd=0.0):
    """Raw log rates (neuron, condition) = condition mean + neuron effect + N(0, tau) + N(0, sigma) noise."""
    shape = (n_neurons, n_conditions)
    truth = rng.normal(0, 1, n_conditions)[None, :] + rng.normal(0, neuron_sd, n_neurons)[:, None]
    y = truth + rng.normal(0, tau, shape) + rng.normal(0, sigma, shape)
    return y, np.full(shape, sigma)


def test_tau_lower_bound_is_the_moment_estimate_less_two_sampling_sds():
    rng = np.random.default_rng(0)
    # many neurons: the bound approaches tau (moment sd sqrt(2/df) (tau^2 + sigma^2) is small)
    y, sigma = _log_rate_table(rng, 4000, 1, tau=0.5, sigma=0.2)
    tau2 = np.var(y, ddof=1) - 0.04
    expected = np.sqrt(tau2 - 2 * np.sqrt(2 / 3999) * (tau2 + 0.04))
    assert tau_lower_bound(y, sigma) == pytest.approx(expected, rel=1e-9)
    assert 0.45 < tau_lower_bound(y, sigma) < 0.5
    # 12 neurons whose spread is mostly noise (tau 0.05 against sigma 0.3): nothing bounds tau away from 0
    assert tau_lower_bound(*_log_rate_table(rng, 12, 1, tau=0.05, sigma=0.3)) == 0.0
    # crossed effects: the bound is on the interaction sd (0.3), not on the neuron effects (sd 1)
    y, sigma = _log_rate_table(rng, 300, 6, tau=0.3, sigma=0.1, neuron_sd=1.0)
    assert 0.25 < tau_lower_bound(y, sigma, neuron_effect=True) < 0.3
    assert tau_lower_bound(y, sigma) > 0.8
    # missing cells (NaN) and silent ones (infinite sigma) are left out, not counted as zeros
    y[:100, :3], sigma[100:200, 3:] = np.nan, np.inf
    assert 0.22 < tau_lower_bound(y, sigma, neuron_effect=True) < 0.32
    assert tau_lower_bound(y[:1], sigma[:1]) == 0.0  # one neuron: no spread to measure


def test_non_centered_fits_sample_at_a_higher_target_accept(recovery):
    counts, _, result = recovery
    # 3-trial neurons with fewer spikes than their sigma can be pinned by (the bound is about 0.6 here)
    assert result.centered[:30].all() and not result.centered[30:].all()
    assert result.spec["target_accept"] == SPARSE_TARGET_ACCEPT == 0.99
    kwargs = {}
    assert sparse_target_accept("partial", result.centered, kwargs) == 0.99 and kwargs == {"target_accept": 0.99}
    for given in ({"target_accept": 0.85}, {"nuts": {"target_accept": 0.85}}):
        before = {k: dict(v) if isinstance(v, dict) else v for k, v in given.items()}
        assert sparse_target_accept("partial", result.centered, given) == 0.85 and given == before
    kwargs = {}
    assert sparse_target_accept("partial", np.ones(40, dtype=bool), kwargs) is None and kwargs == {}
    # many pooled rates pin tau: a few weakly informed neurons keep the sampler's default
    assert sparse_target_accept("partial", result.centered, kwargs, n_rates=MANY_RATES - 1) == 0.99
    kwargs = {}
    assert sparse_target_accept("partial", result.centered, kwargs, n_rates=MANY_RATES) is None and kwargs == {}
    assert sparse_target_accept("none", result.centered, kwargs) is None and kwargs == {}


def test_latent_gamma_formulation_gives_the_same_posterior():
    """The explicit model (lambda_it sampled) and the marginal NB agree on mu and tau."""
    counts, _ = sp.simulate_counts(8, 6, mu=1.5, tau=0.7, alpha=3.0, duration=1.0, seed=7)
    ours = _fit(
        sp.HierarchicalNegBinom(dispersion="shared", parameterization="noncentered"),
        counts,
        3,
        draws=1500,
        tune=1000,
        target_accept=0.9,
    )
    y = counts.values
    with pm.Model():
        mu = pm.Normal(
            "mu", ours.spec["priors"]["mu_loc"] or np.log(y.sum() / counts["duration"].sum().item() / 8 * 8), 2.0
        )
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0, 1, shape=8)
        rate = pm.math.exp(mu + tau * z)
        alpha = pm.math.exp(pm.Normal("log_alpha", 1.0, 1.5))
        lam = pm.Gamma("lam", alpha=alpha, beta=alpha / rate[:, None], shape=y.shape)
        pm.Poisson("y", lam * counts["duration"].values[None, :], observed=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            latent = pm.sample(
                draws=1500,
                tune=1000,
                chains=2,
                cores=1,
                random_seed=4,
                progressbar=False,
                target_accept=0.9,
                compute_convergence_checks=False,
            )
    import arviz_stats as azs

    for name in ("mu", "tau"):
        a, b = ours.idata["posterior"][name], latent["posterior"][name]
        se = np.hypot(
            float(azs.mcse(ours.idata, var_names=[name])[name]), float(azs.mcse(latent, var_names=[name])[name])
        )
        assert abs(float(a.mean()) - float(b.mean())) < 4 * se + 0.02, name


def test_one_trial_per_neuron_is_refused_before_sampling():
    counts, _ = sp.simulate_counts(6, 1, seed=1)
    with pytest.raises(sp.IdentifiabilityError, match="separable only with repeated trials"):
        sp.HierarchicalNegBinom(dispersion="shared").fit(counts, draws=10, tune=10)


def test_weak_designs_warn_before_sampling():
    counts, _ = sp.simulate_counts(4, 5, seed=1)
    with pytest.warns(sp.SpikepoolWarning, match="dispersion_trials"), warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SamplingWarning)  # 20 draws: the sampling warnings are expected
        sp.HierarchicalNegBinom(dispersion="neuron").fit(
            counts, draws=20, tune=20, chains=1, random_seed=0, progressbar=False
        )


BAD = [
    ({"pooling": "partal"}, ValueError, "Did you mean 'partial'"),
    ({"dispersion": "per-neuron"}, ValueError, "dispersion must be one of"),
    ({"likelihood": "nb"}, ValueError, "likelihood must be one of"),
    ({"parameterization": "centred"}, ValueError, "Did you mean 'centered'"),
    ({"priors": {"tau_scal": 2}}, ValueError, "Did you mean 'tau_scale'"),
    ({"priors": {"tau": "invgamma"}}, ValueError, "'halfnormal' or 'halfcauchy'"),
    ({"priors": {"mu_scale": -1}}, ValueError, "positive number"),
    ({"condition": 3}, TypeError, "trial coordinate name"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_model_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        sp.HierarchicalNegBinom(**kwargs)


@pytest.mark.parametrize(("sampler", "extra"), [("nutpie", "fast"), ("numpyro", "jax")])
def test_missing_sampler_package_is_named(sampler, extra):
    import importlib.util

    if importlib.util.find_spec(sampler) is not None:
        pytest.skip(f"{sampler} is installed")
    counts, _ = sp.simulate_counts(4, 12, seed=1)
    with pytest.raises(ImportError, match=rf"pip install 'spikepool\[{extra}\]'"):
        sp.HierarchicalNegBinom(sampler=sampler, dispersion="shared").fit(counts)


def test_numpyro_sampler_agrees_with_pymc_and_keeps_pymc_chains_safe():
    """The JAX path on CPU: same posterior as PyMC's NUTS; afterwards PyMC's chains are not forked."""

    from spikepool.models.sampling import jax_started, process_options

    pytest.importorskip("numpyro", reason="the numpyro path needs the 'jax' extra (pip install 'spikepool[jax]')")
    counts, _ = sp.simulate_counts(20, 15, mu=1.5, tau=0.6, alpha=4.0, seed=3)
    fits = {
        s: _fit(sp.HierarchicalNegBinom(dispersion="shared", sampler=s), counts, seed=1, chains=4)
        for s in ("numpyro", "pymc")
    }
    assert jax_started()
    for name in ("mu", "tau"):
        a, b = (fits[s].posterior[name] for s in ("numpyro", "pymc"))
        assert abs(float(a.mean()) - float(b.mean())) < 0.25 * float(b.std())
    jax_fit = fits["numpyro"]
    assert jax_fit.posterior.sizes["chain"] == 4 and jax_fit.posterior.sizes["draw"] == FIT["draws"]
    assert {"prior", "spikepool_counts"} <= set(jax_fit.idata.children)
    assert jax_fit.loo() is not None
    # forking a process running JAX can deadlock: PyMC's chains then run in this process unless asked
    assert process_options(4, {}) == {"cores": 1}
    assert process_options(4, {"cores": 2, "mp_ctx": "forkserver"}) == {"cores": 2, "mp_ctx": "forkserver"}


def test_sampling_runs_with_one_blas_thread_and_restores_the_settings(monkeypatch):
    """Chains share the cores: one BLAS thread each while sampling (this process and its chain processes);
    the settings the caller had come back afterwards and a variable the caller set is left alone."""
    from threadpoolctl import threadpool_info

    from spikepool.models.sampling import one_blas_thread

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before  # numpy's OpenBLAS is there to limit
    with one_blas_thread():
        assert blas_threads() == [1] * len(before)
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"
        assert os.environ["OMP_NUM_THREADS"] == "3"
    assert blas_threads() == before
    assert "OPENBLAS_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_the_rates_that_pin_tau_are_cells_with_trials():
    counts, _ = sp.simulate_counts(130, 16, conditions=list("abcdefgh"), mu=1.0, tau=0.5, alpha=4.0, seed=1)
    valid = np.ones(counts.shape, dtype=bool)
    valid[:10, counts["condition"].values == "a"] = False  # 10 neurons without trials in "a"
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    model = sp.HierarchicalNegBinom(condition="condition")
    assert model._pooled_rates(model.prepare(counts)) == 130 * 8 - 10 >= MANY_RATES
    sparse = sp.HierarchicalNegBinom(condition="condition", baseline="a")
    assert sparse._pooled_rates(sparse.prepare(counts)) == 120 < MANY_RATES  # tau pools the baseline rates only


def test_result_round_trips_through_netcdf(recovery, tmp_path):
    _, _, result = recovery
    path = tmp_path / "fit.nc"
    result.to_netcdf(path)
    back = sp.load_result(path)
    xr.testing.assert_identical(back.rates(), result.rates())
    xr.testing.assert_identical(back.counts, result.counts)
    assert back.spec == result.spec
    np.testing.assert_array_equal(back.centered, result.centered)
    # the file leaves out what reading recomputes exactly: the pointwise log-likelihood, the observed and
    # constant data (from the counts) and the rates (from their logs)
    stored = xr.open_datatree(path)
    assert not {"log_likelihood", "observed_data", "constant_data"} & set(stored.children)
    assert "rate" not in stored["posterior"].data_vars and "log_rate" in stored["posterior"].data_vars
    for group in ("observed_data", "constant_data"):
        xr.testing.assert_identical(back.idata[group].to_dataset(), result.idata[group].to_dataset())
    recomputed, original = (r.pointwise()["log_likelihood"]["y"].values for r in (back, result))
    np.testing.assert_array_equal(recomputed, original)
    # the time of each stage of the fit, in the order they ran, travels with the result
    stages = ["prepare", "checks", "build", "sampling", "nuts_loop", "log_likelihood", "prior_draws", "result"]
    assert list(result.timings) == stages and back.timings == result.timings
    assert all(v >= 0 for v in result.timings.values()) and 0 < result.timings["nuts_loop"] < result.timings["sampling"]


def test_fano_posterior_predictive_and_summary(recovery):
    counts, truth, result = recovery
    fano = result.fano()
    alpha = result.posterior["alpha"]
    expected = (1 + result.posterior["rate"] * 0.5 / alpha).mean(("chain", "draw"))
    np.testing.assert_allclose(fano["mean"].values, expected.values)
    y_rep = result.posterior_predictive(random_seed=0)
    assert y_rep.dims == ("chain", "draw", "neuron", "trial")
    assert (y_rep.values[:, :, ~counts["valid"].values] == 0).all()
    # replicated means track the observed ones for the data-rich neurons
    obs = counts.isel(neuron=slice(0, 30)).mean("trial").values
    rep = y_rep.isel(neuron=slice(0, 30)).mean(("chain", "draw", "trial")).values
    assert np.corrcoef(obs, rep)[0, 1] > 0.98
    assert "posterior_predictive" in result.idata.children
    table = result.summary()
    assert "tau" in table.index and "r_hat" in table.columns


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dispersion": "shared"},
        {"dispersion": "neuron", "condition": "condition"},
        {"dispersion": "pooled", "parameterization": "noncentered"},
        {"pooling": "none"},
        {"pooling": "complete", "dispersion": "fano"},
    ],
)
def test_empirical_bayes_initial_values_start_in_the_typical_set(kwargs):
    counts, truth = sp.simulate_counts(12, 10, conditions=["a", "b"], mu=[1.0, 2.0], tau=0.6, alpha=4.0, seed=3)
    spec = sp.HierarchicalNegBinom(**kwargs)
    model = spec.build(counts)
    initvals = spec.initial_values(counts, model)
    assert "mu" in initvals or "log_rate" in initvals
    for name, value in initvals.items():
        model.set_initval(model[name], value)
    logp = model.compile_logp()(model.initial_point())
    default = sp.HierarchicalNegBinom(**kwargs).build(counts)
    assert np.isfinite(logp) and logp > default.compile_logp()(default.initial_point())


@pytest.mark.nutpie
def test_nutpie_sampler_agrees_with_pymc_and_is_the_default_where_installed():
    pytest.importorskip("nutpie", reason="the nutpie path needs the 'fast' extra (pip install 'spikepool[fast]')")
    from spikepool.models.base import resolve_sampler

    assert resolve_sampler("auto") == "nutpie"
    counts, _ = sp.simulate_counts(20, 15, mu=1.5, tau=0.6, alpha=4.0, seed=3)
    models = {
        "nutpie": sp.HierarchicalNegBinom(dispersion="shared"),
        "pymc": sp.HierarchicalNegBinom(dispersion="shared", sampler="pymc"),
    }  # the first with the default sampler="auto"
    fits = {s: _fit(model, counts, seed=1) for s, model in models.items()}
    assert [fits[s].posterior.attrs["inference_library"] for s in ("nutpie", "pymc")] == ["nutpie", "pymc"]
    for name in ("mu", "tau"):
        a, b = (fits[s].posterior[name] for s in ("nutpie", "pymc"))
        assert abs(float(a.mean()) - float(b.mean())) < 0.25 * float(b.std())

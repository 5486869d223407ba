"""The fast path ``HierarchicalNegBinom.fit(counts, method="laplace")`` (``spikepool.models.laplace``): its block
densities against scipy, its draws against NUTS and the truth, its Pareto-k diagnostics and its result."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import spikepool as sp
from spikepool.exceptions import ArgumentError, SamplingWarning
from spikepool.models.laplace import NestedLaplace, _space, laplace_posterior
from spikepool.models.sampling import StageClock
from spikepool.stats.cells import cell_groups, compress, count_pairs
from spikepool.stats.laplace import Hyper, block_data, block_modes, block_terms, grid_draws


def crossed(n: int, trials: int, n_cond: int, *, tau: float = 0.3, neuron_sd: float = 0.5, seed: int = 0, alpha=None):
    """Crossed counts: log r_ic = m_c + u_i + e_ic, NB trials of 0.5 s with alpha_i ~ LogNormal(log 5, 0.5)
    (or ``alpha``)."""
    if alpha is None:
        alpha = np.exp(np.random.default_rng(seed + 1000).normal(np.log(5.0), 0.5, n))
    return sp.simulate_counts(
        n, trials * n_cond, conditions=[f"c{k}" for k in range(n_cond)], mu=np.linspace(np.log(3), np.log(10), n_cond),
        tau=tau, alpha=alpha, duration=0.5, neuron_sd=neuron_sd, seed=seed,
    )  # fmt: skip


def fit_laplace(counts, seed: int = 0, **model_options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sp.HierarchicalNegBinom(condition="condition", **model_options).fit(
            counts, method="laplace", random_seed=seed, chains=2, draws=500
        )
    return result, [w for w in caught if issubclass(w.category, SamplingWarning)]


# ---------------------------------------------------------------------------------------------- block densities
LAYOUTS = [  # (effect, negbin, per-neuron phi, shared phi)
    (True, True, True, False),
    (False, True, True, False),
    (True, True, False, True),
    (True, False, False, False),
]


def _blocks(counts, layout, tails: bool):
    effect, negbin, phi, _ = layout
    cells = compress(counts, "condition")
    data = block_data(
        cell_groups(cells), count_pairs(cells.neuron, cells.y, cells.weight), counts.sizes["neuron"],
        cells.condition_names.size, effect=effect, phi=phi, negbin=negbin,
    )  # fmt: skip
    if not tails:
        data = type(data)(**{**data.__dict__, "tails": None})
    return data


def _hyper(layout, batch: int, n_cond: int, rng) -> Hyper:
    effect, _, phi, shared = layout
    return Hyper(
        m=rng.normal(1.5, 0.3, (batch, n_cond)),
        tau=rng.uniform(0.2, 0.6, batch),
        tau_n=rng.uniform(0.4, 0.9, batch) if effect else None,
        phi_loc=rng.normal(1.0, 0.2, batch) if phi else None,
        phi_scale=rng.uniform(1.0, 1.5, batch) if phi else None,
        phi_shared=rng.normal(1.2, 0.3, batch) if shared else None,
    )


@pytest.mark.parametrize("tails", [True, False], ids=["tails", "pairs"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=["crossed", "plain", "shared", "poisson"])
def test_block_density_is_scipy_sum_with_exact_derivatives(layout, tails):
    """Each block's negative log density equals scipy's NB / Poisson log pmf summed over the neuron's valid trials
    plus its Normal priors; the gradient and Hessian equal central differences."""
    effect, negbin, phi, shared = layout
    rng = np.random.default_rng(3)
    counts, _ = crossed(6, 8, 3, seed=4)
    data = _blocks(counts, layout, tails)
    hyper = _hyper(layout, 2, 3, rng)
    z = rng.normal(1.2, 0.4, (2, 6, data.size))
    f, g, h = block_terms(z, data, hyper)
    y = counts.values
    cond = np.unique(counts["condition"].values, return_inverse=True)[1]
    for b in range(2):
        for i in range(6):
            mu = np.exp(z[b, i, cond]) * 0.5
            alpha = np.exp(z[b, i, -1]) if phi else np.exp(hyper.phi_shared[b]) if shared else None
            ll = stats.nbinom.logpmf(y[i], alpha, alpha / (alpha + mu)) if negbin else stats.poisson.logpmf(y[i], mu)
            level = hyper.m[b] + (z[b, i, 3] if effect else 0.0)
            prior = stats.norm.logpdf(z[b, i, :3], level, hyper.tau[b]).sum()
            prior += stats.norm.logpdf(z[b, i, 3], 0.0, hyper.tau_n[b]) if effect else 0.0
            prior += stats.norm.logpdf(z[b, i, -1], hyper.phi_loc[b], hyper.phi_scale[b]) if phi else 0.0
            assert -f[b, i] == pytest.approx(ll.sum() + prior, rel=1e-10)
    step = 1e-6
    for k in range(data.size):
        dz = np.zeros_like(z)
        dz[..., k] = step
        f_plus, g_plus, _ = block_terms(z + dz, data, hyper)
        f_minus, g_minus, _ = block_terms(z - dz, data, hyper)
        np.testing.assert_allclose(g[..., k], (f_plus - f_minus) / (2 * step), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h[..., :, k], (g_plus - g_minus) / (2 * step), rtol=1e-5, atol=1e-5)


def test_block_modes_free_and_pinned():
    """Newton reaches each block's mode (zero gradient); pinned, it holds the log dispersion where it was put."""
    counts, _ = crossed(10, 10, 2, seed=5)
    data = _blocks(counts, LAYOUTS[0], tails=True)
    hyper = _hyper(LAYOUTS[0], 3, 2, np.random.default_rng(1))
    z0 = np.zeros((3, 10, data.size))
    z, _, h = block_modes(data, hyper, z0)
    _, g, _ = block_terms(z, data, hyper)
    assert np.abs(g).max() < 1e-6
    assert np.all(np.linalg.eigvalsh(h) > 0)
    start = z.copy()
    start[..., -1] += 0.7
    pinned, _, _ = block_modes(data, hyper, start, pinned=True)
    np.testing.assert_array_equal(pinned[..., -1], start[..., -1])
    _, g_pinned, _ = block_terms(pinned, data, hyper)
    assert np.abs(g_pinned[..., :-1]).max() < 1e-6
    assert np.abs(g_pinned[..., -1]).min() > 1e-3  # not the joint mode any more


def test_grid_draws_follow_the_density():
    """Draws from a log density given on a grid: exact log densities where it is linear between nodes, and the
    moments of the density it tabulates (a standard normal and a shifted Gamma(3))."""
    rng = np.random.default_rng(0)
    nodes = np.stack([np.linspace(-6, 6, 41), np.linspace(-1.9, 12, 41), np.linspace(0, 1, 41)])
    log_d = np.stack([stats.norm.logpdf(nodes[0]), stats.gamma.logpdf(nodes[1] + 2, 3), 2.0 * nodes[2]])
    x, log_q, seg, frac = grid_draws(rng, nodes, log_d, 100_000)
    assert x[:, 0].mean() == pytest.approx(0.0, abs=0.015) and x[:, 0].std() == pytest.approx(1.0, abs=0.015)
    assert x[:, 1].mean() == pytest.approx(1.0, abs=0.03) and x[:, 1].std() == pytest.approx(np.sqrt(3), abs=0.03)
    # exponential on [0, 1]: exact, log q = 2x - log((e^2 - 1) / 2)
    np.testing.assert_allclose(log_q[:, 2], 2 * x[:, 2] - np.log(np.expm1(2.0) / 2), atol=1e-10)
    np.testing.assert_allclose(x, nodes[np.arange(3), seg] + frac * (nodes[:, 1] - nodes[:, 0]), atol=1e-12)


# ---------------------------------------------------------------------------------------------- against NUTS
@pytest.fixture(scope="module")
def against_nuts():
    # 100 units: the hyperparameters' Gaussian is within 0.14 nat of their marginal (with 40 units it was 0.3-2.7:
    # few units are where NUTS is the tool, and the checks say so)
    counts, truth = crossed(100, 15, 3, seed=8)
    model = sp.HierarchicalNegBinom(condition="condition")
    nuts = model.fit(counts, chains=2, draws=1000, tune=1000, random_seed=8, progressbar=False)
    laplace, caught = fit_laplace(counts, seed=8)
    return counts, truth, nuts, laplace, caught


def test_laplace_rates_agree_with_nuts(against_nuts):
    """Posterior mean rates within 2% of NUTS's (median over cells), intervals as wide, and the
    population scales within a posterior sd."""
    _, _, nuts, laplace, caught = against_nuts
    a, b = laplace.rates(ci_prob=0.9), nuts.rates(ci_prob=0.9)
    assert np.median(np.abs(a["mean"] / b["mean"] - 1)) < 0.02
    width = (a["upper"] - a["lower"]) / (b["upper"] - b["lower"])
    assert 0.9 < float(np.median(width)) < 1.1
    for name in ("tau", "tau_neuron"):
        la, nu = laplace.posterior[name], nuts.posterior[name]
        assert abs(float(la.mean()) - float(nu.mean())) < float(nu.std())
    assert not caught, [str(w.message) for w in caught]


def test_laplace_result_is_a_fit_result(against_nuts, tmp_path):
    """The same FitResult (rates, shrinkage, Fano, report, file round trip) with the method, its checks and the
    stage times recorded."""
    counts, _, _, laplace, _ = against_nuts
    assert isinstance(laplace, sp.FitResult) and laplace.spec["method"] == "laplace"
    assert set(laplace.timings) >= {"prepare", "checks", "hyper_mode", "hyper_draws", "block_draws", "unit_pareto_k"}
    assert laplace.post_checks.checked == ("laplace_hyper", "laplace_units")
    post = laplace.posterior
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 500
    np.testing.assert_allclose(post["neuron_effect"].sum("neuron"), 0.0, atol=1e-9)  # NUTS's zero-sum effects
    shrink = laplace.shrinkage()
    assert shrink["rate"].dims == ("neuron", "condition") and np.isfinite(shrink["shrinkage"]).all()
    fano = laplace.fano()
    expected = 1 + (laplace.posterior["rate"] * 0.5 / laplace.posterior["alpha"]).mean(("chain", "draw"))
    np.testing.assert_allclose(fano["mean"], expected.transpose(*fano["mean"].dims), rtol=1e-10)
    path = laplace.to_netcdf(tmp_path / "fit.nc") or tmp_path / "fit.nc"
    back = sp.load_result(path)
    assert back.spec["method"] == "laplace" and back.post_checks.checked == laplace.post_checks.checked
    xr.testing.assert_allclose(back.posterior["rate"], laplace.posterior["rate"])
    html = sp.report(back, tmp_path / "report.html").read_text()
    assert "nested Laplace approximation" in html and "Laplace approximation checked" in html
    assert "approximated cleanly (Laplace)" in repr(laplace)


# ---------------------------------------------------------------------------------------------- calibration
def test_laplace_intervals_cover_the_truth():
    """90% intervals of the true rates cover 88-92% over a batch of simulated sessions: 4 x 200
    neurons x 4 conditions, 3,200 rates."""
    inside = []
    for seed in range(4):
        counts, truth = crossed(200, 20, 4, seed=seed)
        result, _ = fit_laplace(counts, seed=seed)
        rates = result.rates(ci_prob=0.9)
        inside.append(((truth["rate"] >= rates["lower"]) & (truth["rate"] <= rates["upper"])).values.ravel())
    assert 0.88 <= np.concatenate(inside).mean() <= 0.92


def test_laplace_trusted_on_data_rich_sessions():
    """Many neurons with many trials: no warning. Measured over 20 seeds of this design (200 neurons x 4 conditions
    x 20 trials): the hyperparameters' Pareto k 0.10-0.41 against a threshold of 0.67, their Gaussian within
    0.23-0.27 nats of the Laplace marginal at 3 sd (threshold 1), no neuron above its threshold."""
    for seed in range(3):
        counts, _ = crossed(200, 20, 4, seed=10 + seed)
        result, caught = fit_laplace(counts, seed=seed)
        lap = result.idata["laplace"].to_dataset()
        assert float(lap["hyper_pareto_k"]) < float(lap["good_k"]) - 0.15
        assert float(lap["hyper_tail_error"]) < 0.5
        assert not caught and not result.post_checks.problems


def test_laplace_warns_with_few_trials_and_small_tau():
    """Few neurons, three trials per condition, a between-neuron sd near 0: the hyperparameters' posterior piles
    up against tau = 0 and falls off like e^(log tau), which no Gaussian in log tau follows (the Laplace fit's
    5% quantile of tau was 3-4x NUTS's); the fit must say so, every seed. Measured over 8 seeds: 4.7-18 nats
    between the marginal and its Gaussian at 3 sd (threshold 1)."""
    for seed in range(3):
        counts, _ = crossed(20, 3, 2, tau=0.05, neuron_sd=0.3, seed=seed)
        result, caught = fit_laplace(counts, seed=seed)
        problem = result.post_checks.find("laplace_hyper")
        assert problem and "method='nuts'" in problem[0].remedy
        assert float(result.post_checks.summary["hyper_tail_error"]) > 2.0
        assert any("laplace_hyper" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"likelihood": "poisson"}, {"mu", "tau", "tau_neuron", "log_rate", "rate"}),
        ({"dispersion": "shared"}, {"log_alpha", "alpha"}),
        ({"dispersion": "pooled"}, {"mu_a", "tau_a", "log_alpha", "alpha"}),
        ({"neuron_effect": False}, {"mu", "tau", "log_rate", "log_alpha"}),
    ],
    ids=["poisson", "shared", "pooled", "no-effect"],
)
def test_laplace_covers_the_model_options(options, names):
    """Poisson, shared and pooled dispersion and the model without crossed effects: the NUTS names, the rates'
    intervals cover the truth, and the shared alpha's (the pooled mu_a's) interval covers it."""
    counts, truth = crossed(60, 15, 3, seed=3, alpha=5.0)
    result, _ = fit_laplace(counts, seed=3, **options)
    assert names <= set(result.posterior.data_vars)
    assert ("tau_neuron" in result.posterior) == (options.get("neuron_effect", "auto") is not False)
    rates = result.rates(ci_prob=0.9)
    covered = ((truth["rate"] >= rates["lower"]) & (truth["rate"] <= rates["upper"])).mean()
    assert covered > 0.8
    if options.get("dispersion") in ("shared", "pooled"):  # one alpha = 5 for all: the shared one, or mu_a
        draws = result.posterior["alpha"] if options["dispersion"] == "shared" else np.exp(result.posterior["mu_a"])
        lo, hi = np.quantile(draws.values, [0.005, 0.995])
        assert lo < 5.0 < hi


def test_laplace_mode_is_where_the_marginal_peaks():
    """The hyperparameters' mode: no neighbour of it has a higher Laplace marginal posterior."""
    counts, _ = crossed(30, 10, 2, seed=2)
    model = sp.HierarchicalNegBinom(condition="condition")
    data = model.prepare(counts)
    spec = {**model.spec(), "neuron_effect": data.neuron_effect}
    cells = data.cells
    blocks = block_data(
        cell_groups(cells), count_pairs(cells.neuron, cells.y, cells.weight), 30, 2, effect=True, phi=True, negbin=True
    )
    nested = NestedLaplace(blocks, _space(spec, data, model._mu_loc(cells)))
    theta = nested.mode()
    eye = 0.02 * np.eye(theta.size)
    best = nested.log_post(theta[None])[0]
    assert np.all(nested.log_post(np.concatenate([theta + eye, theta - eye])) < best)
    post, lap = laplace_posterior(
        spec, data, model._mu_loc(cells), draws=200, chains=1, random_seed=0, clock=StageClock()
    )
    assert list(lap["hyper"].values) == ["mu[0]", "mu[1]", "log_tau", "log_tau_neuron"]


# ---------------------------------------------------------------------------------------------- refusals
def test_laplace_refuses_what_it_does_not_cover():
    """Options the fast path does not cover, sampler keywords and models without one are refused before
    anything is fitted."""
    counts, _ = crossed(8, 5, 2, seed=1)
    with pytest.raises(ArgumentError, match="method='laplace' needs pooling=partial; got pooling='none'"):
        sp.HierarchicalNegBinom(pooling="none").fit(counts, method="laplace")
    with pytest.raises(ArgumentError, match="method='laplace' needs dispersion="):
        sp.HierarchicalNegBinom(dispersion="fano").fit(counts, method="laplace")
    with pytest.raises(ArgumentError, match="sampler keywords apply to method='nuts'"):
        sp.HierarchicalNegBinom().fit(counts, method="laplace", target_accept=0.9)
    with pytest.raises(ArgumentError, match="method must be one of"):
        sp.HierarchicalNegBinom().fit(counts, method="laplce")
    with pytest.raises(ArgumentError, match="method must be 'nuts' for NormalNormal"):
        sp.NormalNormal().fit(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), method="laplace")

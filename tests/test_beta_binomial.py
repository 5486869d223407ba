"""BetaBinomial: the rat tumours of BDA3 against quadrature and published values, simulated truth, bad inputs.

Data: the 71 rat-tumour experiments of Gelman et al., Bayesian Data Analysis (3rd ed., 2013), Table 5.1
(Tarone 1982): 70 historical control groups plus the current one (4 of 14), 267 tumours in 1,739 rats.
``Y`` and ``N`` below are in the order of PyMC's port (pymc-examples, examples/generalized_linear_models/
GLM-hierarchical-binomial-model, "rat data (BDA3, p. 102)"), identical to Vehtari's BDA_R_demos
(demos_ch5/demo5_1.R); as a multiset they also equal the 70 historical experiments listed (in another
order) by Harvard's AM207 "tumorlab" notebook, plus 4/14. BDA's own file is
www.stat.columbia.edu/~gelman/book/data/rats.asc.

Prior: BDA's ``p(alpha, beta) ∝ (alpha + beta)^(-5/2)``, i.e. ``priors={"spread": "bda"}`` (flat on the
population mean m = alpha / (alpha + beta) and on u = (alpha + beta)^(-1/2)).

Published: PyMC's port computes the marginal posterior on BDA's grid of (log(alpha / beta), log(alpha + beta))
and reports "the posterior is roughly symmetric about the mode (-1.79, 2.74). This corresponds to
alpha = 2.21 and beta = 13.27", a population mean of logistic(-1.79) = 0.143 at the mode. We found no
published posterior MEAN of m, so the fit is compared with an independent quadrature of the exact marginal
posterior (``_quadrature``, checked against that mode): E[m | y] = 0.1443 (sd 0.0134),
E[log(alpha + beta) | y] = 2.756, elpd_loo = -158.55. (The port also averages alpha and beta over a grid cut
at log(alpha + beta) = 5; under this prior the posterior of alpha + beta has a c^(-3/2) tail, so E[alpha | y]
and E[beta | y] are infinite and grid values of them depend on the cut: they are not compared.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.special import betaln, expit, gammaln

import spikepool as sp
from spikepool.models.beta_binomial import as_proportions, draw_theta
from spikepool.results.beta_binomial import BetaBinomialResult
from spikepool.results.normal import NormalNormalResult

# fmt: off
Y = np.array([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 5, 2,
    5, 3, 2, 7, 7, 3, 3, 2, 9, 10, 4, 4, 4, 4, 4, 4, 4, 10, 4, 4, 4, 5, 11, 12, 5, 5, 6, 5, 6, 6, 6, 6, 16, 15,
    15, 9, 4,
])
N = np.array([
    20, 20, 20, 20, 20, 20, 20, 19, 19, 19, 19, 18, 18, 17, 20, 20, 20, 20, 19, 19, 18, 18, 25, 24, 23, 20, 20,
    20, 20, 20, 20, 10, 49, 19, 46, 27, 17, 49, 47, 20, 20, 13, 48, 50, 20, 20, 20, 20, 20, 20, 20, 48, 19, 19,
    19, 22, 46, 49, 20, 20, 23, 19, 22, 20, 20, 20, 52, 46, 47, 24, 14,
])
# fmt: on
FIT = {"draws": 1000, "tune": 1000, "chains": 2, "progressbar": False}
PUBLISHED_MODE = (-1.79, 2.74)  # (log(alpha / beta), log(alpha + beta)), PyMC's port of BDA3 section 5.3


def _fit(model, y, n, seed, **kwargs):
    """Fit, returning the result and the SpikepoolWarnings issued (so that a test can assert on them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", sp.SpikepoolWarning)
        result = model.fit(y, n, random_seed=seed, **{**FIT, **kwargs})
    return result, [w for w in caught if issubclass(w.category, sp.SpikepoolWarning)]


def _bb_logp(y, n, a, b):
    return gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1) + betaln(a + y, b + n - y) - betaln(a, b)


def _int_tensor(values):
    import pytensor.tensor as pt

    return pt.as_tensor(np.asarray(values, dtype=np.int64))


def _quadrature(nx: int = 300, nz: int = 900, z_max: float = 15.0) -> dict[str, float]:
    """The exact posterior under p(alpha, beta) ∝ (alpha + beta)^(-5/2), on BDA's grid of
    (x, z) = (log(alpha / beta), log(alpha + beta)), with the Jacobian |d(alpha, beta) / d(x, z)| = alpha beta.

    Rectangle rule on an even grid over x in [-3.5, 0], z in [-3, z_max] (the posterior mass outside is
    below 1e-10); elpd_loo_j = -log E[1 / p(y_j | alpha, beta) | y] exactly on the grid. Groups with the
    same (y, n) share their terms.
    """
    x, z = np.linspace(-3.5, 0.0, nx), np.linspace(-3.0, z_max, nz)
    xx, zz = np.meshgrid(x, z, indexing="ij")
    m, c = expit(xx), np.exp(zz)
    a, b = m * c, (1 - m) * c
    pairs, times = np.unique(np.stack([Y, N], axis=1), axis=0, return_counts=True)
    lp_k = np.stack([_bb_logp(yk, nk, a, b) for yk, nk in pairs])
    lp = np.tensordot(times, lp_k, axes=1) - 2.5 * np.log(a + b) + np.log(a) + np.log(b)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    i, j = np.unravel_index(np.argmax(lp), lp.shape)
    mean = float((w * m).sum())
    elpd_k = -np.log((w[None] * np.exp(-lp_k)).sum(axis=(1, 2)))
    return {
        "m": mean,
        "m_sd": float(np.sqrt((w * m**2).sum() - mean**2)),
        "log_c": float((w * zz).sum()),
        "mode": (float(x[i]), float(z[j])),
        "elpd_loo": float(times @ elpd_k),
    }


def _quadrature_flat_mu(n_grid: int = 600) -> float:
    """E[m | y] again, on the model's own (m, u) scale where BDA's prior is flat (no Jacobian at all)."""
    m = (np.arange(n_grid) + 0.5) / n_grid
    u = np.linspace(1e-3, 2.0, n_grid)
    mm, uu = np.meshgrid(m, u, indexing="ij")
    c = uu**-2.0
    pairs, times = np.unique(np.stack([Y, N], axis=1), axis=0, return_counts=True)
    lp = sum(k * _bb_logp(yk, nk, mm * c, (1 - mm) * c) for (yk, nk), k in zip(pairs, times, strict=True))
    w = np.exp(lp - lp.max())
    return float((w * mm).sum() / w.sum())


@pytest.fixture(scope="module")
def quadrature():
    return _quadrature()


@pytest.fixture(scope="module")
def rats_bda():
    return _fit(sp.BetaBinomial(priors={"spread": "bda"}), Y, N, seed=1)


@pytest.fixture(scope="module")
def rats_halfcauchy():
    return _fit(sp.BetaBinomial(), Y, N, seed=2)


def test_rat_data_is_bda_table_5_1():
    assert Y.size == N.size == 71
    assert Y.sum() == 267 and N.sum() == 1739
    assert (Y[-1], N[-1]) == (4, 14)  # the current experiment
    assert ((Y >= 0) & (Y <= N)).all()


def test_quadrature_reproduces_published_mode(quadrature):
    x_mode, z_mode = quadrature["mode"]
    # the published mode is given to 0.01; our grid steps are 0.012 (x) and 0.02 (z)
    assert abs(x_mode - PUBLISHED_MODE[0]) < 0.015 and abs(z_mode - PUBLISHED_MODE[1]) < 0.025
    assert abs(expit(PUBLISHED_MODE[0]) - 0.143) < 5e-4
    assert abs(quadrature["m"] - 0.1443) < 1e-4 and abs(quadrature["m_sd"] - 0.0134) < 1e-4
    # the posterior of m is nearly symmetric: its mean lies 0.1 sd from the published mode's population mean
    assert abs(quadrature["m"] - expit(PUBLISHED_MODE[0])) < 0.15 * quadrature["m_sd"]
    # the grid is fine and wide enough: refining it and pushing alpha + beta to e^30 changes nothing
    finer = _quadrature(450, 1350, z_max=30.0)
    assert abs(finer["m"] - quadrature["m"]) < 1e-8 and abs(finer["log_c"] - quadrature["log_c"]) < 1e-6
    # and the Jacobian is right: flat on (m, u) gives the same E[m] as BDA's grid with alpha beta (alpha+beta)^-5/2
    assert abs(_quadrature_flat_mu() - quadrature["m"]) < 1e-6


def test_rat_tumours_bda_fit_matches_quadrature(rats_bda, quadrature):
    import arviz_stats as azs

    result, caught = rats_bda
    assert not caught, [str(w.message) for w in caught]
    post = result.posterior
    assert result.post_checks.summary["divergences"].item() == 0
    draws = xr.Dataset({"m": post["population_mean"], "log_c": np.log(post["concentration"])})
    mcse = azs.mcse(draws)
    for name in ("m", "log_c"):
        gap = abs(float(draws[name].mean()) - quadrature[name])
        assert gap < 4 * float(mcse[name]), (name, float(draws[name].mean()), quadrature[name], float(mcse[name]))
    assert abs(float(post["population_mean"].std()) / quadrature["m_sd"] - 1) < 0.1
    # the published mode's population mean, 0.143, lies well inside the fitted posterior
    assert abs(float(post["population_mean"].mean()) - 0.143) < 0.2 * quadrature["m_sd"] + 4 * float(mcse["m"])
    # deterministics are what the module docstring says
    np.testing.assert_allclose(post["concentration"], post["spread"] ** -2, rtol=1e-10)
    np.testing.assert_allclose(post["alpha"] / post["concentration"], post["population_mean"], rtol=1e-10)
    np.testing.assert_allclose(post["alpha"] + post["beta"], post["concentration"], rtol=1e-10)


def test_loo_matches_quadrature(rats_bda, quadrature):
    result, _ = rats_bda
    loo = result.loo()
    assert (np.asarray(loo.pareto_k) < 0.7).all()
    # exact elpd_loo by quadrature -158.55; PSIS over 2,000 draws lands within ~0.1 of it (seeds 1-3)
    assert abs(loo.elpd - quadrature["elpd_loo"]) < 0.25, (loo.elpd, quadrature["elpd_loo"])
    assert result.idata["log_likelihood"]["y"].dims == ("chain", "draw", "group")


def test_theta_is_drawn_from_the_exact_conditional(rats_bda):
    result, _ = rats_bda
    post = result.posterior
    assert post["theta"].dims == ("chain", "draw", "group")
    assert ((post["theta"] > 0) & (post["theta"] < 1)).all()
    # draw_theta alone: at fixed (alpha, beta) its draws follow Beta(alpha + y, beta + n - y)
    alpha = xr.DataArray(np.full((4, 5000), 2.0), dims=("chain", "draw"))
    beta = xr.DataArray(np.full((4, 5000), 10.0), dims=("chain", "draw"))
    props = as_proportions([0, 3, 20], [10, 20, 20])
    theta = draw_theta(alpha, beta, props, np.random.default_rng(0))
    a, b = 2.0 + props.successes, 10.0 + props.trials - props.successes
    exact_mean, exact_sd = a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    se = exact_sd / np.sqrt(theta.sizes["chain"] * theta.sizes["draw"])
    assert (np.abs(theta.mean(("chain", "draw")).values - exact_mean) < 4 * se).all()
    np.testing.assert_allclose(theta.std(("chain", "draw")).values, exact_sd, rtol=0.03)
    # the same seed gives the same theta
    again = draw_theta(alpha, beta, props, np.random.default_rng(0))
    xr.testing.assert_identical(theta, again)


def test_shrinkage_table(rats_bda):
    import arviz_stats as azs

    result, _ = rats_bda
    table = result.shrinkage(ci_prob=0.9)
    assert table["theta"].dims == ("group",) and table.sizes["group"] == 71
    np.testing.assert_array_equal(table["successes"].values, Y)
    np.testing.assert_array_equal(table["trials"].values, N)
    np.testing.assert_allclose(table["raw"].values, Y / N, rtol=1e-12)
    m, c = table.attrs["population_mean"], table.attrs["concentration"]
    post = result.posterior
    assert m == pytest.approx(float(post["population_mean"].mean()))
    assert c == pytest.approx(float(post["concentration"].median()))
    b = table["B"].values
    np.testing.assert_allclose(b, c / (c + N), rtol=1e-12)
    np.testing.assert_allclose(table["kappa"].values, 1 - b, rtol=1e-12)
    np.testing.assert_allclose(table["closed_form"].values, (1 - b) * Y / N + b * m, rtol=1e-12)
    # B falls as the trials grow, both at the plug-in and averaged over the draws
    order = np.argsort(N, kind="stable")
    for name in ("B", "B_mean"):
        steps = np.diff(table[name].values[order])
        assert (steps <= 1e-12).all() and (steps[np.diff(N[order]) > 0] < 0).all()
    assert ((table["B_mean"] > 0) & (table["B_mean"] < 1)).all()
    assert (table["lower"] < table["theta"]).all() and (table["theta"] < table["upper"]).all()
    # Rao-Blackwell E[(alpha + y) / (alpha + beta + n)] = E[theta | y]: agrees with the drawn theta
    mcse = azs.mcse(post)["theta"].values
    assert (np.abs(table["rao_blackwell"].values - table["theta"].values) < 4 * mcse).all()
    # and the plug-in closed form is close to both (it ignores the spread of m and c)
    assert np.abs(table["closed_form"] - table["rao_blackwell"]).max() < 0.01
    # groups far from the population mean moved toward it by about B_mean of the way
    far = np.abs(table["raw"] - m) > 0.1
    assert int(far.sum()) >= 20
    assert (np.abs(table["empirical"] - table["B_mean"])[far] < 0.05).all()


def test_extra_binomial_factor(rats_bda):
    result, _ = rats_bda
    factor = result.extra_binomial_factor()
    conc = result.posterior["concentration"]
    expected = ((conc + result.trials) / (conc + 1)).mean(("chain", "draw"))
    np.testing.assert_allclose(factor.values, expected.values, rtol=1e-12)
    assert factor.dims == ("group",) and ((factor > 1) & (factor < N)).all()


def test_summary_diagnostics_netcdf(rats_bda, tmp_path):
    result, _ = rats_bda
    summary = result.summary()
    assert {"population_mean", "concentration", "alpha", "beta", "theta[0]"} <= set(summary.index)
    report = result.diagnostics()
    assert report.ok and not report.warnings
    assert report.find("no_prior")  # the "bda" prior is improper: no prior draws, no contraction check
    assert "prior" not in result.idata.children
    path = tmp_path / "rats.nc"
    result.to_netcdf(path)
    back = BetaBinomialResult.from_netcdf(path)
    xr.testing.assert_identical(back.posterior, result.posterior)
    assert back.spec == result.spec and back.spec["priors"]["spread"] == "bda" and back.dim == "group"
    xr.testing.assert_identical(back.shrinkage(), result.shrinkage())
    with pytest.raises(ValueError, match="must hold a NormalNormal result; got a BetaBinomial result"):
        NormalNormalResult.from_netcdf(path)
    # chains that disagree are flagged, with the remedies of this model (no parameterization to switch)
    bad = result.idata.copy()
    post = bad["posterior"].to_dataset()
    post["population_mean"] = post["population_mean"] + xr.DataArray([0.0, 0.05], dims="chain")
    bad["posterior"] = post
    (problem,) = BetaBinomialResult.check(bad).find("rhat")
    assert "population_mean" in problem.parameters
    assert "spread" in problem.remedy and "parameterization" not in problem.remedy


def test_halfcauchy_prior_contracts_and_compares(rats_bda, rats_halfcauchy):
    bda, _ = rats_bda
    hc, caught = rats_halfcauchy
    assert not caught, [str(w.message) for w in caught]
    # a proper prior: prior draws were kept and the concentration is well informed by 71 groups
    assert "prior" in hc.idata.children
    assert float(hc.post_checks.summary["contraction_concentration_min"]) > 0.9
    # near u = 0 the half-Cauchy is nearly as flat as BDA's prior: the same population mean
    gap = abs(float(hc.posterior["population_mean"].mean()) - float(bda.posterior["population_mean"].mean()))
    assert gap < 0.002
    table = bda.compare(hc, names=["bda", "halfcauchy"])
    assert set(table.index) == {"bda", "halfcauchy"}
    assert float(table["elpd_diff"].max()) < 0.5  # same data, nearly the same predictions
    other, _ = _fit(sp.BetaBinomial(), Y[:10], N[:10], seed=0, draws=200, tune=200)
    with pytest.raises(ValueError, match="same data"):
        bda.compare(other)


def test_recovers_simulated_alpha_beta(rng):
    alpha, beta = 3.0, 9.0  # m = 0.25, c = 12
    n = rng.integers(30, 80, size=40)
    theta = rng.beta(alpha, beta, size=40)
    y = rng.binomial(n, theta)
    labels = [f"u{i}" for i in range(40)]
    successes = xr.DataArray(y, dims="neuron", coords={"neuron": labels})
    trials = xr.DataArray(n, dims="neuron", coords={"neuron": labels})
    before = (successes.copy(deep=True), trials.copy(deep=True))
    result, caught = _fit(sp.BetaBinomial(), successes, trials, seed=4)
    assert not caught, [str(w.message) for w in caught]
    xr.testing.assert_identical(successes, before[0])  # the caller's objects are untouched
    xr.testing.assert_identical(trials, before[1])
    post = result.posterior
    assert result.dim == "neuron" and list(post["neuron"].values) == labels
    assert list(result.shrinkage()["neuron"].values) == labels
    for name, truth in (("population_mean", 0.25), ("concentration", 12.0)):
        lo, hi = post[name].quantile([0.03, 0.97]).values
        assert lo < truth < hi, (name, lo, hi)
    # the pooled estimates beat the raw proportions on this draw (mean squared error)
    table = result.shrinkage()
    assert float(((table["theta"] - theta) ** 2).mean()) < float(((table["raw"] - theta) ** 2).mean())
    inside = (table["lower"].values < theta) & (theta < table["upper"].values)
    assert inside.mean() >= 0.85


BAD_INPUTS = [
    (Y[:5], N[:4], ValueError, "same length; got 5 and 4"),
    ([1], [3], ValueError, "at least 2 groups"),
    ([1, 2], [3, 0], ValueError, r"trials must be >= 1; got 0 at position 1\. Hint: drop groups"),
    ([1, -1], [3, 3], ValueError, "successes must be >= 0; got -1 at position 1"),
    ([1, 5], [3, 4], ValueError, r"successes must be <= trials; got 5 of 4 at position 1"),
    ([1, 2.5], [3, 4], ValueError, "successes must be whole numbers .* got 2.5 at position 1"),
    ([0.2, 0.5], [3, 4], ValueError, "Hint: pass counts, not proportions"),
    ([1, np.nan], [3, 4], ValueError, "successes must be finite; got nan at position 1"),
    ([1, 2], [3, np.inf], ValueError, "trials must be finite"),
    (np.ones((2, 2)), np.ones((2, 2)), ValueError, "must be 1-D"),
    (["a", "b"], [3, 4], TypeError, "successes must be numbers"),
    (xr.DataArray([1, 2], dims="unit"), xr.DataArray([3, 4], dims="site"), ValueError, "share their dim"),
    (xr.DataArray([1, 2], dims="draw"), [3, 4], ValueError, "must not be a sampling dim"),
    (
        xr.DataArray([1, 2], dims="unit", coords={"unit": ["a", "b"]}),
        xr.DataArray([3, 4], dims="unit", coords={"unit": ["a", "c"]}),
        ValueError,
        "same 'unit' coords",
    ),
    (
        xr.DataArray([1, 9], dims="unit", coords={"unit": ["a", "b"]}),
        [3, 4],
        ValueError,
        r"got 9 of 4 at position 1 \(unit 'b'\)",
    ),
    (xr.DataArray(np.ones((2, 2)), dims=("neuron", "condition")), [3, 4], ValueError, "select one condition"),
]


@pytest.mark.parametrize(("y", "n", "error", "match"), BAD_INPUTS)
def test_bad_inputs_raise_before_sampling(y, n, error, match, monkeypatch):
    import pymc as pm

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled despite bad inputs")

    monkeypatch.setattr(pm, "sample", no_sampling)
    with pytest.raises(error, match=match):
        sp.BetaBinomial().fit(y, n, progressbar=False)


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"spred": "bda"}, "Did you mean 'spread'"),
        ({"spread": "halfcauchi"}, "Did you mean 'halfcauchy'"),
        ({"spread": "invgamma"}, r"one of \('halfcauchy', 'halfnormal', 'bda'\)"),
        ({"mean_a": 0}, "positive number"),
        ({"spread_scale": float("inf")}, "positive number"),
        ({"mean_b": True}, "positive number"),
    ],
)
def test_bad_priors(priors, match):
    with pytest.raises(ValueError, match=match):
        sp.BetaBinomial(priors)


def test_build_and_spec():
    model = sp.BetaBinomial(priors={"spread": "halfnormal", "spread_scale": 0.5})
    assert model.spec() == {
        "model": "BetaBinomial",
        "priors": {"mean_a": 1.0, "mean_b": 1.0, "spread": "halfnormal", "spread_scale": 0.5},
    }
    assert "halfnormal" in repr(model)
    pm_model = model.build(Y, N)
    assert sorted(v.name for v in pm_model.free_RVs) == ["population_mean", "spread"]
    assert [v.name for v in pm_model.observed_RVs] == ["y"]
    # the observed log-density is the Beta-Binomial of every group at (alpha, beta) = (m c, (1 - m) c)
    point = {"population_mean_logodds__": np.log(0.15 / 0.85), "spread_log__": np.log(0.25)}
    logp = pm_model.compile_logp(vars=[pm_model["y"]], sum=True)(point)
    np.testing.assert_allclose(logp, _bb_logp(Y, N, 0.15 * 16, 0.85 * 16).sum(), rtol=1e-8)


@pytest.mark.parametrize(("alpha", "beta"), [(0.01, 0.05), (2.4, 14.3), (300.0, 50.0)])
def test_stable_logp_equals_scipy(alpha, beta):
    from scipy.stats import betabinom

    from spikepool.models.beta_binomial import beta_binomial_logp

    y, n = np.array([0, 3, 7, 10, 1]), np.array([10, 10, 7, 52, 1])
    graph = beta_binomial_logp(_int_tensor(y), alpha, beta, _int_tensor(n), max_trials=int(n.max()))
    np.testing.assert_allclose(graph.eval(), betabinom.logpmf(y, n, alpha, beta), rtol=1e-10)


def test_logp_tends_to_binomial_at_huge_concentration():
    """The Gamma-function form is noise beyond alpha + beta ~ 1e8 (it trapped NUTS chains near u = 0)."""
    from scipy.stats import binom

    model = sp.BetaBinomial().build(Y, N)
    logp = model.compile_logp(vars=[model["y"]], sum=True)
    binomial = binom.logpmf(Y, N, 0.15).sum()
    for log_u in (-10.0, -20.0, -40.0):  # concentration e^20, e^40, e^80
        point = {"population_mean_logodds__": np.log(0.15 / 0.85), "spread_log__": log_u}
        assert abs(logp(point) - binomial) < 1e-6 * abs(binomial) + 2e-3

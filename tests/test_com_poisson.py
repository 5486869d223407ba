"""The Conway-Maxwell-Poisson family: its series against brute-force sums, its gradient, and the
models' likelihood against the per-trial sum."""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from scipy.optimize import brentq
from scipy.special import gammaln, logsumexp

import spikepool as sp
from spikepool.models.com_poisson import com_groups_loglik
from spikepool.models.likelihoods import family_logp
from spikepool.stats.com_poisson import com_logpmf, com_moments, com_sample, group_loglik
from spikepool.stats.families import COM_POISSON, family_of

K = np.arange(8000, dtype=float)  # brute force: every term up to 8,000 spikes, no truncation rule


def brute(mu: float, nu: float) -> dict:
    """The distribution with mean ``mu``, summed over 0..7999 in float64 (scipy's logsumexp, brentq root)."""
    K = np.arange(max(8000, int(2 * mu + 60 * np.sqrt(mu / nu) + 100)), dtype=float)  # all the mass, any mean
    lf = gammaln(K + 1.0)

    def log_p(theta):
        terms = K * theta - nu * lf
        return terms - logsumexp(terms)

    def gap(th):
        return np.log(np.exp(log_p(th)) @ K) - np.log(mu)

    lo, hi = -60.0, 120.0
    for _ in range(20):  # widen until the root is inside (the sum over 0..7999 bounds the reachable means)
        if gap(lo) >= 0:
            lo -= 100.0
        elif gap(hi) <= 0:
            hi += 100.0
    assert gap(lo) < 0 < gap(hi), f"brute force cannot bracket mu={mu!r}, nu={nu!r}"
    theta = brentq(gap, lo, hi, xtol=1e-14, rtol=1e-15)
    p = np.exp(log_p(theta))
    mean = p @ K
    return {
        "theta": theta,
        "log_z": logsumexp(K * theta - nu * lf),
        "mean": mean,
        "variance": p @ (K - mean) ** 2,
        "total": p.sum(),
        "log_p": log_p(theta),
    }


@pytest.mark.parametrize("mu", [0.02, 0.4, 1.0, 3.0, 15.0, 80.0, 300.0])
@pytest.mark.parametrize("nu", [0.3, 0.6, 1.0, 2.0, 3.5, 5.0])
def test_moments_and_pmf_match_a_brute_force_sum(mu, nu):
    ref = brute(mu, nu)
    got = com_moments(np.array([mu]), nu)
    assert ref["total"] == pytest.approx(1.0, abs=1e-12)
    assert ref["mean"] == pytest.approx(mu, rel=1e-10)
    assert got["log_lambda"][0] == pytest.approx(ref["theta"], rel=1e-8, abs=1e-8)
    assert got["log_z"][0] == pytest.approx(ref["log_z"], rel=1e-8, abs=1e-8)
    assert got["variance"][0] == pytest.approx(ref["variance"], rel=1e-8)
    y = np.arange(int(mu + 12 * np.sqrt(mu / nu) + 10))
    log_p = com_logpmf(y, mu, nu)
    np.testing.assert_allclose(log_p, ref["log_p"][: y.size], rtol=1e-8, atol=1e-8)
    assert np.exp(log_p) @ y == pytest.approx(mu, rel=1e-8)  # the pmf's own mean and total
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-8)


def test_nu_one_is_the_poisson_and_the_fano_factor_crosses_one_at_it():
    y = np.arange(60)
    for mu in (0.05, 2.5, 30.0):
        np.testing.assert_allclose(com_logpmf(y, mu, 1.0), stats.poisson.logpmf(y, mu), rtol=1e-12, atol=1e-12)
    fano = com_moments(np.full(3, 10.0), np.array([0.5, 1.0, 2.5]))["fano"]
    assert fano[0] > 1.5 and fano[1] == pytest.approx(1.0, rel=1e-12) and fano[2] < 0.5


def test_draws_have_the_summed_mean_and_variance():
    rng = np.random.default_rng(3)
    mu, nu = np.array([0.3, 4.0, 40.0, 4.0]), np.array([2.5, 2.5, 0.5, 0.4])
    draws = com_sample(rng, np.broadcast_to(mu, (100_000, 4)), np.broadcast_to(nu, (100_000, 4)))
    var = com_moments(mu, nu)["variance"]
    # within 5 standard errors of the mean and (roughly, by the 4th moment) of the variance
    assert np.all(np.abs(draws.mean(axis=0) - mu) < 5 * np.sqrt(var / 100_000))
    np.testing.assert_allclose(draws.var(axis=0), var, rtol=0.03)


def test_a_series_that_cannot_converge_fails_loudly():
    # nu -> 0 with lambda >= 1 has no normaliser: nan (and -inf in the likelihood), never a finite number
    out = com_moments(np.array([1e9]), 1e-3)
    assert np.isnan(out["log_z"]).all()
    ll, d_mu, d_nu = group_loglik(np.array([np.log(1e9)]), np.array([1e-3]), np.array([5.0]), np.ones(1), np.zeros(1))
    assert ll[0] == -np.inf and d_mu[0] == 0 and d_nu[0] == 0


def test_the_group_likelihood_equals_the_sum_over_its_counts_and_its_gradient_is_exact():
    rng = np.random.default_rng(7)
    G = 40
    log_mu, nu = rng.normal(1.0, 1.2, G), rng.uniform(0.35, 4.0, G)
    sizes = rng.integers(1, 25, G)
    counts = [com_sample(rng, np.full(int(k), np.exp(m)), v) for k, m, v in zip(sizes, log_mu, nu, strict=True)]
    total = np.array([c.sum() for c in counts], dtype=float)
    n = np.array([c.size for c in counts], dtype=float)
    lf = np.array([gammaln(c + 1.0).sum() for c in counts])
    ll, _, _ = group_loglik(log_mu, nu, total, n, lf)
    per_count = np.array([com_logpmf(c, np.exp(m), v).sum() for c, m, v in zip(counts, log_mu, nu, strict=True)])
    np.testing.assert_allclose(ll, per_count, rtol=1e-10)
    # and against the brute-force pmf for a few groups (independent of the series code)
    for g in range(0, G, 8):
        ref = brute(np.exp(log_mu[g]), nu[g])["log_p"][counts[g]].sum()
        assert ll[g] == pytest.approx(ref, rel=1e-8)
    # the derivatives are exact: central differences converge to them (h = 1e-5: error O(h**2) ~ 1e-9)
    _, d_log_mu, d_nu = group_loglik(log_mu, nu, total, n, lf)
    h = 1e-5
    fd_mu = (group_loglik(log_mu + h, nu, total, n, lf)[0] - group_loglik(log_mu - h, nu, total, n, lf)[0]) / (2 * h)
    fd_nu = (group_loglik(log_mu, nu + h, total, n, lf)[0] - group_loglik(log_mu, nu - h, total, n, lf)[0]) / (2 * h)
    np.testing.assert_allclose(d_log_mu, fd_mu, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d_nu, fd_nu, rtol=1e-6, atol=1e-6)
    # and the Op's PyTensor gradient (what NUTS uses, numba backend) is them
    a, b = pt.dvector("log_mu"), pt.dvector("nu")
    value = com_groups_loglik(a, b, total, n, lf).sum()
    fn = pytensor.function([a, b], [value, *pytensor.grad(value, [a, b])])
    got_value, got_mu, got_nu = fn(log_mu, nu)
    assert got_value == pytest.approx(ll.sum(), rel=1e-12)  # numba compiles it with fastmath
    np.testing.assert_allclose(got_mu, d_log_mu, rtol=1e-10)
    np.testing.assert_allclose(got_nu, d_nu, rtol=1e-10)


@pytest.mark.parametrize("nu", [0.3, 1.0, 2.5, 40.0])
def test_groups_solved_in_a_row_equal_groups_solved_alone(nu):
    # one neuron's bins in order share a table of k**nu and start from the previous bin's root: the value and
    # gradient must equal each group solved from scratch (alone), for smooth and jumping time courses, means
    # from 1e-4 to 300 spikes, empty groups between, and (nu = 40) nearly degenerate counts
    rng = np.random.default_rng(int(nu * 10))
    t = np.linspace(0.0, 1.0, 400)
    log_mu = np.concatenate(
        [np.log(0.3) + 2.0 * np.sin(6 * t), np.log(5.0) + rng.normal(0, 0.3, 200), np.linspace(-9.0, 5.7, 300)]
    )
    mu = np.exp(log_mu)
    counts = com_sample(rng, np.broadcast_to(mu[:, None], (mu.size, 20)), nu)
    total, lf = counts.sum(1).astype(float), gammaln(counts + 1.0).sum(1)
    n = np.full(mu.size, 20.0)
    n[::37] = 0.0
    nus = np.full(mu.size, nu)
    together = group_loglik(log_mu, nus, total, n, lf)
    alone = [
        group_loglik(log_mu[g : g + 1], nus[g : g + 1], total[g : g + 1], n[g : g + 1], lf[g : g + 1])
        for g in range(mu.size)
    ]
    # the derivatives are differences of terms as large as the group's sum of counts and of log y!: rounding
    # of those terms (not of the root, 1e-13) sets their tolerance
    scale = total + lf + 1.0
    for k in range(3):
        diff = np.abs(together[k] - np.concatenate([a[k] for a in alone]))
        assert np.all(diff <= 1e-12 * scale), f"output {k}: worst {np.max(diff / scale):.3g} of the scale"


def _com_counts(rng, nu, n_trials=30, conditions=("a", "b"), duration=(0.5, 1.0)):
    """COM-Poisson counts (neuron, trial) with conditions, two durations and some invalid trials."""
    n = len(nu)
    rate = np.exp(rng.normal(np.log(10.0), 0.6, (n, len(conditions))))
    cond = np.arange(n_trials) % len(conditions)
    d = np.asarray(duration)[rng.integers(0, len(duration), n_trials)]
    mu = rate[:, cond] * d
    y = com_sample(rng, mu, np.asarray(nu, dtype=float)[:, None])
    valid = rng.random(y.shape) > 0.1
    counts = sp.from_array(np.where(valid, y, 0), duration=d, condition=np.array(conditions)[cond])
    return counts.assign_coords(valid=(("neuron", "trial"), valid)), rate


@pytest.mark.parametrize("dispersion", ["neuron", "pooled", "shared"])
def test_the_window_model_likelihood_equals_the_per_trial_sum(dispersion):
    rng = np.random.default_rng(11)
    counts, _ = _com_counts(rng, [0.5, 1.0, 2.5, 3.0])
    model = sp.HierarchicalNegBinom(
        likelihood="com_poisson", dispersion=dispersion, condition="condition", parameterization="noncentered"
    ).build(counts)
    outputs = [model["loglik"], model["rate"], model["nu"]]
    # the graph evaluated by PyTensor's Python ops (no Numba compile); the fits run it compiled
    fn = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    cond = np.unique(counts["condition"].values, return_inverse=True)[1]
    n_idx, t_idx = np.nonzero(counts["valid"].values)
    for _ in range(2):
        point = {v.name: rng.normal(0, 0.5, size=model.initial_point()[v.name].shape) for v in model.value_vars}
        loglik, rate, nu = fn(point)
        nu = np.broadcast_to(nu, (counts.sizes["neuron"],))
        mu = rate[n_idx, cond[t_idx]] * counts["duration"].values[t_idx]
        y = counts.values[n_idx, t_idx]
        expected = sum(brute(m, v)["log_p"][k] for m, v, k in zip(mu, nu[n_idx], y, strict=True))
        assert loglik == pytest.approx(expected, rel=1e-9)


def test_the_family_reads_nu_and_gives_fano_factors_on_both_sides_of_one():
    mu = np.array([[2.0, 4.0, 6.0]])
    nu = COM_POISSON.dispersion_at({"nu": np.array([[0.5, 3.0]])}, np.array([0, 1, 1]), mu)
    np.testing.assert_array_equal(nu, [[0.5, 3.0, 3.0]])
    fano = COM_POISSON.fano(mu, nu)
    assert fano[0, 0] > 1 > fano[0, 1]
    assert family_of("com_poisson") is COM_POISSON


def test_options_it_cannot_take_are_refused_before_anything_is_built():
    with pytest.raises(sp.ArgumentError, match="dispersion must be 'neuron', 'pooled' or 'shared'.*got 'fano'"):
        sp.HierarchicalNegBinom(likelihood="com_poisson", dispersion="fano")
    with pytest.raises(sp.ArgumentError, match="got 'numpyro'"):
        sp.HierarchicalPSTH(likelihood="com_poisson", sampler="numpyro")
    counts = sp.simulate_counts(4, 10, seed=1)[0]
    with pytest.raises(sp.ArgumentError, match="got 'numpyro'"):  # per call too
        sp.HierarchicalNegBinom(likelihood="com_poisson").fit(counts, sampler="numpyro")
    with pytest.raises(sp.ArgumentError, match="mu must be positive and finite"):  # never an endless walk
        com_sample(np.random.default_rng(0), np.array([1.0, 0.0]), 1.0)


def test_the_per_count_graph_takes_symbolic_means():
    mu, nu = pt.dvector("mu"), pt.dscalar("nu")
    y = np.array([0, 3, 7])
    graph = family_of("com_poisson")
    fn = pytensor.function([mu, nu], family_logp(graph, y, mu, nu))
    np.testing.assert_allclose(fn(np.array([0.5, 3.0, 9.0]), 2.0), com_logpmf(y, np.array([0.5, 3.0, 9.0]), 2.0))


def test_check_counts_recommends_it_for_underdispersed_neurons_and_stands_down_when_it_is_the_model():
    rng = np.random.default_rng(4)
    counts, _ = _com_counts(rng, [3.0, 3.0, 1.0], n_trials=60, duration=(1.0,))
    report = sp.check_counts(counts, condition="condition")
    (under,) = [p for p in report.problems if p.code == "underdispersed"]
    assert under.severity == "warning" and "likelihood='com_poisson'" in under.remedy
    report = sp.check_counts(counts, condition="condition", likelihood="com_poisson")
    (under,) = [p for p in report.problems if p.code == "underdispersed"]
    assert under.severity == "info"


def test_recovery_of_under_and_overdispersed_neurons():
    # 8 neurons, nu 0.5 (Fano ~ 2 at these means) or 2.5 (Fano ~ 0.4), 60 trials in two conditions
    rng = np.random.default_rng(21)
    nu_true = np.array([0.5, 2.5] * 4)
    counts, rate = _com_counts(rng, nu_true, n_trials=60, duration=(1.0,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # the NB's underdispersion warning, for Poisson
        # the rates are drawn per (neuron, condition) with no neuron effect: with crossed effects on, tau_neuron
        # would sit near 0, the centered effects' funnel (a divergence in about 1 fit in 8, all with
        # tau_neuron ~ 0.003): the model of these data has none
        model = sp.HierarchicalNegBinom(likelihood="com_poisson", condition="condition", neuron_effect=False)
        result = model.fit(counts, draws=500, tune=500, chains=2, random_seed=2, progressbar=False)
        poisson = sp.HierarchicalNegBinom(likelihood="poisson", condition="condition", neuron_effect=False).fit(
            counts, draws=300, tune=300, chains=2, random_seed=2, progressbar=False
        )
    post = result.posterior
    assert int(result.idata["sample_stats"]["diverging"].sum()) == 0
    nu = post["nu"].quantile([0.05, 0.95], ("chain", "draw")).values
    assert np.mean((nu[0] <= nu_true) & (nu_true <= nu[1])) >= 0.75
    # the under- and overdispersed neurons are told apart: every nu = 2.5 neuron above every nu = 0.5 one
    nu_mean = post["nu"].mean(("chain", "draw")).values
    assert nu_mean[nu_true == 2.5].min() > 1.2 > nu_mean[nu_true == 0.5].max()
    rates = result.rates(ci_prob=0.9)
    np.testing.assert_allclose(rates["mean"].values, rate, rtol=0.2)
    fano = result.fano(ci_prob=0.9)
    assert (fano["upper"].values[nu_true == 2.5] < 1).all() and (fano["lower"].values[nu_true == 0.5] > 1).all()
    table = result.compare(poisson, names=["com_poisson", "poisson"])
    assert list(table.index)[0] == "com_poisson"
    # the posterior predictive Fano check: COM reproduces every cell's variability; the Poisson's replicates
    # are wider than the regular (nu = 2.5) neurons' counts in most of their cells
    ppc = result.ppc_fano(ci_prob=0.95)
    assert ppc["observed"].dims == ("neuron", "condition")
    inside = (ppc["lower"] <= ppc["observed"]) & (ppc["observed"] <= ppc["upper"])
    assert float(inside.mean()) >= 0.85
    ppc_poisson = poisson.ppc_fano(ci_prob=0.95)
    below = (ppc_poisson["observed"] < ppc_poisson["lower"]).values[nu_true == 2.5]
    assert below.mean() >= 0.75


@pytest.mark.parametrize("mu", [1e-3, 0.5, 50.0, 1000.0])
@pytest.mark.parametrize("nu", [0.05, 0.3, 5.0, 10.0])
def test_the_series_is_stable_far_outside_the_usual_range(mu, nu):
    # nu from 0.05 (Fano ~ 20 at a mean of 1) to 10, means from 0.001 to 1,000 spikes: the pmf sums to 1 and
    # has mean mu (the sampler visits such values while it adapts; a failure there would stall the chain)
    sd = np.sqrt(mu / nu) + 1.0
    y = np.arange(int(mu + 40 * sd + 50))
    p = np.exp(com_logpmf(y, mu, nu))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert p @ y == pytest.approx(mu, rel=1e-8)


def test_on_a_real_regular_neuron_it_beats_the_nb_and_the_poisson_by_loo(data_dir):
    # the Kramer & Eden retinal neuron under low light, 300 consecutive 100 ms windows: Fano 0.71
    import scipy.io as sio

    spikes = np.ravel(sio.loadmat(sp.datasets.fetch("kramer-eden-retina")[0])["SpikesLow"])
    counts = sp.from_spike_times({"retina": spikes}, np.arange(300) * 0.1, window=(0.0, 0.1))
    y = counts.values[0]
    assert y.var(ddof=1) / y.mean() == pytest.approx(0.71, abs=0.01)
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # check_counts: underdispersed (for NB / Poisson)
        for lik in ("com_poisson", "negbin", "poisson"):
            fits[lik] = sp.HierarchicalNegBinom(likelihood=lik, pooling="none").fit(
                counts, draws=500, tune=500, chains=2, random_seed=1, progressbar=False
            )
    table = fits["com_poisson"].compare(fits["negbin"], fits["poisson"], names=list(fits))
    assert list(table.index)[0] == "com_poisson"
    assert table.loc["poisson", "elpd_diff"] < -2 and table.loc["negbin", "elpd_diff"] < -2  # nats worse
    fano = fits["com_poisson"].fano(ci_prob=0.9)
    assert float(fano["upper"].squeeze()) < 1.0 and float(fano["lower"].squeeze()) > 0.5


def test_lambda_is_found_wherever_the_sampler_may_wander():
    # while NUTS adapts it visits extreme values; a series that failed there would be a spurious -inf (a
    # divergence): means 1e-5 to 1e5 spikes, nu 0.001 (nearly geometric) to 300 (nearly degenerate)
    mu, nu = np.meshgrid(np.geomspace(1e-5, 1e5, 45), np.geomspace(1e-3, 300, 45))
    out = com_moments(mu, nu)
    assert np.isfinite(out["log_z"]).all() and (out["variance"] > 0).all()
    # where the distribution is Poisson-like the mean is lambda**(1/nu) - (nu - 1) / (2 nu) to O(1/mu)
    big = (mu > 1e3) & (nu > 0.3) & (nu < 3)
    approx = np.exp(out["log_lambda"][big] / nu[big]) - (nu[big] - 1) / (2 * nu[big])
    np.testing.assert_allclose(approx, mu[big], rtol=1e-3)

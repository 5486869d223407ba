"""The compressed likelihood equals the plain per-trial Negative-Binomial log-density; the count families."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln

import spikepool as sp
from spikepool.models.likelihoods import GRAPHS, family_logp
from spikepool.stats.analytic import nb_variance
from spikepool.stats.cells import compress, count_pairs, count_tails, tails_cheaper
from spikepool.stats.families import FAMILIES, NEGBIN, POISSON, family_of, nb_logpmf


def _counts(rng, n_neurons=6, n_trials=24):
    counts, _ = sp.simulate_counts(
        n_neurons,
        n_trials,
        conditions=["a", "b", "c"],
        mu=[1.0, 2.0, 0.5],
        tau=0.7,
        alpha=3.0,
        duration=rng.choice([0.5, 1.0], n_trials),
        seed=int(rng.integers(1 << 30)),
    )
    valid = rng.random(counts.shape) > 0.15
    return counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))


def test_compress_keeps_every_valid_trial_once(rng):
    counts = _counts(rng)
    cells = compress(counts, "condition")
    assert cells.weight.sum() == counts["valid"].sum()
    np.testing.assert_array_equal(cells.y[cells.obs_cell], counts.values[cells.obs_neuron, cells.obs_trial])
    np.testing.assert_array_equal(cells.duration[cells.obs_cell], counts["duration"].values[cells.obs_trial])
    assert cells.n_cells < cells.obs_cell.size  # repeated values were merged


def test_nb_logpmf_matches_scipy_and_has_the_poisson_limit(rng):
    y, mu, alpha = rng.integers(0, 40, 50), rng.uniform(0.1, 30, 50), rng.uniform(0.2, 20, 50)
    expected = stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))
    np.testing.assert_allclose(nb_logpmf(y, mu, alpha), expected, rtol=1e-10)
    np.testing.assert_allclose(nb_logpmf(y, mu, np.full(50, 1e12)), stats.poisson.logpmf(y, mu), rtol=1e-9)
    np.testing.assert_allclose(nb_logpmf(y, mu, None), stats.poisson.logpmf(y, mu), rtol=1e-12)


@pytest.mark.parametrize(
    ("dispersion", "likelihood", "condition"),
    [
        ("neuron", "negbin", "condition"),
        ("pooled", "negbin", "condition"),
        ("shared", "negbin", "condition"),
        ("fano", "negbin", "condition"),
        ("shared", "poisson", "condition"),
        ("neuron", "negbin", None),
        ("shared", "poisson", None),
    ],
)
def test_model_loglik_equals_per_trial_sum(rng, dispersion, likelihood, condition):
    # the grouped likelihood (models.likelihoods.window_loglik; per cell for "fano") against scipy per trial,
    # with two trial durations and invalid trials
    counts = _counts(rng)
    model = sp.HierarchicalNegBinom(
        dispersion=dispersion, likelihood=likelihood, condition=condition, parameterization="noncentered"
    ).build(counts)
    values = [model["loglik"], model["rate"]]
    has_alpha = likelihood == "negbin"
    if has_alpha:
        values.append(model["eta"] if dispersion == "fano" else model["alpha"])
    # the graph evaluated by PyTensor's Python ops (no Numba compile); the fits run it compiled
    fn = model.compile_fn(values, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    for _ in range(3):
        point = {v.name: rng.normal(0, 0.8, size=model.initial_point()[v.name].shape) for v in model.value_vars}
        loglik, rate, *extra = fn(point)
        valid = counts["valid"].values
        n, t = np.nonzero(valid)
        if condition is None:
            mu = rate[n] * counts["duration"].values[t]
        else:
            cond = np.unique(counts["condition"].values, return_inverse=True)[1]
            mu = rate[n, cond[t]] * counts["duration"].values[t]
        y = counts.values[n, t]
        if not has_alpha:
            expected = stats.poisson.logpmf(y, mu).sum()
        else:
            alpha = extra[0] * mu if dispersion == "fano" else np.broadcast_to(extra[0], (counts.sizes["neuron"],))[n]
            expected = stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu)).sum()
        assert loglik == pytest.approx(expected, abs=1e-8, rel=1e-12)


def test_model_names_and_coords(rng):
    counts = _counts(rng)
    model = sp.HierarchicalNegBinom(condition="condition").build(counts)
    assert set(model.named_vars) >= {"mu", "tau", "log_rate", "rate", "alpha"}
    assert model.named_vars_to_dims["rate"] == ("neuron", "condition")
    assert list(model.coords["condition"]) == ["a", "b", "c"]
    flat = sp.HierarchicalNegBinom(pooling="complete", dispersion="shared").build(counts)
    assert flat.named_vars_to_dims["rate"] == ("neuron",)
    assert "tau" not in flat.named_vars


def test_families_match_the_closed_forms_and_simulation():
    rng = np.random.default_rng(0)
    mu, alpha = np.array([0.5, 3.0, 20.0]), np.array([0.7, 4.0, 50.0])
    np.testing.assert_allclose(NEGBIN.variance(mu, alpha), nb_variance(mu, alpha))
    np.testing.assert_allclose(NEGBIN.fano(mu, alpha), 1 + mu / alpha)
    np.testing.assert_array_equal(POISSON.fano(mu, None), 1.0)
    draws = NEGBIN.sample(rng, np.broadcast_to(mu, (200_000, 3)), np.broadcast_to(alpha, (200_000, 3)))
    np.testing.assert_allclose(draws.mean(axis=0), mu, rtol=0.02)
    np.testing.assert_allclose(draws.var(axis=0), nb_variance(mu, alpha), rtol=0.04)
    y = np.arange(60)
    assert np.exp(NEGBIN.logpmf(y, 3.0, 4.0)).sum() == pytest.approx(1.0, abs=1e-9)
    assert family_of("poisson") is POISSON and POISSON.dispersion_at({"alpha": alpha}, np.arange(3), mu) is None


def test_dispersion_is_read_from_the_posterior_in_each_form():
    mu = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])  # (sample, obs)
    neuron = np.array([0, 1, 1])
    per_neuron = NEGBIN.dispersion_at({"alpha": np.array([[5.0, 7.0], [6.0, 8.0]])}, neuron, mu)
    np.testing.assert_array_equal(per_neuron, [[5.0, 7.0, 7.0], [6.0, 8.0, 8.0]])
    shared = NEGBIN.dispersion_at({"alpha": np.array([3.0, 4.0])}, neuron, mu)
    np.testing.assert_array_equal(shared, [[3.0, 3.0, 3.0], [4.0, 4.0, 4.0]])
    fano_form = NEGBIN.dispersion_at({"eta": np.array([2.0, 0.5])}, neuron, mu)
    np.testing.assert_array_equal(fano_form, [[2.0, 4.0, 6.0], [1.0, 2.0, 3.0]])
    # eta gives a rate-independent Fano factor 1 + 1/eta
    np.testing.assert_allclose(NEGBIN.fano(mu, fano_form), [[1.5] * 3, [3.0] * 3])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_has_a_graph_that_equals_its_numpy_log_pmf(name, rng):
    # the numpy half (LOO, held-out scores) and the PyMC half (sampling) of a family are one density
    assert set(GRAPHS) == set(FAMILIES)
    family = family_of(name)
    y, mu, alpha = rng.integers(0, 60, 200), rng.uniform(0.05, 40, 200), rng.uniform(0.3, 30, 200)
    graph = family_logp(family, y, mu, alpha if family.dispersion_names else None)
    np.testing.assert_allclose(graph.eval(), family.logpmf(y, mu, alpha), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("likelihood", ["negbin", "poisson"])
def test_a_fits_remedies_end_with_its_familys_own(likelihood):
    import json

    import xarray as xr

    tree = xr.DataTree()
    tree.attrs["spikepool_spec"] = json.dumps({"likelihood": likelihood})
    text = sp.results.FitResult.remedies(tree)
    assert text.startswith(sp.results.FitResult.REMEDIES)
    assert ("pool dispersion" in text) is (likelihood == "negbin")
    assert text.endswith(family_of(likelihood).remedy or ".")


@pytest.mark.parametrize("top", [None, 200_000])
def test_negbin_lgamma_terms_by_count_tails_or_pairs_equal_scipy(rng, top):
    # small counts: sum_{k<y} log(alpha + k) over count tails; one count of 200,000 makes the tails dearer than
    # the (neuron, count) pairs' lgamma(y + alpha) - lgamma(alpha): both equal scipy's NB log pmf summed
    counts = _counts(rng).copy()
    if top is not None:
        counts[0, 0] = top
    cells = compress(counts, "condition")
    pairs = count_pairs(cells.neuron, cells.y, cells.weight)
    assert tails_cheaper(pairs, counts.sizes["neuron"]) is (top is None)
    model = sp.HierarchicalNegBinom(condition="condition", parameterization="noncentered").build(counts)
    fn = model.compile_fn(
        [model["loglik"], model["rate"], model["alpha"]],
        inputs=model.value_vars,
        on_unused_input="ignore",
        mode="FAST_COMPILE",
    )
    point = {v.name: rng.normal(0, 0.8, size=model.initial_point()[v.name].shape) for v in model.value_vars}
    loglik, rate, alpha = fn(point)
    n, t = np.nonzero(counts["valid"].values)
    cond = np.unique(counts["condition"].values, return_inverse=True)[1]
    mu = rate[n, cond[t]] * counts["duration"].values[t]
    expected = stats.nbinom.logpmf(counts.values[n, t], alpha[n], alpha[n] / (alpha[n] + mu)).sum()
    assert loglik == pytest.approx(expected, abs=1e-8, rel=1e-12)


def test_count_tails_sum_to_the_lgamma_differences(rng):
    neuron, y = rng.integers(0, 3, 40), rng.integers(0, 25, 40).astype(float)
    pairs = count_pairs(neuron, y, np.ones(40))
    t_neuron, k, weight = count_tails(pairs, 4)  # neuron 3 has no counts: no tail entries
    alpha = rng.uniform(0.3, 8.0, 4)
    by_tails = np.bincount(t_neuron, weight * np.log(alpha[t_neuron] + k), minlength=4)
    by_trials = np.bincount(neuron, gammaln(y + alpha[neuron]) - gammaln(alpha[neuron]), minlength=4)
    np.testing.assert_allclose(by_tails, by_trials, rtol=1e-12, atol=1e-12)
    assert not tails_cheaper(count_pairs(neuron, y + 0.5, np.ones(40)), 4)  # only whole counts have tails

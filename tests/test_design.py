"""Formulas on counts (``spikepool.counts.design``) and the checks of their designs (``spikepool.checks.design``):
every refusal before anything is built or sampled, against designs whose defect is known."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest

import spikepool as sp
from spikepool.checks.design import check_design, dependent_columns
from spikepool.counts.design import formula_design
from spikepool.stats.glm import choose_centered_levels, group_observations


def _counts(n_neuron=6, n_trial=24, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.poisson(5.0, (n_neuron, n_trial))
    counts = sp.from_array(y, duration=0.5)
    return counts.assign_coords(
        x=("trial", rng.normal(size=n_trial)),
        stim=("trial", np.tile(["a", "b", "c"], n_trial // 3)),
        block_trial=("trial", np.arange(n_trial) % 8 + 1),
        depth=("neuron", np.linspace(100.0, 600.0, n_neuron)),
        area=("neuron", np.array(["CA1", "CA3"] * (n_neuron // 2))),
    )


def _codes(report):
    return {(p.code, p.severity) for p in report.problems}


def test_the_design_is_formulae_s_over_the_valid_pairs():
    counts = _counts()
    valid = np.ones(counts.shape, dtype=bool)
    valid[2, :5] = False  # unrecorded pairs are left out
    counts = counts.assign_coords(valid=(("neuron", "trial"), valid))
    d = formula_design(counts, "count ~ stim + x + (1 + x | neuron)")
    assert d.n_obs == valid.sum() and d.coefs == ("Intercept", "stim[b]", "stim[c]", "x")
    i, t = np.nonzero(valid)
    np.testing.assert_array_equal(d.y, counts.values[i, t])
    np.testing.assert_allclose(d.X[:, 3], counts["x"].values[t])
    np.testing.assert_allclose(d.X[:, 1], (counts["stim"].values[t] == "b").astype(float))
    (g,) = d.groups
    assert g.name == g.key == "neuron" and g.effects == ("Intercept", "x") and g.correlated
    np.testing.assert_array_equal(g.levels, counts["neuron"].values)  # every neuron, in the counts' order
    np.testing.assert_array_equal(g.level, i)
    np.testing.assert_allclose(g.Z, np.column_stack([np.ones(d.n_obs), counts["x"].values[t]]))
    assert d.intercept_like.tolist() == [True, False, False, False]
    # a categorical term coded without an intercept: each column a level mean
    cell = formula_design(counts, "0 + stim + (1 | neuron) + (1 | neuron:stim)")
    assert cell.intercept_like.all() and [g.key for g in cell.groups] == ["neuron", "neuron_stim"]
    assert cell.groups[1].n_levels == 18
    # (a || g) blocks are independent; neuron coordinates enter per neuron
    d2 = formula_design(counts, "count ~ x + scale(depth) + (1 + x || neuron)")
    assert not d2.groups[0].correlated
    np.testing.assert_allclose(d2.X[:, 2], (lambda v: (v - v.mean()) / v.std())(d2.frame["depth"].values))


def test_grouping_keeps_sufficient_statistics_of_categorical_designs():
    counts = _counts()
    d = formula_design(counts, "0 + stim + (1 | neuron)")
    obs = group_observations(d.y, d.obs_neuron, d.X, [g.level for g in d.groups], [g.Z for g in d.groups], d.duration)
    assert obs.n_groups == 6 * 3  # one group per neuron x condition: the trials do not add groups
    np.testing.assert_allclose(obs.groups.total.sum(), counts.values.sum())
    np.testing.assert_array_equal(np.bincount(obs.obs_group, d.y, obs.n_groups), obs.groups.total)
    continuous = formula_design(counts, "1 + x + (1 | neuron)")
    assert group_observations(
        continuous.y, continuous.obs_neuron, continuous.X, [continuous.groups[0].level], [continuous.groups[0].Z],
        continuous.duration,
    ).n_groups == continuous.n_obs  # fmt: skip


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("count ~ x + (1 + x | nueron)", r"must name coordinates of the counts; got 'nueron'.*Did you mean 'neuron'"),
        ("rate ~ x + (1 | neuron)", r"must have the counts as its response .* got 'rate'"),
        ("count ~ x +", r"cannot be parsed"),
        ("count ~ (x | )", r"cannot be parsed"),
        ("", r"must name at least one term"),
    ],
)
def test_unusable_formulas_are_refused_by_name(formula, match):
    with pytest.raises(sp.FormulaError, match=match):
        formula_design(_counts(), formula)


def test_missing_covariate_values_are_refused_with_how_many_trials():
    counts = _counts()
    x = counts["x"].values.copy()
    x[[3, 7]] = np.nan
    with pytest.raises(sp.FormulaError, match=r"coordinate 'x' .* missing values .* in 2 trials"):
        formula_design(counts.assign_coords(x=("trial", x)), "count ~ x + (1 | neuron)")
    with pytest.raises(TypeError, match="formula must be a str"):
        sp.HierarchicalGLM(3)


def test_each_design_defect_is_found_before_anything_is_sampled(monkeypatch):
    counts = _counts()
    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started before the refusal"))
    # a slope whose covariate is constant within every neuron: depth is a neuron coordinate
    with pytest.raises(sp.IdentifiabilityError, match="slope_no_variation.*'depth' to vary within levels"):
        sp.HierarchicalGLM("count ~ depth + (1 + depth | neuron)").fit(counts, draws=10, tune=10, chains=1)
    # collinear fixed columns: x2 = 2 x
    twice = counts.assign_coords(x2=("trial", 2 * counts["x"].values))
    with pytest.raises(sp.IdentifiabilityError, match=r"rank_deficient: fixed column 'x2' .* combination of 'x'"):
        sp.HierarchicalGLM("count ~ x + x2 + (1 | neuron)").fit(twice, draws=10, tune=10, chains=1)
    # the grouping's levels as fixed effects too
    with pytest.raises(sp.IdentifiabilityError, match="group_confounded"):
        sp.HierarchicalGLM("count ~ 0 + neuron + (1 | neuron)").fit(counts, draws=10, tune=10, chains=1)
    # a category confounded with another term: area is a function of the neuron's tetrode here
    paired = counts.assign_coords(tetrode=("neuron", np.array(["t1", "t2"] * 3)))
    report = sp.HierarchicalGLM("count ~ area + tetrode + (1 | neuron)").check(paired)
    assert ("rank_deficient", "error") in _codes(report)
    assert "'tetrode[t2]'" in report.problems[[p.code for p in report.problems].index("rank_deficient")].message


def test_warnings_name_the_levels_and_the_remedy():
    counts = _counts()
    x = counts["x"].values
    # the slope's covariate varies within some neurons only
    per_pair = np.tile(x, (6, 1))
    per_pair[[1, 4]] = 0.5
    report = sp.HierarchicalGLM("count ~ z + (1 + z | neuron)").check(
        counts.assign_coords(z=(("neuron", "trial"), per_pair))
    )
    (slope,) = [p for p in report.problems if p.code == "slope_no_variation"]
    assert slope.severity == "warning" and slope.neurons == ("1", "4") and "2 of 6 levels" in slope.message
    # two levels: the SD is the prior's
    few = sp.HierarchicalGLM("count ~ x + (1 | area)").check(counts)
    assert ("few_levels", "warning") in _codes(few) and "'area' has 2 level(s)" in str(few)
    # a covariate far from 0, and covariates on very different scales
    far = counts.assign_coords(t_start=("trial", 1000.0 + np.arange(24)), big=("trial", 1e4 * x))
    scales = check_design(formula_design(far, "count ~ t_start + x + big + (1 | neuron)"))
    texts = " ".join(p.message + p.remedy for p in scales if p.code == "covariate_scale")
    assert "'t_start' (mean 1.01e+03" in texts and "very different scales" in texts and "scale(x)" in texts
    assert not [p for p in check_design(formula_design(far, "count ~ scale(t_start) + x + (1 | neuron)"))
                if p.code == "covariate_scale"]  # fmt: skip
    # a warning is a SpikepoolWarning at fit time (errors in this test run), not a refusal
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert sp.HierarchicalGLM("count ~ x + (1 | area)").check(counts).ok


def test_dependent_columns_names_the_combination():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(size=50)
    X = np.column_stack([np.ones(50), a, b, a - 2 * b, np.zeros(50)])
    assert dependent_columns(X) == [(3, [1, 2]), (4, [])]
    assert dependent_columns(X[:, :3]) == []


def test_centering_follows_how_informative_each_level_is():
    rng = np.random.default_rng(4)
    n, T = 20, 200
    b = rng.normal(0, 0.5, n)
    level = np.repeat(np.arange(n), T)
    y = rng.poisson(np.exp(2.0 + b)[level])
    Z = np.ones((n * T, 1))
    assert (choose_centered_levels(y, np.full(n * T, 2.0), level, Z, n) == 1).all()  # 1,500 spikes a level
    sparse = rng.poisson(np.exp(-2.0 + 0.02 * b)[level[: n * 5]])  # a few spikes and no spread between levels
    assert not choose_centered_levels(sparse, np.full(n * 5, -2.0), level[: n * 5], Z[: n * 5], n).any()
    # slopes that vary a lot between levels are centered with the intercepts; the intercepts always are here
    x = rng.normal(size=n * T)
    Z2 = np.column_stack([np.ones(n * T), x])
    y2 = rng.poisson(np.exp(2.0 + b[level] + rng.normal(0.3, 0.5, n)[level] * x))
    assert (choose_centered_levels(y2, np.full(n * T, 2.0), level, Z2, n) == 2).all()
    y3 = rng.poisson(np.exp(2.0 + b[level] + 0.3 * x))
    assert (choose_centered_levels(y3, np.full(n * T, 2.0), level, Z2, n) >= 1).all()


def test_partly_centered_levels_have_the_model_s_prior():
    # the leading effect centered (theta = shift + b), the slope drawn from its conditional given it: the prior of
    # b must be the same MvNormal as with every level non-centered
    rng = np.random.default_rng(8)
    n, T = 12, 150
    x = rng.normal(size=T)
    b0 = rng.normal(0, 0.6, n)
    y = rng.poisson(np.exp(2.0 + b0[:, None] + (0.2 + 0.001 * rng.normal(size=n))[:, None] * x))
    counts = sp.from_array(y, duration=1.0).assign_coords(x=("trial", x))
    formula = "count ~ x + (1 + x | neuron)"
    partial = sp.HierarchicalGLM(formula, priors={"lkj_eta": 1.0})
    assert (partial.prepare(counts).centered[0] == 1).all()
    draws = {}
    for name, model in (("partial", partial), ("offsets", sp.HierarchicalGLM(formula, parameterization="noncentered",
                                                                                priors={"lkj_eta": 1.0}))):  # fmt: skip
        with model.build(counts):
            prior = pm.sample_prior_predictive(
                draws=3000, var_names=["b_neuron", "sd_neuron"], random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"}
            )
        draws[name] = prior["prior"]["b_neuron"].values.reshape(-1, n, 2)
    from scipy import stats

    for k in (0, 1):  # each effect's prior, and the correlation of a level's two effects
        assert stats.ks_2samp(draws["partial"][:, 0, k], draws["offsets"][:, 0, k]).pvalue > 1e-3
    for d in draws.values():
        assert abs(np.corrcoef(d[:, 0, 0], d[:, 0, 1])[0, 1]) < 0.06  # LKJ(1) is symmetric about 0


def test_likelihood_equals_scipy_summed_over_every_valid_trial():
    from scipy import stats

    counts = _counts(seed=5)
    model = sp.HierarchicalGLM("count ~ stim + x + (1 + x | neuron)", dispersion="neuron")
    pm_model = model.build(counts)
    point = pm_model.initial_point()
    rng = np.random.default_rng(6)
    point["beta"] = np.array([1.8, 0.2, -0.3, 0.15])
    point["log_alpha"] = rng.normal(1.0, 0.3, 6)
    values = {v.name: point[v.name] for v in pm_model.value_vars}
    offsets = [v for v in values if v.startswith("b_neuron")]
    for name in offsets:
        values[name] = rng.normal(0, 0.3, values[name].shape)
    logp = pm_model.compile_logp(vars=pm_model.potentials, sum=True)
    (b_graph,) = pm_model.replace_rvs_by_values([pm_model["b_neuron"]])
    b = pm_model.compile_fn(b_graph, inputs=pm_model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")(values)
    d = model.prepare(counts).design
    eta = d.X @ values["beta"] + (d.groups[0].Z * b[d.groups[0].level]).sum(axis=1)
    mu = np.exp(eta) * d.duration
    alpha = np.exp(values["log_alpha"])[d.obs_neuron]
    expected = stats.nbinom.logpmf(d.y, alpha, alpha / (alpha + mu)).sum()
    assert logp(values) == pytest.approx(expected, rel=1e-10)


def test_priors_scale_to_the_covariates_and_are_overridden_by_name():
    counts = _counts()
    counts = counts.assign_coords(ms=("trial", 1000.0 * counts["x"].values))  # the same covariate in other units
    data = sp.HierarchicalGLM("count ~ stim + x + ms + (1 + x | neuron)").prepare(counts.isel(trial=slice(0, 24)))
    sd_x = data.design.X[:, 3].std()
    np.testing.assert_allclose(data.beta_scale, [1.5, 1.0, 1.0, 0.5 / sd_x, 0.5 / (1000.0 * sd_x)])
    assert data.beta_loc[0] == pytest.approx(np.log(counts.values.sum() / (0.5 * counts.values.size)))
    np.testing.assert_allclose(data.sd_scale[0], [1.0, 0.5 / sd_x])
    named = sp.HierarchicalGLM(
        "count ~ stim + x + (1 + x | neuron)",
        priors={"coef": {"x": 0.1, "stim[b]": (0.5, 0.3)}, "group_sd": {"neuron": 0.2}},
    ).prepare(counts)
    np.testing.assert_allclose(named.beta_scale[1:], [0.3, 1.0, 0.1])
    assert named.beta_loc[1] == 0.5
    np.testing.assert_allclose(named.sd_scale[0], [0.2, 0.2 / sd_x])
    with pytest.raises(
        sp.ArgumentError, match=r"priors\['coef'\] must name fixed columns .* got 'xx'.*Did you mean 'x'"
    ):
        sp.HierarchicalGLM("count ~ x + (1 | neuron)", priors={"coef": {"xx": 1.0}}).prepare(counts)
    with pytest.raises(sp.ArgumentError, match=r"priors\['coef'\]\['x'\] must be a positive sd"):
        sp.HierarchicalGLM("count ~ x + (1 | neuron)", priors={"coef": {"x": -1.0}}).prepare(counts)


def test_dispersion_by_a_coordinate():
    counts = _counts()
    model = sp.HierarchicalGLM("count ~ stim + (1 | neuron)", dispersion_by="stim")
    data = model.prepare(counts)
    assert data.unit_dims == ("neuron", "stim") and list(data.unit_coords["stim"]) == ["a", "b", "c"]
    np.testing.assert_array_equal(data.unit, data.design.obs_neuron * 3 + np.searchsorted(["a", "b", "c"],
                                  counts["stim"].values[data.design.obs_trial]))  # fmt: skip
    assert model.build(counts).initial_point()["log_alpha"].shape == (6, 3)
    shared = sp.HierarchicalGLM("count ~ stim + (1 | neuron)", dispersion="shared", dispersion_by="stim")
    assert shared.prepare(counts).unit_dims == ("stim",)
    with pytest.raises(sp.ArgumentError, match="dispersion_by must name a trial or neuron coordinate.*'stim'"):
        sp.HierarchicalGLM("count ~ 1 + (1 | neuron)", dispersion_by="stimm").prepare(counts)


def test_splines_and_numpy_functions_are_formulae_s():
    counts = _counts()
    d = formula_design(counts, "count ~ bs(x, df=4) + np.cos(np.radians(block_trial * 45)) + (1 | neuron)")
    assert d.coefs[:5] == ("Intercept", *(f"bs(x, df=4)[{k}]" for k in range(4)))
    t = d.obs_trial
    np.testing.assert_allclose(d.X[:, 5], np.cos(np.radians(counts["block_trial"].values[t] * 45)))
    basis = d.X[:, 1:5]
    assert np.linalg.matrix_rank(np.column_stack([np.ones(d.n_obs), basis])) == 5  # a B-spline basis, no collinearity


@pytest.mark.parametrize(
    ("likelihood", "dispersion", "by"),
    [
        ("poisson", "neuron", None),
        ("com_poisson", "pooled", None),
        ("negbin", "shared", "stim"),
        ("negbin", "pooled", "stim"),
    ],
)
def test_every_family_s_likelihood_is_its_log_pmf_summed(likelihood, dispersion, by):
    from scipy import stats

    from spikepool.stats.com_poisson import com_logpmf

    counts = _counts(seed=9)
    model = sp.HierarchicalGLM("count ~ x + stim + (1 | neuron)", likelihood=likelihood, dispersion=dispersion,
                               dispersion_by=by)  # fmt: skip
    pm_model = model.build(counts)
    rng = np.random.default_rng(10)
    point = {k: v + 0.2 * rng.normal(size=np.shape(v)) for k, v in pm_model.initial_point().items()}
    logp = pm_model.compile_logp(vars=pm_model.potentials, sum=True, mode="FAST_COMPILE")
    names = ["b_neuron"] + [n for n in ("alpha", "nu") if n in pm_model.named_vars]
    graphs = pm_model.replace_rvs_by_values([pm_model[n] for n in names])
    values = dict(zip(names, pm_model.compile_fn(graphs, inputs=pm_model.value_vars, on_unused_input="ignore",
                                                 mode="FAST_COMPILE")(point), strict=True))  # fmt: skip
    data = model.prepare(counts)
    d = data.design
    mu = np.exp(d.X @ point["beta"] + values["b_neuron"][d.groups[0].level, 0]) * d.duration
    if likelihood == "poisson":
        expected = stats.poisson.logpmf(d.y, mu).sum()
    else:
        disp = np.ravel(values["alpha" if likelihood == "negbin" else "nu"])
        disp = disp[data.unit] if disp.size > 1 else np.full(d.n_obs, disp[0])
        if likelihood == "negbin":
            expected = stats.nbinom.logpmf(d.y, disp, disp / (disp + mu)).sum()
        else:
            expected = com_logpmf(d.y, mu, disp).sum()
    assert logp(point) == pytest.approx(expected, rel=1e-8)

"""Shared variability in the formula model: a ``(1 | trial)`` gain and ``shared`` factors, the variance
partition, noise correlations and gains against closed forms, a Monte Carlo of the model and simulated truth,
and the refusals before sampling."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import scipy.stats
import xarray as xr

import spikepool as sp
from spikepool.counts.design import dispersion_units, formula_design
from spikepool.results.glm_shared import raw_noise_correlations, variance_parts

FIT = {"draws": 400, "tune": 500, "chains": 2, "random_seed": 2, "progressbar": False}
SD_GAIN = 0.35


def _simulated(n_neuron=16, n_trial=240, sd_gain=SD_GAIN, loadings=None, seed=5):
    """Counts (neuron, trial) in 3 conditions with a log gain per trial shared by all (times each neuron's
    loading when given), NB alpha = 6; and the truth."""
    rng = np.random.default_rng(seed)
    condition = np.repeat(["a", "b", "c"], n_trial // 3)
    log_rate = rng.normal(1.6, 0.4, n_neuron)[:, None] + np.where(condition == "b", 0.4, 0.0)[None]
    gain = rng.normal(0.0, 1.0, n_trial)
    w = np.full(n_neuron, sd_gain) if loadings is None else np.asarray(loadings)
    mu = np.exp(log_rate + w[:, None] * gain[None])
    alpha = 6.0
    y = rng.poisson(rng.gamma(alpha, mu / alpha))
    counts = sp.from_array(y, duration=1.0).assign_coords(condition=("trial", condition))
    return counts, {"gain": gain, "w": w, "alpha": alpha, "log_rate": log_rate}


def _true_parts(truth, condition_mean=True):
    """The true shares (neuron, part) and correlations (neuron, neuron) at each neuron's mean over conditions."""
    w, alpha, log_rate = truth["w"], truth["alpha"], truth["log_rate"]
    mu = np.exp(log_rate)  # (neuron, trial)
    v = w**2
    m = mu * np.exp(v[:, None] / 2)
    parts = np.stack([m, m**2 * np.exp(v[:, None]) / alpha, m**2 * np.expm1(v[:, None])])
    share = parts.sum(axis=2) / parts.sum(axis=(0, 2))
    r = m / np.sqrt(parts.sum(axis=0))
    corr = np.expm1(np.outer(w, w)) * (r @ r.T) / r.shape[1]
    return share.T, corr


# ----------------------------------------------------------------------------------------------- closed forms
def test_variance_parts_and_correlations_are_the_model_s_by_monte_carlo():
    counts, _ = _simulated(n_neuron=3, n_trial=6)
    design = formula_design(counts, "count ~ 0 + condition + (1 | trial)")
    beta, sd, alpha, w = np.array([1.2, 2.0, 0.5]), 0.3, np.array([2.0, 5.0, 50.0]), np.array([0.4, -0.2, 0.1])
    post = xr.Dataset(
        {
            "beta": (("chain", "draw", "coef"), beta[None, None]),
            "sd_trial": (("chain", "draw", "trial_effect"), [[[sd]]]),
            "b_trial": (("chain", "draw", "trial", "trial_effect"), np.zeros((1, 1, 6, 1))),
            "alpha": (("chain", "draw", "neuron"), alpha[None, None]),
            "loading": (("chain", "draw", "neuron", "factor"), w[None, None, :, None]),
        },
        coords={"coef": list(design.coefs), "trial_effect": ["Intercept"]},
    )
    spec = {"likelihood": "negbin", "dispersion": "neuron", "dispersion_by": None, "shared": 1}
    unit = dispersion_units(counts, design, "neuron", None)[0]
    m, poisson, private, shared, cov = variance_parts(post, design, spec, unit, 3, np.array([0]))
    np.testing.assert_allclose(cov[0], sd**2 + np.outer(w, w))
    # a Monte Carlo of the model on trial 0 (condition a): joint log gains, then NB counts
    rng = np.random.default_rng(0)
    n = 400_000
    s = rng.normal(0, sd, n)[:, None] + rng.normal(size=n)[:, None] * w[None]
    mu = np.exp(beta[0] + s)
    y = rng.poisson(rng.gamma(alpha, mu / alpha))
    first = design.obs_trial == 0
    np.testing.assert_allclose(m[0, first], y.mean(axis=0), rtol=0.01)
    np.testing.assert_allclose((poisson + private + shared)[0, first], y.var(axis=0), rtol=0.03)
    np.testing.assert_allclose(shared[0, first], np.exp(beta[0] + s).var(axis=0), rtol=0.03)  # Var(E[y | s])
    # the COM-Poisson by quadrature: nu = 1 is the Poisson (no private part), nu = 2 under-dispersed (negative)
    com = post.drop_vars("alpha").assign(nu=(("chain", "draw", "neuron"), np.array([[[1.0, 2.0, 1.0]]])))
    _, p_com, private_com, shared_com, _ = variance_parts(com, design, {**spec, "likelihood": "com_poisson"}, unit, 3,
                                                          np.array([0]))  # fmt: skip
    on_first = design.obs_neuron[first]
    np.testing.assert_allclose(private_com[0, first][on_first != 1], 0.0, atol=1e-6 * p_com.max())
    assert (private_com[0, first][on_first == 1] < 0).all()
    np.testing.assert_allclose(shared_com, shared)
    total = (poisson + private + shared)[0, first]
    implied = np.expm1(cov[0]) * np.outer(m[0, first], m[0, first]) / np.sqrt(np.outer(total, total))
    np.testing.assert_allclose(implied[np.triu_indices(3, 1)], np.corrcoef(y.T)[np.triu_indices(3, 1)], atol=0.006)


def test_raw_r_sc_is_the_pearson_correlation_of_within_condition_z_scores():
    counts, _ = _simulated(n_neuron=4, n_trial=60)
    y = counts.values
    valid = np.ones(y.shape, dtype=bool)
    valid[1, 10:20] = False
    condition = counts["condition"].values
    r, low, high, common = raw_noise_correlations(y, valid, condition, 0.9, 300, 0)
    z = np.full(y.shape, np.nan)
    for c in np.unique(condition):
        for i in range(4):
            cols = np.flatnonzero((condition == c) & valid[i])
            z[i, cols] = scipy.stats.zscore(y[i, cols])
    both = valid[0] & valid[1]
    assert common[0, 1] == both.sum() == 50
    assert r[0, 1] == pytest.approx(scipy.stats.pearsonr(z[0, both], z[1, both])[0], abs=0.03)
    assert r[2, 3] == pytest.approx(scipy.stats.pearsonr(z[2], z[3])[0], abs=1e-12)
    assert (low <= r + 1e-12)[~np.eye(4, dtype=bool)].all() and (r <= high + 1e-12)[~np.eye(4, dtype=bool)].all()


# ----------------------------------------------------------------------------------------------- refusals
def _codes(report):
    return {(p.code, p.severity) for p in report.problems}


def _masked(counts, valid):
    return counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))


def test_shared_terms_are_refused_before_sampling_where_the_data_cannot_identify_them(monkeypatch):
    counts, _ = _simulated(n_neuron=6, n_trial=24)
    monkeypatch.setattr(pm, "sample", lambda *a, **k: pytest.fail("sampling started before the refusal"))
    alone = np.zeros(counts.shape, dtype=bool)
    alone[np.arange(24) % 6, np.arange(24)] = True  # one neuron per trial
    lonely = _masked(counts, alone)
    with pytest.raises(sp.IdentifiabilityError, match="shared_neurons.*at least 2 neurons"):
        sp.HierarchicalGLM("count ~ 1 + (1 | neuron) + (1 | trial)").fit(lonely, draws=10, tune=10, chains=1)
    some = np.ones(counts.shape, dtype=bool)
    some[1:, :3] = False  # 3 trials with one neuron
    report = sp.HierarchicalGLM("count ~ 1 + (1 | trial)").check(_masked(counts, some))
    assert ("shared_neurons", "warning") in _codes(report)
    assert "3 of 24 trials" in next(p.message for p in report.problems if p.code == "shared_neurons")
    with pytest.raises(sp.IdentifiabilityError, match="shared_factors: shared must be below half"):
        sp.HierarchicalGLM("count ~ 1 + (1 | neuron)", shared=3).fit(counts, draws=10, tune=10, chains=1)
    few = counts.isel(trial=slice(0, 3))
    with pytest.raises(sp.IdentifiabilityError, match="shared_factors: shared factors need at least shared \\+ 2 = 4"):
        sp.HierarchicalGLM("count ~ 1 + (1 | neuron)", shared=2).fit(few, draws=10, tune=10, chains=1)
    assert not {c for c, _ in _codes(sp.HierarchicalGLM("count ~ 1", shared=2).check(counts))} & {
        "shared_factors", "shared_neurons", "trial_confounded"}  # fmt: skip
    # one trial per condition: the trial gains are the conditions' effects
    each = counts.assign_coords(stim=("trial", [f"s{t}" for t in range(24)]))
    with pytest.raises(sp.IdentifiabilityError, match="trial_confounded"):
        sp.HierarchicalGLM("count ~ 0 + stim", shared=1).fit(each, draws=10, tune=10, chains=1)
    with pytest.raises(sp.IdentifiabilityError, match="group_confounded"):
        sp.HierarchicalGLM("count ~ 0 + stim + (1 | trial)").fit(each, draws=10, tune=10, chains=1)
    with pytest.raises(TypeError, match="shared must be a number of factors"):
        sp.HierarchicalGLM(shared=-1)


# ----------------------------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def gain_fit():
    counts, truth = _simulated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SamplingWarning)
        result = sp.HierarchicalGLM("count ~ condition + (1 | neuron) + (1 | trial)").fit(counts, **FIT)
    return counts, truth, result


def test_a_shared_gain_is_recovered_with_its_shares_and_correlations(gain_fit, tmp_path):
    counts, truth, result = gain_fit
    sd = result.posterior["sd_trial"].values.ravel()
    assert np.quantile(sd, 0.03) < SD_GAIN < np.quantile(sd, 0.97)
    gains = result.gains(ci_prob=0.9)
    assert list(gains["term"].values) == ["trial"] and "condition" in gains.coords
    assert np.corrcoef(gains["mean"].sel(term="trial"), truth["gain"] * SD_GAIN)[0, 1] > 0.85
    share, corr = _true_parts(truth)
    vp = result.variance_partition(ci_prob=0.9)
    inside = (vp["lower"].values <= share) & (share <= vp["upper"].values)
    assert inside[:, 2].mean() >= 0.8, vp["mean"].values
    np.testing.assert_allclose(vp["mean"].sum("part"), 1.0)
    assert (vp["fano"] > vp["fano_private"]).all()
    by = result.variance_partition(by="condition")
    assert by["mean"].dims == ("neuron", "condition", "part") and by.sizes["condition"] == 3
    nc = result.noise_correlations(ci_prob=0.9, n_boot=200)
    off = ~np.eye(counts.sizes["neuron"], dtype=bool)
    assert np.median(np.abs(nc["mean"].values[off] - corr[off])) < 0.03
    raw_in = (nc["raw_lower"].values <= corr) & (corr <= nc["raw_upper"].values)
    assert raw_in[off].mean() > 0.7  # the raw r_sc estimates the same correlations, noisily
    path = tmp_path / "shared.nc"
    result.to_netcdf(path)
    back = sp.load_result(path)
    np.testing.assert_allclose(back.variance_partition(ci_prob=0.9)["mean"], vp["mean"])
    with pytest.raises(sp.ArgumentError, match="by must be a trial coordinate"):
        result.variance_partition(by="conditon")


def test_factor_loadings_are_recovered_with_one_sign():
    loadings = np.linspace(-0.1, 0.5, 12)
    counts, truth = _simulated(n_neuron=12, n_trial=240, loadings=loadings, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SamplingWarning)
        result = sp.HierarchicalGLM("count ~ condition + (1 | neuron)", shared=1).fit(counts, **FIT)
    w = result.posterior["loading"].sel(factor="f1")
    assert not [p for p in result.post_checks.problems if p.code == "factor_sign"]
    assert any("sd_loading" in str(row) for row in result.summary().index)
    by_chain = w.mean("draw").values
    assert np.corrcoef(by_chain)[0, 1] > 0.9  # the chains agree on the factor's sign
    assert np.corrcoef(w.mean(("chain", "draw")), loadings)[0, 1] > 0.85
    score = result.gains()["mean"].sel(term="f1")
    assert np.corrcoef(score, truth["gain"])[0, 1] > 0.8
    nc = result.noise_correlations(n_boot=100)
    negative = np.outer(loadings, loadings) < -0.02  # a factor lets pairs anti-correlate
    assert (nc["mean"].values[negative] < 0).all()


def test_plots_and_report_of_shared_variability(gain_fit, tmp_path):
    counts, _, result = gain_fit
    import matplotlib

    matplotlib.use("Agg")
    ax = sp.plots.plot_variance_partition(result, ci_prob=0.9)
    vp = result.variance_partition(ci_prob=0.9)
    shared = sorted(vp["mean"].sel(part="shared").values, reverse=True)
    np.testing.assert_allclose([p.get_height() for p in ax.patches[: len(shared)]], shared, rtol=1e-12)
    model, raw = sp.plots.plot_noise_correlations(result, n_boot=50)
    assert model.images[0].get_clim() == raw.images[0].get_clim()  # one colour scale
    ax = sp.plots.plot_gains(result, x="trial")
    assert ax.get_ylabel() == "log gain"
    with pytest.raises(sp.ArgumentError, match="term must be one of \\['trial'\\]; got 'f1'"):
        sp.plots.plot_gains(result, "f1")
    with pytest.raises(sp.ArgumentError, match="x must be a trial coordinate"):
        sp.plots.plot_gains(result, x="depth")
    page = sp.report(result, tmp_path / "shared.html").read_text()
    assert "Shared variability" in page and "raw r_sc" in page
    plain = sp.HierarchicalGLM("count ~ 1 + (1 | neuron)")
    with pytest.raises(sp.ArgumentError, match="variance_partition needs a fit with shared variability"):
        type(result).variance_partition(
            type(result)(
                idata=result.idata,
                counts=counts,
                spec=plain.spec(),
                pre_checks=result.pre_checks,
                post_checks=result.post_checks,
                centered=result.centered,
            )  # fmt: skip
        )


@pytest.mark.parametrize("covariate", ["", " + stimulus"])
def test_the_swept_trial_gains_leave_the_model_s_density_unchanged(covariate):
    """``(1 | trial)`` beside ``(1 | neuron)`` is sampled as the gains' projection on the fixed columns constant
    within a trial (swept into beta) and the rest in an orthonormal basis (Helmert within each condition's
    trials; a dense one with a continuous trial covariate): the log density at any parameters, against the
    iid-normal model written out with scipy, differs by the change of variables' Jacobian only."""
    from spikepool.models.glm_parts import swept_grouping, within_level

    counts, _ = _simulated(n_neuron=5, n_trial=12)
    counts = counts.assign_coords(stimulus=("trial", np.linspace(-1.0, 1.0, 12) ** 3))
    model = sp.HierarchicalGLM(
        f"count ~ condition{covariate} + (1 | neuron) + (1 | trial)", dispersion="shared", parameterization="centered"
    )
    data = model.prepare(counts)
    design = data.design
    sweep = swept_grouping(design)
    trial = [g.key for g in design.groups].index("trial")
    neuron = 1 - trial
    assert sweep.index == trial and list(np.asarray(design.coefs)[sweep.columns]) == list(design.coefs)
    Q, p = sweep.basis(), len(design.coefs)
    assert (sweep.Q is None) == (covariate == "") and Q.shape == (12, 12 - p)
    np.testing.assert_allclose(Q.T @ sweep.W, 0.0, atol=1e-12)
    np.testing.assert_allclose(Q.T @ Q, np.eye(12 - p), atol=1e-12)
    built = model.build(counts)
    logp = built.compile_logp(jacobian=False)
    prior = model.priors
    y, X, dur = design.y, design.X, design.duration
    n_lev, t_lev = design.groups[neuron].level, design.groups[trial].level
    shift_of_neuron = within_level(design, design.groups[neuron])  # (neuron, coef): the intercept
    rng = np.random.default_rng(3)
    gaps = []
    for _ in range(3):
        beta = data.beta_loc + rng.normal(0, 0.3, p)
        sd_n, sd_t, log_alpha = rng.uniform(0.2, 0.6), 0.4, rng.normal(1.5, 0.3)
        theta = shift_of_neuron @ beta + rng.normal(0, sd_n, 5)  # each neuron's intercept
        g = rng.normal(0, sd_t, 12)
        eta = X @ beta + (theta - shift_of_neuron @ beta)[n_lev] + g[t_lev]
        mu, alpha = np.exp(eta) * dur, np.exp(log_alpha)
        direct = (
            scipy.stats.norm.logpdf(beta, data.beta_loc, data.beta_scale).sum()
            + scipy.stats.norm.logpdf(theta, shift_of_neuron @ beta, sd_n).sum()
            + scipy.stats.norm.logpdf(g, 0.0, sd_t).sum()
            + scipy.stats.halfnorm.logpdf(sd_n, scale=data.sd_scale[neuron][0])
            + scipy.stats.halfnorm.logpdf(sd_t, scale=data.sd_scale[trial][0])
            + scipy.stats.norm.logpdf(log_alpha, prior["log_alpha_loc"], prior["log_alpha_scale"])
            + scipy.stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu)).sum()
        )
        a = np.linalg.solve(sweep.W.T @ sweep.W, sweep.W.T @ g)
        moved = np.zeros(p)
        moved[sweep.columns] = a
        point = {
            "sd_trial_log__": np.log([sd_t]),
            "sd_neuron_log__": np.log([sd_n]),
            "b_trial_fixed_offset": np.linalg.solve(sweep.cov_chol, a) / sd_t,
            "beta_centered": beta + moved,
            "b_neuron_centered": (theta + shift_of_neuron @ moved)[:, None],
            "b_trial_centered": Q.T @ g,
            "log_alpha": np.asarray(log_alpha),
        }
        gaps.append(logp(point) - direct)
    assert np.ptp(gaps) < 1e-8, gaps


@pytest.mark.parametrize("sparse", [1, 4])
def test_the_shared_factors_coordinates_leave_the_model_s_density_unchanged(sparse):
    """``shared=2`` is sampled in coordinates without the likelihood's flat directions: factor 2's loadings
    orthogonal to the data's first direction (Householder reflections), the scores as their mean (swept into
    the intercepts) and the Bartlett decomposition of their deviations (orthonormal directions in stereographic
    coordinates, a triangular factor), the loadings times that factor. At random points in those coordinates the
    model's log density equals the model written out with scipy (iid N(0, 1) scores, loadings N(0,
    sd_loading_j) on that subspace) at the mapped parameters plus the log Jacobian of the map, taken by finite
    differences, up to one constant. With most neurons sparse the loadings are drawn non-centered."""
    from scipy.linalg import null_space

    from spikepool.models.glm_factors import _zero_sum_embedding, stiefel_points, zero_sum_coordinates
    from spikepool.models.glm_parts import householder_chain, reflect, within_level

    n_trial = 12
    counts, _ = _simulated(n_neuron=6, n_trial=n_trial, sd_gain=0.6)
    counts = counts.copy(data=np.asarray(counts.values).copy())
    counts[:sparse] = counts[:sparse] // 8
    model = sp.HierarchicalGLM("count ~ condition + (1 | neuron)", dispersion="shared", shared=2)
    data = model.prepare(counts)
    design = data.design
    c, poles = data.directions, data.score_directions
    np.testing.assert_allclose(c.T @ c, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(poles.sum(axis=0), 0.0, atol=1e-12)
    zeros = [pt.zeros(n_trial - 2), pt.zeros(n_trial - 3)]
    at_zero = _zero_sum_embedding(stiefel_points(zeros, zero_sum_coordinates(poles.T), pt)[0].eval())
    np.testing.assert_allclose(at_zero @ at_zero.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(at_zero[0], poles[:, 0], atol=1e-12)  # z = 0 is the data's direction
    assert at_zero[1] @ poles[:, 1] > 0.99
    chain = householder_chain(c[:, :1])
    built = model.build(counts)
    logp = built.compile_logp(jacobian=False)
    outs = [built["sd_loading"], built["loading"], built["factor_score"]]
    mapped = built.compile_fn(
        built.replace_rvs_by_values(outs), inputs=built.value_vars, on_unused_input="ignore", point_fn=True
    )
    # factor 1 stands out of the residuals' noise, factor 2 (absent from the truth) does not
    assert data.loading_centered == ((True, False) if sparse == 1 else (False, False))
    kind = ["centered" if c else "offset" for c in data.loading_centered]
    assert {f"loading_f1_{kind[0]}", f"loading_f2_{kind[1]}"} <= {v.name for v in built.free_RVs}
    p = model.priors
    y, X, dur = design.y, design.X, design.duration
    neuron_of = within_level(design, design.groups[0])  # (neuron, coef): the intercept
    basis = null_space(np.ones((1, n_trial)))  # (trial, trial - 1): an orthonormal basis of the zero-sum subspace
    sizes = {"sd_loading_scaled": 2, "factor_variance": 2, "factor_overlap": 1}
    sizes |= {"factor_f1_direction": n_trial - 2, "factor_f2_direction": n_trial - 3}
    sizes |= {f"loading_f1_{kind[0]}": 6, f"loading_f2_{kind[1]}": 5}
    ends = np.cumsum(list(sizes.values()))

    def point_of(x, rest):  # x: the new coordinates (positive ones on their own scale) in the order of sizes
        point = dict(rest)
        for name, value in zip(sizes, np.split(x, ends[:-1]), strict=True):
            positive = name in ("sd_loading_scaled", "factor_variance")
            point[f"{name}_log__" if positive else name] = np.log(value) if positive else value
        return point

    def original(x, rest):  # (sd_loading, the scores' deviations in the basis, the loadings' free values)
        sd_w, w, f = mapped(point_of(x, rest))
        deviation = basis.T @ (f - f.mean(axis=0))
        return np.concatenate([sd_w, deviation.T.ravel(), w[:, 0], reflect(w[:, 1], chain)[1:]]), (sd_w, w, f)

    rng = np.random.default_rng(4)
    gaps = []
    for _ in range(3):
        x = np.concatenate(
            [rng.uniform(0.1, 0.4, 2), rng.uniform(0.7, 1.3, 2), rng.normal(0, 1, 1)]
            + [rng.normal(0, 0.7, 2 * n_trial - 5), rng.normal(0, 0.3, 11)]
        )
        beta = data.beta_loc + rng.normal(0, 0.3, 3)
        sd_n, log_alpha = rng.uniform(0.2, 0.6), rng.normal(1.5, 0.3)
        rest = {
            "sd_neuron_log__": np.log([sd_n]),
            "factor_mean_offset": rng.normal(0, 1, 2),
            "beta": beta,
            "b_neuron_centered": (neuron_of @ beta + rng.normal(0, sd_n, 6))[:, None],
            "log_alpha": np.asarray(log_alpha),
        }
        values, (sd_w, w, f) = original(x, rest)
        rotated = reflect(w[:, 1], chain)  # factor 2 in the complement of the first direction
        assert abs(rotated[0]) < 1e-10
        theta = rest["b_neuron_centered"][:, 0] - w @ f.mean(axis=0)  # each neuron's intercept
        eta = X @ beta + (theta - neuron_of @ beta)[design.obs_neuron] + (w @ f.T)[design.obs_neuron, design.obs_trial]
        mu, alpha = np.exp(eta) * dur, np.exp(log_alpha)
        direct = (
            scipy.stats.norm.logpdf(beta, data.beta_loc, data.beta_scale).sum()
            + scipy.stats.norm.logpdf(theta, neuron_of @ beta, sd_n).sum()
            + scipy.stats.norm.logpdf(np.concatenate([w[:, 0], rotated[1:]]), 0.0, np.repeat(sd_w, [6, 5])).sum()
            + scipy.stats.norm.logpdf(f).sum()
            + scipy.stats.halfnorm.logpdf(sd_w, scale=p["loading_scale"]).sum()
            + scipy.stats.halfnorm.logpdf(sd_n, scale=data.sd_scale[0][0])
            + scipy.stats.norm.logpdf(log_alpha, p["log_alpha_loc"], p["log_alpha_scale"])
            + scipy.stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu)).sum()
        )
        step = 1e-6
        jac = np.empty((x.size, x.size))
        for k in range(x.size):
            dx = np.zeros(x.size)
            dx[k] = step
            jac[:, k] = (original(x + dx, rest)[0] - original(x - dx, rest)[0]) / (2 * step)
        log_jacobian = np.linalg.slogdet(jac)[1]
        gaps.append(logp(point_of(x, rest)) - direct - log_jacobian)
    assert np.ptp(gaps) < 1e-5, gaps

"""``HierarchicalGLM``: count regressions written as formulas, with each neuron's coefficients partially pooled.

Model (observations o = valid (neuron, trial) pairs, exposure d_o in s)::

    log r_o  = x_o' beta + sum_g z_o,g' b_g[level_g(o)]          log rate (Hz) of the observation
    beta_j   ~ Normal(loc_j, scale_j)                            fixed effects, priors scaled to the covariates
    b_g[l]   ~ MvNormal(0, diag(sd_g) C_g diag(sd_g))             effects of level l of grouping g
    sd_g,k   ~ HalfNormal(scale_g,k),  C_g = L L',  L ~ LKJCholesky(eta)
    y_o      ~ NegativeBinomial(mu = r_o d_o, alpha_u(o)),   Var = mu + mu**2 / alpha

``(1 + x || g)`` (or ``correlated=False``) makes a grouping's effects independent (C_g = I). Poisson (the
alpha -> infinity limit) and COM-Poisson (``nu``) are the other families; the dispersion is per neuron,
pooled across neurons or shared, and with ``dispersion_by`` per level of a coordinate too (glmmTMB's
``dispformula``). Posterior names: ``beta`` (coef), ``sd_<g>`` (<g>_effect), ``corr_<g>``, ``b_<g>``
(<g>, <g>_effect), ``alpha`` / ``nu`` (and ``mu_a``, ``tau_a`` / ``mu_nu``, ``tau_nu`` when pooled).
Shared variability: ``(1 | trial)`` is a log gain per trial shared by the neurons, ``shared=k`` adds
``sum_j w_ij f_jt`` (``loading``, ``factor_score``; ``spikepool.results.glm_shared``). Both are sampled in
coordinates that remove the directions the likelihood cannot see: the trial gains' projection on the fixed
part is swept into ``beta`` (``spikepool.models.glm_parts``); the factor scores' mean is swept into the neurons'
intercepts, their scales and shears into the loadings (``spikepool.models.glm_factors``).
The formula and its checks: ``spikepool.counts.design``, ``spikepool.checks.design``; the priors:
``spikepool.models.glm_data``; the likelihood is ``window_loglik`` over observations grouped by their mean
(``spikepool.stats.glm``), so the window model's designs written as formulas cost what the window model does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_choice
from spikepool.checks.counts import check_valid_counts
from spikepool.checks.design import check_design
from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentTypeError
from spikepool.models.base import SAMPLERS, Model
from spikepool.models.components import check_family_options
from spikepool.models.glm_data import GLMData, glm_priors, prepare_glm
from spikepool.models.glm_factors import shared_factors, shared_gain
from spikepool.models.glm_parts import (
    absorbing_grouping,
    fixed_part,
    orthogonal_part,
    parent_levels,
    rows_of,
    within_level,
)
from spikepool.models.likelihoods import com_loglik, take, window_loglik
from spikepool.results.glm import GLMResult, add_glm_groups
from spikepool.results.glm_shared import align_factor_signs
from spikepool.stats.families import FAMILIES, family_of

__all__ = ["HierarchicalGLM"]

DISPERSIONS = ("neuron", "pooled", "shared")
PARAMETERIZATIONS = ("auto", "centered", "noncentered")
#: NUTS ``target_accept`` when some level of a grouping is sampled non-centered (sparse levels).
SPARSE_TARGET_ACCEPT = 0.95


class HierarchicalGLM(Model):
    """Count regression from a formula over the counts' coordinates, with partially pooled effects.

    Parameters
    ----------
    formula : str
        ``"[count ~] fixed + (effects | grouping)"`` (default ``"count ~ 1 + (1 | neuron)"``, the window
        model's partial pooling) in the syntax of brms / lme4 / Bambi, parsed by
        ``formulae``: names are coordinates of the counts (trial: ``condition``, ``block_trial``,
        ``direction``; neuron: ``tetrode``, ``depth``; ``neuron`` and ``trial``), with interactions,
        categorical coding, ``scale(x)``, ``bs(x, df=4)`` splines and numpy functions
        (``np.cos(np.radians(direction))``). The response is the counts; the exposure ``duration`` is an
        offset, so every coefficient is on log rate in Hz. Unrecorded (``valid=False``) pairs are left out.
    likelihood : {"negbin", "poisson", "com_poisson"}
        Negative Binomial (``Var = mu + mu**2 / alpha``), Poisson, or COM-Poisson (``nu``).
    dispersion : {"neuron", "pooled", "shared"}
        alpha (or nu) per neuron; per neuron with ``log alpha_i ~ Normal(mu_a, tau_a)``; one for all.
    dispersion_by : str, optional
        A trial or neuron coordinate (e.g. ``"condition"``): the dispersion varies by its levels too
        (per neuron and level, or per level when shared).
    priors : dict, optional
        Overrides of ``spikepool.models.glm_data.GLM_PRIORS``; by name, ``{"coef": {"block_trial": 0.1}}`` (a
        fixed column's Normal sd, or a ``(loc, sd)`` pair) and ``{"group_sd": {"neuron": 0.5}}`` (a grouping's
        SD scale).
    correlated : bool
        Whether the effects of one grouping are correlated (LKJ); ``(a || g)`` blocks are independent anyway.
    shared : int
        The number of factors shared by the neurons recorded on a trial (0: none): neuron i's log rate on trial
        t gains ``sum_j w_ij f_jt`` with ``f_jt ~ Normal(0, 1)`` and loadings ``w_ij ~ Normal(0, sd_loading_j)``
        pooled across neurons; factor j's loadings orthogonal to the data's first j - 1 directions of shared
        variation (no rotation left, ``spikepool.models.glm_data.shared_directions``), each factor's sign fixed
        per draw after sampling (``spikepool.results.glm_shared.align_factor_signs``); sampled in coordinates
        without the likelihood's flat directions (``spikepool.models.glm_factors``). ``(1 | trial)`` in the
        formula is the one-factor case with every loading equal (a gain shared by all). See
        ``GLMResult.variance_partition``, ``noise_correlations`` and ``gains``.
    parameterization : {"auto", "centered", "noncentered"}
        Of each grouping's levels; "auto" centres a level whose data pin its effects
        (``spikepool.stats.glm.choose_centered_levels``), the others non-centered.
    sampler : {"auto", "pymc", "nutpie", "numpyro"}
        As in ``HierarchicalNegBinom``.

    Raises
    ------
    ArgumentError
        An option outside its choices or a family / dispersion / sampler combination it cannot fit.
        ``check`` and ``fit`` raise ``FormulaError`` for a formula that does not parse or names no coordinate,
        and ``fit`` raises ``IdentifiabilityError`` before sampling for a design the counts cannot identify.
    ArgumentTypeError
        ``formula`` not a str, ``priors`` not a dict, ``correlated`` not a bool, ``shared`` not an int >= 0.

    Notes
    -----
    ``fit`` runs the counts' checks and the design's (``spikepool.checks.design``: slopes without variation,
    a rank-deficient or confounded design, groupings with fewer than 3 levels, covariate scales) and refuses
    an unusable formula (``FormulaError``) before anything is sampled; it returns a ``GLMResult``
    (``coefficients``, ``predict``, ``tuning``, ``summary``, ``loo``, ``compare``, ``to_netcdf``).

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, truth = sp.simulate_counts(6, 12, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)
    >>> model = sp.HierarchicalGLM("count ~ 1 + (1 | neuron)", dispersion="shared")
    >>> sorted(v.name for v in model.build(counts).free_RVs)
    ['b_neuron_centered', 'beta', 'log_alpha', 'sd_neuron']
    """

    MODEL = "HierarchicalGLM"

    def __init__(
        self,
        formula: str = "count ~ 1 + (1 | neuron)",
        likelihood: str = "negbin",
        dispersion: str = "neuron",
        dispersion_by: str | None = None,
        priors: dict | None = None,
        correlated: bool = True,
        parameterization: str = "auto",
        sampler: str = "auto",
        shared: int = 0,
    ) -> None:
        if not isinstance(formula, str):
            raise ArgumentTypeError(
                f"formula must be a str such as 'count ~ x + (1 + x | neuron)'; got {type(formula).__name__}."
            )
        self.formula = formula
        self.likelihood = check_choice("likelihood", likelihood, tuple(FAMILIES))
        self.dispersion = check_choice("dispersion", dispersion, DISPERSIONS)
        check_family_options(self.likelihood, self.dispersion, sampler)
        if dispersion_by is not None and not isinstance(dispersion_by, str):
            raise ArgumentTypeError(
                f"dispersion_by must be a coordinate name (str); got {type(dispersion_by).__name__}."
            )
        self.dispersion_by = dispersion_by
        self.priors = glm_priors(priors)
        if not isinstance(correlated, bool):
            raise ArgumentTypeError(f"correlated must be True or False; got {correlated!r}.")
        self.correlated = correlated
        if isinstance(shared, bool) or not isinstance(shared, int | np.integer) or shared < 0:
            raise ArgumentTypeError(f"shared must be a number of factors (an int >= 0); got {shared!r}.")
        self.shared = int(shared)
        self.parameterization = check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.sampler = check_choice("sampler", sampler, SAMPLERS)

    def __repr__(self) -> str:
        return (
            f"HierarchicalGLM({self.formula!r}, likelihood={self.likelihood!r}, dispersion={self.dispersion!r}"
            + (f", dispersion_by={self.dispersion_by!r}" if self.dispersion_by else "")
            + ("" if self.correlated else ", correlated=False")
            + (f", shared={self.shared}" if self.shared else "")
            + ")"
        )

    def spec(self) -> dict[str, Any]:
        """The model's arguments (JSON-able), as stored with results."""
        return {
            "model": self.MODEL,
            "formula": self.formula,
            "likelihood": self.likelihood,
            "dispersion": self.dispersion,
            "dispersion_by": self.dispersion_by,
            "priors": {k: dict(v) if isinstance(v, dict) else v for k, v in self.priors.items()},
            "correlated": self.correlated,
            "parameterization": self.parameterization,
            "sampler": self.sampler,
            "shared": self.shared,
        }

    def prepare(self, counts: xr.DataArray | GLMData) -> GLMData:
        """The counts validated once, with the formula's design, likelihood groups, priors and parameterisation.

        Parameters
        ----------
        counts : xarray.DataArray
            DataArray (neuron, trial[, time]) (binned counts are summed over time).
        """
        if isinstance(counts, GLMData):
            return counts
        return prepare_glm(
            counts,
            formula=self.formula,
            dispersion=self.dispersion,
            dispersion_by=self.dispersion_by,
            priors=self.priors,
            correlated=self.correlated,
            parameterization=self.parameterization,
            shared=self.shared,
        )

    def _check(self, data: GLMData) -> CheckReport:
        dispersion = "poisson" if self.likelihood == "poisson" else self.dispersion
        counts_report = check_valid_counts(data.counts, dispersion=dispersion, likelihood=self.likelihood)
        problems = check_design(data.design, shared=data.shared, n_neurons=data.counts.sizes["neuron"])
        return CheckReport(
            f"formula {self.formula!r}: {counts_report.title}",
            [*counts_report.problems, *problems],
            checked=(
                *counts_report.checked,
                "slope_no_variation",
                "rank_deficient",
                "group_confounded",
                "few_levels",
                "covariate_scale",
                "shared_neurons",
                "shared_factors",
                "trial_confounded",
            ),  # fmt: skip
            summary=counts_report.summary,
        )

    # ------------------------------------------------------------------ build
    def _build(self, data: GLMData):
        """The ``pm.Model`` (a ``pm.Potential`` ``loglik`` over the observations grouped by mean)."""
        import pymc as pm
        import pytensor.tensor as pt

        design, obs = data.design, data.obs
        coords: dict[str, Any] = {"coef": list(design.coefs), **data.unit_coords}
        for g in design.groups:
            coords[g.key] = g.levels
            coords[f"{g.key}_effect"] = list(g.effects)
            coords[f"{g.key}_effect_bis"] = list(g.effects)
        if data.shared:
            coords["neuron"] = data.counts["neuron"].values.astype(str)
            coords["trial"] = data.counts["trial"].values.astype(str)
            coords["factor"] = [f"f{j + 1}" for j in range(data.shared)]
        with pm.Model(coords=coords) as model:
            sweep = data.sweep
            if sweep is None:
                beta = pm.Normal("beta", data.beta_loc, data.beta_scale, dims="coef")
            else:  # the swept grouping's projection on the fixed part in the coefficients (models.glm_parts)
                g = design.groups[sweep.index]
                sd_swept = self._sd_prior(pm, g.key, data.sd_scale[sweep.index])
                z = pm.Normal(f"b_{g.key}_fixed_offset", 0.0, 1.0, shape=sweep.columns.size)
                a = sd_swept[0] * pt.dot(sweep.cov_chol, z)
                moved = pt.zeros(len(design.coefs))[sweep.columns].set(a)
                beta = pm.Normal("beta_centered", data.beta_loc + moved, data.beta_scale, dims="coef")
                pm.Deterministic("beta", beta - moved, dims="coef")
            eta = fixed_part(pt, obs.X, beta)
            # the factors' mean gain of each neuron, sum_j w_ij mean_j, swept into its intercept (absorb, level,)
            absorb, neuron_of_level = (None, None) if not data.shared else absorbing_grouping(design)
            if sweep is not None and absorb == sweep.index:
                absorb = None
            if data.shared:
                scaled, unit, loading, mean = shared_factors(pm, pt, data, self.priors["loading_scale"])
                if absorb is not None:
                    swept_in = pt.dot(loading, mean)[neuron_of_level]
            built: dict[int, Any] = {}
            # coarser groupings first: a finer level's centered effects are centred on its coarser levels' effects
            for i in sorted(range(len(design.groups)), key=lambda i: design.groups[i].n_levels):
                g = design.groups[i]
                if sweep is not None and i == sweep.index:
                    built[i] = self._swept_effects(pm, pt, g, sd_swept, data.centered[i], sweep, a)
                    continue
                shift = self._shift(pt, data, i, beta, built, sweep)
                if i == absorb:  # theta_i + sum_j w_ij mean_j drawn around shift + the same
                    shift = pt.set_subtensor(shift[:, 0], shift[:, 0] + swept_in)
                built[i] = self._group_effects(pm, pt, g, data.sd_scale[i], data.centered[i], shift)
            for i in range(len(design.groups)):
                for k in range(obs.Z[i].shape[1]):
                    level_effect = built[i][:, k] + (swept_in if i == absorb and k == 0 else 0.0)
                    column = take(level_effect, obs.levels[i])
                    eta = eta + (column if np.all(obs.Z[i][:, k] == 1.0) else obs.Z[i][:, k] * column)
            if data.shared:  # scaled @ unit: the deviations' gain; the mean's is swept in or added here
                eta = eta + shared_gain(data, scaled, unit)
                if absorb is None:
                    eta = eta + take(pt.dot(loading, mean), data.obs.by[0])
            log_mu = eta + np.log(obs.groups.duration)
            family = family_of(self.likelihood)
            dispersion = self._dispersion(pm, pt, data) if family.dispersion_names else None
            if family.name == "com_poisson":
                nu = (
                    dispersion[obs.groups.neuron] if dispersion.ndim == 1 else pt.broadcast_to(dispersion, log_mu.shape)
                )
                pm.Potential("loglik", com_loglik(log_mu, nu, obs.groups.total, obs.groups.n, obs.groups.lf_sum))
            else:
                pm.Potential("loglik", window_loglik(family, obs.groups, obs.pairs, log_mu, dispersion))
        return model

    @staticmethod
    def _shift(pt, data: GLMData, i: int, beta, built: dict, sweep=None):
        """(level, effect): what each centered level's effects are centred on (hierarchical centering).

        A centered level samples its coefficients ``theta = shift + b``, not its deviation ``b``: the intercept
        is centred on the fixed columns that are constant within the level (the intercept, a condition's code
        within a neuron x condition level) and the intercept of the coarser level it lies in, a slope on the
        population's slope of the same column (and the coarser level's). Any
        shift that does not depend on ``b`` leaves the model unchanged; this one removes the ridge between a
        population mean and the deviations around it that makes NUTS crawl when the data pin each level.
        """
        design = data.design
        g = design.groups[i]
        coefs = list(design.coefs)
        # a fixed column a crossed grouping built before already centres its intercepts on is left to it: centred
        # twice (neuron and trial intercepts both on the Intercept) the likelihood depends on theta_i + theta_t -
        # beta, a ridge along which NUTS crawled (R-hat 1.1-2.3 on (1 | neuron) + (1 | trial), 20 x 300)
        taken = set()
        for j in built:
            if sweep is not None and j == sweep.index:  # centred on nothing: its projection is in beta
                continue
            crossed = design.groups[j]
            if "Intercept" in crossed.effects and parent_levels(g.level, crossed.level, g.n_levels) is None:
                taken |= set(np.flatnonzero(within_level(design, crossed).any(axis=0)))
        columns = []
        for effect in g.effects:
            W = np.zeros((g.n_levels, len(coefs)))
            if effect == "Intercept":  # the fixed columns that are constant within the level
                W = within_level(design, g)
                W[:, sorted(taken)] = 0.0
            elif effect in coefs:
                W[:, coefs.index(effect)] = 1.0
            column = rows_of(pt, W, beta)
            for j, parent in built.items():
                coarse = design.groups[j]
                if effect not in coarse.effects:
                    continue
                index = parent_levels(g.level, coarse.level, g.n_levels)
                if index is None:
                    continue
                value = parent[np.maximum(index, 0), coarse.effects.index(effect)]
                column = column + (value if (index >= 0).all() else pt.where(index >= 0, value, 0.0))
            columns.append(column)
        return pt.stack(columns, axis=1)

    def _group_effects(self, pm, pt, g, scale: np.ndarray, prefix: np.ndarray, shift):
        """``b_<g>`` (level, effect): each level's leading ``prefix`` effects centered (``theta = shift + b``
        drawn), the rest non-centered given them (``spikepool.stats.glm.choose_centered_levels``)."""
        p = self.priors
        k, key = len(g.effects), g.key
        dims = (key, f"{key}_effect")
        if k > 1 and g.correlated:
            sd_dist = (pm.HalfCauchy if p["sd"] == "halfcauchy" else pm.HalfNormal).dist(scale, shape=k)
            chol, corr, sd = pm.LKJCholeskyCov(
                f"chol_{key}", n=k, eta=p["lkj_eta"], sd_dist=sd_dist, compute_corr=True, store_in_trace=False
            )
            pm.Deterministic(f"sd_{key}", sd, dims=f"{key}_effect")
            pm.Deterministic(f"corr_{key}", corr, dims=(f"{key}_effect", f"{key}_effect_bis"))
        else:
            sd, chol = self._sd_prior(pm, key, scale), None
        parts, order = [], []
        for m in np.unique(prefix):
            idx = np.flatnonzero(prefix == m)
            n = idx.size
            if m == 0:
                z = pm.Normal(f"b_{key}_offset", 0.0, 1.0, shape=(n, k))
                parts.append(z * sd if chol is None else pt.dot(z, chol.T))
            elif chol is None:  # independent effects: each centered or not on its own
                name = f"b_{key}_centered" if m == k else f"b_{key}_lead{m}_centered"
                theta = pm.Normal(name, shift[idx, :m], sd[:m], shape=(n, m))
                b_c = theta - shift[idx, :m]
                if m < k:
                    z = pm.Normal(f"b_{key}_lead{m}_offset", 0.0, 1.0, shape=(n, k - m))
                    b_c = pt.concatenate([b_c, z * sd[m:]], axis=1)
                parts.append(b_c)
            elif m == k:
                theta = pm.MvNormal(f"b_{key}_centered", mu=shift[idx], chol=chol, shape=(n, k))
                parts.append(theta - shift[idx])
            else:  # the leading m centered, the rest from their conditional given them
                lead = chol[:m, :m]
                theta = pm.MvNormal(f"b_{key}_lead{m}_centered", mu=shift[idx, :m], chol=lead, shape=(n, m))
                b_c = theta - shift[idx, :m]
                u = pt.linalg.solve_triangular(lead, b_c.T, lower=True)  # (m, n): the standard normals of b_c
                z = pm.Normal(f"b_{key}_lead{m}_offset", 0.0, 1.0, shape=(n, k - m))
                b_n = (pt.dot(chol[m:, :m], u) + pt.dot(chol[m:, m:], z.T)).T
                parts.append(pt.concatenate([b_c, b_n], axis=1))
            order.append(idx)
        stacked = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
        return pm.Deterministic(f"b_{key}", stacked[np.argsort(np.concatenate(order))], dims=dims)

    def _sd_prior(self, pm, key: str, scale: np.ndarray):
        """``sd_<g>`` (<g>_effect): the independent effects' between-level sds."""
        if self.priors["sd"] == "halfcauchy":
            return pm.HalfCauchy(f"sd_{key}", beta=scale, dims=f"{key}_effect")
        return pm.HalfNormal(f"sd_{key}", sigma=scale, dims=f"{key}_effect")

    @staticmethod
    def _swept_effects(pm, pt, g, sd, prefix: np.ndarray, sweep, a):
        """(level, 1): the swept grouping's effects orthogonal to the fixed part, ``Q u`` with ``u ~ N(0, sd)``
        (centered when most levels are informative); ``b_<g>`` = ``W a + Q u`` is recorded."""
        if 2 * np.count_nonzero(prefix) >= prefix.size:
            u = pm.Normal(f"b_{g.key}_centered", 0.0, sd[0], shape=sweep.n_free)
        else:
            u = sd[0] * pm.Normal(f"b_{g.key}_offset", 0.0, 1.0, shape=sweep.n_free)
        rest = orthogonal_part(sweep, u, pt)
        pm.Deterministic(f"b_{g.key}", (rest + pt.dot(sweep.W, a))[:, None], dims=(g.key, f"{g.key}_effect"))
        return rest[:, None]

    def _dispersion(self, pm, pt, data: GLMData):
        """alpha (or nu) flattened over the dispersion units (a vector), or a scalar when there is one."""
        p = self.priors
        name = "nu" if self.likelihood == "com_poisson" else "alpha"
        loc = p[f"log_{name}_loc"]
        scale = p[f"log_{name}_scale"]
        dims = data.unit_dims or None
        if self.dispersion == "pooled":
            short = "a" if name == "alpha" else "nu"
            pooled_mu = pm.Normal(f"mu_{short}", loc, scale)
            pooled_tau = pm.HalfNormal(f"tau_{short}", p[f"tau_{name}_scale"])
            z = pm.Normal(f"log_{name}_offset", 0.0, 1.0, dims=dims)
            value = pm.Deterministic(name, pt.exp(pooled_mu + pooled_tau * z), dims=dims)
        else:
            log_value = pm.Normal(f"log_{name}", loc, scale, dims=dims)
            value = pm.Deterministic(name, pt.exp(log_value), dims=dims)
        return value.reshape((-1,)) if data.unit_dims else value

    # ------------------------------------------------------------------ fit (the hooks of Model.fit)
    def _prior_names(self, data: GLMData, model) -> list[str]:
        return [n for n in model.named_vars if n.startswith("sd_") or n in ("tau_a", "tau_nu")]

    def _sample_options(self, data: GLMData, model, sampler: str, spec: dict, kwargs: dict) -> dict:
        given = kwargs.get("target_accept", kwargs.get("nuts", {}).get("target_accept"))
        sparse = any((c < len(g.effects)).any() for g, c in zip(data.design.groups, data.centered, strict=True))
        if given is None and sparse:
            kwargs["target_accept"] = SPARSE_TARGET_ACCEPT
        spec["target_accept"] = float(given) if given is not None else (SPARSE_TARGET_ACCEPT if sparse else None)
        if sampler == "pymc" and "initvals" not in kwargs:
            kwargs["initvals"] = {"beta" if data.sweep is None else "beta_centered": data.beta_start}
        return kwargs

    def _fit_spec(self, data: GLMData, report: CheckReport) -> tuple[dict, CheckReport]:
        spec = self.spec()
        if data.shared:
            spec["loading_centered"] = list(data.loading_centered)
        centered = [np.asarray(c) for c in data.centered]
        sweep = data.sweep
        if sweep is not None:  # all or none (``_swept_effects``)
            c = centered[sweep.index]
            centered[sweep.index] = np.full(c.size, int(2 * np.count_nonzero(c) >= c.size))
        spec["centered"] = {g.key: [int(v) for v in c] for g, c in zip(data.design.groups, centered, strict=True)}
        return spec, report

    def _result(self, tree, data: GLMData, model, spec: dict, report: CheckReport, random_seed) -> GLMResult:
        if data.shared:
            groups = {name: tree[name].to_dataset() for name in tree.children}
            groups["posterior"] = align_factor_signs(groups["posterior"], data.directions)
            attrs, tree = tree.attrs, xr.DataTree.from_dict(groups)
            tree.attrs = attrs
        tree = add_glm_groups(tree, data, spec)
        first = data.design.groups[0] if data.design.groups else None
        centered = data.centered[0] == len(first.effects) if first else np.zeros(0, dtype=bool)
        return GLMResult(
            idata=tree, counts=data.counts, spec=spec, pre_checks=report, post_checks=GLMResult.check(tree),
            centered=centered, design=data.design,
        )  # fmt: skip

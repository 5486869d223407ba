"""``GLMResult``: the posterior of a ``HierarchicalGLM`` fit, with coefficients, predictions and tuning curves.

The idata holds ``posterior`` (``beta`` over ``coef``; per grouping ``sd_<g>``, ``corr_<g>``, ``b_<g>``; the
dispersion), ``sample_stats``, ``prior``, ``observed_data`` (``y`` over ``obs``: every valid (neuron, trial)
pair, the order of ``FitResult``'s, so the two compare by LOO), ``constant_data`` and the counts. The formula's
design is rebuilt from the counts and the stored formula (``spikepool.counts.design``) after reading a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob, did_you_mean
from spikepool.checks.counts import check_counts
from spikepool.checks.design import check_design
from spikepool.checks.problems import CheckReport, Problem
from spikepool.checks.sampling import check_sampling
from spikepool.counts.design import Design, dispersion_units, formula_design
from spikepool.exceptions import ArgumentError
from spikepool.results import glm_shared as shared
from spikepool.results.base import Result
from spikepool.results.fit import (
    MAX_LOGLIK_VALUES,
    RECOMPUTED,
    data_groups,
    require_counts,
    same_counts,
    with_derived,
    write_counts_result,
)
from spikepool.results.glm_predict import predict_rates, tuning_table
from spikepool.stats.families import family_of
from spikepool.stats.glm import design_groups
from spikepool.stats.intervals import draw_summary

__all__ = ["GLMResult", "add_glm_groups", "glm_internal"]

REMEDIES = (
    "(1) raise target_accept (e.g. 0.99), (2) use parameterization='noncentered' for sparse levels or 'centered' "
    "for data-rich ones, (3) centre and scale covariates (scale(x) in the formula), (4) run more tuning and draws"
)


def glm_internal(post: xr.Dataset) -> tuple[str, ...]:
    """The sampler's own variables of a formula model's posterior (offsets, centered parts): not kept."""
    return tuple(n for n in post.data_vars if n.endswith(("_offset", "_centered")) or n.startswith("chol_"))


def add_glm_groups(idata: xr.DataTree, data, spec: dict) -> xr.DataTree:
    """The sampled tree with the derived posterior, observed and constant data, the counts and the ``spec``."""
    groups = {name: idata[name].to_dataset() for name in idata.children if name != "log_likelihood"}
    post = groups["posterior"]
    groups["posterior"] = with_derived(post, glm_internal(post))
    groups.update(data_groups(data.counts, data.design))
    groups["spikepool_counts"] = data.counts.to_dataset(name="counts")
    if "prior" in groups:
        groups["prior"] = groups["prior"].drop_vars(list(glm_internal(groups["prior"])))
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


def sign_switches(post: xr.Dataset) -> Problem | None:
    """A ``factor_sign`` error when a shared factor's loadings point opposite ways in two chains (each chain's
    mean loadings correlate negatively): aligning each draw with the factor's direction did not fix its sign."""
    if "loading" not in post or post.sizes["chain"] < 2:
        return None
    means = post["loading"].mean("draw").transpose("chain", "neuron", "factor").values
    flipped = []
    for j, name in enumerate(post["factor"].values):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.corrcoef(means[:, :, j])
        if np.nanmin(r) < 0:
            flipped.append(str(name))
    if not flipped:
        return None
    return Problem(
        "factor_sign",
        "error",
        f"the loadings of shared factor(s) {flipped} must agree between chains; got chains whose mean loadings are "
        "of opposite sign: the data hardly tell the factor's direction.",
        "use fewer factors (shared=k), or more draws.",
        parameters=tuple(f"loading[factor={f}]" for f in flipped),
    )


def _diagnosed(post) -> list[str]:
    names = ["beta"]
    names += [n for n in post.data_vars if n.startswith(("sd_", "b_"))]
    names += [n for n in ("alpha", "nu", "mu_a", "tau_a", "mu_nu", "tau_nu", "loading") if n in post.data_vars]
    return names


@dataclass(kw_only=True, repr=False)
class GLMResult(Result):
    """A fitted ``HierarchicalGLM`` (the ``Result`` contract, plus coefficients, predictions and tuning).

    Attributes
    ----------
    counts : xarray.DataArray
        The counts (neuron, trial[, time]) that were fitted.
    design : Design
        The formula's design over the valid (neuron, trial) pairs.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> rng = np.random.default_rng(0)
    >>> direction = np.tile(np.arange(0, 360, 45), 3)  # 24 trials, 8 directions
    >>> log_gain = rng.normal(0.0, 0.5, 24)  # one per trial, shared by the 12 neurons
    >>> rate = np.exp(2.0 + rng.normal(0.0, 0.5, (12, 1)) + 0.5 * np.cos(np.radians(direction)) + log_gain)
    >>> counts = sp.from_array(rng.poisson(rate), duration=1.0).assign_coords(direction=("trial", direction))
    >>> formula = "count ~ np.cos(np.radians(direction)) + np.sin(np.radians(direction)) + (1 | neuron) + (1 | trial)"
    >>> model = sp.HierarchicalGLM(formula, likelihood="poisson")
    >>> result = model.fit(counts, draws=1000, tune=500, chains=2, random_seed=0, progressbar=False)
    >>> type(result).__name__, result.post_checks.warnings
    ('GLMResult', [])
    >>> list(result.design.coefs)
    ['Intercept', 'np.cos(np.radians(direction))', 'np.sin(np.radians(direction))']
    >>> result.coefficients()["mean"].dims, result.gains()["mean"].dims
    (('neuron', 'coef'), ('trial', 'term'))
    """

    MODEL = "HierarchicalGLM"
    REMEDIES = REMEDIES

    counts: xr.DataArray
    design: Design | None = None

    def __post_init__(self) -> None:
        if self.design is None:  # rebuilt from the counts and the stored formula
            self.design = formula_design(self.counts, self.spec["formula"], self.spec["correlated"])

    # ------------------------------------------------------------------ contract
    @classmethod
    def check(cls, tree: xr.DataTree) -> CheckReport:
        """``check_sampling`` of the fixed effects, random-effect SDs and effects, and the dispersion."""
        post = tree["posterior"]
        names = _diagnosed(post)
        scales = tuple(n for n in post.data_vars if n.startswith("sd_")) + ("tau_a", "tau_nu")
        report = check_sampling(tree, var_names=names, scale_params=scales, remedies=cls.REMEDIES)
        switched = sign_switches(post)
        if switched:
            report = CheckReport(report.title, [*report.problems, switched], checked=(*report.checked, "factor_sign"),
                                 summary=report.summary)  # fmt: skip
        return report

    @property
    def name(self) -> str:
        return f"{self.spec['formula']} [{self.spec['likelihood']}/{self.spec['dispersion']}]"

    def summary(self, ci_prob: float = 0.94):
        """Fixed effects, random-effect SDs and correlations (one row per pair), shared factors' loadings and
        their sd, dispersion: mean, sd, the equal-tailed ``ci_prob`` interval, ESS and R-hat
        (``arviz_stats.summary``)."""
        ci_prob = check_ci_prob(ci_prob)
        import arviz_stats as azs

        post = self.posterior
        keep = {"beta": post["beta"]}
        for g in self.design.groups:
            keep[f"sd_{g.key}"] = post[f"sd_{g.key}"]
            name = f"corr_{g.key}"
            if name in post and len(g.effects) > 1:
                i, j = np.tril_indices(len(g.effects), -1)
                pairs = [f"{g.effects[a]}, {g.effects[b]}" for a, b in zip(i, j, strict=True)]
                values = post[name].values[..., i, j]
                keep[name] = xr.DataArray(values, dims=("chain", "draw", f"{g.key}_pair"),
                                          coords={f"{g.key}_pair": pairs})  # fmt: skip
        for name in ("sd_loading", "loading", "mu_a", "tau_a", "mu_nu", "tau_nu", "alpha", "nu"):
            if name in post:
                keep[name] = post[name]
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset(keep)})
        return azs.summary(tree, ci_prob=ci_prob)

    def same_data(self, other: Result) -> bool:
        """Whether ``other`` was fitted to the same counts (a ``HierarchicalNegBinom`` fit too)."""
        return same_counts(self.counts, other)

    def pointwise(self) -> xr.DataTree:
        """The DataTree with the pointwise log-likelihood ``y`` (chain, draw, obs) of every valid (neuron, trial)."""
        if "log_likelihood" in self.idata.children:
            return self.idata
        post, design, spec = self.posterior, self.design, self.spec
        n_values = post.sizes["chain"] * post.sizes["draw"] * design.n_obs
        if n_values > MAX_LOGLIK_VALUES:
            raise ArgumentError(
                f"LOO needs the pointwise log-likelihood of at most {MAX_LOGLIK_VALUES:,} values (chains x draws x "
                f"valid neuron-trials); got {n_values:,}. Hint: compare fits on a subset of neurons or fewer draws."
            )
        unit, _, _ = dispersion_units(self.counts, design, spec["dispersion"], spec["dispersion_by"])
        obs = design_groups(design, unit, spec.get("shared", 0))
        eta = _group_eta(post, design, obs)  # (sample, group)
        mu = np.exp(eta[:, obs.obs_group] + np.log(design.duration))
        family = family_of(spec["likelihood"])
        disp = None
        if family.dispersion_names:
            every = np.arange(eta.shape[0])
            disp = np.broadcast_to(shared.observation_dispersion(post, spec, unit, every), mu.shape)
        loglik = family.logpmf(design.y, mu, disp).reshape(post.sizes["chain"], post.sizes["draw"], -1)
        coords = self.idata["observed_data"].to_dataset().coords
        self._add_group(
            "log_likelihood",
            xr.Dataset({"y": (("chain", "draw", "obs"), loglik)},
                       coords={"chain": post["chain"].values, "draw": post["draw"].values, **coords}),
        )  # fmt: skip
        return self.idata

    def to_netcdf(self, path) -> None:
        """Write the result (posterior, groups, counts, model spec), compressed; the pointwise log-likelihood,
        observed and constant data and the design are recomputed when it is read."""
        write_counts_result(self, path)

    @classmethod
    def from_tree(cls, tree: xr.DataTree, spec: dict, centered: np.ndarray) -> GLMResult:
        """The result of a stored tree; the design, its checks and the diagnostics are recomputed."""
        require_counts(tree, cls.MODEL)
        groups = {name: tree[name].to_dataset() for name in tree.children if name not in RECOMPUTED}
        groups["posterior"] = with_derived(groups["posterior"], ())
        counts = groups["spikepool_counts"]["counts"]
        design = formula_design(counts, spec["formula"], spec["correlated"])
        groups.update(data_groups(counts, design))
        attrs, tree = tree.attrs, xr.DataTree.from_dict(groups)
        tree.attrs = attrs
        dispersion = "poisson" if spec["likelihood"] == "poisson" else spec["dispersion"]
        report = check_counts(counts, dispersion=dispersion)
        problems = [*report.problems, *check_design(design, spec.get("shared", 0), counts.sizes["neuron"])]
        pre = CheckReport(report.title, problems, checked=report.checked, summary=report.summary)
        return cls(idata=tree, counts=counts, spec=spec, pre_checks=pre, post_checks=cls.check(tree),
                   centered=centered, design=design)  # fmt: skip

    # ------------------------------------------------------------------ tables
    def coefficients(self, group: str = "neuron", ci_prob: float = 0.94) -> xr.Dataset:
        """Each level's coefficients (population + its own deviation) with intervals and shrinkage.

        Parameters
        ----------
        group : str
            A grouping of the formula (``"neuron"``, ``"session"``, ``"neuron:condition"``).
        ci_prob : float
            Probability of the equal-tailed intervals.

        Returns
        -------
        xarray.Dataset
            (<group>, coef): ``mean``, ``lower``, ``upper`` of ``beta + b`` (the fixed effect where the grouping
            has no such effect; a level's intercept shifts every level mean of a categorical term coded without
            an intercept, ``0 + condition``), ``population`` (the posterior mean of ``beta``), ``deviation``
            (of ``b``), and
            ``shrinkage`` = posterior var(beta + b) / E[sd**2], clipped to [0, 1]: near 0 where a level's data pin
            its coefficient, 1 where it is the population's (in the Normal-Normal model the posterior variance of
            theta_j is B_j tau**2, so this is ``B = sigma**2 / (sigma**2 + tau**2)``); NaN for columns without a
            random effect.
        """
        ci_prob = check_ci_prob(ci_prob)
        g = self.design.group(group)
        if g is None:
            names = [x.name for x in self.design.groups]
            raise ArgumentError(
                f"group must be a grouping of the formula {self.spec['formula']!r} ({names}); got {group!r}."
                f"{did_you_mean(group, names)}"
            )
        post = self.posterior
        beta = post["beta"].transpose("chain", "draw", "coef").values.reshape(-1, len(self.design.coefs))
        b = post[f"b_{g.key}"].transpose("chain", "draw", ...).values.reshape(beta.shape[0], g.n_levels, -1)
        sd2 = (post[f"sd_{g.key}"].transpose("chain", "draw", ...).values.reshape(beta.shape[0], -1) ** 2).mean(0)
        coefs = list(self.design.coefs)
        total = np.repeat(beta[:, None, :], g.n_levels, axis=1)
        shrink = np.full((g.n_levels, len(coefs)), np.nan)
        deviation = np.zeros((beta.shape[0], g.n_levels, len(coefs)))
        for k, effect in enumerate(g.effects):
            if effect in coefs:
                columns = [coefs.index(effect)]
            elif effect == "Intercept":  # a categorical term coded without one: the deviation shifts each level mean
                columns = list(np.flatnonzero(self.design.intercept_like))
            else:
                columns = []
            for j in columns:
                total[:, :, j] += b[:, :, k]
                deviation[:, :, j] = b[:, :, k]
                shrink[:, j] = np.clip(total[:, :, j].var(axis=0) / sd2[k], 0.0, 1.0)
        mean, low, high = draw_summary(total, ci_prob)
        dims = (g.key, "coef")
        return xr.Dataset(
            {
                "mean": (dims, mean),
                "lower": (dims, low),
                "upper": (dims, high),
                "population": ("coef", beta.mean(axis=0)),
                "deviation": (dims, deviation.mean(axis=0)),
                "shrinkage": (dims, shrink),
            },
            coords={g.key: g.levels, "coef": coefs},
            attrs={"ci_prob": ci_prob, "interval": "equal-tailed", "scale": "log rate (Hz)"},
        )

    def predict(self, ci_prob: float = 0.94, **covariates) -> xr.Dataset:
        """Rates in Hz per neuron and for the population at covariate values (arrays make a grid).

        Every trial covariate of the fixed terms and slopes needs a value; a neuron's own coordinates and effects
        are used for its rows; the population is every grouping's effect at 0 (a typical neuron). For example
        ``result.predict(block_trial=np.arange(1, 26), condition="Citral_1")`` gives the rates over the first 25
        trials of a block of Citral; ``spikepool.plots.plot_predicted`` draws them.

        Returns
        -------
        xarray.Dataset
            ``mean``, ``lower``, ``upper`` (neuron, grid...) and ``population_mean``, ``population_lower``,
            ``population_upper`` (grid...), in Hz: ``grid`` the dims of the covariates given as arrays.
        """
        return predict_rates(self.posterior, self.design, self.counts, ci_prob, covariates)

    def tuning(self, covariate: str = "direction", ci_prob: float = 0.94, **at) -> xr.Dataset:
        """Von Mises tuning per neuron and for the population from the cos / sin terms of ``covariate``.

        ``b0 + b1 cos(theta) + b2 sin(theta) = b0 + depth cos(theta - preferred)`` on the log link:
        ``preferred = atan2(b2, b1)`` (circular mean and interval, in the covariate's units: degrees when the
        formula converts it with ``np.radians``), ``depth = sqrt(b1**2 + b2**2)``, and the ``peak`` and
        ``trough`` rates (Hz) with the other covariates at ``at`` (by default numeric ones at their mean,
        categorical ones at their most frequent level; ``attrs["at"]`` says which).

        Returns
        -------
        xarray.Dataset
            (neuron,): ``preferred``, ``depth``, ``peak``, ``trough``, each with ``_lower`` / ``_upper``; the same
            with a ``population_`` prefix (scalars).
        """
        return tuning_table(self.posterior, self.design, self.counts, covariate, ci_prob, at)

    def rates(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior mean rate (Hz) of every valid (neuron, trial): Dataset (neuron, trial) of mean, lower, upper
        (NaN where unrecorded)."""
        ci_prob = check_ci_prob(ci_prob)
        design = self.design
        obs = design_groups(design, np.zeros(design.n_obs, dtype=np.int64), self.spec.get("shared", 0))
        eta = _group_eta(self.posterior, design, obs)
        mean, low, high = draw_summary(np.exp(eta), ci_prob)
        shape = self.counts.shape[:2]
        out = {}
        for name, v in (("mean", mean), ("lower", low), ("upper", high)):
            full = np.full(shape, np.nan)
            full[design.obs_neuron, design.obs_trial] = v[obs.obs_group]
            out[name] = (("neuron", "trial"), full)
        coords = {"neuron": self.counts["neuron"].values, "trial": self.counts["trial"].values}
        return xr.Dataset(out, coords=coords, attrs={"ci_prob": ci_prob, "interval": "equal-tailed", "units": "Hz"})

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """The neurons' coefficients and their shrinkage (``coefficients("neuron")``)."""
        return self.coefficients("neuron", ci_prob)

    # ------------------------------------------------------------------ shared variability (glm_shared)
    def variance_partition(self, by: str | None = None, ci_prob: float = 0.94, max_draws: int | None = 1000):
        """The shares of each neuron's count variance that are Poisson, private and shared, with intervals.

        Per draw and valid trial the law of total variance splits a count's variance into Poisson (its mean),
        private (the count family's dispersion) and shared (the trial gains and factors) parts
        (``spikepool.results.glm_shared``); each part is summed over the neuron's valid trials (of each level
        of ``by``) and divided by their total.

        Parameters
        ----------
        by : str, optional
            A trial coordinate (e.g. ``"condition"``): shares per neuron and level of it.
        ci_prob : float
            Probability of the equal-tailed intervals.
        max_draws : int, optional
            Evenly spaced posterior draws used (None: all).

        Returns
        -------
        xarray.Dataset
            (neuron[, by], part) with part in ("poisson", "private", "shared"): ``mean``, ``lower``, ``upper``
            of the share; (neuron[, by]): ``fano`` (posterior mean variance / mean of the counts) and
            ``fano_private`` (the Fano factor without the shared part, what a model without it would fit).
        """
        return shared.variance_partition(self, by, ci_prob, max_draws)

    def noise_correlations(
        self, ci_prob: float = 0.94, max_draws: int | None = 500, n_boot: int = 1000, seed: int = 0
    ) -> xr.Dataset:
        """Model-implied correlations of the neurons' counts at fixed covariates, beside the raw r_sc.

        The model's: ``(exp(c_il) - 1) m_i m_l / sqrt(V_i V_l)`` per draw and trial (``c``: the covariance of
        the shared log gains; ``m``, ``V``: each count's mean and variance), averaged over the trials both
        neurons have. The raw r_sc: the Pearson correlation of the counts z-scored within condition (the counts'
        ``condition`` coordinate; all trials as one where there is none) over their common trials, with a
        bootstrap interval over trials.

        Returns
        -------
        xarray.Dataset
            (neuron, neuron_other): ``mean``, ``lower``, ``upper`` (model), ``raw``, ``raw_lower``,
            ``raw_upper``, ``n_trials`` (common valid trials); NaN on the diagonal.
        """
        return shared.noise_correlations(self, ci_prob, max_draws, n_boot, seed)

    def gains(self, ci_prob: float = 0.94) -> xr.Dataset:
        """The shared state of each trial: the ``(1 | trial)`` log gain and each factor's score, with intervals.

        Returns
        -------
        xarray.Dataset
            (trial, term): ``mean``, ``lower``, ``upper``, with term ``"trial"`` (the log gain shared by every
            neuron: exp of it multiplies their rates) and ``"f1"``, ... (factor scores: neuron i's log gain is
            its ``loading`` times the score); the counts' trial coordinates (``condition``, times) kept.
        """
        return shared.gains(self, ci_prob)


def _group_eta(post: xr.Dataset, design: Design, obs) -> np.ndarray:
    """Log rates (sample, group) of the likelihood's groups of observations."""
    beta = post["beta"].transpose("chain", "draw", "coef").values
    beta = beta.reshape(-1, beta.shape[-1])
    eta = beta @ obs.X.T
    for i, g in enumerate(design.groups):
        b = post[f"b_{g.key}"].transpose("chain", "draw", ...).values
        b = b.reshape(beta.shape[0], g.n_levels, -1)
        step = max(1, 20_000_000 // max(1, obs.n_groups * b.shape[-1]))  # draws per chunk: bounded memory
        for s in range(0, beta.shape[0], step):
            eta[s : s + step] += np.einsum("sgk,gk->sg", b[s : s + step][:, obs.levels[i], :], obs.Z[i])
    if "loading" in post:  # shared factors: sum_j w_ij f_jt of each group's (neuron, trial)
        neuron, trial = obs.by
        w = post["loading"].transpose("chain", "draw", "neuron", "factor").values
        f = post["factor_score"].transpose("chain", "draw", "trial", "factor").values
        w, f = w.reshape(beta.shape[0], *w.shape[2:]), f.reshape(beta.shape[0], *f.shape[2:])
        step = max(1, 20_000_000 // max(1, obs.n_groups * w.shape[-1]))
        for s in range(0, beta.shape[0], step):
            eta[s : s + step] += np.einsum("sgk,sgk->sg", w[s : s + step][:, neuron], f[s : s + step][:, trial])
    return eta

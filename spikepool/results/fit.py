"""``FitResult``: the posterior of a count model with its data, checks and summaries.

The idata is the ``xarray.DataTree`` PyMC returns, completed with the groups ArviZ expects:
``log_likelihood`` (variable ``y`` over ``obs``, one entry per valid (neuron, trial) pair),
``observed_data``, ``constant_data`` (durations), and ``posterior_predictive`` on request. The
counts and the model's arguments travel in the same file (``to_netcdf`` / ``load_result``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.checks.counts import check_counts
from spikepool.checks.neuron_effect import with_neuron_effect
from spikepool.checks.problems import CheckReport
from spikepool.checks.sampling import check_sampling, psis_compare, psis_loo
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SourceError
from spikepool.results.shrinkage import compute_shrinkage
from spikepool.results.store import read_tree, write_tree
from spikepool.stats.cells import Cells, compress
from spikepool.stats.families import nb_logpmf
from spikepool.stats.intervals import interval
from spikepool.stats.parameterization import cell_information

__all__ = ["FitResult", "add_fit_groups", "diagnosed_names"]

#: Largest log-likelihood array (draws x observations) computed for LOO; beyond it the group is skipped.
MAX_LOGLIK_VALUES = 200_000_000


def diagnosed_names(idata) -> list[str]:
    """The posterior variables of a fit that ``check_sampling`` diagnoses (population scales, rates, dispersion)."""
    names = ["mu", "tau", "tau_session", "mu_session", "tau_neuron", "rate", "alpha", "eta", "mu_a", "tau_a"]
    return [n for n in names if n in idata["posterior"].data_vars]


def _cell_params(post: xr.Dataset, cells: Cells, spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior draws of mu and alpha at every cell: arrays (chain, draw, cell)."""
    rate = post["rate"].values
    if rate.ndim == 4:
        rate_cell = rate[:, :, cells.neuron, cells.condition]
    else:
        rate_cell = rate[:, :, cells.neuron]
    mu = rate_cell * cells.duration
    if spec["likelihood"] == "poisson":
        return mu, None
    if "eta" in post:
        return mu, post["eta"].values[:, :, None] * mu
    alpha = post["alpha"].values
    return mu, alpha[:, :, cells.neuron] if alpha.ndim == 3 else alpha[:, :, None] * np.ones_like(mu)


def add_fit_groups(
    idata: xr.DataTree, counts: xr.DataArray, cells: Cells, model, prior: xr.Dataset | None = None
) -> xr.DataTree:
    """Add log_likelihood, observed_data, constant_data, prior draws and the counts to a sampled DataTree."""
    spec = model.spec() if hasattr(model, "spec") else dict(model)
    post = idata["posterior"].to_dataset()
    obs_coords = {
        "obs": np.arange(cells.obs_cell.size),
        "obs_neuron": ("obs", counts["neuron"].values[cells.obs_neuron]),
        "obs_trial": ("obs", counts["trial"].values[cells.obs_trial]),
    }
    window = counts.sum("time") if "time" in counts.dims else counts
    y_obs = window.values[cells.obs_neuron, cells.obs_trial]
    groups = {name: idata[name].to_dataset() for name in idata.children}
    n_values = post.sizes["chain"] * post.sizes["draw"] * cells.obs_cell.size
    if n_values <= MAX_LOGLIK_VALUES:
        mu, alpha = _cell_params(post, cells, spec)
        ll_cell = nb_logpmf(cells.y, mu, alpha)
        loglik = ll_cell[:, :, cells.obs_cell]
        groups["log_likelihood"] = xr.Dataset(
            {"y": (("chain", "draw", "obs"), loglik)},
            coords={"chain": post["chain"].values, "draw": post["draw"].values, **obs_coords},
        )
    groups["observed_data"] = xr.Dataset({"y": ("obs", y_obs)}, coords=obs_coords)
    groups["constant_data"] = xr.Dataset(
        {"duration": ("trial", counts["duration"].values)}, coords={"trial": counts["trial"].values}
    )
    if prior is not None:
        groups["prior"] = prior
    groups["spikepool_counts"] = counts.to_dataset(name="counts")
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


@dataclass
class FitResult:
    """A fitted hierarchical count model.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (``mu``, ``tau``, ``log_rate``, ``rate`` in Hz, ``alpha`` / ``eta``), sample_stats,
        log_likelihood, observed_data, constant_data (and posterior_predictive on request).
    counts : xarray.DataArray
        The counts (neuron, trial[, time]) that were fitted.
    spec : dict
        The model's arguments.
    pre_checks, post_checks : CheckReport
        ``check_counts`` before sampling and ``check_sampling`` after.
    loo_checks : CheckReport or None
        Reliability (Pareto k) of the last ``loo()`` or ``compare()``; None before either ran.
    """

    idata: xr.DataTree
    counts: xr.DataArray
    spec: dict
    pre_checks: CheckReport
    post_checks: CheckReport
    centered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    loo_checks: CheckReport | None = None

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].to_dataset()

    @property
    def checks(self) -> CheckReport:
        """The pre-fit report plus the post-fit diagnostics (and the LOO reliability once computed), as one report."""
        loo = self.loo_checks or CheckReport("", [], checked=())
        return CheckReport(
            "fit checks",
            [*self.pre_checks.problems, *self.post_checks.problems, *loo.problems],
            checked=(*self.pre_checks.checked, *self.post_checks.checked, *loo.checked),
            summary=self.pre_checks.summary,
        )

    @property
    def name(self) -> str:
        s = self.spec
        return f"{s['pooling']}/{s['dispersion'] if s['likelihood'] == 'negbin' else 'poisson'}"

    def rates(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior firing rates (Hz): Dataset over neuron [x condition] with mean, lower, upper.

        The interval is equal-tailed with probability ``ci_prob``.
        """
        return interval(self.posterior["rate"], ci_prob, "Hz")

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Raw, pooled and partial-pooling rates with both shrinkage factors (``compute_shrinkage``)."""
        return compute_shrinkage(self, ci_prob=ci_prob)

    def fano(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior Fano factor per neuron [x condition], next to the empirical one.

        ``fano = 1 + mu / alpha`` with ``mu`` the expected count in the neuron's median trial
        duration (``Var = mu + mu**2 / alpha``); ``1 + 1/eta`` for ``dispersion="fano"``; 1 for
        Poisson. ``empirical`` is var/mean of the counts in each cell (NaN with < 2 trials).
        """
        post = self.posterior
        cells = compress(self.counts, self.spec["condition"])
        n_neuron, n_cond = self.counts.sizes["neuron"], cells.condition_names.size
        valid = valid_mask(self.counts)
        duration = self.counts["duration"].values
        d_med = np.array([np.median(duration[v]) if v.any() else np.nan for v in valid])
        rate = post["rate"]
        d = xr.DataArray(d_med, dims="neuron", coords={"neuron": rate["neuron"].values})
        mu = rate * d
        if self.spec["likelihood"] == "poisson":
            fano = xr.ones_like(mu)
        elif "eta" in post:
            fano = (1 + 1 / post["eta"]) * xr.ones_like(mu)
        else:
            fano = 1 + mu / post["alpha"]
        out = interval(fano, ci_prob)
        info = cell_information(cells, n_neuron, n_cond)
        ss = np.bincount(
            cells.neuron * n_cond + cells.condition, cells.weight * cells.y.astype(float) ** 2, n_neuron * n_cond
        ).reshape(n_neuron, n_cond)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = info["spikes"] / info["n"]
            var = (ss - info["spikes"] * mean) / (info["n"] - 1)
            emp = np.where((info["n"] >= 2) & (mean > 0), var / mean, np.nan)
        out["empirical"] = (out["mean"].dims, emp if "condition" in out.dims else emp[:, 0])
        return out

    def summary(self, ci_prob: float = 0.94):
        """ArviZ summary table (mean, sd, interval, ESS, R-hat) of mu, tau (and the session level), alpha and rates."""
        ci_prob = check_ci_prob(ci_prob)
        import arviz_stats as azs

        hypers = ("mu", "tau", "tau_session", "mu_session", "tau_neuron", "alpha", "eta", "mu_a", "tau_a", "rate")
        names = [n for n in hypers if n in self.posterior]
        return azs.summary(self.idata, var_names=names, ci_prob=ci_prob)

    def diagnostics(self) -> CheckReport:
        """The post-fit diagnostics (R-hat, ESS, divergences, contraction)."""
        return self.post_checks

    def posterior_predictive(self, random_seed: int | None = None) -> xr.DataArray:
        """Replicated counts from the posterior: DataArray (chain, draw, neuron, trial) of int64.

        Unrecorded (``valid`` False) pairs are 0. The draws are also stored in
        ``idata["posterior_predictive"]`` (variable ``y`` over ``obs``).
        """
        rng = np.random.default_rng(random_seed)
        cells = compress(self.counts, self.spec["condition"])
        post = self.posterior
        mu, alpha = _cell_params(post, cells, self.spec)
        mu_obs = mu[:, :, cells.obs_cell]
        if alpha is None:
            y = rng.poisson(mu_obs)
        else:
            a = alpha[:, :, cells.obs_cell]
            y = rng.poisson(rng.gamma(a, mu_obs / a))
        shape = (post.sizes["chain"], post.sizes["draw"], *self.counts.shape[:2])
        full = np.zeros(shape, dtype=np.int64)
        full[:, :, cells.obs_neuron, cells.obs_trial] = y
        groups = {name: self.idata[name].to_dataset() for name in self.idata.children}
        groups["posterior_predictive"] = xr.Dataset(
            {"y": (("chain", "draw", "obs"), y)}, coords=groups["observed_data"].coords
        )
        attrs = self.idata.attrs
        self.idata = xr.DataTree.from_dict(groups)
        self.idata.attrs = attrs
        return xr.DataArray(
            full,
            dims=("chain", "draw", "neuron", "trial"),
            coords={
                "chain": post["chain"].values,
                "draw": post["draw"].values,
                "neuron": self.counts["neuron"].values,
                "trial": self.counts["trial"].values,
            },
            name="y_rep",
        )

    def loo(self):
        """PSIS-LOO of the fit (``arviz_stats.loo``) over valid (neuron, trial) observations.

        Its reliability (Pareto k) is kept in ``loo_checks`` and joins ``checks``.
        """
        elpd, self.loo_checks = psis_loo(self.idata, self.name)
        return elpd

    def compare(self, *others: FitResult, names: list[str] | None = None):
        """LOO comparison table of this fit and ``others`` on the same counts (``arviz_stats.compare``).

        The reliability of every model's PSIS-LOO (Pareto k) is kept in ``loo_checks`` and joins ``checks``.
        """
        fits = [self, *others]
        labels = names or [f.name for f in fits]
        if len(set(labels)) != len(labels):
            labels = [f"{label} ({i})" for i, label in enumerate(labels)]
        for f in others:
            if not isinstance(f, FitResult):
                raise ArgumentTypeError(f"others must be FitResults of the same counts; got {type(f).__name__}.")
            if f.counts.shape != self.counts.shape or not np.array_equal(f.counts.values, self.counts.values):
                raise ArgumentError("compare needs fits of the same counts; got fits of different data.")
        table, self.loo_checks = psis_compare({label: f.idata for label, f in zip(labels, fits, strict=True)})
        return table

    def to_netcdf(self, path: str | os.PathLike) -> None:
        """Write the whole result (posterior, groups, counts, model spec, checks' text) to netCDF."""
        write_tree(self.idata, path, self.spec, self.centered)

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike) -> FitResult:
        """Read a result written by ``to_netcdf``; the checks are recomputed from the data."""
        tree, spec, centered = read_tree(path)
        model = spec.get("model", "HierarchicalNegBinom")  # files before 0.2 did not name their model
        if model != "HierarchicalNegBinom" or "spikepool_counts" not in tree.children:
            raise SourceError(
                f"path must hold a HierarchicalNegBinom result; got a {model} result in "
                f"{str(path)!r}. Hint: sp.load_result(path) opens any model's result."
            )
        counts = tree["spikepool_counts"].to_dataset()["counts"]
        dispersion = "poisson" if spec["likelihood"] == "poisson" else spec["dispersion"]
        pre = check_counts(counts, dispersion=dispersion, condition=spec["condition"], session=spec.get("session"))
        if "neuron_effect_reason" in spec:
            pre = with_neuron_effect(pre, bool(spec["neuron_effect"]), spec["neuron_effect_reason"])
        post = check_sampling(tree, var_names=diagnosed_names(tree))
        return cls(idata=tree, counts=counts, spec=spec, pre_checks=pre, post_checks=post, centered=centered)

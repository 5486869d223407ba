"""``FitResult``: the posterior of a ``HierarchicalNegBinom`` fit with its counts, checks and tables.

The idata is the ``xarray.DataTree`` PyMC returns, completed with ``observed_data`` (variable ``y`` over
``obs``, one entry per valid (neuron, trial) pair), ``constant_data`` (durations), ``prior`` draws, the counts
(``spikepool_counts``) and, on request, ``posterior_predictive``. The counts and the model's arguments travel
in the result file (``to_netcdf`` / ``load_result``); what the file can recompute exactly it leaves out: the
pointwise log-likelihood that LOO needs (from the posterior and the counts' cells, ``pointwise``), the
observed and constant data (from the counts) and the rates (from their logs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.checks.counts import check_counts
from spikepool.checks.neuron_effect import with_neuron_effect
from spikepool.checks.problems import CheckReport
from spikepool.checks.sampling import laplace_checks
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError, SourceError
from spikepool.results.base import Result
from spikepool.results.contrasts import ConditionContrasts
from spikepool.results.shrinkage import compute_shrinkage
from spikepool.results.store import write_tree
from spikepool.stats.binned import condition_names
from spikepool.stats.cells import Cells, compress
from spikepool.stats.families import COM_POISSON, NEGBIN, family_of
from spikepool.stats.fano import cell_fano
from spikepool.stats.intervals import interval
from spikepool.stats.parameterization import cell_information

__all__ = [
    "FitResult",
    "add_fit_groups",
    "data_groups",
    "diagnosed_names",
    "require_counts",
    "stored_posterior",
    "with_derived",
    "write_counts_result",
]

#: Largest pointwise log-likelihood (chains x draws x observations) computed for LOO (1.6 GB of float64).
MAX_LOGLIK_VALUES = 200_000_000

#: The posterior variables summarised and diagnosed (those present), in the order of the summary table.
DIAGNOSED = (
    "mu",
    "tau",
    "tau_session",
    "mu_session",
    "tau_neuron",
    "sigma_response",
    "respond_frac",
    *NEGBIN.dispersion_names,
    *COM_POISSON.dispersion_names,
    "rate",
)


def diagnosed_names(idata) -> list[str]:
    """The posterior variables of a fit that ``check_sampling`` diagnoses (population scales, rates, dispersion)."""
    return [n for n in DIAGNOSED if n in idata["posterior"].data_vars]


def _cell_params(post: xr.Dataset, cells: Cells, spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior draws of mu and the family's dispersion at every cell: arrays (chain, draw, cell); None for
    Poisson."""
    rate = post["rate"].values
    rate_cell = rate[:, :, cells.neuron, cells.condition] if rate.ndim == 4 else rate[:, :, cells.neuron]
    mu = rate_cell * cells.duration
    family = family_of(spec["likelihood"])
    values = {name: post[name].values for name in family.parameters if name in post}
    return mu, family.dispersion_at(values, cells.neuron, mu)


def _obs_coords(counts: xr.DataArray, cells: Cells) -> dict:
    return {
        "obs": np.arange(cells.obs_neuron.size),
        "obs_neuron": ("obs", counts["neuron"].values[cells.obs_neuron]),
        "obs_trial": ("obs", counts["trial"].values[cells.obs_trial]),
    }


#: Posterior variables that are the exponential of another: computed from it (numpy), never stored.
DERIVED = {"rate": "log_rate", "alpha": "log_alpha", "eta": "log_eta", "nu": "log_nu"}
#: The sampler's own coordinates of the centered / non-centered split (``log_rate`` and ``mu_session`` hold
#: the values): not kept in results.
INTERNAL = ("log_rate_centered", "log_rate_offset", "mu_session_centered", "mu_session_offset")


def with_derived(post: xr.Dataset, internal: tuple[str, ...] = INTERNAL) -> xr.Dataset:
    """``post`` without the ``internal`` variables (and the dims only they used), with ``rate``, ``alpha`` and
    ``eta`` computed from their logs.

    The same numpy ``exp`` runs after sampling and after reading a file, so a result reads back exactly.
    """
    out = post.drop_vars([name for name in internal if name in post])
    used = {dim for var in out.data_vars.values() for dim in var.dims}
    out = out.drop_dims([dim for dim in out.dims if dim not in used])
    for name, log in DERIVED.items():
        if log in out:
            out[name] = np.exp(out[log])
    return out


def stored_posterior(post: xr.Dataset) -> xr.Dataset:
    """``post`` as written: without what ``with_derived`` recomputes."""
    return post.drop_vars([name for name, log in DERIVED.items() if name in post and log in post])


#: Groups a file leaves out because reading recomputes them exactly from the counts and the posterior.
RECOMPUTED = ("log_likelihood", "observed_data", "constant_data")


def data_groups(counts: xr.DataArray, cells: Cells) -> dict[str, xr.Dataset]:
    """``observed_data`` (``y`` over ``obs``: each valid (neuron, trial) pair's window count) and
    ``constant_data`` (``duration`` over ``trial``) of ``counts``, as after sampling and after reading a file.

    ``cells`` gives the valid pairs as ``obs_neuron`` / ``obs_trial`` (``Cells``, or a formula's ``Design``)."""
    window = counts.sum("time") if "time" in counts.dims else counts
    y_obs = window.values[cells.obs_neuron, cells.obs_trial]
    return {
        "observed_data": xr.Dataset({"y": ("obs", y_obs)}, coords=_obs_coords(counts, cells)),
        "constant_data": xr.Dataset(
            {"duration": ("trial", counts["duration"].values)}, coords={"trial": counts["trial"].values}
        ),
    }


def add_fit_groups(idata: xr.DataTree, counts: xr.DataArray, cells: Cells, spec: dict) -> xr.DataTree:
    """Add observed_data, constant_data and the counts to a sampled DataTree (its prior draws are already there),
    and store the model ``spec``."""
    groups = {name: idata[name].to_dataset() for name in idata.children if name != "log_likelihood"}
    groups["posterior"] = with_derived(groups["posterior"])
    groups.update(data_groups(counts, cells))
    groups["spikepool_counts"] = counts.to_dataset(name="counts")
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


def write_counts_result(result: Result, path) -> None:
    """Write a result that carries its counts, leaving out the ``RECOMPUTED`` groups and the posterior
    variables ``with_derived`` recomputes."""
    idata = result.idata
    groups = {name: idata[name].to_dataset() for name in idata.children if name not in RECOMPUTED}
    groups["posterior"] = stored_posterior(groups["posterior"])
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = idata.attrs
    write_tree(tree, path, result.spec, result.centered)


def same_counts(counts: xr.DataArray, other: Result) -> bool:
    """Whether ``other`` carries counts equal to ``counts`` (so that two fits' log densities compare)."""
    theirs = getattr(other, "counts", None)
    return theirs is not None and theirs.shape == counts.shape and bool(np.array_equal(theirs.values, counts.values))


def require_counts(tree: xr.DataTree, model: str) -> None:
    """Refuse a stored tree of a counts model without its counts (``SourceError``)."""
    if "spikepool_counts" not in tree.children:
        raise SourceError(
            f"a {model} result file must hold its counts (group 'spikepool_counts'); got none. "
            "Hint: write results with result.to_netcdf(path)."
        )


@dataclass(kw_only=True, repr=False)
class FitResult(ConditionContrasts, Result):
    """A fitted ``HierarchicalNegBinom`` (the ``Result`` contract, plus rates, Fano factors, shrinkage and
    posterior predictive counts).

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (``mu``, ``tau``, ``log_rate``, ``rate`` in Hz, ``alpha`` / ``eta``), sample_stats,
        observed_data, constant_data, prior (and posterior_predictive on request).
    counts : xarray.DataArray
        The counts (neuron, trial[, time]) that were fitted.
    spec : dict
        The model's arguments.
    pre_checks, post_checks : CheckReport
        ``check_counts`` (with the ``neuron_effect`` finding) before sampling and ``check_sampling`` after.
    centered : numpy.ndarray
        Boolean (neuron,): which neurons' log rates were sampled in the centered form.
    loo_checks : CheckReport or None
        Reliability (Pareto k) of the last ``loo()`` or ``compare()``; None before either ran.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> type(result).__name__, result.post_checks.warnings
    ('FitResult', [])
    >>> result.posterior["mu"].mean(("chain", "draw")).round(1).values.tolist()  # simulated: 1.5 and 2.0
    [1.3, 2.0]
    >>> result.shrinkage()["rate"].dims, result.responsive("base").attrs["n_down"]
    (('neuron', 'condition'), 0)
    """

    MODEL = "HierarchicalNegBinom"
    DIAGNOSED = DIAGNOSED
    SCALES = (
        "tau",
        "tau_session",
        "tau_neuron",
        "sigma_response",
        *NEGBIN.dispersion_names,
        *COM_POISSON.dispersion_names,
    )
    REMEDIES = (
        "(1) raise target_accept (e.g. 0.99), (2) use parameterization='noncentered' for sparse neurons or "
        "'centered' for data-rich ones ('auto' chooses per neuron), (3) run more tuning and draws"
    )

    counts: xr.DataArray

    @classmethod
    def remedies(cls, tree: xr.DataTree) -> str:
        """The model's remedies, then the count family's own (``Family.remedy``)."""
        family = family_of(json.loads(tree.attrs["spikepool_spec"])["likelihood"])
        return f"{cls.REMEDIES}, (4) {family.remedy}" if family.remedy else f"{cls.REMEDIES}."

    @classmethod
    def check(cls, tree: xr.DataTree) -> CheckReport:
        """``check_sampling`` of a NUTS fit; ``laplace_checks`` (Pareto k) of a ``method="laplace"`` fit."""
        if "laplace" in tree.children:
            return laplace_checks(tree)
        return super().check(tree)

    @property
    def name(self) -> str:
        s = self.spec
        family = {"negbin": s["dispersion"], "poisson": "poisson"}.get(s["likelihood"])
        return f"{s['pooling']}/{family or s['likelihood'] + '/' + s['dispersion']}"

    def rates(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior firing rates (Hz): Dataset over neuron [x condition] with mean, lower, upper.

        The interval is equal-tailed with probability ``ci_prob``.
        """
        return interval(self.posterior["rate"], ci_prob, "Hz")

    def _fitted_conditions(self) -> list[str]:
        rate = self.posterior["rate"]
        return [str(c) for c in rate["condition"].values] if "condition" in rate.dims else []

    def _condition_draws(self, idx: list[int], neuron: int) -> np.ndarray:
        """One neuron's rate draws (draw, len(idx)) in the conditions at ``idx``."""
        rate = self.posterior["rate"].isel(neuron=neuron).transpose("chain", "draw", "condition").values
        return rate.reshape(-1, rate.shape[-1])[:, idx]

    def _table_axes(self) -> tuple[tuple, dict]:
        return ("neuron",), {"neuron": self.counts["neuron"].values}

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
        family = family_of(self.spec["likelihood"])
        mu_obs = mu.transpose("chain", "draw", "neuron", ...)
        flat = mu_obs.values.reshape(*mu_obs.shape[:2], -1)  # (chain, draw, neuron x condition)
        neuron = np.repeat(np.arange(n_neuron), flat.shape[-1] // n_neuron)
        values = {name: post[name].values for name in family.parameters if name in post}
        fano = mu_obs.copy(data=family.fano(flat, family.dispersion_at(values, neuron, flat)).reshape(mu_obs.shape))
        out = interval(fano, ci_prob)
        info = cell_information(cells, n_neuron, n_cond)
        ss = np.bincount(
            cells.neuron * n_cond + cells.condition, cells.weight * cells.y.astype(float) ** 2, n_neuron * n_cond
        ).reshape(n_neuron, n_cond)
        emp = cell_fano(info["n"], info["spikes"], ss)
        out["empirical"] = (out["mean"].dims, emp if "condition" in out.dims else emp[:, 0])
        return out

    def ppc_fano(self, ci_prob: float = 0.94, random_seed: int | None = 0) -> xr.Dataset:
        """The observed Fano factor of each neuron [x condition] against its posterior predictive distribution.

        Replicates come from ``posterior_predictive`` (the family's own: Gamma-Poisson, Poisson or COM-Poisson),
        at most 1,000 draws; the Fano factor is the variance (ddof 1) over the mean across the cell's valid
        trials, the same statistic for the data and for every replicate.

        Returns
        -------
        xarray.Dataset
            (neuron[, condition]): ``observed``; ``mean``, ``lower``, ``upper`` (equal-tailed ``ci_prob``) of
            the replicated Fano factor; ``p_value``, the fraction of replicates whose Fano factor is at least the
            observed one (near 0 or 1: the family misses the cell's variability). NaN where a cell has fewer
            than 2 valid trials or no spike.
        """
        ci_prob = check_ci_prob(ci_prob)
        rep = self.posterior_predictive(random_seed=random_seed).values
        rep = rep.reshape(-1, *rep.shape[2:])
        rep = rep[:: max(1, -(-rep.shape[0] // 1000))].astype(np.float64)  # at most 1,000 draws
        counts = self.counts.sum("time") if "time" in self.counts.dims else self.counts
        y = counts.values.astype(np.float64)
        valid = valid_mask(self.counts)
        condition = self.spec["condition"]
        names, codes = condition_names(counts, condition)
        shape = (y.shape[0], names.size)
        out = {k: np.full(shape, np.nan) for k in ("observed", "mean", "lower", "upper", "p_value")}
        for i in range(y.shape[0]):
            for k in range(names.size):
                sel = valid[i] & (codes.ravel() == k)
                o = y[i, sel]
                if o.size < 2 or o.mean() == 0:
                    continue
                r = rep[:, i, sel]
                with np.errstate(invalid="ignore", divide="ignore"):
                    f = r.var(axis=1, ddof=1) / r.mean(axis=1)
                f = f[np.isfinite(f)]
                observed = o.var(ddof=1) / o.mean()
                out["observed"][i, k] = observed
                if f.size:
                    out["mean"][i, k] = f.mean()
                    out["lower"][i, k], out["upper"][i, k] = np.quantile(f, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
                    out["p_value"][i, k] = float((f >= observed).mean())
        dims = ("neuron", "condition") if condition else ("neuron",)
        coords = {"neuron": counts["neuron"].values, **({"condition": names} if condition else {})}
        data = {k: (dims, v if condition else v[:, 0]) for k, v in out.items()}
        return xr.Dataset(data, coords=coords, attrs={"ci_prob": ci_prob, "interval": "equal-tailed"})

    def posterior_predictive(self, random_seed: int | None = None) -> xr.DataArray:
        """Replicated counts from the posterior: DataArray (chain, draw, neuron, trial) of int64.

        Unrecorded (``valid`` False) pairs are 0. The draws are also stored in
        ``idata["posterior_predictive"]`` (variable ``y`` over ``obs``).
        """
        rng = np.random.default_rng(random_seed)
        cells = compress(self.counts, self.spec["condition"])
        post = self.posterior
        mu, alpha = _cell_params(post, cells, self.spec)
        family = family_of(self.spec["likelihood"])
        y = family.sample(rng, mu[:, :, cells.obs_cell], None if alpha is None else alpha[:, :, cells.obs_cell])
        shape = (post.sizes["chain"], post.sizes["draw"], *self.counts.shape[:2])
        full = np.zeros(shape, dtype=np.int64)
        full[:, :, cells.obs_neuron, cells.obs_trial] = y
        self._add_group(
            "posterior_predictive",
            xr.Dataset({"y": (("chain", "draw", "obs"), y)}, coords=self.idata["observed_data"].to_dataset().coords),
        )
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

    def pointwise(self) -> xr.DataTree:
        """The DataTree with the pointwise log-likelihood ``y`` (chain, draw, obs) of every valid (neuron, trial).

        Computed from the posterior and the counts' cells (exact: the NB log pmf of each cell, spread to its
        trials) and kept in ``idata`` until the result is written (files do not store it).
        """
        if "log_likelihood" in self.idata.children:
            return self.idata
        post = self.posterior
        cells = compress(self.counts, self.spec["condition"])
        n_values = post.sizes["chain"] * post.sizes["draw"] * cells.obs_cell.size
        if n_values > MAX_LOGLIK_VALUES:
            raise ArgumentError(
                f"LOO needs the pointwise log-likelihood of at most {MAX_LOGLIK_VALUES:,} values (chains x draws x "
                f"valid neuron-trials); got {n_values:,}. Hint: compare fits on a subset of neurons or with fewer "
                "draws."
            )
        mu, alpha = _cell_params(post, cells, self.spec)
        loglik = family_of(self.spec["likelihood"]).logpmf(cells.y, mu, alpha)[:, :, cells.obs_cell]
        self._add_group(
            "log_likelihood",
            xr.Dataset(
                {"y": (("chain", "draw", "obs"), loglik)},
                coords={"chain": post["chain"].values, "draw": post["draw"].values, **_obs_coords(self.counts, cells)},
            ),
        )
        return self.idata

    def same_data(self, other: Result) -> bool:
        """Whether ``other`` was fitted to the same counts."""
        return same_counts(self.counts, other)

    def to_netcdf(self, path) -> None:
        """Write the result (posterior, groups, counts, model spec), compressed.

        Left out, because reading recomputes them exactly: the pointwise log-likelihood (``pointwise``), the
        observed and constant data (from the counts, ``data_groups``) and the posterior variables that are the
        exponential of another (``DERIVED``: ``rate`` from ``log_rate``).
        """
        write_counts_result(self, path)

    @classmethod
    def from_tree(cls, tree: xr.DataTree, spec: dict, centered: np.ndarray) -> FitResult:
        """The result of a stored tree; the design checks and the diagnostics are recomputed from the data."""
        require_counts(tree, cls.MODEL)
        groups = {name: tree[name].to_dataset() for name in tree.children if name not in RECOMPUTED}
        groups["posterior"] = with_derived(groups["posterior"])
        stored_counts = groups.pop("spikepool_counts")
        counts = stored_counts["counts"]
        groups.update(data_groups(counts, compress(counts, spec["condition"])))
        groups["spikepool_counts"] = stored_counts
        attrs, tree = tree.attrs, xr.DataTree.from_dict(groups)
        tree.attrs = attrs
        dispersion = "poisson" if spec["likelihood"] == "poisson" else spec["dispersion"]
        pre = check_counts(counts, dispersion=dispersion, condition=spec["condition"], session=spec.get("session"))
        if "neuron_effect_reason" in spec:
            pre = with_neuron_effect(pre, bool(spec["neuron_effect"]), spec["neuron_effect_reason"])
        return cls(idata=tree, counts=counts, spec=spec, pre_checks=pre, post_checks=cls.check(tree), centered=centered)

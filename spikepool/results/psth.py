"""``PSTHResult``: the posterior of a ``HierarchicalPSTH`` fit: rates and Fano factors over time, with intervals.

The posterior holds the parts of the log rate (``population_coef`` (condition, basis), ``neuron_effect``
(neuron), ``level_effect`` (neuron, condition), ``shape_coef`` (neuron, condition, basis)) and the dispersion;
the log rate of every (neuron, condition, bin) is recomputed from them and the spline basis (numpy, a neuron
or a block of draws at a time), never stored: it would be draws x neurons x conditions x bins values. The
binned counts travel in the result file (``spikepool_counts``); the pointwise log-likelihood of each valid
(neuron, trial), summed over its bins, is computed when LOO needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.checks.binned import check_binned
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError
from spikepool.results.base import Result
from spikepool.results.contrasts import ConditionContrasts
from spikepool.results.fit import (
    MAX_LOGLIK_VALUES,
    RECOMPUTED,
    require_counts,
    same_counts,
    with_derived,
    write_counts_result,
)
from spikepool.stats.binned import basis_of, bin_width, compress_binned, condition_names
from spikepool.stats.families import COM_POISSON, NEGBIN, family_of
from spikepool.stats.intervals import draw_summary

__all__ = ["PSTHResult", "psth_groups"]

#: The sampler's own coordinates of the non-centered parts (their scaled values are in the posterior).
INTERNAL = ("shape_offset",)
#: Draws per block when the log rates of every (neuron, condition, bin) are computed.
DRAW_BLOCK = 100


def psth_groups(idata: xr.DataTree, counts: xr.DataArray, spec: dict) -> xr.DataTree:
    """A sampled DataTree with its internal variables dropped, alpha derived from its log, and the counts.

    The counts are the data (``spikepool_counts``); PyMC's ``observed_data`` / ``constant_data`` groups (empty:
    the likelihood is a ``Potential`` on the cells) are dropped, as a file leaves them out."""
    groups = {name: idata[name].to_dataset() for name in idata.children if name not in RECOMPUTED}
    groups["posterior"] = with_derived(groups["posterior"], INTERNAL)
    groups["spikepool_counts"] = counts.to_dataset(name="counts")
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {**idata.attrs, "spikepool_spec": json.dumps(spec)}
    return tree


@dataclass(kw_only=True, repr=False)
class PSTHResult(ConditionContrasts, Result):
    """A fitted ``HierarchicalPSTH`` (the ``Result`` contract, plus rates and Fano factors over time).

    Attributes
    ----------
    counts : xarray.DataArray
        The binned counts (neuron, trial, time) that were fitted.
    """

    MODEL = "HierarchicalPSTH"
    DIAGNOSED = (
        "mu",
        "sigma_time",
        "tau_neuron",
        "tau_level",
        "tau_shape",
        "neuron_effect",
        *NEGBIN.dispersion_names,
        *COM_POISSON.dispersion_names,
        "population_coef",
    )
    SCALES = (
        "sigma_time",
        "tau_neuron",
        "tau_level",
        "tau_shape",
        *NEGBIN.dispersion_names,
        *COM_POISSON.dispersion_names,
    )
    REMEDIES = (
        "(1) raise target_accept (e.g. 0.95), (2) run more tuning and draws, (3) a coarser smoothing= (fewer "
        "spline coefficients per course)"
    )

    counts: xr.DataArray

    @property
    def name(self) -> str:
        s = self.spec
        return f"psth/{s['dispersion'] if s['likelihood'] == 'negbin' else s['likelihood']}"

    @property
    def basis(self) -> np.ndarray:
        """The spline basis (time, basis) of the fit (``spikepool.stats.binned.basis_of``)."""
        return basis_of(self.counts, self.spec["smoothing"])

    # ------------------------------------------------------------------ log rates from the parts
    def _flat(self, name: str) -> np.ndarray | None:
        post = self.posterior
        if name not in post:
            return None
        v = post[name].values
        return v.reshape(-1, *v.shape[2:])  # (draws, ...)

    def _log_rates(self, neuron: int | None = None, draws: slice = slice(None)) -> np.ndarray:
        """Log rates (Hz): (draws, condition, time) of one neuron, or (draws, neuron, condition, time)."""
        basis = self.basis
        coef = self._flat("population_coef")[draws]
        out = (coef @ basis.T)[:, None]  # (draws, 1, condition, time)
        sel = slice(None) if neuron is None else slice(neuron, neuron + 1)
        effect = self._flat("neuron_effect")
        if effect is not None:
            out = out + effect[draws][:, sel, None, None]
        level = self._flat("level_effect")
        if level is not None:
            out = out + level[draws][:, sel, :, None]
        shape = self._flat("shape_coef")
        if shape is not None:
            out = out + shape[draws][:, sel] @ basis.T
        n = self.counts.sizes["neuron"] if neuron is None else 1
        out = np.broadcast_to(out, (out.shape[0], n, *out.shape[2:]))
        return out[:, 0] if neuron is not None else out

    def _blocks(self) -> Iterator[slice]:
        total = self.posterior.sizes["chain"] * self.posterior.sizes["draw"]
        for start in range(0, total, DRAW_BLOCK):
            yield slice(start, min(start + DRAW_BLOCK, total))

    def _dispersion(self, draws: slice = slice(None)) -> dict[str, np.ndarray]:
        """The posterior's dispersion draws (``alpha`` or ``nu`` (draws[, neuron]), ``eta`` (draws,)), for
        ``Family.dispersion_at``."""
        names = family_of(self.spec["likelihood"]).parameters
        return {name: self._flat(name)[draws] for name in names if name in self.posterior}

    def _alpha(self, neuron: int, mu: np.ndarray) -> np.ndarray | None:
        """The family's dispersion (NB alpha, COM-Poisson nu) of one neuron's means ``mu`` (draws, ...); None for
        Poisson."""
        flat = mu.reshape(mu.shape[0], -1)
        family = family_of(self.spec["likelihood"])
        alpha = family.dispersion_at(self._dispersion(), np.full(flat.shape[1], neuron), flat)
        return None if alpha is None else alpha.reshape(mu.shape)

    def _table(self, mean, low, high, dims, coords, units=None) -> xr.Dataset:
        ds = xr.Dataset(
            {"mean": (dims, mean), "lower": (dims, low), "upper": (dims, high)},
            coords=coords,
            attrs={"interval": "equal-tailed", **({"units": units} if units else {})},
        )
        return ds if self.spec["condition"] is not None else ds.squeeze("condition", drop=True)

    def _coords(self, neuron: bool = True) -> dict:
        coords = {
            "condition": condition_names(self.counts, self.spec["condition"])[0],
            "time": self.counts["time"].values,
        }
        return {"neuron": self.counts["neuron"].values, **coords} if neuron else coords

    def _fitted_conditions(self) -> list[str]:
        if self.spec["condition"] is None:
            return []
        return [str(c) for c in condition_names(self.counts, self.spec["condition"])[0]]

    def _condition_draws(self, idx: list[int], neuron: int) -> np.ndarray:
        """One neuron's rate draws (draw, len(idx), time) in the conditions at ``idx``."""
        return np.exp(self._log_rates(neuron)[:, idx])

    def _table_axes(self) -> tuple[tuple, dict]:
        return ("neuron", "time"), {"neuron": self.counts["neuron"].values, "time": self.counts["time"].values}

    # ------------------------------------------------------------------ tables
    def rates(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior firing rates (Hz): Dataset (neuron, [condition,] time) with mean, lower, upper."""
        ci_prob = check_ci_prob(ci_prob)
        parts = [draw_summary(np.exp(self._log_rates(i)), ci_prob) for i in range(self.counts.sizes["neuron"])]
        mean, low, high = (np.stack([p[k] for p in parts]) for k in range(3))
        out = self._table(mean, low, high, ("neuron", "condition", "time"), self._coords(), "Hz")
        out.attrs["ci_prob"] = ci_prob
        return out

    def population_rates(self, ci_prob: float = 0.94) -> xr.Dataset:
        """The population course exp(m_cb) (Hz): Dataset ([condition,] time).

        The geometric mean of the neurons' rates in each bin (the neurons' parts sum to zero), the typical
        neuron's rate."""
        ci_prob = check_ci_prob(ci_prob)
        draws = np.exp(self._flat("population_coef") @ self.basis.T)
        out = self._table(*draw_summary(draws, ci_prob), ("condition", "time"), self._coords(neuron=False), "Hz")
        out.attrs["ci_prob"] = ci_prob
        return out

    def fano(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Fano factor of each bin's count from the fitted model: Dataset (neuron, [condition,] time).

        ``mean``, ``lower``, ``upper`` of the family's Fano (``1 + mu / alpha`` for the Negative Binomial, with
        ``mu`` the bin's expected count; 1 for Poisson) and ``population_mean``, ``population_lower``,
        ``population_upper``: the neurons' average Fano factor in each ([condition,] time) with its interval.
        """
        ci_prob = check_ci_prob(ci_prob)
        family = family_of(self.spec["likelihood"])
        width = bin_width(self.counts)
        per_neuron, total = [], 0.0
        for i in range(self.counts.sizes["neuron"]):
            mu = np.exp(self._log_rates(i)) * width
            f = family.fano(mu, self._alpha(i, mu))
            per_neuron.append(draw_summary(f, ci_prob))
            total = total + f
        mean, low, high = (np.stack([p[k] for p in per_neuron]) for k in range(3))
        out = self._table(mean, low, high, ("neuron", "condition", "time"), self._coords())
        pop = self._table(*draw_summary(total / len(per_neuron), ci_prob), ("condition", "time"), self._coords(False))
        for k in ("mean", "lower", "upper"):
            out[f"population_{k}"] = pop[k]
        out.attrs["ci_prob"] = ci_prob
        return out

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """How far each neuron's course moved from its raw PSTH toward the population's shape.

        Returns
        -------
        xarray.Dataset
            Over (neuron, [condition,] time): ``raw_rate`` (the raw PSTH: mean count over the valid trials
            per bin width, Hz; NaN without trials), ``rate``, ``lower``, ``upper`` (the posterior),
            ``pooled_rate`` (posterior mean of ``exp(m_cb + u_i + v_ic)``: the neuron's course with the
            population's shape at its own level) and ``shrinkage`` ``(raw - rate) / (raw - pooled)`` per bin
            (0: the raw PSTH kept, 1: the population's shape; noisy where raw and pooled nearly agree);
            over (neuron, [condition]): ``course_shrinkage``, ``1 - sum_b (rate - pooled)^2 /
            sum_b (raw - pooled)^2``, the share of the raw course's own deviations the model removed, and
            ``n_trials``. With one neuron there is no population apart from it (its course is the
            population's): both shrinkages are NaN.
        """
        ci_prob = check_ci_prob(ci_prob)
        rates = self.rates(ci_prob)
        if self.spec["condition"] is None:
            rates = rates.expand_dims(condition=[""], axis=1)
        names, codes = condition_names(self.counts, self.spec["condition"])
        valid = valid_mask(self.counts)
        width = bin_width(self.counts)
        n_trials = np.stack([(valid & (codes == c)[None, :]).sum(axis=1) for c in range(names.size)], axis=1)
        sums = np.stack(
            [(self.counts.values * (valid & (codes == c)[None, :])[:, :, None]).sum(axis=1) for c in range(names.size)],
            axis=1,
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(n_trials[:, :, None] > 0, sums / n_trials[:, :, None] / width, np.nan)
        level = (self._flat("population_coef") @ self.basis.T)[:, None]  # (draws, 1, condition, time)
        effect, own_level = self._flat("neuron_effect"), self._flat("level_effect")
        if effect is not None:
            level = level + effect[:, :, None, None]
        if own_level is not None:
            level = level + own_level[:, :, :, None]
        pooled = np.broadcast_to(np.exp(level), (level.shape[0], *raw.shape)).mean(axis=0)
        rate = rates["mean"].values
        with np.errstate(invalid="ignore", divide="ignore"):
            per_bin = (raw - rate) / (raw - pooled)
            course = 1 - np.nansum((rate - pooled) ** 2, axis=2) / np.nansum((raw - pooled) ** 2, axis=2)
        if raw.shape[0] == 1:  # nothing to pool toward but itself
            per_bin, course = np.full_like(per_bin, np.nan), np.full_like(course, np.nan)
        dims = ("neuron", "condition", "time")
        out = rates.rename({"mean": "rate"}).assign(
            raw_rate=(dims, raw, {"units": "Hz"}),
            pooled_rate=(dims, pooled, {"units": "Hz"}),
            shrinkage=(dims, per_bin),
            course_shrinkage=(dims[:2], np.where(np.isfinite(raw).any(axis=2), course, np.nan)),
            n_trials=(dims[:2], n_trials.astype(np.int64)),
        )
        return out if self.spec["condition"] is not None else out.squeeze("condition", drop=True)

    # ------------------------------------------------------------------ LOO, files
    def pointwise(self) -> xr.DataTree:
        """The DataTree with the pointwise log-likelihood ``y`` (chain, draw, obs): each valid (neuron, trial)'s
        log density summed over its bins (computed from the posterior and the cells; files do not store it)."""
        if "log_likelihood" in self.idata.children:
            return self.idata
        post = self.posterior
        cells = compress_binned(self.counts, self.spec["condition"])
        n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
        if n_chain * n_draw * cells.obs_neuron.size > MAX_LOGLIK_VALUES:
            raise ArgumentError(
                f"LOO needs the pointwise log-likelihood of at most {MAX_LOGLIK_VALUES:,} values; got "
                f"{n_chain * n_draw * cells.obs_neuron.size:,}. Hint: fewer draws or neurons."
            )
        family = family_of(self.spec["likelihood"])
        width = bin_width(self.counts)
        loglik = np.empty((n_chain * n_draw, cells.obs_neuron.size))
        for block in self._blocks():
            mu = np.exp(self._log_rates(draws=block).reshape(block.stop - block.start, -1)[:, cells.group]) * width
            alpha = family.dispersion_at(self._dispersion(block), cells.neuron, mu)
            cell_ll = family.logpmf(cells.y, mu, alpha)
            loglik[block] = cell_ll[:, cells.obs_cell].sum(axis=-1)
        self._add_group(
            "log_likelihood",
            xr.Dataset(
                {"y": (("chain", "draw", "obs"), loglik.reshape(n_chain, n_draw, -1))},
                coords={
                    "chain": post["chain"].values,
                    "draw": post["draw"].values,
                    "obs_neuron": ("obs", self.counts["neuron"].values[cells.obs_neuron]),
                    "obs_trial": ("obs", self.counts["trial"].values[cells.obs_trial]),
                },
            ),
        )
        return self.idata

    def same_data(self, other: Result) -> bool:
        """Whether ``other`` was fitted to the same binned counts."""
        return same_counts(self.counts, other)

    def to_netcdf(self, path) -> None:
        """Write the result (posterior parts, groups, counts, spec), compressed; the pointwise log-likelihood and
        alpha (from its log) are recomputed on reading."""
        write_counts_result(self, path)

    @classmethod
    def from_tree(cls, tree: xr.DataTree, spec: dict, centered: np.ndarray) -> PSTHResult:
        """The result of a stored tree; the design checks and the diagnostics are recomputed."""
        require_counts(tree, cls.MODEL)
        groups = {name: tree[name].to_dataset() for name in tree.children if name != "log_likelihood"}
        groups["posterior"] = with_derived(groups["posterior"], INTERNAL)
        attrs, tree = tree.attrs, xr.DataTree.from_dict(groups)
        tree.attrs = attrs
        counts = tree["spikepool_counts"].to_dataset()["counts"]
        dispersion = "poisson" if spec["likelihood"] == "poisson" else spec["dispersion"]
        pre = check_binned(counts, dispersion=dispersion, condition=spec["condition"])
        return cls(idata=tree, counts=counts, spec=spec, pre_checks=pre, post_checks=cls.check(tree), centered=centered)

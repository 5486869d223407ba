"""``Result``: the contract every fitted model's result follows.

A result holds the ``xarray.DataTree`` of a fit (``posterior``, ``sample_stats``, ``observed_data``,
``constant_data``, ``prior`` and, where kept or computed, ``log_likelihood``), the model's arguments
(``spec``, with ``spec["model"]`` naming the model), the checks before sampling (``pre_checks``) and after it
(``post_checks``), and which units were sampled in the centered form. Every result answers ``posterior``,
``checks``, ``summary``, ``diagnostics``, ``loo``, ``compare``, ``to_netcdf`` and ``from_netcdf``; each
model's result adds its tables (``rates``, ``fano``, ``shrinkage``, ...). ``spikepool.results.load.load_result``
opens any of them by ``spec["model"]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.checks.problems import CheckReport
from spikepool.checks.sampling import REMEDIES, check_sampling, psis_compare, psis_loo
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SourceError
from spikepool.results.store import read_tree, write_tree

__all__ = ["Result", "no_checks"]


def no_checks(title: str = "no checks before fitting") -> CheckReport:
    """An empty ``CheckReport`` (a result read from a file of a model without design checks)."""
    return CheckReport(title, [], checked=())


@dataclass(kw_only=True)
class Result:
    """A fitted model (see the module docstring).

    Attributes
    ----------
    idata : xarray.DataTree
        The groups of the fit.
    spec : dict
        The model's arguments; ``spec["model"]`` names the model.
    post_checks : CheckReport
        ``check_sampling`` of the parameters in ``DIAGNOSED`` (R-hat, ESS, divergences, contraction).
    pre_checks : CheckReport
        The design checks run before sampling (the model's ``check``).
    centered : numpy.ndarray
        Boolean (unit,): which units were sampled in the centered form (empty where it does not apply).
    loo_checks : CheckReport or None
        Reliability (Pareto k) of the last ``loo()`` or ``compare()``; None before either ran.
    """

    #: The model this result belongs to (``spec["model"]``).
    MODEL: ClassVar[str] = ""
    #: Posterior variables summarised and diagnosed (those present).
    DIAGNOSED: ClassVar[tuple[str, ...]] = ()
    #: Scale parameters whose prior-to-posterior contraction is checked (those present).
    SCALES: ClassVar[tuple[str, ...]] = ("tau",)
    #: Remedies given with sampling warnings.
    REMEDIES: ClassVar[str] = REMEDIES

    idata: xr.DataTree
    spec: dict
    post_checks: CheckReport
    pre_checks: CheckReport = field(default_factory=no_checks)
    centered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    loo_checks: CheckReport | None = None

    # ------------------------------------------------------------------ what every result answers
    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws (chain, draw, ...)."""
        return self.idata["posterior"].to_dataset()

    @property
    def name(self) -> str:
        """Short label of the model (for comparison tables)."""
        return self.spec["model"]

    @property
    def checks(self) -> CheckReport:
        """The checks before sampling, the diagnostics after it and the LOO reliability once computed, as one."""
        loo = self.loo_checks or no_checks("")
        return CheckReport(
            "fit checks",
            [*self.pre_checks.problems, *self.post_checks.problems, *loo.problems],
            checked=(*self.pre_checks.checked, *self.post_checks.checked, *loo.checked),
            summary=self.pre_checks.summary,
        )

    def summary(self, ci_prob: float = 0.94):
        """ArviZ summary table (mean, sd, equal-tailed interval, ESS, R-hat) of the ``DIAGNOSED`` parameters."""
        ci_prob = check_ci_prob(ci_prob)
        import arviz_stats as azs

        names = [n for n in self.DIAGNOSED if n in self.posterior]
        return azs.summary(self.idata, var_names=names, ci_prob=ci_prob)

    @property
    def timings(self) -> dict[str, float]:
        """Wall-clock seconds of the fit's stages, in the order they ran (empty where not recorded).

        ``prepare`` (validating and compressing the data), ``checks`` (the design checks), ``build`` (the PyMC
        model), ``sampling`` (all of ``pm.sample``), of which ``nuts_loop`` is the NUTS loop (tuning and draws:
        the rest is compiling the model and converting the draws), ``log_likelihood``, ``prior_draws`` and
        ``result`` (the result's groups and sampling diagnostics). A ``method="laplace"`` fit has ``hyper_mode``,
        ``hyper_draws``, ``block_draws`` and ``unit_pareto_k`` in place of the sampler's stages
        (``spikepool.models.laplace``).
        """
        return json.loads(self.idata.attrs.get("spikepool_timings", "{}"))

    def diagnostics(self) -> CheckReport:
        """The post-fit diagnostics (R-hat, ESS, divergences, contraction of the scales)."""
        return self.post_checks

    def pointwise(self) -> xr.DataTree:
        """The DataTree with the pointwise log-likelihood ``y`` over the observations (for LOO)."""
        return self.idata

    def _add_group(self, name: str, group: xr.Dataset) -> None:
        """Put ``group`` into ``idata`` as ``name`` (replacing one there), keeping the tree's attributes."""
        groups = {child: self.idata[child].to_dataset() for child in self.idata.children}
        groups[name] = group
        attrs = self.idata.attrs
        self.idata = xr.DataTree.from_dict(groups)
        self.idata.attrs = attrs

    def loo(self):
        """PSIS-LOO over the observations (``arviz_stats.loo``).

        Its Pareto-k reliability goes to ``loo_checks`` (``spikepool.checks.sampling.psis_loo``) and joins
        ``checks``, instead of ArviZ's printed warning.
        """
        elpd, self.loo_checks = psis_loo(self.pointwise(), self.name)
        return elpd

    def same_data(self, other: Result) -> bool:
        """Whether ``other`` was fitted to the same observations (so that their log densities compare)."""
        y = self.idata["observed_data"].to_dataset()["y"].values
        theirs = other.idata["observed_data"].to_dataset()["y"].values
        return y.shape == theirs.shape and bool(np.array_equal(y, theirs, equal_nan=True))

    def compare(self, *others: Result, names: list[str] | None = None):
        """LOO comparison table of this fit and ``others`` of the same data (``arviz_stats.compare``).

        The reliability of every model's PSIS-LOO (Pareto k) is kept in ``loo_checks`` and joins ``checks``.
        Raises ``ArgumentError`` when a fit saw other observations: their log densities are not comparable.
        """
        for f in others:
            if not isinstance(f, Result):
                raise ArgumentTypeError(f"others must be fitted results of the same data; got {type(f).__name__}.")
            if not self.same_data(f):
                raise ArgumentError("compare needs fits of the same data; got fits of different observations.")
        fits = [self, *others]
        labels = list(names) if names is not None else [f.name for f in fits]
        if len(labels) != len(fits):
            raise ArgumentError(f"names must give one label per fit; got {len(labels)} for {len(fits)} fits.")
        if len(set(labels)) != len(labels):
            labels = [f"{label} ({i})" for i, label in enumerate(labels)]
        table, self.loo_checks = psis_compare({label: f.pointwise() for label, f in zip(labels, fits, strict=True)})
        return table

    # ------------------------------------------------------------------ files
    def to_netcdf(self, path: str | os.PathLike) -> None:
        """Write the result (its groups, the model spec, the parameterisation) to netCDF, compressed."""
        write_tree(self.idata, path, self.spec, self.centered)

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike) -> Self:
        """Read a result written by ``to_netcdf``; the checks are recomputed from the data and the draws."""
        tree, spec, centered = read_tree(path)
        model = spec.get("model", "HierarchicalNegBinom")  # files before 0.2 did not name their model
        if model != cls.MODEL:
            raise SourceError(
                f"path must hold a {cls.MODEL} result; got a {model} result in {str(path)!r}. "
                "Hint: sp.load_result(path) opens any model's result."
            )
        return cls.from_tree(tree, spec, centered)

    @classmethod
    def from_tree(cls, tree: xr.DataTree, spec: dict, centered: np.ndarray) -> Self:
        """The result of a stored tree (``read_tree``), its checks recomputed."""
        return cls(idata=tree, spec=spec, post_checks=cls.check(tree), centered=centered)

    @classmethod
    def check(cls, tree: xr.DataTree) -> CheckReport:
        """``check_sampling`` of the ``DIAGNOSED`` parameters present, with the contraction of ``SCALES``."""
        names = [n for n in cls.DIAGNOSED if n in tree["posterior"].data_vars]
        return check_sampling(tree, var_names=names, scale_params=cls.SCALES, remedies=cls.remedies(tree))

    @classmethod
    def remedies(cls, tree: xr.DataTree) -> str:
        """What the diagnostics of ``tree`` suggest when sampling went badly (default: ``REMEDIES``)."""
        return cls.REMEDIES

    def __repr__(self) -> str:
        clean = "approximated cleanly (Laplace)" if self.spec.get("method") == "laplace" else "sampled cleanly"
        status = clean if not self.post_checks.warnings else f"{len(self.post_checks.warnings)} warning(s)"
        return f"<{type(self).__name__} of {self.name}: {status}>"

"""``TreeResult``: the result surface shared by the models of estimates, responses and proportions.

``NormalNormalResult``, ``RandomEffectsNormalResult`` and ``BetaBinomialResult`` hold the ``xarray.DataTree``
of a fit (``posterior``, ``sample_stats``, ``log_likelihood`` of the observed variable ``y``,
``observed_data``, ``constant_data``, ``prior``) and the model's arguments (``spec``). This base gives them
the same ``summary``, ``diagnostics``, ``loo``, ``compare``, ``to_netcdf`` and ``from_netcdf`` as
``FitResult``; each subclass adds its own ``shrinkage`` table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob, describe_choices
from spikepool.checks.problems import CheckReport
from spikepool.checks.sampling import check_sampling, psis_compare, psis_loo
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.results.store import read_tree, write_tree

__all__ = ["TreeResult"]


@dataclass
class TreeResult:
    """A fitted model whose observed variable is ``y`` (see the module docstring).

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior, sample_stats, log_likelihood, observed_data, constant_data, prior.
    spec : dict
        The model's arguments and the group dim (``spec["dim"]``).
    post_checks : CheckReport
        ``check_sampling`` of the parameters in ``DIAGNOSED``.
    centered : numpy.ndarray
        Boolean (group,): which groups were sampled in the centered form (empty where it does not apply).
    """

    #: Posterior variables summarised and diagnosed (those present).
    DIAGNOSED: ClassVar[tuple[str, ...]] = ()
    #: Hyperparameters that may be held fixed (``spec["fixed"]``) instead of sampled.
    HYPERS: ClassVar[tuple[str, ...]] = ()
    #: Scale parameters whose prior-to-posterior contraction is checked.
    SCALES: ClassVar[tuple[str, ...]] = ("tau",)
    #: Remedies given with sampling warnings.
    REMEDIES: ClassVar[str] = (
        "(1) raise target_accept (e.g. 0.95), (2) use parameterization='noncentered' for groups with little data "
        "or 'centered' for data-rich ones ('auto' chooses per group), (3) run more tuning and draws."
    )

    idata: xr.DataTree
    spec: dict
    post_checks: CheckReport
    centered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    loo_checks: CheckReport | None = None

    @property
    def dim(self) -> str:
        """Name of the group dim."""
        return self.spec["dim"]

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].to_dataset()

    @property
    def name(self) -> str:
        """Short label of the model (for comparison tables)."""
        return self.spec["model"]

    def hyper(self, name: str) -> xr.DataArray:
        """Draws (chain, draw) of a hyperparameter in ``HYPERS``, or its value (0-d) when it was held fixed."""
        if name in self.HYPERS and name in self.posterior:
            return self.posterior[name]
        if name in self.HYPERS and name in self.spec.get("fixed", {}):
            return xr.DataArray(float(self.spec["fixed"][name]), name=name)
        raise ArgumentError(f"name must be {describe_choices(self.HYPERS)}; got {name!r}.")

    def summary(self, ci_prob: float = 0.94):
        """ArviZ summary table (mean, sd, interval, ESS, R-hat) of the model's parameters."""
        ci_prob = check_ci_prob(ci_prob)
        import arviz_stats as azs

        names = [n for n in self.DIAGNOSED if n in self.posterior]
        return azs.summary(self.idata, var_names=names, ci_prob=ci_prob)

    def diagnostics(self) -> CheckReport:
        """The post-fit diagnostics (R-hat, ESS, divergences, contraction of the scales)."""
        return self.post_checks

    def loo(self):
        """PSIS-LOO over the observations of ``y`` (``arviz_stats.loo``); its Pareto-k reliability goes to
        ``loo_checks`` (``spikepool.checks.sampling.psis_loo``) instead of ArviZ's printed warning."""
        elpd, self.loo_checks = psis_loo(self.idata, self.name)
        return elpd

    def compare(self, *others: TreeResult, names: list[str] | None = None):
        """LOO comparison table of this fit and ``others`` of the same data (``arviz_stats.compare``).

        Raises ``ValueError`` when a fit saw other observations: their log densities are not comparable.
        """
        fits = [self, *others]
        labels = list(names) if names is not None else [f.name for f in fits]
        if len(labels) != len(fits):
            raise ArgumentError(f"names must give one label per fit; got {len(labels)} for {len(fits)} fits.")
        if len(set(labels)) != len(labels):
            labels = [f"{label} ({i})" for i, label in enumerate(labels)]
        y = self.idata["observed_data"].to_dataset()["y"].values
        for f in others:
            if not isinstance(f, TreeResult):
                raise ArgumentTypeError(f"others must be results of the same kind of data; got {type(f).__name__}.")
            other = f.idata["observed_data"].to_dataset()["y"].values
            if other.shape != y.shape or not np.array_equal(other, y, equal_nan=True):
                raise ArgumentError("compare needs fits of the same data; got fits of different observations.")
        table, self.loo_checks = psis_compare({label: f.idata for label, f in zip(labels, fits, strict=True)})
        return table

    def to_netcdf(self, path: str | os.PathLike) -> None:
        """Write the whole result (all groups, the model spec, the parameterisation) to netCDF."""
        write_tree(self.idata, path, self.spec, self.centered)

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike) -> Self:
        """Read a result written by ``to_netcdf``; the diagnostics are recomputed from the draws."""
        tree, spec, centered = read_tree(path)
        expected = cls.__name__.removesuffix("Result")
        if spec.get("model") != expected:
            raise ArgumentError(f"{path} must hold a {expected} result; got one of {spec.get('model')!r}.")
        return cls(idata=tree, spec=spec, post_checks=cls.check(tree), centered=centered)

    @classmethod
    def check(cls, tree: xr.DataTree) -> CheckReport:
        """``check_sampling`` of the ``DIAGNOSED`` parameters present, with the contraction of ``SCALES``."""
        names = [n for n in cls.DIAGNOSED if n in tree["posterior"].data_vars]
        return check_sampling(tree, var_names=names, scale_params=cls.SCALES, remedies=cls.REMEDIES)

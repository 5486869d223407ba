"""``TreeResult``: the results of the models of estimates, responses and proportions.

``NormalNormalResult``, ``RandomEffectsNormalResult`` and ``BetaBinomialResult`` keep the ``log_likelihood`` of
their observed variable ``y`` (small: one value per group or response) and have a group dim; each adds its own
``shrinkage`` table to the ``Result`` contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import xarray as xr

from spikepool._validate import describe_choices
from spikepool.exceptions import ArgumentError
from spikepool.results.base import Result

__all__ = ["TreeResult"]


@dataclass(kw_only=True, repr=False)
class TreeResult(Result):
    """A fitted model whose observed variable is ``y`` over a group dim (``spec["dim"]``); see ``Result``."""

    #: Hyperparameters that may be held fixed (``spec["fixed"]``) instead of sampled.
    HYPERS: ClassVar[tuple[str, ...]] = ()

    @property
    def dim(self) -> str:
        """Name of the group dim."""
        return self.spec["dim"]

    def hyper(self, name: str) -> xr.DataArray:
        """Draws (chain, draw) of a hyperparameter in ``HYPERS``, or its value (0-d) when it was held fixed."""
        if name in self.HYPERS and name in self.posterior:
            return self.posterior[name]
        if name in self.HYPERS and name in self.spec.get("fixed", {}):
            return xr.DataArray(float(self.spec["fixed"][name]), name=name)
        raise ArgumentError(f"name must be {describe_choices(self.HYPERS)}; got {name!r}.")

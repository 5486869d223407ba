"""``load_result``: open the result file of any model, by the model name its spec stores."""

from __future__ import annotations

import os

from spikepool.exceptions import SourceError
from spikepool.results.beta_binomial import BetaBinomialResult
from spikepool.results.fit import FitResult
from spikepool.results.glm import GLMResult
from spikepool.results.normal import NormalNormalResult
from spikepool.results.psth import PSTHResult
from spikepool.results.random_effects import RandomEffectsNormalResult
from spikepool.results.store import read_tree

__all__ = ["RESULTS", "load_result"]

#: The result class of each model (``spec["model"]``); files written before the spec named its model are
#: ``HierarchicalNegBinom`` fits.
RESULTS = {
    "HierarchicalNegBinom": FitResult,
    "NormalNormal": NormalNormalResult,
    "RandomEffectsNormal": RandomEffectsNormalResult,
    "BetaBinomial": BetaBinomialResult,
    "HierarchicalPSTH": PSTHResult,
    "HierarchicalGLM": GLMResult,
}


def load_result(path: str | os.PathLike):
    """Read a result written by any model's ``result.to_netcdf(path)``; the checks are recomputed from the data.

    Parameters
    ----------
    path : str or os.PathLike
        A netCDF file written by ``to_netcdf``.

    Returns
    -------
    FitResult, NormalNormalResult, RandomEffectsNormalResult, BetaBinomialResult, PSTHResult or GLMResult
        The result class of the model named in the file (``result.spec["model"]``).
    """
    tree, spec, centered = read_tree(path)
    model = spec.get("model", "HierarchicalNegBinom")
    if model not in RESULTS:
        raise SourceError(
            f"path must hold the result of one of {tuple(RESULTS)}; got a {model!r} result in {str(path)!r}. "
            "Hint: was it written by a newer spikepool?"
        )
    return RESULTS[model].from_tree(tree, spec, centered)

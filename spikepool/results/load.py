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
        The result class of the model named in the file (``result.spec["model"]``): ``FitResult`` for
        ``HierarchicalNegBinom``, ``PSTHResult`` for ``HierarchicalPSTH``, ``GLMResult`` for
        ``HierarchicalGLM``, and ``NormalNormalResult``, ``RandomEffectsNormalResult`` or ``BetaBinomialResult``
        for the model of that name.

    Raises
    ------
    FileNotFoundError
        ``path`` is not an existing file.
    SourceError
        The file is not a spikepool result (not netCDF or damaged, a counts file, a stored spec that is not
        JSON, a count model's result without its counts), or names a model this version does not know.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(20, 20, conditions=["base", "stim"], mu=[1.5, 2.0], seed=0)
    >>> model = sp.HierarchicalNegBinom(condition="condition", neuron_effect=False)
    >>> result = model.fit(counts, method="laplace", random_seed=0)
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(folder.name) / "fit.nc"
    >>> result.to_netcdf(path)
    >>> back = sp.load_result(path)
    >>> type(back).__name__, back.spec == result.spec, back.shrinkage().equals(result.shrinkage())
    ('FitResult', True, True)
    >>> folder.cleanup()
    """
    tree, spec, centered = read_tree(path)
    model = spec.get("model", "HierarchicalNegBinom")
    if model not in RESULTS:
        raise SourceError(
            f"path must hold the result of one of {tuple(RESULTS)}; got a {model!r} result in {str(path)!r}. "
            "Hint: was it written by a newer spikepool?"
        )
    return RESULTS[model].from_tree(tree, spec, centered)

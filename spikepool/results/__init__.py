"""Results of fits: the posterior with its data, checks, tables and files (``load_result``)."""

from spikepool.results.beta_binomial import BetaBinomialResult
from spikepool.results.fit import FitResult
from spikepool.results.glm import GLMResult
from spikepool.results.load import RESULTS, load_result
from spikepool.results.normal import NormalNormalResult
from spikepool.results.psth import PSTHResult
from spikepool.results.random_effects import RandomEffectsNormalResult
from spikepool.results.tree import TreeResult

__all__ = [
    "RESULTS",
    "BetaBinomialResult",
    "FitResult",
    "GLMResult",
    "NormalNormalResult",
    "PSTHResult",
    "RandomEffectsNormalResult",
    "TreeResult",
    "load_result",
]

"""Hierarchical count models (PyMC) and their likelihood on sufficient statistics."""

from spikepool.models.beta_binomial import BetaBinomial
from spikepool.models.glm import HierarchicalGLM
from spikepool.models.negbin import HierarchicalNegBinom
from spikepool.models.normal import NormalNormal
from spikepool.models.psth import HierarchicalPSTH
from spikepool.models.random_effects import RandomEffectsNormal

__all__ = [
    "BetaBinomial",
    "HierarchicalGLM",
    "HierarchicalNegBinom",
    "HierarchicalPSTH",
    "NormalNormal",
    "RandomEffectsNormal",
]

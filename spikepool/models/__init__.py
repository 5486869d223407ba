"""Hierarchical count models (PyMC) and their likelihood on sufficient statistics."""

from spikepool.models.beta_binomial import BetaBinomial
from spikepool.models.negbin import HierarchicalNegBinom
from spikepool.models.normal import NormalNormal
from spikepool.models.random_effects import RandomEffectsNormal

__all__ = ["BetaBinomial", "HierarchicalNegBinom", "NormalNormal", "RandomEffectsNormal"]

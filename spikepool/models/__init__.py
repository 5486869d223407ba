"""Hierarchical count models (PyMC) and their likelihood on sufficient statistics."""

from spikepool.models.negbin import HierarchicalNegBinom
from spikepool.models.normal import NormalNormal

__all__ = ["HierarchicalNegBinom", "NormalNormal"]

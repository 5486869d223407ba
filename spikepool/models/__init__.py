"""Hierarchical count models (PyMC) and their likelihood on sufficient statistics."""

from spikepool.models.negbin import HierarchicalNegBinom

__all__ = ["HierarchicalNegBinom"]

"""The PyMC side of the count families (``spikepool.stats.families``): each family's log density as a graph.

The numpy ``Family`` (log pmf for LOO and held-out scores, moments, Fano, replicates) and its graph here are
the two halves of one family; ``tests/test_likelihood.py`` checks, for every family in ``FAMILIES``, that
they agree. A new family adds its ``Family`` there and its graph to ``GRAPHS`` here.
"""

from __future__ import annotations

from collections.abc import Callable

from spikepool.stats.families import Family

__all__ = ["GRAPHS", "family_logp"]


def _negbin(y, mu, alpha):
    import pymc as pm

    return pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=alpha), y)


def _poisson(y, mu, alpha):
    import pymc as pm

    return pm.logp(pm.Poisson.dist(mu=mu), y)


#: Each family's log density of counts ``y`` with means ``mu`` and dispersion ``alpha`` (None for Poisson),
#: elementwise, as a PyTensor graph.
GRAPHS: dict[str, Callable] = {"negbin": _negbin, "poisson": _poisson}


def family_logp(family: Family, y, mu, alpha=None):
    """The log density of counts ``y`` under ``family`` (elementwise PyTensor graph; broadcasts).

    Parameters
    ----------
    family : Family
        ``spikepool.stats.families.NEGBIN`` or ``POISSON`` (``family_of(likelihood)``).
    y : array_like of int
        Counts (e.g. the cells' distinct counts).
    mu : tensor
        Mean counts (rate x exposure), the shape of ``y``.
    alpha : tensor, optional
        The Negative Binomial's dispersion (``Var = mu + mu**2 / alpha``); ignored by the Poisson family.
    """
    return GRAPHS[family.name](y, mu, alpha)

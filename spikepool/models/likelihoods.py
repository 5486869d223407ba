"""The PyMC side of the count families (``spikepool.stats.families``): each family's log density as a graph.

The numpy ``Family`` (log pmf for LOO and held-out scores, moments, Fano, replicates) and its graph here are
the two halves of one family; ``tests/test_likelihood.py`` checks, for every family in ``FAMILIES``, that
they agree. A new family adds its ``Family`` there and its graph to ``GRAPHS`` here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spikepool.exceptions import ArgumentError
from spikepool.models.com_poisson import com_groups_loglik
from spikepool.stats.binned import GroupSums
from spikepool.stats.cells import CellGroups, CountPairs, count_tails, tails_cheaper
from spikepool.stats.families import Family

#: Families whose log-likelihood of a group of counts depends on the group's mean only through the sum
#: and number of its counts (``grouped_loglik``).
GROUPED = ("negbin", "poisson")

__all__ = ["GRAPHS", "GROUPED", "com_loglik", "family_logp", "grouped_loglik", "take", "window_loglik"]


def take(x, index: np.ndarray):
    """``x[index]`` along the first axis (a PyTensor graph), without an indexed gather where ``index`` is
    ``arange`` (``x`` itself) or each entry repeated alike (``repeat(arange(n), r)``: a repeat, whose gradient is a
    reshape and a sum instead of a scatter-add, most of a gradient's cost when every trial is a group)."""
    import pytensor.tensor as pt

    index = np.asarray(index)
    n = x.type.shape[0]
    if n is None:
        try:
            n = int(x.shape[0].eval())
        except Exception:  # a length only known when the graph runs: the plain gather
            return x[index]
    if index.size and n > 0 and index.size % n == 0:
        r = index.size // n
        if r == 1 and np.array_equal(index, np.arange(n)):
            return x
        if r > 1 and np.array_equal(index, np.repeat(np.arange(n), r)):
            return pt.repeat(x, r, axis=0)
    period = _period(index)
    if period is not None:  # a block of indices tiled: gather the block once, tile it (a sum in the gradient)
        block = take(x, index[:period])
        return pt.tile(block, (index.size // period,) + (1,) * (block.ndim - 1))
    return x[index]


def _period(index: np.ndarray, tries: int = 32) -> int | None:
    """The shortest p < len(index) with ``index == tile(index[:p], len // p)``, or None."""
    size = index.size
    candidates = [p for p in range(1, size // 2 + 1) if size % p == 0 and index[p] == index[0]][:tries]
    for p in candidates:
        if np.array_equal(index.reshape(-1, p), np.broadcast_to(index[:p], (size // p, p))):
            return p
    return None


def _negbin(y, mu, alpha):
    import pymc as pm

    return pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=alpha), y)


def _poisson(y, mu, alpha):
    import pymc as pm

    return pm.logp(pm.Poisson.dist(mu=mu), y)


def _com_poisson(y, mu, nu):
    # each count its own group of one: (total, n, lf_sum) = (y, 1, log y!)
    import pytensor.tensor as pt

    yb, mu_b, nu_b = pt.broadcast_arrays(pt.as_tensor_variable(np.asarray(y, dtype=np.float64)), mu, nu)
    flat = yb.reshape((-1,))
    log_mu, nu_flat = pt.log(mu_b.reshape((-1,))), nu_b.reshape((-1,))
    ll = com_groups_loglik(log_mu, nu_flat, flat, pt.ones_like(flat), pt.gammaln(flat + 1))
    return ll.reshape(yb.shape)


#: Each family's log density of counts ``y`` with means ``mu`` and dispersion ``alpha`` (None for Poisson;
#: ``nu`` for COM-Poisson), elementwise, as a PyTensor graph.
GRAPHS: dict[str, Callable] = {"negbin": _negbin, "poisson": _poisson, "com_poisson": _com_poisson}


def family_logp(family: Family, y, mu, alpha=None):
    """The log density of counts ``y`` under ``family`` (elementwise PyTensor graph; broadcasts).

    Parameters
    ----------
    family : Family
        ``spikepool.stats.families.NEGBIN``, ``POISSON`` or ``COM_POISSON`` (``family_of(likelihood)``).
    y : array_like of int
        Counts (e.g. the cells' distinct counts).
    mu : tensor
        Mean counts (rate x exposure), the shape of ``y``.
    alpha : tensor, optional
        The Negative Binomial's dispersion (``Var = mu + mu**2 / alpha``), COM-Poisson's ``nu``; ignored by
        the Poisson family. (COM-Poisson solves one series per element here: models use ``com_loglik`` on
        groups instead.)
    """
    return GRAPHS[family.name](y, mu, alpha)


def grouped_loglik(family: Family, sums: GroupSums, log_mu, alpha=None):
    """The summed log-likelihood of binned counts from their ``GroupSums`` (a scalar PyTensor graph).

    Equal to ``sum(weight * family_logp(family, y, mu, alpha))`` over the cells, with the work per
    (neuron, condition, bin) group instead of per cell and no indexing: the log-likelihood's gradient
    costs a few elementwise operations on the dense grid (``tests/test_psth.py`` checks the model's
    likelihood against scipy's log pmf summed over every valid trial and bin).

    Parameters
    ----------
    family : Family
        A family in ``GROUPED`` (``NEGBIN``, ``POISSON``).
    sums : GroupSums
        ``spikepool.stats.binned.group_sums`` of the cells.
    log_mu : tensor
        Log mean count (neuron, condition, bin) of every group (finite where ``sums.n`` is 0 too).
    alpha : tensor, optional
        The Negative Binomial's dispersion per neuron (neuron,) or shared (scalar).
    """
    import pytensor.tensor as pt

    if family.name not in GROUPED:
        raise ArgumentError(
            f"family must be one of {GROUPED} for grouped_loglik; got {family.name!r}. Hint: family_logp per cell."
        )
    alpha = None if alpha is None else pt.as_tensor_variable(alpha)
    group_alpha = alpha[:, None, None] if alpha is not None and alpha.ndim == 1 else alpha
    per_unit = (
        sums.n.reshape(sums.n.shape[0], -1).sum(axis=1) if alpha is not None and alpha.ndim == 1 else sums.n.sum()
    )
    return _mean_only_loglik(family, sums.total, sums.n, log_mu, sums.pairs, alpha, group_alpha, per_unit)


def window_loglik(family: Family, groups: CellGroups, pairs: CountPairs, log_mu, alpha=None):
    """The summed log-likelihood of window counts from their groups and count pairs (a scalar PyTensor graph).

    Equal to ``sum(weight * family_logp(family, y, mu, alpha))`` over the cells (``spikepool.stats.cells``),
    with the mean entering once per (neuron, condition, duration) group through the group's ``total`` and
    ``n``, and the Negative Binomial's ``lgamma(y + alpha)`` once per distinct (neuron, count) pair: the
    gradient's cost grows with neurons x conditions and the count values seen, not with trials
    (``tests/test_likelihood.py`` checks it against scipy's log pmf summed over every valid trial).

    Parameters
    ----------
    family : Family
        A family in ``GROUPED`` (``NEGBIN``, ``POISSON``).
    groups : CellGroups
        ``spikepool.stats.cells.cell_groups`` of the cells.
    pairs : CountPairs
        ``spikepool.stats.cells.count_pairs`` of the same cells.
    log_mu : tensor
        Log mean count of every group (group,).
    alpha : tensor, optional
        The Negative Binomial's dispersion per neuron (neuron,) or shared (scalar).
    """
    import pytensor.tensor as pt

    if family.name not in GROUPED:
        raise ArgumentError(
            f"family must be one of {GROUPED} for window_loglik; got {family.name!r}. Hint: family_logp per cell."
        )
    alpha = None if alpha is None else pt.as_tensor_variable(alpha)
    per_unit = np.sum(groups.n)
    if alpha is not None and alpha.ndim == 1:
        group_alpha = take(alpha, groups.neuron)
        per_unit = np.bincount(groups.neuron, weights=groups.n) if groups.neuron.size else np.zeros(0)
    else:
        group_alpha = alpha
    return _mean_only_loglik(family, groups.total, groups.n, log_mu, pairs, alpha, group_alpha, per_unit)


def _mean_only_loglik(family: Family, total, n, log_mu, pairs: CountPairs, alpha, group_alpha, per_unit):
    """``sum over groups`` of the Poisson / NB log-likelihood from (total, n) and the neuron's count pairs.

    The NB's mean part is ``Y log mu - (Y + N alpha) log(mu + alpha) + N alpha log alpha`` per group, its last
    term summed per dispersion unit (``per_unit``: N summed over each unit's groups, or over all for a shared
    alpha): one exp and one log per group, which is most of the gradient's cost when every trial is a group.
    """
    import pytensor.tensor as pt

    mu = pt.exp(log_mu)
    if family.name == "poisson":
        return pt.sum(total * log_mu - n * mu) - pairs.log_factorial
    a = group_alpha
    per_unit = np.asarray(per_unit, dtype=float)
    own = alpha if per_unit.ndim == 0 else alpha[: per_unit.size]
    grouped = pt.sum(total * log_mu - (total + n * a) * pt.log(mu + a)) + pt.sum(per_unit * own * pt.log(own))
    n_neuron = int(pairs.neuron.max()) + 1 if pairs.neuron.size else 0
    if tails_cheaper(pairs, n_neuron):
        # sum_{k<y} log(alpha + k) = lgamma(y + alpha) - lgamma(alpha): a log per tail entry, not two lgamma per pair
        neuron, k, weight = count_tails(pairs, n_neuron)
        tail_alpha = alpha[neuron] if alpha.ndim == 1 else alpha
        paired = pt.sum(weight * pt.log(tail_alpha + k))
    else:
        pair_alpha = alpha[pairs.neuron] if alpha.ndim == 1 else alpha
        paired = pt.sum(pairs.weight * (pt.gammaln(pairs.y + pair_alpha) - pt.gammaln(pair_alpha)))
    return grouped + paired - pairs.log_factorial


def com_loglik(log_mu, nu, total, n, lf_sum):
    """The summed COM-Poisson log-likelihood of groups of counts from their sufficient statistics (scalar graph).

    Each group (one mean, one ``nu``) enters through the sum of its counts ``total``, their number ``n``
    and the sum of their ``log y!`` ``lf_sum``: ``total log lambda - nu lf_sum - n log Z``, with ``lambda``
    solved from the mean once per group (``spikepool.stats.com_poisson``). Exact up to the series' stated
    truncation error; the gradient is exact too (implicit differentiation, no iteration is differentiated).

    Parameters
    ----------
    log_mu, nu : tensor
        Vectors (group,) of log mean counts and dispersions (``nu`` per group: index a per-neuron ``nu``).
    total, n, lf_sum : numpy.ndarray
        float64 (group,) sufficient statistics of each group's counts.
    """
    return com_groups_loglik(log_mu, nu, total, n, lf_sum).sum()

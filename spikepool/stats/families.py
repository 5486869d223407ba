"""Count families (numpy): the Negative Binomial and its Poisson limit, as ``Family`` objects (their PyMC
graphs are in ``spikepool.models.likelihoods``).

With ``y | lambda ~ Poisson(lambda d)`` and ``lambda ~ Gamma(shape alpha, rate alpha / r)``, integrating
lambda out gives ``y ~ NegativeBinomial(mu = r d, alpha)``: ``Var = mu + mu**2 / alpha``, Fano
``1 + mu / alpha``; ``alpha -> infinity`` is the Poisson limit (Var = mu). A new family (e.g. COM-Poisson) is
one more ``Family``: the results' tables, Fano factors, replicates and held-out scores read it from here.

The Conway-Maxwell-Poisson (``COM_POISSON``, ``spikepool.stats.com_poisson``) is mean-parameterised with
dispersion ``nu``: ``nu < 1`` wider than Poisson, ``nu = 1`` Poisson, ``nu > 1`` narrower (Fano < 1, which
the Negative Binomial cannot reach). Its moments are sums of its pmf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from spikepool.stats.com_poisson import com_logpmf, com_moments, com_sample

__all__ = ["COM_POISSON", "FAMILIES", "NEGBIN", "POISSON", "ComPoissonFamily", "Family", "family_of", "nb_logpmf"]


def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Negative-Binomial log pmf in PyMC's ``(mu, alpha)`` form (numpy; broadcasts).

    ``Var = mu + mu**2 / alpha``; ``alpha=None`` (or infinite) gives the Poisson limit.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    poisson = y * np.log(mu) - mu - gammaln(y + 1.0)
    if alpha is None:
        return poisson
    alpha = np.asarray(alpha, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        nb = (
            gammaln(y + alpha)
            - gammaln(alpha)
            - gammaln(y + 1.0)
            + alpha * (np.log(alpha) - np.log(alpha + mu))
            + y * (np.log(mu) - np.log(alpha + mu))
        )
    return np.where(np.isfinite(alpha) & (alpha < 1e10), nb, poisson)


@dataclass(frozen=True)
class Family:
    """A count family: its log pmf, moments, replicates and how its dispersion is read from a posterior.

    The third argument of the methods is the family's dispersion at each observation: the Negative
    Binomial's ``alpha`` (PyMC's: ``Var = mu + mu**2 / alpha``); ``None`` for the Poisson family (no
    dispersion). Arrays broadcast; leading dims are the posterior's sample dims.

    Attributes
    ----------
    name : str
        ``"negbin"``, ``"poisson"`` or ``"com_poisson"`` (the models' ``likelihood=``).
    dispersion_names : tuple of str
        Posterior variables of its dispersion (diagnosed, and their contraction checked).
    remedy : str
        What to try, specific to the family, when its fit samples badly (appended to the model's remedies).
    parameters : tuple of str
        The posterior variables ``dispersion_at`` reads (a subset is present in any one fit).
    """

    name: str
    dispersion_names: tuple[str, ...]
    remedy: str = ""
    parameters: tuple[str, ...] = ("alpha", "eta")

    def logpmf(self, y: np.ndarray, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """Log pmf of counts ``y`` with means ``mu`` (and dispersion ``alpha``)."""
        return nb_logpmf(y, mu, alpha if self.dispersion_names else None)

    def variance(self, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """``mu + mu**2 / alpha`` (``mu`` for Poisson)."""
        mu = np.asarray(mu, dtype=float)
        return mu if alpha is None or not self.dispersion_names else mu + mu**2 / np.asarray(alpha, dtype=float)

    def fano(self, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """Variance over mean: ``1 + mu / alpha`` (1 for Poisson)."""
        mu = np.asarray(mu, dtype=float)
        if alpha is None or not self.dispersion_names:
            return np.ones_like(mu)
        return 1.0 + mu / np.asarray(alpha, dtype=float)

    def sample(self, rng: np.random.Generator, mu: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """Replicated counts: Poisson draws of ``mu``, or of Gamma(alpha, mu / alpha) rates (the NB mixture)."""
        if alpha is None or not self.dispersion_names:
            return rng.poisson(mu)
        return rng.poisson(rng.gamma(alpha, mu / alpha))

    def dispersion_at(self, values: Mapping[str, np.ndarray], neuron: np.ndarray, mu: np.ndarray) -> np.ndarray | None:
        """The NB ``alpha`` of each observation, from posterior ``values`` (name -> array over sample dims [, neuron]).

        ``neuron`` (obs,) indexes each observation's neuron and ``mu`` (*sample, obs) is its mean count: a
        per-neuron ``alpha`` (*sample, neuron) is taken at ``neuron``, a shared one (*sample,) broadcast, and
        the rate-independent Fano form gives ``alpha = eta * mu``. ``None`` for Poisson.
        """
        if not self.dispersion_names:
            return None
        mu = np.asarray(mu, dtype=float)
        if "eta" in values:
            return np.asarray(values["eta"], dtype=float)[..., None] * mu
        a = np.asarray(values["alpha"], dtype=float)
        a = a[..., neuron] if a.ndim == mu.ndim else a[..., None]
        return np.broadcast_to(a, mu.shape)


@dataclass(frozen=True)
class ComPoissonFamily(Family):
    """The mean-parameterised Conway-Maxwell-Poisson: the third argument of the methods is ``nu``.

    ``nu`` per neuron (*sample, neuron) or shared (*sample,) is read from the posterior variable ``nu``.
    Moments come from the pmf's sums (``spikepool.stats.com_poisson.com_moments``), each distinct
    (mean, nu) pair solved once.
    """

    parameters: tuple[str, ...] = ("nu",)

    def logpmf(self, y: np.ndarray, mu: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
        """Log pmf of counts ``y`` with means ``mu`` and dispersions ``nu``."""
        return com_logpmf(y, mu, nu)

    def variance(self, mu: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
        """The variance, summed from the pmf."""
        return com_moments(mu, nu)["variance"]

    def fano(self, mu: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
        """Variance over mean (below 1 for ``nu > 1``)."""
        return com_moments(mu, nu)["fano"]

    def sample(self, rng: np.random.Generator, mu: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
        """Replicated counts (inverse CDF)."""
        return com_sample(rng, mu, nu)

    def dispersion_at(self, values: Mapping[str, np.ndarray], neuron: np.ndarray, mu: np.ndarray) -> np.ndarray | None:
        """``nu`` of each observation: per neuron taken at ``neuron``, shared broadcast (see ``Family``)."""
        mu = np.asarray(mu, dtype=float)
        nu = np.asarray(values["nu"], dtype=float)
        nu = nu[..., neuron] if nu.ndim == mu.ndim else nu[..., None]
        return np.broadcast_to(nu, mu.shape)


NEGBIN = Family(
    "negbin",
    ("alpha", "eta", "mu_a", "tau_a"),
    "pool dispersion (dispersion='pooled' or 'shared') if per-neuron alpha is weakly identified.",
)
POISSON = Family("poisson", (), parameters=())
COM_POISSON = ComPoissonFamily(
    "com_poisson",
    ("nu", "mu_nu", "tau_nu"),
    "pool dispersion (dispersion='pooled' or 'shared') if per-neuron nu is weakly identified.",
)
FAMILIES = {family.name: family for family in (NEGBIN, POISSON, COM_POISSON)}


def family_of(likelihood: str) -> Family:
    """The family of a model's ``likelihood`` option ("negbin", "poisson" or "com_poisson")."""
    return FAMILIES[likelihood]

"""Count families (numpy): the Negative Binomial and its Poisson limit, as ``Family`` objects (their PyMC
graphs are in ``spikepool.models.likelihoods``).

With ``y | lambda ~ Poisson(lambda d)`` and ``lambda ~ Gamma(shape alpha, rate alpha / r)``, integrating
lambda out gives ``y ~ NegativeBinomial(mu = r d, alpha)``: ``Var = mu + mu**2 / alpha``, Fano
``1 + mu / alpha``; ``alpha -> infinity`` is the Poisson limit (Var = mu). A new family (e.g. COM-Poisson) is
one more ``Family``: the results' tables, Fano factors, replicates and held-out scores read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

__all__ = ["FAMILIES", "NEGBIN", "POISSON", "Family", "family_of", "nb_logpmf"]


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

    ``alpha`` is the Negative Binomial's (PyMC's ``alpha``: ``Var = mu + mu**2 / alpha``); ``None`` means no
    dispersion (the Poisson family). Arrays broadcast; leading dims are the posterior's sample dims.

    Attributes
    ----------
    name : str
        ``"negbin"`` or ``"poisson"`` (the models' ``likelihood=``).
    dispersion_names : tuple of str
        Posterior variables of its dispersion (diagnosed, and their contraction checked).
    remedy : str
        What to try, specific to the family, when its fit samples badly (appended to the model's remedies).
    """

    name: str
    dispersion_names: tuple[str, ...]
    remedy: str = ""

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

    def alpha(self, values: Mapping[str, np.ndarray], neuron: np.ndarray, mu: np.ndarray) -> np.ndarray | None:
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


NEGBIN = Family(
    "negbin",
    ("alpha", "eta", "mu_a", "tau_a"),
    "pool dispersion (dispersion='pooled' or 'shared') if per-neuron alpha is weakly identified.",
)
POISSON = Family("poisson", ())
FAMILIES = {family.name: family for family in (NEGBIN, POISSON)}


def family_of(likelihood: str) -> Family:
    """The family of a model's ``likelihood`` option ("negbin" or "poisson")."""
    return FAMILIES[likelihood]

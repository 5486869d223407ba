"""Default priors of the hierarchical count models, and their overrides.

All rates are in Hz and modelled on the log scale; dispersion alpha is PyMC's
(``Var = mu + mu**2 / alpha``).

=====================  ===========  ===========================================================
key                    default      meaning
=====================  ===========  ===========================================================
``mu_loc``             ``None``     mean of the Normal prior on the population mean log rate
                                    ``mu``; ``None``: log of the pooled rate of the data (the
                                    prior is scale-aware: it is centred on the recording's scale)
``mu_scale``           2.0          its sd: a factor e^4 ~ 55 either way covers 95%
``tau``                "halfnormal" prior family of the between-neuron sd ``tau`` of log rates
                                    ("halfnormal" or "halfcauchy")
``tau_scale``          1.0          its scale
``tau_session_scale``  0.5          ``session=``: scale of the between-session sd ``tau_session`` of
                                    the session mean log rates (same family as ``tau``)
``rate_scale``         2.5          ``pooling="none"``: log_rate_i ~ Normal(mu_loc, rate_scale)
``log_alpha_loc``      1.0          Normal prior on log alpha (alpha ~ 2.7: Fano 1.4 at mu = 1)
``log_alpha_scale``    1.5          its sd (alpha from 0.14 to 52 at 95%)
``tau_alpha_scale``    1.0          ``dispersion="pooled"``: HalfNormal scale of tau_a
``log_eta_loc``        0.0          ``dispersion="fano"``: Normal prior on log eta
``log_eta_scale``      1.5          its sd
``log_nu_loc``         0.0          ``likelihood="com_poisson"``: Normal prior on log nu, centred on
                                    the Poisson (nu = 1)
``log_nu_scale``       0.75         its sd (nu from 0.23 to 4.3 at 95%: Fano factors from about 4
                                    down to about 0.25 at moderate means)
``tau_nu_scale``       0.5          ``dispersion="pooled"``: HalfNormal scale of tau_nu
``response_scale``     1.0          ``baseline=``: HalfNormal scale of ``sigma_response``, the sd of
                                    the log ratio of a responding cell (a factor 2.7 at one sd)
=====================  ===========  ===========================================================

Why a half-normal on tau by default: tau is the sd of log firing rates across neurons. Half-normal(1)
puts 95% of its mass below 1.96, i.e. the middle 95% of neurons spanning up to a factor
e^(2 x 1.96 x 1.96) ~ 2,000 in rate, wider than any recorded population (the locust units span
2-38 Hz, an sd of log rates of about 0.9), while keeping mass away from the absurd spreads a
half-Cauchy allows in its tail (10% of a half-Cauchy(1) lies above tau = 6, rates 10^10 apart),
which matter when few neurons inform tau. Inverse-Gamma(eps, eps) and improper priors on tau are
never used. ``priors={"tau": "halfcauchy"}`` gives the heavier tail.
"""

from __future__ import annotations

from typing import Any

from spikepool.models.options import resolve_priors

__all__ = ["DEFAULT_PRIORS", "negbin_priors"]

DEFAULT_PRIORS: dict[str, Any] = {
    "mu_loc": None,
    "mu_scale": 2.0,
    "tau": "halfnormal",
    "tau_scale": 1.0,
    "tau_session_scale": 0.5,
    "rate_scale": 2.5,
    "log_alpha_loc": 1.0,
    "log_alpha_scale": 1.5,
    "tau_alpha_scale": 1.0,
    "log_eta_loc": 0.0,
    "log_eta_scale": 1.5,
    "log_nu_loc": 0.0,
    "log_nu_scale": 0.75,
    "tau_nu_scale": 0.5,
    "response_scale": 1.0,
}


def negbin_priors(priors: dict | None) -> dict[str, Any]:
    """``DEFAULT_PRIORS`` updated with ``priors``: known keys, a known ``tau`` family, positive scales and
    finite locations (``mu_loc`` may stay ``None``: the data's pooled rate)."""
    locations = ("log_alpha_loc", "log_eta_loc", "log_nu_loc")
    locations += ("mu_loc",) if isinstance(priors, dict) and priors.get("mu_loc") is not None else ()
    return resolve_priors(
        DEFAULT_PRIORS,
        priors,
        families={"tau": ("halfnormal", "halfcauchy")},
        positive=tuple(k for k in DEFAULT_PRIORS if k.endswith("_scale")),
        finite=locations,
    )

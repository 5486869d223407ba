"""``NormalNormalResult``: the posterior of a ``NormalNormal`` fit, its shrinkage table and closed forms.

The idata is the ``xarray.DataTree`` from ``pm.sample`` with ``posterior`` (``mu``, ``tau``, ``theta``,
``theta_offset`` / ``theta_centered`` as parameterised), ``sample_stats``, ``log_likelihood`` (``y`` over
the group dim), ``observed_data`` (``y``), ``constant_data`` (``standard_error``) and ``prior`` (draws of
mu and tau for the contraction check); the model's arguments are in ``attrs["spikepool_spec"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.results.tree import TreeResult
from spikepool.stats.analytic import normal_conditional_posterior
from spikepool.stats.intervals import SAMPLE_DIMS, eti
from spikepool.stats.intervals import sample_mean as _mean
from spikepool.stats.shrinkage import empirical_shrinkage

__all__ = ["NormalNormalResult"]


@dataclass(kw_only=True, repr=False)
class NormalNormalResult(TreeResult):
    """A fitted ``NormalNormal`` model (``summary``, ``diagnostics``, ``loo``, ``compare``, ``to_netcdf`` and
    ``from_netcdf`` as in ``TreeResult``).

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior, sample_stats, log_likelihood, observed_data, constant_data, prior.
    spec : dict
        The model's arguments and the group dim (``spec["dim"]``).
    post_checks : CheckReport
        ``check_sampling`` of mu, tau and theta.
    centered : numpy.ndarray
        Boolean (group,): which groups were sampled in the centered form.
    """

    MODEL = "NormalNormal"
    HYPERS = ("mu", "tau")
    DIAGNOSED = ("mu", "tau", "theta")

    @property
    def estimates(self) -> xr.DataArray:
        """The estimates y (group,)."""
        return self.idata["observed_data"].to_dataset()["y"]

    @property
    def standard_errors(self) -> xr.DataArray:
        """The known standard errors sigma (group,)."""
        return self.idata["constant_data"].to_dataset()["standard_error"]

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Per-group shrinkage table: how far each estimate moved toward mu, from the model and the draws.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed posterior interval of theta.

        Returns
        -------
        xarray.Dataset
            Over the group dim:

            - ``estimate`` (y_j) and ``standard_error`` (sigma_j);
            - ``theta``, ``lower``, ``upper``: posterior mean and equal-tailed interval of theta_j;
            - ``B``: ``sigma_j^2 / (sigma_j^2 + tau^2)`` at the posterior MEAN of tau (plug-in);
              ``kappa = 1 - B`` (the data's weight);
            - ``B_mean``: the posterior mean of B_j over the draws of tau (not equal to ``B``: B is
              nonlinear in tau);
            - ``empirical``: ``(y_j - E[theta_j]) / (y_j - E[mu])``, the fraction of the way to mu the
              posterior mean moved (NaN where y_j equals E[mu]);
            - ``closed_form``: the classic ``(1 - B_j) y_j + B_j E[mu]`` with ``B`` above (plug-in at the
              posterior means of mu and tau);
            - ``rao_blackwell``: the mean over draws of ``(1 - B_j) y_j + B_j mu``, which equals
              E[theta_j | y] up to Monte-Carlo error (a check of the sampled ``theta``).

            ``attrs``: ``mu`` and ``tau`` (posterior means, or the fixed values), ``ci_prob``, ``interval``.
        """
        ci_prob = check_ci_prob(ci_prob)
        y, sigma = self.estimates, self.standard_errors
        theta = self.posterior["theta"]
        mu_draws, tau_draws = self.hyper("mu"), self.hyper("tau")
        mu, tau = float(_mean(mu_draws)), float(_mean(tau_draws))
        b_plug = sigma**2 / (sigma**2 + tau**2)
        b_draws = sigma**2 / (sigma**2 + tau_draws**2)
        theta_mean = theta.mean(SAMPLE_DIMS)
        lower, upper = eti(theta, ci_prob)
        dim = self.dim
        out = xr.Dataset(
            {
                "estimate": y,
                "standard_error": sigma,
                "theta": theta_mean,
                "lower": lower,
                "upper": upper,
                "B": b_plug,
                "B_mean": _mean(b_draws),
                "kappa": 1.0 - b_plug,
                "empirical": (dim, empirical_shrinkage(y.values, theta_mean.values, mu)),
                "closed_form": (dim, normal_conditional_posterior(y.values, sigma.values, mu, tau)[0]),
                "rao_blackwell": _mean((1.0 - b_draws) * y + b_draws * mu_draws),
            },
            attrs={"mu": mu, "tau": tau, "ci_prob": ci_prob, "interval": "equal-tailed"},
        )
        return out.transpose(dim)

    def closed_form_posterior(self, mu: float, tau: float) -> xr.Dataset:
        """The exact posterior of each theta_j for KNOWN ``mu`` and ``tau`` (no sampling involved).

        ``theta_j | y, mu, tau ~ Normal((1 - B_j) y_j + B_j mu, (1 - B_j) sigma_j^2)`` with
        ``B_j = sigma_j^2 / (sigma_j^2 + tau^2)``.

        Returns
        -------
        xarray.Dataset
            Over the group dim: ``mean``, ``sd``, ``B``; ``attrs`` ``mu`` and ``tau``.
        """
        y, sigma = self.estimates, self.standard_errors
        mean, sd = normal_conditional_posterior(y.values, sigma.values, mu, tau)
        b = sigma.values**2 / (sigma.values**2 + float(tau) ** 2)
        dim = self.dim
        return xr.Dataset(
            {"mean": (dim, mean), "sd": (dim, sd), "B": (dim, b)},
            coords={dim: y[dim].values},
            attrs={"mu": float(mu), "tau": float(tau)},
        )

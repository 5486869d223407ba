"""``RandomEffectsNormalResult``: the posterior of a ``RandomEffectsNormal`` fit and its shrinkage table.

The idata is the ``xarray.DataTree`` of ``pm.sample`` with ``posterior`` (``mu``, ``tau``, ``sigma``,
``theta``, ``a``, ``icc`` and the sampled offsets), ``sample_stats``, ``log_likelihood`` (``y`` over ``obs``,
one entry per recorded response, labelled ``obs_<dim>`` and ``obs_trial``), ``observed_data``,
``constant_data`` (``group``: each response's neuron index) and ``prior`` (draws of the sampled
hyperparameters for the contraction check); the model's arguments are in ``attrs["spikepool_spec"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.results.tree import TreeResult
from spikepool.stats.analytic import normal_conditional_posterior
from spikepool.stats.intervals import SAMPLE_DIMS, eti, sample_mean
from spikepool.stats.shrinkage import empirical_shrinkage

__all__ = ["RandomEffectsNormalResult"]


@dataclass(kw_only=True, repr=False)
class RandomEffectsNormalResult(TreeResult):
    """A fitted ``RandomEffectsNormal`` model (``summary``, ``diagnostics``, ``loo``, ``compare``,
    ``to_netcdf`` and ``from_netcdf`` as in ``TreeResult``)."""

    MODEL = "RandomEffectsNormal"
    HYPERS = ("mu", "tau", "sigma")
    DIAGNOSED = ("mu", "tau", "sigma", "theta")
    SCALES = ("tau", "sigma")

    @property
    def responses(self) -> xr.DataArray:
        """The recorded responses (obs,), labelled ``obs_<dim>`` and ``obs_trial``."""
        return self.idata["observed_data"].to_dataset()["y"]

    def _raw(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per group: labels, recorded trials n_i and raw means ybar_i."""
        y = self.responses
        group = self.idata["constant_data"].to_dataset()["group"].values
        labels = self.posterior[self.dim].values
        n = np.bincount(group, minlength=labels.size)
        means = np.bincount(group, weights=y.values, minlength=labels.size) / n
        return labels, n, means

    def variance_components(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Posterior mean and equal-tailed interval of tau, sigma and the intra-class correlation.

        Returns
        -------
        xarray.Dataset
            Over ``parameter`` (``tau``, ``sigma``, ``icc`` = tau^2 / (tau^2 + sigma^2)): ``mean``, ``lower``,
            ``upper`` (a fixed value has its value three times).
        """
        ci_prob = check_ci_prob(ci_prob)
        tau, sigma = self.hyper("tau"), self.hyper("sigma")
        draws = {"tau": tau, "sigma": sigma, "icc": tau**2 / (tau**2 + sigma**2)}
        rows = []
        for da in draws.values():
            lower, upper = eti(da, ci_prob)
            rows.append([float(da.mean()), float(lower), float(upper)])
        values = np.array(rows)
        return xr.Dataset(
            {name: ("parameter", values[:, k]) for k, name in enumerate(("mean", "lower", "upper"))},
            coords={"parameter": list(draws)},
            attrs={"ci_prob": ci_prob, "interval": "equal-tailed"},
        )

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Per-neuron shrinkage table: how far each raw mean moved toward mu, from the model and the draws.

        Returns
        -------
        xarray.Dataset
            Over the neuron dim:

            - ``n`` (recorded trials) and ``raw`` (the raw mean ybar_i);
            - ``theta``, ``lower``, ``upper``: posterior mean and equal-tailed interval of the neuron mean;
            - ``kappa``: the data's weight ``n_i tau^2 / (n_i tau^2 + sigma^2)`` at the posterior MEANS of tau
              and sigma (plug-in), also the MSE ratio of the pooled to the raw mean; ``B = 1 - kappa``;
            - ``kappa_mean``: the posterior mean of kappa_i over the draws;
            - ``empirical``: ``(ybar_i - E[theta_i]) / (ybar_i - E[mu])`` (NaN where ybar_i equals E[mu]);
            - ``closed_form``: ``E[mu] + kappa_i (ybar_i - E[mu])`` with the plug-in kappa;
            - ``rao_blackwell``: the mean over draws of ``mu + kappa_i (ybar_i - mu)``, equal to
              E[theta_i | y] up to Monte-Carlo error (a check of the sampled ``theta``).

            ``attrs``: ``mu``, ``tau``, ``sigma`` (posterior means or fixed values), ``ci_prob``.
        """
        ci_prob = check_ci_prob(ci_prob)
        labels, n, means = self._raw()
        dim = self.dim
        n_da = xr.DataArray(n, dims=dim, coords={dim: labels})
        raw = xr.DataArray(means, dims=dim, coords={dim: labels})
        mu_d, tau_d, sigma_d = self.hyper("mu"), self.hyper("tau"), self.hyper("sigma")
        mu, tau, sigma = (float(sample_mean(d)) for d in (mu_d, tau_d, sigma_d))
        kappa = n * tau**2 / (n * tau**2 + sigma**2)
        kappa_d = n_da * tau_d**2 / (n_da * tau_d**2 + sigma_d**2)
        theta = self.posterior["theta"]
        theta_mean = theta.mean(SAMPLE_DIMS)
        lower, upper = eti(theta, ci_prob)
        out = xr.Dataset(
            {
                "n": n_da,
                "raw": raw,
                "theta": theta_mean,
                "lower": lower,
                "upper": upper,
                "kappa": (dim, kappa),
                "B": (dim, 1.0 - kappa),
                "kappa_mean": sample_mean(kappa_d),
                "empirical": (dim, empirical_shrinkage(means, theta_mean.values, mu)),
                "closed_form": (dim, mu + kappa * (means - mu)),
                "rao_blackwell": sample_mean(mu_d + kappa_d * (raw - mu_d)),
            },
            attrs={"mu": mu, "tau": tau, "sigma": sigma, "ci_prob": ci_prob, "interval": "equal-tailed"},
        )
        return out.transpose(dim)

    def closed_form_posterior(self, mu: float, tau: float, sigma: float) -> xr.Dataset:
        """The exact posterior of each neuron mean for KNOWN ``mu``, ``tau`` and ``sigma`` (no sampling).

        The raw mean ybar_i ~ Normal(theta_i, sigma^2 / n_i) is sufficient for theta_i, so
        ``theta_i | y ~ Normal(mu + kappa_i (ybar_i - mu), (1 - kappa_i) sigma^2 / n_i)``
        (``spikepool.stats.analytic.normal_conditional_posterior`` with standard errors sigma / sqrt(n_i)).

        Returns
        -------
        xarray.Dataset
            Over the neuron dim: ``mean``, ``sd``, ``kappa``; ``attrs`` ``mu``, ``tau``, ``sigma``.
        """
        labels, n, means = self._raw()
        se = float(sigma) / np.sqrt(n)
        mean, sd = normal_conditional_posterior(means, se, mu, tau)
        kappa = n * float(tau) ** 2 / (n * float(tau) ** 2 + float(sigma) ** 2)
        dim = self.dim
        return xr.Dataset(
            {"mean": (dim, mean), "sd": (dim, sd), "kappa": (dim, kappa)},
            coords={dim: labels},
            attrs={"mu": float(mu), "tau": float(tau), "sigma": float(sigma)},
        )

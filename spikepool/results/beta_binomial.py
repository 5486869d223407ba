"""``BetaBinomialResult``: the posterior of a ``BetaBinomial`` fit, its shrinkage table and closed forms.

The idata is the ``xarray.DataTree`` from ``pm.sample`` with ``posterior`` (``population_mean``,
``spread``, ``concentration``, ``alpha``, ``beta`` and ``theta`` over the group dim, drawn exactly from
``Beta(alpha + y_j, beta + n_j - y_j)`` for each posterior draw), ``sample_stats``, ``log_likelihood``
(``y``: the Beta-Binomial log-probability of each group), ``observed_data`` (``y``, the successes),
``constant_data`` (``trials``) and, for proper priors, ``prior`` (draws of the population mean, spread and
concentration for the contraction check); the model's arguments are in ``attrs["spikepool_spec"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from spikepool._validate import check_ci_prob
from spikepool.results.tree import TreeResult
from spikepool.stats.analytic import extra_binomial_factor
from spikepool.stats.intervals import SAMPLE_DIMS, eti
from spikepool.stats.shrinkage import empirical_shrinkage

__all__ = ["BetaBinomialResult"]


@dataclass(kw_only=True, repr=False)
class BetaBinomialResult(TreeResult):
    """A fitted ``BetaBinomial`` model (``summary``, ``diagnostics``, ``loo``, ``compare``, ``to_netcdf`` and
    ``from_netcdf`` as in ``TreeResult``).

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior, sample_stats, log_likelihood, observed_data, constant_data, prior (proper priors only).
    spec : dict
        The model's arguments and the group dim (``spec["dim"]``).
    post_checks : CheckReport
        ``check_sampling`` of the population mean, concentration, alpha, beta and theta, with the
        prior-to-posterior contraction of the concentration (``no_prior`` info under the improper "bda"
        prior).
    """

    MODEL = "BetaBinomial"
    DIAGNOSED = ("population_mean", "concentration", "alpha", "beta", "theta")
    SCALES = ("concentration",)
    REMEDIES = (
        "(1) raise target_accept (e.g. 0.95), (2) run more tuning and draws, (3) with few groups the "
        "concentration is weakly identified: prefer a proper prior on the spread (the default half-Cauchy, or "
        "a half-normal with spread_scale about the expected (alpha + beta)^(-1/2)) to priors={'spread': 'bda'}."
    )

    @property
    def successes(self) -> xr.DataArray:
        """The successes y (group,)."""
        return self.idata["observed_data"].to_dataset()["y"]

    @property
    def trials(self) -> xr.DataArray:
        """The trials n (group,), int64."""
        return self.idata["constant_data"].to_dataset()["trials"].astype("int64")

    def shrinkage(self, ci_prob: float = 0.94) -> xr.Dataset:
        """Per-group shrinkage table: how far each raw proportion moved toward the population mean.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed posterior interval of theta.

        Returns
        -------
        xarray.Dataset
            Over the group dim:

            - ``successes`` (y_j), ``trials`` (n_j) and ``raw`` (``y_j / n_j``, no pooling);
            - ``theta``, ``lower``, ``upper``: posterior mean and equal-tailed interval of theta_j;
            - ``B``: the shrinkage factor ``c / (c + n_j)`` at the posterior MEDIAN of the concentration
              ``c = alpha + beta`` (its posterior mean is infinite: the tail of c is like ``c^(-3/2)``, see
              ``spikepool.models.beta_binomial``); ``kappa = 1 - B`` (the data's weight);
            - ``B_mean``: the posterior mean of ``c / (c + n_j)`` over the draws (bounded, so finite);
            - ``empirical``: ``(raw_j - E[theta_j]) / (raw_j - E[m])``, the fraction of the way to the
              population mean the posterior mean moved (NaN where raw_j equals E[m]);
            - ``closed_form``: ``(1 - B_j) raw_j + B_j E[m]``, the conditional posterior mean with the
              hyperparameters plugged in (median c, mean m);
            - ``rao_blackwell``: the mean over draws of ``(alpha + y_j) / (alpha + beta + n_j)``,
              ``E[theta_j | y, alpha, beta]`` averaged over the posterior: equal to E[theta_j | y] up to
              Monte-Carlo error (a check of the sampled ``theta``).

            ``attrs``: ``population_mean`` (posterior mean of m), ``concentration`` (posterior median of c),
            ``ci_prob``, ``interval``.
        """
        ci_prob = check_ci_prob(ci_prob)
        y, n = self.successes, self.trials
        post = self.posterior
        theta, alpha, beta = post["theta"], post["alpha"], post["beta"]
        conc_draws = post["concentration"]
        mean = float(post["population_mean"].mean())
        conc = float(conc_draws.median())
        raw = y / n
        b_plug = conc / (conc + n)
        theta_mean = theta.mean(SAMPLE_DIMS)
        lower, upper = eti(theta, ci_prob)
        dim = self.dim
        out = xr.Dataset(
            {
                "successes": y,
                "trials": n,
                "raw": raw,
                "theta": theta_mean,
                "lower": lower,
                "upper": upper,
                "B": b_plug,
                "B_mean": (conc_draws / (conc_draws + n)).mean(SAMPLE_DIMS),
                "kappa": 1.0 - b_plug,
                "empirical": (dim, empirical_shrinkage(raw.values, theta_mean.values, mean)),
                "closed_form": (1.0 - b_plug) * raw + b_plug * mean,
                "rao_blackwell": ((alpha + y) / (alpha + beta + n)).mean(SAMPLE_DIMS),
            },
            attrs={"population_mean": mean, "concentration": conc, "ci_prob": ci_prob, "interval": "equal-tailed"},
        )
        return out.transpose(dim)

    def extra_binomial_factor(self) -> xr.DataArray:
        """Posterior mean of each group's extra-binomial variance factor ``(c + n_j) / (c + 1)``.

        ``Var(y_j) = n_j m (1 - m) (c + n_j) / (c + 1)``: the factor is the Beta-Binomial variance over the
        Binomial variance at the same mean (``spikepool.stats.analytic.extra_binomial_factor``), 1 for single
        trials and up to n_j for all-or-none groups (c -> 0); it is bounded, so its mean is finite.

        Returns
        -------
        xarray.DataArray
            (group,), named ``extra_binomial_factor``.
        """
        post = self.posterior
        n = self.trials
        draws = xr.apply_ufunc(extra_binomial_factor, n, post["alpha"], post["beta"])
        return draws.mean(SAMPLE_DIMS).rename("extra_binomial_factor")

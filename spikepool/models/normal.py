"""Normal-Normal hierarchy with known standard errors (the eight-schools model): ``NormalNormal``.

Model, for groups j = 1..J with estimates y_j and known standard errors sigma_j::

    mu      ~ Normal(mu_loc, mu_scale)           population mean         (default Normal(0, 5))
    tau     ~ HalfCauchy(tau_scale)              between-group sd        (default HalfCauchy(5))
    theta_j ~ Normal(mu, tau)                    group effects: partial pooling
    y_j     ~ Normal(theta_j, sigma_j)           sigma_j known

For known mu and tau the posterior of theta_j is Normal with mean ``(1 - B_j) y_j + B_j mu`` and
variance ``(1 - B_j) sigma_j^2``, with the shrinkage factor ``B_j = sigma_j^2 / (sigma_j^2 + tau^2)``
(``spikepool.stats.analytic.normal_conditional_posterior``); the fit integrates over mu and tau.

Priors (``priors=`` overrides; all in the units of the estimates):

================  ==============  ==================================================================
key               default         meaning
================  ==============  ==================================================================
``mu_loc``        0.0             mean of the Normal prior on mu
``mu_scale``      5.0             its sd
``tau``           "halfcauchy"    family of the prior on tau ("halfcauchy" or "halfnormal")
``tau_scale``     5.0             its scale
================  ==============  ==================================================================

The defaults are those of the eight-schools literature (Rubin 1981; Gelman et al., BDA3 5.5, as fitted in
Betancourt's "Diagnosing Biased Inference with Divergences" and PyMC's port of it), so results can be
compared with published ones. They are weakly informative for effects of a few to tens of units: for
estimates on another scale (log rates, Hz, ms) scale them to it, e.g. ``mu_scale`` and ``tau_scale`` about
the spread of the estimates. The half-Cauchy keeps mass at tau near 0 (complete pooling stays possible) and
a heavy tail for large between-group spread; Inverse-Gamma(eps, eps) is never used.

Parameterisation of theta (``parameterization=``): "centered" samples theta_j directly; "noncentered"
samples ``theta_offset_j ~ Normal(0, 1)`` with ``theta_j = mu + tau theta_offset_j``; "auto" decides per
group: centered when ``sigma_j < tau_hat`` (the data dominate, the centered form has no funnel), else
non-centered, where ``tau_hat = sqrt(max(0, s_y^2 - mean(sigma^2)))`` is the method-of-moments estimate of
tau (``E[s_y^2] = tau^2 + mean(sigma^2)``, s_y^2 the sample variance with ddof=1) — the rule of
``spikepool.stats.parameterization`` with the standard errors known. Groups may be split: the centered
ones are then ``theta_centered`` over ``<dim>_centered``, the others ``theta_offset`` over
``<dim>_noncentered``. Posterior names: ``mu``, ``tau``, ``theta`` (``theta_offset`` when non-centered);
the pointwise log-likelihood is ``y``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from spikepool._validate import check_choice, vector_1d
from spikepool.checks.problems import CheckReport, Problem
from spikepool.exceptions import ArgumentError
from spikepool.models.base import Model
from spikepool.models.components import half_prior, pooled_normal, split_coords
from spikepool.models.options import resolve_fixed, resolve_priors
from spikepool.results.normal import NormalNormalResult

__all__ = ["DEFAULT_NORMAL_PRIORS", "NormalNormal", "as_groups", "moment_tau"]

PARAMETERIZATIONS = ("auto", "centered", "noncentered")

DEFAULT_NORMAL_PRIORS: dict[str, Any] = {"mu_loc": 0.0, "mu_scale": 5.0, "tau": "halfcauchy", "tau_scale": 5.0}


@dataclass(frozen=True)
class Groups:
    """Validated inputs: estimates ``y`` and standard errors ``sigma`` (group,), the dim and its coords."""

    y: np.ndarray
    sigma: np.ndarray
    dim: str
    coords: np.ndarray


def _vector(name: str, value: Any) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """A finite 1-D float array from an array or DataArray, with the DataArray's dim and coords."""
    arr, dim, coords = vector_1d(name, value)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ArgumentError(
            f"{name} must be finite; got {arr[bad[0]]} at position {bad[0]}. Hint: drop groups without an estimate."
        )
    return arr, dim, coords


def as_groups(estimates: ArrayLike | xr.DataArray, standard_errors: ArrayLike | xr.DataArray) -> Groups:
    """Validate the estimates and standard errors (same length, finite, standard errors > 0, >= 2 groups).

    The group dim is a DataArray's dim (``"group"`` for plain arrays), its coords the DataArray's coord
    or ``0..J-1``.
    """
    y, dim_y, coords_y = _vector("estimates", estimates)
    sigma, dim_s, coords_s = _vector("standard_errors", standard_errors)
    if y.size != sigma.size:
        raise ArgumentError(
            f"estimates and standard_errors must have the same length; got {y.size} and {sigma.size}. "
            "Hint: one standard error per estimate."
        )
    if y.size < 2:
        raise ArgumentError(f"estimates must hold at least 2 groups to pool; got {y.size}. Hint: nothing to pool.")
    bad = np.flatnonzero(sigma <= 0)
    if bad.size:
        raise ArgumentError(
            f"standard_errors must be > 0; got {sigma[bad[0]]} at position {bad[0]}. "
            "Hint: a known-variance model needs every group's sampling sd."
        )
    if dim_y is not None and dim_s is not None and dim_y != dim_s:
        raise ArgumentError(f"estimates and standard_errors must share their dim; got {dim_y!r} and {dim_s!r}.")
    dim = dim_y or dim_s or "group"
    if dim in ("chain", "draw"):
        raise ArgumentError(f"the group dim must not be a sampling dim; got {dim!r}. Hint: rename the DataArray's dim.")
    coords = coords_y if coords_y is not None else coords_s
    if coords is None:
        coords = np.arange(y.size)
    if coords_y is not None and coords_s is not None and not np.array_equal(coords_y, coords_s):
        raise ArgumentError(f"estimates and standard_errors must have the same {dim!r} coords; got different labels.")
    return Groups(y=y, sigma=sigma, dim=dim, coords=np.asarray(coords))


def moment_tau(y: np.ndarray, sigma: np.ndarray) -> float:
    """Method-of-moments tau: ``sqrt(max(0, var(y, ddof=1) - mean(sigma^2)))``.

    ``E[var(y, ddof=1)] = tau^2 + mean(sigma^2)`` for independent ``y_j ~ Normal(mu, tau^2 + sigma_j^2)``.
    """
    return float(np.sqrt(max(0.0, float(np.var(y, ddof=1) - np.mean(np.asarray(sigma) ** 2)))))


def _resolve_priors(priors: dict | None) -> dict[str, Any]:
    return resolve_priors(
        DEFAULT_NORMAL_PRIORS,
        priors,
        families={"tau": ("halfcauchy", "halfnormal")},
        positive=("mu_scale", "tau_scale"),
        finite=("mu_loc",),
    )


def _resolve_fixed(fixed: dict | None) -> dict[str, float]:
    return resolve_fixed(fixed, ("mu", "tau"), positive=("tau",))


class NormalNormal(Model):
    """Partial pooling of group estimates with known standard errors (Normal-Normal, "eight schools").

    ``y_j ~ Normal(theta_j, sigma_j)``, ``theta_j ~ Normal(mu, tau)``, ``mu ~ Normal(0, 5)``,
    ``tau ~ HalfCauchy(5)`` by default (see the module docstring for the priors and the parameterisation
    rule). The shrinkage factor of group j is ``B_j = sigma_j^2 / (sigma_j^2 + tau^2)``.

    Parameters
    ----------
    parameterization : {"auto", "centered", "noncentered"}
        Of theta; "auto" is centered for groups with ``sigma_j < moment_tau(y, sigma)``, else non-centered.
    priors : dict, optional
        Overrides of ``DEFAULT_NORMAL_PRIORS`` (``mu_loc``, ``mu_scale``, ``tau``, ``tau_scale``).
    fixed : dict, optional
        Hold ``mu`` and/or ``tau`` at known values instead of sampling them, e.g. ``{"mu": 1.0, "tau": 2.0}``:
        then theta's posterior is ``spikepool.stats.analytic.normal_conditional_posterior`` exactly.

    Raises
    ------
    ArgumentError
        ``parameterization`` outside its choices; a ``priors`` or ``fixed`` key or value not allowed.
    ArgumentTypeError
        ``priors`` or ``fixed`` not a dict, or a ``fixed`` value not a number.

    Examples
    --------
    >>> import spikepool as sp
    >>> y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]
    >>> sigma = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]
    >>> model = sp.NormalNormal()
    >>> model.centered(y, sigma).any()  # tau_hat = 0 < every sigma_j: all non-centered
    np.False_
    >>> sorted(v.name for v in model.build(y, sigma).free_RVs)
    ['mu', 'tau', 'theta_offset']
    """

    MODEL = "NormalNormal"

    def __init__(self, parameterization: str = "auto", priors: dict | None = None, fixed: dict | None = None) -> None:
        self.parameterization = check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.priors = _resolve_priors(priors)
        self.fixed = _resolve_fixed(fixed)

    def __repr__(self) -> str:
        extra = f", fixed={self.fixed!r}" if self.fixed else ""
        return f"NormalNormal(parameterization={self.parameterization!r}, priors={self.priors!r}{extra})"

    def spec(self) -> dict[str, Any]:
        """The model's arguments (JSON-able), as stored with results."""
        return {
            "model": "NormalNormal",
            "parameterization": self.parameterization,
            "priors": dict(self.priors),
            "fixed": dict(self.fixed),
        }

    def prepare(self, estimates: ArrayLike | xr.DataArray, standard_errors: ArrayLike | xr.DataArray) -> Groups:
        """The validated estimates and standard errors (``as_groups``), as ``check``, ``build`` and ``fit`` take them.

        Parameters
        ----------
        estimates : array_like or xarray.DataArray
            One estimate per group (group,); a DataArray's dim names the group dim and its coord labels it.
        standard_errors : array_like or xarray.DataArray
            Their known standard errors (group,), > 0.
        """
        return as_groups(estimates, standard_errors)

    def centered(self, estimates: ArrayLike | xr.DataArray, standard_errors: ArrayLike | xr.DataArray) -> np.ndarray:
        """Boolean (group,): which groups get the centered form (see ``parameterization``).

        With a fixed tau, "auto" compares sigma_j with it instead of the moment estimate.
        """
        return self._centered(as_groups(estimates, standard_errors))

    def _centered(self, g: Groups) -> np.ndarray:
        if self.parameterization != "auto":
            return np.full(g.y.size, self.parameterization == "centered")
        return g.sigma < self.fixed.get("tau", moment_tau(g.y, g.sigma))

    def _check(self, g: Groups) -> CheckReport:
        tau_hat = moment_tau(g.y, g.sigma)
        note = Problem(
            "design",
            "info",
            f"{g.y.size} groups over {g.dim!r}; the moment estimate of tau is {tau_hat:.3g} (the between-group "
            f"variance left after the mean squared standard error {float(np.mean(g.sigma**2)):.3g}).",
        )
        return CheckReport("NormalNormal inputs", [note], checked=("inputs", "design"))

    def _build(self, g: Groups):
        """The ``pm.Model``: coords the group dim (plus ``<dim>_centered`` / ``<dim>_noncentered`` when split);
        ``standard_error`` is ``pm.Data``, ``y`` the observed Normal; ``model.spikepool_centered`` holds the
        boolean (group,) parameterisation."""
        import pymc as pm

        centered = self._centered(g)
        p = self.priors
        with pm.Model(coords=split_coords(g.dim, g.coords, centered)) as model:
            mu = self.fixed["mu"] if "mu" in self.fixed else pm.Normal("mu", p["mu_loc"], p["mu_scale"])
            tau = self.fixed["tau"] if "tau" in self.fixed else half_prior("tau", p["tau"], p["tau_scale"])
            sigma = pm.Data("standard_error", g.sigma, dims=g.dim)
            theta = pooled_normal("theta", mu, tau, centered, g.dim)
            pm.Normal("y", theta, sigma, observed=g.y, dims=g.dim)
        model.spikepool_centered = centered
        model.spikepool_dim = g.dim
        return model

    def _fit_spec(self, g: Groups, report: CheckReport) -> tuple[dict, CheckReport]:
        return {**self.spec(), "dim": g.dim}, report

    def _prior_names(self, g: Groups, model) -> list[str]:
        return [n for n in ("mu", "tau") if n not in self.fixed]

    def _result(self, tree, g: Groups, model, spec: dict, report: CheckReport, random_seed) -> NormalNormalResult:
        return NormalNormalResult(
            idata=tree,
            spec=spec,
            pre_checks=report,
            post_checks=NormalNormalResult.check(tree),
            centered=model.spikepool_centered,
        )

"""One-way random-effects Normal model of continuous per-trial responses: ``RandomEffectsNormal``.

Model, for neuron i = 1..I recorded in trials j = 1..n_i (a rate in Hz, an evoked amplitude, ...)::

    y_ij = mu + a_i + e_ij,      a_i ~ Normal(0, tau^2),      e_ij ~ Normal(0, sigma^2)
    mu    ~ Normal(mu_loc, mu_scale)        population mean
    tau   ~ HalfCauchy(tau_scale)           between-neuron sd          (or HalfNormal)
    sigma ~ HalfNormal(sigma_scale)         within-neuron, trial-to-trial sd (or HalfCauchy)

Identifiability. The marginal of one response is ``y_ij ~ Normal(mu, tau^2 + sigma^2)``; only the
covariance of two responses of the same neuron, ``Cov(y_ij, y_ik) = tau^2``, separates the two
components. With one trial per neuron (n_i = 1 for all i) the data identify ``tau^2 + sigma^2`` only: every
split of that sum fits equally well and the posterior of each is the prior's. The fit is refused then
(``check_responses``, code ``variance_components``), before any sampling. With n_i >= 2 for some neurons
both are estimated (the within-neuron spread of those neurons informs sigma).

Shrinkage. Given mu, tau and sigma the neuron mean ``theta_i = mu + a_i`` has posterior mean
``mu + kappa_i (ybar_i - mu)`` with ``kappa_i = n_i tau^2 / (n_i tau^2 + sigma^2)`` (the data's weight, the
shrinkage factor of the design notes with sigma_i^2 = sigma^2 / n_i), which is also the ratio of its MSE to
the raw mean's (``spikepool.stats.analytic.mse_ratio_normal``).

Priors (``priors=`` overrides; all in the units of the responses). The defaults scale with ``s_y``, the
sample sd of all responses (ddof=1), since the units are the user's: ``mu_loc = mean(y)``,
``mu_scale = 2.5 s_y``, ``tau ~ HalfCauchy(s_y)`` (mass at 0 keeps complete pooling possible, heavy tail),
``sigma ~ HalfNormal(2 s_y)``. As ``tau^2 + sigma^2 ~ s_y^2``, each sd is a priori about s_y or less;
the resolved numbers are stored with the result (``spec["priors"]``).

Parameterisation of the neuron means (``parameterization=``): "centered", "noncentered" or "auto", which is
centered for neuron i when the standard error of its mean, ``sigma_hat / sqrt(n_i)``, is below ``tau_hat``
(``sigma_hat^2`` the pooled within-neuron variance, ``tau_hat`` the moment estimate of
``spikepool.models.normal.moment_tau`` from the neuron means), else non-centered. Posterior names:
``mu``, ``tau``, ``sigma``, ``theta`` (neuron means), ``a`` (neuron effects theta - mu) and ``icc`` (the
intra-class correlation ``tau^2 / (tau^2 + sigma^2)``); the pointwise log-likelihood is ``y`` over ``obs``
(one entry per recorded response).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_choice
from spikepool.checks.problems import CheckReport, Problem
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.models.base import Model
from spikepool.models.components import half_prior, pooled_normal, split_coords
from spikepool.models.normal import PARAMETERIZATIONS, moment_tau
from spikepool.models.options import resolve_fixed, resolve_priors
from spikepool.results.random_effects import RandomEffectsNormalResult

__all__ = ["RandomEffectsNormal", "Responses", "as_responses", "check_responses"]


@dataclass(frozen=True)
class Responses:
    """Validated responses: the recorded values flattened over (neuron, trial) with their indices.

    Attributes
    ----------
    y : numpy.ndarray
        Recorded responses (obs,), NaN (unrecorded) entries left out.
    group : numpy.ndarray
        Index of each response's neuron (obs,).
    trial : numpy.ndarray
        Label of each response's trial (obs,).
    dim : str
        Name of the group dim (``"neuron"`` for counts-like arrays).
    coords : numpy.ndarray
        Group labels (group,).
    n : numpy.ndarray
        Recorded trials per group (group,).
    """

    y: np.ndarray
    group: np.ndarray
    trial: np.ndarray
    dim: str
    coords: np.ndarray
    n: np.ndarray

    @property
    def means(self) -> np.ndarray:
        """Raw mean of each group (group,)."""
        return np.bincount(self.group, weights=self.y, minlength=self.n.size) / self.n

    def within_variance(self) -> float:
        """Pooled within-group variance ``sum (y_ij - ybar_i)^2 / sum (n_i - 1)`` (NaN without replicates)."""
        df = float(np.sum(self.n - 1))
        resid = self.y - self.means[self.group]
        return float(np.sum(resid**2) / df) if df > 0 else float("nan")


def as_responses(responses: xr.DataArray | np.ndarray) -> Responses:
    """Validate a (group, trial) array of continuous responses; NaN marks a trial not recorded.

    A DataArray must be 2-D with a ``trial`` dim; its other dim is the group dim (e.g. ``neuron``). A plain
    array is read as (neuron, trial). Responses must be finite where recorded; every group needs at least
    one recorded trial (no group is dropped silently).
    """
    if isinstance(responses, xr.DataArray):
        if responses.ndim != 2 or "trial" not in responses.dims:
            raise ArgumentError(
                f"responses must be a 2-D DataArray with a 'trial' dim, e.g. (neuron, trial); got dims "
                f"{responses.dims}. Hint: reduce other dims first (e.g. .mean('time'))."
            )
        dim = str(next(d for d in responses.dims if d != "trial"))
        if dim in ("chain", "draw"):
            raise ArgumentError(f"the group dim must not be a sampling dim; got {dim!r}.")
        arr = responses.transpose(dim, "trial")
        coords = arr[dim].values if dim in arr.coords else np.arange(arr.shape[0])
        trials = arr["trial"].values if "trial" in arr.coords else np.arange(arr.shape[1])
        values = arr.values
    else:
        values = responses
        dim, coords, trials = "neuron", None, None
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"responses must be numbers; got {type(responses).__name__}.") from None
    if values.ndim != 2:
        raise ArgumentError(f"responses must be 2-D (neuron, trial); got shape {values.shape}.")
    coords = np.arange(values.shape[0]) if coords is None else np.asarray(coords)
    trials = np.arange(values.shape[1]) if trials is None else np.asarray(trials)
    bad = np.argwhere(np.isinf(values))
    if bad.size:
        i, j = bad[0]
        raise ArgumentError(
            f"responses must be finite where recorded (NaN marks an unrecorded trial); got {values[i, j]} at "
            f"{dim}={coords.tolist()[i]!r}, trial={trials.tolist()[j]!r}."
        )
    recorded = ~np.isnan(values)
    n = recorded.sum(axis=1)
    empty = np.flatnonzero(n == 0)
    if empty.size:
        names = ", ".join(repr(c) for c in coords[empty][:6].tolist())
        raise ArgumentError(
            f"every {dim} must have at least one recorded trial; got none for {empty.size} ({names}). "
            f"Hint: drop them first, e.g. responses.dropna({dim!r}, how='all')."
        )
    if values.shape[0] < 2:
        raise ArgumentError(f"responses must hold at least 2 {dim}s to pool; got {values.shape[0]}.")
    rows, cols = np.nonzero(recorded)
    return Responses(y=values[rows, cols], group=rows, trial=trials[cols], dim=dim, coords=coords, n=n)


def check_responses(responses: xr.DataArray | np.ndarray | Responses, *, sigma_known: bool = False) -> CheckReport:
    """Identifiability of the variance components of a (neuron, trial) response array.

    Codes: ``variance_components`` (error) when every neuron has one recorded trial, so only
    ``tau^2 + sigma^2`` is identified (not raised when ``sigma_known``: a known sigma identifies tau from
    single trials); ``single_trial`` (info) for neurons with one trial (they inform mu and
    tau^2 + sigma^2, not sigma); ``constant_responses`` (error) when no response varies at all.

    Parameters
    ----------
    responses : xarray.DataArray, array_like or Responses
        Continuous responses (neuron, trial): a 2-D DataArray with a ``trial`` dim (its other dim, any name
        but ``chain`` or ``draw``, is the neuron dim) or a 2-D array; NaN marks an unrecorded trial.
    sigma_known : bool
        Whether the fit holds sigma fixed (``fixed={"sigma": ...}``), which identifies tau from single trials.

    Returns
    -------
    CheckReport
        ``.ok``, ``.problems`` (the codes above; ``neurons`` names the neurons concerned) and
        ``.raise_if_failed()``, which raises ``IdentifiabilityError`` listing the errors. The findings are
        reported, not raised.

    Raises
    ------
    ArgumentTypeError
        ``responses`` is not numbers.
    ArgumentError
        ``responses`` is not 2-D, a DataArray has no ``trial`` dim or has ``chain`` or ``draw`` as its neuron
        dim, a recorded response is infinite, a neuron has no recorded trial, or fewer than 2 neurons.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> y = np.array([[10.0, 12.0], [20.0, np.nan], [15.0, np.nan]])  # NaN: trial not recorded
    >>> report = sp.check_responses(y)
    >>> report.ok, [(p.code, p.neurons) for p in report.problems]
    (True, [('single_trial', ('1', '2'))])
    >>> sp.check_responses(y[:, :1]).ok, sp.check_responses(y[:, :1], sigma_known=True).ok
    (False, True)
    """
    r = responses if isinstance(responses, Responses) else as_responses(responses)
    problems: list[Problem] = []
    checked = ["variance_components", "single_trial", "constant_responses"]
    names = tuple(str(c) for c in r.coords)
    if not (r.n >= 2).any() and not sigma_known:
        problems.append(
            Problem(
                "variance_components",
                "error",
                f"the between-{r.dim} variance tau^2 and the trial-to-trial variance sigma^2 are separable only "
                f"with repeated trials (their covariance within a {r.dim} is tau^2); got one recorded trial for "
                f"every one of the {r.n.size} {r.dim}s, so only their sum tau^2 + sigma^2 is identified and each "
                "posterior would restate its prior.",
                f"record repeated trials (n_i >= 2 for some {r.dim}s), or fix one component "
                "(fixed={'sigma': ...} from another recording) if it is known.",
                neurons=names,
            )
        )
    single = r.n == 1
    if single.any() and not single.all():
        problems.append(
            Problem(
                "single_trial",
                "info",
                f"{int(single.sum())} of {r.n.size} {r.dim}s have one recorded trial: they inform mu and "
                "tau^2 + sigma^2; sigma is learnt from the others.",
                neurons=tuple(n for n, s in zip(names, single, strict=True) if s),
            )
        )
    if np.ptp(r.y) == 0:
        problems.append(
            Problem(
                "constant_responses",
                "error",
                f"responses must vary for any variance to be estimated; got the same value {r.y[0]} everywhere.",
                "check the response computation (units, window).",
            )
        )
    return CheckReport("check_responses", problems, checked=tuple(checked))


def _resolve_priors(priors: dict | None, y: np.ndarray) -> dict[str, Any]:
    s_y = float(np.std(y, ddof=1)) if y.size > 1 else 1.0
    s_y = s_y if s_y > 0 else 1.0
    defaults: dict[str, Any] = {
        "mu_loc": float(np.mean(y)),
        "mu_scale": 2.5 * s_y,
        "tau": "halfcauchy",
        "tau_scale": s_y,
        "sigma": "halfnormal",
        "sigma_scale": 2.0 * s_y,
    }
    return resolve_priors(
        defaults,
        priors,
        families={"tau": ("halfcauchy", "halfnormal"), "sigma": ("halfcauchy", "halfnormal")},
        positive=("mu_scale", "tau_scale", "sigma_scale"),
        finite=("mu_loc",),
    )


def _resolve_fixed(fixed: dict | None) -> dict[str, float]:
    return resolve_fixed(fixed, ("mu", "tau", "sigma"), positive=("tau", "sigma"))


class RandomEffectsNormal(Model):
    """Partial pooling of continuous per-trial responses: ``y_ij = mu + a_i + e_ij`` (see the module docstring).

    Parameters
    ----------
    parameterization : {"auto", "centered", "noncentered"}
        Of the neuron means; "auto" is centered where ``sigma_hat / sqrt(n_i) < tau_hat``.
    priors : dict, optional
        Overrides of the data-scaled defaults (keys ``mu_loc``, ``mu_scale``, ``tau``, ``tau_scale``,
        ``sigma``, ``sigma_scale``; families "halfcauchy" or "halfnormal"), in the responses' units.
    fixed : dict, optional
        Hold ``mu``, ``tau`` and/or ``sigma`` at known values instead of sampling them. Fixing ``sigma`` (e.g.
        from another recording) makes one-trial-per-neuron designs identifiable.

    Raises
    ------
    ArgumentError
        ``parameterization`` outside its choices; a ``priors`` or ``fixed`` key or value not allowed. ``fit``
        raises ``IdentifiabilityError`` before sampling when every neuron has one response (``check_responses``).
    ArgumentTypeError
        ``priors`` or ``fixed`` not a dict, or a ``fixed`` value not a number.

    Examples
    --------
    >>> import numpy as np
    >>> import spikepool as sp
    >>> y = np.array([[10.0, 12.0, 11.0], [20.0, 19.0, np.nan], [15.0, np.nan, np.nan]])
    >>> model = sp.RandomEffectsNormal(parameterization="noncentered")
    >>> sorted(v.name for v in model.build(y).free_RVs)
    ['mu', 'sigma', 'tau', 'theta_offset']
    >>> model.build(np.array([[1.0], [2.0], [4.0]]))
    Traceback (most recent call last):
    ...
    spikepool.exceptions.IdentifiabilityError: check_responses: 1 error(s) make this fit unidentifiable ...
    """

    MODEL = "RandomEffectsNormal"

    def __init__(self, parameterization: str = "auto", priors: dict | None = None, fixed: dict | None = None) -> None:
        self.parameterization = check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        _resolve_priors(priors, np.array([0.0, 1.0]))  # validate the keys and values now
        self.priors = dict(priors or {})
        self.fixed = _resolve_fixed(fixed)

    def __repr__(self) -> str:
        extra = f", fixed={self.fixed!r}" if self.fixed else ""
        return f"RandomEffectsNormal(parameterization={self.parameterization!r}, priors={self.priors!r}{extra})"

    def spec(self, responses: xr.DataArray | np.ndarray | None = None) -> dict[str, Any]:
        """The model's arguments (JSON-able); with ``responses``, the priors resolved on them."""
        priors = _resolve_priors(self.priors, as_responses(responses).y) if responses is not None else self.priors
        return {
            "model": "RandomEffectsNormal",
            "parameterization": self.parameterization,
            "priors": dict(priors),
            "fixed": dict(self.fixed),
        }

    def prepare(self, responses: xr.DataArray | np.ndarray) -> Responses:
        """The validated responses (``as_responses``), as ``check``, ``build`` and ``fit`` take them.

        Parameters
        ----------
        responses : xarray.DataArray or array_like
            Continuous responses, DataArray (neuron, trial) (any group dim name beside ``trial``) or a 2-D
            array; NaN marks an unrecorded trial.
        """
        return responses if isinstance(responses, Responses) else as_responses(responses)

    def centered(self, responses: xr.DataArray | np.ndarray) -> np.ndarray:
        """Boolean (neuron,): which neurons get the centered form (see ``parameterization``)."""
        return self._centered(self.prepare(responses))

    def _centered(self, r: Responses) -> np.ndarray:
        if self.parameterization != "auto":
            return np.full(r.n.size, self.parameterization == "centered")
        sigma = self.fixed.get("sigma", np.sqrt(r.within_variance()))
        if not np.isfinite(sigma):
            return np.zeros(r.n.size, dtype=bool)
        se = sigma / np.sqrt(r.n)
        tau_ref = self.fixed.get("tau", moment_tau(r.means, se))
        return se < tau_ref

    def _check(self, r: Responses) -> CheckReport:
        return check_responses(r, sigma_known="sigma" in self.fixed)

    def build(self, *data: Any):
        """The ``pm.Model`` of the responses, after ``check_responses`` (its errors raise).

        Coords: the neuron dim (plus ``<dim>_centered`` / ``<dim>_noncentered`` when split) and ``obs`` (one
        per recorded response); ``y`` is the observed Normal over ``obs``. ``model.spikepool_centered`` holds
        the boolean (neuron,) parameterisation.
        """
        r = self.prepare(*data)
        self._check(r).raise_if_failed()
        return self._build(r)

    def _build(self, r: Responses):
        # fit runs the checks (and raises their errors) before it builds
        import pymc as pm

        centered = self._centered(r)
        p = _resolve_priors(self.priors, r.y)
        coords = split_coords(r.dim, r.coords, centered)
        coords["obs"] = np.arange(r.y.size)
        with pm.Model(coords=coords) as model:
            mu = self.fixed["mu"] if "mu" in self.fixed else pm.Normal("mu", p["mu_loc"], p["mu_scale"])
            tau = self.fixed["tau"] if "tau" in self.fixed else half_prior("tau", p["tau"], p["tau_scale"])
            sigma = self.fixed["sigma"] if "sigma" in self.fixed else half_prior("sigma", p["sigma"], p["sigma_scale"])
            theta = pooled_normal("theta", mu, tau, centered, r.dim)
            pm.Deterministic("a", theta - mu, dims=r.dim)
            if "tau" not in self.fixed or "sigma" not in self.fixed:
                pm.Deterministic("icc", tau**2 / (tau**2 + sigma**2))
            group = pm.Data("group", r.group, dims="obs")
            pm.Normal("y", theta[group], sigma, observed=r.y, dims="obs")
        model.spikepool_centered = centered
        model.spikepool_dim = r.dim
        return model

    def _fit_spec(self, r: Responses, report: CheckReport) -> tuple[dict, CheckReport]:
        priors = _resolve_priors(self.priors, r.y)
        return {**self.spec(), "priors": dict(priors), "dim": r.dim}, report

    def _prior_names(self, r: Responses, model) -> list[str]:
        return [n for n in ("mu", "tau", "sigma") if n not in self.fixed]

    def _result(self, tree, r: Responses, model, spec: dict, report: CheckReport, random_seed):
        tree = _label_obs(tree, r)
        return RandomEffectsNormalResult(
            idata=tree,
            spec=spec,
            pre_checks=report,
            post_checks=RandomEffectsNormalResult.check(tree),
            centered=model.spikepool_centered,
        )


def _label_obs(tree: xr.DataTree, r: Responses) -> xr.DataTree:
    """Label ``obs`` with each response's neuron and trial in the groups that have it."""
    labels = {f"obs_{r.dim}": ("obs", r.coords[r.group]), "obs_trial": ("obs", r.trial)}
    groups = {}
    for name in tree.children:
        ds = tree[name].to_dataset()
        groups[name] = ds.assign_coords(labels) if "obs" in ds.dims else ds
    out = xr.DataTree.from_dict(groups)
    out.attrs = dict(tree.attrs)
    return out

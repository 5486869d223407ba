"""Beta-Binomial hierarchy of proportions (responses out of trials): ``BetaBinomial``.

Model, for groups j = 1..J (neurons, units, experiments) with ``y_j`` successes out of ``n_j`` trials::

    population_mean m ~ Beta(mean_a, mean_b)                 (default Beta(1, 1): uniform)
    spread          u ~ HalfCauchy(spread_scale)             (default scale 1; or "halfnormal", or "bda")
    concentration   c = u^-2,  alpha = m c,  beta = (1 - m) c
    theta_j         ~ Beta(alpha, beta)                      group probabilities: partial pooling
    y_j             ~ Binomial(n_j, theta_j)

so that ``E[theta_j] = m``, ``Var(theta_j) = m (1 - m) / (c + 1)`` and, with theta integrated out,
``y_j ~ BetaBinomial(n_j, alpha, beta)`` with ``E[y_j] = n_j m`` and
``Var(y_j) = n_j m (1 - m) (c + n_j) / (c + 1)`` (``spikepool.stats.analytic.beta_binomial_variance``): the Binomial
variance times the extra-binomial factor ``(c + n_j) / (c + 1)`` (``extra_binomial_factor``). The
intra-class correlation of two trials of one group is ``rho = 1 / (c + 1) = u^2 / (1 + u^2)``: ``u`` is the
between-group sd of theta in units of the Binomial sd ``sqrt(m (1 - m))`` (for small u).

For known alpha and beta the posterior of theta_j is ``Beta(alpha + y_j, beta + n_j - y_j)``, with mean
``(1 - B_j) y_j / n_j + B_j m`` and the shrinkage factor ``B_j = c / (c + n_j)``.

Sampling. The likelihood marginalises theta: the observed ``y`` is ``BetaBinomial(n_j, alpha, beta)``
over the group dim, so NUTS explores only (m, u), two parameters with no funnel, and the pointwise
log-likelihood of ``y`` (one term per group) serves PSIS-LOO. Its log-probability is computed as sums of
logs of rising factorials (``beta_binomial_logp``), which stay exact for any concentration; the usual
Gamma-function form (``pm.BetaBinomial``) is noise beyond ``alpha + beta`` ~ 1e8 and can trap chains there.

After sampling, ``theta`` (chain, draw, group) is added to the posterior by drawing, for every posterior
draw of (alpha, beta), one value from the exact conditional ``theta_j | y, alpha, beta ~ Beta(alpha + y_j,
beta + n_j - y_j)`` (numpy Generator seeded from ``random_seed``). This is exact, not an approximation: the
triples (alpha, beta, theta) are draws of the joint posterior ``p(alpha, beta | y) p(theta | alpha, beta, y)``
(the conditional factorisation behind Gibbs and Rao-Blackwell estimators), only without the autocorrelation
a sampled theta would add.

Priors (``priors=`` overrides):

================  ==============  ==================================================================
key               default         meaning
================  ==============  ==================================================================
``mean_a``        1.0             first shape of the Beta prior on the population mean m
``mean_b``        1.0             second shape (1, 1: uniform on (0, 1))
``spread``        "halfcauchy"    prior on ``u = (alpha + beta)^(-1/2)``: "halfcauchy", "halfnormal"
                                  or "bda"
``spread_scale``  1.0             scale of the half-Cauchy / half-normal (unused by "bda")
================  ==============  ==================================================================

"halfcauchy" (default) is proper and flat near u = 0, like BDA's prior, so complete pooling (u -> 0, all
theta equal) stays possible, with a heavy tail toward all-or-none groups; its median ``u = spread_scale``
is ``rho = 0.5`` at the default scale. "halfnormal" has a lighter tail. "bda" is ``HalfFlat`` on u (improper;
no prior draws, so no contraction check): exactly the prior of Gelman et al., Bayesian Data Analysis
(3rd ed., section 5.3), ``p(alpha, beta) ∝ (alpha + beta)^(-5/2)``, uniform on ``(m, u)``. Jacobian: with
``alpha = m c`` and ``beta = (1 - m) c``, ``|d(alpha, beta) / d(m, c)| = |c (1 - m) + c m| = c``, so
``p(m, c) ∝ c^(-5/2) c = c^(-3/2)`` (uniform in m); with ``c = u^(-2)``, ``|dc / du| = 2 u^(-3)``, so
``p(m, u) ∝ (u^(-2))^(-3/2) 2 u^(-3) = 2``: flat. Under every prior here the posterior of c has a tail like
``c^(-3/2)`` (as c -> infinity the likelihood tends to the complete-pooling Binomial likelihood, a positive
constant, and the prior density of u at 0 is positive), so E[c], E[alpha] and E[beta] are infinite: report
their medians; m, u, rho and theta have all their moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from spikepool._validate import vector_1d
from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentError
from spikepool.models.base import Model
from spikepool.models.components import half_prior
from spikepool.models.options import resolve_priors
from spikepool.results.beta_binomial import BetaBinomialResult

__all__ = [
    "DEFAULT_BETA_BINOMIAL_PRIORS",
    "BetaBinomial",
    "Proportions",
    "as_proportions",
    "beta_binomial_logp",
    "draw_theta",
]

SPREAD_PRIORS = ("halfcauchy", "halfnormal", "bda")

DEFAULT_BETA_BINOMIAL_PRIORS: dict[str, Any] = {
    "mean_a": 1.0,
    "mean_b": 1.0,
    "spread": "halfcauchy",
    "spread_scale": 1.0,
}

_DROP_HINT = "drop groups without trials first, e.g. ds.where(ds.trials > 0, drop=True) on responsive_trials()."


@dataclass(frozen=True)
class Proportions:
    """Validated inputs: ``successes`` and ``trials`` (group,) as int64, the group dim and its coords."""

    successes: np.ndarray
    trials: np.ndarray
    dim: str
    coords: np.ndarray


def _where(i: int, dim: str | None, coords: np.ndarray | None) -> str:
    if coords is None or dim is None:
        return f"position {i}"
    value = coords[i]
    return f"position {i} ({dim} {value.item() if hasattr(value, 'item') else value!r})"


def _counts(name: str, value: Any) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """A 1-D int64 array from an array or DataArray of whole numbers, with the DataArray's dim and coords."""
    arr, dim, coords = vector_1d(name, value, " Hint: select one condition (.sel(...)) or stack the dims into one.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ArgumentError(f"{name} must be finite; got {arr[i]} at {_where(i, dim, coords)}. Hint: {_DROP_HINT}")
    bad = np.flatnonzero(arr != np.round(arr))
    if bad.size:
        i = int(bad[0])
        raise ArgumentError(
            f"{name} must be whole numbers (counts of trials); got {arr[i]} at {_where(i, dim, coords)}. "
            "Hint: pass counts, not proportions (successes = proportion x trials)."
        )
    return arr.astype(np.int64), dim, coords


def as_proportions(successes: ArrayLike | xr.DataArray, trials: ArrayLike | xr.DataArray) -> Proportions:
    """Validate successes and trials: same length, whole numbers, ``trials >= 1``, ``0 <= successes <= trials``.

    Parameters
    ----------
    successes, trials : array_like or xarray.DataArray
        One value per group (group,). A DataArray's dim names the group dim (``"group"`` for plain arrays)
        and its coord labels the groups (default ``0..J-1``).

    Returns
    -------
    Proportions
        ``successes`` and ``trials`` (int64), ``dim`` and ``coords``.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        Naming the first bad group by position (and label): wrong shape or length, fewer than 2 groups,
        NaN, fractions, ``trials < 1``, ``successes`` outside ``[0, trials]``, mismatched dims or labels.

    Examples
    --------
    >>> from spikepool.models.beta_binomial import as_proportions
    >>> p = as_proportions([3, 0, 5], [10, 8, 5])
    >>> p.dim, p.coords.tolist(), p.successes.dtype
    ('group', [0, 1, 2], dtype('int64'))
    """
    y, dim_y, coords_y = _counts("successes", successes)
    n, dim_n, coords_n = _counts("trials", trials)
    if y.size != n.size:
        raise ArgumentError(
            f"successes and trials must have the same length; got {y.size} and {n.size}. "
            "Hint: one number of trials per group."
        )
    if y.size < 2:
        raise ArgumentError(f"successes must hold at least 2 groups to pool; got {y.size}. Hint: nothing to pool.")
    if dim_y is not None and dim_n is not None and dim_y != dim_n:
        raise ArgumentError(f"successes and trials must share their dim; got {dim_y!r} and {dim_n!r}.")
    dim = dim_y or dim_n or "group"
    if dim in ("chain", "draw"):
        raise ArgumentError(f"the group dim must not be a sampling dim; got {dim!r}. Hint: rename the DataArray's dim.")
    if coords_y is not None and coords_n is not None and not np.array_equal(coords_y, coords_n):
        raise ArgumentError(f"successes and trials must have the same {dim!r} coords; got different labels.")
    coords = coords_y if coords_y is not None else coords_n
    labelled = coords is not None
    coords = np.asarray(coords) if labelled else np.arange(y.size)
    where = (dim, coords) if labelled else (None, None)
    bad = np.flatnonzero(n < 1)
    if bad.size:
        i = int(bad[0])
        raise ArgumentError(f"trials must be >= 1; got {n[i]} at {_where(i, *where)}. Hint: {_DROP_HINT}")
    bad = np.flatnonzero(y < 0)
    if bad.size:
        i = int(bad[0])
        raise ArgumentError(f"successes must be >= 0; got {y[i]} at {_where(i, *where)}.")
    bad = np.flatnonzero(y > n)
    if bad.size:
        i = int(bad[0])
        raise ArgumentError(
            f"successes must be <= trials; got {y[i]} of {n[i]} at {_where(i, *where)}. "
            "Hint: are the two arguments swapped?"
        )
    return Proportions(successes=y, trials=n, dim=dim, coords=coords)


def _resolve_priors(priors: dict | None) -> dict[str, Any]:
    return resolve_priors(
        DEFAULT_BETA_BINOMIAL_PRIORS,
        priors,
        families={"spread": SPREAD_PRIORS},
        positive=("mean_a", "mean_b", "spread_scale"),
    )


def draw_theta(alpha: xr.DataArray, beta: xr.DataArray, props: Proportions, rng: np.random.Generator) -> xr.DataArray:
    """One draw of ``theta_j | y, alpha, beta ~ Beta(alpha + y_j, beta + n_j - y_j)`` per posterior draw.

    Parameters
    ----------
    alpha, beta : xarray.DataArray
        Posterior draws (chain, draw).
    props : Proportions
        The data.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    xarray.DataArray
        ``theta`` (chain, draw, group) with the group coords.
    """
    a = alpha.values[..., None] + props.successes
    b = beta.values[..., None] + (props.trials - props.successes)
    values = rng.beta(a, b)
    dims = (*alpha.dims, props.dim)
    coords = {d: alpha[d].values for d in alpha.dims if d in alpha.coords}
    coords[props.dim] = props.coords
    return xr.DataArray(values, dims=dims, coords=coords, name="theta")


def beta_binomial_logp(value, alpha, beta, n, *, max_trials: int):
    """Beta-Binomial log-probability, stable for any alpha, beta > 0 (a PyTensor graph).

    ``log C(n, y) + sum_{k<y} log(alpha + k) + sum_{k<n-y} log(beta + k) - sum_{k<n} log(alpha + beta + k)``:
    the ratios of Gamma functions of ``B(alpha + y, beta + n - y) / B(alpha, beta)`` written as rising
    factorials, exact for whole-number y and n. The Gamma-function form loses every digit to cancellation
    once ``alpha + beta`` exceeds ~1e8 (its value there is noise, often large and positive, which trapped
    NUTS chains near u = 0); this form tends to the Binomial log-probability as ``alpha + beta`` grows.
    Cost: (group, ``max_trials``) terms.

    Parameters
    ----------
    value, n : TensorVariable
        Successes and trials (group,).
    alpha, beta : TensorVariable
        Beta parameters (scalars or (group,)).
    max_trials : int
        The largest n (length of the sums).

    Returns
    -------
    TensorVariable
        The log-probability of each group (group,).
    """
    import pytensor.tensor as pt

    k = pt.arange(max_trials)
    y, m = value[..., None], n[..., None]
    a, b = pt.shape_padright(pt.as_tensor(alpha)), pt.shape_padright(pt.as_tensor(beta))
    rising_a = pt.switch(k < y, pt.log(a + k), 0.0).sum(axis=-1)
    rising_b = pt.switch(k < m - y, pt.log(b + k), 0.0).sum(axis=-1)
    rising_ab = pt.switch(k < m, pt.log(a + b + k), 0.0).sum(axis=-1)
    log_choose = pt.gammaln(n + 1) - pt.gammaln(value + 1) - pt.gammaln(n - value + 1)
    return log_choose + rising_a + rising_b - rising_ab


def _beta_binomial_dist(alpha, beta, n, size):
    import pymc as pm

    return pm.BetaBinomial.dist(alpha=alpha, beta=beta, n=n, size=size)


class BetaBinomial(Model):
    """Partial pooling of proportions: ``y_j ~ Binomial(n_j, theta_j)``, ``theta_j ~ Beta(alpha, beta)``.

    The population mean ``m = alpha / (alpha + beta)`` has a Beta(1, 1) prior and the spread
    ``u = (alpha + beta)^(-1/2)`` a HalfCauchy(1) prior by default (see the module docstring for the
    priors, BDA's prior ``priors={"spread": "bda"}`` and the exact draws of theta). The shrinkage factor of
    group j toward m is ``B_j = c / (c + n_j)`` with the concentration ``c = alpha + beta``;
    ``Var(y_j) = n_j m (1 - m) (c + n_j) / (c + 1)``.

    Parameters
    ----------
    priors : dict, optional
        Overrides of ``DEFAULT_BETA_BINOMIAL_PRIORS`` (``mean_a``, ``mean_b``, ``spread``, ``spread_scale``).

    Raises
    ------
    ArgumentError
        A ``priors`` key or value not allowed.
    ArgumentTypeError
        ``priors`` not a dict.

    Examples
    --------
    >>> import spikepool as sp
    >>> model = sp.BetaBinomial(priors={"spread": "bda"})
    >>> pm_model = model.build([3, 0, 5, 2], [10, 8, 12, 9])
    >>> sorted(v.name for v in pm_model.free_RVs), sorted(v.name for v in pm_model.deterministics)
    (['population_mean', 'spread'], ['alpha', 'beta', 'concentration'])
    """

    MODEL = "BetaBinomial"

    def __init__(self, priors: dict | None = None) -> None:
        self.priors = _resolve_priors(priors)

    def __repr__(self) -> str:
        return f"BetaBinomial(priors={self.priors!r})"

    def spec(self) -> dict[str, Any]:
        """The model's arguments (JSON-able), as stored with results."""
        return {"model": "BetaBinomial", "priors": dict(self.priors)}

    def prepare(self, successes: ArrayLike | xr.DataArray, trials: ArrayLike | xr.DataArray) -> Proportions:
        """The validated successes and trials (``as_proportions``), as ``check``, ``build`` and ``fit`` take them.

        Parameters
        ----------
        successes : array_like or xarray.DataArray
            Successes per group (group,), whole numbers in ``[0, trials]``; a DataArray's dim names the
            group dim and its coord labels it (``responsive_trials(counts)["successes"]`` fits as is).
        trials : array_like or xarray.DataArray
            Trials per group (group,), whole numbers >= 1.
        """
        return as_proportions(successes, trials)

    def _build(self, g: Proportions):
        """The ``pm.Model`` of the proportions.

        Coords: the group dim. Free: ``population_mean``, ``spread``; deterministic: ``concentration``,
        ``alpha``, ``beta``; ``trials`` is ``pm.Data``; ``y`` the observed Beta-Binomial (theta marginalised;
        its sums run to the largest n of these data, so ``pm.set_data`` may lower the trials but not raise them
        above it). ``model.spikepool_dim`` names the group dim.
        """
        import pymc as pm

        p = self.priors
        with pm.Model(coords={g.dim: g.coords}) as model:
            mean = pm.Beta("population_mean", alpha=p["mean_a"], beta=p["mean_b"])
            if p["spread"] == "bda":
                spread = pm.HalfFlat("spread")
            else:
                spread = half_prior("spread", p["spread"], p["spread_scale"])
            concentration = pm.Deterministic("concentration", spread**-2)
            alpha = pm.Deterministic("alpha", mean * concentration)
            beta = pm.Deterministic("beta", (1.0 - mean) * concentration)
            n = pm.Data("trials", g.trials, dims=g.dim)
            pm.CustomDist(
                "y",
                alpha,
                beta,
                n,
                dist=_beta_binomial_dist,
                logp=partial(beta_binomial_logp, max_trials=int(g.trials.max())),
                observed=g.successes,
                dims=g.dim,
            )
        model.spikepool_dim = g.dim
        return model

    def _fit_spec(self, g: Proportions, report: CheckReport) -> tuple[dict, CheckReport]:
        return {**self.spec(), "dim": g.dim}, report

    def _prior_names(self, g: Proportions, model) -> list[str]:
        # improper HalfFlat ("bda"): no prior draws, so no contraction check (diagnostics say "no_prior")
        return [] if self.priors["spread"] == "bda" else ["population_mean", "spread", "concentration"]

    def _result(self, tree, g: Proportions, model, spec: dict, report: CheckReport, random_seed):
        """The result, with theta drawn from its conditional posterior for every draw (seeded by ``random_seed``)."""
        post = tree["posterior"].to_dataset()
        post["theta"] = draw_theta(post["alpha"], post["beta"], g, np.random.default_rng(random_seed))
        tree["posterior"] = post
        return BetaBinomialResult(idata=tree, spec=spec, pre_checks=report, post_checks=BetaBinomialResult.check(tree))

"""Checks after sampling: ``check_sampling`` returns a ``CheckReport`` like ``check_counts``.

========================  ========  =================================================================
code                      severity  finding
========================  ========  =================================================================
``rhat``                  warning   rank-normalised split R-hat above ``rhat_max`` (1.01)
``ess_bulk``/``ess_tail`` warning   bulk / tail effective sample size below ``ess_min`` (400)
``divergences``           warning   divergent transitions after tuning (biased posterior)
``uninformed``            warning   a scale parameter (``tau``, dispersion) whose posterior is barely
                                    narrower than its prior: the data did not inform it, so it is
                                    prior-driven and not a finding
``no_prior``              info      contraction not computed (no prior draws given)
``loo_pareto_k``          warning   PSIS-LOO (``psis_loo`` / ``psis_compare``): observations whose Pareto k
                                    exceeds the reliability threshold, so elpd_loo is unreliable there
``laplace_hyper``         warning   ``method="laplace"`` (``laplace_checks``): the hyperparameters' Gaussian
                                    departs from their Laplace marginal by more than 1 nat at 3 sd, or its
                                    importance weights have Pareto k above the threshold: the approximation
                                    of mu, tau, ... and so of every rate is not reliable
``laplace_units``         warning   ``method="laplace"``: neurons whose approximate block posterior has
                                    Pareto k above the threshold
========================  ========  =================================================================

Prior-to-posterior contraction is ``1 - Var_post / Var_prior`` computed on the log scale for
positive parameters (robust to heavy-tailed priors such as the half-Cauchy), element by element.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from spikepool.checks.problems import CheckReport, Problem
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.stats import convergence, psis

__all__ = [
    "CONTRACTION_MIN",
    "check_sampling",
    "contraction",
    "laplace_checks",
    "psis_compare",
    "psis_loo",
    "relative_efficiency",
]

#: Contraction below which a parameter counts as not informed by the data (posterior variance over
#: 90% of the prior's).
CONTRACTION_MIN = 0.1

#: The remedies given with R-hat, ESS and divergence warnings when the caller has none of its own (each
#: result class gives its model's, e.g. ``FitResult.REMEDIES``).
REMEDIES = (
    "(1) raise target_accept (e.g. 0.95), (2) use parameterization='noncentered' for groups with little data "
    "or 'centered' for data-rich ones ('auto' chooses per group), (3) run more tuning and draws."
)


def _group(idata: Any, name: str, arg: str = "idata") -> xr.Dataset | None:
    if isinstance(idata, xr.DataTree):
        return idata[name].to_dataset() if name in idata.children else None
    if isinstance(idata, xr.Dataset):
        return idata if name == "posterior" else None
    raise ArgumentTypeError(
        f"{arg} must be an xarray.DataTree (from pm.sample) or a Dataset; got {type(idata).__name__}."
    )


def _check_draws(ds: xr.Dataset, names: Sequence[str], what: str) -> None:
    """Refuse variables of ``ds`` that are not numeric draws over ``chain`` and ``draw``."""
    flat = {v: ds[v].dims for v in names if not {"chain", "draw"} <= set(ds[v].dims)}
    if flat:
        raise ArgumentError(
            f"{what} variables must have dims 'chain' and 'draw'; got {flat}. Hint: pass the draws as PyMC "
            "returns them, or add a dim with .expand_dims('chain')."
        )
    text = {v: str(ds[v].dtype) for v in names if ds[v].dtype.kind not in "biuf"}
    if text:
        raise ArgumentTypeError(f"{what} variables must be numbers; got dtypes {text}.")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _label(da: xr.DataArray, flat_index: int) -> str:
    dims = [d for d in da.dims]
    if not dims:
        return str(da.name)
    idx = np.unravel_index(flat_index, da.shape)
    parts = [f"{d}={_plain(da[d].values[i]) if d in da.coords else i!r}" for d, i in zip(dims, idx, strict=True)]
    return f"{da.name}[{', '.join(parts)}]"


def _worst(ds: xr.Dataset, bad: xr.Dataset, higher_is_worse: bool) -> tuple[list[str], float]:
    names, worst = [], None
    for var in ds.data_vars:
        values = np.asarray(ds[var].values, dtype=float).ravel()
        mask = np.asarray(bad[var].values).ravel()
        for i in np.flatnonzero(mask):
            names.append(_label(ds[var], i))
        if mask.any():
            v = values[mask].max() if higher_is_worse else values[mask].min()
            worst = v if worst is None else (max(worst, v) if higher_is_worse else min(worst, v))
    return names, float("nan") if worst is None else worst


def contraction(posterior: xr.DataArray, prior: xr.DataArray, log: bool | None = None) -> xr.DataArray:
    """Prior-to-posterior contraction ``1 - Var_post / Var_prior`` per element.

    Parameters
    ----------
    posterior, prior : xarray.DataArray
        Draws with sample dims ``chain`` and ``draw``.
    log : bool, optional
        Compare log draws (default: when every draw is positive).

    Returns
    -------
    xarray.DataArray
        Contraction over the non-sample dims: 0 means the data taught nothing, 1 full certainty.
    """
    if log is None:
        log = bool((posterior > 0).all() and (prior > 0).all())
    post, pri = (np.log(posterior), np.log(prior)) if log else (posterior, prior)
    sample = [d for d in ("chain", "draw") if d in post.dims]
    return 1.0 - post.var(sample) / pri.var([d for d in ("chain", "draw") if d in pri.dims])


def check_sampling(
    idata: Any,
    *,
    var_names: Sequence[str] | None = None,
    rhat_max: float = 1.01,
    ess_min: float = 400,
    prior: Any = None,
    scale_params: Sequence[str] = ("tau",),
    remedies: str = REMEDIES,
) -> CheckReport:
    """Sampling diagnostics of a fit: R-hat, bulk and tail ESS, divergences, contraction.

    Parameters
    ----------
    idata : xarray.DataTree
        Result of ``pm.sample`` (groups ``posterior`` and ``sample_stats``).
    var_names : sequence of str, optional
        Variables to diagnose; default every posterior variable.
    rhat_max, ess_min : float
        Thresholds (R-hat > 1.01 and ESS < 400 are flagged).
    prior : xarray.DataTree or Dataset, optional
        Prior draws (``pm.sample_prior_predictive``); default the ``prior`` group of ``idata``.
    scale_params : sequence of str
        Scale and dispersion parameters whose contraction is checked (those present).
    remedies : str
        The numbered remedies given with R-hat, ESS and divergence warnings (default: generic ones; a
        result's ``check`` passes its model's).

    Returns
    -------
    CheckReport
        Codes ``rhat``, ``ess_bulk``, ``ess_tail``, ``divergences``, ``uninformed`` (warnings), ``no_prior``
        (info); ``summary``, a Dataset of scalars: ``rhat_max``, ``ess_bulk_min``, ``ess_tail_min``,
        ``divergences`` and, with prior draws, ``contraction_<param>_min``. R-hat is NaN (and not flagged)
        with one chain, R-hat and ESS with fewer than 4 draws.

    Raises
    ------
    ArgumentTypeError
        ``idata`` or ``prior`` is neither a DataTree nor a Dataset; ``rhat_max`` or ``ess_min`` is not a
        number; a diagnosed variable (or its prior) is not numeric.
    ArgumentError
        ``idata`` has no ``posterior`` group; ``var_names`` names a variable the posterior lacks, or none;
        a diagnosed variable, or the prior of a checked scale parameter, lacks the ``chain`` or ``draw`` dim.

    Examples
    --------
    Four chains of 500 draws, in which ``tau``'s chains sit at four different levels:

    >>> import numpy as np
    >>> import xarray as xr
    >>> import spikepool as sp
    >>> z = np.random.default_rng(0).normal(size=(4, 500))
    >>> post = xr.Dataset({"mu": (("chain", "draw"), z), "tau": (("chain", "draw"), np.exp(z + np.arange(4)[:, None]))})
    >>> report = sp.check_sampling(post)
    >>> [p.code for p in report.problems], report.find("rhat")[0].parameters
    (['rhat', 'ess_bulk', 'ess_tail', 'no_prior'], ('tau',))
    """
    post = _group(idata, "posterior")
    if post is None:
        raise ArgumentError("idata must have a 'posterior' group; got none. Hint: pass the result of pm.sample().")
    names = list(var_names) if var_names is not None else [str(v) for v in post.data_vars]
    missing = [v for v in names if v not in post.data_vars]
    if missing or not names:
        raise ArgumentError(
            f"var_names must be posterior variables, at least one; got {missing or names}, "
            f"available {list(post.data_vars)}."
        )
    for name, value in (("rhat_max", rhat_max), ("ess_min", ess_min)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ArgumentTypeError(f"{name} must be a number; got {value!r}.")
    _check_draws(post, names, "posterior")
    post = post[names]
    problems: list[Problem] = []
    rhat, *ess_by_method = convergence.diagnose(post)
    bad_names, worst = _worst(rhat, rhat > rhat_max, higher_is_worse=True)
    if bad_names:
        problems.append(
            Problem(
                "rhat",
                "warning",
                f"R-hat must be <= {rhat_max} for the chains to agree; got {len(bad_names)} value(s) above, "
                f"worst {worst:.3f}.",
                remedies,
                parameters=tuple(bad_names),
            )
        )
    summary: dict[str, Any] = {"rhat_max": float(max(float(rhat[v].max()) for v in rhat.data_vars))}
    for method, ess in zip(("bulk", "tail"), ess_by_method, strict=True):
        bad_names, worst = _worst(ess, ess < ess_min, higher_is_worse=False)
        summary[f"ess_{method}_min"] = float(min(float(ess[v].min()) for v in ess.data_vars))
        if bad_names:
            problems.append(
                Problem(
                    f"ess_{method}",
                    "warning",
                    f"{method} ESS must be >= {ess_min:g} for stable {'means' if method == 'bulk' else 'intervals'}; "
                    f"got {len(bad_names)} value(s) below, lowest {worst:.0f}.",
                    remedies,
                    parameters=tuple(bad_names),
                )
            )
    stats = _group(idata, "sample_stats")
    n_div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    summary["divergences"] = n_div
    if n_div:
        n_draws = int(stats["diverging"].size)
        problems.append(
            Problem(
                "divergences",
                "warning",
                f"NUTS must not diverge; got {n_div} divergent transition(s) in {n_draws} draws after tuning, "
                "so the posterior may be biased (often a funnel between tau and the neuron effects).",
                remedies,
            )
        )
    prior_ds = prior if isinstance(prior, xr.Dataset) else _group(idata if prior is None else prior, "prior", "prior")
    present = [p for p in scale_params if p in post.data_vars]
    checked = ["rhat", "ess_bulk", "ess_tail", "divergences"]
    if present:
        if prior_ds is None or not all(p in prior_ds.data_vars for p in present):
            problems.append(
                Problem(
                    "no_prior",
                    "info",
                    f"prior-to-posterior contraction of {present} was not computed: no prior draws.",
                    "pass prior=pm.sample_prior_predictive(...) to check what the data informed.",
                )
            )
        else:
            _check_draws(prior_ds, present, "prior")
            checked.append("uninformed")
            weak = []
            for p in present:
                c = contraction(post[p], prior_ds[p])
                summary[f"contraction_{p}_min"] = float(c.min())
                weak.extend(
                    _label(c.rename(p), i) for i in np.flatnonzero(np.asarray(c.values).ravel() < CONTRACTION_MIN)
                )
            if weak:
                problems.append(
                    Problem(
                        "uninformed",
                        "warning",
                        f"{len(weak)} scale parameter(s) contracted less than {CONTRACTION_MIN:.0%} from prior to "
                        "posterior: the data did not inform them, so their posteriors restate the prior and are "
                        "not findings.",
                        "report them as prior-driven; pool them (dispersion='pooled' or 'shared'), record more "
                        "trials or neurons, or state the prior's influence with a sensitivity analysis.",
                        parameters=tuple(weak),
                    )
                )
    return CheckReport("check_sampling", problems, checked=tuple(checked), summary=xr.Dataset(summary))


LAPLACE_REMEDY = (
    "fit with NUTS (method='nuts'), which needs no Gaussian shape; the approximation is weakest with few "
    "neurons or trials, or a between-neuron sd tau near 0"
)


def laplace_checks(idata: Any) -> CheckReport:
    """The checks of a ``method="laplace"`` fit, from its ``laplace`` group (``spikepool.models.laplace``).

    The hyperparameters' Gaussian is compared with their Laplace marginal posterior at 3 sd along each of its
    axes (``hyper_tail_error``, nats; above ``tail_nats``, 1, it is not trusted) and importance-weighted by it;
    each neuron's approximate block (its log rates, neuron effect and log dispersion) is importance-weighted
    by its exact density given the hyperparameters. PSIS's Pareto k above ``good_k``
    (``min(1 - 1/log10(S), 0.7)`` for S draws) says the approximation should not be trusted there (codes
    ``laplace_hyper``, ``laplace_units``). ``summary`` holds the k's (the worst neuron's) and the tail error.
    """
    lap = _group(idata, "laplace")
    if lap is None:
        raise ArgumentError("idata must have a 'laplace' group; got none. Hint: fit with method='laplace'.")
    hyper_k, good = float(lap["hyper_pareto_k"]), float(lap["good_k"])
    tail, tail_max = float(lap["hyper_tail_error"]), float(lap["tail_nats"])
    unit_k, unit_good = np.asarray(lap["pareto_k"].values, float), float(lap["unit_good_k"])
    problems = []
    if not (hyper_k <= good and tail <= tail_max):
        problems.append(
            Problem(
                "laplace_hyper",
                "warning",
                f"the hyperparameters' (mu, tau, ...) Gaussian approximation must be within {tail_max:g} nat of "
                f"their Laplace marginal at 3 sd along each axis, and its importance weights need Pareto k <= "
                f"{good:.2f}; got {tail:.2f} nats and k = {hyper_k:.2f}, so their posterior, and every rate's, may "
                "be off (often the posterior piles up near tau = 0, which no Gaussian in log tau follows).",
                LAPLACE_REMEDY,
                parameters=tuple(str(h) for h in lap["hyper"].values),
            )
        )
    bad = ~(unit_k <= unit_good)
    if bad.any():
        problems.append(
            Problem(
                "laplace_units",
                "warning",
                f"the approximate posterior of each neuron needs Pareto k <= {unit_good:.2f} to be trusted; got "
                f"{int(bad.sum())} of {unit_k.size} above (worst {np.nanmax(unit_k):.2f}).",
                LAPLACE_REMEDY,
                neurons=tuple(str(n) for n in lap["neuron"].values[bad]),
            )
        )
    summary = xr.Dataset(
        {"hyper_pareto_k": hyper_k, "hyper_tail_error": tail, "pareto_k_max": float(np.nanmax(unit_k))}
    )
    return CheckReport("Laplace approximation checks", problems, checked=("laplace_hyper", "laplace_units"),
                       summary=summary)  # fmt: skip


LOO_REMEDIES = (
    "(1) score held-out trials instead (sp.compare_pooling), which needs no importance sampling, "
    "(2) refit with those observations left out for an exact LOO of them, "
    "(3) look at the flagged neurons: a Pareto k that high often marks a neuron the model fits poorly."
)


def relative_efficiency(idata: Any) -> float:
    """PSIS-LOO's relative efficiency of the draws: the mean ESS (of the mean) over every posterior value, over
    the number of draws; 1 with one chain (``arviz_stats.loo``'s rule, computed by ``spikepool.stats.convergence``)."""
    post = _group(idata, "posterior")
    n = post.sizes["chain"] * post.sizes["draw"]
    if post.sizes["chain"] == 1:
        return 1.0
    ess = convergence.ess(post, method="mean")
    return float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n)


def psis_loo(idata: Any, name: str = "fit", var_name: str = "y") -> tuple[Any, CheckReport]:
    """PSIS-LOO (pointwise) and its reliability as a ``CheckReport``.

    The same ``ELPDDataLOO`` as ``arviz_stats.loo(idata, var_name=var_name, pointwise=True)`` (``tests/test_psis.py``),
    with every observation's Pareto smoothing in one array operation (``spikepool.stats.psis``: ArviZ loops over
    observations, twice). Large Pareto k are folded into the report's ``loo_pareto_k`` problem (how many
    observations, the worst k, which model) instead of ArviZ's printed warning.
    """
    from arviz_stats.utils import ELPDDataLOO

    ll = _group(idata, "log_likelihood")[var_name]
    obs_dims = [d for d in ll.dims if d not in ("chain", "draw")]
    ll = ll.transpose(*obs_dims, "chain", "draw")
    n_samples = ll.sizes["chain"] * ll.sizes["draw"]
    out = psis.loo_pointwise(ll.values.reshape(-1, n_samples), relative_efficiency(idata))
    template = ll.isel(chain=0, draw=0, drop=True)
    elpd_i = template.copy(data=out["elpd_i"].reshape(template.shape))
    pareto_k = template.copy(data=out["pareto_k"].reshape(template.shape))
    elpd = float(out["elpd_i"].sum())
    n = out["elpd_i"].size
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    result = ELPDDataLOO(
        elpd=elpd,
        se=float(np.sqrt(n * np.var(out["elpd_i"], ddof=1))) if n > 1 else 0.0,
        p=float(out["p_loo_i"].sum()),
        n_samples=n_samples,
        n_data_points=n,
        scale="log",
        warning=bool(np.any(out["pareto_k"] > good_k)),
        good_k=good_k,
        elpd_i=elpd_i,
        pareto_k=pareto_k,
        approx_posterior=False,
        log_weights=ll.copy(data=out["log_weights"].reshape(ll.shape)),
    )
    return result, CheckReport(
        f"PSIS-LOO reliability ({name})", _pareto_problems(result, name), checked=("loo_pareto_k",)
    )


def psis_compare(idatas: Mapping[str, Any], var_name: str = "y") -> tuple[Any, CheckReport]:
    """LOO comparison table (``arviz_stats.compare``, unrounded) and the reliability of every model's PSIS-LOO."""
    import arviz_stats as azs

    elpds, problems = {}, []
    for name, idata in idatas.items():
        elpds[name], report = psis_loo(idata, name, var_name)
        problems.extend(report.problems)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        # full precision: ArviZ rounds to 2 significant digits by default, which can hide the ranking
        table = azs.compare(elpds, round_to="none")
    return table, CheckReport("PSIS-LOO reliability of the comparison", problems, checked=("loo_pareto_k",))


def _pareto_problems(elpd: Any, name: str) -> list[Problem]:
    k = np.asarray(elpd.pareto_k.values if elpd.pareto_k is not None else [], dtype=float).ravel()
    k = k[np.isfinite(k)]
    good = float(elpd.good_k)
    bad = int((k > good).sum())
    if not bad:
        return []
    return [
        Problem(
            "loo_pareto_k",
            "warning",
            f"PSIS-LOO needs Pareto k <= {good:.2f} for every observation to be reliable; {name} has {bad} of "
            f"{k.size} above (worst {k.max():.2f}), so its elpd_loo (and any comparison with it) is unreliable "
            "for those observations.",
            LOO_REMEDIES,
        )
    ]

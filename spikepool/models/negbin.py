"""Hierarchical Gamma-Poisson (Negative-Binomial) models of spike counts: ``HierarchicalNegBinom``.

Model (``pooling="partial"``, conditions c, neurons i, trials t with exposure d_t in s)::

    mu_c     ~ Normal(mu_loc, mu_scale)              population mean log rate (Hz) per condition
    tau      ~ HalfNormal(tau_scale)                 between-neuron sd of log rates
    log r_ic ~ Normal(mu_c, tau)                     partial pooling (conditional exchangeability)
    y_it     ~ NegativeBinomial(mu = r_ic d_t, alpha_i),   Var = mu + mu**2 / alpha_i

which is the Gamma-Poisson mixture ``y | lambda ~ Poisson(lambda d)``,
``lambda ~ Gamma(alpha_i, alpha_i / r_ic)`` with lambda integrated out (never sampled). ``pooling="none"``
gives every log r_ic its own fixed prior, ``"complete"`` one rate per condition for all neurons.
Dispersion: ``"neuron"`` (alpha_i), ``"pooled"`` (log alpha_i ~ Normal(mu_a, tau_a)), ``"shared"``
(one alpha), ``"fano"`` (alpha = eta * mu, so Var = E[y] (1 + 1/eta), a rate-independent Fano factor);
``likelihood="poisson"`` is the alpha -> infinity limit. Posterior names: ``mu``, ``tau``,
``log_rate``, ``rate`` (Hz), ``alpha`` (or ``eta``; ``mu_a``, ``tau_a`` when pooled).

Sessions (``session="neuron_session"``, neurons nested in sessions s(i), e.g. from ``concat_sessions``)::

    tau_session  ~ HalfNormal(tau_session_scale)     between-session sd of mean log rates
    mu_session_sc ~ Normal(mu_c, tau_session)        non-centered: mu_c + tau_session * z_sc
    log r_ic     ~ Normal(mu_session_s(i)c, tau)     neurons pooled toward their own session

``tau`` is then the within-session sd between neurons; posterior names add ``tau_session`` and
``mu_session`` (session[, condition]).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_choice, did_you_mean
from spikepool.checks.counts import check_valid_counts
from spikepool.checks.neuron_effect import neuron_effect_choice, with_neuron_effect
from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.models.base import SAMPLERS, Model
from spikepool.models.components import (
    check_family_options,
    com_dispersion,
    half_prior,
    nb_dispersion,
    split_normal,
)
from spikepool.models.data import CountsData, prepare_counts
from spikepool.models.laplace import check_laplace_options, fit_laplace
from spikepool.models.likelihoods import com_loglik, family_logp, window_loglik
from spikepool.models.priors import negbin_priors
from spikepool.models.responses import baseline_index, draw_responses, response_model
from spikepool.models.start import negbin_initial_values, sparse_target_accept
from spikepool.results.fit import FitResult, add_fit_groups
from spikepool.stats.cells import cell_groups, count_pairs
from spikepool.stats.families import FAMILIES, family_of
from spikepool.stats.parameterization import choose_centered, choose_centered_sessions

__all__ = ["HierarchicalNegBinom"]

POOLINGS = ("partial", "none", "complete")
DISPERSIONS = ("neuron", "pooled", "shared", "fano")
LIKELIHOODS = tuple(FAMILIES)
PARAMETERIZATIONS = ("auto", "centered", "noncentered")
NO_EFFECT_WITH_BASELINE = (
    "baseline= (sparse responses): each neuron's rates are its baseline rate times its responses, with no "
    "crossed neuron x condition effects"
)


class HierarchicalNegBinom(Model):
    """Partially pooled firing rates with Gamma-Poisson trial-to-trial overdispersion.

    Parameters
    ----------
    pooling : {"partial", "none", "complete"}
        The pooling continuum: log r_i ~ Normal(mu, tau); independent neurons with a fixed prior;
        one rate for all neurons.
    dispersion : {"neuron", "pooled", "shared", "fano"}
        alpha_i per neuron; log alpha_i ~ Normal(mu_a, tau_a); one alpha; alpha = eta * mu.
    likelihood : {"negbin", "poisson", "com_poisson"}
        Negative Binomial (Var = mu + mu**2 / alpha), its Poisson limit (Var = mu), or the mean-parameterised
        Conway-Maxwell-Poisson (``spikepool.stats.com_poisson``: dispersion ``nu`` per neuron, pooled or
        shared as alpha is; ``nu > 1`` gives Fano factors below 1, which the NB cannot). Its likelihood sums
        over (neuron, condition, duration) groups, one normalising series each.
    condition : str, optional
        Trial coordinate of conditions: rates become (neuron, condition) with a population mean per
        condition. Cells with no valid trial are kept (their rate comes from the population level).
    parameterization : {"auto", "centered", "noncentered"}
        Of the neuron log rates; "auto" decides per neuron (``spikepool.stats.parameterization``).
    priors : dict, optional
        Overrides of ``spikepool.models.priors.DEFAULT_PRIORS``.
    sampler : {"auto", "pymc", "nutpie", "numpyro"}
        "auto": nutpie when installed, else PyMC's NUTS. "numpyro" (``pip install 'spikepool[jax]'``) compiles
        the model to JAX and runs on whatever device JAX finds (a GPU with ``jax[cuda12]`` installed); after
        it, PyMC's own chains run in-process (``spikepool.models.sampling.process_options``).
    neuron_effect : {"auto", True, False}
        Crossed neuron and condition effects (needs ``condition`` and partial pooling):
        ``log r_ic ~ Normal(mu_c + u_i, tau)``, ``u ~ ZeroSumNormal(tau_neuron)``,
        ``tau_neuron ~ HalfNormal(tau_scale)``, the model an R user writes as
        ``count ~ 0 + stim + (1|unit) + (1|unit:stim)``. A neuron's rate in one condition is then pooled
        toward its own rates in the other conditions, not toward other neurons' rates in that condition.
        The effects are centered (each is informed by all of the neuron's trials) and sum to zero, so
        ``mu_c`` keeps the conditions' level; without that ``(mu_c + c, u_i - c)`` is a ridge that mixes
        slowly. ``"auto"`` (default) turns them on when they are identified
        (``spikepool.checks.neuron_effect.neuron_effect_choice``: partial pooling over conditions, no
        ``session=``, at least two neurons with valid trials in two or more conditions); ``fit`` reports the
        choice and why as the ``neuron_effect`` finding of its checks. ``True`` / ``False`` force it.
    session : str, optional
        Neuron coordinate naming each neuron's session (``"neuron_session"`` from ``concat_sessions``):
        adds the session level ``mu_session ~ Normal(mu, tau_session)`` between the population and the
        neurons (needs partial pooling). ``check_counts(..., session=)`` runs first: at least two sessions,
        one with two neurons; one-neuron sessions and conditions recorded in one session only are warned.
    baseline : str, optional
        A condition to measure responses against, with a **point mass at no change**
        (``spikepool.models.responses``): each neuron's baseline log rate is pooled across neurons, and in
        every other condition it either keeps that rate exactly or changes by a log ratio from
        ``Normal(0, sigma_response)``, the share of responding neurons per condition (``respond_frac``)
        learnt from the data. Use it where some units are expected not to respond at all: there the default
        model's continuous prior makes ``result.responsive`` optimistic, and this one is calibrated
        (``benchmarks/fdr_responsive.py``). Needs ``condition``, partial pooling, no ``session``, the
        Negative Binomial or Poisson and a dispersion other than ``"fano"``; no crossed neuron effects.
        The posterior adds ``log_rate_baseline``, ``respond_frac``, ``sigma_response``,
        ``response_log_ratio``, ``respond_prob`` and ``responds`` (one draw of the indicators per posterior draw).

    Raises
    ------
    ArgumentError
        An option outside its choices, a ``priors`` key or value not allowed, a ``likelihood`` / ``dispersion``
        / ``sampler`` combination the family cannot fit, or ``neuron_effect=True`` / ``session`` without
        partial pooling (and conditions). ``fit`` raises ``IdentifiabilityError`` before sampling when the
        counts cannot identify the model (``check`` lists why).
    ArgumentTypeError
        ``condition`` or ``session`` not a str, ``neuron_effect`` not a bool or ``"auto"``, ``priors`` not a dict.

    Notes
    -----
    ``fit(counts, *, draws, tune, chains, random_seed, progressbar, sampler, **sample_kwargs)`` (the shared
    ``spikepool.models.base.Model.fit``) runs ``check_counts`` first, raising ``IdentifiabilityError`` before
    any sampling when the design cannot identify the model and warning its weak points as
    ``SpikepoolWarning``; adds the ``neuron_effect`` finding; samples (PyMC's NUTS starts at the
    empirical-Bayes fit, ``spikepool.models.start``; ``target_accept`` is 0.99 when any neuron is
    non-centered, unless at least ``MANY_RATES`` rates pin tau) and returns a ``FitResult``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, truth = sp.simulate_counts(8, 10, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)
    >>> model = sp.HierarchicalNegBinom(dispersion="shared")
    >>> sorted(v.name for v in model.build(counts).free_RVs)
    ['log_alpha', 'log_rate_offset', 'mu', 'tau']
    """

    MODEL = "HierarchicalNegBinom"

    def __init__(
        self,
        pooling: str = "partial",
        dispersion: str = "neuron",
        likelihood: str = "negbin",
        condition: str | None = None,
        parameterization: str = "auto",
        priors: dict | None = None,
        sampler: str = "auto",
        neuron_effect: bool | str = "auto",
        session: str | None = None,
        baseline: str | None = None,
    ) -> None:
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        if not isinstance(neuron_effect, bool) and neuron_effect != "auto":
            error = ArgumentError if isinstance(neuron_effect, str) else ArgumentTypeError
            raise error(f"neuron_effect must be True, False or 'auto'; got {neuron_effect!r}.")
        if neuron_effect is True and (condition is None or pooling != "partial"):
            raise ArgumentError(
                "neuron_effect=True needs conditions and partial pooling; got "
                f"condition={condition!r}, pooling={pooling!r}. Hint: pass condition='condition'."
            )
        self.neuron_effect = neuron_effect
        if session is not None and not isinstance(session, str):
            raise ArgumentTypeError(f"session must be a neuron coordinate name (str); got {type(session).__name__}.")
        if session is not None and pooling != "partial":
            raise ArgumentError(
                f"session needs partial pooling (neurons pooled toward their session); got pooling={pooling!r}. "
                "Hint: use pooling='partial', or drop session= for no or complete pooling."
            )
        self.session = session
        self.dispersion = check_choice("dispersion", dispersion, DISPERSIONS)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        check_family_options(self.likelihood, self.dispersion, sampler)
        self.parameterization = check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.sampler = check_choice("sampler", sampler, SAMPLERS)
        if condition is not None and not isinstance(condition, str):
            raise ArgumentTypeError(f"condition must be a trial coordinate name (str); got {type(condition).__name__}.")
        self.condition = condition
        self.priors = negbin_priors(priors)
        self.baseline = self._check_baseline(baseline)

    def _check_baseline(self, baseline: str | None) -> str | None:
        """``baseline`` (sparse responses, ``spikepool.models.responses``) where the other options allow it."""
        if baseline is None:
            return None
        if not isinstance(baseline, str):
            raise ArgumentTypeError(f"baseline must be a condition name (str); got {type(baseline).__name__}.")
        clashes = {
            "condition": (self.condition is None, "a condition coordinate, e.g. condition='condition'"),
            "pooling": (self.pooling != "partial", "pooling='partial'"),
            "session": (self.session is not None, "session=None (no session level)"),
            "neuron_effect": (self.neuron_effect is True, "neuron_effect='auto' (each neuron's own baseline)"),
            "likelihood": (self.likelihood == "com_poisson", "likelihood='negbin' or 'poisson'"),
            "dispersion": (self.dispersion == "fano", "dispersion='neuron', 'pooled' or 'shared'"),
        }
        for name, (bad, wanted) in clashes.items():
            if bad:
                raise ArgumentError(
                    f"baseline={baseline!r} (sparse responses to a baseline) needs {wanted}; got "
                    f"{name}={getattr(self, name)!r}. Hint: drop baseline= and use result.responsive(baseline) "
                    "on the default model."
                )
        return baseline

    def __repr__(self) -> str:
        return (
            f"HierarchicalNegBinom(pooling={self.pooling!r}, dispersion={self.dispersion!r}, "
            f"likelihood={self.likelihood!r}, condition={self.condition!r}, "
            f"parameterization={self.parameterization!r}, sampler={self.sampler!r}"
            + (f", neuron_effect={self.neuron_effect!r}" if self.neuron_effect != "auto" else "")
            + (f", session={self.session!r}" if self.session else "")
            + (f", baseline={self.baseline!r})" if self.baseline else ")")
        )

    def spec(self) -> dict[str, Any]:
        """The model's arguments (JSON-able), as stored with results."""
        return {
            "model": "HierarchicalNegBinom",
            "pooling": self.pooling,
            "dispersion": self.dispersion,
            "likelihood": self.likelihood,
            "condition": self.condition,
            "parameterization": self.parameterization,
            "priors": dict(self.priors),
            "sampler": self.sampler,
            "neuron_effect": self.neuron_effect,
            "session": self.session,
            "baseline": self.baseline,
        }

    def prepare(self, counts: xr.DataArray | CountsData) -> CountsData:
        """The counts validated once, with their cells, session codes and the neuron-effect decision.

        Parameters
        ----------
        counts : xarray.DataArray
            DataArray (neuron, trial[, time]) from ``from_neo`` and friends (binned counts are summed over time).
        """
        if isinstance(counts, CountsData):
            return counts
        data = prepare_counts(
            counts,
            condition=self.condition,
            session=self.session,
            pooling=self.pooling,
            neuron_effect=False if self.baseline else self.neuron_effect,
        )
        if self.baseline:
            names = [str(c) for c in data.cells.condition_names]
            if self.baseline not in names or len(names) < 2:
                raise ArgumentError(
                    f"baseline must be one of at least two conditions in {self.condition!r}; got "
                    f"{self.baseline!r}, conditions {names}.{did_you_mean(self.baseline, names)}"
                )
            data = dataclasses.replace(data, neuron_effect_reason=NO_EFFECT_WITH_BASELINE)
        return data

    def resolve_neuron_effect(self, counts: xr.DataArray) -> tuple[bool, str]:
        """Whether the fit of ``counts`` has crossed neuron effects, and why (``neuron_effect``)."""
        if self.baseline:
            return False, NO_EFFECT_WITH_BASELINE
        return neuron_effect_choice(counts, self.neuron_effect, self.condition, self.pooling, self.session)

    @property
    def check_dispersion(self) -> str:
        """The dispersion the identifiability checks must assume."""
        return "poisson" if self.likelihood == "poisson" else self.dispersion

    def _check(self, data: CountsData) -> CheckReport:
        """``check_counts`` of the design (identifiability errors, warnings), as ``fit`` runs it first (on the
        counts ``prepare`` validated)."""
        return check_valid_counts(
            data.counts,
            dispersion=self.check_dispersion,
            condition=self.condition,
            session=self.session,
            likelihood=self.likelihood,
        )

    # ------------------------------------------------------------------ build
    def centered(self, counts: xr.DataArray) -> np.ndarray:
        """Boolean (neuron,): which neurons get the centered form (``parameterization``)."""
        return self._centered(self.prepare(counts))

    def _centered(self, data: CountsData) -> np.ndarray:
        n, cells = data.n_neuron, data.cells
        if self.parameterization == "centered" or self.pooling != "partial":
            return np.ones(n, dtype=bool)
        if self.parameterization == "noncentered":
            return np.zeros(n, dtype=bool)
        if data.sessions is None:
            return choose_centered(cells, n, data.n_condition, neuron_effect=data.neuron_effect)
        n_cond = data.n_condition
        chosen = choose_centered(cells, n, n_cond, group=data.sessions[1])
        # cells without trials (conditions the neuron's session never recorded) are prior-only: in the
        # centered form they make a funnel with tau, so such neurons take the non-centered form
        trials = np.bincount(cells.neuron * n_cond + cells.condition, cells.weight, n * n_cond).reshape(n, n_cond)
        return chosen & (trials > 0).all(axis=1)

    def sessions_centered(self, counts: xr.DataArray) -> np.ndarray:
        """Boolean (session,): which session means get the centered form (``parameterization``)."""
        return self._sessions_centered(self.prepare(counts))

    def _sessions_centered(self, data: CountsData) -> np.ndarray:
        names, codes = data.sessions
        if self.parameterization != "auto":
            return np.full(names.size, self.parameterization == "centered")
        return choose_centered_sessions(data.cells, data.n_neuron, data.n_condition, codes)

    def _build(self, data: CountsData):
        """The ``pm.Model`` of the counts (coords ``neuron`` and ``condition`` from the counts).

        The likelihood is a ``pm.Potential`` named ``loglik`` summing the family's weighted log densities
        (``spikepool.models.likelihoods.family_logp``) over sufficient-statistic cells (``spikepool.stats.cells``).
        """
        import pymc as pm
        import pytensor.tensor as pt

        counts, cells = data.counts, data.cells
        p = self.priors
        n_neuron, n_cond = counts.sizes["neuron"], cells.condition_names.size
        with_cond = self.condition is not None
        rate_dims = ("neuron", "condition") if with_cond else ("neuron",)
        pop_dims = ("condition",) if with_cond else ()
        shape = (n_neuron, n_cond) if with_cond else (n_neuron,)
        coords = {"neuron": counts["neuron"].values}
        if with_cond:
            coords["condition"] = cells.condition_names
        if self.session:
            coords["session"], sess_codes = data.sessions
        mu_loc = self._mu_loc(cells)
        neuron_effect = data.neuron_effect
        centered = self._centered(data)

        if self.baseline:
            b = baseline_index(cells, self.baseline)
            coords["response"] = np.delete(cells.condition_names, b)
            with pm.Model(coords=coords) as model:
                family = family_of(self.likelihood)
                response_model(cells, n_neuron, b, centered, p, mu_loc, family, self.dispersion)
            model.spikepool_cells, model.spikepool_centered, model.spikepool_neuron_effect = cells, centered, False
            return model

        with pm.Model(coords=coords) as model:
            if self.session:
                model.spikepool_sessions_centered = self._sessions_centered(data)
            if self.pooling == "partial":
                mu = pm.Normal("mu", mu_loc, p["mu_scale"], dims=pop_dims)
                tau = half_prior("tau", p["tau"], p["tau_scale"])
                mu_b = mu[None, :] if with_cond else mu
                if self.session:
                    tau_s = half_prior("tau_session", p["tau"], p["tau_session_scale"])
                    mu_s = self._session_means(pm, mu, tau_s, model.spikepool_sessions_centered, pop_dims, n_cond)
                    mu_b = mu_s[sess_codes]
                if neuron_effect:
                    tau_n = pm.HalfNormal("tau_neuron", p["tau_scale"])
                    # sum to zero: mu_c keeps the level, else mu_c + c and u_i - c form a ridge (slow mixing)
                    effect = pm.ZeroSumNormal("neuron_effect", sigma=tau_n, dims="neuron")
                    mu_b = mu_b + effect[:, None]
                per_neuron = neuron_effect or self.session is not None
                target = (lambda idx: mu_b[idx]) if per_neuron else (lambda idx: mu_b)
                stacked = split_normal("log_rate", target, tau, centered, shape[1:])
                log_rate = pm.Deterministic("log_rate", stacked, dims=rate_dims)
            elif self.pooling == "none":
                log_rate = pm.Normal("log_rate", mu_loc, p["rate_scale"], dims=rate_dims)
            else:
                mu = pm.Normal("mu", mu_loc, p["mu_scale"], dims=pop_dims)
                mu_b = mu[None, :] if with_cond else mu
                log_rate = pm.Deterministic("log_rate", pt.ones(shape) * mu_b, dims=rate_dims)
            rate = pm.Deterministic("rate", pt.exp(log_rate), dims=rate_dims)

            family = family_of(self.likelihood)
            if family.name == "com_poisson":
                # lambda is solved once per (neuron, condition, duration) group, from the group's mean
                groups = cell_groups(cells)
                flat_log = log_rate.reshape((-1,)) if with_cond else log_rate
                index = groups.neuron * n_cond + groups.condition if with_cond else groups.neuron
                nu = com_dispersion(self.dispersion, p)
                nu_g = nu[groups.neuron] if nu.ndim == 1 else pt.broadcast_to(nu, groups.n.shape)
                log_mu = flat_log[index] + np.log(groups.duration)
                pm.Potential("loglik", com_loglik(log_mu, nu_g, groups.total, groups.n, groups.lf_sum))
            elif self.dispersion != "fano":
                # the mean enters once per (neuron, condition, duration) group, lgamma(y + alpha) once per
                # distinct (neuron, count): the gradient's cost does not grow with trials
                groups = cell_groups(cells)
                flat_log = log_rate.reshape((-1,)) if with_cond else log_rate
                index = groups.neuron * n_cond + groups.condition if with_cond else groups.neuron
                log_mu = flat_log[index] + np.log(groups.duration)
                alpha = nb_dispersion(self.dispersion, p, None, None) if family.dispersion_names else None
                pairs = count_pairs(cells.neuron, cells.y, cells.weight)
                pm.Potential("loglik", window_loglik(family, groups, pairs, log_mu, alpha))
            else:
                # alpha = eta * mu differs between a neuron's groups: one term per cell
                flat_rate = rate.reshape((-1,)) if with_cond else rate
                index = cells.neuron * n_cond + cells.condition if with_cond else cells.neuron
                mu_cell = flat_rate[index] * cells.duration
                alpha = nb_dispersion(self.dispersion, p, cells.neuron, mu_cell) if family.dispersion_names else None
                pm.Potential("loglik", (cells.weight * family_logp(family, cells.y, mu_cell, alpha)).sum())
        model.spikepool_cells = cells
        model.spikepool_centered = centered
        model.spikepool_neuron_effect = neuron_effect
        return model

    def _mu_loc(self, cells) -> float:
        """The prior mean of ``mu``: ``priors["mu_loc"]``, or the log of the data's pooled rate when None."""
        if self.priors["mu_loc"] is not None:
            return float(self.priors["mu_loc"])
        exposure = float((cells.weight * cells.duration).sum())
        spikes = float((cells.weight * cells.y).sum())
        return float(np.log(max(spikes, 0.5) / exposure))

    @staticmethod
    def _session_means(pm, mu, tau_s, centered: np.ndarray, pop_dims: tuple, n_cond: int):
        """``mu_session`` (session[, condition]): centered sessions drawn directly, the others as offsets."""
        tail = (n_cond,) if pop_dims else ()
        stacked = split_normal("mu_session", lambda idx: mu, tau_s, centered, tail)
        return pm.Deterministic("mu_session", stacked, dims=("session", *pop_dims))

    def initial_values(self, counts: xr.DataArray | CountsData, model) -> dict[str, np.ndarray]:
        """Starting values of the free variables of ``model`` (from ``build``) from the closed-form
        empirical-Bayes fit (``spikepool.models.start.negbin_initial_values``)."""
        return negbin_initial_values(self, self.prepare(counts), model)

    # ------------------------------------------------------------------ fit (the hooks of Model.fit)
    def _fit_spec(self, data: CountsData, report: CheckReport) -> tuple[dict, CheckReport]:
        spec = {**self.spec(), "neuron_effect": data.neuron_effect, "neuron_effect_setting": self.neuron_effect}
        if self.condition is not None:
            spec["neuron_effect_reason"] = data.neuron_effect_reason
            report = with_neuron_effect(report, data.neuron_effect, data.neuron_effect_reason)
        return spec, report

    def _prior_names(self, data: CountsData, model) -> list[str]:
        # the scales whose prior-to-posterior contraction check_sampling measures
        return [n for n in FitResult.SCALES if n in model.named_vars]

    def _check_sampler(self, sampler: str) -> None:
        check_family_options(self.likelihood, self.dispersion, sampler)  # fit(sampler="numpyro") with COM-Poisson

    def _check_laplace(self) -> None:
        check_laplace_options(self.spec())

    def _fit_laplace(self, data: CountsData, spec: dict, report: CheckReport, **kwargs) -> FitResult:
        return fit_laplace(data, spec, report, self._mu_loc(data.cells), **kwargs)

    def _pooled_rates(self, data: CountsData) -> int:
        """How many of the rates that tau pools have trials: (neuron, condition) cells with valid trials, or with
        ``baseline=`` the neurons with baseline trials (``sparse_target_accept``'s ``n_rates``)."""
        cells = data.cells
        if self.baseline:
            return int(np.unique(cells.neuron[cells.condition == baseline_index(cells, self.baseline)]).size)
        return int(np.unique(cells.neuron * data.n_condition + cells.condition).size)

    def _sample_options(self, data: CountsData, model, sampler: str, spec: dict, kwargs: dict) -> dict:
        n_rates = self._pooled_rates(data)
        spec["target_accept"] = sparse_target_accept(self.pooling, model.spikepool_centered, kwargs, n_rates)
        if sampler == "pymc" and "initvals" not in kwargs:
            kwargs["initvals"] = negbin_initial_values(self, data, model)
        return kwargs

    def _result(self, tree, data: CountsData, model, spec: dict, report: CheckReport, random_seed) -> FitResult:
        if self.baseline:
            b, names = baseline_index(data.cells, self.baseline), data.cells.condition_names
            tree = tree.copy()
            tree["posterior"] = xr.DataTree(draw_responses(tree["posterior"].to_dataset(), names, b, random_seed))
        tree = add_fit_groups(tree, data.counts, data.cells, spec)
        return FitResult(
            idata=tree,
            counts=data.counts,
            spec=spec,
            pre_checks=report,
            post_checks=FitResult.check(tree),
            centered=model.spikepool_centered,
        )

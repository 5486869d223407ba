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

import importlib.util
import warnings
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_choice
from spikepool.checks.counts import check_counts
from spikepool.checks.neuron_effect import neuron_effect_choice, with_neuron_effect
from spikepool.checks.sampling import check_sampling
from spikepool.counts.schema import validate_counts
from spikepool.counts.sessions import neuron_sessions
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SamplingWarning, SpikepoolWarning
from spikepool.models.components import half_prior
from spikepool.models.priors import negbin_priors
from spikepool.models.sampling import check_sampler_args, process_options, reproducible_compilation
from spikepool.results.fit import FitResult, add_fit_groups, diagnosed_names
from spikepool.stats.cells import Cells, compress
from spikepool.stats.empirical import fit_empirical_bayes
from spikepool.stats.parameterization import choose_centered, choose_centered_sessions

__all__ = ["HierarchicalNegBinom"]

POOLINGS = ("partial", "none", "complete")
DISPERSIONS = ("neuron", "pooled", "shared", "fano")
LIKELIHOODS = ("negbin", "poisson")
PARAMETERIZATIONS = ("auto", "centered", "noncentered")
SPARSE_TARGET_ACCEPT = 0.99  # see sparse_target_accept
SAMPLERS = ("auto", "pymc", "nutpie", "numpyro")


class HierarchicalNegBinom:
    """Partially pooled firing rates with Gamma-Poisson trial-to-trial overdispersion.

    Parameters
    ----------
    pooling : {"partial", "none", "complete"}
        The pooling continuum: log r_i ~ Normal(mu, tau); independent neurons with a fixed prior;
        one rate for all neurons.
    dispersion : {"neuron", "pooled", "shared", "fano"}
        alpha_i per neuron; log alpha_i ~ Normal(mu_a, tau_a); one alpha; alpha = eta * mu.
    likelihood : {"negbin", "poisson"}
        Negative Binomial (Var = mu + mu**2 / alpha) or its Poisson limit (Var = mu).
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

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, truth = sp.simulate_counts(8, 10, mu=1.5, tau=0.5, alpha=4.0, duration=1.0, seed=1)
    >>> model = sp.HierarchicalNegBinom(dispersion="shared")
    >>> sorted(v.name for v in model.build(counts).free_RVs)
    ['log_alpha', 'log_rate_offset', 'mu', 'tau']
    """

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
        self.parameterization = check_choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.sampler = check_choice("sampler", sampler, SAMPLERS)
        if condition is not None and not isinstance(condition, str):
            raise ArgumentTypeError(f"condition must be a trial coordinate name (str); got {type(condition).__name__}.")
        self.condition = condition
        self.priors = negbin_priors(priors)

    def __repr__(self) -> str:
        return (
            f"HierarchicalNegBinom(pooling={self.pooling!r}, dispersion={self.dispersion!r}, "
            f"likelihood={self.likelihood!r}, condition={self.condition!r}, "
            f"parameterization={self.parameterization!r}, sampler={self.sampler!r}"
            + (f", neuron_effect={self.neuron_effect!r}" if self.neuron_effect != "auto" else "")
            + (f", session={self.session!r})" if self.session else ")")
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
        }

    def resolve_neuron_effect(self, counts: xr.DataArray) -> tuple[bool, str]:
        """Whether the fit of ``counts`` has crossed neuron effects, and why (``neuron_effect``)."""
        return neuron_effect_choice(counts, self.neuron_effect, self.condition, self.pooling, self.session)

    @property
    def check_dispersion(self) -> str:
        """The dispersion the identifiability checks must assume."""
        return "poisson" if self.likelihood == "poisson" else self.dispersion

    # ------------------------------------------------------------------ build
    def centered(
        self, counts: xr.DataArray, cells: Cells | None = None, neuron_effect: bool | None = None
    ) -> np.ndarray:
        """Boolean (neuron,): which neurons get the centered form (``parameterization``).

        ``cells`` and ``neuron_effect`` (``resolve_neuron_effect``'s answer) are taken when the caller has
        them already, else computed from ``counts``.
        """
        n = counts.sizes["neuron"]
        if self.parameterization == "centered" or self.pooling != "partial":
            return np.ones(n, dtype=bool)
        if self.parameterization == "noncentered":
            return np.zeros(n, dtype=bool)
        cells = cells if cells is not None else compress(counts, self.condition)
        if not self.session:
            if neuron_effect is None:
                neuron_effect, _ = self.resolve_neuron_effect(counts)
            return choose_centered(cells, n, cells.condition_names.size, neuron_effect=neuron_effect)
        n_cond = cells.condition_names.size
        chosen = choose_centered(cells, n, n_cond, group=neuron_sessions(counts, self.session)[1])
        # cells without trials (conditions the neuron's session never recorded) are prior-only: in the
        # centered form they make a funnel with tau, so such neurons take the non-centered form
        trials = np.bincount(cells.neuron * n_cond + cells.condition, cells.weight, n * n_cond).reshape(n, n_cond)
        return chosen & (trials > 0).all(axis=1)

    def build(self, counts: xr.DataArray):
        """The ``pm.Model`` for ``counts`` (coords ``neuron`` and ``condition`` from the counts).

        The likelihood is a ``pm.Potential`` named ``loglik`` summing weighted NB log-densities over
        sufficient-statistic cells (``spikepool.stats.cells``).
        """
        import pymc as pm
        import pytensor.tensor as pt

        counts = validate_counts(counts)
        if self.condition is not None and self.condition not in counts.coords:
            raise ArgumentError(
                f"condition must name a trial coordinate; got {self.condition!r}, coords {list(counts.coords)}."
            )
        cells = compress(counts, self.condition)
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
            coords["session"], sess_codes = neuron_sessions(counts, self.session)
        mu_loc = p["mu_loc"]
        if mu_loc is None:
            exposure = float((cells.weight * cells.duration).sum())
            spikes = float((cells.weight * cells.y).sum())
            mu_loc = float(np.log(max(spikes, 0.5) / exposure))
        neuron_effect, _ = self.resolve_neuron_effect(counts)
        centered = self.centered(counts, cells, neuron_effect)

        with pm.Model(coords=coords) as model:
            if self.session:
                model.spikepool_sessions_centered = self.sessions_centered(counts, cells)
            if self.pooling == "partial":
                mu = pm.Normal("mu", mu_loc, p["mu_scale"], dims=pop_dims)
                tau = half_prior("tau", p["tau"], p["tau_scale"])
                mu_b = mu[None, :] if with_cond else mu
                if self.session:
                    tau_s = half_prior("tau_session", p["tau"], p["tau_session_scale"])
                    mu_s = self._session_means(pm, pt, mu, tau_s, model.spikepool_sessions_centered, pop_dims, n_cond)
                    mu_b = mu_s[sess_codes]
                cen, non = np.flatnonzero(centered), np.flatnonzero(~centered)
                if neuron_effect:
                    tau_n = pm.HalfNormal("tau_neuron", p["tau_scale"])
                    # sum to zero: mu_c keeps the level, else mu_c + c and u_i - c form a ridge (slow mixing)
                    effect = pm.ZeroSumNormal("neuron_effect", sigma=tau_n, dims="neuron")
                    mu_b = mu_b + effect[:, None]
                parts, order = [], []
                per_neuron = neuron_effect or self.session is not None
                target = (lambda idx: mu_b[idx]) if per_neuron else (lambda idx: mu_b)
                if cen.size:
                    parts.append(pm.Normal("log_rate_centered", target(cen), tau, shape=(cen.size, *shape[1:])))
                    order.append(cen)
                if non.size:
                    z = pm.Normal("log_rate_offset", 0.0, 1.0, shape=(non.size, *shape[1:]))
                    parts.append(target(non) + tau * z)
                    order.append(non)
                stacked = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
                inverse = np.argsort(np.concatenate(order))
                log_rate = pm.Deterministic("log_rate", stacked[inverse], dims=rate_dims)
            elif self.pooling == "none":
                log_rate = pm.Normal("log_rate", mu_loc, p["rate_scale"], dims=rate_dims)
            else:
                mu = pm.Normal("mu", mu_loc, p["mu_scale"], dims=pop_dims)
                mu_b = mu[None, :] if with_cond else mu
                log_rate = pm.Deterministic("log_rate", pt.ones(shape) * mu_b, dims=rate_dims)
            rate = pm.Deterministic("rate", pt.exp(log_rate), dims=rate_dims)

            flat_rate = rate.reshape((-1,)) if with_cond else rate
            index = cells.neuron * n_cond + cells.condition if with_cond else cells.neuron
            mu_cell = flat_rate[index] * cells.duration
            if self.likelihood == "poisson":
                dist = pm.Poisson.dist(mu=mu_cell)
            else:
                alpha_cell = self._alpha(pm, pt, p, cells, mu_cell)
                dist = pm.NegativeBinomial.dist(mu=mu_cell, alpha=alpha_cell)
            pm.Potential("loglik", (cells.weight * pm.logp(dist, cells.y)).sum())
        model.spikepool_cells = cells
        model.spikepool_centered = centered
        model.spikepool_neuron_effect = neuron_effect
        return model

    def sessions_centered(self, counts: xr.DataArray, cells: Cells | None = None) -> np.ndarray:
        """Boolean (session,): which session means get the centered form (``parameterization``)."""
        names, codes = neuron_sessions(counts, self.session)
        if self.parameterization != "auto":
            return np.full(names.size, self.parameterization == "centered")
        cells = cells if cells is not None else compress(counts, self.condition)
        return choose_centered_sessions(cells, counts.sizes["neuron"], cells.condition_names.size, codes)

    @staticmethod
    def _session_means(pm, pt, mu, tau_s, centered: np.ndarray, pop_dims: tuple, n_cond: int):
        """``mu_session`` (session[, condition]): centered sessions drawn directly, the others as offsets."""
        cen, non = np.flatnonzero(centered), np.flatnonzero(~centered)
        shape = (cen.size, *((n_cond,) if pop_dims else ()))
        parts = []
        if cen.size:
            parts.append(pm.Normal("mu_session_centered", mu, tau_s, shape=shape))
        if non.size:
            z = pm.Normal("mu_session_offset", 0.0, 1.0, shape=(non.size, *shape[1:]))
            parts.append(mu + tau_s * z)
        stacked = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
        inverse = np.argsort(np.concatenate([cen, non]))
        return pm.Deterministic("mu_session", stacked[inverse], dims=("session", *pop_dims))

    def _alpha(self, pm, pt, p, cells: Cells, mu_cell):
        loc, scale = p["log_alpha_loc"], p["log_alpha_scale"]
        if self.dispersion == "neuron":
            log_alpha = pm.Normal("log_alpha", loc, scale, dims="neuron")
            alpha = pm.Deterministic("alpha", pt.exp(log_alpha), dims="neuron")
            return alpha[cells.neuron]
        if self.dispersion == "pooled":
            mu_a = pm.Normal("mu_a", loc, scale)
            tau_a = pm.HalfNormal("tau_a", p["tau_alpha_scale"])
            z = pm.Normal("log_alpha_offset", 0.0, 1.0, dims="neuron")
            alpha = pm.Deterministic("alpha", pt.exp(mu_a + tau_a * z), dims="neuron")
            return alpha[cells.neuron]
        if self.dispersion == "shared":
            log_alpha = pm.Normal("log_alpha", loc, scale)
            return pm.Deterministic("alpha", pt.exp(log_alpha))
        log_eta = pm.Normal("log_eta", p["log_eta_loc"], p["log_eta_scale"])
        eta = pm.Deterministic("eta", pt.exp(log_eta))
        return eta * mu_cell

    def initial_values(self, counts: xr.DataArray, model) -> dict[str, np.ndarray]:
        """Starting values from the closed-form empirical-Bayes fit (``fit_empirical_bayes``).

        Log rates start at the shrunk EB rates, ``mu`` and ``tau`` at the EB population, dispersion at
        the neurons' moment estimates; anything the EB fit cannot give (NaN) is left to PyMC.
        """
        eb = fit_empirical_bayes(counts, condition=self.condition)
        log_rate = np.log(eb["rate"].values)
        mu = np.asarray(eb["mu"].values, dtype=float)
        fill = np.where(np.isfinite(mu), mu, np.nanmean(mu) if np.isfinite(mu).any() else 0.0)
        log_rate = np.where(np.isfinite(log_rate), log_rate, fill)
        tau = float(np.clip(np.nanmean(eb["tau"].values), 0.05, 3.0)) if np.isfinite(eb["tau"].values).any() else 0.5
        log_alpha = np.clip(np.log(eb["alpha"].values), -3.0, 6.0)
        log_alpha = np.where(np.isfinite(log_alpha), log_alpha, self.priors["log_alpha_loc"])
        centered = model.spikepool_centered
        target = np.broadcast_to(fill, log_rate.shape)
        extra = {}
        if self.session:
            names, codes = neuron_sessions(counts, self.session)
            # session means of the EB log rates, and their spread around the population as tau_session
            means = np.stack([log_rate[codes == k].mean(axis=0) for k in range(names.size)])
            tau_s = float(np.clip(np.std(means - fill), 0.05, 2.0)) if names.size > 1 else 0.3
            cen_s = model.spikepool_sessions_centered
            extra = {
                "tau_session": tau_s,
                "mu_session_centered": means[cen_s],
                "mu_session_offset": ((means - fill) / tau_s)[~cen_s],
            }
            target = means[codes]
        candidates = {
            "mu": fill,
            "tau": tau,
            **extra,
            "log_rate": log_rate,
            "log_rate_centered": log_rate[centered],
            "log_rate_offset": (log_rate[~centered] - target[~centered]) / tau,
            "log_alpha": log_alpha if self.dispersion == "neuron" else float(np.median(log_alpha)),
            "mu_a": float(np.median(log_alpha)),
            "tau_a": 0.5,
            "log_alpha_offset": np.clip((log_alpha - np.median(log_alpha)) / 0.5, -3, 3),
        }
        out = {}
        for name, value in candidates.items():
            if name in model.named_vars and model[name] in model.free_RVs:
                value = np.asarray(value, dtype=float)
                if value.shape == tuple(model.initial_point()[_value_name(model, name)].shape) or value.ndim == 0:
                    out[name] = value
        return out

    # ------------------------------------------------------------------ fit
    def _nuts_sampler(self) -> str:
        if self.sampler == "auto":
            return "nutpie" if importlib.util.find_spec("nutpie") else "pymc"
        if self.sampler != "pymc" and importlib.util.find_spec(self.sampler) is None:
            extra = {"nutpie": "fast", "numpyro": "jax"}[self.sampler]
            raise ImportError(f"sampler={self.sampler!r} needs {self.sampler}: pip install 'spikepool[{extra}]'")
        return self.sampler

    def fit(
        self,
        counts: xr.DataArray,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        progressbar: bool = True,
        **sampler_kwargs: Any,
    ):
        """Check, build, sample and return a ``FitResult``.

        Runs ``check_counts`` first and raises ``IdentifiabilityError`` before any sampling when the
        design cannot identify the model; its warnings are issued as ``SpikepoolWarning``. Sampling
        problems (R-hat, ESS, divergences) warn as ``SamplingWarning`` with numbered remedies and are
        recorded on the result (``result.checks``).

        Parameters
        ----------
        counts : xarray.DataArray
            DataArray (neuron, trial[, time]) from ``from_neo`` and friends.
        draws, tune, chains : int
            NUTS settings.
        random_seed : int, optional
            Seed (set it for reproducible fits).
        progressbar : bool
            Show the sampler's progress bar.
        **sampler_kwargs
            Passed to ``pm.sample`` (e.g. ``target_accept``; ``cores`` defaults to one process per chain
            up to the available CPUs).

        Returns
        -------
        spikepool.results.fit.FitResult
        """
        import pymc as pm

        counts = validate_counts(counts)  # CountsError before anything else; whole-number floats as int64
        check_sampler_args(draws, tune, chains, random_seed, sampler_kwargs)
        report = check_counts(counts, dispersion=self.check_dispersion, condition=self.condition, session=self.session)
        report.raise_if_failed()
        effect, why = self.resolve_neuron_effect(counts)
        spec = {**self.spec(), "neuron_effect": effect, "neuron_effect_setting": self.neuron_effect}
        if self.condition is not None:
            spec["neuron_effect_reason"] = why
            report = with_neuron_effect(report, effect, why)
        for problem in report.warnings:
            warnings.warn(problem.text(), SpikepoolWarning, stacklevel=2)
        model = self.build(counts)
        spec["target_accept"] = sparse_target_accept(self.pooling, model.spikepool_centered, sampler_kwargs)
        nuts_sampler = self._nuts_sampler()
        if nuts_sampler == "pymc":
            if "initvals" not in sampler_kwargs:
                sampler_kwargs["initvals"] = self.initial_values(counts, model)
            sampler_kwargs = process_options(chains, sampler_kwargs)
        with model, reproducible_compilation():
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=random_seed,
                progressbar=progressbar,
                nuts_sampler=nuts_sampler,
                compute_convergence_checks=False,
                **sampler_kwargs,
            )
            names = diagnosed_names(idata)
            with warnings.catch_warnings():  # the likelihood Potential is rightly ignored by prior draws
                warnings.filterwarnings("ignore", message=".*Potential.*")
                prior = pm.sample_prior_predictive(draws=1000, random_seed=random_seed, var_names=names)
        idata = add_fit_groups(idata, counts, model.spikepool_cells, spec, prior=prior["prior"].to_dataset())
        post = check_sampling(idata, var_names=names)
        for problem in post.warnings:
            warnings.warn(problem.text(), SamplingWarning, stacklevel=2)
        return FitResult(
            idata=idata,
            counts=counts,
            spec=spec,
            pre_checks=report,
            post_checks=post,
            centered=model.spikepool_centered,
        )


def sparse_target_accept(pooling: str, centered: np.ndarray, sampler_kwargs: dict) -> float | None:
    """NUTS ``target_accept`` for this fit, set in ``sampler_kwargs`` where the caller gave none.

    Partial pooling with any non-centered neuron (data that do not pin the neuron's rate at the low end of
    what tau can be) samples at ``SPARSE_TARGET_ACCEPT``: there the posterior of tau spans a wide range on
    the log scale and no single step size fits all of it (``benchmarks/sbc_negbin.py``, 200 data sets: at
    0.95, 10 fits diverged, 1-10 transitions each, in tau's upper tail next to a strongly over-dispersed
    neuron; at 0.99 none did). Returns the value used, ``None`` for the sampler's default.
    """
    given = sampler_kwargs.get("target_accept", sampler_kwargs.get("nuts", {}).get("target_accept"))
    if given is not None:
        return float(given)
    if pooling == "partial" and not np.all(centered):
        sampler_kwargs["target_accept"] = SPARSE_TARGET_ACCEPT
        return SPARSE_TARGET_ACCEPT
    return None


def _value_name(model, name: str) -> str:
    return model.rvs_to_values[model[name]].name

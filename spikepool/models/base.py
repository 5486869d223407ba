"""``Model``: the contract every spikepool model follows, and the one path from data to a result.

``Model(**options)`` validates and stores its options; ``spec()`` names the model (``spec["model"]``) and its
options (JSON-able, stored with results); ``prepare(*data)`` validates the data once into the object the
other steps take; ``check(*data)`` returns the ``CheckReport`` of the design; ``build(*data)`` returns the
``pm.Model``; ``fit(*data, *, draws, tune, chains, random_seed, progressbar, sampler, **sample_kwargs)`` runs

    sampler settings checked -> data prepared -> design checked (errors raise ``IdentifiabilityError``,
    warnings warn as ``SpikepoolWarning``) -> model built -> NUTS -> the model's ``Result`` -> sampling
    diagnostics (warnings warn as ``SamplingWarning``)

with nothing sampled before every input has been checked. A model supplies ``prepare``, ``_build`` and
``_result``, and where it needs them the hooks ``_check``, ``_fit_spec``, ``_prior_names`` and
``_sample_options``. ``method="laplace"`` (a model that offers a fast path: ``METHODS``) runs the same checks
and then the model's ``_fit_laplace`` in place of NUTS; the spec records ``method``.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any, ClassVar

from spikepool._validate import check_choice
from spikepool.checks.problems import CheckReport
from spikepool.exceptions import ArgumentError, SpikepoolWarning
from spikepool.models.sampling import (
    StageClock,
    check_sampler_args,
    default_draws,
    free_values,
    sample_tree,
    warn_problems,
)
from spikepool.results.base import Result

__all__ = ["METHODS", "SAMPLERS", "Model", "resolve_sampler"]

SAMPLERS = ("auto", "pymc", "nutpie", "numpyro")
#: How ``fit`` computes the posterior: NUTS, or a model's fast path (``HierarchicalNegBinom``'s nested Laplace).
METHODS = ("nuts", "laplace")
_EXTRAS = {"nutpie": "fast", "numpyro": "jax"}


def resolve_sampler(sampler: str) -> str:
    """The NUTS implementation to run: ``"auto"`` is nutpie when installed, else PyMC's own.

    Raises ``ImportError`` naming the extra to install when the one asked for is missing.
    """
    check_choice("sampler", sampler, SAMPLERS)
    if sampler == "auto":
        return "nutpie" if importlib.util.find_spec("nutpie") else "pymc"
    if sampler != "pymc" and importlib.util.find_spec(sampler) is None:
        raise ImportError(f"sampler={sampler!r} needs {sampler}: pip install 'spikepool[{_EXTRAS[sampler]}]'")
    return sampler


class Model:
    """Base of every spikepool model (see the module docstring for the contract)."""

    #: The model's name, stored as ``spec["model"]`` (``load_result`` picks the result class by it).
    MODEL: ClassVar[str] = ""
    #: The NUTS implementation ``fit`` uses when its ``sampler`` is None (a model may make it an option).
    sampler: str = "pymc"

    # ------------------------------------------------------------------ what a model supplies
    def spec(self) -> dict[str, Any]:
        """The model's name and arguments (JSON-able), as stored with results."""
        raise NotImplementedError

    def prepare(self, *data: Any) -> Any:
        """The data validated once, in the form ``check``, ``build`` and ``fit`` take."""
        raise NotImplementedError

    def _build(self, data: Any):
        raise NotImplementedError

    def _result(self, tree, data: Any, model, spec: dict, report: CheckReport, random_seed) -> Result:
        raise NotImplementedError

    def _check(self, data: Any) -> CheckReport:
        """The design checks of prepared data (default: the inputs' validation in ``prepare`` is all there is)."""
        return CheckReport(f"{self.MODEL} inputs", [], checked=("inputs",))

    def _fit_spec(self, data: Any, report: CheckReport) -> tuple[dict, CheckReport]:
        """The spec stored with the fit's result, and the pre-fit report (a model may add what it decided)."""
        return self.spec(), report

    def _prior_names(self, data: Any, model) -> list[str]:
        """Variables drawn from the prior after sampling (for the contraction check)."""
        return []

    def _sample_options(self, data: Any, model, sampler: str, spec: dict, kwargs: dict) -> dict:
        """``pm.sample`` keywords of this fit (default: the caller's)."""
        return kwargs

    def _check_sampler(self, sampler: str) -> None:
        """Refuse, before anything is prepared, a sampler this model cannot run (default: any will do)."""

    def _check_laplace(self) -> None:
        """Refuse ``method="laplace"`` before anything is prepared (default: the model has no fast path)."""
        raise ArgumentError(
            f"method must be 'nuts' for {type(self).__name__}; got 'laplace' (the fast path is "
            "HierarchicalNegBinom's). Hint: method='nuts'."
        )

    def _fit_laplace(self, data: Any, spec: dict, report: CheckReport, *, draws: int, chains: int, random_seed,
                     clock: StageClock) -> Result:  # fmt: skip
        raise NotImplementedError

    # ------------------------------------------------------------------ the contract
    def check(self, *data: Any) -> CheckReport:
        """The ``CheckReport`` of the design: what the data can identify, before anything is sampled."""
        return self._check(self.prepare(*data))

    def build(self, *data: Any):
        """The ``pm.Model`` of the data, for power users (``fit`` builds it the same way)."""
        return self._build(self.prepare(*data))

    def fit(
        self,
        *data: Any,
        draws: int | None = None,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        progressbar: bool = True,
        sampler: str | None = None,
        method: str = "nuts",
        **sample_kwargs: Any,
    ) -> Result:
        """Check, build, sample and return the model's result.

        Parameters
        ----------
        *data
            What the model fits (``prepare`` says: counts, estimates and standard errors, ...).
        draws : int, optional
            Kept draws per chain. None: 1,000, or more for models with so many values that R-hat's noise
            floor over them would pass 1.01 (``spikepool.models.sampling.default_draws``: 2,500 on 2 chains of
            the 10,009 values of 1,000 units x 8 conditions); with ``method="laplace"``, 1,000.
        tune, chains : int
            NUTS settings: warm-up iterations per chain, and the number of chains.
        random_seed : int, optional
            Seed (set it for reproducible fits).
        progressbar : bool
            Show the sampler's progress bar.
        sampler : {"auto", "pymc", "nutpie", "numpyro"}, optional
            The NUTS implementation; None takes the model's (``self.sampler``).
        method : {"nuts", "laplace"}
            ``"nuts"`` samples the posterior; ``"laplace"`` is a model's fast path where it has one
            (``HierarchicalNegBinom``: a nested Laplace approximation, ``spikepool.models.laplace``, with
            ``draws x chains`` independent draws; ``tune``, ``sampler`` and sampler keywords do not apply).
        **sample_kwargs
            Passed to ``pm.sample`` (e.g. ``target_accept``); ``cores`` defaults to one process per chain up to
            the available CPUs.

        Returns
        -------
        Result
            The model's result class (``FitResult``, ``NormalNormalResult``, ...).
        """
        check_sampler_args(draws, tune, chains, random_seed, sample_kwargs)
        method = check_choice("method", method, METHODS)
        if method == "laplace":
            self._check_laplace()
            if sample_kwargs:
                raise ArgumentError(
                    f"sampler keywords apply to method='nuts'; got {sorted(sample_kwargs)} with method='laplace'. "
                    "Hint: drop them, or use method='nuts'."
                )
        else:
            nuts = resolve_sampler(self.sampler if sampler is None else sampler)
            self._check_sampler(nuts)
        clock = StageClock()
        with clock("prepare"):
            prepared = self.prepare(*data)
        with clock("checks"):
            report = self._check(prepared)
        report.raise_if_failed()
        spec, report = self._fit_spec(prepared, report)
        spec["method"] = method
        for problem in report.warnings:
            warnings.warn(problem.text(), SpikepoolWarning, stacklevel=2)
        if method == "laplace":
            result = self._fit_laplace(
                prepared, spec, report, draws=draws or 1000, chains=chains, random_seed=random_seed, clock=clock
            )
            result.idata.attrs["spikepool_timings"] = clock.json()
            warn_problems(result.post_checks)
            return result
        with clock("build"):
            model = self._build(prepared)
            kwargs = self._sample_options(prepared, model, nuts, spec, dict(sample_kwargs))
            if draws is None:
                draws = default_draws(free_values(model), chains)
        tree = sample_tree(
            model,
            spec=spec,
            prior_names=self._prior_names(prepared, model),
            sampler=nuts,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            sample_kwargs=kwargs,
            clock=clock,
        )
        with clock("result"):
            result = self._result(tree, prepared, model, spec, report, random_seed)
        result.idata.attrs["spikepool_timings"] = clock.json()
        warn_problems(result.post_checks)
        return result

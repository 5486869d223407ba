"""``Problem`` and ``CheckReport``: what the checks found, printable, tabular and raisable."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import xarray as xr

from spikepool.exceptions import IdentifiabilityError

__all__ = ["CheckReport", "Problem", "labels_of"]

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}


def labels_of(names: np.ndarray, mask: np.ndarray) -> tuple[str, ...]:
    """The labels of ``names`` where ``mask`` is True, as str (for a ``Problem``'s neurons or conditions)."""
    return tuple(str(x) for x in names[mask])


@dataclass(frozen=True)
class Problem:
    """One finding of a check.

    Attributes
    ----------
    code : str
        Stable identifier of the check (e.g. ``"variance_components"``), for programs and docs.
    severity : {"error", "warning", "info"}
        ``"error"`` makes ``CheckReport.ok`` False and ``raise_if_failed`` raise.
    message : str
        What was found, with the figures.
    remedy : str
        What to change.
    neurons, conditions, trials : tuple
        The neurons, conditions and trials concerned (empty when the finding is global).
    parameters : tuple of str
        Model parameters concerned (post-fit checks), e.g. ``"tau"`` or ``"alpha[neuron=u3]"``.

    Examples
    --------
    >>> import spikepool as sp
    >>> report = sp.check_counts(sp.from_array([[3, 5, 4, 6], [0, 0, 0, 0]], duration=0.5), dispersion="shared")
    >>> problem = report.find("silent_neuron")[0]
    >>> problem.severity, problem.neurons
    ('warning', ('1',))
    >>> sp.Problem("few_trials", "info", "neuron u2 has 2 trials.", "record more.").text()
    '[info] few_trials: neuron u2 has 2 trials. Remedy: record more.'
    """

    code: str
    severity: Severity
    message: str
    remedy: str = ""
    neurons: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    trials: tuple[int, ...] = ()
    parameters: tuple[str, ...] = ()

    def text(self) -> str:
        """One paragraph: ``[severity] code: message Remedy: remedy``."""
        out = f"[{self.severity}] {self.code}: {self.message}"
        return f"{out} Remedy: {self.remedy}" if self.remedy else out


def _short(items: tuple, limit: int = 6) -> str:
    shown = ", ".join(str(x) for x in items[:limit])
    return shown + (f", ... ({len(items)})" if len(items) > limit else "")


@dataclass
class CheckReport:
    """The findings of a set of checks.

    Attributes
    ----------
    title : str
        What was checked.
    problems : list of Problem
        Findings, errors first.
    checked : tuple of str
        Codes of every check that ran (those without a problem passed).
    summary : xarray.Dataset, optional
        Per-neuron figures the checks computed (trials, spikes, Fano factor with interval, ...).

    Examples
    --------
    >>> import spikepool as sp
    >>> problems = [sp.Problem("few_trials", "info", "2 trials."), sp.Problem("no_spikes", "error", "0 spikes.")]
    >>> report = sp.CheckReport("my checks", problems, checked=("few_trials", "no_spikes", "units"))
    >>> report.ok, [p.code for p in report.problems], report.passed
    (False, ['no_spikes', 'few_trials'], ('units',))
    >>> report.raise_if_failed()
    Traceback (most recent call last):
    ...
    spikepool.exceptions.IdentifiabilityError: my checks: 1 error(s) make this fit unidentifiable or invalid:
      1. [error] no_spikes: 0 spikes.
      2. [info] few_trials: 2 trials.
    """

    title: str
    problems: list[Problem] = field(default_factory=list)
    checked: tuple[str, ...] = ()
    summary: xr.Dataset | None = None

    def __post_init__(self) -> None:
        self.problems = sorted(self.problems, key=lambda p: _ORDER[p.severity])

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def passed(self) -> tuple[str, ...]:
        """Codes of the checks that ran and found nothing."""
        found = {p.code for p in self.problems}
        return tuple(c for c in self.checked if c not in found)

    def find(self, code: str) -> list[Problem]:
        """The problems with ``code``."""
        return [p for p in self.problems if p.code == code]

    def to_dataframe(self):
        """One row per problem: code, severity, neurons, conditions, trials, parameters, message, remedy."""
        import pandas as pd

        columns = ["code", "severity", "neurons", "conditions", "trials", "parameters", "message", "remedy"]
        rows = [
            {
                "code": p.code,
                "severity": p.severity,
                "neurons": list(p.neurons),
                "conditions": list(p.conditions),
                "trials": list(p.trials),
                "parameters": list(p.parameters),
                "message": p.message,
                "remedy": p.remedy,
            }
            for p in self.problems
        ]
        return pd.DataFrame(rows, columns=columns)

    def raise_if_failed(self) -> CheckReport:
        """Raise ``IdentifiabilityError`` listing every problem if any is an error; else return self."""
        if self.errors:
            listing = "\n".join(f"  {i}. {p.text()}" for i, p in enumerate(self.problems, 1))
            raise IdentifiabilityError(
                f"{self.title}: {len(self.errors)} error(s) make this fit unidentifiable or invalid:\n{listing}"
            )
        return self

    def __str__(self) -> str:
        n_err, n_warn = len(self.errors), len(self.warnings)
        status = "OK" if self.ok else "FAILED"
        lines = [f"{self.title}: {status} ({n_err} error(s), {n_warn} warning(s))"]
        width = 100
        for p in self.problems:
            where = " ".join(
                f"{label} {_short(items)};"
                for label, items in (
                    ("neurons", p.neurons),
                    ("conditions", p.conditions),
                    ("trials", p.trials),
                )
                if items
            )
            lines.append(f"- {p.severity.upper():7} {p.code}" + (f"  [{where.rstrip(';')}]" if where else ""))
            lines.extend(textwrap.wrap(p.message, width, initial_indent="    ", subsequent_indent="    "))
            if p.remedy:
                lines.extend(
                    textwrap.wrap("Remedy: " + p.remedy, width, initial_indent="    ", subsequent_indent="    ")
                )
        if self.passed:
            lines.append("passed: " + ", ".join(self.passed))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {"error": "#b00020", "warning": "#b26a00", "info": "#555"}
        cell = "style='text-align:left;vertical-align:top;padding:3px 7px;border:1px solid #ddd'"

        def concerned(p: Problem) -> str:
            items = (
                ("neurons", p.neurons),
                ("conditions", p.conditions),
                ("trials", p.trials),
                ("parameters", p.parameters),
            )
            return "<br>".join(f"{label}: {html.escape(_short(v))}" for label, v in items if v)

        rows = "".join(
            f"<tr><td {cell}><span style='color:{colour[p.severity]}'>{p.severity}</span></td>"
            f"<td {cell}><code>{p.code}</code></td><td {cell}>{concerned(p)}</td>"
            f"<td {cell}>{html.escape(p.message)}</td><td {cell}>{html.escape(p.remedy)}</td></tr>"
            for p in self.problems
        )
        status = "OK" if self.ok else "FAILED"
        passed = f"<p>passed: {', '.join(self.passed)}</p>" if self.passed else ""
        head = "".join(f"<th {cell}>{h}</th>" for h in ("severity", "code", "concerns", "finding", "remedy"))
        table = f"<table style='border-collapse:collapse'><tr>{head}</tr>{rows}</table>" if self.problems else ""
        return f"<div><b>{html.escape(self.title)}: {status}</b>{table}{passed}</div>"

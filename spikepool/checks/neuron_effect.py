"""The ``neuron_effect`` finding: whether crossed neuron x condition effects are identified, and why."""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool.checks.problems import CheckReport, Problem
from spikepool.counts.schema import valid_mask

__all__ = ["neuron_effect_choice", "with_neuron_effect"]


def neuron_effect_choice(
    counts: xr.DataArray, setting: bool | str, condition: str | None, pooling: str, session: str | None
) -> tuple[bool, str]:
    """Whether a ``HierarchicalNegBinom`` fit of ``counts`` gets crossed neuron x condition effects, and why.

    ``setting`` is the model's ``neuron_effect`` (True, False or "auto"); "auto" turns them on when
    conditions are modelled with partial pooling, without a session level, and at least two neurons have
    valid trials in two or more conditions (so each neuron's own level, and their spread ``tau_neuron``,
    are identified).
    """
    if isinstance(setting, bool):
        return setting, f"set by neuron_effect={setting}"
    if condition is None:
        return False, "no conditions are modelled (condition=None), so there is no neuron x condition crossing"
    if pooling != "partial":
        return False, f"pooling={pooling!r} has no population level to cross with"
    if session:
        return False, (
            "with session= a neuron's level would trade off against its session's means (the neuron "
            "effects sum to zero over all neurons, not within each session): a ridge that mixes slowly"
        )
    valid = valid_mask(counts)
    labels = counts[condition].values
    conditions = np.unique(labels)
    seen = np.stack([valid[:, labels == c].any(axis=1) for c in conditions], axis=1).sum(axis=1)
    crossed = int((seen >= 2).sum())
    if crossed >= 2:
        return True, (
            f"{crossed} of {seen.size} neurons have valid trials in 2 or more of the {conditions.size} "
            f"{condition!r} values, so each neuron's own level (tau_neuron) is identified"
        )
    return False, (
        f"{crossed} neuron(s) have valid trials in two or more {condition!r} values; a between-neuron "
        "scale of neuron levels (tau_neuron) needs at least two"
    )


def with_neuron_effect(report: CheckReport, effect: bool, why: str) -> CheckReport:
    """``report`` with the ``neuron_effect`` finding (info): crossed effects on or off, and why."""
    problem = Problem(
        "neuron_effect",
        "info",
        f"crossed neuron x condition effects are {'on' if effect else 'off'}: {why}.",
        "neuron_effect=True or False (CLI: --neuron-effect on|off) forces the choice." if "set by" not in why else "",
    )
    return CheckReport(
        report.title, [*report.problems, problem], checked=(*report.checked, "neuron_effect"), summary=report.summary
    )

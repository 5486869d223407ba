"""Counts prepared once for a ``HierarchicalNegBinom`` fit: validated, compressed to cells, with the session codes
and the neuron-effect decision, so that checking, building, starting and the result all take the same object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from spikepool.checks.neuron_effect import neuron_effect_choice
from spikepool.counts.schema import validate_counts
from spikepool.counts.sessions import neuron_sessions
from spikepool.exceptions import ArgumentError
from spikepool.stats.cells import Cells, compress

__all__ = ["CountsData", "prepare_counts"]


@dataclass(frozen=True)
class CountsData:
    """Validated counts and what every step of a fit derives from them.

    Attributes
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) after ``validate_counts`` (whole-number floats cast to int64).
    cells : Cells
        The sufficient-statistic cells of the valid trials (``spikepool.stats.cells.compress``).
    neuron_effect : bool
        Whether the fit has crossed neuron x condition effects.
    neuron_effect_reason : str
        Why (``spikepool.checks.neuron_effect.neuron_effect_choice``).
    sessions : tuple of numpy.ndarray or None
        ``(names, codes)`` of the neurons' sessions (``neuron_sessions``) when the model has a session level.
    """

    counts: xr.DataArray
    cells: Cells
    neuron_effect: bool
    neuron_effect_reason: str
    sessions: tuple[np.ndarray, np.ndarray] | None

    @property
    def n_neuron(self) -> int:
        return int(self.counts.sizes["neuron"])

    @property
    def n_condition(self) -> int:
        return int(self.cells.condition_names.size)


def prepare_counts(
    counts: xr.DataArray, *, condition: str | None, session: str | None, pooling: str, neuron_effect: bool | str
) -> CountsData:
    """Validate ``counts`` once and derive the cells, the session codes and the neuron-effect decision.

    Raises ``CountsError`` for counts that break the schema and ``ArgumentError`` when ``condition`` or
    ``session`` names no coordinate of the counts.
    """
    counts = validate_counts(counts)
    if condition is not None and condition not in counts.coords:
        raise ArgumentError(f"condition must name a trial coordinate; got {condition!r}, coords {list(counts.coords)}.")
    effect, why = neuron_effect_choice(counts, neuron_effect, condition, pooling, session)
    return CountsData(
        counts=counts,
        cells=compress(counts, condition),
        neuron_effect=effect,
        neuron_effect_reason=why,
        sessions=neuron_sessions(counts, session) if session else None,
    )

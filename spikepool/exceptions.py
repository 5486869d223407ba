"""Exceptions and warnings raised by spikepool.

Every error names the input, what was expected and what was got, and ends with a hint.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "CountsError",
    "DatasetError",
    "FormulaError",
    "IdentifiabilityError",
    "NeuronKeyError",
    "SpikepoolError",
    "SamplingWarning",
    "SpikepoolWarning",
    "SourceError",
    "UnitsError",
    "WindowError",
]


class SpikepoolError(ValueError):
    """Base class of every error spikepool raises for bad input (a ``ValueError``).

    Anything else that escapes spikepool is a bug: the command line reports it as an internal error.
    """


class ArgumentError(SpikepoolError):
    """An argument has a value spikepool cannot use: outside its range, not one of its choices, not a name
    the data hold (a ``ValueError``)."""


class ArgumentTypeError(SpikepoolError, TypeError):
    """An argument is of the wrong type (a ``TypeError``, and a ``SpikepoolError`` like every input error)."""


class CountsError(SpikepoolError):
    """A counts array breaks the schema (dims, dtype, sign, coords); see ``validate_counts``."""


class WindowError(SpikepoolError):
    """A counting window or bin size is impossible (stop <= start, bins that do not divide it)."""


class UnitsError(SpikepoolError):
    """A time value has no units or units that cannot be converted to seconds."""


class NeuronKeyError(SpikepoolError):
    """Neurons cannot be matched across trials: key missing, ambiguous or duplicated."""


class SourceError(SpikepoolError):
    """A recording source is empty, of the wrong kind, or unreadable."""


class DatasetError(SpikepoolError):
    """A registered dataset is unknown, missing, or fails its checksum."""


class FormulaError(ArgumentError):
    """A model formula cannot be used on the counts: it does not parse, its response is not the counts, it names
    no coordinate, or its coordinates miss values."""


class IdentifiabilityError(SpikepoolError):
    """The design cannot identify the model that was asked for."""


class SpikepoolWarning(UserWarning):
    """Warnings issued by spikepool (errors in spikepool's own test run)."""


class SamplingWarning(SpikepoolWarning):
    """The sampler's output needs care (R-hat, ESS, divergences); remedies are numbered in the message."""

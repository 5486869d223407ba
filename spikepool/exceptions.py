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

    Examples
    --------
    >>> import spikepool as sp
    >>> try:
    ...     sp.from_array([[1, -2]], duration=1.0)
    ... except sp.SpikepoolError as err:
    ...     print(type(err).__name__, isinstance(err, ValueError))
    CountsError True
    """


class ArgumentError(SpikepoolError):
    """An argument has a value spikepool cannot use: outside its range, not one of its choices, not a name
    the data hold (a ``ValueError``).

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.HierarchicalNegBinom(pooling="parital")
    Traceback (most recent call last):
    ...
    spikepool.exceptions.ArgumentError: pooling must be one of ('partial', 'none', 'complete'); got 'parital'. ...
    """


class ArgumentTypeError(SpikepoolError, TypeError):
    """An argument is of the wrong type (a ``TypeError``, and a ``SpikepoolError`` like every input error).

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.validate_counts([[1, 2]])
    Traceback (most recent call last):
    ...
    spikepool.exceptions.ArgumentTypeError: counts must be an xarray.DataArray; got list. Hint: ...
    """


class CountsError(SpikepoolError):
    """A counts array breaks the schema (dims, dtype, sign, coords); see ``validate_counts``.

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.from_array([[1, -2]], duration=1.0)
    Traceback (most recent call last):
    ...
    spikepool.exceptions.CountsError: counts must be non-negative integers; neuron '0', trial 1 holds -2. ...
    """


class WindowError(SpikepoolError):
    """A counting window or bin size is impossible (stop <= start, bins that do not divide it).

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.from_spike_times({"u1": [0.1, 0.7]}, [0.0], window=(0.5, 0.0))
    Traceback (most recent call last):
    ...
    spikepool.exceptions.WindowError: window must have stop > start; got start=0.5 s, stop=0.0 s. Hint: ...
    """


class UnitsError(SpikepoolError):
    """A time value has no units or units that cannot be converted to seconds.

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.from_spike_times({"u1": [0.1, 0.7]}, [0.0], window=(0.0, 0.5), units="kg")
    Traceback (most recent call last):
    ...
    spikepool.exceptions.UnitsError: spike_times['u1'] must be in units of time such as 's' or 'ms'; got units 'kg', ...
    """


class NeuronKeyError(SpikepoolError):
    """Neurons cannot be matched across trials: key missing, ambiguous or duplicated.

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.from_spike_times({1: [0.1], "1": [0.2]}, [0.0], window=(0.0, 0.5))
    Traceback (most recent call last):
    ...
    spikepool.exceptions.NeuronKeyError: neuron ids must be unique as strings; got [1, '1']. Hint: ...
    """


class SourceError(SpikepoolError):
    """A recording source is empty, of the wrong kind, or unreadable.

    Examples
    --------
    >>> import neo
    >>> import spikepool as sp
    >>> sp.from_neo(neo.Block())
    Traceback (most recent call last):
    ...
    spikepool.exceptions.SourceError: source must hold at least one segment; got a neo.Block with none. ...
    """


class DatasetError(SpikepoolError):
    """A registered dataset is unknown, missing, or fails its checksum.

    Examples
    --------
    >>> import spikepool as sp
    >>> sp.datasets.citation("locust2001214")
    Traceback (most recent call last):
    ...
    spikepool.exceptions.DatasetError: name must be a registered dataset; got 'locust2001214'. Did you mean ...
    """


class FormulaError(ArgumentError):
    """A model formula cannot be used on the counts: it does not parse, its response is not the counts, it names
    no coordinate, or its coordinates miss values.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_array([[1, 2], [3, 4]], duration=1.0)
    >>> sp.HierarchicalGLM("counts ~ 1 + stimulus").build(counts)
    Traceback (most recent call last):
    ...
    spikepool.exceptions.FormulaError: formula 'counts ~ 1 + stimulus' must name coordinates of the counts; ...
    """


class IdentifiabilityError(SpikepoolError):
    """The design cannot identify the model that was asked for.

    Examples
    --------
    One response per neuron cannot separate the between-neuron from the trial-to-trial variance:

    >>> import spikepool as sp
    >>> sp.check_responses([[1.0], [2.0], [4.0]]).raise_if_failed()
    Traceback (most recent call last):
    ...
    spikepool.exceptions.IdentifiabilityError: check_responses: 1 error(s) make this fit unidentifiable ...
    """


class SpikepoolWarning(UserWarning):
    """Warnings issued by spikepool (errors in spikepool's own test run).

    Examples
    --------
    Trial windows that overlap count some spikes twice:

    >>> import warnings
    >>> import spikepool as sp
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", sp.SpikepoolWarning)
    ...     counts = sp.from_spike_times({"u1": [0.1, 0.3]}, [0.0, 0.2], window=(0.0, 0.5))
    >>> [w.category.__name__ for w in caught], int(counts.attrs["spikes_recounted"])
    (['SpikepoolWarning'], 1)
    """


class SamplingWarning(SpikepoolWarning):
    """The sampler's output needs care (R-hat, ESS, divergences); remedies are numbered in the message.

    Examples
    --------
    A Laplace fit of neurons with no spread between them (tau = 0), where no Gaussian follows the posterior:

    >>> import warnings
    >>> import spikepool as sp
    >>> counts, _ = sp.simulate_counts(4, 6, mu=1.5, tau=0.0, alpha=None, seed=1)
    >>> model = sp.HierarchicalNegBinom(likelihood="poisson")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", sp.SpikepoolWarning)
    ...     fit = model.fit(counts, method="laplace", draws=100, chains=1, random_seed=0)
    >>> [(w.category.__name__, str(w.message).split(":")[0]) for w in caught]
    [('SamplingWarning', '[warning] laplace_hyper')]
    """

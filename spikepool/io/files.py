"""Any file Neo can read (or an NWB file) to spike counts: ``load``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from spikepool.exceptions import ArgumentTypeError, SourceError
from spikepool.io.neo import from_neo
from spikepool.io.nwb import from_nwb

__all__ = ["load"]


def read_block(path: str | os.PathLike) -> Any:
    """Read a whole ``neo.Block`` from ``path`` with the reader ``neo.io.get_io`` picks."""
    import neo

    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "which does not exist"
        raise FileNotFoundError(f"path must be an existing recording file; got {str(path)!r}, {what}.")
    try:
        reader = neo.io.get_io(str(path))
    except Exception as err:  # neo raises IOError for unknown extensions
        raise SourceError(
            f"path must be a file format neo.io can read; got {str(path)!r} (extension {path.suffix!r}): "
            f"{err}. Hint: neo.io.iolist lists the formats; plain arrays go through from_spike_times()."
        ) from err
    try:
        block = reader.read_block(lazy=False)
    except ImportError:
        raise
    except Exception as err:
        raise SourceError(
            f"path must be a readable {type(reader).__name__} file; got {str(path)!r}, which failed to "
            f"read: {type(err).__name__}: {err}. Hint: is the file truncated or of another format?"
        ) from err
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()
    return block


def load(path: str | os.PathLike, **kwargs: Any) -> xr.DataArray:
    """Load spike counts from any file ``neo.io.get_io`` can read, or an NWB file.

    Parameters
    ----------
    path : str or path-like
        Recording file (e.g. ``.nix``, ``.plx``, ``.nev``, ``.smr``, ``.nwb``).
    **kwargs
        Passed to ``from_neo`` (``window``, ``align``, ``bin_size``, ``neuron_key``,
        ``condition_key``), or to ``from_nwb`` for ``.nwb`` files.

    Returns
    -------
    xarray.DataArray
        int64 counts (neuron, trial) or, with ``bin_size``, (neuron, trial, time), in the schema of
        ``from_neo`` (trial coords ``condition``, ``duration``, ``t_start``, ``t_stop``, ``event_time``, ...;
        ``valid`` (neuron, trial); neuron coords ``spikes_outside``, ...) or ``from_nwb``; ``attrs["source"]``
        is the file path.

    Raises
    ------
    ArgumentTypeError
        ``path`` is not a str or path-like; as in ``from_neo`` / ``from_nwb`` (``window`` a single number,
        ``window`` or ``bin_size`` not numeric, ...).
    FileNotFoundError
        ``path`` is not an existing file.
    SourceError
        ``neo.io`` has no reader for the file that it can open (also when the reader's package, e.g. nixio
        for ``.nix``, is missing), or the reader fails on it (truncated, another format); an ``.nwb`` file
        cannot be read as NWB; and as in ``from_neo`` / ``from_nwb`` (no segment or spike train, ``align``
        matching no event, no units or trials table, ...).
    ImportError
        pynwb is not installed (``.nwb``), or a ``neo.io`` reader needs a missing package while reading.
    NeuronKeyError, WindowError, UnitsError
        As in ``from_neo`` / ``from_nwb``: neurons that cannot be matched across trials; a window outside
        the recording or ``bin_size`` that does not divide it; times in units other than time.

    Examples
    --------
    A one-trial recording written to a NIX file (the ``nix`` extra), then loaded:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import neo, quantities as pq
    >>> from neo.io import NixIO
    >>> segment = neo.Segment()
    >>> segment.spiketrains.append(neo.SpikeTrain([0.1, 0.2, 0.7] * pq.s, t_stop=1.0, name="u1"))
    >>> block = neo.Block()
    >>> block.segments.append(segment)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with NixIO(str(Path(folder) / "session.nix"), mode="ow") as io:
    ...         io.write_block(block)
    ...     counts = load(Path(folder) / "session.nix", window=(0.0, 0.5))
    >>> counts.sel(neuron="u1").values.tolist(), Path(counts.attrs["source"]).name
    ([2], 'session.nix')
    """
    if not isinstance(path, str | os.PathLike):
        raise ArgumentTypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    path = Path(path)
    if path.suffix.lower() == ".nwb":
        return from_nwb(path, **kwargs)
    counts = from_neo(read_block(path), **kwargs)
    counts.attrs["source"] = str(path)
    return counts

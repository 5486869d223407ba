"""Any file Neo can read (or an NWB file) to spike counts: ``load``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from spikepool.exceptions import SourceError
from spikepool.io.neo import from_neo
from spikepool.io.nwb import from_nwb

__all__ = ["load"]


def read_block(path: str | os.PathLike) -> Any:
    """Read a whole ``neo.Block`` from ``path`` with the reader ``neo.io.get_io`` picks."""
    import neo

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing recording file; got {str(path)!r}, which does not exist.")
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
        Counts (neuron, trial[, time]) with ``attrs["source"]`` set to the file path.
    """
    path = Path(path)
    if path.suffix.lower() == ".nwb":
        return from_nwb(path, **kwargs)
    counts = from_neo(read_block(path), **kwargs)
    counts.attrs["source"] = str(path)
    return counts

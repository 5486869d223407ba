"""Result files: the DataTree of a fit with its model spec and parameterisation, written to and read from
netCDF (``write_tree`` / ``read_tree``; ``spikepool.results.load.load_result`` opens any model's file)."""

from __future__ import annotations

import json
import os

import numpy as np
import xarray as xr

from spikepool.exceptions import SourceError

__all__ = ["read_tree", "write_tree"]

#: Variables smaller than this (bytes) are stored plain: a compressed (chunked) HDF5 variable costs about
#: 2 KB more of index than a plain one, more than compression saves on a few hundred values.
SMALL = 4096
#: zlib level of the stored variables (with HDF5's byte shuffle, which groups the bytes of the floats): the
#: highest; the float64 draws, whose mantissas are noise, take 6.6 of their 8 bytes at any level.
COMPLEVEL = 9


def write_tree(idata: xr.DataTree, path: str | os.PathLike, spec: dict, centered: np.ndarray) -> None:
    """Write ``idata`` to netCDF with the model ``spec`` and the per-unit ``centered`` flags as attributes.

    Numeric variables and coordinates of at least ``SMALL`` bytes are stored byte-shuffled and zlib-compressed
    (lossless: the values read back are identical).
    """
    tree = idata.copy()
    tree.attrs = {
        **tree.attrs,
        "spikepool_spec": json.dumps(spec),
        "spikepool_centered": json.dumps([bool(x) for x in centered]),
    }
    encoding = {}
    for node in tree.subtree:
        numeric = {
            name: {"zlib": True, "complevel": COMPLEVEL, "shuffle": True}
            for name, var in node.dataset.variables.items()
            if var.dtype.kind in "biuf" and var.nbytes >= SMALL
        }
        if numeric:
            encoding[node.path] = numeric
    tree.to_netcdf(path, encoding=encoding)


def read_tree(path: str | os.PathLike) -> tuple[xr.DataTree, dict, np.ndarray]:
    """Read a tree written by ``write_tree``: ``(tree, spec, centered)``, the tree loaded and the file closed.

    Raises ``FileNotFoundError`` for a missing file and ``SourceError`` for a file that is not a spikepool
    result (unreadable, truncated, or a counts file, which ``open_counts`` reads).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path must be an existing result file (from result.to_netcdf); got {str(path)!r}.")
    try:
        tree = xr.open_datatree(path).load()
    except Exception as err:  # netCDF4 / h5py raise OSError, ValueError or KeyError for damaged files
        raise SourceError(
            f"path must be a netCDF file written by result.to_netcdf; could not read {str(path)!r}: "
            f"{type(err).__name__}: {err}. Hint: the file may be truncated or not netCDF at all."
        ) from err
    tree.close()
    if "spikepool_spec" not in tree.attrs:
        counts_file = "counts" in tree.to_dataset().data_vars and "neuron" in tree.to_dataset().dims
        hint = (
            "this is a counts file: read it with sp.open_counts(path)."
            if counts_file
            else "write results with result.to_netcdf(path)."
        )
        raise SourceError(
            f"path must hold a spikepool result (attribute 'spikepool_spec'); got {str(path)!r} without one. "
            f"Hint: {hint}"
        )
    try:
        spec = json.loads(tree.attrs["spikepool_spec"])
        centered = np.array(json.loads(tree.attrs.get("spikepool_centered", "[]")), dtype=bool)
    except (TypeError, ValueError) as err:
        raise SourceError(
            f"the result file {str(path)!r} must store its model as JSON; got unreadable JSON: {err}."
        ) from err
    return tree, spec, centered

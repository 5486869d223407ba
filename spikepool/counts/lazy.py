"""Lazy, Dask-backed counts of many sessions: ``open_sessions``.

``open_sessions`` gives the same array as ``concat_sessions`` (same coords, ``valid`` mask and attrs), but
its values are a ``dask.array``: each session is read and counted inside a Dask task, so the sessions are
counted in parallel by whatever scheduler ``dask.compute`` picks (an active ``dask.distributed`` Client and
its worker processes, else Dask's default), and a session's spike times only ever live in the worker that
counts it. Nothing here creates a cluster.

Two passes over the sessions:

1. ``open_sessions`` itself computes one small *layout* per session (neuron and trial labels, ``condition``,
   ``duration``, ``valid``, the other coords and attrs, dtype and shape; never spike times or counts) and
   builds the coords with ``concat_sessions`` on zero stand-ins, so they cannot drift from the eager path.
2. The values are one ``dask.array.from_delayed`` block per session on the diagonal, lazy zeros elsewhere;
   each block reads and counts its session again, only when the values are computed.

Needs the ``dask`` extra: ``pip install 'spikepool[dask]'`` (``distributed`` for a cluster).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import spikepool.datasets as datasets
from spikepool._validate import did_you_mean
from spikepool.counts.schema import BINNED_DIMS, validate_counts
from spikepool.counts.sessions import check_alike, concat_sessions, load_session, session_ids_of, session_list
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SourceError

__all__ = ["open_sessions"]


def _import_dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.array as da
    except ImportError as err:
        raise ImportError(
            "open_sessions needs dask: pip install 'spikepool[dask]' (it also installs distributed)."
        ) from err
    return dask, da


def _read(source: str | os.PathLike, sid: str, load_kwargs: dict[str, Any]) -> xr.DataArray:
    """Read and count one session (runs inside a Dask task); errors are annotated with the session."""
    try:
        return validate_counts(load_session(source, **load_kwargs))
    except Exception as err:
        err.add_note(f"open_sessions: while counting session {sid!r} from {os.fspath(source)!r}.")
        raise


def _layout(source: str | os.PathLike, sid: str, load_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Everything about one session but its values: dims, shape, dtype, coords (``valid`` included), attrs."""
    part = _read(source, sid, load_kwargs)
    return {
        "name": part.name,
        "dims": part.dims,
        "shape": part.shape,
        "dtype": part.dtype,
        "coords": part.coords.to_dataset(),
        "attrs": dict(part.attrs),
    }


def _values(
    source: str | os.PathLike,
    sid: str,
    load_kwargs: dict[str, Any],
    expected: tuple[tuple[str, ...], tuple[int, ...], np.ndarray, np.ndarray],
    dtype: np.dtype,
) -> np.ndarray:
    """The counts of one session (runs inside a Dask task), checked against the layout it was opened with."""
    part = _read(source, sid, load_kwargs)
    dims, shape, neurons, trials = expected
    same = (
        part.dims == dims
        and part.shape == shape
        and np.array_equal(part["neuron"].values, neurons)
        and np.array_equal(part["trial"].values, trials)
    )
    if not same:
        raise SourceError(
            f"session {sid!r} must count the same when its values are computed as when it was opened; "
            f"got dims {part.dims}, shape {part.shape} now and {dims}, {shape} before (or other neuron or "
            "trial labels). Hint: was the file replaced? Call open_sessions again."
        )
    return np.asarray(part.values, dtype=dtype)


def _check_sources(sessions: Any) -> list[str | os.PathLike]:
    sources = session_list(sessions, "dataset names or file paths")
    for k, src in enumerate(sources):
        if isinstance(src, xr.DataArray):
            raise ArgumentTypeError(
                f"each session must be a dataset name or a file path; got a DataArray at position {k}. "
                "Hint: counts already in memory gain nothing from Dask; combine them with concat_sessions()."
            )
        if not isinstance(src, str | os.PathLike):
            raise ArgumentTypeError(f"each session must be a dataset name or a file path; got {type(src).__name__}.")
    registered = set(datasets.names())
    for src in sources:
        # A bare word that is neither a dataset nor a file is a misspelt name: let the registry say so
        # (with its "Did you mean"), here, before any session is counted.
        if isinstance(src, str) and src not in registered and not Path(src).exists():
            if os.sep not in src and "/" not in src and not Path(src).suffix:
                datasets._entry(src)
    return sources


def _check_chunks(chunks: Any) -> int | dict[str, int] | None:
    """``chunks`` as given (None, a positive int, or a dict of dim names to sizes), checked before any counting."""
    if chunks is None:
        return None
    if isinstance(chunks, int) and not isinstance(chunks, bool):
        if chunks < 1:
            raise ArgumentError(
                f"chunks must be a positive int; got {chunks}. Hint: chunks=None keeps one per session."
            )
        return chunks
    if not isinstance(chunks, Mapping):
        raise ArgumentTypeError(
            f"chunks must be None, an int or a dict such as {{'neuron': 20, 'trial': 100}}; "
            f"got {type(chunks).__name__}."
        )
    for dim, size in chunks.items():
        if dim not in BINNED_DIMS:
            raise ArgumentError(f"chunks must name dims of {BINNED_DIMS}; got {dim!r}.{did_you_mean(dim, BINNED_DIMS)}")
        if isinstance(size, bool) or not isinstance(size, int) or not (size >= 1 or size == -1):
            raise ArgumentError(
                f"chunks[{dim!r}] must be a positive int (or -1 for the whole dim); got {size!r}. "
                "Hint: chunks={'neuron': 20, 'trial': 100}."
            )
    return dict(chunks)


def _axes(chunks: int | dict[str, int], dims: tuple[str, ...]) -> int | dict[int, int]:
    """Dim names of a checked ``chunks`` dict to axis numbers of counts with ``dims``."""
    if isinstance(chunks, int):
        return chunks
    extra = [dim for dim in chunks if dim not in dims]
    if extra:
        raise ArgumentError(
            f"chunks must name dims of the counts, {dims}; got {extra}. Hint: 'time' needs binned counts (bin_size=)."
        )
    return {dims.index(dim): size for dim, size in chunks.items()}


def open_sessions(
    sessions: Sequence[str | os.PathLike],
    session_ids: Sequence[str] | None = None,
    *,
    window: Any = None,
    chunks: int | Mapping[str, int] | None = None,
    **load_kwargs: Any,
) -> xr.DataArray:
    """Open the counts of several sessions lazily: one Dask task per session, counted in parallel.

    The result equals ``concat_sessions(sessions, session_ids, window=window, **load_kwargs)`` once computed,
    but holds a ``dask.array``. Opening reads every session once, in parallel, keeping only its layout
    (labels, ``condition``, ``duration``, ``valid``, other coords, attrs); computing the values reads and
    counts each session again, in its own task. Both passes run on the scheduler ``dask.compute`` picks:
    with a ``dask.distributed`` Client active (e.g. on a ``LocalCluster`` of processes) on its workers, so a
    session's spike times are only ever loaded in the worker that counts it.

    Parameters
    ----------
    sessions : sequence of str or path-like
        Registered dataset names (``spikepool.datasets.names()``) or recording files (``spikepool.load``).
        In-memory counts belong in ``concat_sessions``.
    session_ids : sequence of str, optional
        One id per session; default the dataset name or file stem. Unique, without ``"/"``.
    window : (start, stop), optional
        Counting window (s) relative to the alignment, the same for every session.
    chunks : int or dict, optional
        Default: one chunk per (session, session) block, i.e. the session's own neurons x trials on the
        diagonal. An int or a dict such as ``{"neuron": 20, "trial": 100}`` (dims ``neuron``, ``trial``,
        ``time``; ``-1`` for a whole dim) is passed to ``dask.array.rechunk``.
    **load_kwargs
        Passed to the loader of every session (``align``, ``bin_size``, ...).

    Returns
    -------
    xarray.DataArray
        Dask-backed counts (neuron, trial[, time]) in the schema of ``concat_sessions``: ``neuron_id`` and
        ``neuron_session`` on ``neuron``; ``trial_id``, ``session``, ``condition`` and ``duration`` on
        ``trial``; the block-diagonal ``valid`` (neuron, trial); attrs ``sessions``, ``coords_not_shared``,
        ``spikes_outside``, ... and ``source`` ``"spikepool.open_sessions"``. The coords are validated now;
        the values when computed (each session by its own task, which also checks that the session still
        has the layout it was opened with). ``.compute()`` gives eager counts for ``check_counts`` and the
        models (which compute it themselves through ``.values``).

    Raises
    ------
    TypeError
        ``sessions`` is not a list of names and paths (a DataArray among them: use ``concat_sessions``), or
        ``chunks`` of the wrong type.
    ValueError
        Duplicate or malformed session ids, unknown chunk dims, sessions with different dims or time bins;
        ``DatasetError`` for a name not in the registry (raised before any session is counted).

    See Also
    --------
    spikepool.concat_sessions : the eager version, which also takes in-memory counts.

    Examples
    --------
    Two tiny sessions written as Neo pickle files (any ``neo.io`` format or NWB file works the same):

    >>> import os, tempfile
    >>> import neo, numpy as np, quantities as pq
    >>> import spikepool as sp
    >>> folder = tempfile.TemporaryDirectory()
    >>> paths = []
    >>> for day, n_spikes in (("day1", 4), ("day2", 7)):
    ...     block = neo.Block()
    ...     for _ in range(3):
    ...         seg = neo.Segment(condition="odour")
    ...         seg.spiketrains.append(neo.SpikeTrain(np.linspace(0.1, 0.9, n_spikes) * pq.s, t_stop=1.0, name="u1"))
    ...         block.segments.append(seg)
    ...     paths.append(os.path.join(folder.name, f"{day}.pkl"))
    ...     neo.io.PickleIO(paths[-1]).write_block(block)
    >>> counts = sp.open_sessions(paths, window=(0.0, 1.0))
    >>> type(counts.data).__name__, counts.chunks
    ('Array', ((1, 1), (3, 3)))
    >>> counts["neuron"].values.tolist()
    ['day1/u1', 'day2/u1']
    >>> counts.compute().values.tolist()
    [[4, 4, 4, 0, 0, 0], [0, 0, 0, 7, 7, 7]]
    >>> folder.cleanup()

    The six locust experiments on a local cluster of two worker processes:

    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> names = [n for n in sp.datasets.names() if n.startswith("locust2")]  # doctest: +SKIP
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):  # doctest: +SKIP
    ...     counts = sp.open_sessions(names, window=(2.0, 4.0)).compute()
    >>> sp.check_counts(counts, condition="condition").ok  # doctest: +SKIP
    True
    """
    dask, da = _import_dask()
    from dask.base import tokenize

    sources = _check_sources(sessions)
    ids = session_ids_of(sources, session_ids)
    chunks = _check_chunks(chunks)
    if window is not None:
        load_kwargs = {"window": window, **load_kwargs}
    token = tokenize([os.fspath(s) for s in sources], ids, load_kwargs)
    tasks = [
        dask.delayed(_layout)(src, sid, load_kwargs, dask_key_name=f"open_sessions-layout-{sid}-{token}")
        for src, sid in zip(sources, ids, strict=True)
    ]
    layouts = list(dask.compute(*tasks))

    dims = layouts[0]["dims"]
    time = layouts[0]["coords"]["time"] if dims == BINNED_DIMS else None
    check_alike(
        ids,
        [lay["dims"] for lay in layouts],
        [lay["coords"]["time"].values if "time" in lay["dims"] else None for lay in layouts],
    )
    rechunk = None if chunks is None else _axes(chunks, dims)

    # The coords come from concat_sessions itself, run on (neuron, trial) zero stand-ins that hold no memory.
    stand_ins = [
        xr.DataArray(
            np.broadcast_to(np.zeros((), dtype=lay["dtype"]), lay["shape"][:2]),
            dims=("neuron", "trial"),
            coords=lay["coords"].drop_dims("time", errors="ignore").coords,
            name=lay["name"],
            attrs=lay["attrs"],
        )
        for lay in layouts
    ]
    skeleton = concat_sessions(stand_ins, session_ids=ids)
    dtype = skeleton.dtype

    tail = tuple(layouts[0]["shape"][2:])
    rows = []
    for i, (src, sid, lay) in enumerate(zip(sources, ids, layouts, strict=True)):
        row = []
        for j, other in enumerate(layouts):
            shape = (lay["shape"][0], other["shape"][1], *tail)
            if i == j:
                expected = (lay["dims"], lay["shape"], lay["coords"]["neuron"].values, lay["coords"]["trial"].values)
                task = dask.delayed(_values)(
                    src, sid, load_kwargs, expected, dtype, dask_key_name=f"open_sessions-count-{sid}-{token}"
                )
                row.append(da.from_delayed(task, shape=shape, dtype=dtype, name=f"open_sessions-{sid}-{token}"))
            else:
                row.append(da.zeros(shape, dtype=dtype, chunks=shape))
        rows.append(row)
    values = da.concatenate([da.concatenate(row, axis=1) for row in rows], axis=0)
    if rechunk is not None:
        values = values.rechunk(rechunk)

    coords = dict(skeleton.coords)
    if time is not None:
        coords["time"] = time
    attrs = {**skeleton.attrs, "source": "spikepool.open_sessions"}
    return xr.DataArray(values, dims=dims, coords=coords, name=skeleton.name, attrs=attrs)

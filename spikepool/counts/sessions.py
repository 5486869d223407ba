"""Counts of many sessions in one array: ``concat_sessions``.

Neurons are nested in sessions (a neuron is recorded in one session; ids such as ``"u1"`` repeat across
sessions and mean different cells), and trials belong to one session. The combined counts keep the
schema of ``spikepool.counts.schema`` with:

- ``neuron`` labels ``"<session>/<neuron>"`` (unique), the original id in ``neuron_id`` and the session in
  ``neuron_session`` (coords on ``neuron``);
- ``trial`` labels ``0..T-1``, the original label in ``trial_id`` and the session in ``session`` (coords on
  ``trial``; ``check_counts`` reads this one for conditions confounded with a session);
- ``valid`` True exactly where a neuron and a trial belong to the same session (block diagonal): a neuron is
  never counted, nor counted as silent, in another session's trials;
- ``condition`` and ``duration`` concatenated; other trial coords kept when every session has them.

The array is dense: (sum of neurons) × (sum of trials), most of it invalid, which is fine for tens of sessions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

import spikepool.datasets as datasets
from spikepool._validate import did_you_mean
from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError, DatasetError
from spikepool.io import load

__all__ = [
    "NEURON_SESSION",
    "SESSION_COORDS",
    "concat_sessions",
    "load_session",
    "neuron_sessions",
    "session_ids_of",
    "split_sessions",
]

#: The neuron coordinate ``concat_sessions`` writes each neuron's session to (a model's ``session=``).
NEURON_SESSION = "neuron_session"
#: The coordinates ``concat_sessions`` adds for its own bookkeeping (a session's block drops them).
SESSION_COORDS = ("neuron_id", NEURON_SESSION, "trial_id", "session")

#: Coordinates concat_sessions builds itself (never copied from the inputs).
_OWN = {"neuron", "trial", "valid", "condition", "duration", *SESSION_COORDS}


def neuron_sessions(counts: xr.DataArray, coord: str) -> tuple[np.ndarray, np.ndarray]:
    """Session of each neuron from the neuron coordinate ``coord``: (names, codes), names in first-seen order.

    Raises ``ValueError`` when ``coord`` is not a coordinate on ``neuron`` or a label is missing.

    Examples
    --------
    >>> import spikepool as sp
    >>> a = sp.from_array([[1, 2], [0, 1]], duration=1.0)
    >>> both = sp.concat_sessions([a, a], session_ids=["day2", "day1"])
    >>> names, codes = neuron_sessions(both, "neuron_session")
    >>> names.tolist(), codes.tolist()
    (['day2', 'day1'], [0, 0, 1, 1])
    """
    on_neuron = [str(c) for c in counts.coords if counts[c].dims == ("neuron",)]
    if coord not in on_neuron:
        hint = " Hint: concat_sessions() adds 'neuron_session'." if "neuron_session" not in on_neuron else ""
        raise ArgumentError(f"session must name a coordinate on 'neuron'; got {coord!r}, available {on_neuron}.{hint}")
    labels = counts[coord].values
    missing = [str(n) for n, lab in zip(counts["neuron"].values, labels, strict=True) if lab is None or lab != lab]
    if missing or any(str(lab) == "" for lab in labels):
        raise ArgumentError(
            f"every neuron must have a session in {coord!r}; got none for {missing or 'some neurons (empty label)'}."
        )
    labels = labels.astype(str)
    names = np.asarray(list(dict.fromkeys(labels.tolist())))
    lookup = {name: k for k, name in enumerate(names.tolist())}
    return names, np.asarray([lookup[lab] for lab in labels], dtype=np.int64)


def load_session(source: str | os.PathLike | xr.DataArray, **load_kwargs: Any) -> xr.DataArray:
    """Counts of one session: a DataArray (validated, returned as is), a registered dataset name or a file.

    Names are looked up in the dataset registry (``spikepool.datasets.load_counts``); anything else is read
    with ``spikepool.load`` (any ``neo.io`` format, or NWB). ``load_kwargs`` (``window``, ``align``,
    ``bin_size``, ...) are passed to the loader.
    """
    if isinstance(source, xr.DataArray):
        if load_kwargs:
            raise ArgumentError(
                f"load options apply to names and files only; got {sorted(load_kwargs)} with a DataArray. "
                "Hint: count it with those options first."
            )
        return validate_counts(source)
    if isinstance(source, str) and source in datasets.names():
        return datasets.load_counts(source, **load_kwargs)
    close = did_you_mean(source, datasets.names()) if isinstance(source, str) else ""
    if close and not os.path.exists(source):
        raise DatasetError(f"each session must be a dataset name or an existing file; got {source!r}.{close}")
    if isinstance(source, str | os.PathLike):
        return load(source, **load_kwargs)
    raise ArgumentTypeError(
        f"each session must be counts (DataArray), a dataset name or a file path; got {type(source).__name__}."
    )


def session_list(sessions: Any, what: str) -> list:
    """``sessions`` as a non-empty list; a bare session (str, path, DataArray) or a non-sequence is refused."""
    if isinstance(sessions, str | os.PathLike | xr.DataArray) or not isinstance(sessions, Sequence):
        raise ArgumentTypeError(
            f"sessions must be a list of {what}; got {type(sessions).__name__}. Hint: wrap a single session in a list."
        )
    sources = list(sessions)
    if len(sources) < 1:
        raise ArgumentError("sessions must hold at least one session; got none.")
    return sources


def check_alike(ids: Sequence[str], dims: Sequence[tuple], times: Sequence[np.ndarray | None]) -> None:
    """Every session has the first one's dims and, when binned, its time bins (``ValueError`` naming the first
    that differs)."""
    for sid, d, t in zip(ids, dims, times, strict=True):
        if d != dims[0]:
            raise ArgumentError(f"every session must have dims {dims[0]}; got {d} for session {sid!r}.")
        if "time" in dims[0] and not np.array_equal(t, times[0]):
            raise ArgumentError(
                f"binned sessions must share their time bins; got different bins for session {sid!r}. "
                "Hint: count every session with the same window and bin_size."
            )


def session_ids_of(sources: list, session_ids: Sequence[str] | None = None) -> list[str]:
    """The session id of each source, as ``concat_sessions`` names them.

    ``session_ids`` when given (one per source); otherwise a DataArray's ``attrs["session"]`` (else
    ``session<k>``) and a path's or dataset name's file name without its extension. Raises ``ArgumentError``
    for a wrong number of ids, repeated ids or an id containing '/'.
    """
    if session_ids is None:
        ids = []
        for k, src in enumerate(sources):
            if isinstance(src, xr.DataArray):
                ids.append(str(src.attrs.get("session", f"session{k}")))
            else:
                ids.append(os.path.splitext(os.path.basename(os.fspath(src)))[0])
    else:
        if isinstance(session_ids, str) or not isinstance(session_ids, Iterable):
            raise ArgumentTypeError(f"session_ids must be a sequence of str; got {type(session_ids).__name__}.")
        ids = [str(s) for s in session_ids]
        if len(ids) != len(sources):
            raise ArgumentError(
                f"session_ids must give one id per session; got {len(ids)} for {len(sources)} sessions."
            )
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise ArgumentError(f"session ids must be unique; got {dup} more than once. Hint: pass session_ids=[...].")
    bad = [s for s in ids if "/" in s]
    if bad:
        raise ArgumentError(f"session ids must not contain '/' (it separates session and neuron); got {bad}.")
    return ids


def concat_sessions(
    sessions: Sequence[str | os.PathLike | xr.DataArray],
    session_ids: Sequence[str] | None = None,
    **load_kwargs: Any,
) -> xr.DataArray:
    """Combine the counts of several sessions into one counts array with session coordinates.

    Parameters
    ----------
    sessions : sequence of DataArray, dataset names or file paths
        Each session's counts, DataArray (neuron, trial) or (neuron, trial, time), or where to load them
        (``load_session``; the same ``load_kwargs`` for all). All must have the same dims; binned counts the
        same time bins.
    session_ids : sequence of str, optional
        One id per session; default the dataset name or file stem, or a DataArray's ``attrs["session"]``,
        else ``"session<k>"``.
    **load_kwargs
        Passed to the loader for names and files (``window=(10.0, 11.5)``, ``align=...``).

    Returns
    -------
    xarray.DataArray
        Counts (neuron, trial[, time]) in the counts schema, with ``neuron_session`` / ``neuron_id`` on
        ``neuron``, ``session`` / ``trial_id`` on ``trial`` and a block-diagonal ``valid``; ``attrs``:
        ``sessions`` (ids in order), ``spikes_outside`` (summed) and ``coords_not_shared`` (trial or neuron
        coords some session lacked, left out).

    Raises
    ------
    ArgumentTypeError
        ``sessions`` is not a list (or tuple), or a session is neither a DataArray, a str nor a path;
        ``session_ids`` is not a sequence.
    ArgumentError
        ``sessions`` is empty; ``session_ids`` does not give one id per session, repeats one or has an id
        with ``'/'`` (default ids that repeat too); ``load_kwargs`` come with a DataArray session; sessions
        differ in dims or, binned, in time bins.
    CountsError
        A DataArray session breaks the counts schema.
    DatasetError
        A str is close to a registered dataset name but neither one nor a file; a dataset's files are
        missing or fail their checksum (``spikepool.datasets.fetch``).
    FileNotFoundError
        A path (or str) is neither a dataset name nor an existing file.
    SourceError, WindowError, UnitsError, NeuronKeyError
        A file or dataset cannot be counted with ``load_kwargs`` (as in ``spikepool.load`` and ``from_neo``).

    Examples
    --------
    >>> import spikepool as sp
    >>> a = sp.from_array([[1, 2, 3], [0, 1, 0]], duration=1.0, neuron=["u1", "u2"])
    >>> b = sp.from_array([[4, 5]], duration=0.5, neuron=["u1"])
    >>> both = sp.concat_sessions([a, b], session_ids=["day1", "day2"])
    >>> both["neuron"].values.tolist(), both["session"].values.tolist()
    (['day1/u1', 'day1/u2', 'day2/u1'], ['day1', 'day1', 'day1', 'day2', 'day2'])
    >>> both["valid"].values.astype(int).tolist()
    [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]
    """
    sources = session_list(sessions, "counts, dataset names or paths")
    for src in sources:
        if not isinstance(src, str | os.PathLike | xr.DataArray):
            raise ArgumentTypeError(
                f"each session must be counts (DataArray), a dataset name or a file path; got {type(src).__name__}."
            )
    ids = session_ids_of(sources, session_ids)
    parts = [load_session(src, **load_kwargs) for src in sources]
    dims = parts[0].dims
    check_alike(ids, [p.dims for p in parts], [p["time"].values if "time" in p.dims else None for p in parts])
    n_neurons = [p.sizes["neuron"] for p in parts]
    n_trials = [p.sizes["trial"] for p in parts]
    rows = np.repeat(np.arange(len(parts)), n_neurons)
    cols = np.repeat(np.arange(len(parts)), n_trials)
    shape = (sum(n_neurons), sum(n_trials)) + ((parts[0].sizes["time"],) if "time" in dims else ())
    values = np.zeros(shape, dtype=np.result_type(*[p.dtype for p in parts]))
    valid = np.zeros(shape[:2], dtype=bool)
    r0 = c0 = 0
    for part, n, t in zip(parts, n_neurons, n_trials, strict=True):
        values[r0 : r0 + n, c0 : c0 + t] = part.transpose(*dims).values
        valid[r0 : r0 + n, c0 : c0 + t] = valid_mask(part)
        r0, c0 = r0 + n, c0 + t
    coords: dict[str, Any] = {
        "neuron": [f"{sid}/{n}" for sid, p in zip(ids, parts, strict=True) for n in p["neuron"].values],
        "trial": np.arange(shape[1], dtype=np.int64),
        "neuron_id": ("neuron", np.concatenate([p["neuron"].values.astype(str) for p in parts])),
        "neuron_session": ("neuron", np.asarray(ids)[rows]),
        "trial_id": ("trial", np.concatenate([p["trial"].values for p in parts])),
        "session": ("trial", np.asarray(ids)[cols]),
        "condition": ("trial", np.concatenate([p["condition"].values.astype(str) for p in parts])),
        "duration": ("trial", np.concatenate([p["duration"].values for p in parts]), {"units": "s"}),
        "valid": (("neuron", "trial"), valid),
    }
    if "time" in dims:
        coords["time"] = parts[0]["time"]
    not_shared = []
    for dim in ("neuron", "trial"):
        names = {c for p in parts for c, v in p.coords.items() if v.dims == (dim,) and c not in _OWN}
        for name in sorted(names):
            if all(name in p.coords and p[name].dims == (dim,) for p in parts):
                coords[name] = (dim, np.concatenate([p[name].values for p in parts]))
            else:
                not_shared.append(name)
    outside = [p.attrs.get("spikes_outside") for p in parts]
    attrs = {
        "source": "spikepool.concat_sessions",
        "sessions": ids,
        "coords_not_shared": sorted(set(not_shared)),
        **({"spikes_outside": int(sum(outside))} if all(o is not None for o in outside) else {}),
    }
    for key in ("window", "align", "spikepool_version", "counting"):
        if key in parts[0].attrs:
            attrs[key] = parts[0].attrs[key]
    out = xr.DataArray(values, dims=dims, coords=coords, name="counts", attrs=attrs)
    return validate_counts(out)


def split_sessions(counts: xr.DataArray) -> dict[str, xr.DataArray]:
    """The per-session blocks of counts from ``concat_sessions`` (its inverse), each with its own labels.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) from ``concat_sessions`` (coords ``neuron_session`` and ``session``).

    Returns
    -------
    dict of str to xarray.DataArray
        Session id -> its counts (neuron, trial[, time]), in the order ``concat_sessions`` combined them, with
        the original neuron and trial labels and ``attrs["session"]``.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray, or lacks the coords ``neuron_session`` (on ``neuron``) and ``session``
        (on ``trial``) that ``concat_sessions`` writes.
    CountsError
        ``counts`` breaks the counts schema.
    ArgumentError
        A session has no neuron or no trial.

    Examples
    --------
    >>> import spikepool as sp
    >>> a = sp.from_array([[1, 2, 3], [0, 1, 0]], duration=1.0, neuron=["u1", "u2"])
    >>> b = sp.from_array([[4, 5]], duration=0.5, neuron=["u1"])
    >>> blocks = sp.split_sessions(sp.concat_sessions([a, b], session_ids=["day1", "day2"]))
    >>> {s: dict(block.sizes) for s, block in blocks.items()}
    {'day1': {'neuron': 2, 'trial': 3}, 'day2': {'neuron': 1, 'trial': 2}}
    >>> blocks["day2"]["neuron"].values.tolist(), blocks["day2"].values.tolist()
    (['u1'], [[4, 5]])
    """
    counts = validate_counts(counts)
    on_dims = {NEURON_SESSION: ("neuron",), "session": ("trial",)}
    if any(name not in counts.coords or counts[name].dims != dims for name, dims in on_dims.items()):
        raise ArgumentTypeError(
            "counts_by_session must be a mapping session -> counts, or counts of several sessions from "
            f"concat_sessions (coords 'neuron_session' and 'session'); got a DataArray with coords "
            f"{sorted(map(str, counts.coords))}. Hint: fit one session as fit_many(model, {{'s1': counts}})."
        )
    neuron_session = counts[NEURON_SESSION].values.astype(str)
    trial_session = counts["session"].values.astype(str)
    order = [str(s) for s in counts.attrs.get("sessions", [])]
    seen = list(dict.fromkeys([*neuron_session.tolist(), *trial_session.tolist()]))
    order = [s for s in order if s in seen] + [s for s in seen if s not in order]
    blocks = {}
    for s in order:
        rows, cols = neuron_session == s, trial_session == s
        if not rows.any() or not cols.any():
            raise ArgumentError(
                f"every session must have neurons and trials; got {int(rows.sum())} neuron(s) and "
                f"{int(cols.sum())} trial(s) for session {s!r}. Hint: build the counts with concat_sessions()."
            )
        block = counts.isel(neuron=rows, trial=cols)
        relabel = {}
        if "neuron_id" in block.coords:
            relabel["neuron"] = block["neuron_id"].values
        if "trial_id" in block.coords:
            relabel["trial"] = block["trial_id"].values
        block = block.drop_vars([c for c in SESSION_COORDS if c in block.coords]).assign_coords(relabel)
        attrs = {k: v for k, v in counts.attrs.items() if k not in ("sessions", "coords_not_shared", "spikes_outside")}
        block.attrs = {**attrs, "session": s}
        blocks[s] = block
    return blocks

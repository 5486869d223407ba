"""One PyTensor compile directory per dask worker process, for ``fit_many``.

PyTensor's compilation cache is not safe to share between processes that compile at the same time
(pymc-devs/pymc#7819: dask workers compiling into one ``compiledir`` fail with an ``AssertionError`` in
``cmodule.add_key``; a maintainer replied that compilation is not thread-safe, and the reporter's working fix
was one ``base_compiledir`` per job). PyTensor sets ``base_compiledir`` when it is first imported and refuses
to change it afterwards (``compiledir`` and the Numba cache of PyTensor 3's default backend lie under it).
``fit_many`` therefore registers a ``distributed.WorkerPlugin`` whose ``setup`` points
``PYTENSOR_FLAGS=base_compiledir=...`` at a directory of that worker's own before the worker imports
PyTensor: ``<tempdir>/spikepool-pytensor-<user>/<host>/worker-<k>``, where slot ``k`` is held with an
exclusive file lock for the life of the worker process. Live workers never share a slot, and a later worker
reuses a free slot's cache instead of compiling from scratch. A worker that imported PyTensor before (so its
directory can no longer be set) keeps its own; ``fit_many`` refuses to sample when two worker processes would
then share one directory, and says how to restart them.

This is also why ``import spikepool`` never imports PyTensor or PyMC (they are imported inside the functions
that build and sample models): a worker unpickling ``fit_many``'s task imports spikepool first.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from spikepool.exceptions import ArgumentError

__all__ = ["prepare_workers"]

#: Slots tried for a worker's compile directory before giving up on reuse (then one per process id).
_MAX_SLOTS = 256
#: This process's compile directory as set by ``_use_own_compiledir`` (worker processes only).
_OWN_COMPILEDIR: dict[str, Any] = {}
_SLOT_LOCK_FILE: list[Any] = []  # the open, locked file that holds this process's slot


def _slot_root() -> Path:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"spikepool-pytensor-{user}" / socket.gethostname()


def _claim_slot(root: Path) -> Path:
    """A directory under ``root`` that no other live process holds (an exclusive lock kept open)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no reuse, one directory per process
        return root / f"pid-{os.getpid()}"
    for k in range(_MAX_SLOTS):
        handle = open(root / f"worker-{k}.lock", "a+")  # noqa: SIM115 (held open for the life of the process)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _SLOT_LOCK_FILE.append(handle)
        return root / f"worker-{k}"
    return root / f"pid-{os.getpid()}"


def _use_own_compiledir() -> dict[str, Any]:
    """Give this process its own PyTensor ``base_compiledir`` if PyTensor is not imported yet; report it.

    Runs in each worker (the plugin's ``setup`` and ``client.run``); idempotent. Returns ``host``, ``pid``,
    ``dir`` and ``set`` (True when this function chose the directory, False when PyTensor had been imported
    before and its directory could no longer be changed).
    """
    if not _OWN_COMPILEDIR:
        if "pytensor" in sys.modules:
            config = sys.modules["pytensor"].config
            _OWN_COMPILEDIR.update(dir=str(config.base_compiledir), set=False)
        else:
            path = _claim_slot(_slot_root())
            flags = os.environ.get("PYTENSOR_FLAGS", "")
            # later keys override earlier ones in PYTENSOR_FLAGS
            os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f'base_compiledir="{path}"') if f)
            _OWN_COMPILEDIR.update(dir=str(path), set=True)
    return {"host": socket.gethostname(), "pid": os.getpid(), **_OWN_COMPILEDIR}


@functools.cache
def _plugin_class() -> type:
    """The ``WorkerPlugin`` that runs ``_use_own_compiledir`` in every worker, those that join later included."""
    from distributed import WorkerPlugin

    class SpikepoolCompileDir(WorkerPlugin):
        idempotent = True
        name = "spikepool-pytensor-compiledir"

        def setup(self, worker) -> None:
            _use_own_compiledir()

    return SpikepoolCompileDir


def prepare_workers(client) -> dict[str, dict[str, Any]]:
    """Register the compile-dir plugin, and raise before any sampling if two worker processes share a dir."""
    client.register_plugin(_plugin_class()())
    states = client.run(_use_own_compiledir)
    if not states:
        raise ArgumentError("client must have at least one worker; got none. Hint: client.wait_for_workers(1).")
    holders: dict[str, set[tuple[str, int]]] = {}
    for state in states.values():
        holders.setdefault(state["dir"], set()).add((state["host"], state["pid"]))
    shared = {d: p for d, p in holders.items() if len(p) > 1}
    if shared:
        where = "; ".join(f"{d} by {len(p)} processes" for d, p in shared.items())
        raise RuntimeError(
            "worker processes must each have their own PyTensor compile directory (concurrent compilation into "
            f"one corrupts it, pymc#7819); got {where}: PyTensor was imported in them before fit_many could "
            "choose one. Hint: client.restart() and call fit_many again, or start each worker with its own "
            "PYTENSOR_FLAGS=base_compiledir=<dir>."
        )
    return states

"""Independent fits of many sessions, in this process or on a dask.distributed cluster: ``fit_many``.

One model specification is fitted to every session separately (no pooling across sessions). With a
``distributed.Client`` each session is one task; a worker fits one session at a time with its chains run
one after the other (``cores=1``: worker processes are daemonic and cannot start the sampler's child
processes), so a cluster of N single-threaded worker processes fits N sessions at once.

PyTensor compile cache: each worker compiles into a directory of its own
(``spikepool.workflows.compiledir``).

Reproducibility: a session's seed depends on ``random_seed`` and its name only. Its draws are bit-identical
between processes whose compile caches were in the same state; with PyTensor 3.3 a process that compiled
from scratch drifts from one that loaded the cache in the last bits after some iterations, which NUTS
amplifies (same posterior, other draws). The first run in fresh worker slots may therefore not reproduce a
serial run draw for draw; later runs, which reuse the slots' caches, do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from spikepool._validate import check_int
from spikepool.counts.schema import validate_counts
from spikepool.counts.sessions import split_sessions
from spikepool.exceptions import ArgumentError, ArgumentTypeError, CountsError, SpikepoolWarning
from spikepool.models.negbin import HierarchicalNegBinom
from spikepool.models.sampling import check_lengths
from spikepool.workflows.compiledir import prepare_workers

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["FitMany", "fit_many"]

#: One fit at a time per process: PyTensor compilation is not thread-safe (pymc#7819).
_FIT_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------- results
@dataclass(eq=False)
class FitMany(Mapping):
    """The fits of many sessions: a mapping session -> result of the sessions that were fitted.

    Attributes
    ----------
    sessions : list
        Every session, in input order (fitted or not).
    failures : dict
        Session -> ``"ExceptionType: message"`` for the sessions whose fit raised.
    tracebacks : dict
        Session -> the traceback of its failure (as formatted where it ran).
    seeds : dict
        Session -> the ``random_seed`` its fit used (``model.fit(data, random_seed=seeds[s])`` reproduces it).
    random_seed : int
        The root seed the session seeds were derived from (drawn from the OS when none was given).
    sizes : dict
        Session -> the sizes of its data's dims (e.g. ``{"neuron": 6, "trial": 8}``).
    wall_s : dict
        Session -> seconds its fit took where it ran (compilation included).
    compiledirs : dict
        Session -> the PyTensor ``base_compiledir`` of the process that fitted it.
    workers : dict
        Session -> where it ran: a worker's address, or ``"local"``.
    """

    results: dict[Hashable, Any]
    sessions: list[Hashable]
    failures: dict[Hashable, str] = field(default_factory=dict)
    tracebacks: dict[Hashable, str] = field(default_factory=dict)
    seeds: dict[Hashable, int] = field(default_factory=dict)
    random_seed: int = 0
    sizes: dict[Hashable, dict[str, int]] = field(default_factory=dict)
    wall_s: dict[Hashable, float] = field(default_factory=dict)
    compiledirs: dict[Hashable, str | None] = field(default_factory=dict)
    workers: dict[Hashable, str] = field(default_factory=dict)

    def __getitem__(self, session: Hashable) -> Any:
        if session in self.results:
            return self.results[session]
        if session in self.failures:
            raise KeyError(f"session {session!r} has no result: its fit failed with {self.failures[session]}")
        raise KeyError(f"session must be one of {self.sessions}; got {session!r}.")

    def __iter__(self) -> Iterator[Hashable]:
        return (s for s in self.sessions if s in self.results)

    def __len__(self) -> int:
        return len(self.results)

    def status(self, session: Hashable) -> str:
        """``"ok"`` or ``"failed"``."""
        return "ok" if session in self.results else "failed"

    def summary(self):
        """One row per session: status, sizes, seed, wall time, worst R-hat, lowest bulk ESS, divergences, error.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``session``; sampling columns are NaN for failed sessions (and for results without a
            ``post_checks`` report).
        """
        import pandas as pd

        rows = []
        for s in self.sessions:
            checks = getattr(self.results.get(s), "post_checks", None)
            diag = checks.summary if checks is not None and checks.summary is not None else {}
            sizes = self.sizes.get(s, {})
            rows.append(
                {
                    "session": s,
                    "status": self.status(s),
                    "n_neurons": sizes.get("neuron", np.nan),
                    "n_trials": sizes.get("trial", np.nan),
                    "seed": self.seeds.get(s),
                    "wall_s": self.wall_s.get(s, np.nan),
                    "rhat_max": float(diag["rhat_max"]) if "rhat_max" in diag else np.nan,
                    "ess_bulk_min": float(diag["ess_bulk_min"]) if "ess_bulk_min" in diag else np.nan,
                    "divergences": float(diag["divergences"]) if "divergences" in diag else np.nan,
                    "worker": self.workers.get(s, ""),
                    "error": self.failures.get(s, ""),
                }
            )
        return pd.DataFrame(rows).set_index("session")

    def __repr__(self) -> str:
        lines = [
            f"FitMany: {len(self.sessions)} session(s), {len(self.results)} fitted, {len(self.failures)} failed "
            f"(random_seed={self.random_seed})"
        ]
        width = max((len(str(s)) for s in self.sessions), default=0)
        for s in self.sessions:
            sizes = " x ".join(f"{n} {d}s" for d, n in self.sizes.get(s, {}).items())
            wall = f"{self.wall_s[s]:.1f} s" if s in self.wall_s else ""
            error = self.failures.get(s, "")
            error = error if len(error) <= 90 else error[:87] + "..."
            lines.append(f"  {str(s):<{width}}  {self.status(s):<6}  {sizes}  {wall}  {error}".rstrip())
        return "\n".join(lines)


@dataclass
class _Outcome:
    """What one session's task returns (picklable; built where the fit ran)."""

    result: Any = None
    error: str | None = None
    traceback: str = ""
    caught: list[tuple[type[Warning], str, str, int]] = field(default_factory=list)
    wall_s: float = float("nan")
    compiledir: str | None = None
    worker: str = "local"


# ---------------------------------------------------------------------------------------------- inputs


def _check_inputs(model: Any, counts_by_session: Any) -> dict[Hashable, Any]:
    """Validate the model and the sessions' data; return an ordered dict session -> data."""
    if not callable(getattr(model, "fit", None)):
        raise ArgumentTypeError(
            f"model must be a spikepool model with a .fit method; got {type(model).__name__}. "
            "Hint: model = sp.HierarchicalNegBinom(dispersion='shared')."
        )
    if getattr(model, "session", None):
        raise ArgumentError(
            f"fit_many fits every session on its own, so the model must not pool across sessions; got a model with "
            f"session={model.session!r}. Hint: fit that model once to concat_sessions(...) counts, or drop session=."
        )
    if isinstance(counts_by_session, xr.DataArray):
        sessions: dict[Hashable, Any] = dict(split_sessions(counts_by_session))
    elif isinstance(counts_by_session, Mapping):
        sessions = dict(counts_by_session)
    else:
        raise ArgumentTypeError(
            "counts_by_session must be a mapping session -> counts (DataArray) or counts from concat_sessions; "
            f"got {type(counts_by_session).__name__}. Hint: {{'day1': counts1, 'day2': counts2}}."
        )
    if not sessions:
        raise ArgumentError("counts_by_session must hold at least one session; got none.")
    names = [str(s) for s in sessions]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ArgumentError(f"session keys must be distinct as text; got {dup} more than once (e.g. 1 and '1').")
    for s, data in sessions.items():
        parts = data if isinstance(data, tuple) else (data,)
        allowed = xr.DataArray | np.ndarray if isinstance(data, tuple) else xr.DataArray
        if not parts or not all(isinstance(p, allowed) for p in parts):
            kinds = ", ".join(type(p).__name__ for p in parts) or "an empty tuple"
            raise ArgumentTypeError(
                f"each session's data must be a DataArray (or a tuple of arrays for models whose fit takes several, "
                f"e.g. NormalNormal's (estimates, standard_errors)); got {kinds} for session {s!r}. "
                "Hint: sp.from_array(values, duration=...) makes counts."
            )
        if isinstance(model, HierarchicalNegBinom):
            if len(parts) != 1:
                raise ArgumentTypeError(
                    f"HierarchicalNegBinom fits one counts array per session; got a tuple for {s!r}."
                )
            try:
                validate_counts(parts[0])
            except CountsError as err:
                raise CountsError(f"session {s!r}: {err}") from err
    return sessions


def _session_seeds(sessions: list[Hashable], random_seed: int | None) -> tuple[int, dict[Hashable, int]]:
    """One seed per session from ``random_seed`` and the session's name alone (not its position or the others)."""
    if random_seed is None:
        root = int(np.random.SeedSequence().entropy)
    else:
        check_int("random_seed", random_seed, 0)
        root = int(random_seed)
    seeds = {}
    for s in sessions:
        key = int.from_bytes(hashlib.sha256(str(s).encode()).digest()[:8], "little")
        seeds[s] = int(np.random.SeedSequence(root, spawn_key=(key,)).generate_state(1, dtype=np.uint32)[0])
    return root, seeds


def _sizes(data: Any) -> dict[str, int]:
    first = data[0] if isinstance(data, tuple) else data
    return {str(d): int(n) for d, n in first.sizes.items()} if isinstance(first, xr.DataArray) else {}


# ---------------------------------------------------------------------------------------------- running
@contextmanager
def _quiet_pymc() -> Iterator[None]:
    """Silence PyMC's per-fit INFO log lines ("Initializing NUTS...") for the duration."""
    import pymc  # noqa: F401 (its import sets the logger's level; set ours after it)

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _fit_session(model: Any, data: Any, seed: int, kwargs: dict[str, Any]) -> _Outcome:
    """Fit one session where this runs (here or in a worker), catching its error and its warnings."""
    out = _Outcome()
    if "distributed" in sys.modules:  # never imported in a serial run
        try:
            out.worker = str(sys.modules["distributed"].get_worker().address)
        except ValueError:  # not in a worker
            pass
    args = data if isinstance(data, tuple) else (data,)
    with _FIT_LOCK, _quiet_pymc(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            out.result = model.fit(*args, random_seed=seed, **kwargs)
        except Exception as err:  # one session's failure must not lose the others
            out.error = f"{type(err).__name__}: {err}"
            out.traceback = traceback.format_exc()
        out.wall_s = time.perf_counter() - start
    out.caught = [(w.category, str(w.message), w.filename, w.lineno) for w in caught]
    if "pytensor" in sys.modules:
        out.compiledir = str(sys.modules["pytensor"].config.base_compiledir)
    return out


@contextmanager
def _progress(total: int, show: bool) -> Iterator[Callable[[], None]]:
    if not show:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("fitting sessions", total=total)
        yield lambda: bar.advance(task)


def _run_serial(model, sessions, seeds, kwargs, show) -> dict[Hashable, _Outcome]:
    outcomes = {}
    with _progress(len(sessions), show) as advance:
        for s, data in sessions.items():
            outcomes[s] = _fit_session(model, data, seeds[s], kwargs)
            advance()
    return outcomes


def _run_distributed(client, model, sessions, seeds, kwargs, show) -> dict[Hashable, _Outcome]:
    from distributed import as_completed

    prepare_workers(client)
    token = os.urandom(4).hex()
    # largest sessions first (priority = size): the long fits do not end up last on one worker
    futures = {
        client.submit(
            _fit_session,
            model,
            data,
            seeds[s],
            kwargs,
            pure=False,
            key=f"fit-{s}-{token}",
            priority=int(np.prod(list(_sizes(data).values()) or [0])),
        ): s
        for s, data in sessions.items()
    }
    outcomes: dict[Hashable, _Outcome] = {}
    try:
        with _progress(len(futures), show) as advance:
            for future in as_completed(futures):
                s = futures[future]
                if future.status == "finished":
                    outcomes[s] = future.result()
                else:  # the worker died, the task was cancelled, or its result could not travel back
                    err = future.exception() if future.status == "error" else None
                    tb = future.traceback() if err is not None else None
                    outcomes[s] = _Outcome(
                        error=f"{type(err).__name__}: {err}" if err is not None else f"task {future.status}",
                        traceback="".join(traceback.format_tb(tb)) if tb is not None else "",
                    )
                advance()
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # interrupted: do not leave fits running on the cluster
            client.cancel(pending)
    return outcomes


def fit_many(
    model: Any,
    counts_by_session: Mapping[Hashable, Any] | xr.DataArray,
    client: Client | None = None,
    *,
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    progressbar: bool = False,
    **fit_kwargs: Any,
) -> FitMany:
    """Fit ``model`` to every session independently, serially or on a dask.distributed cluster.

    Each session gets its own ``model.fit(data, draws=, tune=, chains=, random_seed=seed)``, with the seed
    derived from ``random_seed`` and the session's name only, so a session's seed does not depend on the
    order, the other sessions, where it ran or whether ``client`` was given (its draws neither, up to the
    compile-cache caveat in the module docstring). A session whose fit raises
    (e.g. ``IdentifiabilityError`` before sampling) is recorded in ``failures`` and named in one
    ``SpikepoolWarning``; the others are returned. The warnings of each fit (``SamplingWarning`` ...) are
    issued again when all are done, prefixed with the session and from the place the fit issued them, so the
    same warning filters apply as to a direct ``model.fit``.

    Parameters
    ----------
    model : spikepool model
        Any model with a ``.fit`` method (``HierarchicalNegBinom``, ``RandomEffectsNormal``, ``NormalNormal``,
        ``BetaBinomial``); the same specification is fitted to every session.
    counts_by_session : mapping or xarray.DataArray
        Session -> counts DataArray (neuron, trial[, time]) (or, for models whose ``fit`` takes several
        arrays, a tuple of them); or one DataArray of several sessions from ``concat_sessions``, split into
        each session's own neurons and trials (labels ``neuron_id`` / ``trial_id`` restored, ``valid``
        restricted to the block).
    client : distributed.Client, optional
        None fits the sessions one after the other in this process. With a client every session is one task;
        use single-threaded worker processes (``LocalCluster(n_workers=n, threads_per_worker=1)``). Each worker
        gets its own PyTensor compile directory (pymc#7819; see the module docstring) and fits one session at
        a time with ``cores=1`` unless ``cores`` is passed.
    draws, tune, chains : int
        NUTS settings of every fit (``draws=None``: ``model.fit``'s default for each session's size).
    random_seed : int, optional
        Root seed (>= 0; default drawn from the OS and recorded in ``FitMany.random_seed``). Each session's
        seed is derived from it and the session's name (``numpy.random.SeedSequence``) and recorded in
        ``FitMany.seeds``.
    progressbar : bool
        Show a bar of the sessions completed (the samplers' own bars are off).
    **fit_kwargs
        Passed to every ``model.fit`` (e.g. ``target_accept``).

    Returns
    -------
    FitMany
        Mapping session -> result (``FitResult`` for ``HierarchicalNegBinom``) of the fitted sessions, with
        ``failures``, ``seeds``, ``wall_s``, ``compiledirs`` and ``summary()`` (one row per session).

    Raises
    ------
    TypeError, ValueError
        Before any sampling: a model without ``fit``, no sessions, data that are not DataArrays, counts that
        break the schema (``CountsError`` naming the session), a client that is not a ``distributed.Client``.
    RuntimeError
        Before any sampling: two worker processes would compile into one PyTensor directory.

    Examples
    --------
    >>> import spikepool as sp
    >>> day1, _ = sp.simulate_counts(4, 10, mu=1.5, tau=0.3, alpha=None, seed=1)
    >>> day2, _ = sp.simulate_counts(5, 12, mu=2.0, tau=0.3, alpha=None, seed=2)
    >>> model = sp.HierarchicalNegBinom(pooling="complete", likelihood="poisson")
    >>> fits = sp.fit_many(model, {"day1": day1, "day2": day2}, draws=1000, tune=500, chains=2, random_seed=0)
    >>> list(fits), fits.failures
    (['day1', 'day2'], {})
    >>> fits["day2"].posterior.sizes["neuron"]
    5
    """
    sessions = _check_inputs(model, counts_by_session)
    check_lengths(draws, tune, chains)
    if not isinstance(progressbar, bool):
        raise ArgumentTypeError(f"progressbar must be True or False; got {progressbar!r}.")
    kwargs = {**fit_kwargs, "draws": draws, "tune": tune, "chains": chains, "progressbar": False}
    if client is not None:
        try:
            from distributed import Client
        except ImportError as err:  # pragma: no cover - a client cannot exist without distributed
            raise ImportError("fit_many with a client needs distributed: pip install 'spikepool[dask]'") from err
        if not isinstance(client, Client):
            raise ArgumentTypeError(
                f"client must be a distributed.Client or None; got {type(client).__name__}. "
                "Hint: client = distributed.Client(n_workers=2, threads_per_worker=1)."
            )
        kwargs.setdefault("cores", 1)
    root, seeds = _session_seeds(list(sessions), random_seed)
    if client is None:
        outcomes = _run_serial(model, sessions, seeds, kwargs, progressbar)
    else:
        outcomes = _run_distributed(client, model, sessions, seeds, kwargs, progressbar)

    fits = FitMany(results={}, sessions=list(sessions), seeds=seeds, random_seed=root)
    registry: dict = {}  # "default" filters show a repeated warning once per session
    for s in sessions:
        out = outcomes[s]
        fits.sizes[s] = _sizes(sessions[s])
        fits.wall_s[s] = out.wall_s
        fits.compiledirs[s] = out.compiledir
        fits.workers[s] = out.worker
        if out.error is None:
            fits.results[s] = out.result
        else:
            fits.failures[s] = out.error
            fits.tracebacks[s] = out.traceback
        for category, message, filename, lineno in out.caught:  # where the fit issued it: the same filters apply
            warnings.warn_explicit(f"session {s!r}: {message}", category, filename, lineno, registry=registry)
    if fits.failures:
        listing = "\n".join(f"  {s!r}: {text}" for s, text in fits.failures.items())
        warnings.warn(
            f"every session must fit; {len(fits.failures)} of {len(sessions)} failed and are left out of the "
            f"results (kept in .failures, tracebacks in .tracebacks):\n{listing}\nHint: fix or drop those "
            "sessions; model.fit(data, random_seed=fits.seeds[session]) reruns one alone.",
            SpikepoolWarning,
            stacklevel=2,
        )
    return fits

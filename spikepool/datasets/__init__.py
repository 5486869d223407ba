"""Registry of the real recordings spikepool is tested and taught on.

Every file is recorded in ``datasets/registry.json`` with its public source URL pinned to a commit,
its sha256, licence and citation. Files are read from the folder named by the ``SPIKEPOOL_DATA``
environment variable (laid out as ``<source>/<file>``, e.g. ``locust-pouzat/locust20010214/...``);
without it they are downloaded once with pooch into the user cache. Either way the checksum is
verified before anything is read.

Examples
--------
>>> import spikepool as sp
>>> "locust20010214" in sp.datasets.list_datasets().index
True
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import xarray as xr

from spikepool._validate import did_you_mean
from spikepool.datasets.kramer import read_stn_block
from spikepool.datasets.locust import read_locust_block
from spikepool.datasets.nelpy import read_linear_track
from spikepool.exceptions import ArgumentTypeError, DatasetError
from spikepool.io.neo import from_neo

__all__ = ["citation", "data_dir", "fetch", "list_datasets", "load_block", "load_counts", "names"]

ENV = "SPIKEPOOL_DATA"


@functools.cache
def _registry() -> dict:
    text = resources.files("spikepool.datasets").joinpath("registry.json").read_text()
    return json.loads(text)


def _entry(name: str) -> dict:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"name must be a str, a registered dataset's name; got {type(name).__name__}.")
    datasets = _registry()["datasets"]
    if name not in datasets:
        hint = did_you_mean(name, list(datasets))
        raise DatasetError(
            f"name must be a registered dataset; got {name!r}.{hint} "
            "Hint: spikepool.datasets.list_datasets() lists them."
        )
    return datasets[name]


def names() -> list[str]:
    """Names of the registered datasets.

    Returns
    -------
    list of str
        The names ``fetch``, ``citation`` and ``load_block`` take, in registry order.

    Examples
    --------
    >>> [name for name in names() if name.startswith("kramer")]
    ['kramer-eden-stn', 'kramer-eden-lfp', 'kramer-eden-retina', 'kramer-eden-placecell']
    """
    return list(_registry()["datasets"])


def data_dir() -> Path | None:
    """The local data folder from ``SPIKEPOOL_DATA``, or ``None`` when it is unset.

    Returns
    -------
    pathlib.Path or None
        The folder, ``~`` expanded (not checked to exist), or None when ``SPIKEPOOL_DATA`` is unset or empty.

    Examples
    --------
    >>> import os
    >>> from pathlib import Path
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SPIKEPOOL_DATA": "~/recordings"}):
    ...     data_dir() == Path.home() / "recordings"
    True
    >>> with mock.patch.dict(os.environ):  # the environment comes back as it was
    ...     _ = os.environ.pop("SPIKEPOOL_DATA", None)
    ...     print(data_dir())
    None
    """
    value = os.environ.get(ENV)
    return Path(value).expanduser() if value else None


def list_datasets():
    """Registered datasets, one row each.

    Returns
    -------
    pandas.DataFrame
        Indexed by dataset name, with columns ``description``, ``source``, ``n_files``,
        ``loadable`` (``load_block`` supports it), ``licence`` and ``citation``.

    Examples
    --------
    >>> row = list_datasets().loc["kramer-eden-stn"]
    >>> int(row["n_files"]), bool(row["loadable"]), row["licence"]
    (1, True, 'MIT')
    """
    import pandas as pd

    reg = _registry()
    rows = []
    for name, entry in reg["datasets"].items():
        src = reg["sources"][entry["source"]]
        rows.append(
            {
                "name": name,
                "description": entry["description"],
                "source": f"{src['repository']}@{src['commit'][:10]}",
                "n_files": len(entry["files"]),
                "loadable": entry.get("loader") is not None,
                "licence": src["licence"],
                "citation": src["citation"],
            }
        )
    return pd.DataFrame(rows).set_index("name")


def citation(name: str) -> str:
    """How to cite dataset ``name`` (and its licence).

    Parameters
    ----------
    name : str
        A registered dataset (``names()``).

    Returns
    -------
    str
        The citation of the dataset's source, then ``"Licence: <licence>."``.

    Raises
    ------
    ArgumentTypeError
        ``name`` is not a str.
    DatasetError
        ``name`` is not a registered dataset.

    Examples
    --------
    >>> citation("kramer-eden-stn")
    'Kramer MA, Eden UT. Case Studies in Neural Data Analysis. MIT Press, 2016. Licence: MIT.'
    """
    src = _registry()["sources"][_entry(name)["source"]]
    return f"{src['citation']} Licence: {src['licence']}."


_VERIFIED: dict[tuple[str, int, float], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def _local(folder: Path, item: dict) -> Path:
    path = folder / item["path"]
    if not path.is_file():
        raise DatasetError(
            f"{ENV} must hold every file of the dataset; got no {item['path']!r} under {str(folder)!r}. "
            f"Hint: copy it from {item['url']} or unset {ENV} to download it."
        )
    actual = _sha256(path)
    if actual != item["sha256"]:
        raise DatasetError(
            f"{item['path']} must have sha256 {item['sha256']}; got {actual} (file corrupted, truncated "
            f"or replaced). Hint: restore it from {item['url']}."
        )
    return path


def _download(item: dict, cache: Path | None) -> Path:
    import pooch

    target = Path(cache) if cache is not None else Path(pooch.os_cache("spikepool"))
    rel = Path(item["path"])
    try:
        fname = pooch.retrieve(
            item["url"],
            known_hash=f"sha256:{item['sha256']}",
            fname=rel.name,
            path=target / rel.parent,
            progressbar=False,
        )
    except ValueError as err:
        raise DatasetError(
            f"{item['path']} must have sha256 {item['sha256']}; the download from {item['url']} did not match: {err}"
        ) from err
    except OSError as err:  # requests' connection, timeout and HTTP errors are OSErrors, as are the cache's
        why, hint = _why(err, item["url"], target)
        raise DatasetError(
            f"{item['path']} must be downloaded when {ENV} is unset; got {why}. Hint: set {ENV} to a folder that "
            f"holds the recordings (datasets/README.md lists the files), or {hint}."
        ) from err
    return Path(fname)


def _why(err: OSError, url: str, cache: Path) -> tuple[str, str]:
    """One line on why a download failed (requests' own messages run over several nested causes), and what to do."""
    from urllib.parse import urlsplit

    import requests

    host = urlsplit(url).hostname or url
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        return f"no connection to {host} ({type(err).__name__})", "connect and retry"
    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} from {host}", "retry later"
    first = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {first[:160]}", f"make the download cache {str(cache)!r} writable"


def fetch(name: str, *, cache: str | os.PathLike | None = None) -> list[Path]:
    """Local, checksum-verified paths of every file of dataset ``name``.

    Files come from ``SPIKEPOOL_DATA`` when it is set (never downloaded then), otherwise from
    their public URL through pooch into ``cache`` (default: the user cache folder).

    Parameters
    ----------
    name : str
        A registered dataset (``names()``).
    cache : str or os.PathLike, optional
        Download folder, used only when ``SPIKEPOOL_DATA`` is unset.

    Returns
    -------
    list of pathlib.Path
        One path per file of the dataset, in registry order, each file's sha256 verified.

    Raises
    ------
    ArgumentTypeError
        ``name`` is not a str.
    DatasetError
        ``name`` is not a registered dataset; with ``SPIKEPOOL_DATA`` set, a file is missing from it or fails
        its checksum (corrupted or truncated); otherwise the download fails (no connection, an HTTP error,
        an unwritable cache) or does not match its checksum.

    Examples
    --------
    With ``SPIKEPOOL_DATA`` set, nothing is downloaded: a file missing from the folder is an error.

    >>> import os, tempfile
    >>> from unittest import mock
    >>> with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"SPIKEPOOL_DATA": empty}):
    ...     fetch("kramer-eden-stn")
    Traceback (most recent call last):
    ...
    spikepool.exceptions.DatasetError: SPIKEPOOL_DATA must hold every file of the dataset; got no ... Hint: ...

    With the recordings in ``SPIKEPOOL_DATA`` (or a connection to download them):

    >>> [path.name for path in fetch("kramer-eden-stn")]  # doctest: +SKIP
    ['10_spikes-1.mat']
    """
    entry = _entry(name)
    folder = data_dir()
    if folder is not None:
        return [_local(folder, item) for item in entry["files"]]
    return [_download(item, None if cache is None else Path(cache)) for item in entry["files"]]


def load_block(name: str, **kwargs: Any):
    """Read a registered dataset as a ``neo.Block``.

    Parameters
    ----------
    name : str
        A locust experiment (``"locust20010214"`` and the five others), ``"kramer-eden-stn"``
        or ``"nelpy-linear-track"``.
    **kwargs
        Passed to ``fetch`` (``cache``).

    Returns
    -------
    neo.Block
        Locust and STN: one Segment per trial, annotated ``condition`` (e.g. the locust stimulus
        block ``"Citral"``, ``"C3H_1"``, ``"Spontaneous_2"``; ``"left"``/``"right"`` for the STN
        neuron) and ``trial``; skipped trials are absent. SpikeTrains carry ``unit_id`` (e.g.
        ``"u7"``). ``"nelpy-linear-track"``: one Segment for the whole continuous session, whose
        trials are the Epoch ``"laps"`` (labels ``"leftward"``/``"rightward"``), with the
        position signal; see ``spikepool.datasets.nelpy.read_linear_track``. The block is annotated
        ``dataset`` and ``citation``.

    Raises
    ------
    ArgumentTypeError
        ``name`` is not a str.
    DatasetError
        ``name`` is not a registered dataset or has no Neo loader (its files are only fetched), checked
        before any file is read; or ``fetch`` fails (a missing file, a checksum mismatch, a failed download).

    Examples
    --------
    >>> load_block("kramer-eden-lfp")  # checked before any file is read
    Traceback (most recent call last):
    ...
    spikepool.exceptions.DatasetError: name must be a dataset with a Neo loader; got 'kramer-eden-lfp', ...

    With the recordings in ``SPIKEPOOL_DATA`` (or a connection to download them):

    >>> block = load_block("kramer-eden-stn")  # doctest: +SKIP
    >>> len(block.segments), sorted({seg.annotations["condition"] for seg in block.segments})  # doctest: +SKIP
    (50, ['left', 'right'])
    """
    entry = _entry(name)
    loader = entry.get("loader")
    if loader is None:
        raise DatasetError(
            f"name must be a dataset with a Neo loader; got {name!r}, whose files are only fetched. "
            f"Hint: spikepool.datasets.fetch({name!r}) gives their paths."
        )
    paths = fetch(name, **kwargs)
    if loader == "locust":
        lay = entry["layout"]
        block = read_locust_block(
            paths, period=lay["period"], duration=lay["duration"], sampling_rate=lay["sampling_rate"]
        )
    elif loader == "nelpy":
        block = read_linear_track(paths[0], paths[1])
    else:
        block = read_stn_block(paths[0])
    block.annotate(dataset=name, citation=citation(name))
    return block


def load_counts(name: str, window: Any = None, **kwargs: Any) -> xr.DataArray:
    """Count a registered dataset with ``from_neo`` (``window``, ``align``, ``bin_size``, ...).

    The Kramer & Eden STN neuron is aligned to its ``GO`` cue, and the nelpy linear track counted
    per lap (``align="laps"``: one trial per run from one end to the other, its duration the
    exposure), unless ``align`` says otherwise.

    Parameters
    ----------
    name : str
        A dataset ``load_block`` reads (``list_datasets()["loadable"]``).
    window : (start, stop), optional
        Counting window (s) relative to each trial's alignment; default each trial's whole extent.
    **kwargs
        Passed to ``from_neo`` (``align``, ``bin_size``, ``neuron_key``, ``condition_key``).

    Returns
    -------
    xarray.DataArray
        int64 counts (neuron, trial) or, with ``bin_size``, (neuron, trial, time), in the schema of
        ``from_neo`` (trial coords ``condition``, ``duration``, ``t_start``, ``t_stop``, ...; ``valid``;
        neuron coords ``spikes_outside``, ...); ``attrs["source"]`` names the dataset.

    Raises
    ------
    ArgumentTypeError
        ``name`` is not a str; as in ``from_neo`` (``window`` a single number, ``align`` not a str, ...).
    DatasetError
        As in ``load_block``: ``name`` unknown or without a Neo loader; a file missing, corrupted or not
        downloaded.
    SourceError, WindowError, UnitsError, NeuronKeyError
        As in ``from_neo``, e.g. ``align`` matches no event or epoch (``SourceError``), a window reaches
        outside its segment or ``bin_size`` does not divide it (``WindowError``).

    Examples
    --------
    >>> counts = load_counts("locust20010214", window=(10.0, 12.0))  # doctest: +SKIP
    >>> counts.sizes  # doctest: +SKIP
    Frozen({'neuron': 10, 'trial': ...})
    """
    entry = _entry(name)
    if "default_align" in entry:
        kwargs.setdefault("align", entry["default_align"])
    counts = from_neo(load_block(name), window=window, **kwargs)
    counts.attrs["source"] = f"spikepool dataset {name!r}"
    return counts

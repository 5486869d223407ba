"""Reader for the nelpy linear-track session: MatClust units, LED position, and laps cut from it.

Both files run on one 30 kHz acquisition clock: ``spikes.mat`` holds spike times already in seconds
(whole multiples of 1/30000 s, 4397.0-6365.3 s), the tracking file holds the clock's sample count,
divided here by its ``clockrate`` header (30000) to give seconds (4397.0-6379.5 s). Laps are cut
from the camera x coordinate with ``spikepool.io.laps.cut_laps``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import neo
import numpy as np
import quantities as pq

from spikepool.exceptions import SourceError
from spikepool.io.laps import cut_laps, tracking_lost

__all__ = ["read_linear_track", "read_trajectory"]

_RECORD = np.dtype([("time", "<u4"), ("x", "<u2"), ("y", "<u2"), ("x2", "<u2"), ("y2", "<u2")])
_FIELDS = "<time uint32><xloc uint16><yloc uint16><xloc2 uint16><yloc2 uint16>"
_END = b"<End settings>\n"

#: Lap labels on this track: towards smaller / larger camera x (left / right of the video image).
DIRECTIONS = ("leftward", "rightward")


def read_trajectory(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample times and LED position from a ``.videoPositionTracking`` file, as stored.

    The file is a text header from ``<Start settings>`` to ``<End settings>`` (with ``clockrate``
    and the ``Fields`` line), then little-endian records
    ``<time uint32><xloc uint16><yloc uint16><xloc2 uint16><yloc2 uint16>``. The second LED
    (``xloc2``, ``yloc2``) is not returned. Nothing is cleaned: a tracker that lost the LED, or a
    frozen position, reads as stored (see ``spikepool.io.laps.tracking_lost``).

    Parameters
    ----------
    path : str or Path
        The ``.videoPositionTracking`` file.

    Returns
    -------
    t : numpy.ndarray
        float64 (sample,): acquisition clock count / ``clockrate``, in seconds.
    x, y : numpy.ndarray
        float64 (sample,): LED position in camera pixels (x to the right, y down the image).

    Raises
    ------
    SourceError
        No header, a header without ``clockrate`` or with other fields, a body that is not a whole
        number of 12-byte records, no records, or times that go back.
    """
    name = Path(path).name
    raw = Path(path).read_bytes()
    hint = "Hint: is it a Trodes .videoPositionTracking file, and was it copied whole?"
    if not raw.startswith(b"<Start settings>"):
        raise SourceError(f"{name} must start with a '<Start settings>' header; got {raw[:30]!r}. {hint}")
    end = raw.find(_END)
    if end < 0:
        raise SourceError(f"{name} must close its header with '<End settings>'; got none. {hint}")
    header = raw[:end].decode("ascii", errors="replace")
    rate = re.search(r"^clockrate:\s*([0-9.]+)\s*$", header, flags=re.MULTILINE)
    fields = re.search(r"^Fields:\s*(.*?)\s*$", header, flags=re.MULTILINE)
    if rate is None or float(rate.group(1)) <= 0:
        raise SourceError(f"{name} must give a positive 'clockrate:' in its header; got header {header!r}. {hint}")
    if fields is None or fields.group(1) != _FIELDS:
        got = fields.group(1) if fields else None
        raise SourceError(f"{name} must hold records {_FIELDS}; got Fields {got!r}. {hint}")
    body = raw[end + len(_END) :]
    if len(body) == 0 or len(body) % _RECORD.itemsize:
        raise SourceError(
            f"{name} must hold a whole, non-zero number of {_RECORD.itemsize}-byte records after the header; "
            f"got {len(body)} bytes. {hint}"
        )
    rec = np.frombuffer(body, dtype=_RECORD)
    ticks = rec["time"].astype(np.int64)
    back = np.flatnonzero(np.diff(ticks) < 0)
    if back.size:
        i = int(back[0])
        raise SourceError(
            f"{name} must hold non-decreasing times; got {ticks[i]} then {ticks[i + 1]} at record {i} "
            f"({back.size} steps back). {hint}"
        )
    t = ticks / float(rate.group(1))
    return t, rec["x"].astype(np.float64), rec["y"].astype(np.float64)


def _one_cell(cells: Any, level: str, name: str) -> Any:
    """The only non-empty entry of a MATLAB cell array (a day or an epoch of ``spikes``)."""
    if not (isinstance(cells, np.ndarray) and cells.dtype == object):
        raise SourceError(
            f"{name}: spikes must nest as spikes{{day}}{{epoch}}{{tetrode}}{{cluster}}; got a "
            f"{getattr(cells, 'dtype', type(cells).__name__)} array at the {level} level."
        )
    full = [c for c in cells.ravel() if isinstance(c, np.ndarray) and c.size]
    if len(full) != 1:
        raise SourceError(f"{name} must hold one {level} of spikes; got {len(full)} non-empty {level}s.")
    return full[0]


def _clusters(tetrode: Any) -> list[Any]:
    if isinstance(tetrode, np.ndarray) and tetrode.dtype.names:  # a bare struct array (one or more clusters)
        flat = tetrode.ravel()
        return [flat[i : i + 1] for i in range(flat.size)]
    if isinstance(tetrode, np.ndarray) and tetrode.dtype == object:
        return list(tetrode.ravel())
    return []  # an empty numeric array: tetrode not sorted


def _read_units(path: str | Path) -> list[dict]:
    """Non-empty MatClust units: tetrode and cluster (1-based), spike times (s) and time range (s)."""
    from scipy.io import loadmat

    name = Path(path).name
    try:
        mat = loadmat(str(path))
    except Exception as err:  # scipy raises ValueError, MatReadError, IndexError... on a file that is no .mat
        raise SourceError(f"{name} must be a MATLAB file; scipy could not read it: {err}.") from err
    if "spikes" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise SourceError(f"{name} must hold a 'spikes' variable; got {keys}.")
    tetrodes = _one_cell(_one_cell(mat["spikes"], "day", name), "epoch", name)
    units = []
    for i_tet, tet in enumerate(np.asarray(tetrodes, dtype=object).ravel(), start=1):
        for i_cl, cl in enumerate(_clusters(tet), start=1):
            if not (isinstance(cl, np.ndarray) and cl.size and cl.dtype.names and "time" in cl.dtype.names):
                continue
            times = np.asarray(cl["time"].ravel()[0], dtype=np.float64)
            if times.ndim == 2 and times.shape[1] != 1:
                raise SourceError(
                    f"{name}: spike times must be one column; got shape {times.shape} "
                    f"for tetrode {i_tet}, cluster {i_cl}."
                )
            times = np.sort(times.ravel())
            if times.size == 0:
                continue
            span = (
                np.asarray(cl["timerange"].ravel()[0], dtype=np.float64).ravel()
                if "timerange" in cl.dtype.names
                else ()
            )
            units.append({"tetrode": i_tet, "cluster": i_cl, "times": times, "timerange": span})
    if not units:
        raise SourceError(f"{name} must hold at least one unit with spikes; got none.")
    return units


def read_linear_track(spikes_path: str | Path, trajectory_path: str | Path, **lap_options: Any) -> neo.Block:
    """The linear-track session as one continuous ``neo.Segment``: units, position and laps.

    Parameters
    ----------
    spikes_path : str or Path
        ``spikes.mat``: MatClust units as ``spikes{day}{epoch}{tetrode}{cluster}.time`` (s).
    trajectory_path : str or Path
        ``trajectory.videoPositionTracking`` (see ``read_trajectory``).
    **lap_options
        Passed to ``spikepool.io.laps.cut_laps`` (``min_run``, ``low``, ``high``, ...).

    Returns
    -------
    neo.Block
        One Segment holding:

        - one SpikeTrain per unit with spikes (31), named and annotated ``unit_id`` (``"t1c1"``:
          tetrode 1, cluster 1, the 1-based MATLAB indices), ``tetrode`` and ``cluster`` (int);
          ``t_start``/``t_stop`` from the file's ``timerange`` (4397.0-6365.3 s);
        - the IrregularlySampledSignal ``"position"`` (sample, 2): LED x and y in camera pixels
          (dimensionless; the file gives no pixel scale), ``NaN`` where tracking is lost: before
          the rat is on the track, and after it is lifted off (the tracker then freezes);
        - the Epoch ``"laps"`` cut from x: labels ``"leftward"``/``"rightward"`` (towards smaller /
          larger camera x; the track runs diagonally across the image), array annotations ``lap``
          (int, from 0) and ``condition`` (the direction).

    Examples
    --------
    >>> import spikepool as sp  # doctest: +SKIP
    >>> block = sp.datasets.load_block("nelpy-linear-track")  # doctest: +SKIP
    >>> counts = sp.from_neo(block, align="laps")  # doctest: +SKIP
    """
    units = _read_units(spikes_path)
    t, x, y = read_trajectory(trajectory_path)
    lost = tracking_lost(t, x, y)
    x = np.where(lost, np.nan, x)
    y = np.where(lost, np.nan, y)
    spans = np.array([u["timerange"] for u in units if len(u["timerange"]) == 2])
    first = min(u["times"][0] for u in units)
    last = max(u["times"][-1] for u in units)
    t_start = min(spans[:, 0].min(), first) if spans.size else first
    t_stop = max(spans[:, 1].max(), last) if spans.size else last
    block = neo.Block(name="nelpy-linear-track", file_origin=str(spikes_path))
    seg = neo.Segment(name="linear track session")
    for u in units:
        uid = f"t{u['tetrode']}c{u['cluster']}"
        seg.spiketrains.append(
            neo.SpikeTrain(
                u["times"] * pq.s,
                t_start=t_start * pq.s,
                t_stop=t_stop * pq.s,
                name=uid,
                unit_id=uid,
                tetrode=u["tetrode"],
                cluster=u["cluster"],
            )
        )
    seg.irregularlysampledsignals.append(
        neo.IrregularlySampledSignal(
            t * pq.s,
            np.column_stack([x, y]),
            units=pq.dimensionless,
            name="position",
            array_annotations={"channel_names": np.array(["x", "y"])},
            description="LED position, camera pixels (x right, y down); NaN where tracking is lost",
            file_origin=str(trajectory_path),
        )
    )
    options = {"directions": DIRECTIONS, **lap_options}
    seg.epochs.append(cut_laps(t, x, **options))
    block.segments.append(seg)
    return block

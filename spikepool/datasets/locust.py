"""Reader for Pouzat's spike-sorted locust recordings (one text file per block, tetrode and unit).

Each file ``<experiment>_<Stim>_tet<T>_u<N>.txt`` holds one spike time a line, as SAMPLE INDICES at
15 kHz (the author's notes say seconds; they are not). Within a stimulus block the trials are
concatenated, trial k (from 0) occupying ``[k * period, k * period + duration)`` seconds; trials the
experimenter skipped leave empty slots, which are left out (a slot with no spike of any unit).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import neo
import numpy as np
import quantities as pq

from spikepool.exceptions import SourceError

__all__ = ["parse_locust_name", "read_locust_block", "read_spike_file"]

_NAME = re.compile(r"^(?P<exp>locust\d{8})_(?P<stim>.+)_tet(?P<tet>[A-Z]\d*)_u(?P<unit>\d+)\.txt$")


def parse_locust_name(path: str | Path) -> dict[str, str]:
    """Split a locust file name into experiment, stimulus block, tetrode and unit number."""
    m = _NAME.match(Path(path).name)
    if m is None:
        raise SourceError(
            f"locust file names must look like <experiment>_<Stim>_tet<T>_u<N>.txt; got {Path(path).name!r}."
        )
    return m.groupdict()


def read_spike_file(path: str | Path, sampling_rate: float) -> np.ndarray:
    """Spike times (s, float64, sorted) from a file of sample indices at ``sampling_rate`` Hz."""
    text = Path(path).read_text().split()
    try:
        samples = np.array(text, dtype=np.float64)
    except ValueError as err:
        raise SourceError(f"{Path(path).name} must hold one number a line; {err}.") from err
    return np.sort(samples / sampling_rate)


def read_locust_block(
    files: list[Path], *, period: float, duration: float, sampling_rate: float = 15000.0
) -> neo.Block:
    """Build a ``neo.Block`` with one Segment per recorded trial from locust spike files.

    Parameters
    ----------
    files : list of Path
        The experiment's spike files (any stimulus blocks, tetrodes, units).
    period : float
        Spacing of trials in the stored trains (s).
    duration : float
        Recorded time per trial (s); each Segment spans ``[0, duration)`` from its trial start.
    sampling_rate : float
        Sampling rate of the stored sample indices (Hz).

    Returns
    -------
    neo.Block
        Segments ordered by stimulus block then trial, annotated ``condition`` (the block's name
        as in the file names, e.g. ``"Citral"``), ``block_trial`` (1-based slot number within the
        block) and ``block_time`` (s, trial start within the block's file). SpikeTrains are
        named and annotated ``unit_id`` (``"u7"``; ``"D1_u1"`` when the experiment has several
        tetrodes) and ``tetrode``.
    """
    parsed = [(Path(f), parse_locust_name(f)) for f in files]
    experiments = {p["exp"] for _, p in parsed}
    if len(experiments) != 1:
        raise SourceError(f"files must come from one experiment; got {sorted(experiments)}.")
    several_tetrodes = len({p["tet"] for _, p in parsed}) > 1
    blocks: dict[str, dict[str, tuple[str, np.ndarray]]] = defaultdict(dict)
    for path, p in parsed:
        uid = f"{p['tet']}_u{p['unit']}" if several_tetrodes else f"u{p['unit']}"
        blocks[p["stim"]][uid] = (p["tet"], read_spike_file(path, sampling_rate))
    exp = experiments.pop()
    block = neo.Block(name=exp, experiment=exp, sampling_rate=sampling_rate, period=period, trial_duration=duration)
    for stim in sorted(blocks):
        units = dict(sorted(blocks[stim].items(), key=lambda kv: (len(kv[0]), kv[0])))
        all_times = np.concatenate([t for _, t in units.values()])
        slots = np.unique(np.floor(all_times / period).astype(np.int64))
        for k in slots:
            t0 = k * period
            seg = neo.Segment(
                name=f"{stim} trial {k + 1}", condition=stim, block_trial=int(k + 1), block_time=float(t0)
            )
            for uid, (tet, times) in units.items():
                lo, hi = np.searchsorted(times, [t0, t0 + period])
                rel = times[lo:hi] - t0
                if rel.size and rel[-1] >= duration:
                    raise SourceError(
                        f"spikes must fall within the {duration} s recorded per trial; unit {uid} of "
                        f"{stim} has one at {rel[-1]:.4f} s into trial {k + 1}."
                    )
                seg.spiketrains.append(
                    neo.SpikeTrain(
                        rel * pq.s,
                        t_start=0.0 * pq.s,
                        t_stop=duration * pq.s,
                        name=uid,
                        unit_id=uid,
                        tetrode=tet,
                    )
                )
            block.segments.append(seg)
    return block

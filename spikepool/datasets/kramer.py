"""Reader for the Kramer & Eden subthalamic-nucleus neuron (``10_spikes-1.mat``)."""

from __future__ import annotations

from pathlib import Path

import neo
import numpy as np
import quantities as pq

from spikepool.exceptions import SourceError

__all__ = ["read_stn_block"]


def read_stn_block(path: str | Path) -> neo.Block:
    """One Segment per trial of the STN neuron, aligned to the GO cue.

    The file holds ``train`` (50 trials x 2000 bins of 1 ms, binary), ``t`` (bin start, ms,
    -1000..999 relative to GO) and ``direction`` (0 = left, 1 = right). Each spike is placed at
    its bin's start time; each Segment spans [-1, 1) s and carries a ``GO`` Event at 0 s.

    Returns
    -------
    neo.Block
        50 Segments annotated ``condition`` (``"left"`` / ``"right"``) and ``trial_number`` (1-based),
        each with one SpikeTrain named ``"stn"``.
    """
    from scipy.io import loadmat

    mat = loadmat(str(path))
    try:
        train, t_ms, direction = mat["train"], mat["t"].ravel().astype(float), mat["direction"].ravel()
    except KeyError as err:
        raise SourceError(f"{Path(path).name} must hold 'train', 't' and 'direction'; missing {err}.") from err
    if train.shape != (direction.size, t_ms.size):
        raise SourceError(f"train must be (trials, bins) = ({direction.size}, {t_ms.size}); got {train.shape}.")
    t_start, t_stop = t_ms[0] / 1000.0, (t_ms[-1] + 1.0) / 1000.0
    block = neo.Block(name="kramer-eden-stn")
    for i, (row, d) in enumerate(zip(train, direction, strict=True)):
        seg = neo.Segment(name=f"trial {i + 1}", condition="right" if d else "left", trial_number=i + 1)
        times = np.repeat(t_ms, row.astype(np.int64)) / 1000.0
        seg.spiketrains.append(
            neo.SpikeTrain(times * pq.s, t_start=t_start * pq.s, t_stop=t_stop * pq.s, name="stn", unit_id="stn")
        )
        seg.events.append(neo.Event(np.array([0.0]) * pq.s, name="GO"))
        block.segments.append(seg)
    return block

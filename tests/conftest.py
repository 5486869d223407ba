"""Shared fixtures: a seeded rng, the real-data folder, and small in-memory Neo recordings."""

from __future__ import annotations

import os
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SPIKEPOOL_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("real-data test: SPIKEPOOL_DATA is unset (export SPIKEPOOL_DATA=../shared/data)")
    return Path(value)


def make_block(
    rng: np.random.Generator,
    n_neurons: int = 3,
    n_trials: int = 4,
    duration: float = 2.0,
    rate: float = 20.0,
    units: str = "s",
    conditions: tuple[str, ...] = ("a", "b"),
) -> neo.Block:
    """A Block with one Segment per trial, trains annotated unit_id / channel, times in ``units``."""
    scale = float(pq.Quantity(1.0, "s").rescale(units).magnitude)
    block = neo.Block(name="test")
    for k in range(n_trials):
        seg = neo.Segment(name=f"trial {k}", condition=conditions[k % len(conditions)], trial_id=k)
        for n in range(n_neurons):
            times = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
            seg.spiketrains.append(
                neo.SpikeTrain(
                    times * scale * pq.Quantity(1.0, units),
                    t_start=0.0 * pq.Quantity(1.0, units),
                    t_stop=duration * scale * pq.Quantity(1.0, units),
                    name=f"n{n}",
                    unit_id=f"u{n}",
                    channel=n + 1,
                )
            )
        block.segments.append(seg)
    return block


def brute_counts(times: np.ndarray, start: float, stop: float) -> int:
    """Independent count of spikes in [start, stop)."""
    return int(np.sum((times >= start) & (times < stop)))

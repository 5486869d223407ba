"""Shared fixtures: a seeded rng, the real-data folder, small in-memory Neo recordings and simulated responders."""

from __future__ import annotations

import os
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import spikepool as sp


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


def responders(seed: int = 5, n_each: int = 8, trials: int = 40):
    """NB counts (alpha 10) of 3 x n_each neurons in 'base' and 'stim' (alternating 1 s trials): the first n_each
    fire twice as fast under stim, the next half as fast, the last exactly as fast. Returns (counts, true
    baseline rates, true ratios)."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(np.log(10.0), 0.5, 3 * n_each))
    ratio = np.repeat([2.0, 0.5, 1.0], n_each)
    cond = np.tile([0, 1], trials // 2)
    rate = np.stack([base, base * ratio], axis=1)[:, cond]
    y = rng.poisson(rng.gamma(10.0, rate / 10.0))
    return sp.from_array(y, duration=1.0, condition=np.array(["base", "stim"])[cond]), base, ratio

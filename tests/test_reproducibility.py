"""The same seed gives the same draws in new processes with empty and with warm compile caches."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import reproducibility  # noqa: E402  (benchmarks/reproducibility.py: the child fit and the cache folders)


@pytest.mark.parametrize("sampler", ["pymc", pytest.param("nutpie", marks=pytest.mark.nutpie)])
def test_same_seed_same_draws_with_cold_and_warm_compile_caches(sampler, tmp_path):
    if sampler != "pymc" and importlib.util.find_spec(sampler) is None:
        pytest.skip(f"{sampler} is not installed (pip install 'spikepool[fast]')")
    runs = reproducibility.cold_cold_warm(sampler, tmp_path)
    draws = runs["cold 1"]
    assert draws.shape == (2, 200, 10) and np.isfinite(draws).all()
    assert np.ptp(draws[:, :, 0]) > 0  # the chains moved: equality below is not of constants
    np.testing.assert_array_equal(runs["cold 2"], draws, err_msg="two cold-cache processes gave different draws")
    np.testing.assert_array_equal(runs["warm"], draws, err_msg="a warm-cache process gave different draws")

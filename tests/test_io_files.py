"""load(): any file neo.io reads, through NIX (the path users take from acquisition systems)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_block

import spikepool as sp

nixio = pytest.importorskip("nixio", reason="NIX tests need the 'nix' extra (nixio)")


def _write_nix(block, path):
    from neo.io import NixIO

    io = NixIO(str(path), mode="ow")
    try:
        io.write_block(block)
    finally:
        io.close()


def _same_counts(a, b):
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a["neuron"].values, b["neuron"].values)
    np.testing.assert_array_equal(a["condition"].values, b["condition"].values)
    np.testing.assert_allclose(a["duration"].values, b["duration"].values)
    np.testing.assert_array_equal(a["valid"].values, b["valid"].values)


def test_nix_round_trip_gives_identical_counts(rng, tmp_path):
    block = make_block(rng, n_neurons=3, n_trials=4)
    block.segments[3].spiketrains = list(block.segments[3].spiketrains)[:2]
    path = tmp_path / "session.nix"
    _write_nix(block, path)
    direct = sp.from_neo(block, window=(0.1, 1.9), bin_size=0.2)
    loaded = sp.load(path, window=(0.1, 1.9), bin_size=0.2)
    _same_counts(direct, loaded)
    assert loaded.attrs["source"] == str(path)


def test_locust_block_through_nix(data_dir, tmp_path):
    block = sp.datasets.load_block("locust20000214")
    path = tmp_path / "locust.nix"
    _write_nix(block, path)
    _same_counts(sp.from_neo(block, window=(4.0, 7.0)), sp.load(path, window=(4.0, 7.0)))


def test_unreadable_files_get_clear_errors(tmp_path):
    garbage = tmp_path / "broken.nix"
    garbage.write_bytes(b"this is not an HDF5 file")
    with pytest.raises(sp.SourceError, match="broken.nix"):
        sp.load(garbage)
    unknown = tmp_path / "notes.qwerty"
    unknown.write_text("1 2 3")
    with pytest.raises(sp.SourceError, match="neo.io can read"):
        sp.load(unknown)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sp.load(tmp_path / "missing.nix")

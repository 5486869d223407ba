"""The spikepool command line."""

from __future__ import annotations

import numpy as np

import spikepool as sp
from spikepool.cli import main


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "locust20010214" in out and "kramer-eden-stn" in out


def test_counts_prints_summary_and_writes_netcdf(data_dir, tmp_path, capsys):
    out_file = tmp_path / "stn.nc"
    assert main(["counts", "kramer-eden-stn", "--window", "0", "0.5", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "1 neurons x 50 trials" in out
    counts = sp.open_counts(out_file)
    direct = sp.datasets.load_counts("kramer-eden-stn", window=(0.0, 0.5))
    np.testing.assert_array_equal(counts.values, direct.values)
    assert f"{int(direct.sum())} counted" in out


def test_counts_on_bad_input_exits_2_with_message(tmp_path, capsys):
    bad = tmp_path / "x.qwerty"
    bad.write_text("nothing")
    assert main(["counts", str(bad), "--window", "0", "1"]) == 2
    assert "neo.io can read" in capsys.readouterr().err
    assert main(["counts", str(tmp_path / "x.nix"), "--window", "1", "0"]) == 2
    assert "error" in capsys.readouterr().err

"""The dataset registry and the real recordings, checked against figures computed from the raw files."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import closed_port

import spikepool as sp
from spikepool import datasets

LOCUST = [
    "locust20000214",
    "locust20000421",
    "locust20000613",
    "locust20000616",
    "locust20010214",
    "locust20010217",
]


def test_registry_names_every_dataset_with_source_licence_and_checksums():
    table = sp.datasets.list_datasets()
    for name in [*LOCUST, "kramer-eden-stn"]:
        assert table.loc[name, "loadable"]
    assert table.loc["locust20010214", "n_files"] == 140
    assert table.loc["locust20010214", "licence"] == "GPL-3.0"
    reg = datasets._registry()
    for entry in reg["datasets"].values():
        src = reg["sources"][entry["source"]]
        for item in entry["files"]:
            assert len(item["sha256"]) == 64
            assert item["url"].startswith(f"https://raw.githubusercontent.com/{src['repository']}/{src['commit']}/")
    assert "Pouzat" in sp.datasets.citation("locust20010214")
    with pytest.raises(sp.DatasetError, match="Did you mean 'locust20010214'"):
        sp.datasets.load_block("locust2001214")


def test_registry_agrees_with_the_data_folder_checksums(data_dir):
    sums = dict(
        (rel.removeprefix("./"), digest)
        for digest, rel in (line.split() for line in (data_dir / "SHA256SUMS").read_text().splitlines())
    )
    entries = datasets._registry()["datasets"].values()
    files = {item["path"]: item["sha256"] for e in entries for item in e["files"]}
    assert len(files) == 472
    assert all(sums[path] == digest for path, digest in files.items())


def _raw_locust(data_dir: Path, exp: str, stim: str, unit: str) -> np.ndarray:
    (path,) = (data_dir / "locust-pouzat" / exp).glob(f"{exp}_{stim}_tet*_{unit}.txt")
    return np.loadtxt(path, ndmin=1) / 15000.0  # sample indices at 15 kHz


def test_locust20010214_block_layout(data_dir):
    block = sp.datasets.load_block("locust20010214")
    assert len(block.segments) == 359
    conditions = {s.annotations["condition"] for s in block.segments}
    assert conditions == {
        "C3H_1",
        "C3H_2",
        "C3H_3",
        "C3H_4",
        "C3H_5",
        "C3H_6",
        "Citral",
        "Mint_1",
        "Octanol_1",
        "Spontaneous_1",
        "Spontaneous_2",
        "Spontaneous_3",
        "Spontaneous_4",
        "Vanilla_1",
    }
    octanol = [s.annotations["block_trial"] for s in block.segments if s.annotations["condition"] == "Octanol_1"]
    assert octanol == [*range(1, 10), *range(13, 26)]  # trials 10-12 were skipped (data README)
    units = [st.annotations["unit_id"] for st in block.segments[0].spiketrains]
    assert units == [f"u{i}" for i in range(1, 11)]


def test_locust20010214_counts_match_the_raw_files(data_dir):
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    sp.validate_counts(counts)
    assert counts.sizes == {"neuron": 10, "trial": 359}
    np.testing.assert_allclose(counts["duration"].values, 2.0)
    # u7 in Citral, trial by trial, computed from the raw sample indices
    t = _raw_locust(data_dir, "locust20010214", "Citral", "u7")
    slot, phase = np.floor(t / 30.0), t - 30.0 * np.floor(t / 30.0)
    expected = [int(np.sum((slot == k) & (phase >= 10.0) & (phase < 12.0))) for k in range(25)]
    got = counts.sel(neuron="u7").where(counts["condition"] == "Citral", drop=True).values
    np.testing.assert_array_equal(got, expected)
    # every spike of every file is either in a 10-12 s window or reported outside
    raw = [np.loadtxt(p, ndmin=1) for p in (data_dir / "locust-pouzat" / "locust20010214").glob("*.txt")]
    assert counts.attrs["spikes_total"] == sum(r.size for r in raw)
    assert counts.values.sum() + counts.attrs["spikes_outside"] == counts.attrs["spikes_total"]
    total_u1 = sum(
        int(np.sum(((x := r / 15000.0) % 30.0 >= 10.0) & (x % 30.0 < 12.0)))
        for p, r in zip((data_dir / "locust-pouzat" / "locust20010214").glob("*.txt"), raw, strict=True)
        if p.name.endswith("_u1.txt")
    )
    assert counts.sel(neuron="u1").sum().item() == total_u1


@pytest.mark.parametrize("exp", LOCUST)
def test_every_locust_experiment_loads(data_dir, exp):
    counts = sp.datasets.load_counts(exp, window=(0.0, 2.0))
    sp.validate_counts(counts)
    assert counts.sizes["trial"] > 0
    assert counts.values.sum() + counts.attrs["spikes_outside"] == counts.attrs["spikes_total"]
    if exp == "locust20000421":  # two tetrodes; unit D1_u1 is not sorted in the later Octanol blocks
        assert "D1_u1" in counts["neuron"].values and "D2_u4" in counts["neuron"].values
        invalid = counts["valid"].sel(neuron="D1_u1").values == 0
        assert set(counts["condition"].values[invalid]) >= {"1-Octanol__10~-1_", "1-Octanol__10~-0__second"}


def test_kramer_stn_counts_match_the_binary_train(data_dir):
    from scipy.io import loadmat

    mat = loadmat(data_dir / "kramer-eden" / "10_spikes-1.mat")
    t = mat["t"].ravel()
    expected = mat["train"][:, (t >= 0) & (t < 500)].sum(axis=1)
    counts = sp.datasets.load_counts("kramer-eden-stn", window=(0.0, 0.5))
    np.testing.assert_array_equal(counts.sel(neuron="stn").values, expected)
    assert (counts["condition"].values == "left").sum() == 25
    np.testing.assert_array_equal(counts["condition"].values == "right", mat["direction"].ravel() == 1)
    binned = sp.datasets.load_counts("kramer-eden-stn", window=(-1.0, 1.0), bin_size=0.1)
    np.testing.assert_array_equal(binned.sum(("trial", "time")).values, [mat["train"].sum()])


def _copy_dataset(data_dir, tmp_path, rel):
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    shutil.copy(data_dir / rel, target)
    return target


def test_corrupted_or_missing_file_is_refused(data_dir, tmp_path, monkeypatch):
    target = _copy_dataset(data_dir, tmp_path, "kramer-eden/10_spikes-1.mat")
    monkeypatch.setenv("SPIKEPOOL_DATA", str(tmp_path))
    sp.datasets.load_block("kramer-eden-stn")  # intact copy loads
    target.write_bytes(target.read_bytes()[:-100])  # truncated
    with pytest.raises(sp.DatasetError, match="must have sha256"):
        sp.datasets.load_block("kramer-eden-stn")
    target.unlink()
    with pytest.raises(sp.DatasetError, match="must hold every file"):
        sp.datasets.load_counts("kramer-eden-stn", window=(0.0, 0.5))


@pytest.fixture
def local_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_without_data_folder_files_are_downloaded_and_verified(local_server, tmp_path, monkeypatch):
    root, url = local_server
    payload = b"0.5\n1.5\n"
    (root / "spikes.txt").write_bytes(payload)
    entry = {
        "source": "kramer-eden",
        "loader": None,
        "description": "test",
        "files": [
            {
                "path": "tiny/spikes.txt",
                "sha256": hashlib.sha256(payload).hexdigest(),
                "url": f"{url}/spikes.txt",
            }
        ],
    }
    monkeypatch.setitem(datasets._registry()["datasets"], "tiny", entry)
    monkeypatch.delenv("SPIKEPOOL_DATA", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    (path,) = sp.datasets.fetch("tiny", cache=tmp_path / "cache")
    assert path.read_bytes() == payload
    assert path == tmp_path / "cache" / "tiny" / "spikes.txt"
    (root / "spikes.txt").write_bytes(b"0.5\n")  # upstream changed: checksum no longer matches
    with pytest.raises(sp.DatasetError, match="did not match"):
        sp.datasets.fetch("tiny", cache=tmp_path / "other-cache")


def test_a_failed_download_says_what_failed_and_what_to_do_in_one_line(tmp_path, monkeypatch):
    entry = {
        "source": "kramer-eden",
        "loader": None,
        "description": "test",
        "files": [{"path": "tiny/spikes.txt", "sha256": "0" * 64, "url": f"http://127.0.0.1:{closed_port()}/x"}],
    }
    monkeypatch.setitem(datasets._registry()["datasets"], "tiny", entry)
    monkeypatch.delenv("SPIKEPOOL_DATA", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with pytest.raises(sp.DatasetError) as err:
        sp.datasets.fetch("tiny", cache=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and len(message) < 400
    assert "tiny/spikes.txt must be downloaded when SPIKEPOOL_DATA is unset" in message
    assert "no connection to 127.0.0.1 (ConnectionError)" in message
    assert "Hint: set SPIKEPOOL_DATA to a folder that holds the recordings" in message
    # a cache folder that cannot be made is named, with what to do about it
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(sp.DatasetError, match=r"got \w+Error: .*make the download cache '.*not-a-folder.*' writable"):
        sp.datasets.fetch("tiny", cache=tmp_path / "not-a-folder")

"""The spikepool command line, run as a subprocess like a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import closed_port

import spikepool as sp
from spikepool import cli

EXE = str(Path(sys.executable).with_name("spikepool"))


def run(*args, env=None, timeout=600):
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_datasets_lists_the_registry():
    out = run("datasets")
    assert out.returncode == 0
    assert "locust20010214" in out.stdout and "kramer-eden-stn" in out.stdout


def test_counts_prints_summary_and_writes_netcdf(data_dir, tmp_path):
    out_file = tmp_path / "stn.nc"
    out = run("counts", "kramer-eden-stn", "--window", "0", "0.5", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    assert "1 neurons x 50 trials" in out.stdout
    counts = sp.open_counts(out_file)
    direct = sp.datasets.load_counts("kramer-eden-stn", window=(0.0, 0.5))
    np.testing.assert_array_equal(counts.values, direct.values)
    assert f"{int(direct.sum())} counted" in out.stdout


def test_offline_without_a_data_folder_says_what_to_do(tmp_path):
    # no network: every HTTPS request goes to a local proxy port nothing listens on
    port = closed_port()
    env = {**os.environ, "HTTPS_PROXY": f"http://127.0.0.1:{port}", "https_proxy": f"http://127.0.0.1:{port}"}
    env.update(NO_PROXY="", no_proxy="", XDG_CACHE_HOME=str(tmp_path))  # an empty download cache
    env.pop("SPIKEPOOL_DATA", None)
    out = subprocess.run([EXE, "counts", "locust20010214"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("spikepool: error:")]
    assert line.startswith("spikepool: error: locust-pouzat/")
    assert "must be downloaded when SPIKEPOOL_DATA is unset" in line
    assert "no connection to" in line and "Hint: set SPIKEPOOL_DATA to a folder" in line
    assert "Traceback" not in out.stderr and "HTTPSConnectionPool" not in line


def test_check_prints_the_report(data_dir):
    out = run("check", "locust20010214", "--window", "10", "12")
    assert out.returncode == 0, out.stderr
    assert "check_counts(dispersion='neuron', condition='condition'): OK" in out.stdout


def test_several_sources_are_sessions_of_one_hierarchy(data_dir, tmp_path):
    sources = ["locust20010217", "locust20000616"]
    check = run("check", *sources, "--window", "2", "4")
    assert check.returncode == 0, check.stderr
    assert "session='neuron_session'" in check.stdout and "session_levels" in check.stdout
    folder = tmp_path / "sessions"
    argv = ["--window", "2", "4", "--draws", "200", "--tune", "300", "--chains", "2", "--no-compare"]
    out = run("fit", *sources, *argv, "--out", str(folder))
    assert out.returncode == 0, out.stderr
    rates = pd.read_csv(folder / "rates.csv")
    assert len(rates) == 10 + 4 and rates["neuron"].str.startswith(("locust20010217/", "locust20000616/")).all()
    result = sp.load_result(folder / "result.nc")
    assert result.spec["session"] == "neuron_session" and result.spec["condition"] is None
    assert result.posterior["mu_session"]["session"].values.tolist() == sources


def test_fit_then_report_on_the_locust_data(data_dir, tmp_path):
    folder = tmp_path / "report"
    out = run(
        "fit",
        "locust20010214",
        "--window",
        "10",
        "12",
        "--draws",
        "300",
        "--tune",
        "300",
        "--chains",
        "2",
        "--no-compare",
        "--neuron-effect",
        "on",
        "--baseline",
        "Spontaneous_1",
        "--out",
        str(folder),
    )
    assert out.returncode == 0, out.stderr
    assert {p.name for p in folder.iterdir()} == {"report.html", "result.nc", "rates.csv", "responsive.csv"}
    # --baseline: the responsive-unit table (every unit x the 13 other blocks) and its report section
    responsive = pd.read_csv(folder / "responsive.csv")
    assert len(responsive) == 10 * 13 and set(responsive["responsive"]) <= {"up", "down", "none"}
    assert "responsive against Spontaneous_1" in out.stdout
    rates = pd.read_csv(folder / "rates.csv")
    assert len(rates) == 10 * 14 and {"raw_rate", "rate", "shrinkage", "kappa"} <= set(rates.columns)
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 6 and "Shrinkage" in page
    assert "Responsive units (against Spontaneous_1)" in page
    result = sp.load_result(folder / "result.nc")
    assert result.spec["condition"] == "condition" and result.spec["neuron_effect"] is True
    table = result.responsive("Spontaneous_1")
    np.testing.assert_array_equal(
        responsive.set_index(["neuron", "condition"])["responsive"].values, table["responsive"].values.ravel()
    )
    assert "tau_neuron" in result.posterior
    again = run("report", str(folder / "result.nc"), "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "report.html").stat().st_size > 100_000


def test_fit_with_method_laplace(data_dir, tmp_path):
    """``--method laplace``: the fast path fits, writes the same files and says how it was checked (on these 10
    units the hyperparameters' Pareto k is about 0.9: ten neurons do not make tau_neuron's posterior Gaussian,
    and the fit warns); the time-resolved model has no fast path and is refused before anything is fitted."""
    folder = tmp_path / "laplace"
    out = run("fit", "locust20010214", "--window", "10", "12", "--method", "laplace", "--out", str(folder))
    assert out.returncode == 0, out.stderr
    assert "laplace_hyper" in out.stdout and "laplace_units" in out.stdout  # the fit's checks ran
    result = sp.load_result(folder / "result.nc")
    assert result.spec["method"] == "laplace" and "tau_neuron" in result.posterior
    page = (folder / "report.html").read_text()
    assert "nested Laplace approximation" in page and "<th>partial/poisson" in page  # the LOO comparison ran
    refused = run("fit", "locust20010214", "--window", "8", "14", "--bin-size", "0.05", "--method", "laplace",
                  "--out", str(tmp_path / "x"))  # fmt: skip
    assert refused.returncode != 0 and "--method laplace is for window counts" in refused.stderr
    assert "loading" not in refused.stderr


def test_a_baseline_that_is_not_a_condition_is_refused_before_fitting(data_dir, tmp_path):
    argv = ["fit", "locust20010214", "--window", "10", "12", "--out", str(tmp_path / "x")]
    out = run(*argv, "--baseline", "Spontaneus_1")
    assert out.returncode != 0 and "Did you mean 'Spontaneous_1'" in out.stderr and "fitting" not in out.stderr
    out = run(*argv, "--sparse-responses")
    assert out.returncode != 0 and "--sparse-responses needs --baseline" in out.stderr
    out = run(*argv, "--baseline", "Spontaneous_1", "--sparse-responses", "--bin-size", "0.05")
    assert out.returncode != 0 and "--sparse-responses is for window counts" in out.stderr


def test_sparse_responses_fits_the_point_mass_model():
    args = cli._parser().parse_args(
        [
            "fit",
            "locust20010214",
            "--window",
            "10",
            "12",
            "--baseline",
            "Spontaneous_1",
            "--sparse-responses",
            "--out",
            "x",
        ]
    )
    model = cli._model(args, "condition", "negbin", False)
    assert model.baseline == "Spontaneous_1" and model.spec()["baseline"] == "Spontaneous_1"
    args = cli._parser().parse_args(
        ["fit", "locust20010214", "--window", "10", "12", "--baseline", "Spontaneous_1", "--out", "x"]
    )
    assert cli._model(args, "condition", "negbin", False).baseline is None


def test_fit_with_com_poisson_compares_it_with_the_nb_and_the_poisson(data_dir, tmp_path):
    # the STN neuron before GO fires more regularly than Poisson (Fano 0.64-0.78)
    check = run("check", "kramer-eden-stn", "--window", "-1", "0", "--likelihood", "com_poisson")
    assert check.returncode == 0, check.stderr
    assert "likelihood='com_poisson'" in check.stdout
    folder = tmp_path / "com"
    argv = ["--window", "-1", "0", "--likelihood", "com_poisson", "--pooling", "none", "--draws", "300"]
    out = run("fit", "kramer-eden-stn", *argv, "--tune", "300", "--chains", "2", "--out", str(folder))
    assert out.returncode == 0, out.stderr
    result = sp.load_result(folder / "result.nc")
    assert result.spec["likelihood"] == "com_poisson" and "nu" in result.posterior
    page = (folder / "report.html").read_text()
    assert "COM-Poisson, variance/mean summed from the pmf" in page and "y ~ COM-Poisson(mean" in page
    # the LOO table holds the three fits: COM-Poisson, NB and Poisson
    loo = page[page.index("LOO)</h2>") :]
    assert all(f"<th>none/{name}" in loo for name in ("com_poisson/neuron", "neuron", "poisson"))


def test_fit_with_bin_size_fits_the_time_resolved_model(data_dir, tmp_path):
    folder = tmp_path / "psth"
    argv = ["kramer-eden-stn", "--window", "-0.5", "0.5", "--bin-size", "0.025"]
    common = ["--draws", "150", "--tune", "150", "--chains", "1", "--no-compare", "--out", str(folder)]
    out = run("fit", *argv, *common, "--baseline", "left")
    assert out.returncode == 0, out.stderr
    assert "course_shrinkage" in out.stdout and {p.name for p in folder.iterdir()} == {
        "report.html",
        "result.nc",
        "rates.csv",
        "responsive.csv",
    }
    result = sp.load_result(folder / "result.nc")
    assert isinstance(result, sp.results.PSTHResult) and result.spec["condition"] == "condition"
    # rates.csv: one row per (neuron, condition, bin); its raw PSTH is the trials' mean count per bin width
    counts = sp.datasets.load_counts("kramer-eden-stn", window=(-0.5, 0.5), bin_size=0.025)
    rates = pd.read_csv(folder / "rates.csv").set_index(["neuron", "condition", "time"])
    assert len(rates) == 2 * 40 and {"raw_rate", "rate", "lower", "upper", "course_shrinkage"} <= set(rates.columns)
    for label in ("left", "right"):
        direct = counts.isel(neuron=0).where(counts["condition"] == label, drop=True).mean("trial") / 0.025
        np.testing.assert_allclose(rates.xs(("stn", label))["raw_rate"].values, direct.values, rtol=1e-12)
    page = (folder / "report.html").read_text()
    assert "Time courses" in page and "Variability over time" in page and page.count("data:image/png") >= 5
    # --baseline over time: one row per (neuron, condition, bin), the same as result.responsive, and a section
    responsive = pd.read_csv(folder / "responsive.csv").set_index(["neuron", "condition", "time"])
    table = result.responsive("left")
    assert len(responsive) == 40 and "responsive against left" in out.stdout
    np.testing.assert_array_equal(responsive["responsive"].values, table["responsive"].values.ravel())
    assert "Responsive units (against left)" in page and "bins_up" in page
    check = run("check", *argv)
    assert check.returncode == 0 and "check_binned" in check.stdout and "sparse_bins" in check.stdout


def _garbage(tmp_path):
    path = tmp_path / "broken.nix"
    path.write_bytes(b"not a recording")
    return str(path)


BAD = [
    ("missing file", lambda t: ["check", str(t / "missing.nix"), "--window", "0", "1"], "does not exist"),
    ("unreadable file", lambda t: ["check", _garbage(t), "--window", "0", "1"], "broken.nix"),
    ("window outside", lambda t: ["check", "locust20010214", "--window", "10", "40"], "inside the recorded segment"),
    (
        "unknown dataset",
        lambda t: ["fit", "locust2001214", "--window", "10", "12", "--out", str(t)],
        "Did you mean 'locust20010214'",
    ),
    (
        "unknown option value",
        lambda t: ["fit", "locust20010214", "--window", "10", "12", "--pooling", "partal", "--out", str(t)],
        "invalid choice: 'partal'",
    ),
    ("stop before start", lambda t: ["check", "kramer-eden-stn", "--window", "1", "0"], "stop > start"),
    (
        "neuron effect without conditions",
        lambda t: [
            "fit",
            "kramer-eden-stn",
            "--window",
            "0",
            "0.5",
            "--condition",
            "none",
            "--neuron-effect",
            "on",
            "--out",
            str(t),
        ],
        "needs conditions and partial pooling",
    ),
    ("not a result", lambda t: ["report", _garbage(t), "--out", str(t)], "result file written by 'spikepool fit'"),
    (
        "bin size not dividing the window",
        lambda t: ["fit", "locust20010214", "--window", "8", "14", "--bin-size", "0.07", "--out", str(t)],
        "bin_size must divide the window length; got window (8.0, 14.0) s",
    ),
    (
        "bin size with several sessions",
        lambda t: [
            "fit",
            "locust20010214",
            "locust20010217",
            "--window",
            "8",
            "14",
            "--bin-size",
            "0.05",
            "--out",
            str(t),
        ],
        "--bin-size fits one recording (HierarchicalPSTH has no session level); got 2 sources",
    ),
    (
        "sparse responses with crossed effects",
        lambda t: [
            "fit",
            "locust20010214",
            "--window",
            "10",
            "12",
            "--baseline",
            "Spontaneous_1",
            "--sparse-responses",
            "--neuron-effect",
            "on",
            "--out",
            str(t),
        ],
        "--sparse-responses needs no crossed neuron effects; got --neuron-effect on",
    ),
    (
        "bin size without pooling",
        lambda t: ["check", "locust20010214", "--window", "8", "14", "--bin-size", "0.05", "--pooling", "none"],
        "--pooling must be 'partial' with --bin-size",
    ),
    (
        "bin size with a neuron-effect choice",
        lambda t: ["check", "locust20010214", "--window", "8", "14", "--bin-size", "0.05", "--neuron-effect", "off"],
        "--neuron-effect must be 'auto' with --bin-size",
    ),
]


@pytest.mark.parametrize(("case", "argv", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(data_dir, tmp_path, case, argv, match):
    out = run(*argv(tmp_path))
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if not line.startswith(("loading", "reading"))]
    assert len(lines) == 1, out.stderr
    assert match in lines[0] and "Traceback" not in out.stderr


@pytest.mark.parametrize("error", [KeyError("boom"), ValueError("operands could not be broadcast")])
def test_a_bug_is_reported_as_an_internal_error_with_its_traceback(monkeypatch, capsys, error):
    # a plain ValueError from inside spikepool is a bug, not bad input (spikepool's input errors are SpikepoolError)
    from spikepool import cli

    def broken():
        raise error

    monkeypatch.setattr(cli, "list_datasets", broken)
    assert cli.main(["datasets"]) == cli.EXIT_INTERNAL
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and "internal error" in line and type(error).__name__ in line
    path = Path(line.split("please report it with ")[1].split(")")[0])
    assert "Traceback" in path.read_text() and "broken" in path.read_text()
    path.unlink()


def test_every_input_error_spikepool_raises_is_a_spikepool_error():
    # the CLI's split between bad input and bugs rests on this: no bare ValueError / TypeError raised in the package
    import re

    package = Path(sp.__file__).parent
    bare = [
        f"{path.relative_to(package)}:{k}"
        for path in package.rglob("*.py")
        for k, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"raise (ValueError|TypeError)\(", line)
    ]
    assert bare == []


def test_fit_with_a_formula_fits_the_regression(data_dir, tmp_path):
    folder = tmp_path / "glm"
    formula = "count ~ scale(block_trial) + (1 + scale(block_trial) | neuron)"
    argv = ["locust20010214", "--window", "10", "12", "--formula", formula]
    out = run("fit", *argv, "--draws", "100", "--tune", "150", "--chains", "1", "--no-compare", "--out", str(folder))
    assert out.returncode == 0, out.stderr
    result = sp.load_result(folder / "result.nc")
    assert isinstance(result, sp.GLMResult) and result.spec["formula"] == formula
    table = pd.read_csv(folder / "coefficients.csv")
    assert set(table["coef"]) == {"Intercept", "scale(block_trial)"} and len(table) == 20
    np.testing.assert_allclose(table["mean"], result.coefficients().to_dataframe()["mean"], rtol=1e-12)
    page = (folder / "report.html").read_text()
    assert "Predicted rates" in page and "scale(block_trial) per neuron" in page
    assert "scale(block_trial)" in out.stdout  # the neurons' slopes are printed
    check = run("check", *argv)
    assert check.returncode == 0 and "slope_no_variation" in check.stdout  # checked, and passed


def test_fit_with_shared_factors_writes_the_variance_partition(data_dir, tmp_path):
    folder = tmp_path / "shared"
    argv = [
        "locust20010214",
        "--window",
        "10",
        "11.5",
        "--formula",
        "count ~ condition + (1 | neuron)",
        "--shared",
        "1",
    ]
    out = run("fit", *argv, "--draws", "100", "--tune", "150", "--chains", "1", "--no-compare", "--out", str(folder))
    assert out.returncode == 0, out.stderr
    result = sp.load_result(folder / "result.nc")
    assert result.spec["shared"] == 1 and result.posterior.sizes["factor"] == 1
    table = pd.read_csv(folder / "variance_partition.csv")
    assert len(table) == 10 and {"shared_mean", "private_mean", "poisson_mean", "fano_private"} <= set(table.columns)
    total = table[["poisson_mean", "private_mean", "shared_mean"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0)
    assert "Shared variability" in (folder / "report.html").read_text()
    assert "shares of each neuron's count variance" in out.stdout


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--formula", "count ~ block_trial + (1 | nueron)"], "Did you mean 'neuron'"),
        (
            ["--formula", "count ~ block_trial + (1 | neuron)", "--bin-size", "0.05"],
            "cannot be combined with --bin-size",
        ),
        (["--formula", "count ~ block_trial + (1 | neuron)", "--pooling", "none"], "cannot be combined with --pooling"),
        (["--shared", "1"], "--shared needs --formula"),
    ],
)
def test_a_formula_that_cannot_be_fitted_is_one_line(data_dir, tmp_path, extra, match):
    out = run("fit", "locust20010214", "--window", "10", "12", *extra, "--out", str(tmp_path / "x"))
    assert out.returncode == 2 and match in out.stderr and "Traceback" not in out.stderr

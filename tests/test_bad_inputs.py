"""Bad inputs across loaders, checks, models, results and the CLI: one table, one contract.

Every case must raise the stated error type with a message that names the input, says what was expected
and what was got, before any sampling starts (``pymc.sample`` is replaced by a tripwire that fails the test
if it is reached), and must leave the caller's objects unchanged.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pymc
import pytest
import xarray as xr

import spikepool as sp
from spikepool import cli
from spikepool.results.normal import NormalNormalResult


def _counts(n_neurons=4, n_trials=6, conditions=None, seed=1):
    counts, _ = sp.simulate_counts(n_neurons, n_trials, conditions=conditions, mu=1.5, tau=0.4, alpha=5.0, seed=seed)
    return counts


def _silent():
    return sp.from_array(np.zeros((3, 5), dtype=int), duration=1.0)


def _nan_duration():
    counts = _counts()
    return counts.assign_coords(duration=("trial", np.r_[np.nan, counts["duration"].values[1:]]))


def _fit(counts, **kwargs):
    settings = {"draws": 20, "tune": 20, "chains": 1, "random_seed": 0, "progressbar": False, **kwargs}
    return lambda: sp.HierarchicalNegBinom(dispersion="shared", sampler="pymc").fit(counts, **settings)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A counts file, a corrupted (truncated) result file, a non-netCDF file and a NormalNormal result file."""
    folder = tmp_path_factory.mktemp("bad")
    counts = _counts()
    counts.to_netcdf(folder / "counts.nc")
    (folder / "notes.nc").write_text("these are my notes, not netCDF\n")
    nn = NormalNormalResult  # a real NormalNormal fit, written by to_netcdf, then truncated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sp.NormalNormal(fixed={"tau": 1.0}).fit(
            [1.0, 2.0, 0.5], [1.0, 1.0, 1.0], draws=50, tune=50, chains=1, random_seed=0, progressbar=False
        )
    fit.to_netcdf(folder / "normal.nc")
    assert isinstance(nn.from_netcdf(folder / "normal.nc"), nn)
    data = (folder / "normal.nc").read_bytes()
    (folder / "truncated.nc").write_bytes(data[: len(data) // 3])
    return folder


@pytest.fixture(autouse=True)
def tripwire(monkeypatch):
    """Fail if sampling starts: every case must be refused before ``pymc.sample``."""

    def sample(*args, **kwargs):
        raise AssertionError("sampling started before the bad input was refused")

    monkeypatch.setattr(pymc, "sample", sample)


# (id, inputs factory, call taking the inputs, error type, message pattern)
CASES = [
    # from the issue
    ("counts with 0 trials", lambda: [_counts().isel(trial=[])], lambda c: _fit(c)(), sp.CountsError, r"at least one neuron, one trial; got 0 trials"),
    ("draws=-5", lambda: [_counts()], lambda c: _fit(c, draws=-5)(), ValueError, r"draws must be an integer >= 1; got -5"),
    ("all-zero counts", lambda: [_silent()], lambda c: _fit(c)(), sp.IdentifiabilityError, r"some neuron must fire .* got 0 spikes in 15 valid"),
    ("load_result on a counts file", lambda: [], None, sp.SourceError, r"spikepool result .* counts file: read it with sp.open_counts"),
    ("fractional float counts", lambda: [_counts().astype(float) + 0.5], lambda c: _fit(c)(), sp.CountsError, r"non-negative integers; neuron 'n0', trial 0 holds \d+\.5"),
    # sampler settings
    ("chains=0", lambda: [_counts()], lambda c: _fit(c, chains=0)(), ValueError, r"chains must be an integer >= 1; got 0"),
    ("tune=1.5", lambda: [_counts()], lambda c: _fit(c, tune=1.5)(), ValueError, r"tune must be an integer >= 0; got 1.5"),
    ("random_seed='abc'", lambda: [_counts()], lambda c: _fit(c, random_seed="abc")(), ValueError, r"random_seed must be None, an integer >= 0 .* got 'abc'"),
    ("misspelt sampler keyword", lambda: [_counts()], lambda c: _fit(c, target_acept=0.9)(), TypeError, r"got 'target_acept'. Did you mean 'target_accept'\?"),
    ("target_accept=1.5", lambda: [_counts()], lambda c: _fit(c, target_accept=1.5)(), ValueError, r"target_accept must be a number in \(0, 1\); got 1.5"),
    ("sampler keyword spikepool sets", lambda: [_counts()], lambda c: _fit(c, nuts_sampler="numpyro")(), TypeError, r"'nuts_sampler' is set by spikepool"),
    ("NormalNormal draws=0", lambda: [np.array([1.0, 2.0]), np.array([1.0, 1.0])], lambda y, s: sp.NormalNormal().fit(y, s, draws=0), ValueError, r"draws must be an integer >= 1; got 0"),
    # counts, checks and models
    ("counts as a numpy array", lambda: [np.ones((3, 4), dtype=int)], lambda c: _fit(c)(), TypeError, r"counts must be an xarray.DataArray; got ndarray"),
    ("NaN durations", lambda: [_nan_duration()], lambda c: _fit(c)(), sp.IdentifiabilityError, r"positive, finite duration .* missing \(NaN\)"),
    ("condition not a coordinate", lambda: [_counts()], lambda c: sp.check_counts(c, condition="odour"), ValueError, r"condition must name a coordinate on 'trial'; got 'odour'"),
    ("misspelt dispersion", lambda: [], lambda: sp.HierarchicalNegBinom(dispersion="nueron"), ValueError, r"dispersion must be one of .* got 'nueron'. Did you mean 'neuron'\?"),
    ("neuron_effect='yes'", lambda: [], lambda: sp.HierarchicalNegBinom(condition="condition", neuron_effect="yes"), ValueError, r"neuron_effect must be True, False or 'auto'; got 'yes'"),
    ("one trial per neuron", lambda: [_counts(n_trials=1)], lambda c: _fit(c)(), sp.IdentifiabilityError, r"variance_components"),
    # loaders
    ("window with stop <= start", lambda: [{"u1": np.array([0.1, 0.2])}], lambda t: sp.from_spike_times(t, [0.0], window=(0.5, 0.1)), sp.WindowError, r"window"),
    ("trial_starts empty", lambda: [{"u1": np.array([0.1, 0.2])}], lambda t: sp.from_spike_times(t, [], window=(0.0, 0.5)), sp.SourceError, r"trial_starts must hold at least one trial; got none"),
    ("duplicate unit ids (str)", lambda: [{1: np.array([0.1]), "1": np.array([0.2])}], lambda t: sp.from_spike_times(t, [0.0], window=(0, 0.5)), sp.NeuronKeyError, r"neuron ids must be unique as strings; got \[1, '1'\]"),
    ("conditions of the wrong length", lambda: [{"u1": np.array([0.1])}], lambda t: sp.from_spike_times(t, [0.0, 1.0], window=(0, 0.5), conditions=["a"]), sp.SourceError, r"one label per trial; got 1 labels for 2 trials"),
    # results
    ("ci_prob=1.5 in empirical Bayes", lambda: [_counts()], lambda c: sp.fit_empirical_bayes(c, ci_prob=1.5), ValueError, r"ci_prob must be a probability in \(0, 1\); got 1.5"),
    ("ci_prob=0 in a result", lambda: [], None, ValueError, r"ci_prob must be a probability in \(0, 1\); got 0"),
    ("corrupted result file", lambda: [], None, sp.SourceError, r"netCDF file written by result.to_netcdf; could not read .*truncated"),
    ("a text file as a result", lambda: [], None, sp.SourceError, r"could not read .*notes.nc"),
    ("NormalNormal result read as a FitResult", lambda: [], None, sp.SourceError, r"must hold a HierarchicalNegBinom result; got a NormalNormal result .* sp.load_result\(path\) opens any"),
    ("missing result file", lambda: [], None, FileNotFoundError, r"existing result file .* got '.*nothere.nc'"),
    # counts helpers, sessions, datasets and pooling
    ("from_array duration of the wrong length", lambda: [np.ones((2, 3), dtype=int)], lambda v: sp.from_array(v, duration=[1.0, 2.0]), sp.ArgumentError, r"duration must be one number or one value per trial, shape \(3,\); got shape \(2,\)"),
    ("a text file as counts", lambda: [], None, sp.SourceError, r"netCDF file of counts .* could not read .*notes.nc"),
    ("split_sessions of a numpy array", lambda: [np.ones((2, 3), dtype=int)], lambda c: sp.split_sessions(c), TypeError, r"counts must be an xarray.DataArray; got ndarray"),
    ("dataset name not a str", lambda: [], lambda: sp.datasets.citation(["kramer-eden-stn"]), TypeError, r"name must be a str, a registered dataset's name; got list"),
    ("check_sampling of draws without a chain dim", lambda: [np.linspace(0, 1, 50)], lambda z: sp.check_sampling(xr.Dataset({"mu": ("draw", z)})), sp.ArgumentError, r"posterior variables must have dims 'chain' and 'draw'; got \{'mu': \('draw',\)\}"),
    ("compare_pooling condition not a coordinate", lambda: [_counts()], lambda c: sp.compare_pooling(c, condition="odour"), sp.ArgumentError, r"condition must name a coordinate on 'trial'; got 'odour'"),
    ("compare_pooling variant misspelt", lambda: [_counts()], lambda c: sp.compare_pooling(c, variants={"x": {"nuron_effect": True}}), TypeError, r"got 'nuron_effect' in 'x'. Did you mean 'neuron_effect'\?"),
    ("simulate_counts tau=-1", lambda: [], lambda: sp.simulate_counts(3, 5, tau=-1.0), sp.ArgumentError, r"tau must be finite and >= 0; got -1.0"),
    ("simulate_counts n_trials=2.5", lambda: [], lambda: sp.simulate_counts(3, 2.5), sp.ArgumentError, r"n_trials must be an integer >= 1; got 2.5"),
    ("simulate_binned rate=0", lambda: [], lambda: sp.simulate_binned(3, 5, 4, rate=0.0), sp.ArgumentError, r"rate must be finite and > 0; got 0.0"),
    ("simulate_sessions without sessions", lambda: [], lambda: sp.simulate_sessions([], 5), sp.ArgumentError, r"n_neurons must be a sequence of one size per session; got \[\]"),
    ("NormalNormal priors not a dict", lambda: [], lambda: sp.NormalNormal(priors=3), sp.ArgumentTypeError, r"priors must be a dict of prior settings; got int"),
    ("HierarchicalNegBinom priors not a dict", lambda: [], lambda: sp.HierarchicalNegBinom(priors=[1]), sp.ArgumentTypeError, r"priors must be a dict of prior settings; got list"),
    ("RandomEffectsNormal fixed not a dict", lambda: [], lambda: sp.RandomEffectsNormal(fixed=0.5), sp.ArgumentTypeError, r"fixed must be a dict of parameter values; got float"),
]  # fmt: skip

FILE_CASES = {
    "load_result on a counts file": lambda f: sp.load_result(f / "counts.nc"),
    "corrupted result file": lambda f: sp.load_result(f / "truncated.nc"),
    "a text file as a result": lambda f: sp.load_result(f / "notes.nc"),
    "NormalNormal result read as a FitResult": lambda f: sp.FitResult.from_netcdf(f / "normal.nc"),
    "missing result file": lambda f: sp.load_result(f / "nothere.nc"),
    "ci_prob=0 in a result": lambda f: NormalNormalResult.from_netcdf(f / "normal.nc").summary(ci_prob=0),
    "a text file as counts": lambda f: sp.open_counts(f / "notes.nc"),
}


@pytest.mark.parametrize(("name", "make", "call", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_before_sampling_and_inputs_are_unchanged(name, make, call, error, match, files):
    inputs = make()
    before = copy.deepcopy(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)  # check warnings are not what is tested here
        with pytest.raises(error, match=match):
            FILE_CASES[name](files) if call is None else call(*inputs)
    for was, now in zip(before, inputs, strict=True):
        if isinstance(was, xr.DataArray):
            xr.testing.assert_identical(was, now)
        elif isinstance(was, dict):
            assert was.keys() == now.keys() and all(np.array_equal(was[k], now[k]) for k in was)
        else:
            np.testing.assert_array_equal(was, now)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["fit", "nosuchdataset", "--window", "0", "1", "--out", "{tmp}"], "nosuchdataset"),
        (["fit", "{counts}", "--window", "0", "1", "--draws", "-5", "--out", "{tmp}"], "draws must be an integer >= 1"),
        (["report", "{counts}", "--out", "{tmp}"], "counts file: read it with sp.open_counts"),
        (["report", "{tmp}/nothere.nc", "--out", "{tmp}"], "nothere.nc"),
    ],
    ids=["unknown dataset", "negative draws", "report of a counts file", "report of a missing file"],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, match, files, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, counts=files / "counts.nc") for a in argv]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        status = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err and err[-1].startswith("spikepool: error:") and match in err[-1], err
    assert "Traceback" not in "\n".join(err)


def test_whole_number_float_counts_are_accepted_on_a_copy():
    counts = _counts(n_trials=8)
    mask = counts["trial"] < 6
    floats = counts.where(mask, drop=True)  # the xarray idiom: float64, NaN-free after drop
    assert floats.dtype == np.float64
    kept = floats.copy(deep=True)
    checked = sp.validate_counts(floats)
    assert checked.dtype == np.int64 and checked is not floats
    np.testing.assert_array_equal(checked.values, counts.isel(trial=slice(0, 6)).values)
    xr.testing.assert_identical(floats, kept)  # the caller's array is not cast in place
    report = sp.check_counts(floats, dispersion="shared")
    assert report.ok and report.summary["spikes"].sum() == counts.isel(trial=slice(0, 6)).sum()


def test_overlapping_trial_windows_warn_and_record_the_recounted_spikes():
    times = {"u1": np.array([0.1, 0.4, 0.6, 1.2, 1.3]), "u2": np.array([0.55, 0.7])}
    with pytest.warns(sp.SpikepoolWarning, match=r"3 trial\(s\) sharing time .* 4 spike\(s\) are counted in more"):
        counts = sp.from_spike_times(times, [0.0, 0.5, 1.0], window=(0.0, 0.8))
    # brute force: each spike counted once per window holding it
    brute = [[sum(a <= t < a + 0.8 for t in ts) for a in (0.0, 0.5, 1.0)] for ts in times.values()]
    np.testing.assert_array_equal(counts.values, brute)
    assert counts.attrs["spikes_total"] == 7 and counts.attrs["overlapping_trials"] == 3
    assert counts.attrs["spikes_recounted"] == int(counts.sum()) - 7 == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # touching windows [0, 0.5), [0.5, 1.0) do not overlap
        apart = sp.from_spike_times(times, [0.0, 0.5], window=(0.0, 0.5))
    assert apart.attrs["overlapping_trials"] == 0 and apart.attrs["spikes_recounted"] == 0

"""check_counts on the real locust recording, against figures computed from the raw spike files."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

import spikepool as sp


@pytest.fixture(scope="module")
def raw_cells(data_dir):
    """{(unit, block): counts per recorded trial in [10, 12) s}, straight from the 15 kHz sample files."""
    folder = data_dir / "locust-pouzat" / "locust20010214"
    times = defaultdict(dict)
    for path in folder.glob("*.txt"):
        stim, unit = re.match(r"locust20010214_(.+)_tetB_(u\d+)\.txt", path.name).groups()
        times[stim][unit] = np.loadtxt(path, ndmin=1) / 15000.0
    cells = {}
    for stim, units in times.items():
        slots = np.unique(np.floor(np.concatenate(list(units.values())) / 30.0))  # recorded trials
        for unit, t in units.items():
            phase = t - 30.0 * np.floor(t / 30.0)
            inside = (phase >= 10.0) & (phase < 12.0)
            cells[unit, stim] = np.array([np.sum(inside & (np.floor(t / 30.0) == k)) for k in slots])
    return cells


@pytest.fixture(scope="module")
def locust(data_dir):
    return sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))


def test_locust_report_matches_raw_trial_counts_silence_and_fano(locust, raw_cells):
    report = sp.check_counts(locust, dispersion="neuron", condition="condition")
    assert report.ok
    s = report.summary
    for (unit, stim), y in raw_cells.items():
        assert s["cell_trials"].sel(neuron=unit, condition=stim).item() == y.size
    assert s["cell_trials"].sel(condition="Octanol_1").values.tolist() == [22] * 10
    # silent neurons: none of the ten units is silent in 10-12 s
    raw_spikes = {u: sum(y.sum() for (uu, _), y in raw_cells.items() if uu == u) for u in s["neuron"].values}
    assert all(raw_spikes[u] > 0 for u in raw_spikes) and not report.find("silent_neuron")
    np.testing.assert_array_equal(s["spikes"].values, [raw_spikes[u] for u in s["neuron"].values])
    # pooled within-odour Fano factor: sum of squared deviations / mean, over degrees of freedom
    for unit in s["neuron"].values:
        d = df = 0.0
        for (u, _), y in raw_cells.items():
            if u == unit and y.size >= 2 and y.mean() > 0:
                d += ((y - y.mean()) ** 2).sum() / y.mean()
                df += y.size - 1
        assert s["fano"].sel(neuron=unit).item() == pytest.approx(d / df, rel=1e-10)
    (summary,) = report.find("dispersion_summary")
    assert summary.message.startswith("Fano factor (within condition, 95% interval): 10 of 10 neurons overdispersed")


def test_single_trial_subset_of_locust_is_refused(locust):
    first = [int(np.flatnonzero(locust["condition"].values == c)[0]) for c in np.unique(locust["condition"].values)]
    subset = locust.isel(trial=first)
    report = sp.check_counts(subset, dispersion="neuron", condition="condition")
    with pytest.raises(sp.IdentifiabilityError, match="separable only with repeated trials") as err:
        report.raise_if_failed()
    assert "for every one of the 10 neurons" in str(err.value)
    one = sp.check_counts(locust.isel(trial=[0]), dispersion="shared")
    assert one.find("variance_components") and not one.ok

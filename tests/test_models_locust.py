"""The hierarchical NB model on the locust recording: clean sampling, and NB beats Poisson by LOO."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import spikepool as sp


@pytest.fixture(scope="module")
def odour_counts(data_dir):
    """10 units x 10 odours x the first 25 trials of each, counts in 10-12 s."""
    counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
    labels = counts["condition"].values.astype(str)
    odours = [c for c in np.unique(labels) if not c.startswith("Spontaneous")]
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:25] for c in odours]))
    return counts.isel(trial=keep)


@pytest.fixture(scope="module")
def fits(odour_counts):
    out = {}
    for likelihood in ("negbin", "poisson"):
        model = sp.HierarchicalNegBinom(condition="condition", likelihood=likelihood)
        with warnings.catch_warnings():
            warnings.simplefilter("error", sp.SamplingWarning)  # the locust fit must sample cleanly
            out[likelihood] = model.fit(
                odour_counts, draws=1000, tune=1000, chains=4, cores=2, random_seed=0, progressbar=False
            )
    return out


def test_locust_fit_samples_cleanly(odour_counts, fits):
    assert odour_counts.sizes == {"neuron": 10, "trial": 232}
    nb = fits["negbin"]
    s = nb.post_checks.summary
    assert int(s["divergences"]) == 0
    assert float(s["rhat_max"]) < 1.01
    assert nb.rates()["mean"].dims == ("neuron", "condition")
    assert nb.centered.all()  # 23 trials and hundreds of spikes per cell: data-rich everywhere


def test_negative_binomial_beats_poisson_by_loo(fits):
    table = fits["negbin"].compare(fits["poisson"])
    assert table.index[0] == "partial/neuron"
    diff, dse = table.loc["partial/poisson", "elpd_diff"], table.loc["partial/poisson", "dse"]
    assert diff < -4 * dse  # far beyond its standard error

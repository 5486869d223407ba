"""compare_pooling: the held-out split, and partial pooling predicting unseen trials better than no pooling."""

from __future__ import annotations

import numpy as np
import pytest

import spikepool as sp
from spikepool.pooling import split_trials


def test_split_trials_partitions_each_cell():
    counts, _ = sp.simulate_counts(5, 12, conditions=["a", "b"], seed=1)
    valid = np.ones(counts.shape, dtype=bool)
    valid[0, 1:] = False  # neuron 0: one trial only, stays in training
    counts = counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid))
    train, test = split_trials(counts, 2, condition="condition", random_seed=3)
    assert not (train & test).any() and ((train | test) == valid).all()
    labels = counts["condition"].values
    for n in range(1, 5):
        for c in ("a", "b"):
            assert train[n, labels == c].sum() == 2 and test[n, labels == c].sum() == 4
    assert train[0, 0] and not test[0].any()
    again, _ = split_trials(counts, 2, condition="condition", random_seed=3)
    np.testing.assert_array_equal(again, train)


def test_partial_pooling_predicts_held_out_trials_better_than_no_pooling():
    counts, _ = sp.simulate_counts(30, 12, mu=1.0, tau=0.6, alpha=5.0, duration=0.5, seed=4)
    table = sp.compare_pooling(
        counts, train_trials=2, loo=False, draws=300, tune=300, chains=2, cores=1, progressbar=False
    )
    assert list(table.index) == ["none", "complete", "partial"]
    assert (table["n_heldout"] == 30 * 10).all()
    assert table.loc["partial", "heldout_lpd"] > table.loc["none", "heldout_lpd"] + 5
    assert table.loc["partial", "heldout_log_rate_mse"] < table.loc["none", "heldout_log_rate_mse"]
    assert set(table.attrs["fits"]) == {"none", "complete", "partial"}


def test_needs_held_out_trials():
    counts, _ = sp.simulate_counts(4, 1, seed=0)
    with pytest.raises(ValueError, match="needs held-out trials"):
        sp.compare_pooling(counts)

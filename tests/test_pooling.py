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
    assert table.attrs["heldout"].shape == counts.shape and table.attrs["heldout"].sum() == 30 * 10
    assert table.loc["partial", "heldout_lpd"] > table.loc["none", "heldout_lpd"] + 5
    assert table.loc["partial", "heldout_log_rate_mse"] < table.loc["none", "heldout_log_rate_mse"]
    assert set(table.attrs["fits"]) == {"none", "complete", "partial"}


def test_bad_variant_fails_before_sampling():
    counts, _ = sp.simulate_counts(4, 6, seed=0)
    with pytest.raises(ValueError, match="needs conditions and partial pooling"):
        sp.compare_pooling(counts, variants={"x": {"neuron_effect": True}})
    with pytest.raises(ValueError, match="variants must map new row names"):
        sp.compare_pooling(counts, variants={"partial": {}})


def test_needs_held_out_trials():
    counts, _ = sp.simulate_counts(4, 1, seed=0)
    with pytest.raises(ValueError, match="needs held-out trials"):
        sp.compare_pooling(counts)


def test_neuron_effect_pools_toward_each_neurons_own_mean():
    # crossed design: neurons differ by a shared effect (sd 1) far more than their conditions do (tau 0.25)
    counts, truth = sp.simulate_counts(
        16, 24, conditions=["a", "b", "c"], mu=[1.0, 1.5, 0.5], tau=0.25, neuron_sd=1.0, alpha=8.0, seed=11
    )
    table = sp.compare_pooling(
        counts,
        condition="condition",
        dispersion="shared",
        train_trials=2,
        loo=False,
        variants={"partial+neuron": {"neuron_effect": True}},
        draws=400,
        tune=400,
        chains=2,
        cores=1,
        progressbar=False,
    )
    assert list(table.index) == ["none", "complete", "partial", "partial+neuron"]
    assert table.loc["partial+neuron", "heldout_lpd"] > table.loc["none", "heldout_lpd"] + 10
    assert table.loc["partial+neuron", "heldout_log_rate_mse"] < table.loc["none", "heldout_log_rate_mse"]
    # pooling toward each neuron's own mean beats pooling toward other neurons' rates in the condition
    assert table.loc["partial+neuron", "heldout_lpd"] > table.loc["partial", "heldout_lpd"]
    fit = table.attrs["fits"]["partial+neuron"]
    assert fit.spec["neuron_effect"] is True
    post = fit.posterior
    lo, hi = post["tau_neuron"].quantile([0.03, 0.97]).values
    assert lo < 1.0 < hi
    effect = post["neuron_effect"].mean(("chain", "draw")).values
    assert np.corrcoef(effect, truth["neuron_effect"].values)[0, 1] > 0.9
    # each cell is pooled toward mu_c + u_i, so the population rates differ between neurons
    shrink = fit.shrinkage()
    target = np.log(shrink["population_rate"].values)
    mu = post["mu"].mean(("chain", "draw")).values
    np.testing.assert_allclose(target - mu[None, :], np.broadcast_to(effect[:, None], target.shape), atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"neuron_effect": "yes", "condition": "condition"}, TypeError, "neuron_effect must be True or False"),
        ({"neuron_effect": True}, ValueError, "needs conditions and partial pooling"),
        ({"neuron_effect": True, "condition": "condition", "pooling": "none"}, ValueError, "pooling='none'"),
    ],
)
def test_neuron_effect_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        sp.HierarchicalNegBinom(**kwargs)

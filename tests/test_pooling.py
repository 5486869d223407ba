"""compare_pooling: the held-out split, and partial pooling predicting unseen trials better than no pooling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import spikepool as sp
from spikepool.workflows.pooling import split_trials


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
        variants={"partial, plain": {"neuron_effect": False}},
        draws=400,
        tune=400,
        chains=2,
        cores=1,
        progressbar=False,
    )
    assert list(table.index) == ["none", "complete", "partial", "partial, plain"]
    assert table.loc["partial", "heldout_lpd"] > table.loc["none", "heldout_lpd"] + 10
    assert table.loc["partial", "heldout_log_rate_mse"] < table.loc["none", "heldout_log_rate_mse"]
    # the default (crossed here) pools toward each neuron's own mean, which beats pooling toward other
    # neurons' rates in the condition
    assert table.loc["partial", "heldout_lpd"] > table.loc["partial, plain", "heldout_lpd"]
    fit = table.attrs["fits"]["partial"]
    assert fit.spec["neuron_effect"] is True and fit.spec["neuron_effect_setting"] == "auto"
    assert table.attrs["fits"]["partial, plain"].spec["neuron_effect"] is False
    post = fit.posterior
    lo, hi = post["tau_neuron"].quantile([0.03, 0.97]).values
    # the data know the realised spread of these 16 effects (0.86), not the generating sd 1.0: with nutpie's
    # draws the 94% interval ended at 0.96, below 1.0
    realised = float(truth["neuron_effect"].std(ddof=1))
    assert lo < realised < hi, (lo, realised, hi)
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
        ({"neuron_effect": "yes", "condition": "condition"}, ValueError, "neuron_effect must be True, False or 'auto'"),
        ({"neuron_effect": 1, "condition": "condition"}, TypeError, "got 1"),
        ({"neuron_effect": True}, ValueError, "needs conditions and partial pooling"),
        ({"neuron_effect": True, "condition": "condition", "pooling": "none"}, ValueError, "pooling='none'"),
    ],
)
def test_neuron_effect_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        sp.HierarchicalNegBinom(**kwargs)


def _crossing(n_neurons: int, crossing: int):
    """Counts of ``n_neurons`` x 12 trials in conditions a/b; only the first ``crossing`` neurons see both."""
    counts, _ = sp.simulate_counts(n_neurons, 12, conditions=["a", "b"], mu=[1.0, 2.0], tau=0.3, alpha=5.0, seed=4)
    labels = counts["condition"].values
    valid = np.ones(counts.shape, dtype=bool)
    valid[crossing:, labels == "b"] = False  # the others were recorded in condition a only
    sessions = np.repeat(["s0", "s1"], [n_neurons // 2, n_neurons - n_neurons // 2])
    return counts.where(valid, 0).assign_coords(valid=(("neuron", "trial"), valid), neuron_session=("neuron", sessions))


@pytest.mark.parametrize(
    ("kwargs", "crossing", "expected", "why"),
    [
        ({"condition": "condition"}, 6, True, "6 of 6 neurons have valid trials in 2 or more"),
        ({"condition": "condition"}, 2, True, "2 of 6 neurons"),
        ({"condition": "condition"}, 1, False, "needs at least two"),
        ({"condition": "condition"}, 0, False, "0 neuron(s) have valid trials in two or more"),
        ({}, 6, False, "no conditions are modelled"),
        ({"condition": "condition", "pooling": "none"}, 6, False, "pooling='none'"),
        ({"condition": "condition", "neuron_effect": False}, 6, False, "set by neuron_effect=False"),
        ({"condition": "condition", "session": "neuron_session"}, 6, False, "with session= a neuron's level"),
        ({"condition": "condition", "neuron_effect": True}, 1, True, "set by neuron_effect=True"),
    ],
)
def test_neuron_effect_auto_is_on_when_two_neurons_cross_conditions(kwargs, crossing, expected, why):
    counts = _crossing(6, crossing)
    model = sp.HierarchicalNegBinom(dispersion="shared", **kwargs)
    effect, reason = model.resolve_neuron_effect(counts)
    assert effect is expected and why in reason
    free = {v.name for v in model.build(counts).free_RVs}
    assert ("tau_neuron" in free) is expected and ("neuron_effect" in free) is expected


def test_fit_reports_and_records_the_neuron_effect_choice(tmp_path):
    counts = _crossing(6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        fit = sp.HierarchicalNegBinom(dispersion="shared", condition="condition").fit(
            counts, draws=100, tune=100, chains=1, random_seed=0, progressbar=False
        )
    (finding,) = fit.pre_checks.find("neuron_effect")
    assert finding.severity == "info" and "effects are on: 6 of 6 neurons" in finding.message
    assert fit.spec["neuron_effect"] is True and fit.spec["neuron_effect_setting"] == "auto"
    assert "tau_neuron" in fit.posterior
    fit.to_netcdf(tmp_path / "fit.nc")
    again = sp.load_result(tmp_path / "fit.nc")
    assert again.spec["neuron_effect"] is True and again.pre_checks.find("neuron_effect")

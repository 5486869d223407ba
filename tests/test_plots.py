"""Plots render (Agg backend) and draw what they claim: one mark per neuron, per trial, per bin."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from conftest import make_block  # noqa: E402

import spikepool as sp  # noqa: E402
from spikepool import plots  # noqa: E402


@pytest.fixture(scope="module")
def fit():
    counts, _ = sp.simulate_counts(6, 16, conditions=["a", "b"], mu=[1.0, 2.0], tau=0.6, alpha=4.0, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SpikepoolWarning)
        return sp.HierarchicalNegBinom(dispersion="shared", condition="condition").fit(
            counts, draws=200, tune=200, chains=2, cores=1, random_seed=1, progressbar=False
        )


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _png(ax, tmp_path):
    path = tmp_path / "fig.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 5_000
    return path


def test_shrinkage_plot_has_two_points_and_an_arrow_per_cell(fit, tmp_path):
    ax = plots.plot_shrinkage(fit)
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [12, 12]  # raw and posterior, 6 neurons x 2 conditions
    assert len(ax.texts) >= 12  # arrows are annotations
    table = fit.shrinkage()
    np.testing.assert_allclose(sorted(offsets[1][:, 1]), sorted(table["rate"].values.ravel()))
    assert ax.get_yscale() == "log"
    _png(ax, tmp_path)


def test_rates_and_fano_caterpillars(fit, tmp_path):
    ax = plots.plot_rates(fit, ci_prob=0.9)
    assert len(ax.get_yticks()) == 12
    _png(ax, tmp_path)
    fig, ax2 = plt.subplots()
    assert plots.plot_fano(fit, ax=ax2) is ax2
    assert len(ax2.get_yticklabels()) == 12
    # a table's legend states the table's own interval, whatever ci_prob the call gives
    labels = plots.plot_rates(fit.shrinkage(ci_prob=0.5), ci_prob=0.9).get_legend_handles_labels()[1]
    assert "posterior mean, 50% interval" in labels
    assert "model, 50% interval" in plots.plot_fano(fit.fano(ci_prob=0.5)).get_legend_handles_labels()[1]


def test_posterior_predictive_plots(fit, tmp_path):
    ax = plots.plot_ppc_counts(fit, neuron="n0")
    bars = ax.patches
    obs = fit.counts.sel(neuron="n0").values
    heights = np.array([b.get_height() for b in bars]) ** 2
    assert heights.sum() == pytest.approx(obs.size)  # every observed trial is in one bar
    _png(ax, tmp_path)
    ax = plots.plot_ppc_fano(fit)
    assert len(ax.get_yticklabels()) == 12  # one row per (neuron, condition) cell
    table = fit.ppc_fano(ci_prob=0.9)
    y = fit.counts.sel(neuron="n0").values[fit.counts["condition"].values == "a"]
    assert float(table["observed"].sel(neuron="n0", condition="a")) == pytest.approx(y.var(ddof=1) / y.mean())
    assert ((table["lower"] <= table["mean"]) & (table["mean"] <= table["upper"])).all()
    assert ((table["p_value"] >= 0) & (table["p_value"] <= 1)).all()
    with pytest.raises(ValueError, match="fitted neurons"):
        plots.plot_ppc_counts(fit, neuron="nope")


def test_raster_and_psth_from_neo(rng, tmp_path):
    block = make_block(rng, n_neurons=2, n_trials=6)
    ax = plots.plot_raster(block, "u1", window=(0.0, 2.0))
    total = sum(len(c.get_segments()) for c in ax.collections)
    assert total == sum(s.spiketrains[1].size for s in block.segments)  # one tick per spike
    _png(ax, tmp_path)
    binned = sp.from_neo(block, window=(0.0, 2.0), bin_size=0.25)
    ax = plots.plot_psth(binned)
    assert len(ax.lines) == 2 + 1  # two conditions and the alignment line
    rate_a = ax.lines[0].get_ydata()
    expected = binned.sum("neuron").where(binned["condition"] == "a", drop=True).mean("trial") / 0.25
    np.testing.assert_allclose(rate_a, expected.values)
    with pytest.raises(ValueError, match="must be binned"):
        plots.plot_psth(sp.from_neo(block, window=(0.0, 2.0)))


def test_trace_plot_returns_a_plot_collection(fit):
    pc = plots.plot_trace(fit, var_names=("mu", "tau"))
    assert set(pc.viz["trace"].data_vars) == {"mu", "tau"}
    # the default shows the family's dispersion: alpha for the NB (nu for the COM-Poisson)
    assert {"mu", "tau", "alpha"} <= set(plots.plot_trace(fit).viz["trace"].data_vars)
    with pytest.raises(ValueError, match="'trace' or 'rank'"):
        plots.plot_trace(fit, kind="pair")


def test_pooled_estimates_forest_plot(tmp_path):
    y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]
    se = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]
    result = sp.NormalNormal(fixed={"mu": 4.0, "tau": 4.0}).fit(
        y, se, draws=500, tune=500, chains=2, cores=1, random_seed=1, progressbar=False
    )
    ax = plots.plot_pooled_estimates(result)
    _png(ax, tmp_path)
    raw, pooled = ax.containers[0], ax.containers[1]
    # One raw point (with its SE bar) and one pooled point per group, sorted by the raw estimate.
    np.testing.assert_allclose(raw.lines[0].get_xdata(), np.sort(y))
    table = result.shrinkage()
    np.testing.assert_allclose(pooled.lines[0].get_xdata(), table["theta"].values[np.argsort(y)])
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in np.argsort(y)]
    assert ax.lines[-1].get_xdata()[0] == pytest.approx(4.0)  # the population mean (fixed here)
    with pytest.raises(ValueError, match="pooled-estimates fit or its shrinkage table"):
        plots.plot_pooled_estimates(table.drop_vars("theta"))


def test_fano_over_time_draws_the_band_and_both_slopes(rng, tmp_path):
    binned = sp.from_array(
        rng.poisson(0.4, (20, 30, 40)), duration=0.4, time=0.005 + 0.01 * np.arange(40), attrs={"bin_size": 0.01}
    )
    fano = sp.mean_matched_fano(binned, condition=None, window=0.08, step=0.04)
    ax = plots.plot_fano_time(fano)
    (matched, unmatched) = [line for line in ax.get_lines() if line.get_label() != "Poisson (Fano = 1)"]
    np.testing.assert_array_equal(matched.get_ydata(), fano["fano"].values)
    np.testing.assert_array_equal(unmatched.get_xdata(), fano["time"].values)
    assert len(ax.collections) == 1 and "80 ms windows" in ax.get_title()
    _png(ax, tmp_path)
    fig, ax2 = plt.subplots()
    assert plots.plot_fano_time(fano, show_all=False, ax=ax2) is ax2 and len(ax2.get_lines()) == 2
    with pytest.raises(sp.ArgumentError, match=r"fano must hold fano, lower and upper over time; got .*\['lower'"):
        plots.plot_fano_time(fano.drop_vars("lower"))
    with pytest.raises(TypeError, match="fano must be the Dataset of sp.mean_matched_fano"):
        plots.plot_fano_time(fano["fano"])


def _many_cells(rng, n_neuron=400, n_cond=3):
    """Tables of a 400-unit fit's shape (shrinkage, Fano, PPC Fano), from a known truth."""
    dims, shape = ("neuron", "condition"), (n_neuron, n_cond)
    coords = {"neuron": [f"u{i}" for i in range(n_neuron)], "condition": ["a", "b", "c"][:n_cond]}
    rate = np.exp(rng.normal(1.5, 0.8, shape))
    shrink = xr.Dataset(
        {
            "raw_rate": (dims, rate * np.exp(rng.normal(0, 0.2, shape))),
            "rate": (dims, rate),
            "lower": (dims, rate * 0.8),
            "upper": (dims, rate * 1.25),
            "spikes": (dims, rng.poisson(50, shape)),
            "population_rate": (dims, np.full(shape, np.exp(1.5))),
            "pooled_rate": (dims, np.full(shape, np.exp(1.5))),
        },
        coords=coords,
    )
    observed = rng.uniform(0.5, 3.0, shape)
    ppc = xr.Dataset(
        {"observed": (dims, observed), "lower": (dims, observed - 0.2), "upper": (dims, observed + 0.2)}, coords=coords
    )
    ppc["lower"][:7, 0] = observed[:7, 0] + 0.1  # 7 cells outside their interval
    fano = xr.Dataset(
        {
            "mean": (dims, observed),
            "lower": (dims, observed * 0.9),
            "upper": (dims, observed * 1.1),
            "empirical": (dims, observed),
        },
        coords=coords,
    )
    return shrink, fano, ppc


def test_plots_and_tables_stay_readable_at_a_thousand_cells(rng, tmp_path):
    from spikepool.viz._html import MAX_TABLE_ROWS, _table

    shrink, fano, ppc = _many_cells(rng)
    n = shrink["rate"].size
    ax = plots.plot_rates(shrink)
    rows = ax.get_yticklabels()
    assert len(rows) == plots.MAX_ROWS and "lowest and" in ax.get_title() and f"{n:,}" in ax.get_title()
    flat = shrink["rate"].values.ravel()
    shown = np.sort(ax.collections[-1].get_offsets()[:, 1])  # raw-rate crosses, one per row drawn
    assert shown.size == plots.MAX_ROWS
    lowest = np.sort(flat)[: plots.MAX_ROWS // 2]
    np.testing.assert_allclose(np.sort(ax.lines[0].get_xdata())[: plots.MAX_ROWS // 2], lowest)
    _png(ax, tmp_path)
    ax = plots.plot_fano(fano)
    assert sum(c.get_offsets().shape[0] for c in ax.collections) == n  # every cell, as a dot
    ax = plots.plot_ppc_fano(ppc)
    assert "7 of 1,200 cells outside" in ax.get_title()
    red = [c for c in ax.collections if c.get_label() == "observed outside"][0]
    assert red.get_offsets().shape[0] == 7
    ax = plots.plot_shrinkage(shrink)
    assert not ax.texts and len(ax.collections[0].get_segments()) == n  # segments, not one arrow each
    _png(ax, tmp_path)
    page = _table(shrink.to_dataframe())
    assert page.count("<tr>") - 1 >= n and 'type="search"' in page and "max-height" in page
    assert "rowspan" not in page and page.count("<th>u3</th>") == 3  # every row names its unit: filtering keeps labels
    small = _table(shrink.isel(neuron=slice(0, MAX_TABLE_ROWS // 3)).to_dataframe())
    assert 'type="search"' not in small

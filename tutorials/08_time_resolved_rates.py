# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Rates and variability over time: a hierarchical PSTH and the Fano factor's course
#
# ## Learning objectives
# - Count spikes in 50 ms bins around odour onset and read what `sp.check_binned` says about bins that hold
#   less than a spike per trial: what pooling can do there (lend a sparse unit the population's shape) and what
#   it cannot (give it single-trial rates).
# - Fit `sp.HierarchicalPSTH`: a smooth population course per odour whose smoothness the data decide, each
#   unit's course pooled toward it, Negative-Binomial variability per unit; read the population course with its
#   band, single units against the population's shape, and how far each unit's course was pooled.
# - Put the model's Fano factor over time beside the classical mean-matched Fano factor (Churchland et al.
#   2010, `sp.mean_matched_fano`), and see why only the second can answer "does variability drop at onset?".
# - Fit the same model to one subthalamic neuron around the GO cue, left against right.
#
# Data: `locust20010214` (antennal lobe; odour onset near 10 s, response 10-11.5 s): 9-12 s of the first block
# of each of the five odours and of the first spontaneous block (10 units, 150 trials in 6 blocks, 60 bins of
# 50 ms), fitted with 2 chains × 1000 draws after 1000 tuning steps (about a minute on 2 cores; the cost grows
# with blocks × bins: all 14 blocks over 8-14 s take a few minutes); and `kramer-eden-stn` (-1 to 1 s around
# GO).

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp

SAMPLING = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 8, "progressbar": False}
BLOCKS = ["C3H_1", "Citral", "Mint_1", "Octanol_1", "Vanilla_1", "Spontaneous_1"]  # one block per odour
ONSET, RESPONSE, START = 10.0, (10.0, 11.5), 9.0

recording = sp.datasets.load_counts("locust20010214", window=(START, 12.0), bin_size=0.05)
binned = recording.isel(trial=np.flatnonzero(np.isin(recording["condition"].values, BLOCKS)))
blocks = [str(b) for b in np.unique(binned["condition"].values)]
print(sp.format_summary(binned))
print(sp.check_binned(binned, condition="condition"))

# %% [markdown]
# The checks pass and warn: most units fire less than one spike per 50 ms bin on a single trial. A PSTH
# averages trials, so the course *across* trials is still learnt, but no model can say what one trial's rate
# was in one bin. The raw PSTH of a sparse unit is a few spikes per bin over ~25 trials: noisy.
#
# ## The hierarchical PSTH
# `log r_icb = m_cb + u_i + v_ic + s_icb`: the population course `m` of each block is a spline whose
# coefficients follow a random walk with a learnt step size (so "how smooth" is estimated, not picked by
# eye); `u` is the unit's level, `v` its level in each block, `s` its own smooth deviation from the
# population's shape, shrunk toward 0 by an amount the data decide.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)  # the sparse-bins warning, read above
    fit = sp.HierarchicalPSTH(condition="condition").fit(binned, **SAMPLING)
print(fit.diagnostics())
print(
    f"NUTS: {int(fit.idata['sample_stats']['diverging'].sum())} divergences, mean tree depth "
    f"{float(fit.idata['sample_stats']['tree_depth'].mean()):.1f}, "
    f"{float(fit.posterior.attrs['sampling_time']):.0f} s of sampling"
)
population = fit.population_rates()
odours = [b for b in blocks if not b.startswith("Spontaneous")]

fig, axes = plt.subplots(2, 3, figsize=(13, 6), layout="constrained", sharex=True, sharey=True)
for ax, block in zip(axes.ravel(), blocks, strict=True):
    sp.plots.plot_psth_fit(fit, condition=block, ax=ax)
    ax.axvline(ONSET, color="0.5", ls=":", lw=1)
plt.show()

peak = population["mean"].sel(time=slice(*RESPONSE)).max("time")
before = population["mean"].sel(time=slice(START, ONSET)).mean("time")
for block in blocks:
    print(
        f"{block:>14}: population course {float(before.sel(condition=block)):.2f} Hz before onset, "
        f"peak {float(peak.sel(condition=block)):.2f} Hz in {RESPONSE[0]:g}-{RESPONSE[1]:g} s"
    )

# %% [markdown]
# ## Single units against the population's shape
# The shrinkage table says, per unit and block, how much of the raw PSTH's own wiggle the model removed
# (`course_shrinkage`: 0 the raw course kept, 1 the population's shape at the unit's level).

# %%
shrink = fit.shrinkage()
spikes = (binned.where(binned["valid"]) if "valid" in binned.coords else binned).sum(("trial", "time"))
course = shrink["course_shrinkage"].sel(condition=odours).mean("condition")
for unit in np.argsort(spikes.values):
    print(
        f"unit {str(binned['neuron'].values[unit]):>4}: {int(spikes.values[unit]):6d} spikes in {START:g}-12 s, "
        f"course shrinkage {float(course.values[unit]):.2f} (mean over the odours)"
    )
sparse, rich = binned["neuron"].values[np.argmin(spikes.values)], binned["neuron"].values[np.argmax(spikes.values)]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
sp.plots.plot_psth_fit(fit, neuron=sparse, condition="Citral", ax=axes[0])
sp.plots.plot_psth_fit(fit, neuron=rich, condition="Citral", ax=axes[1])
plt.show()
r = np.corrcoef(np.log(spikes.values), course.values)[0, 1]
print(f"correlation of log spikes with course shrinkage across units: {r:.2f}")

# %% [markdown]
# The sparse unit's course is drawn toward the population's shape (dashed): its raw PSTH jumps from bin to
# bin on a handful of spikes. The rich unit keeps its own course. The heat map shows every unit's posterior
# course in one block.

# %%
ax = sp.plots.plot_rate_map(fit, condition="Citral")
ax.axvline(ONSET, color="w", ls=":", lw=1)
plt.show()

# %% [markdown]
# ## Does variability drop at odour onset?
# Churchland et al. (2010) found that stimulus onset quenches trial-to-trial variability across cortex. Their
# measure is the **mean-matched** Fano factor: each unit × odour is a (mean, variance) point across trials in
# a sliding window, and at every time the points are down-selected so that the distribution of means is the
# same at all times; a drop that survives matching is not a by-product of the rates going up.
#
# The model's Fano factor, `1 + mu / alpha` per bin with one `alpha` per unit, *follows the rate by
# construction*: where the rate rises, so does its Fano factor. It describes the fitted variability, but it
# cannot test for a quench; the mean-matched analysis can.

# %%
odour_trials = binned.isel(trial=np.flatnonzero(np.isin(binned["condition"].values, odours)))
matched = sp.mean_matched_fano(odour_trials, window=0.1, step=0.1, n_resamples=10)
model_fano = fit.fano().sel(condition=odours)
fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
sp.plots.plot_fano_time(matched, ax=axes[0])
sp.plots.plot_fano_time(model_fano, ax=axes[1])
for ax in axes:
    ax.axvline(ONSET, color="0.5", ls=":", lw=1)
plt.show()


def window_mean(table, var, span):
    return float(table[var].sel(time=slice(*span)).mean())


pre, resp = (START, ONSET), RESPONSE
print(
    f"mean-matched Fano factor (all {odour_trials.sizes['trial']} odour trials, 100 ms windows): "
    f"{window_mean(matched, 'fano', pre):.2f} [{window_mean(matched, 'lower', pre):.2f}, "
    f"{window_mean(matched, 'upper', pre):.2f}] before onset, {window_mean(matched, 'fano', resp):.2f} "
    f"[{window_mean(matched, 'lower', resp):.2f}, {window_mean(matched, 'upper', resp):.2f}] during the response"
)
print(
    f"unmatched (all points): {window_mean(matched, 'fano_all', pre):.2f} before, "
    f"{window_mean(matched, 'fano_all', resp):.2f} during; points kept after matching: "
    f"{int(matched['n_points'][0])} of {matched.attrs['n_points_all']}"
)
print(
    f"model (average over units and odours): {window_mean(model_fano, 'population_mean', pre):.2f} before, "
    f"{window_mean(model_fano, 'population_mean', resp):.2f} during"
)

overlap = window_mean(matched, "upper", resp) >= window_mean(matched, "lower", pre)
print(
    "matched intervals before and during the response overlap: no drop of variability that survives mean matching"
    if overlap
    else "matched intervals separate: variability drops at onset beyond the rates"
)

# %% [markdown]
# Read the numbers above together (they are this run's; the bounds are each window's interval bounds
# averaged over the span). The unmatched slope mixes two things: the rates change at onset, and so does the
# mix of units and odours behind the points. The mean-matched estimate takes the rate change out; its
# interval (the regression slope's, averaged over the resamplings of the matching) says whether what is
# left is a change of variability. The model's Fano factor is per 50 ms bin, given each unit's course; the
# mean-matched one is per 100 ms window, and a Fano factor grows with the counting window when neighbouring
# bins vary together from trial to trial, which a model of independent bins leaves out. So compare the two
# for their courses over time, not their levels; the window-count model (`HierarchicalNegBinom`) is where
# the variability of whole windows is measured.
#
# ## One subthalamic neuron around GO, left against right
# With one neuron there is no population to pool across: each condition's course is learnt on its own, with
# the smoothness shared. The course's band is what the 25 trials per side support.

# %%
stn = sp.datasets.load_counts("kramer-eden-stn", window=(-1.0, 1.0), bin_size=0.025)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)
    stn_fit = sp.HierarchicalPSTH(condition="condition").fit(stn, **SAMPLING)
print(stn_fit.diagnostics())
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
stn_rates = stn_fit.population_rates()
for k, side in enumerate(["left", "right"]):
    row = stn_rates.sel(condition=side)
    ax.fill_between(row["time"], row["lower"], row["upper"], color=f"C{k}", alpha=0.25, lw=0)
    ax.plot(row["time"], row["mean"], color=f"C{k}", label=f"{side} cue")
ax.axvline(0.0, color="0.5", ls=":", lw=1)
ax.set(xlabel="time from GO (s)", ylabel="rate (Hz)", title="STN neuron: posterior course with its 94% band")
ax.legend()
plt.show()

separated = (stn_rates["lower"].sel(condition="left") > stn_rates["upper"].sel(condition="right")).values
t = stn_rates["time"].values
print(
    f"left above right with non-overlapping 94% bands in {int(separated.sum())} of {t.size} bins "
    f"({int(separated[t < 0].sum())} before GO, {int(separated[t >= 0].sum())} after)"
)
after = stn_rates["mean"].sel(time=slice(0.0, 0.5)).mean("time")
before_go = stn_rates["mean"].sel(time=slice(-0.5, 0.0)).mean("time")
for side in ("left", "right"):
    print(
        f"{side}: {float(before_go.sel(condition=side)):.1f} Hz in the 0.5 s before GO, "
        f"{float(after.sel(condition=side)):.1f} Hz in the 0.5 s after"
    )

# %% [markdown]
# ## What to take away
# - In short bins the hierarchy earns its keep: sparse units borrow the population's shape, rich units keep
#   their own, and the amount is learnt (compare the course shrinkage with the spike counts above).
# - The smoothness of every course is estimated, not chosen: no kernel width to defend.
# - Variability over time needs the mean-matched analysis; a model whose Fano factor is `1 + mu / alpha`
#   describes variability but cannot separate it from the rate.
# - The six locust experiments as sessions: `HierarchicalPSTH` has no session level yet, so a study fits each
#   session on its own (tutorial 07 shows the session level of the window-count model).

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
# # 01 · Locust odour responses: from spike-sorted units to shrunk firing rates
#
# ## Learning objectives
# - Load a real spike-sorted recording (Pouzat's locust antennal lobe, experiment `locust20010214`) as a
#   `neo.Block` and look at it: a raster and peri-stimulus time histograms (PSTHs).
# - Choose the response window from the PSTH, with a rule you can state, before counting.
# - Count spikes into a labelled neuron × trial array, run the identifiability checks, and fit the
#   hierarchical Negative-Binomial model across units and odours.
# - Read the shrinkage table and plot, the Fano factors and the sampling diagnostics, and say which units
#   respond to which odours, with intervals.
#
# The data: 10 units recorded with one tetrode; 10 odour blocks (citral, mint, vanilla, octanol and
# cis-3-hexen-1-ol, `C3H`, at six dilutions) and four blocks of spontaneous activity; 22 to 30 trials per
# block, each about 29 s long with the odour puff near 10 s. Run it with `SPIKEPOOL_DATA` pointing at the
# data folder (the README says how). The sampler runs 2 chains × 1000 draws to keep the tutorial quick
# (well under a minute); use the defaults (4 chains) for results you publish.

# %%
import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp

block = sp.datasets.load_block("locust20010214")
units = [st.annotations["unit_id"] for st in block.segments[0].spiketrains]
labels = np.array([seg.annotations["condition"] for seg in block.segments])
print(f"{len(block.segments)} trials (Segments), {len(units)} units: {', '.join(units)}")
print("blocks:", ", ".join(f"{c} ({n})" for c, n in zip(*np.unique(labels, return_counts=True), strict=True)))

# %% [markdown]
# ## Look before counting: a raster and the PSTHs
# One Segment is one trial; `plot_raster` lays a unit's spikes out trial by trial, grouped by block.
# Binned counts (`bin_size`) give the PSTH: the mean rate per 0.5 s bin, over trials.

# %%
binned = sp.from_neo(block, window=(0.0, 28.0), bin_size=0.5)
is_odour = ~np.char.startswith(binned["condition"].values.astype(str), "Spontaneous")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
sp.plots.plot_raster(block.segments[:60], "u7", window=(0.0, 28.0), ax=axes[0])
population = binned.sum("neuron") / 0.5  # Hz, summed over the 10 units
for mask, name in [(is_odour, "odour trials"), (~is_odour, "spontaneous trials")]:
    axes[1].step(binned["time"], population.isel(trial=np.flatnonzero(mask)).mean("trial"), where="mid", label=name)
axes[1].set(xlabel="time in trial (s)", ylabel="rate summed over units (Hz)", title="Population PSTH")
axes[1].legend()
plt.show()

# %% [markdown]
# **Choosing the window.** The rule: take the bins of the 0-9 s baseline of the odour trials, and call a
# bin a response bin when the odour-trial PSTH exceeds the baseline mean by more than 3 baseline standard
# deviations; the window runs from the first to the last response bin after 9 s. It is chosen from the
# population, not per unit, so the unit-level analysis below is not tuned to any unit.

# %%
psth = population.isel(trial=np.flatnonzero(is_odour)).mean("trial")
t = psth["time"].values
base = psth.values[t < 9.0]
threshold = base.mean() + 3 * base.std(ddof=1)
hot = t[(t > 9.0) & (psth.values > threshold)]
window = (float(hot.min() - 0.25), float(hot.max() + 0.25))  # bin centres -> bin edges
print(
    f"baseline {base.mean():.0f} ± {base.std(ddof=1):.0f} Hz (summed over units); "
    f"peak {psth.values.max():.0f} Hz at {t[psth.values.argmax()]:.2f} s; "
    f"response window {window[0]:.2f}-{window[1]:.2f} s ({window[1] - window[0]:.1f} s)"
)

# %% [markdown]
# ## Count, label, check
# `from_neo` counts every unit in every trial inside the window; `duration` (the exposure) and the block
# label (`condition`) ride along as coordinates. The four spontaneous blocks are one baseline condition
# here: no odour was given in any of them.

# %%
counts = sp.from_neo(block, window=window)
condition = np.where(
    np.char.startswith(counts["condition"].values.astype(str), "Spontaneous"), "none", counts["condition"].values
)
counts = counts.assign_coords(condition=("trial", condition.astype(str)))
print(sp.format_summary(counts))

# %%
checks = sp.check_counts(counts, dispersion="neuron", condition="condition")
print(checks)

# %% [markdown]
# ## Fit the hierarchical Negative-Binomial model
# Each unit's log rate in each condition is drawn from that condition's population,
# `log r_ic ~ Normal(mu_c, tau)`, and counts are Gamma-Poisson (Negative Binomial) with one dispersion
# `alpha_i` per unit, so `Var = mu + mu^2 / alpha_i`. `fit` runs the checks again, samples, and checks the
# sampling.

# %%
model = sp.HierarchicalNegBinom(condition="condition", dispersion="neuron")
result = model.fit(counts, draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
print(result.diagnostics())
print(result.summary().loc[["mu[none]", "tau"] + [f"alpha[{u}]" for u in units[:3]]])

# %% [markdown]
# ## Shrinkage: how far each rate moved toward its population
# `shrinkage()` puts the raw rate (spikes / exposure, no pooling), the posterior mean and interval, and two
# shrinkage factors side by side: the empirical one (the fraction of the distance from the raw rate to the
# population rate that the posterior moved) and the model one, `kappa = tau^2 / (tau^2 + sigma_i^2)`,
# the weight on the unit's own data. With 22-30 trials of 1-2 s per cell the units' own data dominate.

# %%
shrink = result.shrinkage()
table = shrink.to_dataframe()[["raw_rate", "rate", "lower", "upper", "shrinkage", "kappa", "n_trials"]]
print(table.round(2).head(12).to_string())
moved = np.abs(shrink["shrinkage"]).median().item()
print(f"median |empirical shrinkage| {moved:.3f}; median kappa {float(shrink['kappa'].median()):.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 9), layout="constrained")
sp.plots.plot_shrinkage(shrink.sel(condition=["none", "Citral", "C3H_6"]), ax=axes[0])
sp.plots.plot_fano(result.fano().sel(condition="none"), ax=axes[1])
axes[1].set_title("Fano factor of the baseline counts")
plt.show()

# %% [markdown]
# ## Which units respond to which odours?
# A unit responds to an odour when its rate under the odour differs from its own baseline rate (the
# `none` condition, same window, spontaneous trials). The posterior of the ratio `rate[odour] / rate[none]`
# answers this directly, draw by draw. `result.responsive("none")` does it for every unit and odour:
# the ratio with its interval, `prob_up` = P(ratio > 1.25 | data), `prob_down` = P(ratio < 1/1.25 | data)
# (a "response" is a change of at least 25% by default: `min_ratio`), and a call ("up", "down", "none")
# chosen so that the *expected* false discovery rate of all the calls together is at most 5% (the Bayesian
# FDR rule of Newton et al. 2004: the cells are ranked by how sure the posterior is of their direction,
# and the largest top set whose mean probability of being wrong is <= 0.05 is called).

# %%
responses = result.responsive("none", fdr=0.05)
odours = [str(c) for c in responses["condition"].values]
label = responses["responsive"]
excited, inhibited = label == "up", label == "down"
for u in responses["neuron"].values:
    row = responses.sel(neuron=u)
    up = [f"{c} ×{float(row['ratio'].sel(condition=c)):.1f}" for c in odours if excited.sel(neuron=u, condition=c)]
    down = [f"{c} ×{float(row['ratio'].sel(condition=c)):.2f}" for c in odours if inhibited.sel(neuron=u, condition=c)]
    print(f"{u:>4}: excited by {len(up)} ({', '.join(up) or '-'}); inhibited by {len(down)} ({', '.join(down) or '-'})")
a = responses.attrs
print(
    f"\n{a['n_up']} excitatory and {a['n_down']} inhibitory unit-odour responses out of {label.size} pairs, "
    f"expected FDR {a['expected_fdr']:.3f}"
)

# %% [markdown]
# The hand-made rule used before `responsive` existed, "the 94% interval of the ratio excludes 1", is a
# per-pair rule with no stated error rate over the table, and it asks only for the sign: with 10-115 trials
# per cell a ratio of 1.05 passes it. `min_ratio=1` asks `responsive` the same question; the default asks
# for a 25% change.

# %%
hand = np.where(responses["ratio_lower"] > 1, "up", np.where(responses["ratio_upper"] < 1, "down", "none"))
sign_only = result.responsive("none", fdr=0.05, min_ratio=1.0)["responsive"].values
print(
    f"hand-made 94% rule: {(hand == 'up').sum()} up, {(hand == 'down').sum()} down; responsive(min_ratio=1): "
    f"{(sign_only == 'up').sum()} up, {(sign_only == 'down').sum()} down; they agree on "
    f"{float((hand == sign_only).mean()):.0%} of the pairs; every pair the hand rule calls is called the same "
    f"way: {bool(np.all((hand == 'none') | (hand == sign_only)))}; the default (a 25% change) calls "
    f"{int((label != 'none').sum())}"
)

# %%
fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
sp.plots.plot_responsive(responses, ax=ax)
plt.show()

# %% [markdown]
# ## Diagnostics, in pictures
# Rank plots should look flat and the chains should overlap; `result.diagnostics()` above says the same in
# numbers (R-hat, ESS, divergences, and whether the data informed `tau` and the dispersions at all).

# %%
sp.plots.plot_trace(result, var_names=("mu", "tau"), kind="rank")
plt.show()

# %% [markdown]
# ## What the data show
# Every number below is computed from this run.

# %%
fano_base = result.fano().sel(condition="none")
over = fano_base["neuron"].values[(fano_base["lower"] > 1).values]
n_odours = len(odours)
broad_up = [u for u in units if int(excited.sel(neuron=u).sum()) >= n_odours / 2]
broad_down = [u for u in units if int(inhibited.sel(neuron=u).sum()) >= n_odours / 2]
c3h = [c for c in odours if c.startswith("C3H")]
print(
    f"- Response window from the population PSTH: {window[0]:.2f}-{window[1]:.2f} s after trial start.\n"
    f"- Rates barely pool here: median kappa {float(shrink['kappa'].median()):.3f} (1 = own data only), "
    f"because every cell has 10-115 trials and units differ a lot (tau = {float(result.posterior['tau'].mean()):.2f}"
    " on the log scale).\n"
    f"- Trial-to-trial variability: {len(over)} of {len(units)} units have a baseline Fano factor whose 94% interval "
    f"lies above 1 (median {float(fano_base['mean'].median()):.2f}): Poisson would understate their variability.\n"
    f"- Excited by at least half of the odours: {', '.join(broad_up) or 'none'}; inhibited by at least half: "
    f"{', '.join(broad_down) or 'none'}.\n"
    f"- {int(excited.sum())} excitatory and {int(inhibited.sum())} inhibitory responses among {excited.size} "
    f"unit-odour pairs; the C3H dilution series alone: {int(excited.sel(condition=c3h).sum())} excitatory, "
    f"{int(inhibited.sel(condition=c3h).sum())} inhibitory of {excited.sel(condition=c3h).size}."
)

# %% [markdown]
# With 100 unit-odour pairs, a few 94% intervals exclude 1 by chance alone; the strong, consistent
# responses (the same unit across the six C3H dilutions) are the ones to trust. Next:
# `02_pooling_and_shrinkage.py` asks when pooling helps, and what the Gamma-Poisson mixture buys.

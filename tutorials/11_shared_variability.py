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
# # 11 · Shared variability: a gain shared by units recorded together, noise correlations, variance partition
#
# ## Learning objectives
# - Add a trial gain shared by every unit recorded on a trial, `(1 | trial)`, or `shared=k` factors with a
#   loading per unit, to a formula model; see what the checks ask of the design first.
# - Split each unit's count variance into Poisson, private (the Negative Binomial's own dispersion) and shared
#   parts with intervals (`variance_partition`), and read the noise correlations the model implies beside the
#   raw r_sc (`noise_correlations`).
# - Follow the population's state over the recording (`gains`), and see how a unit's Fano factor and the
#   intervals of its rates change once the shared part is modelled.
#
# Data: `locust20010214` (Pouzat's tetrode recording: 10 units recorded together, 14 blocks of 25 trials,
# 10-11.5 s after the trial start) and the nelpy linear-track session (hippocampal units, counts per lap). Fits
# run 2 chains × 1000 draws after 1000 tuning steps (about a minute each); use more for results you publish.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp

SAMPLING = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 11, "progressbar": False}
counts = sp.datasets.load_counts("locust20010214", window=(10.0, 11.5))
print(sp.format_summary(counts))

# %% [markdown]
# ## Two models of the same counts
# The independent model gives each unit a rate per block (a population rate per block with crossed unit and
# unit × block effects: the window model as a formula); its trials are independent given the rates. The shared
# model adds `(1 | trial)`: a log gain per trial that multiplies the rate of every unit recorded on it. The
# checks ask that at least two units share each trial and that the trial gains are not a term of the formula
# already.

# %%
independent = "count ~ condition + (1 | neuron) + (1 | neuron:condition)"
shared = independent + " + (1 | trial)"
print(sp.HierarchicalGLM(shared).check(counts))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)
    fit_independent = sp.HierarchicalGLM(independent).fit(counts, **SAMPLING)
    # 359 small trial gains, each sampled non-centered: more draws for the gain's sd to reach 400 effective ones
    fit_shared = sp.HierarchicalGLM(shared).fit(counts, **{**SAMPLING, "draws": 1500})
print(fit_shared.checks)
sd = fit_shared.posterior["sd_trial"].values.ravel()
low, high = np.quantile(sd, [0.05, 0.95])
print(
    f"sd of the shared log gain: {sd.mean():.3f} (90%: {low:.3f}-{high:.3f}): a typical trial's rates are "
    f"{100 * (np.exp(sd.mean()) - 1):.0f}% above or below the block's"
)

# %% [markdown]
# ## How much of each unit's variability is shared?
# By the law of total variance, a count's variance is its mean (Poisson), plus the Negative Binomial's own
# dispersion (private), plus what the trial gain adds (shared); each part is summed over the unit's trials.

# %%
vp = fit_shared.variance_partition(ci_prob=0.9)
print(vp["mean"].to_pandas().round(3))
share = vp["mean"].sel(part="shared")
print(
    f"shared share: {float(share.min()):.1%} to {float(share.max()):.1%} of a unit's count variance "
    f"(median {float(share.median()):.1%})"
)
sp.plots.plot_variance_partition(fit_shared, ci_prob=0.9)
plt.show()

# %% [markdown]
# ## Noise correlations: the model's beside the raw r_sc
# The raw r_sc correlates two units' counts z-scored within each block, over the trials both have, with a
# bootstrap interval over trials. The model's is what the shared gain implies at fixed block. Pairs whose raw
# value lies outside the model's interval are where the units co-vary in a way one gain cannot give: a pair on
# one tetrode whose spikes the sorting split or merged anti-correlates, which a gain shared by all cannot.

# %%
nc = fit_shared.noise_correlations(ci_prob=0.9)
pairs = np.triu_indices(counts.sizes["neuron"], 1)
raw, low, high = (nc[k].values[pairs] for k in ("raw", "lower", "upper"))
inside = (raw >= low) & (raw <= high)
print(
    f"raw r_sc {np.nanmin(raw):+.2f} to {np.nanmax(raw):+.2f} (median {np.nanmedian(raw):+.3f}); model "
    f"{np.nanmin(nc['mean'].values[pairs]):+.3f} to {np.nanmax(nc['mean'].values[pairs]):+.3f}; "
    f"{inside.sum()} of {inside.size} raw values inside the model's 90% intervals"
)
names = counts["neuron"].values
for k in np.argsort(-np.abs(raw - nc["mean"].values[pairs]))[:4]:
    i, j = pairs[0][k], pairs[1][k]
    print(f"  {names[i]}-{names[j]}: raw {raw[k]:+.3f} ({nc['raw_lower'].values[i, j]:+.3f} to "
          f"{nc['raw_upper'].values[i, j]:+.3f}), model {nc['mean'].values[i, j]:+.3f}")  # fmt: skip
sp.plots.plot_noise_correlations(fit_shared, ci_prob=0.9)
plt.show()

# %% [markdown]
# One gain for all gives every pair the same sign. One shared factor lets each unit load on the population's
# state by its own amount, even with the opposite sign (`shared=1`: loadings pooled across units, each draw's
# sign fixed along the data's main direction of shared variation).

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)
    fit_factor = sp.HierarchicalGLM(independent, shared=1).fit(counts, **SAMPLING)
loading = fit_factor.posterior["loading"].sel(factor="f1")
lw, hg = loading.quantile([0.05, 0.95], ("chain", "draw")).values
for unit, m, a, b in zip(names, loading.mean(("chain", "draw")).values, lw, hg, strict=True):
    print(f"  {unit:>4}: loading {m:+.3f} (90%: {a:+.3f} to {b:+.3f})")
nc_factor = fit_factor.noise_correlations(ci_prob=0.9)
inside_f = (raw >= nc_factor["lower"].values[pairs]) & (raw <= nc_factor["upper"].values[pairs])
print(f"one factor: {inside_f.sum()} of {inside_f.size} raw r_sc inside the model's 90% intervals")
print(fit_shared.compare(fit_factor, fit_independent, names=["(1 | trial)", "shared=1", "independent"]).round(1))

# %% [markdown]
# ## The population's state over the recording
# Each trial's shared term in recording order, coloured by block: the gain shared by all, and the factor's
# score (a unit's log gain on the trial is its loading times the score). A state that drifts slowly makes
# neighbouring trials alike (a lag-1 autocorrelation above 0); the block effects already absorb each block's
# mean.

# %%
for fit, term in ((fit_shared, "trial"), (fit_factor, "f1")):
    gains = fit.gains(ci_prob=0.9)
    g = gains["mean"].sel(term=term).values
    sure = int(((gains["lower"].sel(term=term) > 0) | (gains["upper"].sel(term=term) < 0)).sum())
    lag1 = np.corrcoef(g[:-1], g[1:])[0, 1]
    print(f"{term}: {sure} of {g.size} trials with a 90% interval excluding 0; lag-1 autocorrelation {lag1:+.2f}")
fig, axes = plt.subplots(2, 1, figsize=(9, 6), layout="constrained")
sp.plots.plot_gains(fit_shared, "trial", ci_prob=0.9, ax=axes[0])
sp.plots.plot_gains(fit_factor, "f1", ci_prob=0.9, ax=axes[1])
plt.show()

# %% [markdown]
# ## What changes for each unit
# Without the shared term, the co-fluctuation is folded into each unit's own dispersion: the independent
# model's alpha is smaller (a larger Fano factor) than the shared model's, whose `fano_private` is what is left
# once the trial gain is accounted for. The population's rate interval is set mostly by how much the units
# differ from each other, not by trial-to-trial noise, so it moves little. Here the shared gain is small, and
# so are the changes; the next recording shows them large.


# %%
def unit_changes(fit_a, fit_b):
    """alpha per unit without and with the shared term, and the width of the population's 90% log-rate
    interval (the Intercept: the reference condition) in each."""
    alpha = [f.posterior["alpha"].mean(("chain", "draw")).values for f in (fit_a, fit_b)]
    width = [float(np.diff(np.quantile(f.posterior["beta"].sel(coef="Intercept"), [0.05, 0.95]))[0])
             for f in (fit_a, fit_b)]  # fmt: skip
    return alpha, width


alpha, width = unit_changes(fit_independent, fit_shared)
for k, unit in enumerate(names):
    print(
        f"  {unit:>4}: Fano {float(vp['fano'][k]):.2f} (private only {float(vp['fano_private'][k]):.2f}); alpha "
        f"{alpha[0][k]:.1f} independent -> {alpha[1][k]:.1f} shared"
    )
print(f"population log rate, 90% interval width: {width[0]:.3f} independent -> {width[1]:.3f} shared")

# %% [markdown]
# ## A second recording: hippocampal units per lap
# The linear-track units (tutorial 05) counted per lap, both running directions as conditions. Do they share a
# lap-by-lap gain?

# %%
per_lap = sp.from_neo(sp.datasets.load_block("nelpy-linear-track"), align="laps")
active = per_lap.sum("trial") >= 20  # units with at least 20 spikes on the laps
per_lap = per_lap.isel(neuron=np.flatnonzero(active.values))
lap_independent = "count ~ condition + (1 + condition | neuron)"  # each unit's own rate in each direction
lap_formula = lap_independent + " + (1 | trial)"
print(f"{per_lap.sizes['neuron']} units, {per_lap.sizes['trial']} laps")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)
    fit_laps_independent = sp.HierarchicalGLM(lap_independent).fit(per_lap, **SAMPLING)
    fit_laps = sp.HierarchicalGLM(lap_formula).fit(per_lap, **SAMPLING)
print(fit_laps.checks)
sd_lap = fit_laps.posterior["sd_trial"].values.ravel()
vp_laps = fit_laps.variance_partition(ci_prob=0.9)
share_laps = vp_laps["mean"].sel(part="shared")
print(
    f"sd of the lap gain {sd_lap.mean():.3f} (90%: {np.quantile(sd_lap, 0.05):.3f}-{np.quantile(sd_lap, 0.95):.3f});"
    f" shared share {float(share_laps.min()):.1%} to {float(share_laps.max()):.1%} (median "
    f"{float(share_laps.median()):.1%})"
)
alpha, width = unit_changes(fit_laps_independent, fit_laps)
print(
    f"median over units: alpha {np.median(alpha[0]):.1f} independent -> {np.median(alpha[1]):.1f} shared; Fano "
    f"{float(vp_laps['fano'].median()):.2f}, private only {float(vp_laps['fano_private'].median()):.2f}; population "
    f"log rate, 90% interval width {width[0]:.3f} -> {width[1]:.3f}"
)
print(fit_laps.compare(fit_laps_independent, names=["(1 | trial)", "independent"]).round(1))
sp.plots.plot_gains(fit_laps, "trial", ci_prob=0.9)
plt.show()

# %% [markdown]
# ## What to take away
# - `(1 | trial)` adds one gain per trial shared by the units recorded on it; `shared=k` gives k factors with a
#   loading per unit. Both are checked before sampling (two units per trial, trial gains not already a term).
# - `variance_partition` splits each unit's count variance into Poisson, private and shared parts with
#   intervals; `noise_correlations` gives the model's correlations beside the raw r_sc; `gains` the state of
#   each trial.
# - A unit's own dispersion shrinks once the shared part is modelled (its alpha grows): the independent model
#   reads co-fluctuation as each unit's private variability.

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
# # 10 · Rates that depend on a covariate: formulas, pooled slopes and correlated effects
#
# ## Learning objectives
# - Write a model as a formula over the counts' coordinates, `count ~ condition + block_trial +
#   (1 + block_trial | neuron) + (1 | neuron:condition)`, the syntax of brms, lme4 and Bambi: fixed effects for
#   the population, `( | neuron)` for what each neuron may do differently, pooled toward the population.
# - Read adaptation across repeated odour presentations in the locust antennal lobe: which units adapt, by how
#   much per repeat, with intervals; how far each unit's slope was pooled; whether a unit's rate and its
#   adaptation are correlated.
# - See the checks a formula gets before anything is sampled (a slope needs its covariate to vary within each
#   neuron; a rank-deficient design is refused) and compare the formula with the window model by PSIS-LOO.
# - Use a continuous covariate measured by behaviour: the running speed of each lap on the linear track.
#
# Data: `locust20010214` (Pouzat's tetrode recording: 10 units; each odour presented in a block of 25 trials,
# `block_trial` 1-25) and nelpy's linear-track session (31 hippocampal units, laps cut from the position
# track). Fits run 2 chains × 1000 draws after 1000 tuning steps (under a minute each); use more for results
# you publish.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp

SAMPLING = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 10, "progressbar": False}
counts = sp.datasets.load_counts("locust20010214", window=(10.0, 12.0))
odours = ~np.char.startswith(counts["condition"].values.astype(str), "Spontaneous")
counts = counts.isel(trial=np.flatnonzero(odours))  # adaptation is to the odour: the odour blocks only
print(sp.format_summary(counts))

# %% [markdown]
# ## What the raw counts show
# The mean count of each unit in the first five and the last five presentations of every odour block.

# %%
first = counts.where(counts["block_trial"] <= 5).mean("trial")
last = counts.where(counts["block_trial"] >= 21).mean("trial")
for unit in counts["neuron"].values:
    f, la = float(first.sel(neuron=unit)), float(last.sel(neuron=unit))
    print(f"{unit:>4}: {f:6.1f} spikes in trials 1-5, {la:6.1f} in trials 21-25 ({100 * (la / f - 1):+.0f}%)")

# %% [markdown]
# ## The formula and its checks
# `condition` gives each odour its own population rate; `block_trial` is the repeat within the block, whose
# coefficient is the change in log rate per repeat (the window's duration enters as an offset by itself, so
# rates are in Hz); `(1 + block_trial | neuron)` gives every unit its own level and its own slope, drawn from a
# population with a correlation between the two (an LKJ prior); `(1 | neuron:condition)` lets each unit respond
# to each odour in its own way (the window model's crossed effects). The checks run before any sampling.

# %%
formula = "count ~ condition + block_trial + (1 + block_trial | neuron) + (1 | neuron:condition)"
model = sp.HierarchicalGLM(formula)
print(model.check(counts))

# %% [markdown]
# A design that cannot be estimated is refused before sampling, with what to change. `block_time`, the
# trial's start within its block (30 s apart), is the same covariate as `block_trial` in other units:

# %%
try:
    sp.HierarchicalGLM("count ~ condition + block_trial + block_time + (1 | neuron)").check(counts).raise_if_failed()
except sp.IdentifiabilityError as err:
    print(str(err).splitlines()[-1][:400])

# %% [markdown]
# ## Fit: which units adapt?

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", sp.SpikepoolWarning)
    fit = model.fit(counts, **SAMPLING)
for w in caught:
    print("warning:", str(w.message)[:200])
print(fit)
rows = ["beta[block_trial]", "sd_neuron[Intercept]", "sd_neuron[block_trial]", "corr_neuron[block_trial, Intercept]",
        "sd_neuron_condition[Intercept]"]  # fmt: skip
print(fit.summary(ci_prob=0.9).loc[rows])

# %%
slopes = fit.coefficients(ci_prob=0.9).sel(coef="block_trial")
per_block = np.exp(24 * slopes[["mean", "lower", "upper"]]) - 1  # trial 1 to trial 25
adapting = slopes["upper"].values < 0
for i, unit in enumerate(slopes["neuron"].values):
    print(
        f"{unit:>4}: {100 * float(per_block['mean'][i]):+5.1f}% over a block "
        f"(90%: {100 * float(per_block['lower'][i]):+5.1f} to {100 * float(per_block['upper'][i]):+5.1f}), "
        f"shrinkage {float(slopes['shrinkage'][i]):.2f}" + ("  adapts" if adapting[i] else "")
    )
population = fit.posterior["beta"].sel(coef="block_trial").values.ravel()
print(
    f"{adapting.sum()} of {adapting.size} units adapt (90% interval of the slope below 0); the population "
    f"changes by {100 * (np.exp(24 * population.mean()) - 1):+.1f}% over a block "
    f"(90%: {100 * (np.exp(24 * np.quantile(population, 0.05)) - 1):+.1f} to "
    f"{100 * (np.exp(24 * np.quantile(population, 0.95)) - 1):+.1f})"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
sp.plots.plot_coefficients(fit, "block_trial", ci_prob=0.9, ax=axes[0])
sp.plots.plot_predicted(fit, "block_trial", ci_prob=0.9, condition="Citral", ax=axes[1])
plt.show()

# %% [markdown]
# ## Rates at chosen covariate values
# `predict` gives rates in Hz per unit and for the population (every unit's own effect at 0: a typical unit)
# at any covariate values; arrays make a grid.

# %%
grid = fit.predict(block_trial=np.array([1, 13, 25]), condition="Citral", ci_prob=0.9)
print(grid["mean"].round(1).to_pandas())
print("population:", np.round(grid["population_mean"].values, 1), "Hz")

# %% [markdown]
# ## Does the slope earn its place?
# The window model of the same counts (`HierarchicalNegBinom(condition="condition")`: a rate per unit and
# odour with the same crossed unit effects, no trend) against the formula, by PSIS-LOO over the same
# unit-trials.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)
    window = sp.HierarchicalNegBinom(condition="condition").fit(counts, **SAMPLING)
    table = fit.compare(window, names=["formula: block_trial slopes", "window model"])
print(table[["elpd", "elpd_diff", "dse"]].round(1) if "dse" in table else table.round(1))

# %% [markdown]
# ## A behavioural covariate: running speed on the linear track
# Laps are cut from the position track (tutorial 05); each lap's counts have its duration as exposure and its
# speed (the run between the end zones over its duration) as a trial coordinate. Does a unit fire faster on
# faster laps?

# %%
block = sp.datasets.load_block("nelpy-linear-track")
laps = next(e for e in block.segments[0].epochs if e.name == "laps")
per_lap = sp.from_neo(block, align="laps")
zones = laps.annotations["zone_limits"]
speed = abs(zones[1] - zones[0]) / per_lap["duration"].values  # camera pixels per second
per_lap = per_lap.assign_coords(speed=("trial", speed))
active = per_lap.sum("trial") >= 20  # units with at least 20 spikes on the laps
per_lap = per_lap.isel(neuron=np.flatnonzero(active.values))
print(f"{per_lap.sizes['neuron']} units, {per_lap.sizes['trial']} laps; speed {speed.min():.0f}-{speed.max():.0f} px/s")
speed_model = sp.HierarchicalGLM("count ~ condition + scale(speed) + (1 + scale(speed) | neuron)")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", sp.SpikepoolWarning)
    speed_fit = speed_model.fit(per_lap, **SAMPLING)
for w in caught:
    print("warning:", str(w.message)[:200])
speed_slopes = speed_fit.coefficients(ci_prob=0.9).sel(coef="scale(speed)")
up = int((speed_slopes["lower"] > 0).sum())
down = int((speed_slopes["upper"] < 0).sum())
beta = speed_fit.posterior["beta"].sel(coef="scale(speed)").values.ravel()
print(
    f"population: {100 * (np.exp(beta.mean()) - 1):+.0f}% per sd of speed (90%: "
    f"{100 * (np.exp(np.quantile(beta, 0.05)) - 1):+.0f} to {100 * (np.exp(np.quantile(beta, 0.95)) - 1):+.0f}); "
    f"{up} units faster and {down} slower on faster laps (90% intervals)"
)
sd = speed_fit.posterior["sd_neuron"].sel(neuron_effect="scale(speed)").values.ravel()
low, high = np.quantile(sd, [0.05, 0.95])
print(f"between-unit sd of the speed slope: {sd.mean():.2f} (90%: {low:.2f}-{high:.2f})")
ax = sp.plots.plot_coefficients(speed_fit, "scale(speed)", ci_prob=0.9)
plt.show()

# %% [markdown]
# ## What to take away
# - A formula names coordinates of the counts; the exposure is an offset, so coefficients are changes in log
#   rate (Hz). Each unit's slope is pooled toward the population's by an amount its data decide (the
#   shrinkage column), as each unit's rate is in the window model.
# - The checks refuse what the design cannot estimate before sampling; warnings name the levels and terms.
# - `predict`, `coefficients` and `tuning` (for `np.cos` / `np.sin` terms of a direction) answer in Hz and
#   degrees with intervals; `compare` weighs the formula against the window model on the same counts.

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
# # 05 · Hippocampal units on a linear track: laps, spatial bins and pooled rate maps
#
# ## Learning objectives
# - Load a continuous recording (31 hippocampal units and a 60 Hz position track, nelpy's linear-track
#   example session) and cut it into trials that are not in the file: laps, from the position track.
# - Count spikes per lap, and per lap × spatial bin with the time spent in each bin (the occupancy) as the
#   exposure: the rate map as a counts array.
# - Fit the hierarchical model across units and compare its pooled rate maps with the raw ones
#   (spikes / occupancy): where they agree, where pooling steadies a thin map, and what it costs.
#
# The fit runs 2 chains × 500 draws after 1000 tuning steps (a few minutes); use more for results you publish.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp
from spikepool.io import clean_position, spatial_bin_epochs

block = sp.datasets.load_block("nelpy-linear-track")
segment = block.segments[0]
position = segment.irregularlysampledsignals[0]
laps = next(e for e in segment.epochs if e.name == "laps")
t = position.times.rescale("s").magnitude
x = clean_position(t, position.magnitude[:, 0])  # camera x (pixels): gaps filled, jumps removed
print(
    f"{len(segment.spiketrains)} units; position {t.size} samples, tracked on the track "
    f"{np.nanmin(t[np.isfinite(x)]):.0f}-{np.nanmax(t[np.isfinite(x)]):.0f} s; {laps.size} laps "
    f"({', '.join(f'{n} {d}' for d, n in zip(*np.unique(laps.labels, return_counts=True), strict=True))})"
)
print("lap rule:", laps.annotations["rule"])

# %% [markdown]
# ## Laps from the position track
# A lap is a run from one end zone of the track to the other (the outer 15% at each end) without going back;
# its duration is the exposure of that lap's counts.

# %%
fig, ax = plt.subplots(figsize=(12, 3.5), layout="constrained")
ax.plot(t, x, color="0.4", lw=0.6)
colours = {"leftward": "C0", "rightward": "C1"}
for start, dur, label in zip(
    laps.times.rescale("s").magnitude, laps.durations.rescale("s").magnitude, laps.labels, strict=True
):
    ax.axvspan(start, start + dur, color=colours[str(label)], alpha=0.3, lw=0)
ax.set(
    xlabel="time (s)",
    ylabel="x (camera pixels)",
    title="Position and the laps cut from it (blue leftward, orange rightward)",
)
ax.set_xlim(np.nanmin(t[np.isfinite(x)]) - 10, np.nanmax(t[np.isfinite(x)]) + 10)
plt.show()
lap_s = laps.durations.rescale("s").magnitude
print(
    f"lap durations: median {np.median(lap_s):.2f} s, range {lap_s.min():.2f}-{lap_s.max():.1f} s "
    f"({int((lap_s > 10).sum())} laps include a pause longer than a few seconds)"
)

# %% [markdown]
# ## Counts per lap
# `from_neo(align="laps")` makes one trial per lap; spikes outside every lap (the rest period) are counted as
# outside, not lost.

# %%
per_lap = sp.from_neo(block, align="laps")
print(sp.format_summary(per_lap))

# %% [markdown]
# ## Counts per lap and spatial bin: the rate map as counts
# Eight bins along the run between the two end zones, per direction (place cells fire differently on the
# way out and back). Every lap is split into visits to bins; a visit is a trial whose `duration` is the
# time spent in the bin. Its condition is `direction/bin`.

# %%
zones = laps.annotations["zone_limits"]  # laps run from one end zone's edge to the other's
edges = np.linspace(zones[0], zones[1], 9)
visits = spatial_bin_epochs(t, x, laps, edges)
segment.epochs.append(visits)  # our own Block: adding an Epoch to it is fine
per_bin = sp.from_neo(block, align="spatial bins")
conditions = sorted(np.unique(per_bin["condition"].values))
print(
    f"{per_bin.sizes['trial']} visits in {len(conditions)} direction × bin conditions; occupancy per visit "
    f"median {float(per_bin['duration'].median()) * 1000:.0f} ms"
)
checks = sp.check_counts(per_bin, dispersion="pooled", condition="condition")
print(checks)

# %% [markdown]
# ## The hierarchical model across units
# Units differ hugely in overall rate, and each has its own place field, so the model has a unit effect
# (`neuron_effect=True`: `log r_ic ~ Normal(mu_c + u_i, tau)`): a unit's rate in a bin is pooled toward
# its own level plus the population's profile along the track, by an amount set by how many spikes the bin
# holds. Dispersion is pooled across units (`log alpha_i ~ Normal(mu_a, tau_a)`).

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", sp.SpikepoolWarning)
    fit = sp.HierarchicalNegBinom(condition="condition", dispersion="pooled", neuron_effect=True).fit(
        per_bin, draws=500, tune=1000, chains=2, random_seed=5, progressbar=False
    )
print(fit.diagnostics())
table = fit.shrinkage()

# %%
units = table["neuron"].values
directions = ["leftward", "rightward"]


def columns(direction: str) -> list[str]:
    """The conditions of one direction's spatial bins, in track order."""
    return [f"{direction}/bin{k:02d}" for k in range(len(edges) - 1)]


def rate_map(var: str, direction: str) -> np.ndarray:
    """(unit, bin) map of ``var`` for one direction, bins in track order."""
    return table[var].sel(condition=columns(direction)).values


raw = {d: rate_map("raw_rate", d) for d in directions}
pooled = {d: rate_map("rate", d) for d in directions}
spikes = table["spikes"].values.sum(axis=1)
order = np.argsort([np.nanargmax(raw["rightward"][i]) + 100 * (spikes[i] < 50) for i in range(len(units))])

fig, axes = plt.subplots(2, 2, figsize=(12, 9), layout="constrained", sharey=True)
for col, d in enumerate(directions):
    for row, (name, maps) in enumerate([("raw (spikes / occupancy)", raw), ("partial pooling", pooled)]):
        m = maps[d][order]
        with np.errstate(invalid="ignore"):  # the silent unit's row is all zeros
            norm = m / np.nanmax(m, axis=1, keepdims=True)
        axes[row, col].imshow(norm, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        axes[row, col].set(title=f"{d}: {name}", xlabel="spatial bin (along camera x)")
    axes[0, col].set_yticks(range(len(units)), units[order], fontsize=6)
    axes[1, col].set_yticks(range(len(units)), units[order], fontsize=6)
fig.suptitle("Rate maps, each unit scaled to its own peak; units ordered by rightward peak (sparse units last)")
plt.show()

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
centres = (edges[:-1] + edges[1:]) / 2
examples = [units[np.argmax(spikes)], units[np.argsort(spikes)[len(units) // 2]], units[np.argmin(spikes)]]
for ax, unit in zip(axes, examples, strict=True):
    i = list(units).index(unit)
    for d in directions:
        sel = table.sel(neuron=unit, condition=columns(d))
        ax.plot(centres, sel["raw_rate"], "x--", color=colours[d], alpha=0.6, label=f"{d} raw")
        ax.plot(centres, sel["rate"], "o-", color=colours[d], ms=3, label=f"{d} pooled")
        ax.fill_between(centres, sel["lower"], sel["upper"], color=colours[d], alpha=0.2)
    ax.set(title=f"{unit}: {int(spikes[i])} spikes in laps", xlabel="x (camera pixels)", ylabel="rate (Hz)")
axes[0].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## What the data show
# Every number below comes from this run.

# %%
post = fit.posterior
kappa = table["kappa"].values
cell_spikes = table["spikes"].values
few, rich = cell_spikes <= 2, cell_spikes >= 20
both = table["raw_rate"].values > 0
agree = np.corrcoef(np.log(table["raw_rate"].values[both]), np.log(table["rate"].values[both]))[0, 1]
peak_to_mean = {d: np.nanmax(pooled[d], axis=1) / np.nanmean(pooled[d], axis=1) for d in directions}
fields = {d: int((peak_to_mean[d] > 3).sum()) for d in directions}
print(
    f"- {laps.size} laps, {per_bin.sizes['trial']} bin visits; median occupancy per lap and bin "
    f"{float(per_bin['duration'].median()) * 1000:.0f} ms.\n"
    f"- Between-unit sd of log rate tau_neuron = {float(post['tau_neuron'].mean()):.2f}; within-unit sd across "
    f"the track tau = {float(post['tau'].mean()):.2f} (the place fields).\n"
    f"- Raw and pooled maps agree where the data are rich: correlation of log rates {agree:.2f} over the "
    f"{int(both.sum())} of {cell_spikes.size} unit x bin cells with spikes; median kappa {np.median(kappa[rich]):.2f} "
    f"for the {int(rich.sum())} cells with >= 20 spikes vs {np.median(kappa[few]):.2f} for the {int(few.sum())} "
    "with <= 2.\n"
    f"- Cells with no spike at all ({int((cell_spikes == 0).sum())}) have no raw rate (0 Hz, no interval); "
    f"the model gives them a rate with an interval, pulled toward the unit's level.\n"
    f"- Units whose pooled map peaks at > 3x their mean (place-field-like): {fields['leftward']} leftward, "
    f"{fields['rightward']} rightward, of {len(units)}."
)

# %% [markdown]
# The pooled maps keep every place field the raw maps show for well-sampled units and calm the sparse ones,
# whose raw maps are a few spikes in a few bins. The cost is a pull toward the unit's mean in bins with
# little occupancy: read a pooled map as "what this unit's rate is, given how little we saw", and the raw
# map as "what we saw".

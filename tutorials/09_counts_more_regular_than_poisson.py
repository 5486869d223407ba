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
# # 09 · Counts more regular than Poisson: the COM-Poisson family
#
# ## Learning objectives
# - Count a retinal neuron's spikes in 100 ms windows under low and under high light, and see that its
#   counts are *less* variable than Poisson in one condition (Fano factor below 1) and more in the other.
# - Read what `check_counts` says about underdispersed counts, and why neither the Negative Binomial
#   (Fano >= 1 by construction) nor the Poisson (Fano = 1) can describe them.
# - Fit the same model with `likelihood="com_poisson"`, `"negbin"` and `"poisson"`, and compare them by
#   PSIS-LOO; read the COM-Poisson's dispersion `nu` (> 1: more regular than Poisson; < 1: less) and the
#   fitted Fano factor with its interval on either side of 1.
# - Check each family with the posterior predictive Fano factor: a family that cannot reach the data's
#   variability shows it there.
#
# Source: Kramer MA, Eden UT, *Case Studies in Neural Data Analysis* (MIT Press), chapter 8 data: one
# retinal neuron, 30 s of spikes under low light and 30 s under high light. The COM-Poisson
# (Conway-Maxwell-Poisson) is parameterised by its mean (Huang 2017), so rates stay in Hz; see
# `spikepool.stats.com_poisson` for how its normaliser is summed and bounded. Fits run 2 chains × 1000
# draws (about a minute in all).

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.io as sio
from scipy import stats

import spikepool as sp
from spikepool.stats.com_poisson import com_logpmf

SAMPLING = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 9, "progressbar": False}
WINDOW = 0.1  # s
mat = sio.loadmat(sp.datasets.fetch("kramer-eden-retina")[0])
spikes = {"low light": np.ravel(mat["SpikesLow"]), "high light": np.ravel(mat["SpikesHigh"])}
for name, times in spikes.items():
    print(f"{name}: {times.size} spikes in {times.max():.1f} s")

# %% [markdown]
# Each light level is a separate 30 s recording of the same cell. We cut each into 300 consecutive 100 ms
# windows (pseudo-trials) with `from_spike_times`, one row per light level. The rows are *not* two neurons
# of one population, so we fit them without pooling (`pooling="none"`), each with its own dispersion.

# %%
starts = np.arange(300) * WINDOW
counts = sp.from_spike_times(spikes, starts, window=(0.0, WINDOW))
print(sp.format_summary(counts))
y = counts.values
for name, row in zip(counts["neuron"].values, y, strict=True):
    print(
        f"{name:>10s}: mean {row.mean():.2f} spikes per window, variance {row.var(ddof=1):.2f}, "
        f"Fano {row.var(ddof=1) / row.mean():.2f}"
    )

# %% [markdown]
# Under low light the variance is below the mean: the counts are more regular than Poisson (a cell that
# fires steadily, with refractoriness, does that in short windows). Under high light it fires in bursts, and
# the variance is about twice the mean. The checks see the first:

# %%
print(sp.check_counts(counts))

# %% [markdown]
# ## Three families on the same counts
# The model is the same for all three: each row's log rate with its prior, the counts given the rate from
# the family. Only the family changes: Poisson (variance = mean), Negative Binomial (variance = mean +
# mean² / alpha, never below the mean) and COM-Poisson (variance below the mean for `nu > 1`, above for
# `nu < 1`, and exactly Poisson at `nu = 1`).

# %%
fits = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)  # the underdispersion finding, for the NB and Poisson
    for likelihood in ("com_poisson", "negbin", "poisson"):
        model = sp.HierarchicalNegBinom(likelihood=likelihood, pooling="none")
        fits[likelihood] = model.fit(counts, **SAMPLING)
        print(f"{likelihood:>11s}: {fits[likelihood].diagnostics()}")

# %% [markdown]
# PSIS-LOO compares how well each predicts a left-out window (of either row); `elpd_diff` is each model's
# expected log predictive density behind the best, `dse` its standard error.

# %%
table = fits["com_poisson"].compare(fits["negbin"], fits["poisson"], names=list(fits))
print(table[["rank", "elpd", "elpd_diff", "dse"]])

# %% [markdown]
# The COM-Poisson's `nu` per row says which way each departs from Poisson, and the fitted Fano factor
# (from the pmf at the fitted mean, not from an asymptotic formula) puts an interval on it:

# %%
nu = fits["com_poisson"].posterior["nu"]
nu_q = nu.quantile([0.05, 0.5, 0.95], dim=("chain", "draw"))
fano = {k: f.fano(ci_prob=0.9) for k, f in fits.items()}
for name in counts["neuron"].values:
    q = nu_q.sel(neuron=name).values
    f = fano["com_poisson"].sel(neuron=name)
    print(
        f"{name:>10s}: nu {q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}]; fitted Fano {float(f['mean']):.2f} "
        f"[{float(f['lower']):.2f}, {float(f['upper']):.2f}] "
        f"(NB: {float(fano['negbin'].sel(neuron=name)['mean']):.2f}, "
        f"empirical {float(f['empirical']):.2f})"
    )

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
for ax, likelihood in zip(axes, fits, strict=True):
    sp.plots.plot_fano(fits[likelihood], ci_prob=0.9, ax=ax)
    ax.set_title(likelihood)
plt.show()

# %% [markdown]
# The NB's Fano factor cannot go below 1, so under low light it sits at its floor above the data; the
# COM-Poisson's interval lies below 1 there and above 1 under high light.
#
# ## What the families predict, count by count
# The observed distribution of counts per window against each family's pmf at the posterior means:

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
for ax, (i, name) in zip(axes, enumerate(counts["neuron"].values), strict=True):
    row = y[i]
    k = np.arange(row.max() + 4)
    ax.bar(k, np.bincount(row, minlength=k.size)[: k.size] / row.size, color="0.8", label="observed")
    mean = float(fits["com_poisson"].rates().sel(neuron=name)["mean"]) * WINDOW
    post = {lik: fits[lik].posterior for lik in fits}
    nu_i = float(post["com_poisson"]["nu"].sel(neuron=name).median())
    alpha_i = float(post["negbin"]["alpha"].sel(neuron=name).median())
    ax.plot(k, np.exp(com_logpmf(k, mean, nu_i)), "o-", label=f"COM-Poisson (nu {nu_i:.2f})")
    ax.plot(k, stats.nbinom.pmf(k, alpha_i, alpha_i / (alpha_i + mean)), "s--", label=f"NB (alpha {alpha_i:.1f})")
    ax.plot(k, stats.poisson.pmf(k, mean), "^:", label="Poisson")
    ax.set(title=name, xlabel="spikes per 100 ms window", ylabel="fraction of windows")
    ax.legend()
plt.show()

# %% [markdown]
# ## The posterior predictive check
# Each fit replicates the counts from its posterior and recomputes the Fano factor of each row; the
# observed one should sit inside the replicated interval. Under low light the NB and the Poisson cannot
# pass it (the data are more regular than anything they produce); the printout says which rows each family
# passes.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2), layout="constrained")
for ax, likelihood in zip(axes, fits, strict=True):
    sp.plots.plot_ppc_fano(fits[likelihood], ci_prob=0.9, ax=ax)
    ax.set_title(likelihood)
plt.show()
for likelihood, fit in fits.items():
    ppc = fit.ppc_fano(ci_prob=0.9)
    inside = (ppc["lower"] <= ppc["observed"]) & (ppc["observed"] <= ppc["upper"])
    print(
        f"{likelihood:>11s}: observed Fano inside the 90% predictive interval for "
        f"{', '.join(str(n) for n in ppc['neuron'].values[inside.values.ravel()]) or 'no row'}"
    )

# %% [markdown]
# ## What to take away
# - A Fano factor below 1 is not a nuisance to be rounded to Poisson: choosing the Poisson overstates the
#   variance, so every interval is too wide and every LOO comparison is against the wrong baseline.
# - `likelihood="com_poisson"` works in `HierarchicalNegBinom` and `HierarchicalPSTH` with every result
#   table, plot, report and the CLI (`spikepool fit ... --likelihood com_poisson`, which also fits the NB
#   and the Poisson and puts all three in the report's LOO table).
# - Its dispersion can be per neuron (as here), pooled across neurons (`dispersion="pooled"`) or shared.

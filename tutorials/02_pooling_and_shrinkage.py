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
# # 02 · The pooling continuum: when does shrinkage help?
#
# ## Learning objectives
# - Fit no pooling (every unit on its own), complete pooling (one rate for all) and partial pooling side
#   by side on the locust recording, with the same API.
# - Show, on trials the models never saw, that partial pooling predicts better than no pooling when each
#   unit has few trials, and learn which notion of "similar units" makes it work.
# - See how the shrinkage factor depends on the number of trials and spikes behind each estimate, against
#   the closed form `kappa = tau^2 / (tau^2 + sigma^2)`.
# - See what the Gamma-Poisson mixture does to the variance: Negative Binomial vs Poisson by LOO and by the
#   posterior predictive Fano factor.
#
# Data: `locust20010214`, the 10 units, the 10 odour blocks (first 25 trials of each), spikes in the
# 10-11.5 s response window that tutorial 01 chose from the population PSTH. Every fit runs 2 chains ×
# 500 draws to keep this tutorial to a few minutes; use more for results you publish.

# %%
import matplotlib.pyplot as plt
import numpy as np

import spikepool as sp

counts = sp.datasets.load_counts("locust20010214", window=(10.0, 11.5))
labels = counts["condition"].values.astype(str)
odours = [c for c in np.unique(labels) if not c.startswith("Spontaneous")]
keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:25] for c in odours]))
counts = counts.isel(trial=keep)
print(sp.format_summary(counts))
SAMPLING = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 3, "progressbar": False}

# %% [markdown]
# ## Three points on the continuum, scored on held-out trials
# `compare_pooling` splits each unit × odour cell's trials at random, fits every model to the training
# part (here 3 trials per cell, as in a short experiment) and scores the rest by the log predictive
# density (higher is better) and by the squared error of the predicted log rate.
#
# Two partial-pooling models are compared. The default (`neuron_effect="auto"`, on here because every unit
# was recorded with several odours) crosses units with odours, `log r_ic ~ Normal(mu_c + u_i, tau)`, the model
# an R user fits as `count ~ 0 + odour + (1|unit) + (1|unit:odour)`: a unit's rate for one odour is pooled
# toward *its own* rates for the other odours. The plain model (`neuron_effect=False`) pools each unit's rate
# for an odour toward the *other units'* rates for that odour (`log r_ic ~ Normal(mu_c, tau)`: units
# exchangeable within an odour).


# %%
def held_out(counts, dispersion):
    """No, complete, default (crossed) and plain partial pooling, trained on 3 trials per cell."""
    variants = {"partial, plain": {"neuron_effect": False}}
    return sp.compare_pooling(
        counts, condition="condition", dispersion=dispersion, train_trials=3, loo=False, variants=variants, **SAMPLING
    )


table = held_out(counts, "neuron")
print(table.round(3).to_string())
print(f"default model crossed: {table.attrs['fits']['partial'].spec['neuron_effect']}")
best = table["heldout_lpd"].idxmax()
gain = table.loc[best, "heldout_lpd"] - table.loc["none", "heldout_lpd"]
plain = table.loc["partial, plain", "heldout_lpd"] - table.loc["none", "heldout_lpd"]
n_test = int(table.loc["none", "n_heldout"])
print(
    f"\nBest on {n_test} held-out trials: {best!r}, {gain:+.1f} nats over no pooling "
    f"({gain / n_test:+.4f} per trial); log-rate MSE {table.loc[best, 'heldout_log_rate_mse']:.3f} vs "
    f"{table.loc['none', 'heldout_log_rate_mse']:.3f}. The plain partial model: {plain:+.1f} nats."
)

# %%
fits = table.attrs["fits"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
order = list(table.index)
axes[0].barh(order, table["heldout_lpd"] - table.loc["none", "heldout_lpd"], color=["0.6", "C3", "C0", "C2"])
axes[0].axvline(0, color="k", lw=0.8)
axes[0].set(xlabel="held-out log predictive density minus no pooling (nats)", title="Predicting unseen trials")

train_rates = {name: fits[name].rates()["mean"].values for name in ("none", "partial")}
test = table.attrs["heldout"]  # (unit, trial) mask of the trials the models never saw
names = list(fits["none"].posterior["condition"].values)
c_of = np.array([names.index(c) for c in counts["condition"].values])
held = np.full(train_rates["none"].shape, np.nan)
for i in range(counts.sizes["neuron"]):
    for c in range(len(names)):
        sel = test[i] & (c_of == c)
        held[i, c] = counts.values[i, sel].sum() / counts["duration"].values[sel].sum()
for name, colour in [("none", "0.5"), ("partial", "C2")]:
    axes[1].scatter(held.ravel(), train_rates[name].ravel(), s=14, color=colour, label=name, alpha=0.8)
lims = [0.5, 150]
axes[1].plot(lims, lims, "k--", lw=0.8)
axes[1].set(
    xscale="log",
    yscale="log",
    xlim=lims,
    ylim=lims,
    xlabel="held-out rate (Hz)",
    ylabel="rate estimated from 3 training trials (Hz)",
    title="Each dot: one unit × odour",
)
axes[1].legend()
plt.show()

# %% [markdown]
# Complete pooling is far worse: the units' rates differ by more than an order of magnitude. The plain
# partial model gains little over no pooling: within an odour the units are so different that the
# population tells little about any one of them (large `tau`). The default, crossed model knows that a unit
# firing fast for citral fires fast for mint too, and pools across odours within the unit, where the spread
# is small.

# %%
post = fits["partial"].posterior
tau_plain = float(fits["partial, plain"].posterior["tau"].mean())
print(
    f"plain model: tau = {tau_plain:.2f} (sd of the units' log rates within an odour); "
    f"default (crossed) model: tau_neuron = {float(post['tau_neuron'].mean()):.2f} between units, "
    f"tau = {float(post['tau'].mean()):.2f} for a unit's odour-to-odour deviations"
)

# %% [markdown]
# ## A second recording
# The same comparison on another experiment, `locust20000613` (9 units, 5 odour blocks: cherry and
# dilutions of cis-3-hexen-1-ol), in the 3-4 s window where its population rate peaks. Its units were
# recorded in every block, so the default is crossed again.

# %%
second = sp.datasets.load_counts("locust20000613", window=(3.0, 4.0))
second = second.isel(trial=np.flatnonzero(~np.char.startswith(second["condition"].values.astype(str), "Spont")))
table2 = held_out(second, "pooled")
print(table2[["heldout_lpd", "heldout_log_rate_mse", "n_heldout"]].round(2).to_string())
gain2 = table2.loc["partial", "heldout_lpd"] - table2.loc["none", "heldout_lpd"]
print(f"default (crossed) minus no pooling on locust20000613: {gain2:+.1f} nats")

# %% [markdown]
# ## How much each estimate is shrunk, and why
# The model shrinkage factor is the Normal-Normal weight `kappa = tau^2 / (tau^2 + sigma^2)` on a unit's
# own estimate, with `sigma^2 ≈ 1/S + 1/(n alpha)` the sampling variance of its log rate (S spikes in n
# trials). Few spikes → large `sigma` → small `kappa` → pulled toward the population. The empirical
# shrinkage (how far the posterior actually moved, as a fraction of the distance to the population) should
# track `1 - kappa`.

# %%
shrink = fits["partial"].shrinkage()
spikes = shrink["spikes"].values.ravel()
kappa = shrink["kappa"].values.ravel()
emp = shrink["shrinkage"].values.ravel()
tau = float(post["tau"].mean())
s_grid = np.geomspace(max(spikes.min(), 1), spikes.max(), 100)

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
axes[0].scatter(spikes, kappa, s=14, label="cells (3 training trials each)")
axes[0].plot(s_grid, tau**2 / (tau**2 + 1 / s_grid), "k--", lw=1, label=r"$\tau^2/(\tau^2 + 1/S)$ (Poisson limit)")
axes[0].set(
    xscale="log",
    xlabel="spikes behind the estimate, S",
    ylabel=r"$\kappa$ (weight on own data)",
    title="More spikes, less shrinkage",
)
axes[0].legend(fontsize=8)
ok = np.isfinite(emp) & (np.abs(emp) < 3)
axes[1].scatter(1 - kappa[ok], emp[ok], s=14)
axes[1].plot([0, 1], [0, 1], "k--", lw=0.8)
axes[1].set(
    xlabel=r"model shrinkage $1-\kappa$",
    ylabel="empirical shrinkage (fraction moved)",
    title="The closed form predicts how far rates move",
)
plt.show()
r = np.corrcoef(1 - kappa[ok], emp[ok])[0, 1]
few, many = spikes <= np.quantile(spikes, 0.25), spikes >= np.quantile(spikes, 0.75)
print(
    f"median kappa {np.median(kappa[few]):.2f} for the quarter of cells with fewest spikes "
    f"(<= {np.quantile(spikes, 0.25):.0f}) "
    f"vs {np.median(kappa[many]):.2f} for the quarter with most (>= {np.quantile(spikes, 0.75):.0f}); "
    f"correlation of empirical with model shrinkage: {r:.2f}"
)

# %% [markdown]
# ## What the Gamma-Poisson mixture does to the variance
# Under a Poisson model the variance of a count equals its mean (Fano factor 1). The Gamma-Poisson mixture
# lets each trial's rate vary around the unit's rate, giving the Negative Binomial with
# `Var = mu + mu^2 / alpha`. Fit both to all trials and compare by PSIS-LOO, then ask each model to
# replicate the observed Fano factors.

# %%
FULL = {**SAMPLING, "draws": 1000, "tune": 1000}  # the fits to all trials: longer chains for clean R-hat
negbin = sp.HierarchicalNegBinom(condition="condition").fit(counts, **FULL)
poisson = sp.HierarchicalNegBinom(condition="condition", likelihood="poisson").fit(counts, **FULL)
comparison = negbin.compare(poisson, names=["negative binomial", "poisson"])
print(comparison[["rank", "elpd", "se", "elpd_diff", "dse", "weight"]].round(1).to_string())

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharex=True)
sp.plots.plot_ppc_fano(negbin, ax=axes[0])
axes[0].set_title("Negative Binomial: replicated Fano factors")
sp.plots.plot_ppc_fano(poisson, ax=axes[1])
axes[1].set_title("Poisson: replicated Fano factors")
plt.show()

# %%
fano = negbin.fano()
print(
    f"Negative Binomial: posterior Fano factor of the unit x odour cells, median {float(fano['mean'].median()):.2f} "
    f"(empirical median {float(fano['empirical'].median()):.2f}); "
    f"{int((fano['lower'] > 1).sum())} of {fano['mean'].size} cells have a 94% interval above 1."
)
loos = {name: fit.loo() for name, fit in [("negbin", negbin), ("poisson", poisson)]}
elpd = {name: float(value.elpd) for name, value in loos.items()}
flagged = {name: int((np.asarray(value.pareto_k) > 0.7).sum()) for name, value in loos.items()}
print(
    f"Pareto k > 0.7 (LOO approximation unreliable) for {flagged['negbin']} of {counts.size} trials under the "
    f"negative binomial, {flagged['poisson']} under Poisson."
)
print(
    f"LOO: negative binomial elpd {elpd['negbin']:.1f}, Poisson {elpd['poisson']:.1f} "
    f"(difference {elpd['negbin'] - elpd['poisson']:.1f} nats in favour of the "
    f"{'negative binomial' if elpd['negbin'] > elpd['poisson'] else 'Poisson'} model)."
)

# %% [markdown]
# ## Take-aways
# - Partial pooling is not automatically better: it helps when the population it pools toward is close to
#   the unit. Here that population is the unit's own responses to other odours (the default, crossed
#   model), not other units' responses to the same odour; on a second recording the default again beats
#   no pooling on unseen trials.
# - Shrinkage is strongest where the data are thinnest (few spikes), exactly as the Normal-Normal closed form
#   says; well-sampled cells keep their own estimate.
# - The locust counts are overdispersed; the Poisson model's replicated Fano factors sit near 1, far below
#   the observed ones, and LOO prefers the Negative Binomial by a wide margin.

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
# # 03 · Identifiability and parameterisation: two ways a hierarchical fit can fail
#
# ## Learning objectives
# - Recognise a design that cannot identify the model: with one trial per neuron, the spread *between*
#   neurons (`tau`) and the trial-to-trial variability *within* them (the dispersion `alpha`) are not
#   separable. See spikepool refuse such a fit, and see the meaningless posterior it prevents.
# - Understand the funnel: for sparse neurons the centered parameterisation `log r_i ~ Normal(mu, tau)`
#   makes NUTS diverge, the non-centered one `log r_i = mu + tau * z_i` does not; for data-rich neurons
#   the centered one samples far more efficiently.
# - Know what `parameterization="auto"` picks, and why.
#
# Everything here is simulated with `sp.simulate_counts`, so the truth is known. The fits are small
# (2 chains × 500 draws); the whole tutorial takes about two minutes.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm

import spikepool as sp

SAMPLING = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 7, "progressbar": False}

# %% [markdown]
# ## 1. One trial per neuron: refused before sampling
# Forty neurons, one 1-s trial each, drawn with a true between-neuron spread `tau = 0.5` and a true
# dispersion `alpha = 4` (so a neuron's trials would vary with Fano factor `1 + mu/alpha`).

# %%
TRUE = {"mu": 2.0, "tau": 0.5, "alpha": 4.0}
one_trial, _ = sp.simulate_counts(40, 1, mu=TRUE["mu"], tau=TRUE["tau"], alpha=TRUE["alpha"], seed=1)
model = sp.HierarchicalNegBinom(dispersion="shared")
try:
    model.fit(one_trial, **SAMPLING)
except sp.IdentifiabilityError as err:
    print(f"{type(err).__name__}:\n{err}")

# %% [markdown]
# What would the posterior have looked like? `model.build` gives the PyMC model without the checks, so we
# can sample it anyway (don't do this with real data). For comparison, the same 40 neurons with 8 trials
# each.

# %%
eight_trials, _ = sp.simulate_counts(40, 8, mu=TRUE["mu"], tau=TRUE["tau"], alpha=TRUE["alpha"], seed=1)
posteriors = {}
for name, data in [("1 trial per neuron", one_trial), ("8 trials per neuron", eight_trials)]:
    with model.build(data), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(**{k: v for k, v in SAMPLING.items() if k != "progressbar"}, progressbar=False)
    posteriors[name] = idata["posterior"]

fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
for (name, post), colour in zip(posteriors.items(), ["C3", "C0"], strict=True):
    ax.scatter(post["tau"].values.ravel(), post["alpha"].values.ravel(), s=4, alpha=0.3, color=colour, label=name)
ax.plot(TRUE["tau"], TRUE["alpha"], "k*", ms=14, label="truth")
ax.set(
    xlabel=r"$\tau$ (between-neuron sd of log rates)",
    ylabel=r"$\alpha$ (dispersion)",
    yscale="log",
    title="Variance components: separable only with repeated trials",
)
ax.legend(markerscale=3)
plt.show()

# %%
for name, post in posteriors.items():
    tau_lo, tau_hi = post["tau"].quantile([0.03, 0.97]).values
    a_lo, a_hi = post["alpha"].quantile([0.03, 0.97]).values
    r = np.corrcoef(post["tau"].values.ravel(), np.log(post["alpha"].values.ravel()))[0, 1]
    print(
        f"{name}: tau 94% interval {tau_lo:.2f}-{tau_hi:.2f}, alpha {a_lo:.1f}-{a_hi:.1f}, "
        f"corr(tau, log alpha) = {r:+.2f}"
    )

# %% [markdown]
# With one trial per neuron the posterior trades `tau` against `alpha` along a ridge: more spread between
# neurons and less within them explains the 40 counts as well as the reverse, and the intervals are set by
# the priors. With repeated trials the two are pinned down near the truth. `check_counts` catches the
# first design by counting trials, before anything is sampled.

# %% [markdown]
# ## 2. The funnel: centered vs non-centered
# Two simulated populations of 40 neurons with the same spread `tau = 0.3`:
# - **sparse**: about 1 spike per trial, 4 trials per neuron (each neuron's data say little);
# - **data-rich**: about 30 spikes per trial, 20 trials per neuron.
#
# Each is fitted with both parameterisations, same seed, and we count divergences and effective samples
# per second of `tau`.

# %%
designs = {
    "sparse": sp.simulate_counts(40, 4, mu=0.0, tau=0.3, alpha=10.0, seed=3)[0],
    "data-rich": sp.simulate_counts(40, 20, mu=np.log(30.0), tau=0.3, alpha=10.0, seed=3)[0],
}
rows, fits = [], {}
for design, data in designs.items():
    for param in ("centered", "noncentered"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SpikepoolWarning)
            fit = sp.HierarchicalNegBinom(dispersion="shared", parameterization=param).fit(
                data, **SAMPLING, target_accept=0.8
            )
        fits[design, param] = fit
        summary = fit.summary()
        seconds = float(fit.idata["posterior"].attrs.get("sampling_time", np.nan))
        rows.append(
            {
                "design": design,
                "parameterization": param,
                "divergences": int(fit.idata["sample_stats"]["diverging"].sum()),
                "ess_bulk_tau": float(summary.loc["tau", "ess_bulk"]),
                "sampling_s": seconds,
                "ess_per_s_tau": float(summary.loc["tau", "ess_bulk"]) / seconds,
            }
        )

table = pd.DataFrame(rows).set_index(["design", "parameterization"])
print(table.round(1).to_string())
for design in designs:
    ratio = table.loc[(design, "centered"), "ess_per_s_tau"] / table.loc[(design, "noncentered"), "ess_per_s_tau"]
    print(f"{design}: centered / non-centered ESS per second of tau = {ratio:.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for ax, param in zip(axes, ("centered", "noncentered"), strict=True):
    fit = fits["sparse", param]
    post = fit.posterior
    div = fit.idata["sample_stats"]["diverging"].values.ravel()
    x = post["log_rate"].isel(neuron=0).values.ravel()
    y = np.log(post["tau"].values.ravel())
    ax.scatter(x[~div], y[~div], s=4, alpha=0.4, color="0.4", label="draws")
    ax.scatter(x[div], y[div], s=14, color="C3", label=f"divergent ({int(div.sum())})")
    ax.set(xlabel="log rate of neuron n0", ylabel=r"log $\tau$", title=f"Sparse neurons, {param}")
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The centered form samples `log r_i` and `tau` jointly; when the data barely inform `log r_i`, its spread
# is set by `tau`, and the sampler must squeeze into the narrow neck of the funnel as `tau` shrinks, where
# its step size is too large: divergences. The non-centered form samples `z_i = (log r_i - mu) / tau`,
# which is a standard Normal whatever `tau` is. With data-rich neurons the roles flip: the likelihood pins
# `log r_i`, so `z_i` and `tau` become tightly correlated in the non-centered form, and the centered form
# is the efficient one.
#
# ## 3. What `parameterization="auto"` picks
# For each neuron, `auto` estimates the sampling sd of its log rate, `sigma_i ≈ sqrt(1/S_i + 1/(n_i alpha))`
# (S_i spikes in n_i trials), and a moment estimate of `tau`; it goes centered where `sigma_i < tau` (the
# data dominate) and non-centered otherwise. Building the model is enough to see its choice.

# %%
auto = sp.HierarchicalNegBinom(dispersion="shared", parameterization="auto")
for design, data in designs.items():
    centered = auto.build(data).spikepool_centered
    spikes = data.sum("trial").values
    print(
        f"{design}: auto picks centered for {int(centered.sum())} of {centered.size} neurons "
        f"(median {np.median(spikes):.0f} spikes per neuron)"
    )

# %% [markdown]
# The sparse population goes non-centered and the data-rich one centered: the choice the divergences and
# the ESS per second above argue for. In a real recording the two kinds of neuron coexist, and `auto`
# splits them, sampling each block in the form that suits it.

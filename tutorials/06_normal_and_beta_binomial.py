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
# # 06 · Pooling what is not a spike count: effect estimates, continuous responses, proportions
#
# ## Learning objectives
# - Pool per-unit **effect estimates with standard errors** (here each unit's odour response as a log rate
#   ratio) with the Normal-Normal model `sp.NormalNormal`, the "eight schools" model, and read the shrinkage
#   factor `B_j = sigma_j^2 / (sigma_j^2 + tau^2)` off the result.
# - Pool **continuous per-trial responses** with the one-way random-effects model `sp.RandomEffectsNormal`
#   (`y_ij = mu + a_i + e_ij`), see why one trial per unit cannot separate the between-unit variance from the
#   trial-to-trial one, and how the data's weight `kappa_i = n_i tau^2 / (n_i tau^2 + sigma^2)` grows with trials.
# - Pool **proportions** (the fraction of trials on which a unit responded to an odour) with the
#   Beta-Binomial model `sp.BetaBinomial`, built from counts with `sp.responsive_trials`.
#
# Data: `locust20010214`, the 10 units; the response window 10-11.5 s that tutorial 01 chose from the
# population PSTH and, on the same trials, a baseline window of the same length before the odour (7-8.5 s).
# Fits run 4 chains × 1000 draws (seconds each: these models are small).

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import spikepool as sp

SAMPLING = {"draws": 1000, "tune": 1000, "chains": 4, "random_seed": 6, "progressbar": False}
response = sp.datasets.load_counts("locust20010214", window=(10.0, 11.5))
baseline = sp.datasets.load_counts("locust20010214", window=(7.0, 8.5))
ODOUR = "Citral"
on_odour = response["condition"].values == ODOUR
# Plain float arrays (neuron, trial): the windows' bookkeeping coordinates (spikes outside, ...) differ.
r = response.isel(trial=on_odour).astype(float).reset_coords(drop=True)
b = baseline.isel(trial=on_odour).astype(float).reset_coords(drop=True)
print(f"{ODOUR}: {r.sizes['trial']} trials × {r.sizes['neuron']} units")
print(
    xr.Dataset({"response window": r.mean("trial"), "baseline window": b.mean("trial")})
    .to_dataframe()[["response window", "baseline window"]]
    .round(1)
    .T
)

# %% [markdown]
# ## 1 · Effect estimates with standard errors: the Normal-Normal model
# A lab often has one number per unit (or per session, or per lab) and its standard error, not the raw data:
# a tuning index, a regression slope, an effect size. Here, for each unit, the odour effect is the log ratio of
# its mean count in the response window to its mean count in the baseline window, with the delta-method
# standard error (the two windows are counted on the same trials, so their covariance enters):
#
# `SE^2 = Var(r)/(n rbar^2) + Var(b)/(n bbar^2) - 2 Cov(r, b)/(n rbar bbar)`.
#
# To make pooling visible we use the first 6 trials only, as in a short experiment. The model is
# `y_j ~ Normal(theta_j, SE_j)`, `theta_j ~ Normal(mu, tau)`. Its default priors are those of the
# eight-schools literature (effects of tens of units); log ratios live on a scale of about 1, so we say so:
# `mu ~ Normal(0, 2)` (a 7-fold change either way is 1 sd) and `tau ~ HalfCauchy(1)`.


# %%
def log_ratio(r: xr.DataArray, b: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Per unit: log(mean response / mean baseline) and its delta-method standard error (paired trials)."""
    n = r.sizes["trial"]
    rm, bm = r.mean("trial"), b.mean("trial")
    cov = ((r - rm) * (b - bm)).sum("trial") / (n - 1)
    var = r.var("trial", ddof=1) / (n * rm**2) + b.var("trial", ddof=1) / (n * bm**2) - 2 * cov / (n * rm * bm)
    return np.log(rm / bm), np.sqrt(var)


FEW = 6
effect, se = log_ratio(r.isel(trial=slice(0, FEW)), b.isel(trial=slice(0, FEW)))
effect_all, se_all = log_ratio(r, b)
normal = sp.NormalNormal(priors={"mu_scale": 2.0, "tau_scale": 1.0})
fit_nn = normal.fit(effect, se, **SAMPLING)
print(fit_nn.summary().loc[["mu", "tau"]])
print(fit_nn.diagnostics())
table_nn = fit_nn.shrinkage()
print(table_nn.to_dataframe()[["estimate", "standard_error", "theta", "B", "B_mean"]].round(3))

# %% [markdown]
# The units whose estimates are noisiest (largest standard error) move furthest toward the population mean:
# `B_j` is the fraction of the way. The table has two versions of it: `B` at the posterior mean of tau
# (plug-in) and `B_mean`, its posterior mean over the draws of tau; they differ because `B` is nonlinear in tau.
# The closed form `(1 - B_j) y_j + B_j mu` at the posterior means of mu and tau is close to the fitted
# posterior means, and the Rao-Blackwellised version (averaged over the draws) matches them up to Monte-Carlo
# error.
#
# The honest check of pooling: the 19 trials we left out give each unit's effect with a far smaller standard
# error. Are the pooled 6-trial estimates closer to them than the raw 6-trial ones?

# %%
err_raw = float(np.mean((table_nn["estimate"] - effect_all) ** 2))
err_pooled = float(np.mean((table_nn["theta"] - effect_all) ** 2))
gap_cf = float(np.max(np.abs(table_nn["closed_form"] - table_nn["theta"])))
gap_rb = float(np.max(np.abs(table_nn["rao_blackwell"] - table_nn["theta"])))
print(f"mean squared distance to the {r.sizes['trial']}-trial estimate: raw {err_raw:.3f}, pooled {err_pooled:.3f}")
print(f"largest |closed form - posterior mean| {gap_cf:.3f}; |Rao-Blackwell - posterior mean| {gap_rb:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
sp.plots.plot_pooled_estimates(fit_nn, ax=axes[0])
axes[0].scatter(
    effect_all.values[np.argsort(table_nn["estimate"].values)],
    np.arange(effect.size),
    marker="x",
    color="k",
    zorder=4,
    label=f"all {r.sizes['trial']} trials",
)
axes[0].legend(fontsize=8)
axes[0].set_xlabel(f"log(response / baseline), {ODOUR}")
tau_grid = np.linspace(0.01, 3.0, 200)
for j, unit in enumerate(table_nn["neuron"].values):
    s = float(table_nn["standard_error"][j])
    axes[1].plot(tau_grid, s**2 / (s**2 + tau_grid**2), lw=1, label=f"{unit} (SE {s:.2f})")
axes[1].hist(
    fit_nn.posterior["tau"].values.ravel(),
    bins=60,
    density=True,
    alpha=0.3,
    color="0.5",
    label="posterior of tau (density)",
)
axes[1].set_xlabel("tau")
axes[1].set_ylabel("B_j = SE_j² / (SE_j² + tau²)")
axes[1].set_title("Shrinkage factor against tau, per unit")
axes[1].legend(fontsize=7, ncol=2)
plt.show()

# %% [markdown]
# ## 2 · Continuous per-trial responses: the random-effects model
# Now the raw trials instead of a summary per unit. The response of unit i on trial j is its evoked change
# in count on a variance-stabilised scale, `y_ij = 2 sqrt(r_ij + 3/8) - 2 sqrt(b_ij + 3/8)` (the Anscombe
# transform makes a Poisson count's variance about 1 whatever its mean, so one trial-to-trial sd `sigma` for
# all units is a fair assumption; check it below). The model is `y_ij = mu + a_i + e_ij` with
# `a_i ~ Normal(0, tau)` between units and `e_ij ~ Normal(0, sigma)` between trials.
#
# First, the design the model cannot identify: one trial per unit. The fit is refused before any sampling.

# %%
y = 2 * np.sqrt(r + 3 / 8) - 2 * np.sqrt(b + 3 / 8)
print("per-unit trial-to-trial sd:", y.std("trial", ddof=1).values.round(2))
try:
    sp.RandomEffectsNormal().fit(y.isel(trial=[0]), **SAMPLING)
except sp.IdentifiabilityError as err:
    print(err)

# %% [markdown]
# With one trial each, the spread of the 10 responses is `tau^2 + sigma^2`, and nothing in the data says how
# much of it is the units' and how much the trial's. Repeated trials identify sigma (the spread within a unit),
# and then tau. We fit 3 trials per unit and all trials.

# %%
random_effects = sp.RandomEffectsNormal()
fits_re = {k: random_effects.fit(y.isel(trial=slice(0, k)), **SAMPLING) for k in (3, r.sizes["trial"])}
for k, fit in fits_re.items():
    vc = fit.variance_components()
    print(
        f"{k:2d} trials per unit: "
        + ", ".join(
            f"{p} {float(vc['mean'].sel(parameter=p)):.2f} [{float(vc['lower'].sel(parameter=p)):.2f}, "
            f"{float(vc['upper'].sel(parameter=p)):.2f}]"
            for p in vc["parameter"].values
        )
    )
    print(fit.diagnostics())
table_re = fits_re[3].shrinkage()
print(table_re.to_dataframe()[["n", "raw", "theta", "kappa", "kappa_mean"]].round(3))

# %% [markdown]
# The intra-class correlation `icc = tau^2 / (tau^2 + sigma^2)` is the data's weight for a unit with ONE trial;
# with n trials it is `kappa(n) = n tau^2 / (n tau^2 + sigma^2)`, which is also the ratio of the pooled mean's
# mean squared error to the raw mean's (`sp.analytic.mse_ratio_normal`). The locust units differ a lot from each
# other (high icc), so even 3 trials leave kappa near 1: little shrinkage is warranted, and the model says so
# instead of imposing it.

# %%
fit_all = fits_re[r.sizes["trial"]]
tau_d = fit_all.posterior["tau"].values.ravel()
sigma_d = fit_all.posterior["sigma"].values.ravel()
n_grid = np.arange(1, 26)
curve = sp.analytic.mse_ratio_normal(n_grid[:, None], tau_d[None, :], sigma_d[None, :])
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
axes[0].plot(n_grid, np.median(curve, axis=1), color="C0", label="posterior median")
axes[0].fill_between(n_grid, *np.quantile(curve, [0.03, 0.97], axis=1), color="C0", alpha=0.3, label="94% interval")
axes[0].set_xlabel("trials per unit n")
axes[0].set_ylabel("kappa(n) = n tau² / (n tau² + sigma²)")
axes[0].set_title("Data's weight (= MSE ratio pooled / raw) against trials")
axes[0].legend(fontsize=8)
sp.plots.plot_pooled_estimates(fits_re[3], ax=axes[1])
axes[1].set_xlabel("evoked change (Anscombe units), 3 trials per unit")
plt.show()

# %% [markdown]
# ## 3 · Proportions: the Beta-Binomial model
# A third kind of number: on what fraction of trials did a unit respond? `sp.responsive_trials` counts, for
# each unit (and here each odour), the trials with at least `k` spikes in the window. A fair `k` differs by
# unit, so we take it from the unit's own spontaneous trials: the smallest count that at most 5% of its
# spontaneous trials reach in the same window. A unit that does not respond to an odour then "responds" on
# about 5% of that odour's trials or fewer; one that responds, on many more.
#
# Each unit × odour cell is a group `j` with `y_j` responsive trials out of `n_j`:
# `y_j ~ Binomial(n_j, theta_j)`, `theta_j ~ Beta(alpha, beta)`. The hyperprior is on the population mean
# `alpha / (alpha + beta)` (uniform) and on `(alpha + beta)^(-1/2)` (half-Cauchy: mass near zero keeps complete
# pooling possible); a cell's data weigh `n_j / (n_j + alpha + beta)` against the population mean.

# %%
spont = np.char.startswith(response["condition"].values.astype(str), "Spontaneous")
threshold = response.isel(trial=spont).quantile(0.95, dim="trial").pipe(np.floor) + 1
threshold = threshold.astype(int).drop_vars("quantile")
odour_trials = response.isel(trial=~spont)
fractions = sp.responsive_trials(odour_trials, min_spikes=threshold, condition="condition")
cells = fractions.stack(cell=("neuron", "condition"))
labels = [f"{n}/{c}" for n, c in zip(cells["neuron"].values, cells["condition"].values, strict=True)]
successes = xr.DataArray(cells["successes"].values, dims="cell", coords={"cell": labels})
trials = xr.DataArray(cells["trials"].values, dims="cell", coords={"cell": labels})
print("threshold (spikes in 1.5 s) per unit:", threshold.to_series().to_dict())
print(f"{successes.size} unit × odour cells, {int(trials.min())}-{int(trials.max())} trials each")

fit_bb = sp.BetaBinomial().fit(successes, trials, **SAMPLING)
print(fit_bb.summary().loc[["population_mean", "concentration"]])
print(fit_bb.diagnostics())
table_bb = fit_bb.shrinkage()
print(table_bb.to_dataframe()[["successes", "trials", "raw", "theta", "B"]].sort_values("B").round(3).iloc[::10])
conc = table_bb.attrs["concentration"]
shape = "U-shaped: most pairs respond on nearly all trials or on nearly none" if conc < 1 else "unimodal"
print(f"alpha + beta = {conc:.2f}: the population Beta is {shape}.")

# %% [markdown]
# Read the concentration `alpha + beta` first. Below 1 the population Beta is U-shaped: a unit either responds
# to an odour on most trials or on almost none, and the data of a cell with tens of trials outweigh the
# population by far (`B_j = (alpha + beta) / (alpha + beta + n_j)` is then a few percent). Shrinkage is strong
# only when cells have few trials or the cells are alike (a large concentration): pooling follows the data,
# it is not imposed.

# %% [markdown]
# Is the Beta-Binomial needed, or would one common proportion do? The Beta-Binomial's variance is the
# Binomial's times `(alpha + beta + n) / (alpha + beta + 1)` (`sp.analytic.extra_binomial_factor`); LOO
# compares it with a model that forces complete pooling (a tiny half-normal scale on `(alpha + beta)^(-1/2)`).

# %%
factor = sp.analytic.extra_binomial_factor(
    float(trials.median()), *(float(fit_bb.posterior[p].median()) for p in ("alpha", "beta"))
)
print(f"variance over the Binomial's at the median n, posterior median alpha and beta: {factor:.1f}")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sp.SpikepoolWarning)  # its spread is pinned by design: reported, not hidden
    pooled = sp.BetaBinomial(priors={"spread": "halfnormal", "spread_scale": 0.01}).fit(successes, trials, **SAMPLING)
table_loo = fit_bb.compare(pooled, names=["Beta-Binomial", "nearly complete pooling"])
print(table_loo[["rank", "elpd", "se", "elpd_diff", "dse", "weight"]])

fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
axes[0].scatter(table_bb["raw"], table_bb["theta"], s=10 + 2 * table_bb["trials"], alpha=0.6)
axes[0].plot([0, 1], [0, 1], color="0.6", lw=1, ls=":")
axes[0].axhline(table_bb.attrs["population_mean"], color="0.4", ls="--", lw=1, label="population mean")
axes[0].set_xlabel("raw fraction of responsive trials")
axes[0].set_ylabel("posterior mean (partial pooling)")
axes[0].set_title("Unit × odour response fractions (size ~ trials)")
axes[0].legend(fontsize=8)
grid = np.linspace(0, 1, 200)
from scipy import stats  # noqa: E402

a_d, b_d = fit_bb.posterior["alpha"].values.ravel(), fit_bb.posterior["beta"].values.ravel()
dens = np.mean(stats.beta.pdf(grid[:, None], a_d[None, ::20], b_d[None, ::20]), axis=1)
axes[1].hist(table_bb["raw"], bins=20, density=True, alpha=0.4, label="raw fractions")
axes[1].plot(grid, dens, color="C1", label="fitted Beta (posterior mean density)")
axes[1].set_xlabel("fraction of responsive trials")
axes[1].set_title("The population distribution of response fractions")
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Findings from this run

# %%
vc_all = fit_all.variance_components()
print(
    f"- Normal-Normal, {FEW} trials per unit: tau = {float(fit_nn.posterior['tau'].mean()):.2f} (log ratio); the "
    f"shrinkage factor B ranged {float(table_nn['B'].min()):.3f}-{float(table_nn['B'].max()):.3f}; pooling moved "
    f"the estimates {'closer to' if err_pooled < err_raw else 'further from'} the all-trials estimates "
    f"(mean squared distance {err_raw:.3f} -> {err_pooled:.3f}).\n"
    f"- Random effects, all trials: icc = {float(vc_all['mean'].sel(parameter='icc')):.2f}, sigma = "
    f"{float(vc_all['mean'].sel(parameter='sigma')):.2f} Anscombe units (about 1 for Poisson counts, more when "
    f"overdispersed); one trial per unit was refused as unidentifiable.\n"
    f"- Beta-Binomial over {successes.size} unit × odour cells: population mean response fraction "
    f"{table_bb.attrs['population_mean']:.2f}, concentration alpha + beta = {table_bb.attrs['concentration']:.1f} "
    f"(a cell with {int(trials.median())} trials keeps {1 - float(np.median(table_bb['B'])):.0%} of its own data)."
)

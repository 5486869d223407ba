"""Held-out trials of time-resolved counts: the PSTH baselines that ``HierarchicalPSTH`` must beat.

Question
--------
How well do the time courses labs estimate today predict unseen trials, bin by bin? Each (neuron,
condition)'s valid trials are split in half at random; every method estimates each neuron's expected count
per bin and condition from the training half, a per-neuron Negative-Binomial dispersion is fitted to the
training trials given those means (maximum likelihood over ``log alpha``), and the held-out half is scored
by its log predictive density, summed over bins (higher is better).

Methods (the baselines, then the model that must beat them):

- ``raw PSTH``: the training trials' mean count per bin (no pooling, no smoothing), floored at half a spike
  over the training trials so that a bin with no training spike does not give a held-out spike zero
  probability;
- ``kernel 50 ms``: that PSTH convolved with a Gaussian kernel of 50 ms standard deviation (what labs do;
  ``scipy.ndimage.gaussian_filter1d`` with edges held at the nearest bin, the same Gaussian convolution as
  Elephant's ``instantaneous_rate`` on the trial-averaged counts), same floor;
- ``kernel CV``: the same with each neuron's kernel width chosen from ``WIDTHS`` by two-fold cross-validation
  on the training trials (Poisson log likelihood of one fold from the other's PSTH, both ways): the
  strongest baseline;
- ``HierarchicalPSTH``: ``sp.HierarchicalPSTH(condition="condition")`` fitted (2 chains x 1,000 draws after
  1,000 tuning) to the training trials only (the held-out trials marked ``valid=False``, their counts
  zeroed), scored the same way as the baselines: its posterior mean count per bin, with a per-neuron NB
  dispersion fitted to the training trials by maximum likelihood (so that the row differs from the others
  only in the course);
- ``HierarchicalPSTH lppd``: the model's own posterior predictive density of each held-out trial,
  ``log mean_s prod_b NB(y_b | mu_s, alpha_s)`` over the posterior draws ``s`` (its own dispersion, its
  uncertainty integrated; what LOO estimates).

"Best for neurons" counts, per neuron, the method with the highest held-out score averaged over splits
(the lppd row is left out of that count: it is the same fit scored another way). ``--no-model`` runs the
baselines alone (seconds instead of minutes).

Data: locust20010214 over 8-14 s in 50 ms bins (odour blocks only; odour onset near 10 s) and the
kramer-eden-stn neuron over -1 to 1 s around the GO cue in 25 ms bins (left vs right).

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/bench_psth.py [--splits 5] [--no-model] [--dataset locust|stn|both]
"""

from __future__ import annotations

import argparse
import time

import arviz_stats as azs
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

import spikepool as sp
from spikepool.counts.schema import valid_mask
from spikepool.stats.binned import bin_width
from spikepool.stats.families import nb_logpmf

#: Kernel standard deviations (s) the cross-validated baseline chooses from (0: the raw PSTH).
WIDTHS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)


def locust():
    counts = sp.datasets.load_counts("locust20010214", window=(8.0, 14.0), bin_size=0.05)
    odour = ~np.char.startswith(counts["condition"].values.astype(str), "Spontaneous")
    return counts.isel(trial=np.flatnonzero(odour))


def stn():
    return sp.datasets.load_counts("kramer-eden-stn", window=(-1.0, 1.0), bin_size=0.025)


DATASETS = {"locust20010214, 8-14 s, 50 ms": locust, "kramer-eden-stn, -1-1 s, 25 ms": stn}


def split(counts, rng) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (neuron, trial) train and test masks: each (neuron, condition)'s valid trials halved at random."""
    valid = valid_mask(counts)
    labels = counts["condition"].values.astype(str)
    train = np.zeros_like(valid)
    for i in range(valid.shape[0]):
        for label in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(valid[i] & (labels == label)))
            train[i, idx[: idx.size // 2]] = True
    return train, valid & ~train


def psth(y: np.ndarray, mask: np.ndarray, codes: np.ndarray, n_cond: int, sigma_bins: float) -> np.ndarray:
    """Expected count per (neuron, condition, bin) from the trials in ``mask``: mean, smoothed, floored."""
    n, _, n_bins = y.shape
    out = np.zeros((n, n_cond, n_bins))
    for c in range(n_cond):
        sel = mask & (codes == c)[None, :]
        trials = np.maximum(sel.sum(axis=1), 1)[:, None]
        mean = (y * sel[:, :, None]).sum(axis=1) / trials
        if sigma_bins > 0:
            mean = gaussian_filter1d(mean, sigma_bins, axis=1, mode="nearest")
        out[:, c] = np.maximum(mean, 0.5 / (trials * n_bins))
    return out


def fit_alpha(y: np.ndarray, mu: np.ndarray) -> float:
    """Maximum-likelihood NB dispersion of counts ``y`` with means ``mu`` (one neuron's training bins)."""
    result = minimize_scalar(
        lambda log_a: -nb_logpmf(y, mu, np.exp(log_a)).sum(), bounds=(-6.0, 12.0), method="bounded"
    )
    return float(np.exp(result.x))


def cv_width(y: np.ndarray, train: np.ndarray, codes: np.ndarray, n_cond: int, bin_size: float, rng) -> np.ndarray:
    """Each neuron's kernel width (s) from ``WIDTHS`` by two-fold CV on its training trials."""
    fold = np.zeros_like(train)
    for i in range(train.shape[0]):
        idx = rng.permutation(np.flatnonzero(train[i]))
        fold[i, idx[: idx.size // 2]] = True
    halves = (train & fold, train & ~fold)
    scores = np.zeros((len(WIDTHS), train.shape[0]))
    for k, width in enumerate(WIDTHS):
        for a, b in (halves, halves[::-1]):
            mu = psth(y, a, codes, n_cond, width / bin_size)[:, codes]  # (neuron, trial, bin)
            ll = nb_logpmf(y, mu, None)
            scores[k] += (ll * b[:, :, None]).sum(axis=(1, 2))
    return np.array(WIDTHS)[scores.argmax(axis=0)]


def score(y, mu, train, test) -> tuple[np.ndarray, np.ndarray]:
    """Held-out log density per neuron (summed over test trials and bins) with its training-fitted alpha,
    and the number of test trials per neuron."""
    total = np.zeros(y.shape[0])
    for i in range(y.shape[0]):
        alpha = fit_alpha(y[i, train[i]], mu[i, train[i]])
        total[i] = nb_logpmf(y[i, test[i]], mu[i, test[i]], np.full(mu[i, test[i]].shape, alpha)).sum()
    return total, test.sum(axis=1)


def fit_model(counts, train, seed: int):
    """``HierarchicalPSTH`` fitted to the training trials (the others marked invalid); its fit's seconds."""
    start = time.perf_counter()
    # a held-out trial is not recorded as far as the fit knows: valid False, its counts 0 (the schema's rule)
    training = counts.copy(data=counts.values * train[:, :, None]).assign_coords(valid=(("neuron", "trial"), train))
    result = sp.HierarchicalPSTH(condition="condition").fit(
        training, draws=1000, tune=1000, chains=2, random_seed=seed, progressbar=False
    )
    return result, time.perf_counter() - start


def model_scores(result, y, codes, test) -> tuple[np.ndarray, np.ndarray]:
    """The model's posterior mean count (neuron, trial, bin) and its lppd per neuron summed over test trials."""
    width = bin_width(result.counts)
    lppd = np.zeros(y.shape[0])
    mean = np.zeros(y.shape)
    for i in range(y.shape[0]):
        mu = np.exp(result._log_rates(i)) * width  # (draws, condition, bin)
        alpha = result._alpha(i, mu)
        mean[i] = mu.mean(axis=0)[codes]
        trials = np.flatnonzero(test[i])
        ll = nb_logpmf(y[i, trials][None], mu[:, codes[trials]], None if alpha is None else alpha[:, codes[trials]])
        per_trial = ll.sum(axis=2)  # (draws, trial)
        lppd[i] = (logsumexp(per_trial, axis=0) - np.log(per_trial.shape[0])).sum()
    return mean, lppd


def run(counts, n_splits: int, model: bool = True) -> dict[str, list[np.ndarray]]:
    bin_size = bin_width(counts)
    y = counts.values.astype(np.float64)
    names, codes = np.unique(counts["condition"].values.astype(str), return_inverse=True)
    per_trial: dict[str, list] = {"raw PSTH": [], "kernel 50 ms": [], "kernel CV": []}
    if model:
        per_trial.update({"HierarchicalPSTH": [], "HierarchicalPSTH lppd": []})
    per_neuron: dict[str, list] = {k: [] for k in per_trial}
    chosen, fits = [], []
    for seed in range(n_splits):
        rng = np.random.default_rng(seed)
        train, test = split(counts, rng)
        widths = cv_width(y, train, codes, names.size, bin_size, rng)
        chosen.append(widths)
        means = {
            "raw PSTH": psth(y, train, codes, names.size, 0.0),
            "kernel 50 ms": psth(y, train, codes, names.size, 0.05 / bin_size),
            "kernel CV": np.stack(
                [psth(y[i : i + 1], train[i : i + 1], codes, names.size, w / bin_size)[0] for i, w in enumerate(widths)]
            ),
        }
        for name, mu in means.items():
            total, n_test = score(y, mu[:, codes], train, test)
            per_trial[name].append(total.sum() / n_test.sum())
            per_neuron[name].append(total / n_test)
        if model:
            result, seconds = fit_model(counts, train, seed)
            mean, lppd = model_scores(result, y, codes, test)
            total, n_test = score(y, mean, train, test)
            per_trial["HierarchicalPSTH"].append(total.sum() / n_test.sum())
            per_neuron["HierarchicalPSTH"].append(total / n_test)
            per_trial["HierarchicalPSTH lppd"].append(lppd.sum() / n_test.sum())
            per_neuron["HierarchicalPSTH lppd"].append(lppd / n_test)
            post = result.posterior[[v for v in result.DIAGNOSED if v in result.posterior]]
            rhat = max(float(azs.rhat(post)[v].max()) for v in post.data_vars)
            fits.append((seconds, int(result.idata["sample_stats"]["diverging"].sum()), rhat))
    return per_trial, per_neuron, np.array(chosen), fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=5, help="random train/test splits (seeds 0, 1, ...)")
    parser.add_argument("--no-model", action="store_true", help="the baselines only")
    parser.add_argument("--dataset", choices=("locust", "stn", "both"), default="both")
    args = parser.parse_args()
    for label, load in DATASETS.items():
        if args.dataset != "both" and load.__name__ != args.dataset:
            continue
        counts = load()
        per_trial, per_neuron, widths, fits = run(counts, args.splits, model=not args.no_model)
        print(
            f"\n{label}: {counts.sizes['neuron']} neurons x {counts.sizes['trial']} trials x "
            f"{counts.sizes['time']} bins, {args.splits} splits"
        )
        print(f"{'method':<24}{'nats / held-out trial':>24}{'vs raw':>10}{'best for neurons':>18}")
        stacked = {k: np.array(v) for k, v in per_neuron.items() if not k.endswith("lppd")}  # (split, neuron)
        best = np.argmax(np.stack([v.mean(axis=0) for v in stacked.values()]), axis=0)
        raw = np.mean(per_trial["raw PSTH"])
        for k, name in enumerate(per_trial):
            values = np.array(per_trial[name])
            won = f"{int((best == k).sum()):>12} / {best.size}" if name in stacked else ""
            print(f"{name:<24}{values.mean():>16.3f} +- {values.std():.3f}{values.mean() - raw:>+10.3f}{won}")
        print(
            "kernel widths chosen by CV (ms, median over splits): "
            + ", ".join(f"{w * 1000:g}" for w in np.median(widths, axis=0))
        )
        if "HierarchicalPSTH" in per_trial:
            diff = np.array(per_trial["HierarchicalPSTH"]) - np.array(per_trial["kernel CV"])
            lppd = np.array(per_trial["HierarchicalPSTH lppd"]) - np.array(per_trial["kernel CV"])
            print(
                f"HierarchicalPSTH - kernel CV, paired over splits (nats / held-out trial): plug-in {diff.mean():+.3f} "
                f"(splits {diff.min():+.3f} to {diff.max():+.3f}), lppd {lppd.mean():+.3f} "
                f"({lppd.min():+.3f} to {lppd.max():+.3f})"
            )
        if fits:
            seconds, diverging, rhat = (np.array(v) for v in zip(*fits, strict=True))
            print(
                f"HierarchicalPSTH fits: {seconds.min():.0f}-{seconds.max():.0f} s each (2 chains x 1,000 + 1,000), "
                f"divergences {diverging.tolist()}, max R-hat {rhat.max():.3f}"
            )


if __name__ == "__main__":
    main()

"""The pooling continuum side by side: ``compare_pooling`` (LOO and held-out-trial prediction).

The bias-variance claim of partial pooling, demonstrated on data: each neuron x condition cell's valid
trials are split into a training part (``train_trials`` per cell, chosen at random with ``random_seed``)
and a held-out part; no, complete and partial pooling are fitted to the training trials and scored on the
held-out ones by their log predictive density, ``log mean_s p(y_test | theta_s)`` summed over held-out
trials (higher is better), and by the squared error of the predicted log rate against the held-out raw
rate. In the Normal case the expected gain of partial over no pooling is the MSE ratio
``n tau^2 / (n tau^2 + sigma^2)``: largest when few trials (small n) inform each neuron.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from spikepool._validate import check_int, check_trial_coord, did_you_mean
from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError, SpikepoolWarning
from spikepool.models.negbin import HierarchicalNegBinom
from spikepool.models.sampling import check_sampler_args
from spikepool.stats.families import family_of

__all__ = ["compare_pooling", "split_trials"]

POOLINGS = ("none", "complete", "partial")
#: The arguments a variant may give (those of ``HierarchicalNegBinom``).
MODEL_ARGS = tuple(inspect.signature(HierarchicalNegBinom).parameters)


def split_trials(
    counts: xr.DataArray, train_trials: int | None = None, *, condition: str | None = None, random_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (neuron, trial) masks ``(train, test)`` splitting each neuron x condition cell's valid trials.

    ``train_trials`` per cell go to training (default: half, rounded down, at least 1); the rest are held
    out. Cells with a single valid trial stay in training only.
    """
    rng = np.random.default_rng(random_seed)
    valid = valid_mask(counts)
    labels = counts[condition].values if condition else np.zeros(counts.sizes["trial"])
    train = np.zeros_like(valid)
    for n in range(valid.shape[0]):
        for c in np.unique(labels):
            idx = np.flatnonzero(valid[n] & (labels == c))
            if idx.size == 0:
                continue
            k = max(1, idx.size // 2) if train_trials is None else min(int(train_trials), idx.size)
            train[n, rng.permutation(idx)[:k]] = True
    return train, valid & ~train


def _holdout_scores(result, counts, test: np.ndarray, condition: str | None) -> tuple[float, float, int]:
    post = result.posterior
    rate = post["rate"].values  # (chain, draw, neuron[, condition])
    draws = rate.reshape(-1, *rate.shape[2:])
    n_idx, t_idx = np.nonzero(test)
    if condition:
        names = list(post["condition"].values)
        c_idx = np.array([names.index(c) for c in counts[condition].values[t_idx]])
        r = draws[:, n_idx, c_idx]
    else:
        r = draws[:, n_idx]
    d = counts["duration"].values[t_idx]
    y = (counts.sum("time") if "time" in counts.dims else counts).values[n_idx, t_idx]
    mu = r * d
    family = family_of(result.spec["likelihood"])
    values = {name: post[name].values.reshape(-1, *post[name].shape[2:]) for name in family.parameters if name in post}
    lp = family.logpmf(y, mu, family.dispersion_at(values, n_idx, mu))
    lpd = float(np.sum(logsumexp(lp, axis=0) - np.log(lp.shape[0])))
    # squared error of the predicted log rate against each held-out cell's raw log rate
    pred = np.log(r.mean(axis=0))
    keys = np.stack([n_idx, c_idx if condition else np.zeros_like(n_idx)], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    spikes = np.bincount(inv.ravel(), y, len(uniq))
    exposure = np.bincount(inv.ravel(), d, len(uniq))
    pred_cell = np.bincount(inv.ravel(), pred, len(uniq)) / np.bincount(inv.ravel(), None, len(uniq))
    ok = spikes > 0
    mse = float(np.mean((pred_cell[ok] - np.log(spikes[ok] / exposure[ok])) ** 2))
    return lpd, mse, int(y.size)


def compare_pooling(
    counts: xr.DataArray,
    *,
    condition: str | None = None,
    dispersion: str = "shared",
    train_trials: int | None = None,
    loo: bool = True,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int = 0,
    variants: dict[str, dict] | None = None,
    **fit_kwargs: Any,
):
    """Fit no, complete and partial pooling and compare them (LOO on all trials, held-out trials).

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]).
    condition : str, optional
        Trial coordinate of conditions (rates per neuron x condition).
    dispersion : str
        Dispersion of all three models (``"shared"`` by default: the comparison is about the rates).
    train_trials : int, optional
        Training trials per neuron x condition cell (default: half of them); the rest are held out.
    loo : bool
        Also fit each model to all trials and report PSIS-LOO (three more fits).
    variants : dict of str to dict, optional
        More models scored on the same split, one row each: row name -> ``HierarchicalNegBinom``
        arguments, e.g. ``{"partial, plain": {"neuron_effect": False}}`` (``pooling`` defaults to
        ``"partial"``, ``dispersion`` and ``condition`` to this function's). The ``"partial"`` row is the
        default model: with conditions, crossed neuron effects whenever two or more neurons have trials in
        two or more conditions (``HierarchicalNegBinom(neuron_effect="auto")``).
    draws, tune, chains, random_seed, **fit_kwargs
        Passed to ``HierarchicalNegBinom.fit``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``pooling`` (``"none"``, ``"complete"``, ``"partial"``, then the variants' names), with
        columns ``heldout_lpd`` (summed log predictive density of the held-out trials),
        ``heldout_lpd_per_trial``, ``heldout_log_rate_mse``, ``n_heldout``, and with ``loo``
        ``elpd_loo`` and ``se``; ``attrs["fits"]`` holds the training fits (row name -> ``FitResult``) and
        ``attrs["heldout"]`` the boolean numpy (neuron, trial) mask of the held-out trials they were scored on.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray; a variant names an argument ``HierarchicalNegBinom`` does not take;
        ``fit_kwargs`` holds a keyword that is neither a ``fit`` nor a ``pm.sample`` option.
    CountsError
        ``counts`` breaks the counts schema.
    ArgumentError
        ``condition`` is not a coordinate on ``trial``; ``train_trials`` is not an integer >= 1; ``draws``,
        ``tune``, ``chains`` or ``random_seed`` is out of range; no cell has a trial to hold out; a variant's
        name is taken or its arguments are not a dict; a model argument or a ``fit`` option is out of its choices.
    IdentifiabilityError
        The checks of a model on the training trials (or, with ``loo``, on all) find errors, e.g. one trial
        per neuron (``check_counts``); raised before that model is sampled.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts, truth = sp.simulate_counts(6, 8, mu=1.5, tau=0.5, alpha=None, seed=1)
    >>> table = sp.compare_pooling(counts, loo=False, draws=100, tune=100, chains=1, progressbar=False)
    >>> table.index.tolist(), table["n_heldout"].tolist()
    (['none', 'complete', 'partial'], [24, 24, 24])
    >>> list(table.columns)
    ['heldout_lpd', 'heldout_lpd_per_trial', 'heldout_log_rate_mse', 'n_heldout']
    """
    import pandas as pd

    counts = validate_counts(counts)
    check_sampler_args(draws, tune, chains, random_seed, {})
    if train_trials is not None:
        check_int("train_trials", train_trials, 1)
    if condition is not None:
        check_trial_coord(counts, condition)
    train, test = split_trials(counts, train_trials, condition=condition, random_seed=random_seed)
    if not test.any():
        raise ArgumentError("compare_pooling needs held-out trials; got none (every cell has a single trial).")
    base = valid_mask(counts)
    train_counts = counts.where(xr.DataArray(train, dims=("neuron", "trial")), 0).astype(counts.dtype)
    train_counts = train_counts.assign_coords(valid=(("neuron", "trial"), train & base))
    rows, fits = [], {}
    settings = {"draws": draws, "tune": tune, "chains": chains, "random_seed": random_seed, **fit_kwargs}
    specs = {p: {"pooling": p} for p in POOLINGS}
    for name, kwargs in (variants or {}).items():
        if name in specs or not isinstance(kwargs, dict):
            raise ArgumentError(
                "variants must map new row names to dicts of HierarchicalNegBinom arguments; "
                f"got {name!r}: {kwargs!r}. Hint: {{'partial+neuron': {{'neuron_effect': True}}}}."
            )
        for key in kwargs:
            if key not in MODEL_ARGS:
                raise ArgumentTypeError(
                    f"variants must give HierarchicalNegBinom arguments; got {key!r} in {name!r}."
                    f"{did_you_mean(key, MODEL_ARGS)}"
                )
        specs[name] = {"pooling": "partial", **kwargs}
    models = {
        name: HierarchicalNegBinom(**{"dispersion": dispersion, "condition": condition, **kw})
        for name, kw in specs.items()
    }  # built first: a bad variant fails before any sampling
    for pooling, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpikepoolWarning)  # held-out cells look 'empty' to the checks
            fit = model.fit(train_counts, **settings)
        lpd, mse, n = _holdout_scores(fit, counts, test, condition)
        row = {
            "pooling": pooling,
            "heldout_lpd": lpd,
            "heldout_lpd_per_trial": lpd / n,
            "heldout_log_rate_mse": mse,
            "n_heldout": n,
        }
        if loo:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SpikepoolWarning)
                full = model.fit(counts, **settings)
            elpd = full.loo()
            row["elpd_loo"], row["se"] = float(elpd.elpd), float(elpd.se)
        rows.append(row)
        fits[pooling] = fit
    table = pd.DataFrame(rows).set_index("pooling")
    table.attrs["fits"] = fits
    table.attrs["heldout"] = test
    return table

"""Contrasts between conditions and responsive units, from the posterior draws of the rates (every count model).

``contrast(a, b)``: per neuron [and time bin], the posterior of the rate ratio ``r_a / r_b`` and difference
``r_a - r_b`` (Hz), and ``prob_greater = P(r_a > r_b | data)``.

``responsive(baseline)``: per (neuron, condition) [and time bin], the ratio to the baseline condition,
``prob_up = P(r_c / r_base > min_ratio | data)`` and ``prob_down = P(r_c / r_base < 1 / min_ratio | data)``,
and a label chosen by a **Bayesian false-discovery-rate rule** (Newton et al. 2004, "Detecting
differential gene expression with a semiparametric hierarchical mixture method", Biostatistics 5:155;
Müller et al. 2004, "Optimal sample size for multiple testing", JASA 99:990): each cell's call is its more
probable direction, right with posterior probability ``p = max(prob_up, prob_down)``; the cells are ranked
by ``p`` and the largest top set whose **expected** false discovery rate, the mean of ``1 - p`` over the
set, is at most ``fdr`` is called ("up" / "down"), the rest "none". The expected FDR is a posterior
expectation: it holds over data sets to the extent that the model (its prior on the rates included) holds.
A call claims a change of at least ``min_ratio`` (default 1.25) in its direction, and is false when the true
ratio is not beyond it. With ``min_ratio = 1`` a false discovery is a call of the wrong sign (a type S error,
Gelman & Tuerlinckx 2000); a ``min_ratio`` above 1 makes "no change" an interval, the reading to take
where some units are expected not to respond at all.

Calibration, measured (``benchmarks/fdr_responsive.py``: 30 neurons x 3 stimuli against a baseline, 20 trials
per condition; realised FDR, mean +- s.e. over simulated data sets, at a 0.05 target, with ``min_ratio`` 1,
1.1 and 1.25):

- the default model (``HierarchicalNegBinom(condition=...)``, 20 data sets per row), every cell's log ratio a
  continuous effect, Normal(0, 0.3) (the model's own assumption): 0.044 +- 0.005, 0.045 +- 0.009 and
  0.049 +- 0.011: **calibrated**;
- the default model, 30% of the cells responding (x2 or x0.5) and the rest exactly unchanged: 0.49, 0.26 and
  0.079 +- 0.009. Its continuous prior on each neuron's condition effects never believes in a ratio of
  exactly 1, so unchanged cells look like small responses and the expected FDR is optimistic;
- the model with a point mass at no change (``HierarchicalNegBinom(condition=..., baseline=...)``,
  ``spikepool.models.responses``; 12 data sets per row): 0.068 +- 0.010, 0.062 +- 0.009 and
  **0.035 +- 0.007** where 30% respond and the rest are unchanged, and 0.014 +- 0.004, 0.031 +- 0.008 and
  0.043 +- 0.012 with continuous effects: **calibrated at the default** ``min_ratio`` **in both**, with
  power 0.93 and 0.38 (the default model's: 0.93 and 0.39). With ``min_ratio = 1`` its slab, a Normal
  centred on no change, still gives tiny responses some mass, and sign calls on unchanged cells stay a
  little above the target.

Where some units may not respond at all, fit with ``baseline=`` and keep ``min_ratio`` above 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import xarray as xr

from spikepool._validate import check_ci_prob, did_you_mean
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError
from spikepool.stats.intervals import draw_summary

__all__ = ["ConditionContrasts", "bayes_fdr", "contrast_table", "responsive_table"]

#: the smallest change a "responsive" call claims by default (a factor: 1.25 up, 1/1.25 down)
MIN_RATIO = 1.25

RULE = (
    "Bayesian FDR (Newton et al. 2004; Mueller et al. 2004): cells ranked by p = max(prob_up, prob_down); "
    "the largest top set with mean(1 - p) <= fdr is called in its more probable direction"
)


def bayes_fdr(prob: np.ndarray, fdr: float) -> tuple[np.ndarray, float]:
    """The largest set of calls whose expected false discovery rate is at most ``fdr``.

    Parameters
    ----------
    prob : numpy.ndarray
        Posterior probability that each call is right (any shape).
    fdr : float
        Target expected false discovery rate, in (0, 1).

    Returns
    -------
    (selected, expected) : (numpy.ndarray, float)
        Boolean mask of ``prob``'s shape, and the expected FDR of the selected set, ``mean(1 - prob)`` over
        it (0 when nothing is selected). The cells with the highest ``prob`` are taken first; ties are taken
        together or not at all.

    Examples
    --------
    >>> bayes_fdr(np.array([0.6, 1.0, 0.97, 0.99, 0.9]), 0.05)
    (array([False,  True,  True,  True,  True]), 0.035)
    """
    p = np.asarray(prob, dtype=float).ravel()
    order = np.argsort(-p, kind="stable")
    running = np.maximum.accumulate(np.cumsum(1.0 - p[order]) / np.arange(1, p.size + 1))
    k = int(np.searchsorted(running, fdr + 1e-12, side="right"))
    while 0 < k < p.size and p[order[k]] == p[order[k - 1]]:  # a tie at the edge: leave the tied cells out
        k -= 1
    selected = np.zeros(p.size, dtype=bool)
    selected[order[:k]] = True
    expected = float(np.round(running[k - 1], 12)) if k else 0.0
    return selected.reshape(np.shape(prob)), expected


def check_conditions(names: Sequence[str], wanted: Sequence[str], what: str) -> list[int]:
    """Positions of ``wanted`` among the fitted condition ``names``; ``ArgumentError`` naming a stranger."""
    names = [str(n) for n in names]
    out = []
    for w in wanted:
        if str(w) not in names:
            raise ArgumentError(
                f"{what} must be conditions of the fit; got {w!r}, not among {names}.{did_you_mean(str(w), names)}"
            )
        out.append(names.index(str(w)))
    return out


def _stack(parts: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
    return [np.stack([p[k] for p in parts]) for k in range(len(parts[0]))]


def contrast_table(
    draws: Iterable[np.ndarray],
    trials: np.ndarray,
    dims: tuple[str, ...],
    coords: dict,
    a: str,
    b: str,
    ci_prob: float,
) -> xr.Dataset:
    """``ratio``, ``difference`` (each with ``_lower`` / ``_upper``) and ``prob_greater`` from rate draws.

    ``draws`` yields, neuron by neuron, the joint posterior draws (draw, 2[, time]) of the two conditions'
    rates (Hz); ``trials`` (neuron, 2) counts each neuron's valid trials in them. A neuron without trials in
    either condition gets NaN (its rates there are the population's prediction, not its data).
    """
    ci_prob = check_ci_prob(ci_prob)
    parts = []
    for rates in draws:
        ra, rb = rates[:, 0], rates[:, 1]
        parts.append((*draw_summary(ra / rb, ci_prob), *draw_summary(ra - rb, ci_prob), (ra > rb).mean(axis=0)))
    values = _stack(parts)
    missing = (trials == 0).any(axis=1).reshape((-1,) + (1,) * (values[0].ndim - 1))
    ratio, ratio_low, ratio_high, diff, diff_low, diff_high, greater = (np.where(missing, np.nan, v) for v in values)
    data = {
        "ratio": (dims, ratio, {"long_name": f"posterior mean of rate[{a}] / rate[{b}]"}),
        "ratio_lower": (dims, ratio_low),
        "ratio_upper": (dims, ratio_high),
        "difference": (dims, diff, {"units": "Hz", "long_name": f"posterior mean of rate[{a}] - rate[{b}]"}),
        "difference_lower": (dims, diff_low, {"units": "Hz"}),
        "difference_upper": (dims, diff_high, {"units": "Hz"}),
        "prob_greater": (dims, greater, {"long_name": f"P(rate[{a}] > rate[{b}] | data)"}),
        "n_trials_a": ("neuron", trials[:, 0], {"long_name": f"valid trials in {a}"}),
        "n_trials_b": ("neuron", trials[:, 1], {"long_name": f"valid trials in {b}"}),
    }
    attrs = {"a": a, "b": b, "ci_prob": ci_prob, "interval": "equal-tailed"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def responsive_table(
    draws: Iterable[np.ndarray],
    trials: np.ndarray,
    dims: tuple[str, ...],
    coords: dict,
    baseline: str,
    *,
    fdr: float,
    ci_prob: float,
    min_ratio: float,
) -> xr.Dataset:
    """The responsive-unit table from rate draws.

    ``draws`` yields, neuron by neuron, the joint posterior draws (draw, 1 + K[, time]) of the baseline's and
    the K tested conditions' rates; ``trials`` (neuron, 1 + K) counts the valid trials behind each. ``dims``
    name the table's (neuron, condition[, time]). A cell whose neuron has no trial in the baseline or in the
    condition is left out of the rule (NaN probabilities, "none"): its posterior is the population's
    prediction, and a confident prediction is not a discovery.
    """
    ci_prob = check_ci_prob(ci_prob)
    if not (0.0 < fdr < 1.0):
        raise ArgumentError(f"fdr must be a rate in (0, 1); got {fdr!r}. Hint: fdr=0.05.")
    if not (np.isfinite(min_ratio) and min_ratio >= 1.0):
        raise ArgumentError(
            f"min_ratio must be a factor >= 1 (1: any change of sign); got {min_ratio!r}. Hint: min_ratio=1.2."
        )
    parts = []
    for rates in draws:
        ratio = rates[:, 1:] / rates[:, :1]
        up, down = (ratio > min_ratio).mean(axis=0), (ratio < 1.0 / min_ratio).mean(axis=0)
        parts.append((*draw_summary(ratio, ci_prob), np.log(ratio).mean(axis=0), up, down))
    mean, low, high, log_mean, up, down = _stack(parts)
    observed = (trials[:, :1] > 0) & (trials[:, 1:] > 0)  # (neuron, K)
    observed = np.broadcast_to(observed.reshape(observed.shape + (1,) * (up.ndim - 2)), up.shape)
    up, down = np.where(observed, up, np.nan), np.where(observed, down, np.nan)
    chosen, expected = bayes_fdr(np.maximum(up, down)[observed], fdr)
    selected = np.zeros(up.shape, dtype=bool)
    selected[observed] = chosen
    label = np.where(selected, np.where(up >= down, "up", "down"), "none")
    data = {
        "ratio": (dims, mean, {"long_name": f"posterior mean of rate / rate[{baseline}]"}),
        "ratio_lower": (dims, low),
        "ratio_upper": (dims, high),
        "log_ratio": (dims, log_mean, {"long_name": "posterior mean of the log ratio"}),
        "prob_up": (dims, up, {"long_name": f"P(ratio > {min_ratio:g} | data)"}),
        "prob_down": (dims, down, {"long_name": f"P(ratio < 1/{min_ratio:g} | data)"}),
        "responsive": (dims, label.astype(str)),
        "n_trials": (dims[:2], trials[:, 1:], {"long_name": "valid trials in the condition"}),
        "n_trials_baseline": ("neuron", trials[:, 0], {"long_name": f"valid trials in {baseline}"}),
    }
    attrs = {
        "baseline": baseline,
        "fdr": float(fdr),
        "expected_fdr": expected,
        "n_discoveries": int(selected.sum()),
        "n_up": int((label == "up").sum()),
        "n_down": int((label == "down").sum()),
        "n_unobserved": int((~observed).sum()),
        "min_ratio": float(min_ratio),
        "rule": RULE,
        "ci_prob": ci_prob,
        "interval": "equal-tailed",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


class ConditionContrasts:
    """``contrast`` and ``responsive`` for a count model's result.

    The result provides ``counts`` and ``spec["condition"]``, ``_fitted_conditions()`` (the condition names,
    [] without conditions), ``_condition_draws(idx, neuron)``: one neuron's rate draws (draw, len(idx)[, time])
    of the conditions at ``idx``, and ``_table_axes()``: the dims and coords of a table over (neuron[, time]).
    """

    def _draws(self, names: list[str], what: str):
        fitted = self._fitted_conditions()
        if not fitted:
            raise ArgumentError(
                f"{what} needs a fit with conditions; got a model fitted with condition=None. "
                "Hint: fit with condition='condition'."
            )
        idx = check_conditions(fitted, names, what)
        labels = np.asarray(self.counts[self.spec["condition"]].values).astype(str)
        valid = valid_mask(self.counts)
        trials = np.stack([(valid & (labels == fitted[k])[None, :]).sum(axis=1) for k in idx], axis=1)
        draws = (self._condition_draws(idx, i) for i in range(self.counts.sizes["neuron"]))
        return draws, trials, *self._table_axes()

    def contrast(self, a: str, b: str, *, ci_prob: float = 0.94) -> xr.Dataset:
        """Condition ``a`` against ``b``: Dataset (neuron[, time]).

        ``ratio`` (posterior mean of ``rate[a] / rate[b]``) and ``difference`` (Hz), each with ``_lower`` /
        ``_upper`` (equal-tailed ``ci_prob``), and ``prob_greater = P(rate[a] > rate[b] | data)``.

        Examples
        --------
        >>> result.contrast("Citral", "Spontaneous_1").sel(neuron="u7")  # doctest: +SKIP
        """
        if str(a) == str(b):
            raise ArgumentError(f"a and b must be two different conditions; got {a!r} twice.")
        draws, trials, dims, coords = self._draws([str(a), str(b)], "a and b")
        return contrast_table(draws, trials, dims, coords, str(a), str(b), ci_prob)

    def responsive(
        self,
        baseline: str,
        *,
        conditions: Sequence[str] | None = None,
        fdr: float = 0.05,
        ci_prob: float = 0.94,
        min_ratio: float = MIN_RATIO,
    ) -> xr.Dataset:
        """Which neurons respond to which condition, against ``baseline``: Dataset (neuron, condition[, time]).

        ``ratio`` to the baseline (mean, ``ratio_lower``, ``ratio_upper``), ``log_ratio``, ``prob_up``,
        ``prob_down`` and ``responsive`` ("up", "down", "none") by the Bayesian FDR rule of this module at
        ``fdr``; ``attrs``: ``expected_fdr``, ``n_discoveries``, ``n_up``, ``n_down``, the rule, and
        ``point_mass`` (1 when the fit has a point mass at no change against this baseline:
        ``HierarchicalNegBinom(baseline=...)``, the model to use where some units may not respond at all; the
        expected FDR of the default model is optimistic there, see the module docstring).

        Parameters
        ----------
        baseline : str
            The reference condition (e.g. a spontaneous block).
        conditions : sequence of str, optional
            The conditions to test; default every other condition.
        fdr : float
            Target expected false discovery rate of the calls.
        ci_prob : float
            Probability of the ratio's interval.
        min_ratio : float
            A call needs ``ratio > min_ratio`` ("up") or ``< 1 / min_ratio`` ("down"): by default a change of
            at least 25%. 1 asks for the sign only, which with tens of trials per cell calls nearly every pair
            (a ratio of 1.02 is then a "response") and whose realised FDR is far above the target where some
            units do not respond at all (``benchmarks/fdr_responsive.py``).
        """
        baseline = str(baseline)
        fitted = self._fitted_conditions()
        tested = [str(c) for c in conditions] if conditions is not None else [c for c in fitted if c != baseline]
        if baseline in tested:
            raise ArgumentError(f"conditions must not include the baseline; got {baseline!r} among {tested}.")
        if fitted and not tested:
            raise ArgumentError(f"responsive needs a condition besides the baseline; got only {fitted}.")
        draws, trials, dims, coords = self._draws([baseline, *tested], "baseline and conditions")
        table_dims = (dims[0], "condition", *dims[1:])
        table = responsive_table(
            draws,
            trials,
            table_dims,
            {**coords, "condition": np.array(tested)},
            baseline,
            fdr=fdr,
            ci_prob=ci_prob,
            min_ratio=min_ratio,
        )
        # 1 where the fit has a point mass at no change against this very baseline (``baseline=`` of the model)
        table.attrs["point_mass"] = int(self.spec.get("baseline") == baseline)
        return table

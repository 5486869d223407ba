"""Checks before a time-resolved model is fitted: ``check_binned`` (``check_counts`` and the bins' own findings).

==========================  ========  ==============================================================
code                        severity  finding
==========================  ========  ==============================================================
(every ``check_counts`` code) as there, on the window totals of the bins
``sparse_bins``             warning   most neurons fire less than one spike per bin and trial: single-
                                      trial rates are not estimable (the courses across trials are)
                            info      the same for a minority of the neurons
``prior_driven_course``     info      neurons with less than one spike per bin over the trials of a
                                      condition: their own deviations from the population course are
                                      prior-driven (their course is the population's, at their level)
==========================  ========  ==============================================================
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool.checks.counts import check_counts, check_valid_counts
from spikepool.checks.problems import CheckReport, Problem, labels_of
from spikepool.counts.schema import valid_mask
from spikepool.exceptions import ArgumentError

__all__ = ["SPARSE_SPIKES_PER_BIN", "check_binned", "check_valid_binned"]

#: Mean spikes per bin (over a neuron's valid trials and bins) below which a neuron's own course is sparse.
SPARSE_SPIKES_PER_BIN = 1.0


def check_binned(
    binned: xr.DataArray, *, dispersion: str = "neuron", condition: str | None = None, likelihood: str = "negbin"
) -> CheckReport:
    """Check that binned counts can identify a time-resolved model (``HierarchicalPSTH``).

    Parameters
    ----------
    binned : xarray.DataArray
        DataArray (neuron, trial, time) of binned counts.
    dispersion : {"neuron", "pooled", "shared", "fano", "poisson"}
        The dispersion the model will fit (as in ``check_counts``).
    condition : str, optional
        Trial coordinate of the conditions.
    likelihood : {"negbin", "poisson", "com_poisson"}
        The model's count family (as in ``check_counts``).

    Returns
    -------
    CheckReport
        ``check_counts``' findings on the counts, then ``sparse_bins`` and ``prior_driven_course`` (see the
        module's table); the summary (a Dataset over ``neuron``) adds ``spikes_per_bin`` (per bin and trial).
        Counts that break the schema are not raised: their report holds the one error ``schema``.

    Raises
    ------
    ArgumentError
        ``binned`` is not a DataArray with a ``time`` dim; ``dispersion`` or ``likelihood`` is not one of its
        choices; for counts that pass the schema, ``condition`` is not a coordinate on ``trial``.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, truth = sp.simulate_binned(4, 6, 20, seed=1)  # 10 Hz in 25 ms bins: 0.25 spikes per bin
    >>> report = sp.check_binned(binned, dispersion="shared")
    >>> report.ok, [p.code for p in report.warnings], report.summary["spikes_per_bin"].sizes["neuron"]
    (True, ['sparse_bins'], 4)
    """
    if not isinstance(binned, xr.DataArray) or "time" not in binned.dims:
        dims = binned.dims if isinstance(binned, xr.DataArray) else type(binned).__name__
        raise ArgumentError(
            f"binned must be counts with a time dim (neuron, trial, time); got {dims}. "
            "Hint: count with from_neo(..., bin_size=0.05) or load_counts(..., bin_size=0.05)."
        )
    report = check_counts(binned, dispersion=dispersion, condition=condition, likelihood=likelihood)
    if not any(p.code == "schema" for p in report.errors):
        report = _with_bins(report, binned)
    return report


def check_valid_binned(
    binned: xr.DataArray, *, dispersion: str = "neuron", condition: str | None = None, likelihood: str = "negbin"
) -> CheckReport:
    """``check_binned`` of binned counts that ``validate_counts`` has already returned (a model's prepared data)."""
    report = check_valid_counts(binned, dispersion=dispersion, condition=condition, likelihood=likelihood)
    return _with_bins(report, binned)


def _with_bins(report: CheckReport, binned: xr.DataArray) -> CheckReport:
    valid = valid_mask(binned)
    trials = valid.sum(axis=1)
    n_bins = binned.sizes["time"]
    n_cond = np.unique(binned["condition"].values.astype(str)).size
    spikes = (binned.values * valid[:, :, None]).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_bin = np.where(trials > 0, spikes / (trials * n_bins), np.nan)  # per trial
    per_course = spikes / (n_cond * n_bins)  # over all trials of a condition
    names = binned["neuron"].values
    problems = list(report.problems)
    recorded = int(np.isfinite(per_bin).sum())
    sparse = per_bin < SPARSE_SPIKES_PER_BIN
    if sparse.any():
        most = sparse.sum() > recorded / 2
        problems.append(
            Problem(
                "sparse_bins",
                "warning" if most else "info",
                f"a bin should hold {SPARSE_SPIKES_PER_BIN:g} spike or more on a single trial for single-trial "
                f"rates to be estimable; got fewer on average for {int(sparse.sum())} of {recorded} neuron(s) "
                f"(median {np.nanmedian(per_bin[sparse]):.2g} spikes per bin and trial). The model estimates each "
                "neuron's course across its trials, with the trial-to-trial variability as dispersion; pooling "
                "lends a sparse neuron the population's shape and keeps its own level, but cannot give it "
                "single-trial rates.",
                "wider bins where single-trial rates matter; the courses across trials are still learnt.",
                neurons=labels_of(names, sparse),
            )
        )
    prior_driven = np.isfinite(per_bin) & (per_course < SPARSE_SPIKES_PER_BIN)
    if prior_driven.any():
        problems.append(
            Problem(
                "prior_driven_course",
                "info",
                f"a neuron's own deviation from the population course is learnt from about {SPARSE_SPIKES_PER_BIN:g} "
                f"spike or more per bin over the trials of a condition; got fewer for {int(prior_driven.sum())} "
                "neuron(s): their courses are the population's, shifted to their level.",
                "wider bins or a coarser smoothing= to learn their own shapes, or more trials.",
                neurons=labels_of(names, prior_driven),
            )
        )
    summary = report.summary
    if summary is not None:
        summary = summary.assign(spikes_per_bin=("neuron", per_bin))
    checked = (*report.checked, "sparse_bins", "prior_driven_course")
    return CheckReport(report.title.replace("check_counts", "check_binned"), problems, checked=checked, summary=summary)

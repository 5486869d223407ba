"""Checks before any model is fitted: ``check_counts`` returns a ``CheckReport``.

A hierarchical model fitted to a design that cannot identify it returns a posterior that looks fine
and means nothing, so spikepool refuses those fits (errors) and says what is weak (warnings).
Every check has a stable code:

==========================  ========  ==============================================================
code                        severity  finding
==========================  ========  ==============================================================
``schema``                  error     the counts break the schema (``validate_counts``)
``variance_components``     error     one valid trial per neuron (per condition cell): between-neuron
                                      variance and trial-to-trial dispersion are not separable
``dispersion_trials``       warning   ``dispersion="neuron"`` with fewer than
                                      ``MIN_DISPERSION_REPLICATES`` repeated trials for some neurons
``empty_cell``              warning   neuron x condition cells without a valid trial
``single_neuron_condition`` warning   a condition recorded for one neuron only
``single_trial_condition``  warning   a condition with at most one valid trial per neuron
``confounded_condition``    error     a condition that is the only one of its only neuron, or of its
                                      only session: its effect cannot be told from theirs
``unrecorded_neuron``       warning   a neuron without any valid trial
``silent_neuron``           warning   a neuron with no spike at all: its rate is prior-driven
``all_silent``              error     no spike in any valid trial of any neuron: nothing informs a rate
``constant_counts``         warning   a neuron whose counts never vary (saturated or an artefact)
``exposure``                error     zero, negative or missing (NaN) ``duration`` on valid trials
``exposure_varies``         info      durations differ across trials (they enter as exposure)
``underdispersed``          warning   Fano factor clearly below 1, which a Negative Binomial cannot fit
                            info      the same, when the model is ``likelihood="com_poisson"`` (nu > 1 fits it)
``dispersion_summary``      info      how many neurons are over-, under- or Poisson-dispersed
``session_levels``          error     ``session=`` with fewer than two recorded sessions, or none with two
                                      recorded neurons: the between-session sd is not identified
``single_neuron_session``   warning   a session with one recorded neuron: its mean rests on that neuron
``single_session_condition`` warning  a condition recorded in one session only: its population mean is
                                      that session's mean
``confounded_session``      error     with ``session=`` and conditions, no condition recorded in two
                                      sessions: session and condition means cannot be told apart
``outside_session``         info      neuron x condition cells of conditions their session never recorded
``neuron_effect``           info      (added by ``HierarchicalNegBinom.fit``) crossed neuron x condition
                                      effects on or off, and why (``neuron_effect="auto"``)
==========================  ========  ==============================================================

With ``session=`` (a neuron coordinate, e.g. ``"neuron_session"`` from ``concat_sessions``) the cells of
conditions a neuron's session never recorded are not ``empty_cell`` problems (nobody could record them):
they are reported once as ``outside_session``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from spikepool._validate import check_choice, check_trial_coord, did_you_mean
from spikepool.checks.problems import CheckReport, Problem, labels_of
from spikepool.checks.sessions import session_checks
from spikepool.counts.schema import valid_mask, validate_counts
from spikepool.exceptions import ArgumentError, CountsError
from spikepool.stats.fano import FANO_CI_PROB, cell_codes, cell_sums, fano_screen

__all__ = ["DISPERSIONS", "MIN_DISPERSION_REPLICATES", "check_counts", "check_valid_counts", "fano_screen"]

DISPERSIONS = ("neuron", "pooled", "shared", "fano", "poisson")
LIKELIHOODS = ("negbin", "poisson", "com_poisson")

#: Repeated trials a neuron needs before its own dispersion alpha_i is learnt from its data rather
#: than from the prior. ``benchmarks/dispersion_threshold.py`` computes the exact (grid) posterior
#: of log alpha for one Negative-Binomial neuron with n trials (log alpha ~ Normal(1, 1.5), weak prior
#: on log mu; 200 simulated neurons per scenario; mean counts 1-20 per trial, Fano factors 1.5-41).
#: The median prior-to-posterior contraction of log alpha reaches 0.5 (posterior variance half the
#: prior's) by n = 15 in every scenario with Fano >= 3, and by n = 8 in 6 of the 8 scenarios with
#: Fano >= 1.5; at n = 2-3 it is <= 0.4 almost everywhere. Below 15 repeated trials alpha_i largely
#: restates its prior, and ``dispersion="pooled"`` (or ``"shared"``) should borrow strength across
#: neurons. At about one spike per trial alpha is weakly located at any realistic n (90% interval
#: still a factor ~20 either way at n = 50): pool it there too.
MIN_DISPERSION_REPLICATES = 15


def _variance_checks(neurons, n_model, dispersion, condition, problems) -> None:
    if dispersion == "poisson":
        return
    per = f" per {condition!r} cell" if condition else ""
    if not (n_model >= 2).any():
        problems.append(
            Problem(
                "variance_components",
                "error",
                "between-neuron variance (tau^2) and within-neuron trial-to-trial variability (the dispersion "
                f"alpha) are separable only with repeated trials; got at most one valid trial{per} for every "
                f"one of the {len(neurons)} neurons, so only their sum is identified.",
                "(1) pool dispersion across neurons (dispersion='pooled' or 'shared') and include neurons "
                "with repeated trials, (2) fix it (likelihood='poisson', or a known alpha in priors), or "
                f"(3) record repeated trials (n_i >= 2{per} for some neurons).",
                neurons=tuple(str(n) for n in neurons),
            )
        )
    if dispersion == "neuron":
        replicates = np.maximum(n_model - 1, 0).sum(axis=1)
        few = replicates < MIN_DISPERSION_REPLICATES
        if few.any():
            problems.append(
                Problem(
                    "dispersion_trials",
                    "warning",
                    f"a per-neuron dispersion alpha_i is learnt from repeated trials; {int(few.sum())} of "
                    f"{len(neurons)} neurons have fewer than {MIN_DISPERSION_REPLICATES} repeated trials{per} "
                    f"(fewest: {int(replicates.min())}), so their alpha_i would mostly restate the prior.",
                    "use dispersion='pooled' (log alpha_i ~ Normal(mu_a, tau_a) borrows strength across "
                    "neurons) or dispersion='shared' (one alpha).",
                    neurons=labels_of(neurons, few),
                )
            )


def _coverage_checks(counts, neurons, cond_names, n_cell, valid, condition, problems, outside=None) -> None:
    empty = (n_cell == 0) if outside is None else (n_cell == 0) & ~outside
    if empty.any():
        i, c = np.nonzero(empty)
        problems.append(
            Problem(
                "empty_cell",
                "warning",
                f"{int(empty.sum())} neuron x {condition!r} cells have no valid trial (of "
                f"{empty.size}); those neuron-condition rates come from the population level alone.",
                "fine if expected (units lost or not recorded in a condition); otherwise check the trial "
                "layout or the neuron matching (neuron_key).",
                neurons=tuple(dict.fromkeys(str(x) for x in neurons[i])),
                conditions=tuple(dict.fromkeys(str(x) for x in cond_names[c])),
            )
        )
    one_trial = (n_cell.max(axis=0) == 1) & (n_cell.sum(axis=0) > 0)
    if one_trial.any():
        problems.append(
            Problem(
                "single_trial_condition",
                "warning",
                f"{int(one_trial.sum())} condition(s) have at most one valid trial per neuron, so each neuron's "
                "rate there rests on one trial (and its trial-to-trial variability there is not seen at all): "
                "partial pooling fills in from the other neurons, which is the whole estimate.",
                "record more trials of these conditions, or merge them with a related condition.",
                conditions=labels_of(cond_names, one_trial),
            )
        )
    has = n_cell > 0
    neurons_per_cond = has.sum(axis=0)
    conds_per_neuron = has.sum(axis=1)
    single = neurons_per_cond == 1
    if single.any():
        problems.append(
            Problem(
                "single_neuron_condition",
                "warning",
                f"{int(single.sum())} condition(s) have valid trials for one neuron only, so their "
                "population mean rests on that neuron.",
                "record more neurons in these conditions, or merge them with a related condition.",
                neurons=tuple(str(neurons[np.argmax(has[:, c])]) for c in np.flatnonzero(single)),
                conditions=labels_of(cond_names, single),
            )
        )
    confounded = [c for c in np.flatnonzero(single) if conds_per_neuron[np.argmax(has[:, c])] == 1]
    if confounded:
        problems.append(
            Problem(
                "confounded_condition",
                "error",
                f"{len(confounded)} condition(s) are perfectly confounded with a neuron: the condition's "
                "only neuron was recorded in no other condition, so the condition effect cannot be told "
                "from the neuron's own rate.",
                "record the neuron in another condition, record other neurons in this one, or leave the "
                "condition out of the model (condition=None).",
                neurons=tuple(str(neurons[np.argmax(has[:, c])]) for c in confounded),
                conditions=tuple(str(cond_names[c]) for c in confounded),
            )
        )
    if "session" in counts.coords and counts["session"].dims == ("trial",):
        sess_names, sess_codes = cell_codes(counts["session"].values)
        trial_valid = valid.any(axis=0)
        _, cond_codes = cell_codes(counts[condition].values)
        pair = np.zeros((cond_names.size, sess_names.size), dtype=bool)
        pair[cond_codes[trial_valid], sess_codes[trial_valid]] = True
        if sess_names.size > 1:
            bad = [c for c in range(cond_names.size) if pair[c].sum() == 1 and pair[:, np.argmax(pair[c])].sum() == 1]
            if bad:
                problems.append(
                    Problem(
                        "confounded_condition",
                        "error",
                        f"{len(bad)} condition(s) are perfectly confounded with a session: each was recorded "
                        "in one session only, which recorded no other condition, so condition and session "
                        "effects cannot be told apart.",
                        "record each condition in at least two sessions (or a session with other "
                        "conditions), or model the sessions without this condition.",
                        conditions=tuple(str(cond_names[c]) for c in bad),
                    )
                )


def _neuron_checks(neurons, y, valid, problems) -> None:
    n_valid = valid.sum(axis=1)
    unrecorded = n_valid == 0
    if unrecorded.any():
        problems.append(
            Problem(
                "unrecorded_neuron",
                "warning",
                f"{int(unrecorded.sum())} neuron(s) have no valid trial at all; a model can only return their prior.",
                "drop them (counts.sel(neuron=...)) or check the neuron matching (neuron_key).",
                neurons=labels_of(neurons, unrecorded),
            )
        )
    yv = np.where(valid, y, 0.0)
    silent = (n_valid > 0) & (yv.sum(axis=1) == 0)
    if silent.any() and silent.sum() == (n_valid > 0).sum():
        problems.append(
            Problem(
                "all_silent",
                "error",
                f"some neuron must fire in some valid trial for the data to inform a rate; got 0 spikes in "
                f"{int(n_valid.sum())} valid (neuron, trial) pairs of {neurons.size} neuron(s), so every rate "
                "and the population scale would be the prior's.",
                "check the window (units: s), align= and the spike times' units; a silent recording bounds the "
                "rates from above only (a Poisson upper limit, not a hierarchical fit).",
            )
        )
    elif silent.any():
        problems.append(
            Problem(
                "silent_neuron",
                "warning",
                f"{int(silent.sum())} neuron(s) fired no spike in any valid trial: their rates are "
                "prior-driven (the data only bound them from above), not findings.",
                "report them as silent in this window, widen the window, or drop them.",
                neurons=labels_of(neurons, silent),
            )
        )
    lo = np.where(valid, y, np.inf).min(axis=1)
    hi = np.where(valid, y, -np.inf).max(axis=1)
    constant = (n_valid >= 2) & (lo == hi) & (hi > 0)
    if constant.any():
        problems.append(
            Problem(
                "constant_counts",
                "warning",
                f"{int(constant.sum())} neuron(s) have the same non-zero count in every valid trial "
                "(zero variance): saturated, clipped or an artefact of the sorting or binning.",
                "check the spike sorting and the counting window; a count model cannot explain zero variance.",
                neurons=labels_of(neurons, constant),
            )
        )


def _exposure_checks(duration, valid, trials, problems) -> None:
    used = valid.any(axis=0)
    bad = used & ~(np.isfinite(duration) & (duration > 0))
    if bad.any():
        problems.append(
            Problem(
                "exposure",
                "error",
                f"every valid trial must have a positive, finite duration (s, the exposure); {int(bad.sum())} "
                f"trial(s) have zero, negative or missing (NaN) durations, e.g. {duration[bad][0]!r}.",
                "recount with a window of positive length, or mark those trials invalid.",
                trials=tuple(int(t) for t in trials[bad]),
            )
        )
    good = duration[used & ~bad]
    if good.size and np.ptp(good) > 1e-9 * max(1.0, float(np.abs(good).max())):
        problems.append(
            Problem(
                "exposure_varies",
                "info",
                f"trial durations differ (from {good.min():.6g} to {good.max():.6g} s); they enter the model "
                "as exposure (mu = rate x duration), and the Fano screen treats counts of a condition as "
                "exchangeable.",
            )
        )


def _dispersion_checks(neurons, fano, low, high, problems, likelihood: str = "negbin") -> None:
    under = high < 1.0
    over = low > 1.0
    has = np.isfinite(fano)
    pct = int(round(100 * FANO_CI_PROB))
    if under.any() and likelihood == "com_poisson":
        problems.append(
            Problem(
                "underdispersed",
                "info",
                f"{int(under.sum())} neuron(s) have a Fano factor clearly below 1 (the {pct}% interval lies "
                f"below 1; lowest {np.nanmin(fano[under]):.2f}): the COM-Poisson represents them (nu > 1).",
                neurons=labels_of(neurons, under),
            )
        )
    elif under.any():
        problems.append(
            Problem(
                "underdispersed",
                "warning",
                f"{int(under.sum())} neuron(s) have a Fano factor clearly below 1 (the {pct}% interval lies "
                f"below 1; lowest {np.nanmin(fano[under]):.2f}): a Negative Binomial (Fano = 1 + mu/alpha "
                ">= 1) cannot represent them, and a Poisson overstates their variance.",
                "fit them with likelihood='com_poisson' (Conway-Maxwell-Poisson: nu > 1 is narrower than "
                "Poisson), or check the sorting: very regular firing, or a count capped by the refractory "
                "period, looks like this.",
                neurons=labels_of(neurons, under),
            )
        )
    if has.any():
        problems.append(
            Problem(
                "dispersion_summary",
                "info",
                f"Fano factor (within condition, {pct}% interval): {int(over.sum())} of {int(has.sum())} neurons "
                f"overdispersed, {int((has & ~over & ~under).sum())} consistent with Poisson, "
                f"{int(under.sum())} underdispersed; median {np.nanmedian(fano):.2f}.",
            )
        )


def check_counts(
    counts: xr.DataArray,
    *,
    dispersion: str = "neuron",
    condition: str | None = None,
    session: str | None = None,
    likelihood: str = "negbin",
) -> CheckReport:
    """Check that ``counts`` can identify the model that will be fitted to it.

    Parameters
    ----------
    counts : xarray.DataArray
        DataArray (neuron, trial[, time]) of spike counts (binned counts are summed over ``time``).
    dispersion : {"neuron", "pooled", "shared", "fano", "poisson"}
        The dispersion the model will fit: per neuron, pooled across neurons, one shared alpha,
        the rate-independent Fano form, or none (Poisson likelihood).
    condition : str, optional
        Trial coordinate whose values the model treats as conditions (rates per neuron x
        condition). Default: trials are exchangeable within each neuron.
    session : str, optional
        Neuron coordinate naming each neuron's session (``"neuron_session"`` from ``concat_sessions``),
        when the model has a session level: adds the ``session_levels``, ``single_neuron_session``,
        ``single_session_condition``, ``confounded_session`` and ``outside_session`` checks.
    likelihood : {"negbin", "poisson", "com_poisson"}
        The model's count family: with ``"com_poisson"`` underdispersed neurons are a finding (info), not
        a warning (``likelihood="poisson"`` is the same as ``dispersion="poisson"``).

    Returns
    -------
    CheckReport
        ``.ok``, ``.problems`` (see the module's table of codes), ``.summary`` (a Dataset over
        ``neuron`` with ``n_trials``, ``n_replicates``, ``spikes``, ``fano``, ``fano_low``,
        ``fano_high``; and ``cell_trials`` (neuron, condition) when ``condition`` is given),
        ``.to_dataframe()``, ``.raise_if_failed()``. Counts that break the schema are not raised: their
        report holds the one error ``schema``.

    Raises
    ------
    ArgumentTypeError
        ``counts`` is not a DataArray.
    ArgumentError
        ``dispersion`` or ``likelihood`` is not one of its choices; for counts that pass the schema,
        ``condition`` is not a coordinate on ``trial``, or ``session`` not a coordinate on ``neuron`` that
        gives every neuron a session.

    Notes
    -----
    The dispersion screen always uses the cells of the trial coordinate ``condition`` (or the
    ``condition`` argument when given), since stimulus-driven rate changes are not trial-to-trial
    variability. Its interval is described in ``fano_screen``.

    Examples
    --------
    >>> import spikepool as sp
    >>> counts = sp.from_array([[3, 5, 4, 6], [0, 0, 0, 0]], duration=0.5)
    >>> report = sp.check_counts(counts, dispersion="shared")
    >>> report.ok, [p.code for p in report.warnings]
    (True, ['silent_neuron'])
    """
    _check_dispersion(dispersion)
    check_choice("likelihood", likelihood, LIKELIHOODS)
    try:
        counts = validate_counts(counts)
    except CountsError as err:
        return CheckReport(
            _title(dispersion, condition, session, likelihood),
            [Problem("schema", "error", str(err), "rebuild the counts with from_neo() or from_array().")],
            checked=("schema",),
        )
    return check_valid_counts(
        counts, dispersion=dispersion, condition=condition, session=session, likelihood=likelihood
    )


def _check_dispersion(dispersion: str) -> None:
    if dispersion not in DISPERSIONS:
        raise ArgumentError(
            f"dispersion must be one of {DISPERSIONS}; got {dispersion!r}.{did_you_mean(dispersion, DISPERSIONS)}"
        )


def _title(dispersion: str, condition: str | None, session: str | None, likelihood: str = "negbin") -> str:
    return (
        f"check_counts(dispersion={dispersion!r}, condition={condition!r}"
        + (f", session={session!r}" if session else "")
        + (f", likelihood={likelihood!r})" if likelihood == "com_poisson" else ")")
    )


def check_valid_counts(
    counts: xr.DataArray,
    *,
    dispersion: str = "neuron",
    condition: str | None = None,
    session: str | None = None,
    likelihood: str = "negbin",
) -> CheckReport:
    """``check_counts`` of counts that ``validate_counts`` has already returned (a model's prepared data):
    the same checks and report, without validating the counts again."""
    _check_dispersion(dispersion)
    likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
    if likelihood == "poisson":
        dispersion = "poisson"
    title = _title(dispersion, condition, session, likelihood)
    checked = (
        "schema",
        "variance_components",
        "dispersion_trials",
        *(
            ("empty_cell", "single_trial_condition", "single_neuron_condition", "confounded_condition")
            if condition
            else ()
        ),
        "unrecorded_neuron",
        "silent_neuron",
        "all_silent",
        "constant_counts",
        "exposure",
        "exposure_varies",
        "underdispersed",
        *(("session_levels", "single_neuron_session") if session else ()),
        *(("single_session_condition", "confounded_session") if session and condition else ()),
    )
    if condition is not None:
        check_trial_coord(counts, condition)
    window = counts.sum("time") if "time" in counts.dims else counts
    y = window.values.astype(np.float64)
    valid = valid_mask(counts)
    neurons = counts["neuron"].values
    duration = counts["duration"].values.astype(np.float64)
    problems: list[Problem] = []

    model_labels = counts[condition].values if condition else np.zeros(y.shape[1], dtype=int)
    cond_names, model_codes = cell_codes(model_labels)
    n_model, _, _ = cell_sums(y, valid, model_codes, cond_names.size)
    _variance_checks(neurons, n_model, dispersion, condition, problems)
    outside = None
    if session:
        outside = session_checks(counts, neurons, valid, session, condition, cond_names, model_codes, problems)
    if condition:
        _coverage_checks(counts, neurons, cond_names, n_model, valid, condition, problems, outside)
    _neuron_checks(neurons, y, valid, problems)
    _exposure_checks(duration, valid, counts["trial"].values, problems)

    screen_names, screen_codes = cell_codes(counts[condition or "condition"].values)
    screen = fano_screen(y, valid, screen_codes, screen_names.size)
    _dispersion_checks(neurons, screen["fano"], screen["fano_low"], screen["fano_high"], problems, likelihood)

    summary = xr.Dataset(
        {
            "n_trials": ("neuron", valid.sum(axis=1).astype(np.int64)),
            "n_replicates": ("neuron", np.maximum(n_model - 1, 0).sum(axis=1).astype(np.int64)),
            "spikes": ("neuron", np.where(valid, y, 0).sum(axis=1).astype(np.int64)),
            **{k: ("neuron", v) for k, v in screen.items()},
        },
        coords={"neuron": neurons},
        attrs={"fano_ci_prob": FANO_CI_PROB},
    )
    if condition:
        summary["cell_trials"] = (("neuron", "condition"), n_model.astype(np.int64))
        summary = summary.assign_coords(condition=cond_names)
    return CheckReport(title, problems, checked=checked, summary=summary)

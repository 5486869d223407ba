"""The checks of a session level (``check_counts(..., session=)``): enough sessions and neurons to tell the
between-session sd from the between-neuron sd, and conditions shared across sessions."""

from __future__ import annotations

import numpy as np

from spikepool.checks.problems import Problem, labels_of
from spikepool.counts.sessions import neuron_sessions

__all__ = ["session_checks"]


def session_checks(counts, neurons, valid, session, condition, cond_names, cond_codes, problems):
    """Append the problems of the session level to ``problems``.

    Returns the boolean (neuron, condition) cells outside each neuron's session (None without conditions).
    """
    sess_names, sess_codes = neuron_sessions(counts, session)
    recorded = valid.any(axis=1)
    per_session = np.bincount(sess_codes[recorded], minlength=sess_names.size)
    if (per_session > 0).sum() < 2 or not (per_session >= 2).any():
        problems.append(
            Problem(
                "session_levels",
                "error",
                f"a session level needs at least two recorded sessions, one of them with two or more neurons; got "
                f"{int((per_session > 0).sum())} session(s) with {per_session[per_session > 0].tolist()} recorded "
                "neuron(s): the between-session sd tau_session cannot be told from the between-neuron sd tau.",
                "fit without session= (one session), or add sessions with several neurons.",
            )
        )
    single = per_session == 1
    if single.any():
        problems.append(
            Problem(
                "single_neuron_session",
                "warning",
                f"{int(single.sum())} session(s) recorded one neuron only "
                f"({', '.join(labels_of(sess_names, single))}): "
                "each such session's mean rests on that neuron, so its rate is pooled toward the population "
                "rather than toward a session of its own.",
                "fine for a few sessions; otherwise merge them or fit without session=.",
                neurons=tuple(str(neurons[recorded & (sess_codes == k)][0]) for k in np.flatnonzero(single)),
            )
        )
    if not condition:
        return None
    # conditions each session recorded (on the valid trials of its neurons)
    n_cond = cond_names.size
    pair = np.zeros((sess_names.size, n_cond), dtype=bool)
    i, t = np.nonzero(valid)
    pair[sess_codes[i], cond_codes[t]] = True
    sessions_per_cond = pair.sum(axis=0)
    lone = sessions_per_cond == 1
    if sess_names.size > 1 and lone.any():
        problems.append(
            Problem(
                "single_session_condition",
                "warning",
                f"{int(lone.sum())} of {n_cond} condition(s) were recorded in one session only: the population "
                "mean of each is that session's mean, and the between-session sd is learnt from the others.",
                "fine when sessions used different stimuli; compare conditions within a session.",
                conditions=labels_of(cond_names, lone),
            )
        )
    if sess_names.size > 1 and not (sessions_per_cond >= 2).any():
        problems.append(
            Problem(
                "confounded_session",
                "error",
                "no condition was recorded in two sessions: every session mean is confounded with its "
                "conditions' means, so the between-session sd is set by its prior alone.",
                "record a shared condition (e.g. spontaneous activity) in every session, or fit without "
                "condition= or without session=.",
            )
        )
    outside = ~pair[sess_codes]
    if outside.any():
        problems.append(
            Problem(
                "outside_session",
                "info",
                f"{int(outside.sum())} neuron x {condition!r} cells are conditions the neuron's session never "
                "recorded; their rates are the session level's prediction.",
                "nothing to do; select them out of rates() when reporting.",
            )
        )
    return outside

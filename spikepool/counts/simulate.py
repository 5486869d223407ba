"""Simulated spike counts with known truth: ``simulate_counts``, ``simulate_sessions``, ``simulate_binned``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from spikepool._validate import check_int
from spikepool.counts.schema import from_array
from spikepool.counts.sessions import concat_sessions
from spikepool.exceptions import ArgumentError

__all__ = ["simulate_binned", "simulate_counts", "simulate_sessions"]


def _numbers(value) -> np.ndarray | None:
    """``value`` as a float array, or None when it holds anything but numbers."""
    arr = np.asarray(value)
    return arr.astype(float) if arr.dtype.kind in "biuf" else None


def _check_arguments(sizes: dict, conditions, at_least_zero: dict, positive: dict, finite: dict, alpha) -> None:
    """Refuse a simulation's arguments before any draw: sizes, scales, positive and finite values, ``alpha``."""
    for name, value in sizes.items():
        check_int(name, value, 1)
    if conditions is not None and len(list(conditions)) == 0:
        raise ArgumentError("conditions must name at least one condition; got an empty sequence. Hint: None for one.")
    rules = [
        (at_least_zero, "finite and >= 0", lambda v: v >= 0),
        (positive, "finite and > 0", lambda v: v > 0),
        (finite, "a finite number", lambda v: True),
    ]
    for values, what, holds in rules:
        for name, value in values.items():
            v = _numbers(value)
            if v is None or not np.isfinite(v).all() or not np.all(holds(v)):
                raise ArgumentError(f"{name} must be {what}; got {value!r}.")
    a = None if alpha is None else _numbers(alpha)
    if alpha is not None and (a is None or np.isnan(a).any() or not np.all(a > 0)):
        raise ArgumentError(f"alpha must be > 0 (np.inf or None: Poisson); got {alpha!r}.")


def simulate_counts(
    n_neurons: int,
    n_trials: int,
    *,
    conditions: Sequence[str] | None = None,
    mu: float | Sequence[float] = 1.5,
    tau: float = 0.5,
    alpha: float | Sequence[float] | None = 5.0,
    duration: float | Sequence[float] = 1.0,
    neuron_sd: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> tuple[xr.DataArray, xr.Dataset]:
    """Draw counts from the hierarchical Gamma-Poisson model.

    ``log r_ic ~ Normal(mu_c + u_i, tau)`` with ``u_i ~ Normal(0, neuron_sd)`` (0 by default: the plain
    conditionally exchangeable model), ``lambda_ict ~ Gamma(alpha_i, alpha_i / r_ic)``,
    ``y_ict ~ Poisson(lambda_ict d_t)``, i.e. ``y ~ NegativeBinomial(mu = r d, alpha)`` with
    ``Var = mu + mu**2 / alpha``. ``alpha=None`` draws Poisson counts.

    Parameters
    ----------
    n_neurons, n_trials : int
        Size of the design (trials cycle through ``conditions``).
    conditions : sequence of str, optional
        Condition labels; ``mu`` may then give one population mean (log Hz) per condition.
    mu : float or sequence
        Population mean log rate (log Hz), per condition if a sequence.
    tau : float
        Between-neuron sd of log rates.
    alpha : float, sequence or None
        Dispersion, shared or per neuron; ``None`` (or ``np.inf``) for Poisson.
    duration : float or sequence
        Trial durations (s).
    neuron_sd : float
        Sd of a neuron effect shared by all of a neuron's conditions (``neuron_effect=True`` models).
    seed : int or numpy.random.Generator, optional
        Seed of the generator.

    Returns
    -------
    counts : xarray.DataArray
        int64 (neuron, trial), neurons ``"n0"``, ``"n1"``, ..., with ``condition`` and ``duration`` coords on
        ``trial``, like ``from_neo``'s.
    truth : xarray.Dataset
        ``mu`` (condition), ``tau``, ``rate`` (neuron, condition; Hz), ``log_rate``, ``alpha`` (neuron;
        ``inf`` for Poisson), ``neuron_effect`` (neuron) and ``neuron_sd``.

    Raises
    ------
    ArgumentError
        A size that is not an integer >= 1; ``tau``, ``neuron_sd`` negative or not finite; ``duration`` not
        positive and finite; ``mu`` not finite; ``alpha`` not positive; ``conditions`` empty. Checked before
        any draw.
    ValueError
        ``mu``, ``alpha`` or ``duration`` a sequence of another length than the conditions, neurons or trials.
    TypeError
        ``seed`` is neither an int nor a Generator.

    Examples
    --------
    >>> counts, truth = simulate_counts(5, 20, mu=2.0, tau=0.3, alpha=3.0, seed=0)
    >>> counts.dims, float(truth["tau"])
    (('neuron', 'trial'), 0.3)
    """
    _check_arguments(
        {"n_neurons": n_neurons, "n_trials": n_trials},
        conditions,
        {"tau": tau, "neuron_sd": neuron_sd},
        {"duration": duration},
        {"mu": mu},
        alpha,
    )
    rng = np.random.default_rng(seed)
    names = np.array(list(conditions) if conditions is not None else [""])
    cond = np.arange(n_trials) % names.size
    mu_c = np.broadcast_to(np.asarray(mu, dtype=float), (names.size,)).copy()
    effect = rng.normal(0.0, neuron_sd, n_neurons) if neuron_sd > 0 else np.zeros(n_neurons)
    log_rate = rng.normal(mu_c[None, :] + effect[:, None], tau, (n_neurons, names.size))
    rate = np.exp(log_rate)
    d = np.broadcast_to(np.asarray(duration, dtype=float), (n_trials,)).copy()
    expected = rate[:, cond] * d[None, :]
    if alpha is None or np.all(np.isinf(alpha)):
        a = np.full(n_neurons, np.inf)
        y = rng.poisson(expected)
    elif np.any(np.isinf(alpha)):  # Poisson neurons among Negative-Binomial ones
        a = np.broadcast_to(np.asarray(alpha, dtype=float), (n_neurons,)).copy()
        shape = np.where(np.isinf(a), 1.0, a)[:, None]
        y = rng.poisson(np.where(np.isinf(a)[:, None], expected, rng.gamma(shape, expected / shape)))
    else:
        a = np.broadcast_to(np.asarray(alpha, dtype=float), (n_neurons,)).copy()
        y = rng.poisson(rng.gamma(a[:, None], expected / a[:, None]))
    neurons = np.array([f"n{i}" for i in range(n_neurons)])
    counts = from_array(y, duration=d, condition=names[cond], neuron=neurons, attrs={"source": "simulate_counts"})
    truth = xr.Dataset(
        {
            "mu": ("condition", mu_c),
            "tau": tau,
            "log_rate": (("neuron", "condition"), log_rate),
            "rate": (("neuron", "condition"), rate),
            "alpha": ("neuron", a),
            "neuron_effect": ("neuron", effect),
            "neuron_sd": neuron_sd,
        },
        coords={"neuron": neurons, "condition": names},
    )
    return counts, truth


def simulate_sessions(
    n_neurons: Sequence[int],
    n_trials: int | Sequence[int],
    *,
    conditions: Sequence[str] | None = None,
    mu: float | Sequence[float] = 1.5,
    tau_session: float = 0.5,
    tau: float = 0.5,
    alpha: float | None = 5.0,
    duration: float = 1.0,
    seed: int | None = None,
) -> tuple[xr.DataArray, xr.Dataset]:
    """Draw counts of several sessions from the session-level model, combined with ``concat_sessions``.

    ``mu_session_sc ~ Normal(mu_c, tau_session)``, then each session is ``simulate_counts`` with
    ``mu = mu_session_s``: ``log r_ic ~ Normal(mu_session_s(i)c, tau)`` and NB trials.

    Parameters
    ----------
    n_neurons : sequence of int
        Neurons of each session (one entry per session).
    n_trials : int or sequence of int
        Trials of each session.
    conditions, mu, tau, alpha, duration
        As in ``simulate_counts`` (the same for every session).
    tau_session : float
        Between-session sd of the session mean log rates.
    seed : int, optional
        Seed of the generator.

    Returns
    -------
    counts : xarray.DataArray
        int64 (neuron, trial) from ``concat_sessions``: sessions ``"s0"``, ``"s1"``, ..., neurons
        ``"s0/n0"``, ... (neuron coords ``neuron_session``, ``neuron_id``; trial coords ``session``,
        ``trial_id``, ``condition``, ``duration``), ``valid`` False outside each neuron's session.
    truth : xarray.Dataset
        ``mu`` (condition), ``mu_session`` (session, condition), ``tau_session``, ``tau``, and ``rate``
        / ``log_rate`` (neuron, condition) with the combined neuron labels.

    Raises
    ------
    ArgumentError
        ``n_neurons`` not a non-empty sequence; a size that is not an integer >= 1; ``tau_session`` or ``tau``
        negative or not finite; ``duration`` not positive and finite; ``mu`` not finite; ``alpha`` not
        positive; ``conditions`` empty. Checked before any draw.
    ValueError
        ``n_trials`` a sequence of another length than ``n_neurons``, or ``mu`` than ``conditions``.
    TypeError
        ``seed`` is neither an int nor a Generator.

    Examples
    --------
    >>> counts, truth = simulate_sessions([3, 4], 10, tau_session=0.4, seed=0)
    >>> counts.sizes["neuron"], counts.sizes["trial"], truth["mu_session"].dims
    (7, 20, ('session', 'condition'))
    """
    if isinstance(n_neurons, int | np.integer) or len(n_neurons) == 0:
        raise ArgumentError(f"n_neurons must be a sequence of one size per session; got {n_neurons!r}.")
    trial_sizes = np.atleast_1d(np.asarray(n_trials, dtype=object)).tolist()
    _check_arguments(
        {f"n_neurons[{k}]": n for k, n in enumerate(n_neurons)}
        | {f"n_trials[{k}]" if len(trial_sizes) > 1 else "n_trials": t for k, t in enumerate(trial_sizes)},
        conditions,
        {"tau_session": tau_session, "tau": tau},
        {"duration": duration},
        {"mu": mu},
        alpha,
    )
    sizes = [int(n) for n in n_neurons]
    trials = [int(t) for t in np.broadcast_to(np.asarray(n_trials), (len(sizes),))]
    rng = np.random.default_rng(seed)
    names = np.array(list(conditions) if conditions is not None else [""])
    mu_c = np.broadcast_to(np.asarray(mu, dtype=float), (names.size,)).copy()
    mu_s = rng.normal(mu_c[None, :], tau_session, (len(sizes), names.size))
    ids = [f"s{k}" for k in range(len(sizes))]
    parts, truths = [], []
    for k, (n, t) in enumerate(zip(sizes, trials, strict=True)):
        c, tr = simulate_counts(
            n, t, conditions=conditions, mu=mu_s[k], tau=tau, alpha=alpha, duration=duration, seed=rng
        )
        parts.append(c)
        truths.append(tr)
    counts = concat_sessions(parts, session_ids=ids)
    counts.attrs["source"] = "simulate_sessions"
    truth = xr.Dataset(
        {
            "mu": ("condition", mu_c),
            "mu_session": (("session", "condition"), mu_s),
            "tau_session": tau_session,
            "tau": tau,
            "log_rate": (("neuron", "condition"), np.concatenate([t["log_rate"].values for t in truths])),
            "rate": (("neuron", "condition"), np.concatenate([t["rate"].values for t in truths])),
        },
        coords={"neuron": counts["neuron"].values, "condition": names, "session": ids},
    )
    return counts, truth


def simulate_binned(
    n_neurons: int,
    n_trials: int,
    n_bins: int,
    *,
    bin_size: float = 0.025,
    conditions: Sequence[str] | None = None,
    rate: float = 10.0,
    peak: float = 1.2,
    tau: float = 0.5,
    level_sd: float = 0.2,
    shape_sd: float = 0.3,
    alpha: float | None = 5.0,
    seed: int | np.random.Generator | None = None,
) -> tuple[xr.DataArray, xr.Dataset]:
    """Draw binned counts from a time-resolved model with known courses (``HierarchicalPSTH``'s truth).

    ``log r_icb = m_cb + u_i + v_ic + s_icb``: the population course ``m_cb = log(rate) + peak *
    exp(-(t_b - t_c)**2 / (2 w**2))`` is a bump per condition (peaks ``t_c`` spread evenly from 0.3 to 0.7
    of the window; one condition peaks at 0.3; ``w`` a tenth of the window), ``u_i ~ Normal(0, tau)``
    centred over the neurons, ``v_ic ~ Normal(0, level_sd)``, and ``s_icb = shape_sd * sin(2 pi (f_ic t_b
    / T + phase_ic))`` a smooth deviation of about one cycle over the window (``T``); ``y_itb ~
    NegativeBinomial(mu = r_i,c(t),b * bin_size, alpha)`` drawn as Gamma-Poisson (``alpha=None``: Poisson).

    Parameters
    ----------
    n_neurons, n_trials, n_bins : int
        Size of the design (trials cycle through ``conditions``).
    bin_size : float
        Bin width (s); bins start at 0.
    conditions : sequence of str, optional
        Condition labels (default one condition, ``""``).
    rate : float
        The typical neuron's rate (Hz) away from the bump.
    peak : float
        Height of the bump on the log scale (1.2: a 3.3-fold rise).
    tau, level_sd, shape_sd : float
        Sd of the neuron levels, of their condition levels, and amplitude of their own deviations (log scale).
    alpha : float or None
        Dispersion of every neuron; ``None`` for Poisson.
    seed : int or numpy.random.Generator, optional
        Seed of the generator.

    Returns
    -------
    binned : xarray.DataArray
        int64 (neuron, trial, time), neurons ``"n0"``, ``"n1"``, ..., ``time`` the bin centres (s), with
        ``condition`` and ``duration`` (the window, ``n_bins * bin_size``) coords and ``attrs["bin_size"]``.
    truth : xarray.Dataset
        ``rate`` (neuron, condition, time; Hz), ``population`` (condition, time; Hz, ``exp(m_cb)``),
        ``neuron_effect`` (neuron), ``alpha``, ``tau``.

    Raises
    ------
    ArgumentError
        A size that is not an integer >= 1; ``tau``, ``level_sd`` or ``shape_sd`` negative or not finite;
        ``bin_size`` or ``rate`` not positive and finite; ``peak`` not finite; ``alpha`` not positive;
        ``conditions`` empty. Checked before any draw.
    ValueError
        ``peak`` large enough to overflow the Poisson mean.
    TypeError
        ``seed`` is neither an int nor a Generator.

    Examples
    --------
    >>> binned, truth = simulate_binned(4, 10, 20, conditions=["a", "b"], seed=0)
    >>> binned.dims, truth["rate"].dims
    (('neuron', 'trial', 'time'), ('neuron', 'condition', 'time'))
    """
    _check_arguments(
        {"n_neurons": n_neurons, "n_trials": n_trials, "n_bins": n_bins},
        conditions,
        {"tau": tau, "level_sd": level_sd, "shape_sd": shape_sd},
        {"bin_size": bin_size, "rate": rate},
        {"peak": peak},
        alpha,
    )
    alpha = None if alpha is not None and np.isinf(alpha) else alpha
    rng = np.random.default_rng(seed)
    names = np.array(list(conditions) if conditions is not None else [""])
    t = bin_size * (np.arange(n_bins) + 0.5)
    window = n_bins * bin_size
    centres = window * (0.3 + 0.4 * np.arange(names.size) / max(names.size - 1, 1))
    course = np.log(rate) + peak * np.exp(-((t[None, :] - centres[:, None]) ** 2) / (2 * (0.1 * window) ** 2))
    u = rng.normal(0.0, tau, n_neurons)
    u -= u.mean()
    v = rng.normal(0.0, level_sd, (n_neurons, names.size, 1))
    phase, freq = rng.uniform(0, 1, (n_neurons, names.size, 1)), rng.uniform(0.5, 1.5, (n_neurons, names.size, 1))
    shape = shape_sd * np.sin(2 * np.pi * (t / window * freq + phase))
    log_rate = course[None] + u[:, None, None] + v + shape
    cond = np.arange(n_trials) % names.size
    mu = np.exp(log_rate[:, cond]) * bin_size
    y = rng.poisson(mu if alpha is None else rng.gamma(alpha, mu / alpha))
    neurons = np.array([f"n{i}" for i in range(n_neurons)])
    binned = from_array(
        y,
        duration=window,
        condition=names[cond],
        neuron=neurons,
        time=t,
        attrs={"bin_size": bin_size, "source": "simulate_binned"},
    )
    truth = xr.Dataset(
        {
            "rate": (("neuron", "condition", "time"), np.exp(log_rate)),
            "population": (("condition", "time"), np.exp(course)),
            "neuron_effect": ("neuron", u),
            "alpha": np.inf if alpha is None else float(alpha),
            "tau": tau,
        },
        coords={"neuron": neurons, "condition": names, "time": t},
    )
    return binned, truth

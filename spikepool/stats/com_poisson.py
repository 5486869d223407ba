"""The mean-parameterised Conway-Maxwell-Poisson distribution (numpy + numba kernels).

``P(y | lambda, nu) = lambda**y / (y!)**nu / Z(lambda, nu)``, ``Z = sum_k lambda**k / (k!)**nu``
(Conway & Maxwell 1962; Shmueli et al. 2005). ``nu < 1`` is overdispersed, ``nu = 1`` the Poisson exactly,
``nu > 1`` underdispersed. spikepool parameterises it by its **mean** ``mu`` (Huang 2017, "Mean-parametrized
Conway-Maxwell-Poisson regression models for dispersed counts", Stat Modelling 17:359): ``lambda`` is the
root of ``E[Y | lambda, nu] = mu``, found by Halley's method on ``theta = log lambda`` to
``|log E - log mu| < 1e-12``, so rates stay in Hz and the hierarchy on log rates is the Negative Binomial's.
No asymptotic formula is used for the moments: they are sums of the pmf (the asymptotic
``lambda ~ (mu + (nu - 1) / (2 nu))**nu`` only starts the iteration).

The series
----------
Every sum runs outward from the mode ``m = floor(lambda**(1 / nu))`` (terms rise up to it and fall after
it: the ratio of successive terms is ``lambda / k**nu``), in log space relative to the mode's term, so
nothing overflows for means of thousands of spikes. Upward, after term ``k`` the rest is bounded by a
geometric series, ``sum_{j > k} t_j <= t_k r / (1 - r)`` with ``r = lambda / (k + 1)**nu < 1`` (the ratios
only fall); downward likewise with ``r = k**nu / lambda``. Each side stops once that bound is below
``TOL = 1e-16`` of the sum so far, so ``log Z`` carries a truncation error below ``2e-16`` (relative) and
the moments below ``1e-12`` (their terms carry at most a polynomial factor of the distance from the mode).
A series that would need more than ``MAX_TERMS`` terms (a mean in the millions, or ``nu`` near 0 with
``lambda >= 1``, where ``Z`` diverges) is reported as failed (``nan``), which the likelihood turns into
``-inf`` (a rejected proposal), never into a silently wrong value.

The group likelihood
--------------------
For ``N`` counts of one group (same ``mu``, ``nu``) with sum ``Y`` and ``L = sum log y!``,
``log p = Y theta - nu L - N log Z``: the counts enter only through ``(Y, N, L)``, so ``Z`` is computed once
per group. With the mean constraint ``E[Y] = mu``, ``d theta / d mu = 1 / Var`` and
``d theta / d nu = Cov(Y, log Y!) / Var`` (implicit differentiation of ``d log Z / d theta = E[Y]``,
``d log Z / d nu = -E[log Y!]``), hence::

    d log p / d log mu = mu (Y - N mu) / Var
    d log p / d nu     = -L + N E[log Y!] + (Y - N mu) Cov(Y, log Y!) / Var

which ``group_loglik`` returns beside the value (``spikepool.models.com_poisson`` makes it a PyTensor Op).

Cost
----
A gradient solves every group's ``theta`` (usually two series: the root is found by Halley's method, whose
step uses the third cumulant the series already gives) and sums its series. Two things keep that cheap
where groups are many and means small (the time bins of ``HierarchicalPSTH``): the ratio of successive terms
``lambda / k**nu`` divides by a table of ``k**nu`` shared by the consecutive groups of one ``nu`` (one
neuron) instead of calling ``exp`` per term, and each group starts from its predecessor's root moved to
first order, ``theta_g ~ theta_(g-1) + (log mu_g - log mu_(g-1)) mu / Var`` (neighbouring time bins have
nearly the same mean). Neither changes the result beyond rounding: the same root tolerance ends every solve,
and a start that leads nowhere falls back to the cold start.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from spikepool.exceptions import ArgumentError

__all__ = ["MAX_TERMS", "TOL", "com_logpmf", "com_moments", "com_sample", "group_loglik"]

#: Relative truncation error bound of each side of every series.
TOL = 1e-16
#: The most terms one series may take before it is declared failed.
MAX_TERMS = 1_000_000
_FINISH = 1e-7
_NEWTON_MAX = 100


_LOG = np.log(np.arange(1, 1 << 15, dtype=np.float64))  # log k for k = 1 .. 32767 (a lookup is cheaper)
_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(1 << 15)])  # log k! for k = 0 .. 32767
_LOOSE_TOL = 1e-9
_TABLE = 4096  # entries of a table of k**nu


@numba.njit(cache=True, nogil=True, inline="always")
def _log(k: int) -> float:
    return _LOG[k - 1] if k < 32768 else math.log(k)


@numba.njit(cache=True, nogil=True, inline="always")
def _log_factorial(k: int) -> float:
    return _LOG_FACTORIAL[k] if k < 32768 else math.lgamma(k + 1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def _add(t, d, lf, s0, s1, s2, s3, sl, sdl, sddl):
    """One term ``t`` (at distance ``d`` from the mode, ``lf = log k! - log m!``) added to the running sums."""
    td = t * d
    return s0 + t, s1 + td, s2 + td * d, s3 + td * d * d, sl + t * lf, sdl + td * lf, sddl + td * d * lf


@numba.njit(cache=True, nogil=True)
def _fill(pw: np.ndarray, nu: float, start: int, stop: int) -> int:
    """``pw[k] = k**nu`` for ``k`` in ``[start, stop)``; returns the first ``k`` left unfilled (the table's end,
    or where ``k**nu`` would pass ``e**690``: beyond it the series takes its ratios from ``exp``)."""
    stop = min(stop, pw.size)
    for k in range(max(start, 1), stop):
        e = nu * _log(k)
        if e > 690.0:
            return k
        pw[k] = math.exp(e)
    return max(stop, start)


@numba.njit(cache=True, nogil=True, inline="always")
def _ratio(theta: float, lam: float, nu: float, k: int, pw: np.ndarray, npw: int) -> float:
    """``lambda / k**nu``: from the table ``pw`` (``k < npw``) or from ``exp``."""
    if k < npw:
        return lam / pw[k]
    return math.exp(theta - nu * _log(k))


@numba.njit(cache=True, nogil=True)
def _series(
    theta: float, nu: float, tol: float, pw: np.ndarray, npw: int
) -> tuple[float, float, float, float, float, float, float]:
    """``(log Z, mean, var, E[log y!], Cov(y, log y!), k3, c2)`` at ``theta = log lambda`` (nan: failed).

    ``k3 = E[(y - mean)**3]`` and ``c2 = E[(y - mean)**2 (log y! - E[log y!])]`` are the derivatives of
    ``var`` and of ``Cov(y, log y!)`` with respect to ``theta``. The ratios of successive terms,
    ``lambda / k**nu``, divide by ``pw[k] = k**nu`` for ``k < npw`` (a table of the group's ``nu``, shared by
    the groups of one neuron: one division instead of an ``exp`` per term) and use ``exp`` beyond it.
    """
    nan = math.nan
    if not (nu > 0.0) or not math.isfinite(theta):
        return nan, nan, nan, nan, nan, nan, nan
    log_mode = theta / nu
    if log_mode > math.log(MAX_TERMS * 10.0):
        return nan, nan, nan, nan, nan, nan, nan
    m = int(math.floor(math.exp(log_mode))) if log_mode > -700.0 else 0
    lf_m = _log_factorial(m)
    if abs(theta) > 690.0:
        npw = 0  # lambda itself would overflow (or vanish): every ratio from exp
    lam = math.exp(theta) if npw > 0 else 0.0
    # sums of t d^j (lf - lf_m)^l over the terms, t relative to the mode's term, d = k - m
    s0, s1, s2, s3, sl, sdl, sddl = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    # upward: t_{k+1} / t_k = lambda / (k + 1)**nu
    t, lf, k = 1.0, 0.0, m
    r = _ratio(theta, lam, nu, m + 1, pw, npw)
    while True:
        k += 1
        lf += _log(k)
        t *= r
        s0, s1, s2, s3, sl, sdl, sddl = _add(t, k - m, lf, s0, s1, s2, s3, sl, sdl, sddl)
        r = _ratio(theta, lam, nu, k + 1, pw, npw)
        if r < 1.0 and t * r <= tol * s0 * (1.0 - r):
            break
        if k - m > MAX_TERMS:
            return nan, nan, nan, nan, nan, nan, nan
    # downward: t_{k-1} / t_k = k**nu / lambda
    t, lf, k = 1.0, 0.0, m
    if m > 0:
        log_k = _log(m)
        q = 1.0 / _ratio(theta, lam, nu, m, pw, npw)
        while True:
            t *= q
            lf -= log_k
            k -= 1
            s0, s1, s2, s3, sl, sdl, sddl = _add(t, k - m, lf, s0, s1, s2, s3, sl, sdl, sddl)
            if k == 0:
                break
            log_k = _log(k)
            q = 1.0 / _ratio(theta, lam, nu, k, pw, npw)
            if q < 1.0 and t * q <= tol * s0 * (1.0 - q):
                break
            if m - k > MAX_TERMS:
                return nan, nan, nan, nan, nan, nan, nan
    e1 = s1 / s0
    e2 = s2 / s0
    el = sl / s0
    var = e2 - e1 * e1
    k3 = s3 / s0 - 3.0 * e1 * e2 + 2.0 * e1 * e1 * e1
    cov = sdl / s0 - e1 * el
    # E[(d - e1)^2 (l - el)] with d, l relative to the mode
    c2 = sddl / s0 - 2.0 * e1 * (sdl / s0) - el * e2 + 2.0 * e1 * e1 * el
    log_z = m * theta - nu * lf_m + math.log(s0)
    return log_z, m + e1, var, lf_m + el, cov, k3, c2


@numba.njit(cache=True, nogil=True)
def _start(mu: float, nu: float) -> float:
    """A starting ``theta`` for the root finder: small means from ``E ~ lambda + (2**(1 - nu) - 1) lambda**2``,
    larger ones from the asymptotic ``lambda ~ (mu + (nu - 1) / (2 nu))**nu``."""
    if mu <= 1.0:
        a = 2.0 ** (1.0 - nu) - 1.0
        disc = 1.0 + 4.0 * a * mu
        if abs(a) > 1e-12 and disc > 0.0:
            lam = (math.sqrt(disc) - 1.0) / (2.0 * a)
            if lam > 0.0:
                return math.log(lam)
        return math.log(mu)
    shifted = mu + (nu - 1.0) / (2.0 * nu)
    # the mode lambda**(1 / nu) near the mean; for small nu the shift is invalid, the mode at the mean is not
    return nu * math.log(shifted if shifted > 0.5 * mu else mu)


@numba.njit(cache=True, nogil=True)
def _solve(mu: float, nu: float, theta0: float, pw: np.ndarray, npw: int) -> tuple[float, float, float, float, float]:
    """``(theta, log Z, var, E[log y!], Cov(y, log y!))`` of the distribution with mean ``mu`` (nan: failed).

    Halley's method on ``theta`` (the third cumulant comes with each series), from ``theta0`` where it is
    finite (a neighbouring group's root moved to first order: the series is summed fully from the start)
    or from ``_start`` (the series summed to ``_LOOSE_TOL`` while far from the root); once the full
    series puts the mean within ``_FINISH`` (relative) of ``mu``, the last Newton step ``delta`` is taken
    analytically: ``log Z``, ``var``, ``E[log y!]`` and the covariance move by their Taylor series in
    ``delta`` (``log Z`` to third order; the others to first, error ``O(delta**2)``, ``|delta| < 1e-7``), and the
    root itself is then exact to ``O(gap**2)`` (below ``1e-13`` relative in the mean).
    """
    nan = math.nan
    if not (mu > 0.0) or not (nu > 0.0) or not math.isfinite(mu):
        return nan, nan, nan, nan, nan
    log_mu = math.log(mu)
    warm = math.isfinite(theta0)
    theta = theta0 if warm else _start(mu, nu)
    # the mean rises with theta: every evaluation narrows a bracket (lo, hi) of the root, and a Newton step
    # that leaves it (a nearly degenerate distribution at large nu, where E(theta) is almost a staircase) is
    # replaced by bisection, so the iteration always converges
    lo, hi = -math.inf, math.inf
    # loose sums only for means above a spike: below, the series is short anyway, and the loose truncation
    # error of the mean (relative: about _LOOSE_TOL / mean) could pass the gap's sign threshold
    tol = TOL if warm or mu < 1.0 else _LOOSE_TOL
    limit = 2.0 * max(nu, 0.25)  # theta moves about nu per unit of log mean: larger steps overshoot
    for _ in range(_NEWTON_MAX):
        log_z, mean, var, elf, cov, k3, c2 = _series(theta, nu, tol, pw, npw)
        if not math.isfinite(log_z) or not (var > 0.0):
            if not (math.isfinite(lo) or math.isfinite(hi)):
                if warm:  # the neighbour's root was no guide: start afresh
                    warm = False
                    theta = _start(mu, nu)
                    continue
                return nan, nan, nan, nan, nan
            # the step went where the series fails (far above the root): back towards the bracket
            hi = min(hi, theta)
            theta = 0.5 * (lo + hi) if math.isfinite(lo) else hi - limit
            continue
        gap = log_mu - math.log(mean)
        if tol == TOL or abs(gap) > 100.0 * _FINISH:  # a loosely summed mean has the gap's sign when it is large
            if gap > 0.0:
                lo = max(lo, theta)
            else:
                hi = min(hi, theta)
        delta = (mu - mean) / var
        # the analytic finish where its corrections are small (not at a nearly degenerate distribution, whose
        # third cumulant dwarfs its variance): else one more Newton step and sum
        if abs(gap) < _FINISH and tol == TOL and abs(k3 * delta) < 1e-3 * var and abs(delta) < 1e-7:
            # E(theta + delta) = mean + var delta + k3 delta^2 / 2 = mu, to second order in delta
            delta = (mu - mean) / (var + 0.5 * k3 * delta)
            log_z += mean * delta + 0.5 * var * delta * delta + k3 * delta * delta * delta / 6.0
            elf += cov * delta
            cov += c2 * delta
            var += k3 * delta
            return theta + delta, log_z, var, elf, cov
        if abs(gap) < _FINISH * 100.0 and tol != TOL:
            tol = TOL
            if abs(gap) < _FINISH:
                continue  # re-sum at full precision at the same theta
        if gap == 0.0:
            return theta, log_z, var, elf, cov
        # Halley's step on g(theta) = log E(theta) - log mu: g' = var / mean, g'' = k3 / mean - g'**2
        slope = var / mean
        step = gap / slope
        halley = 1.0 + 0.5 * gap * (k3 / mean - slope * slope) / (slope * slope)
        if 0.5 < halley < 2.0:
            step /= halley
        if step > limit:
            step = limit
        elif step < -limit:
            step = -limit
        theta += step
        if not (lo < theta < hi):
            theta = 0.5 * (lo + hi) if math.isfinite(lo) and math.isfinite(hi) else theta
    return nan, nan, nan, nan, nan


@numba.njit(cache=True, nogil=True, inline="always")
def _grow(pw: np.ndarray, nu: float, mu: float, npw: int, capped: bool) -> tuple[int, bool]:
    """Extend the table ``pw`` of ``k**nu`` (valid below ``npw``) as far as a series of mean ``mu`` is likely to
    reach (a guess: terms beyond the table come from ``exp``, slower but the same)."""
    if capped or not (mu > 0.0) or not (mu < 1e7) or not (nu > 0.0):
        return npw, capped
    need = int(mu + 12.0 * math.sqrt(mu / min(nu, 1.0) + 1.0) + 40.0)
    if need <= npw:
        return npw, capped
    got = _fill(pw, nu, npw, need)
    return got, got < need


@numba.njit(cache=True, nogil=True)
def _solve_many(mu: np.ndarray, nu: np.ndarray, out: np.ndarray) -> None:
    pw = np.empty(_TABLE)
    current, npw, capped = math.nan, 1, False
    for i in range(mu.size):
        if nu[i] != current:
            current, npw, capped = nu[i], 1, False
        npw, capped = _grow(pw, current, mu[i], npw, capped)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4] = _solve(mu[i], nu[i], math.nan, pw, npw)


@numba.njit(cache=True, nogil=True)
def _group_loglik(log_mu, nu, total, n, lf_sum, ll, d_log_mu, d_nu) -> None:
    # consecutive groups of one nu (one neuron's bins, in order) share a table of k**nu, and each starts
    # Halley's method from its predecessor's root moved by d theta / d log mu = mu / var
    pw = np.empty(_TABLE)
    current, npw, capped = math.nan, 1, False
    prev_log_mu, prev_theta, prev_slope = math.nan, math.nan, math.nan
    for g in range(log_mu.size):
        if n[g] == 0.0:
            ll[g] = 0.0
            d_log_mu[g] = 0.0
            d_nu[g] = 0.0
            continue
        if nu[g] != current:
            current, npw, capped = nu[g], 1, False
            prev_theta = math.nan
        mu = math.exp(log_mu[g])
        npw, capped = _grow(pw, current, mu, npw, capped)
        shift = log_mu[g] - prev_log_mu
        theta0 = prev_theta + shift * prev_slope if abs(shift) < 0.5 else math.nan
        theta, log_z, var, elf, cov = _solve(mu, nu[g], theta0, pw, npw)
        if not math.isfinite(theta):
            ll[g] = -math.inf
            d_log_mu[g] = 0.0
            d_nu[g] = 0.0
            prev_theta = math.nan
            continue
        # a nearly degenerate distribution (var << mu, large nu at an integer mean) pins theta only loosely:
        # its root is no guide for the next group, which then starts cold (so no result depends on the order)
        prev_log_mu, prev_slope = log_mu[g], mu / var
        prev_theta = theta if var > 1e-6 * mu else math.nan
        resid = total[g] - n[g] * mu
        ll[g] = total[g] * theta - nu[g] * lf_sum[g] - n[g] * log_z
        d_log_mu[g] = mu * resid / var
        d_nu[g] = -lf_sum[g] + n[g] * elf + resid * cov / var


def group_loglik(
    log_mu: np.ndarray, nu: np.ndarray, total: np.ndarray, n: np.ndarray, lf_sum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood of groups of counts and its gradient, from each group's sufficient statistics.

    Parameters
    ----------
    log_mu, nu : numpy.ndarray
        float64 (group,): log mean count and dispersion of each group.
    total, n, lf_sum : numpy.ndarray
        float64 (group,): the sum of the group's counts, how many counts, and the sum of their ``log y!``
        (a group with ``n = 0`` contributes 0).

    Returns
    -------
    (ll, d_log_mu, d_nu) : tuple of numpy.ndarray
        float64 (group,): each group's log-likelihood (``-inf`` where the series fails) and its derivatives
        with respect to ``log_mu`` and ``nu``.
    """
    arrays = [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in (log_mu, nu, total, n, lf_sum)]
    ll, d_log_mu, d_nu = (np.empty_like(arrays[0]) for _ in range(3))
    _group_loglik(*arrays, ll, d_log_mu, d_nu)
    return ll, d_log_mu, d_nu


def _unique_solve(mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """``_solve`` of every element of broadcast ``mu``, ``nu``: (*shape, 5), each distinct pair solved once."""
    mu, nu = np.broadcast_arrays(np.asarray(mu, dtype=np.float64), np.asarray(nu, dtype=np.float64))
    pairs = np.stack([mu.ravel(), nu.ravel()], axis=1)
    if pairs.shape[0] > 64:
        keys = np.ascontiguousarray(pairs).view(np.dtype((np.void, 16))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        unique = pairs[first]
    else:
        unique, inverse = pairs, np.arange(pairs.shape[0])
    # solved in order of nu (then mu): pairs with one nu share a table of k**nu
    order = np.lexsort((unique[:, 0], unique[:, 1]))
    solved = np.empty((unique.shape[0], 5))
    _solve_many(np.ascontiguousarray(unique[order, 0]), np.ascontiguousarray(unique[order, 1]), solved)
    out = np.empty_like(solved)
    out[order] = solved
    return out[inverse.ravel()].reshape(*mu.shape, 5)


def com_moments(mu: np.ndarray, nu: np.ndarray) -> dict[str, np.ndarray]:
    """The mean-parameterised COM-Poisson's ``lambda`` and moments at means ``mu`` and dispersions ``nu``.

    Parameters
    ----------
    mu, nu : array_like
        Mean counts (> 0) and dispersions (> 0); broadcast against each other.

    Returns
    -------
    dict of numpy.ndarray
        ``log_lambda``, ``log_z``, ``variance``, ``fano`` (``variance / mu``), ``mean_log_factorial``
        (``E[log y!]``) and ``cov_log_factorial`` (``Cov(y, log y!)``), each of the broadcast shape; nan where
        the series fails (see the module docstring).
    """
    mu = np.asarray(mu, dtype=np.float64)
    solved = _unique_solve(mu, nu)
    return {
        "log_lambda": solved[..., 0],
        "log_z": solved[..., 1],
        "variance": solved[..., 2],
        "fano": solved[..., 2] / mu,
        "mean_log_factorial": solved[..., 3],
        "cov_log_factorial": solved[..., 4],
    }


def com_logpmf(y: np.ndarray, mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Log pmf of counts ``y`` under COM-Poisson with means ``mu`` and dispersions ``nu`` (broadcasts).

    ``y theta - nu log y! - log Z`` with ``theta = log lambda`` solved from the mean; ``nu = 1`` is the
    Poisson log pmf (to rounding).
    """
    from scipy.special import gammaln

    y = np.asarray(y, dtype=np.float64)
    mu, nu = np.broadcast_arrays(np.asarray(mu, dtype=np.float64), np.asarray(nu, dtype=np.float64))
    solved = _unique_solve(mu, nu)
    return y * solved[..., 0] - nu * gammaln(y + 1.0) - solved[..., 1]


@numba.njit(cache=True, nogil=True)
def _sample_many(theta: np.ndarray, nu: np.ndarray, log_z: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    # inverse CDF: from the lower edge below which the mass is < TOL (found walking down from the mode),
    # upward until the cumulative reaches u (about 10 standard deviations of steps at most)
    for i in range(u.size):
        th, v = theta[i], nu[i]
        m = int(math.floor(math.exp(th / v))) if th / v > -700.0 else 0
        lf_m = math.lgamma(m + 1.0)
        base = m * th - v * lf_m - log_z[i]
        t, k = 1.0, m
        while k > 0:
            r = math.exp(v * math.log(k) - th)
            if r < 1.0 and t * r <= TOL * (1.0 - r):
                break
            t *= r
            k -= 1
        lf = math.lgamma(k + 1.0)
        cum = 0.0
        while True:
            p = math.exp(k * th - v * lf - log_z[i])
            cum += p
            if cum >= u[i] or (k > m and p <= TOL * math.exp(base) and cum > 1.0 - 1e-12):
                break
            k += 1
            lf += math.log(k)
            if k - m > MAX_TERMS:
                break
        out[i] = k


def com_sample(rng: np.random.Generator, mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Counts drawn from COM-Poisson with means ``mu`` and dispersions ``nu`` (inverse CDF; int64, broadcast shape)."""
    mu, nu = np.broadcast_arrays(np.asarray(mu, dtype=np.float64), np.asarray(nu, dtype=np.float64))
    solved = _unique_solve(mu, nu)
    failed = ~np.isfinite(solved[..., 1])
    if failed.any():
        raise ArgumentError(
            f"mu must be positive and finite means (and nu positive) for COM-Poisson draws; got mu "
            f"{mu[failed].ravel()[0]!r}, nu {nu[failed].ravel()[0]!r} among {int(failed.sum())} failing pair(s). "
            "Hint: means beyond about 1e7 spikes need another family."
        )
    u = rng.random(mu.shape)
    out = np.empty(mu.size, dtype=np.int64)
    _sample_many(
        np.ascontiguousarray(solved[..., 0]).ravel(),
        np.ascontiguousarray(nu).ravel().astype(np.float64),
        np.ascontiguousarray(solved[..., 1]).ravel(),
        u.ravel(),
        out,
    )
    return out.reshape(mu.shape)

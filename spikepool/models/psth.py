"""A hierarchical PSTH: time-resolved firing rates of binned counts, partially pooled: ``HierarchicalPSTH``.

Model (neurons i, conditions c, time bins b of width d, B_k(b) a clamped cubic B-spline basis on knots
``smoothing`` seconds apart, rows summing to 1)::

    log r_icb = m_cb + u_i + v_ic + s_icb                       log firing rate (Hz)
    m_cb      = sum_k B_k(b) beta_ck                            population time course of condition c
    beta_c0   ~ Normal(mu_loc, mu_scale)                        its level at the window's start (``mu``)
    beta_ck   ~ Normal(beta_c,k-1, sigma_time)                  a first-order random walk on the
                                                                coefficients: smoothness learnt
    sigma_time ~ HalfNormal(time_scale)
    u_i       ~ ZeroSumNormal(tau_neuron)                       each neuron's own level (``neuron_effect``)
    v_ic      ~ ZeroSumNormal(tau_level) over i and c           its level in each condition
    s_icb     = sum_k B_k(b) gamma_ick,  gamma_c ~ ZeroSumNormal(tau_shape) over i and k
                                                                its own smooth deviation from the course
    y_itb     ~ NegativeBinomial(mu = r_ic(t)b d, alpha_i)     Var = mu + mu**2 / alpha_i

with ``tau_neuron, tau_level ~ HalfNormal(tau_scale)`` and ``tau_shape ~ HalfNormal(shape_scale)``: a
neuron with few spikes keeps the population's shape (its ``gamma`` shrinks to 0), one with many keeps its
own. Why a random walk on spline coefficients (a Bayesian P-spline, Lang & Brezger 2004): a flat prior
on each bin's rate has no smoothness, a fixed kernel imposes one width on every neuron, and a random walk
of order 1 on the log rate itself needs a parameter per bin; on B-spline coefficients it needs one per knot,
``sigma_time -> 0`` is a constant course (the prior's mode: no structure unless the data ask for it).
The default ``time_scale`` 0.25 comes from a prior predictive check
(``benchmarks/prior_predictive_psth.py``): on a real recording the observed courses' range over time and
roughness fall near the middle of its prior draws, with fewer absurd courses than at 0.5 or 1.0.

Every part is identified by the data: the neurons' parts sum to zero over neurons (and ``v`` over
conditions, ``gamma`` over the basis, whose rows sum to 1), so ``m_cb`` is the mean over neurons of the log
rates (the population course is the geometric mean of the neurons' rates, the "typical unit") and ``u_i``
the neuron's level against it. Without the sums to zero, ``m`` could trade against the neurons' mean
deviation and ``u`` against a neuron's mean ``v``, directions only the prior bounds: NUTS then needed 3
times more leapfrog steps per draw (417 against 128 on locust20010214 9-12 s, three blocks). The random
walk is centered (the population course pools every neuron's spikes, so its data decide it), and so are
``u`` and ``v`` (every bin of the neuron, or of the neuron in the condition, informs them: non-centered,
``tau_level`` mixed 20 times slower on locust20010214, bulk ESS 134 against 2,598 of 2,000 draws); the
deviations ``gamma`` are non-centered (the sparse neurons are the point).

The likelihood is exact and never samples per-trial rates: for the Poisson and for the Negative Binomial
with alpha per neuron (or shared) it depends on each (neuron, condition, bin)'s mean only through the sum and
the number of its counts, plus a term per distinct (neuron, count) pair
(``spikepool.models.likelihoods.grouped_loglik``), so a gradient costs a few operations per group on the
dense (neuron, condition, bin) grid; with ``dispersion="fano"`` (alpha varies with the mean) it sums over
distinct (neuron, condition, bin, count) cells with multiplicities (``compress_binned``). With
one neuron, ``u``, ``v`` and ``s`` are left out (its course is the population's); with one condition, ``v``.
Dispersion and likelihood as in ``HierarchicalNegBinom`` (``"neuron"``, ``"pooled"``, ``"shared"``,
``"fano"``; ``likelihood="poisson"`` or ``"com_poisson"``). The COM-Poisson's log-likelihood of a group
depends on its counts only through their sum, their number and the sum of their ``log y!``
(``GroupSums.lf_sum``), with its normalising series solved once per group that has valid trials
(``spikepool.models.likelihoods.com_loglik``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from spikepool._validate import check_choice, check_trial_coord
from spikepool.checks.binned import check_valid_binned
from spikepool.checks.problems import CheckReport
from spikepool.counts.schema import validate_counts
from spikepool.exceptions import ArgumentError, ArgumentTypeError
from spikepool.models.base import SAMPLERS, Model
from spikepool.models.components import check_family_options, com_dispersion, nb_dispersion
from spikepool.models.likelihoods import GROUPED, com_loglik, family_logp, grouped_loglik
from spikepool.models.options import resolve_priors
from spikepool.models.start import sparse_target_accept
from spikepool.results.psth import PSTHResult, psth_groups
from spikepool.stats.binned import BinnedCells, GroupSums, basis_of, bin_width, compress_binned, group_sums
from spikepool.stats.families import FAMILIES, family_of

__all__ = ["HierarchicalPSTH", "PSTH_PRIORS", "PSTHData"]

DISPERSIONS = ("neuron", "pooled", "shared", "fano")

#: Default priors of ``HierarchicalPSTH`` (override with ``priors={...}``); the dispersion keys are
#: ``HierarchicalNegBinom``'s.
PSTH_PRIORS: dict[str, Any] = {
    "mu_loc": None,
    "mu_scale": 2.0,
    "time_scale": 0.25,
    "tau_scale": 1.0,
    "shape_scale": 0.5,
    "log_alpha_loc": 1.0,
    "log_alpha_scale": 1.5,
    "tau_alpha_scale": 1.0,
    "log_eta_loc": 0.0,
    "log_eta_scale": 1.5,
    "log_nu_loc": 0.0,
    "log_nu_scale": 0.75,
    "tau_nu_scale": 0.5,
}


@dataclass(frozen=True)
class PSTHData:
    """Binned counts validated once, with their cells and the spline basis of their bins."""

    counts: xr.DataArray
    cells: BinnedCells
    basis: np.ndarray
    bin_width: float
    sums: GroupSums

    @property
    def n_neuron(self) -> int:
        return int(self.counts.sizes["neuron"])

    @property
    def n_condition(self) -> int:
        return int(self.cells.condition_names.size)


class HierarchicalPSTH(Model):
    """Time-resolved firing rates of binned counts, each neuron's course pooled toward the population's.

    Parameters
    ----------
    condition : str, optional
        Trial coordinate of the conditions: a population course per condition.
    dispersion : {"neuron", "pooled", "shared", "fano"}
        The Negative Binomial's alpha per neuron, pooled, shared, or ``alpha = eta * mu``.
    likelihood : {"negbin", "poisson", "com_poisson"}
        The count family (``spikepool.stats.families``).
    smoothing : "auto" or float
        Spacing (s) of the spline knots: the finest time scale a course can follow (within it, how smooth
        the course is the data decide). "auto": four bins.
    priors : dict, optional
        Overrides of ``PSTH_PRIORS``.
    sampler : {"auto", "pymc", "nutpie", "numpyro"}
        As ``HierarchicalNegBinom``'s.

    Raises
    ------
    ArgumentError
        An option outside its choices, ``smoothing`` neither ``"auto"`` nor a positive time, a ``priors`` key or
        value not allowed, or a family / dispersion / sampler combination it cannot fit. ``fit`` raises
        ``IdentifiabilityError`` before sampling when the binned counts cannot identify the model.
    ArgumentTypeError
        ``condition`` not a str, ``priors`` not a dict.

    Notes
    -----
    The model and why it is built this way are in the module docstring (``spikepool.models.psth``).
    ``fit(binned, *, draws, tune, chains, random_seed, progressbar, sampler, **sample_kwargs)`` returns a
    ``PSTHResult``.

    Examples
    --------
    >>> import spikepool as sp
    >>> binned, truth = sp.simulate_binned(4, 6, 20, seed=1)  # 4 neurons, 6 trials, 20 bins of 25 ms
    >>> model = sp.HierarchicalPSTH(dispersion="shared")
    >>> sorted(v.name for v in model.build(binned).free_RVs)
    ['log_alpha', 'neuron_effect', 'population_coef', 'shape_offset', 'sigma_time', 'tau_neuron', 'tau_shape']
    """

    MODEL = "HierarchicalPSTH"

    def __init__(
        self,
        condition: str | None = None,
        dispersion: str = "neuron",
        likelihood: str = "negbin",
        smoothing: str | float = "auto",
        priors: dict | None = None,
        sampler: str = "auto",
    ) -> None:
        if condition is not None and not isinstance(condition, str):
            raise ArgumentTypeError(f"condition must be a trial coordinate name (str); got {type(condition).__name__}.")
        self.condition = condition
        self.dispersion = check_choice("dispersion", dispersion, DISPERSIONS)
        self.likelihood = check_choice("likelihood", likelihood, tuple(FAMILIES))
        ok = smoothing == "auto" or (
            isinstance(smoothing, int | float) and not isinstance(smoothing, bool) and np.isfinite(smoothing)
        )
        if not ok or (smoothing != "auto" and smoothing <= 0):
            raise ArgumentError(f"smoothing must be 'auto' or a positive time in s; got {smoothing!r}. Hint: 0.1.")
        self.smoothing = smoothing
        self.sampler = check_choice("sampler", sampler, SAMPLERS)
        check_family_options(self.likelihood, self.dispersion, self.sampler)
        self.priors = resolve_priors(
            PSTH_PRIORS,
            priors,
            families={},
            positive=tuple(k for k in PSTH_PRIORS if k.endswith("_scale")),
            finite=("log_alpha_loc", "log_eta_loc", "log_nu_loc")
            + (("mu_loc",) if isinstance(priors, dict) and priors.get("mu_loc") is not None else ()),
        )

    def __repr__(self) -> str:
        return (
            f"HierarchicalPSTH(condition={self.condition!r}, dispersion={self.dispersion!r}, "
            f"likelihood={self.likelihood!r}, smoothing={self.smoothing!r}, sampler={self.sampler!r})"
        )

    def spec(self) -> dict[str, Any]:
        """The model's arguments (JSON-able), as stored with results."""
        return {
            "model": self.MODEL,
            "condition": self.condition,
            "dispersion": self.dispersion,
            "likelihood": self.likelihood,
            "smoothing": self.smoothing,
            "priors": dict(self.priors),
            "sampler": self.sampler,
        }

    def prepare(self, binned: xr.DataArray | PSTHData) -> PSTHData:
        """The binned counts validated once, with their cells and spline basis.

        Parameters
        ----------
        binned : xarray.DataArray
            DataArray (neuron, trial, time) of binned counts (``from_neo(..., bin_size=...)``).
        """
        if isinstance(binned, PSTHData):
            return binned
        if isinstance(binned, xr.DataArray) and "time" not in binned.dims:
            raise ArgumentError(
                f"binned must be counts with a time dim (neuron, trial, time); got dims {binned.dims}. "
                "Hint: count with from_neo(..., bin_size=0.05) or load_counts(..., bin_size=0.05)."
            )
        counts = validate_counts(binned)
        if counts.sizes["time"] < 2:
            raise ArgumentError(
                f"binned must have at least 2 time bins for a time course; got {counts.sizes['time']}. "
                "Hint: a smaller bin_size, or HierarchicalNegBinom for window counts."
            )
        if self.condition is not None:
            check_trial_coord(counts, self.condition)
        cells = compress_binned(counts, self.condition)
        return PSTHData(
            counts=counts,
            cells=cells,
            basis=basis_of(counts, self.smoothing),
            bin_width=bin_width(counts),
            sums=group_sums(cells, counts.sizes["neuron"], counts.sizes["time"]),
        )

    def _check(self, data: PSTHData) -> CheckReport:
        """``check_binned`` of the design (identifiability errors, warnings), as ``fit`` runs it first."""
        dispersion = "poisson" if self.likelihood == "poisson" else self.dispersion
        return check_valid_binned(
            data.counts, dispersion=dispersion, condition=self.condition, likelihood=self.likelihood
        )

    def _build(self, data: PSTHData):
        """The ``pm.Model``: coords neuron, condition, time and basis; the likelihood a ``Potential`` ``loglik``."""
        import pymc as pm
        import pytensor.tensor as pt

        counts, cells, basis, p = data.counts, data.cells, data.basis, self.priors
        n, c, n_bins, k = data.n_neuron, data.n_condition, counts.sizes["time"], basis.shape[1]
        spikes = float((cells.weight * cells.y).sum())
        exposure = float(data.cells.obs_cell.size) * data.bin_width
        mu_loc = p["mu_loc"] if p["mu_loc"] is not None else float(np.log(max(spikes, 0.5) / exposure))
        coords = {
            "neuron": counts["neuron"].values,
            "condition": cells.condition_names,
            "time": counts["time"].values,
            "basis": np.arange(k),
        }
        B = pt.as_tensor_variable(basis)
        with pm.Model(coords=coords) as model:
            # centered: the population course pools every neuron's spikes, so its data decide it
            sigma_time = pm.HalfNormal("sigma_time", p["time_scale"])
            coef = pm.GaussianRandomWalk(
                "population_coef",
                sigma=sigma_time,
                init_dist=pm.Normal.dist(mu_loc, p["mu_scale"]),
                steps=k - 1,
                dims=("condition", "basis"),
            )
            pm.Deterministic("mu", coef[:, 0], dims="condition")
            log_rate = (coef @ B.T)[None, :, :]  # (1, condition, time)
            if n > 1:
                tau_neuron = pm.HalfNormal("tau_neuron", p["tau_scale"])
                u = pm.ZeroSumNormal("neuron_effect", sigma=tau_neuron, dims="neuron")
                log_rate = log_rate + u[:, None, None]
                tau_shape = pm.HalfNormal("tau_shape", p["shape_scale"])
                # zero sum over neurons and over the basis: identified against the course and the levels
                z = pm.ZeroSumNormal("shape_offset", sigma=1.0, dims=("condition", "neuron", "basis"), n_zerosum_axes=2)
                gamma = pm.Deterministic(
                    "shape_coef", tau_shape * z.transpose(1, 0, 2), dims=("neuron", "condition", "basis")
                )
                log_rate = log_rate + pt.tensordot(gamma, B, axes=[[2], [1]])
                if c > 1:
                    tau_level = pm.HalfNormal("tau_level", p["tau_scale"])
                    v = pm.ZeroSumNormal(
                        "level_effect", sigma=tau_level, dims=("neuron", "condition"), n_zerosum_axes=2
                    )
                    log_rate = log_rate + v[:, :, None]
            log_mu = pt.broadcast_to(log_rate, (n, c, n_bins)) + np.log(data.bin_width)
            family = family_of(self.likelihood)
            if family.name == "com_poisson":
                sums = data.sums
                keep = np.flatnonzero(sums.n.ravel() > 0)  # groups with valid trials
                nu = com_dispersion(self.dispersion, p)
                neuron_of = np.repeat(np.arange(n), c * n_bins)[keep]
                nu_g = nu[neuron_of] if nu.ndim == 1 else pt.broadcast_to(nu, keep.shape)
                log_mu_g = log_mu.reshape((-1,))[keep]
                flat = [a.ravel()[keep] for a in (sums.total, sums.n, sums.lf_sum)]
                pm.Potential("loglik", com_loglik(log_mu_g, nu_g, *flat))
            elif family.name in GROUPED and not (family.dispersion_names and self.dispersion == "fano"):
                alpha = nb_dispersion(self.dispersion, p, np.arange(n), None) if family.dispersion_names else None
                pm.Potential("loglik", grouped_loglik(family, data.sums, log_mu, alpha))
            else:  # alpha varies with each cell's mean (or a family without group sums): per cell
                mu_cell = pt.exp(log_mu.reshape((-1,))[cells.group])
                alpha = nb_dispersion(self.dispersion, p, cells.neuron, mu_cell) if family.dispersion_names else None
                pm.Potential("loglik", (cells.weight * family_logp(family, cells.y, mu_cell, alpha)).sum())
        model.spikepool_centered = np.zeros(n, dtype=bool)
        return model

    def _check_sampler(self, sampler: str) -> None:
        check_family_options(self.likelihood, self.dispersion, sampler)  # fit(sampler="numpyro") with COM-Poisson

    def _sample_options(self, data: PSTHData, model, sampler: str, spec: dict, kwargs: dict) -> dict:
        # the deviations are non-centered and their scales span orders of magnitude on the log scale, as
        # HierarchicalNegBinom's non-centered neurons do: the same target_accept
        spec["target_accept"] = sparse_target_accept("partial", np.zeros(1, dtype=bool), kwargs)
        return kwargs

    def _prior_names(self, data: PSTHData, model) -> list[str]:
        return [name for name in PSTHResult.SCALES if name in model.named_vars]

    def _result(self, tree, data: PSTHData, model, spec: dict, report: CheckReport, random_seed) -> PSTHResult:
        tree = psth_groups(tree, data.counts, spec)
        return PSTHResult(
            idata=tree,
            counts=data.counts,
            spec=spec,
            pre_checks=report,
            post_checks=PSTHResult.check(tree),
            centered=model.spikepool_centered,
        )

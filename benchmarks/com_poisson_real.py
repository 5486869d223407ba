"""COM-Poisson against the Negative Binomial and the Poisson on real counts, by PSIS-LOO.

Question
--------
Where real counts are more regular than Poisson (Fano < 1), does ``likelihood="com_poisson"`` predict them
better than the NB (which cannot go below Fano 1) and the Poisson (Fano exactly 1)? And where they are
overdispersed, does the NB still win?

Data (all in ``SPIKEPOOL_DATA``):

- ``retina low`` / ``retina high``: the Kramer & Eden retinal neuron (``kramer-eden-retina``), its 30 s of
  spikes under low and under high light counted in 300 consecutive 100 ms windows (pseudo-trials, one neuron,
  ``pooling="none"``). Low light fires regularly (Fano 0.71), high light in bursts (Fano 2.2);
- ``stn pre-GO`` / ``stn post-GO``: the Kramer & Eden STN neuron, 1 s before the GO cue and 250 ms after it,
  left vs right (25 trials each; Fano 0.64-0.78 before GO, 0.45 / 0.99 after);
- ``locust``: locust20010214, 10-12 s window counts by odour (10 units, 359 trials; Fano about 2).

Each is fitted with the three likelihoods (2 chains x 1,000 draws after 1,000 tuning, ``random_seed=1``) and
compared with ``result.compare`` (PSIS-LOO); printed: the counts' mean and empirical Fano factor, COM's
``nu`` (median, 90% interval), each model's elpd, and the winner with its elpd difference to the runner-up
and that difference's standard error. Minutes (the locust fits dominate); ``--quick`` leaves locust out.

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/com_poisson_real.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.io as sio

import spikepool as sp

LIKELIHOODS = ("com_poisson", "negbin", "poisson")


def retina(key: str):
    spikes = np.ravel(sio.loadmat(sp.datasets.fetch("kramer-eden-retina")[0])[key])
    counts = sp.from_spike_times({f"retina {key}": spikes}, np.arange(300) * 0.1, window=(0.0, 0.1))
    return counts, {"pooling": "none"}


def stn(window):
    return sp.datasets.load_counts("kramer-eden-stn", window=window), {"pooling": "none", "condition": "condition"}


def locust():
    return sp.datasets.load_counts("locust20010214", window=(10.0, 12.0)), {"condition": "condition"}


CASES = {
    "retina low": lambda: retina("SpikesLow"),
    "retina high": lambda: retina("SpikesHigh"),
    "stn pre-GO": lambda: stn((-1.0, 0.0)),
    "stn post-GO": lambda: stn((0.0, 0.25)),
    "locust": locust,
}


def empirical_fano(counts, condition: str | None) -> float:
    """Median over (neuron, condition) of the within-condition variance / mean of the counts."""
    labels = counts[condition].values if condition else np.zeros(counts.sizes["trial"])
    out = []
    for row in counts.values:
        for k in np.unique(labels):
            y = row[labels == k]
            if y.size > 1 and y.mean() > 0:
                out.append(y.var(ddof=1) / y.mean())
    return float(np.median(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="leave out the locust case")
    args = parser.parse_args()
    names = [n for n in CASES if not (args.quick and n == "locust")]
    print(f"{'case':12s} {'mean':>6s} {'Fano':>5s} {'nu (90%)':>20s} " + " ".join(f"{k:>11s}" for k in LIKELIHOODS))
    for name in names:
        counts, options = CASES[name]()
        fits, seconds = {}, {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SpikepoolWarning)
            for lik in LIKELIHOODS:
                start = time.perf_counter()
                fits[lik] = sp.HierarchicalNegBinom(likelihood=lik, **options).fit(
                    counts, draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False
                )
                seconds[lik] = time.perf_counter() - start
        table = fits["com_poisson"].compare(*(fits[k] for k in LIKELIHOODS[1:]), names=list(LIKELIHOODS))
        nu = fits["com_poisson"].posterior["nu"]
        q = np.quantile(nu.values.reshape(nu.sizes["chain"] * nu.sizes["draw"], -1), [0.05, 0.5, 0.95], axis=0)
        nu_text = (
            f"{q[1, 0]:.2f} [{q[0, 0]:.2f}, {q[2, 0]:.2f}]"
            if q.shape[1] == 1
            else f"medians {np.min(q[1]):.2f}-{np.max(q[1]):.2f}"
        )
        elpd = {k: float(table.loc[k, "elpd"]) for k in LIKELIHOODS}
        best, second = list(table.index[:2])
        print(
            f"{name:12s} {counts.values.mean():6.2f} {empirical_fano(counts, options.get('condition')):5.2f} "
            f"{nu_text:>20s} " + " ".join(f"{elpd[k]:11.1f}" for k in LIKELIHOODS)
        )
        print(
            f"{'':12s} best {best}: {table.loc[second, 'elpd_diff']:+.1f} +- {table.loc[second, 'dse']:.1f} "
            f"over {second}; fit s " + ", ".join(f"{k} {seconds[k]:.0f}" for k in LIKELIHOODS),
            flush=True,
        )


if __name__ == "__main__":
    main()

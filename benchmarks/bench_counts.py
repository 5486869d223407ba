"""Spike-counting throughput and memory: ``spikepool.from_spike_times`` against a ``numpy.histogram`` loop.

What is measured
----------------
A synthetic continuous recording is built in memory (numpy Generator, seed 0): by default 1,000 neurons,
each a homogeneous Poisson process with a rate drawn uniformly from 2-8 Hz, over 2,000 trials that start
every 1.0 s (about 2,000 s of recording and about 10 million spikes in all). Spike times are sorted
float64 seconds, one 1-D array per neuron. Every trial is counted in the window (0.0, 0.5) s after its
start, either as one window count or in 20 ms bins (25 bins).

* spikepool: ``sp.from_spike_times(arrays, trial_starts, window=(0.0, 0.5))`` and the same call with
  ``bin_size=0.02``; wall time is the best of ``--repeats`` runs over all neurons.
* baseline: what a lab script would write, a Python loop over neurons and trials calling
  ``np.histogram(times, bins=[start, stop])`` (window counts) or ``np.histogram(times, bins=edges)``
  with the 26 edges of that trial (binned counts). It is slow, so it runs once on the first
  ``--baseline-neurons`` neurons only; its counts are checked against spikepool's for those neurons.

Throughput is spikes counted per second: the number of spikes in the processed neurons' arrays divided
by the wall time, so the baseline subset and the full spikepool run are comparable.

Memory is the peak of traced Python/numpy allocations (``tracemalloc``, started after the data are
built) during one spikepool call, as a multiple of the spike-time arrays' total size (sum of
``nbytes``). For binned counts the output array is large in its own right, so the peak is also given
without it.

Targets: spikepool at least 20x the baseline's throughput on window counts, and a window-count peak
memory below 2x the spike-time arrays. The script always exits 0; it is a report.

Run from the repository root::

    python benchmarks/bench_counts.py            # full size (a few minutes at most)
    python benchmarks/bench_counts.py --quick    # 100 neurons x 200 trials smoke run
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import spikepool as sp

WINDOW = (0.0, 0.5)
BIN_SIZE = 0.02
TRIAL_PERIOD = 1.0
RATE_RANGE = (2.0, 8.0)
SEED = 0
SPEED_TARGET = 20.0
MEMORY_TARGET = 2.0


def make_session(n_neurons: int, n_trials: int, seed: int = SEED) -> tuple[list[np.ndarray], np.ndarray]:
    """Poisson spike trains (sorted float64 s) over one continuous recording, and the trial starts."""
    rng = np.random.default_rng(seed)
    duration = n_trials * TRIAL_PERIOD
    rates = rng.uniform(*RATE_RANGE, size=n_neurons)
    spikes = []
    for rate in rates:
        n = rng.poisson(rate * duration)
        spikes.append(np.sort(rng.uniform(0.0, duration, size=n)))
    trial_starts = np.arange(n_trials, dtype=np.float64) * TRIAL_PERIOD
    return spikes, trial_starts


def rel_bin_edges() -> np.ndarray:
    """Bin edges relative to the trial start, built the way spikepool builds them."""
    n_bins = int(round((WINDOW[1] - WINDOW[0]) / BIN_SIZE))
    edges = WINDOW[0] + BIN_SIZE * np.arange(n_bins + 1, dtype=np.float64)
    edges[0], edges[-1] = WINDOW
    return edges


def spikepool_counts(spikes: list[np.ndarray], starts: np.ndarray, binned: bool):
    if binned:
        return sp.from_spike_times(spikes, starts, window=WINDOW, bin_size=BIN_SIZE)
    return sp.from_spike_times(spikes, starts, window=WINDOW)


def baseline_window(spikes: list[np.ndarray], starts: np.ndarray) -> np.ndarray:
    out = np.zeros((len(spikes), starts.size), dtype=np.int64)
    for i, times in enumerate(spikes):
        for k, t0 in enumerate(starts):
            out[i, k] = np.histogram(times, bins=[t0 + WINDOW[0], t0 + WINDOW[1]])[0][0]
    return out


def baseline_binned(spikes: list[np.ndarray], starts: np.ndarray) -> np.ndarray:
    rel = rel_bin_edges()
    out = np.zeros((len(spikes), starts.size, rel.size - 1), dtype=np.int64)
    for i, times in enumerate(spikes):
        for k, t0 in enumerate(starts):
            out[i, k] = np.histogram(times, bins=t0 + rel)[0]
    return out


def best_time(fn: Callable[[], object], repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    return best


def traced_peak(fn: Callable[[], object]) -> tuple[int, int]:
    """Peak traced allocation (bytes) during ``fn()`` and the nbytes of its ``.values``."""
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    out_bytes = int(result.values.nbytes)
    del result
    return peak - base, out_bytes


def check_agreement(name: str, baseline: np.ndarray, ours: np.ndarray) -> str:
    if np.array_equal(baseline, ours):
        return f"{name}: baseline and spikepool counts agree ({baseline.size:,} counts)"
    diff = np.argwhere(baseline != ours)
    first = tuple(int(j) for j in diff[0])
    return (
        f"{name}: MISMATCH, {len(diff):,} of {baseline.size:,} counts differ; first at index {first}: "
        f"baseline {baseline[first]}, spikepool {ours[first]} "
        "(np.histogram's last bin is closed, spikepool's windows are half-open)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--baseline-neurons", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 neurons x 200 trials")
    args = parser.parse_args(argv)
    if args.quick:
        args.neurons, args.trials = 100, 200
    n_base = max(1, min(args.baseline_neurons, args.neurons))
    repeats = max(1, args.repeats)

    spikes, starts = make_session(args.neurons, args.trials)
    n_spikes = sum(a.size for a in spikes)
    array_bytes = sum(a.nbytes for a in spikes)
    base_spikes = sum(a.size for a in spikes[:n_base])

    print("spikepool counting benchmark")
    print(
        f"setup: {args.neurons:,} neurons x {args.trials:,} trials, {n_spikes:,} spikes, "
        f"spike arrays {array_bytes / 1e6:.1f} MB; window {WINDOW} s, {BIN_SIZE * 1e3:g} ms bins "
        f"({rel_bin_edges().size - 1} bins); seed {SEED}"
    )
    print(
        f"spikepool: best of {repeats} over all neurons; baseline (np.histogram per trial): once over the "
        f"first {n_base} neurons ({base_spikes:,} spikes)"
    )
    print()

    rows = []
    notes = []
    results = {}
    for label, binned, baseline_fn in (
        ("window counts", False, baseline_window),
        (f"{BIN_SIZE * 1e3:g} ms bins", True, baseline_binned),
    ):
        t_sp = best_time(lambda b=binned: spikepool_counts(spikes, starts, b), repeats)
        ours = spikepool_counts(spikes, starts, binned).values[:n_base].copy()
        t0 = time.perf_counter()
        theirs = baseline_fn(spikes[:n_base], starts)
        t_base = time.perf_counter() - t0
        notes.append(check_agreement(label, theirs, ours))
        del ours, theirs
        rate_sp, rate_base = n_spikes / t_sp, base_spikes / t_base
        results[label] = {"binned": binned, "rate_sp": rate_sp, "rate_base": rate_base}
        rows.append([label, f"np.histogram loop ({n_base} n)", rate_base, 1.0, None, t_base])
        rows.append([label, "spikepool", rate_sp, rate_sp / rate_base, None, t_sp])

    # Memory last, so tracemalloc's overhead does not touch the timings.
    tracemalloc.start()
    mem_lines = []
    for label, res in results.items():
        peak, out_bytes = traced_peak(lambda b=res["binned"]: spikepool_counts(spikes, starts, b))
        res["mem"] = peak / array_bytes
        for row in rows:
            if row[0] == label and row[1] == "spikepool":
                row[4] = res["mem"]
        mem_lines.append(
            f"{label}: peak {peak / 1e6:.1f} MB = {peak / array_bytes:.2f}x spike arrays; output counts "
            f"{out_bytes / 1e6:.1f} MB = {out_bytes / array_bytes:.2f}x; peak excluding output "
            f"{(peak - out_bytes) / 1e6:.1f} MB = {(peak - out_bytes) / array_bytes:.2f}x"
        )
    tracemalloc.stop()

    header = ["counting", "method", "spikes/s", "vs baseline", "peak mem / spikes", "wall s"]
    table = [
        [
            r[0],
            r[1],
            f"{r[2]:.3g}",
            f"{r[3]:.1f}x",
            "-" if r[4] is None else f"{r[4]:.2f}x",
            f"{r[5]:.3f}",
        ]
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if j < 2 else f"{{:>{w}}}" for j, w in enumerate(widths))
    print(fmt.format(*header))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print(fmt.format(*r))
    print()
    print("memory (tracemalloc peak during one spikepool call):")
    for line in mem_lines:
        print(f"  {line}")
    print("agreement:")
    for line in notes:
        print(f"  {line}")
    print()

    win = results["window counts"]
    speed = win["rate_sp"] / win["rate_base"]
    if args.quick:
        print("(--quick is a smoke run: the targets are judged on the full-size session only)")

    def verdict(ok: bool) -> str:
        return "n/a (quick)" if args.quick else ("PASS" if ok else "FAIL")

    print(
        f"{verdict(speed >= SPEED_TARGET)}: window counts throughput {speed:.1f}x baseline "
        f"(target >= {SPEED_TARGET:g}x)"
    )
    print(
        f"{verdict(win['mem'] < MEMORY_TARGET)}: window counts peak memory "
        f"{win['mem']:.2f}x spike arrays (target < {MEMORY_TARGET:g}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``spikepool`` command: datasets, counts, check, fit, report.

Examples
--------
``spikepool datasets``
``spikepool fit locust20010214 --window 10 12 --out report/``
``spikepool check recording.nix --window -0.5 1.0 --align odour_onset``
``spikepool report report/result.nc --out report2/``
``spikepool fit locust20000421 locust20010214 locust20010217 --window 2 4 --out sessions/`` (several sources:
the sessions are combined with ``concat_sessions`` and fitted with a session level; conditions are modelled
only when ``--condition`` names them)
``spikepool fit locust20010214 --window 8 14 --bin-size 0.05 --out psth/`` (with ``--bin-size``: the
time-resolved model, ``HierarchicalPSTH``, of one recording)
``spikepool fit locust20010214 --window 10 12 --formula "count ~ condition + block_trial + (1 + block_trial |
neuron)" --out adaptation/`` (with ``--formula``: ``HierarchicalGLM``, a regression on the counts' coordinates
with each neuron's coefficients pooled; compared by LOO with the window model)

SOURCE is a registered dataset name (``spikepool datasets``) or any file Neo (or pynwb) reads.
Bad input (any ``SpikepoolError``, a missing or unwritable file, a missing optional package) ends with one
line on stderr and exit status 2, no traceback. Anything else is a bug in spikepool: one line saying so, with
the path of a file holding the traceback, and exit status 70.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

import xarray as xr

import spikepool.datasets as datasets
from spikepool._validate import did_you_mean
from spikepool.checks.binned import check_binned
from spikepool.checks.counts import check_counts
from spikepool.checks.neuron_effect import with_neuron_effect
from spikepool.counts.sessions import NEURON_SESSION, concat_sessions, session_ids_of
from spikepool.datasets import list_datasets
from spikepool.exceptions import ArgumentError, SpikepoolError, SpikepoolWarning
from spikepool.io.files import load
from spikepool.models.base import METHODS
from spikepool.models.glm import HierarchicalGLM
from spikepool.models.negbin import DISPERSIONS, LIKELIHOODS, POOLINGS, HierarchicalNegBinom
from spikepool.models.psth import HierarchicalPSTH
from spikepool.models.sampling import check_sampler_args
from spikepool.results.glm_shared import has_shared, partition_table
from spikepool.results.load import load_result
from spikepool.stats.describe import format_summary
from spikepool.viz.report import report

EXIT_BAD_INPUT = 2
#: ``EX_SOFTWARE`` of sysexits.h: an internal error.
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _source_args(p: argparse.ArgumentParser, window_required: bool = False) -> None:
    p.add_argument(
        "source",
        nargs="+",
        help="a registered dataset name or a file neo.io (or pynwb) can read; several: one session each",
    )
    p.add_argument(
        "--window",
        nargs=2,
        type=float,
        metavar=("START", "STOP"),
        required=window_required,
        help="counting window in s, relative to the alignment",
    )
    p.add_argument("--align", help="event / epoch name or label to align trials to")
    p.add_argument(
        "--bin-size",
        type=float,
        help="bin width in s: binned counts; 'check' and 'fit' then use the time-resolved model (HierarchicalPSTH)",
    )
    p.add_argument("--neuron-key", help="SpikeTrain annotation (or 'name') that identifies neurons")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--formula",
        help="fit a regression on the counts' coordinates instead, e.g. \"count ~ condition + block_trial + "
        "(1 + block_trial | neuron)\" (HierarchicalGLM: each neuron's coefficients pooled)",
    )
    shared = "with --formula: K factors shared by the neurons of a trial ('(1 | trial)' in the formula: one gain)"
    p.add_argument("--shared", type=int, default=0, metavar="K", help=shared + "; writes variance_partition.csv")
    p.add_argument(
        "--condition",
        help="trial coordinate of conditions (default: 'condition' when it varies; 'none' to pool all trials)",
    )
    p.add_argument("--pooling", choices=POOLINGS, default="partial")
    p.add_argument("--dispersion", choices=DISPERSIONS, default="neuron")
    p.add_argument("--likelihood", choices=LIKELIHOODS, default="negbin")
    p.add_argument(
        "--neuron-effect",
        choices=("auto", "on", "off"),
        default="auto",
        help="crossed neuron x condition effects: pool each neuron's condition rates toward its own level "
        "(auto: on when two or more neurons have trials in two or more conditions)",
    )


NEURON_EFFECT = {"auto": "auto", "on": True, "off": False}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spikepool",
        description="Partially pooled firing rates from spike trains.",
        epilog="SOURCE: a dataset name from 'spikepool datasets' or a recording file.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("datasets", help="list the registered real recordings")
    c = sub.add_parser("counts", help="count a recording and print its summary")
    _source_args(c)
    c.add_argument("--out", type=Path, help="write the counts to this netCDF file")
    k = sub.add_parser("check", help="count a recording and run the identifiability checks")
    _source_args(k)
    _model_args(k)
    f = sub.add_parser("fit", help="check, fit the hierarchical model, write report, result and rates")
    _source_args(f, window_required=True)
    _model_args(f)
    f.add_argument(
        "--draws", type=int, default=None, help="draws per chain (default: 1,000, more for models of many values)"
    )
    f.add_argument("--tune", type=int, default=1000)
    f.add_argument("--chains", type=int, default=4)
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0: reproducible)")
    f.add_argument(
        "--method",
        choices=METHODS,
        default="nuts",
        help="nuts: sample the posterior (default); laplace: the nested Laplace approximation of window counts, "
        "seconds for 1,000 units, checked by Pareto k (--draws x --chains independent draws)",
    )
    f.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the fits the report compares with by LOO (Poisson; with com_poisson also the NB)",
    )
    f.add_argument(
        "--baseline",
        help="a condition (e.g. Spontaneous_1): add the responsive units against it (Bayesian FDR) to the report",
    )
    f.add_argument("--fdr", type=float, default=0.05, help="target expected FDR of --baseline's calls (0.05)")
    f.add_argument(
        "--sparse-responses",
        action="store_true",
        help="fit with a point mass at no change against --baseline (HierarchicalNegBinom(baseline=...)): "
        "calibrated calls where some units do not respond at all",
    )
    f.add_argument("--out", type=Path, required=True, help="output folder (created)")
    r = sub.add_parser("report", help="write the HTML report of a saved result")
    r.add_argument("result", type=Path, help="a result written by 'spikepool fit' (result.nc)")
    r.add_argument("--out", type=Path, required=True, help="output folder (created)")
    return p


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _progress(what: str):
    """A spinner with elapsed time on a terminal (rich); one line of text otherwise."""
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(f"{what} ..."):
            yield
        _say(f"{what}: done")
    else:
        _say(f"{what} ...")
        yield


def _counts(args):
    """Counts of the one SOURCE, or of several combined with ``concat_sessions`` (one session each)."""
    if len(args.source) == 1:
        return _count_one(args, args.source[0])
    ids = session_ids_of(args.source)  # before anything is read: repeated sources are refused first
    return concat_sessions([_count_one(args, src) for src in args.source], session_ids=ids)


def _count_one(args, source: str):
    kwargs = {"window": tuple(args.window) if args.window else None, "bin_size": args.bin_size}
    if args.align:
        kwargs["align"] = args.align
    if args.neuron_key:
        kwargs["neuron_key"] = args.neuron_key
    registered = datasets.list_datasets().index
    if source in registered:
        with _progress(f"loading dataset {source}"):
            return datasets.load_counts(source, **kwargs)
    path = Path(source)
    if not path.exists() and not path.suffix:
        hint = did_you_mean(source, list(registered)) or " 'spikepool datasets' lists the names."
        raise FileNotFoundError(f"SOURCE must be a dataset name or an existing file; got {source!r}.{hint}")
    with _progress(f"reading {path}"):
        return load(path, **kwargs)


def _session(args) -> str | None:
    """The session level: with several sources and partial pooling, neurons are nested in sessions."""
    return NEURON_SESSION if len(args.source) > 1 and args.pooling == "partial" else None


def _condition(args, counts) -> str | None:
    if args.condition is not None:
        if args.condition.lower() == "none":
            return None
        return args.condition
    if len(args.source) > 1:  # sessions rarely share their stimuli: model conditions only when asked
        return None
    labels = counts["condition"].values
    return "condition" if len(set(labels.tolist())) > 1 else None


def _time_resolved(args) -> bool:
    """Whether ``--bin-size`` asks for the time-resolved model, refusing what it cannot do (before any reading)."""
    if args.bin_size is None:
        return False
    if len(args.source) > 1:
        raise ArgumentError(
            f"--bin-size fits one recording (HierarchicalPSTH has no session level); got {len(args.source)} "
            "sources. Hint: fit each session on its own, or leave out --bin-size for the window-count model."
        )
    if args.pooling != "partial":
        raise ArgumentError(
            f"--pooling must be 'partial' with --bin-size (the time-resolved model pools); got {args.pooling!r}. "
            "Hint: leave out --pooling, or leave out --bin-size for the window-count model."
        )
    if args.neuron_effect != "auto":
        raise ArgumentError(
            f"--neuron-effect must be 'auto' with --bin-size (the time-resolved model always has neuron levels and, "
            f"with conditions, each neuron's level per condition); got {args.neuron_effect!r}. Hint: leave it out."
        )
    return True


def _check(args) -> int:
    binned = _time_resolved(args)
    _check_formula_args(args, binned)
    counts = _counts(args)
    if args.formula is not None:
        report = _formula_model(args, args.likelihood).check(counts)
        print(report)
        return 0 if report.ok else 1
    dispersion = "poisson" if args.likelihood == "poisson" else args.dispersion
    condition = _condition(args, counts)
    if binned:
        report = check_binned(counts, dispersion=dispersion, condition=condition, likelihood=args.likelihood)
        print(report)
        return 0 if report.ok else 1
    report = check_counts(
        counts, dispersion=dispersion, condition=condition, session=_session(args), likelihood=args.likelihood
    )
    if condition is not None and report.ok:
        model = HierarchicalNegBinom(
            pooling=args.pooling, condition=condition, neuron_effect=NEURON_EFFECT[args.neuron_effect]
        )
        report = with_neuron_effect(report, *model.resolve_neuron_effect(counts))
    print(report)
    return 0 if report.ok else 1


def _fit(args) -> int:
    import warnings

    start = time.perf_counter()
    check_sampler_args(args.draws, args.tune, args.chains, args.seed, {})  # before the recording is read
    binned = _time_resolved(args)
    if binned and args.method == "laplace":
        raise ArgumentError(
            f"--method laplace is for window counts (HierarchicalNegBinom); got --bin-size {args.bin_size} (the "
            "time-resolved HierarchicalPSTH). Hint: drop --bin-size, or use --method nuts."
        )
    _check_formula_args(args, binned)
    counts = _counts(args)
    print(format_summary(counts))
    condition = _condition(args, counts)
    _check_baseline(args, counts, condition, binned)
    model = _model(args, condition, args.likelihood, binned)
    _say(f"fitting {model} ...")
    settings = {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "random_seed": args.seed,
        "progressbar": sys.stderr.isatty(),
        "method": args.method,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpikepoolWarning)
        result = model.fit(counts, **settings)
        others = []
        # the LOO comparison: against the Poisson, and a COM-Poisson fit also against the Negative Binomial
        baselines = {"negbin": ["poisson"], "com_poisson": ["negbin", "poisson"]}.get(args.likelihood, [])
        if args.formula is not None:  # the formula against the window model of the same counts
            baselines = ["window"]
        for other in [] if args.no_compare else baselines:
            _say(f"fitting the {other} model for the LOO comparison ...")
            if other == "window":
                window = HierarchicalNegBinom(
                    dispersion=args.dispersion, likelihood=args.likelihood, condition=condition
                )
                others.append(window.fit(counts, **settings))
            else:
                others.append(_model(args, condition, other, binned).fit(counts, **settings))
    for w in caught:
        if issubclass(w.category, SpikepoolWarning):
            _say(f"warning: {w.message}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    result.to_netcdf(out / "result.nc")
    shrink = result.shrinkage()
    table_name = "coefficients.csv" if args.formula is not None else "rates.csv"
    shrink.to_dataframe().to_csv(out / table_name)
    html_path = report(result, out / "report.html", others=others, baseline=args.baseline, fdr=args.fdr)
    written = [html_path, out / "result.nc", out / table_name]
    partition = result.variance_partition() if args.formula and has_shared(result.design, result.spec) else None
    if partition is not None:
        partition_table(partition).to_csv(out / "variance_partition.csv")
        written.append(out / "variance_partition.csv")
    responsive = None if args.baseline is None else result.responsive(args.baseline, fdr=args.fdr)
    if responsive is not None:
        responsive.to_dataframe().to_csv(out / "responsive.csv")
        written.append(out / "responsive.csv")
    print()
    print(result.checks)
    print()
    if args.formula is not None:
        table = shrink.to_dataframe()[["mean", "lower", "upper", "shrinkage"]]
        table = table[table["shrinkage"].notna()]  # the neurons' own coefficients (the rest are the population's)
        print(result.summary().round(3).to_string(max_rows=40))
        print()
        if partition is not None:
            print("shares of each neuron's count variance (posterior means):")
            print(partition["mean"].to_pandas().round(3).to_string(max_rows=40))
            print()
    elif binned:  # one row per neuron [x condition]: the per-bin table is in rates.csv
        rates = shrink[["raw_rate", "rate"]].mean("time").rename(raw_rate="mean_raw_rate", rate="mean_rate")
        table = xr.merge([rates, shrink[["course_shrinkage", "n_trials"]]]).to_dataframe()
    else:
        table = shrink.to_dataframe()[["raw_rate", "rate", "lower", "upper", "shrinkage", "n_trials"]]
    print(table.round(3).to_string(max_rows=40))
    if responsive is not None:
        a = responsive.attrs
        cells = "neuron x condition x bin" if binned else "neuron x condition"
        print(
            f"\nresponsive against {args.baseline}: {a['n_up']} up, {a['n_down']} down ({cells} cells) at "
            f"expected FDR {a['expected_fdr']:.3f} (target {a['fdr']:g})"
        )
    print(f"\nwrote {', '.join(str(p) for p in written)} in {time.perf_counter() - start:.0f} s")
    return 0


def _check_baseline(args, counts, condition: str | None, binned: bool) -> None:
    """Refuse a --baseline the fit cannot answer, before sampling."""
    if args.sparse_responses and args.baseline is None:
        raise ArgumentError(
            "--sparse-responses needs --baseline (the condition responses are measured against); got none. "
            "Hint: add --baseline Spontaneous_1, say."
        )
    if args.sparse_responses and binned:
        raise ArgumentError(
            "--sparse-responses is for window counts (HierarchicalNegBinom); got it with --bin-size. "
            "Hint: drop one of them."
        )
    if args.sparse_responses:
        clashes = (
            (len(args.source) > 1, f"one recording (no session level); got {len(args.source)} sources"),
            (args.pooling != "partial", f"--pooling partial; got --pooling {args.pooling}"),
            (args.neuron_effect == "on", "no crossed neuron effects; got --neuron-effect on"),
            (args.likelihood == "com_poisson", "--likelihood negbin or poisson; got --likelihood com_poisson"),
            (args.dispersion == "fano", "a dispersion other than fano; got --dispersion fano"),
        )
        for bad, what in clashes:
            if bad:
                raise ArgumentError(f"--sparse-responses needs {what}. Hint: drop --sparse-responses or that option.")
    if args.baseline is None:
        return
    if not (0.0 < args.fdr < 1.0):
        raise ArgumentError(f"--fdr must be a rate in (0, 1); got {args.fdr!r}.")
    names = sorted(set(counts[condition].values.tolist())) if condition else []
    if args.baseline not in names:
        raise ArgumentError(
            f"--baseline must be one of the recording's conditions; got {args.baseline!r}, conditions {names}."
            f"{did_you_mean(args.baseline, names)}"
        )


def _check_formula_args(args, binned: bool) -> None:
    """Refuse, before anything is read, the options a ``--formula`` fit has no use for."""
    if args.formula is None:
        if getattr(args, "shared", 0):
            raise ArgumentError(
                f"--shared needs --formula (the formula model holds the shared factors); got --shared {args.shared} "
                'alone. Hint: --formula "count ~ condition + (1 | neuron)" --shared 1.'
            )
        return
    clashes = (
        (binned, "--bin-size (the formula model fits window counts)"),
        (args.pooling != "partial", f"--pooling {args.pooling} (the formula says what is pooled)"),
        (args.neuron_effect != "auto", f"--neuron-effect {args.neuron_effect} (write '(1 | neuron:condition)')"),
        (args.dispersion == "fano", "--dispersion fano (neuron, pooled or shared)"),
        (getattr(args, "method", "nuts") != "nuts", "--method laplace (NUTS only)"),
        (getattr(args, "baseline", None) is not None, "--baseline (put the contrast in the formula)"),
    )
    for bad, what in clashes:
        if bad:
            raise ArgumentError(f"--formula cannot be combined with {what}. Hint: drop one of them.")


def _formula_model(args, likelihood: str) -> HierarchicalGLM:
    return HierarchicalGLM(
        args.formula, likelihood=likelihood, dispersion=args.dispersion, shared=getattr(args, "shared", 0)
    )


def _model(args, condition: str | None, likelihood: str, binned: bool):
    """The model the command line asks for: HierarchicalGLM with ``--formula``, HierarchicalPSTH with
    ``--bin-size``, else HierarchicalNegBinom."""
    if getattr(args, "formula", None) is not None:
        return _formula_model(args, likelihood)
    if binned:
        return HierarchicalPSTH(condition=condition, dispersion=args.dispersion, likelihood=likelihood)
    return HierarchicalNegBinom(
        pooling=args.pooling,
        dispersion=args.dispersion,
        likelihood=likelihood,
        condition=condition,
        neuron_effect=NEURON_EFFECT[args.neuron_effect],
        session=_session(args),
        baseline=args.baseline if getattr(args, "sparse_responses", False) else None,
    )


def _report(args) -> int:
    if not args.result.is_file():
        raise FileNotFoundError(f"RESULT must be a result file written by 'spikepool fit'; got {str(args.result)!r}.")
    try:
        result = load_result(args.result)
    except (OSError, KeyError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ArgumentError(
            f"RESULT must be a result file written by 'spikepool fit'; {args.result} is not ({reason})."
        ) from err
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {report(result, args.out / 'report.html')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikepool`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "datasets":
            table = list_datasets()[["n_files", "loadable", "licence", "description"]]
            print(table.to_string(max_colwidth=90))
            return 0
        if args.command == "counts":
            counts = _counts(args)
            print(format_summary(counts))
            if args.out:
                counts.to_netcdf(args.out)
                print(f"\ncounts written to {args.out}")
            return 0
        return {"check": _check, "fit": _fit, "report": _report}[args.command](args)
    except (SpikepoolError, OSError, ImportError) as err:  # bad input, a file that cannot be read or written
        _say("spikepool: error: " + " ".join(str(err).split()))  # one line, whatever the message holds
        return EXIT_BAD_INPUT
    except Exception as err:  # a bug: say so, and keep the traceback for the report
        return _internal_error(err)


def _internal_error(err: Exception) -> int:
    """Write the traceback of ``err`` to a temporary file and say, in one line, that this is spikepool's bug."""
    with tempfile.NamedTemporaryFile("w", prefix="spikepool-error-", suffix=".txt", delete=False) as f:
        traceback.print_exception(err, file=f)
    what = " ".join(f"{type(err).__name__}: {err}".split())
    _say(f"spikepool: internal error (a bug in spikepool, not your input; please report it with {f.name}): {what}")
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

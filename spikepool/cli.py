"""The ``spikepool`` command: list datasets, count a recording, print its summary, save netCDF.

Examples
--------
``spikepool datasets``
``spikepool counts locust20010214 --window 10 12 --out locust_counts.nc``
``spikepool counts recording.nix --window -0.5 1.0 --align odour_onset --bin-size 0.05``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikepool", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the registered real recordings")
    c = sub.add_parser("counts", help="count a dataset or a recording file and print its summary")
    c.add_argument("source", help="a registered dataset name or a file neo.io (or pynwb) can read")
    c.add_argument(
        "--window",
        nargs=2,
        type=float,
        metavar=("START", "STOP"),
        help="counting window in s, relative to the alignment",
    )
    c.add_argument("--align", help="event / epoch name or label to align trials to")
    c.add_argument("--bin-size", type=float, help="bin width in s (binned counts)")
    c.add_argument("--neuron-key", help="SpikeTrain annotation (or 'name') that identifies neurons")
    c.add_argument("--out", type=Path, help="write the counts to this netCDF file")
    return p


def _counts(args):
    from spikepool import datasets
    from spikepool.io.files import load

    kwargs = {"window": tuple(args.window) if args.window else None, "bin_size": args.bin_size}
    if args.align:
        kwargs["align"] = args.align
    if args.neuron_key:
        kwargs["neuron_key"] = args.neuron_key
    if args.source in datasets.list_datasets().index:
        return datasets.load_counts(args.source, **kwargs)
    return load(args.source, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikepool`` console script; returns the exit status."""
    from spikepool.exceptions import SpikepoolError

    args = _parser().parse_args(argv)
    try:
        if args.command == "datasets":
            from spikepool.datasets import list_datasets

            table = list_datasets()[["n_files", "loadable", "licence", "description"]]
            print(table.to_string(max_colwidth=90))
            return 0
        counts = _counts(args)
        from spikepool.describe import format_summary

        print(format_summary(counts))
        if args.out:
            counts.to_netcdf(args.out)
            print(f"\ncounts written to {args.out}")
        return 0
    except (SpikepoolError, FileNotFoundError, TypeError) as err:
        print(f"spikepool: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

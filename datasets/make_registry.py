"""Rebuild ``datasets/registry.json`` from a local copy of the data and its ``SHA256SUMS``.

Usage: ``python datasets/make_registry.py /path/to/shared/data``. The registry records, for every
file, its path under ``SPIKEPOOL_DATA``, its sha256 and its public source URL pinned to a commit.
Local file names replaced the characters `` ^()`` of a few upstream names; ``upstream_name`` undoes it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import quote

SOURCES = {
    "locust-pouzat": {
        "title": "Locust antennal lobe tetrode recordings, spike-sorted (Pouzat)",
        "repository": "christophe-pouzat/zenodo-locust-datasets-analysis",
        "commit": "3635d491c637bae8641d6350ec1ad9336f174579",
        "licence": "GPL-3.0",
        "citation": (
            "Pouzat C. Locust olfactory pathway datasets, sorted with R. "
            "github.com/christophe-pouzat/zenodo-locust-datasets-analysis; raw data: Zenodo record 21589 "
            "(doi:10.5281/zenodo.21589)."
        ),
    },
    "kramer-eden": {
        "title": "Case Studies in Neural Data Analysis (Kramer & Eden), data files",
        "repository": "Mark-Kramer/Case-Studies-Python",
        "commit": "060e67e81096b900773e2166910c5f3aca6365f8",
        "licence": "MIT",
        "citation": "Kramer MA, Eden UT. Case Studies in Neural Data Analysis. MIT Press, 2016.",
    },
    "nelpy-linear-track": {
        "title": "Hippocampal units on a linear track (nelpy example data)",
        "repository": "nelpy/example-data",
        "commit": "099548c0608ffaa92933c66346c0d96f05a18622",
        "licence": "MIT",
        "citation": "nelpy example data, linear-track session. github.com/nelpy/example-data.",
    },
}

# Trial layout of each locust experiment (see datasets/locust-pouzat/README.md). period: spacing of
# trials in the stored spike trains (s); duration: recorded time per trial (s), the last spike seen
# in any trial of the experiment rounded up to 10 ms.
LOCUST = {
    "locust20000214": {
        "period": 10.0,
        "duration": 10.0,
        "note": "10 s recorded per trial, stored with a 10 s offset per trial (ITI 30 s).",
    },
    "locust20000421": {
        "period": 10.0,
        "duration": 8.93,
        "note": "odours every 10 s (author: 'unstable'); two tetrodes, D1 and D2.",
    },
    "locust20000613": {
        "period": 10.0,
        "duration": 10.0,
        "note": "tetrode D; one waveform drifts between pure and diluted Cis-3-Hexen-1-ol.",
    },
    "locust20000616": {
        "period": 10.0,
        "duration": 10.0,
        "note": "tetrode C, 4 units, two well isolated; unstable odour responses.",
    },
    "locust20010214": {
        "period": 30.0,
        "duration": 28.77,
        "note": "the best experiment: 10 units (u1-u7 well isolated), 10 odour and 4 spontaneous blocks.",
    },
    "locust20010217": {
        "period": 30.0,
        "duration": 28.77,
        "note": "spontaneous activity only; 10 units, 5 good.",
    },
}

KRAMER = {
    "kramer-eden-stn": (
        "10_spikes-1.mat",
        "stn",
        "Human subthalamic-nucleus neuron, 50 trials (25 left, 25 right), 1 ms bins around the GO cue.",
    ),
    "kramer-eden-lfp": ("spikes-LFP-1.mat", None, "100 trials of binary spikes and LFP, 1 ms bins."),
    "kramer-eden-retina": (
        "08_spikes-1.mat",
        None,
        "One retinal neuron, spike times in two 30 s conditions (low/high light).",
    ),
    "kramer-eden-placecell": ("spikes-1.mat", None, "One rat place cell: spike times and position at 1 ms."),
}


def upstream_name(name: str) -> str:
    """Undo the local renaming of ``1-Octanol (10^-N) first`` style stimulus names."""
    return re.sub(
        r"__10~-(\d)_(_(first|second))?",
        lambda m: f" (10^-{m[1]})" + (f" {m[3]}" if m[3] else ""),
        name,
    )


def raw_url(source: str, path: str) -> str:
    src = SOURCES[source]
    return f"https://raw.githubusercontent.com/{src['repository']}/{src['commit']}/{quote(path)}"


def main(data: Path) -> None:
    sums = {}
    for line in (data / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel.removeprefix("./")] = digest
    datasets = {}
    for exp, layout in LOCUST.items():
        files = []
        for rel in sorted(k for k in sums if k.startswith(f"locust-pouzat/{exp}/")):
            name = rel.rsplit("/", 1)[1]
            up = f"Locust_Analysis_with_R/{exp}/{exp}_spike_trains/{upstream_name(name)}"
            files.append({"path": rel, "sha256": sums[rel], "url": raw_url("locust-pouzat", up)})
        datasets[exp] = {
            "source": "locust-pouzat",
            "loader": "locust",
            "description": f"Locust antennal lobe, {exp}: {layout['note']}",
            "layout": {"sampling_rate": 15000.0, "period": layout["period"], "duration": layout["duration"]},
            "files": files,
        }
    for name, (fname, loader, text) in KRAMER.items():
        rel = f"kramer-eden/{fname}"
        datasets[name] = {
            "source": "kramer-eden",
            "loader": loader,
            "description": text,
            "files": [{"path": rel, "sha256": sums[rel], "url": raw_url("kramer-eden", f"matfiles/{fname}")}],
        }
    datasets["kramer-eden-stn"]["default_align"] = "GO"
    nelpy = {
        "spikes.mat": "linear-track/spikes.mat",
        "trajectory.videoPositionTracking": "linear-track/trajectory.videoPositionTracking",
    }
    datasets["nelpy-linear-track"] = {
        "source": "nelpy-linear-track",
        "loader": "nelpy",
        "description": (
            "31 hippocampal units (MatClust) and 60 Hz position on a linear track; "
            "laps must be cut from position."
        ),
        "files": [
            {
                "path": f"nelpy-linear-track/{k}",
                "sha256": sums[f"nelpy-linear-track/{k}"],
                "url": raw_url("nelpy-linear-track", v),
            }
            for k, v in nelpy.items()
        ],
        "default_align": "laps",
    }
    licences = {
        "locust-pouzat/LICENSE": ("locust-pouzat", "LICENSE"),
        "kramer-eden/LICENSE.MD": ("kramer-eden", "LICENSE.MD"),
        "nelpy-linear-track/LICENSE": ("nelpy-linear-track", "LICENSE"),
    }
    sources = {
        k: {**v, "licence_file": {"path": p, "sha256": sums[p], "url": raw_url(k, up)}}
        for (p, (k, up)) in licences.items()
        for kk, v in SOURCES.items()
        if kk == k
    }
    out = {"sources": sources, "datasets": datasets}
    target = Path(__file__).with_name("registry.json")
    target.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    n = sum(len(d["files"]) for d in datasets.values())
    print(f"wrote {target}: {len(datasets)} datasets, {n} files")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))

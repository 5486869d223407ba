"""Screenshots of the built site in headless Chromium (Debian's ``chromium``), to look at it as a reader does.

Run from the repository root after building the site (``sphinx-build -W -b html docs docs/_build/html``)::

    python docs/screenshots.py [--site docs/_build/html] [--out docs/_build/screenshots]

It writes one PNG per page: the landing page, the guide's model-choice page, a plot's and a result's API pages,
and one tutorial page with its figures.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

#: (name, page under the site, window height in pixels): the pages a reader meets first.
PAGES = (
    ("landing", "index.html", 1100),
    ("guide_models", "guide/models.html", 2000),
    ("api_plot_shrinkage", "generated/spikepool.plots.plot_shrinkage.html", 1400),
    ("api_glmresult", "generated/spikepool.GLMResult.html", 2200),
    ("tutorial_11", "tutorials/11_shared_variability.html", 6000),
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshots.py: no Chromium found; expected 'chromium' on the PATH (Debian: apt install chromium).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=Path("docs/_build/html"))
    parser.add_argument("--out", type=Path, default=Path("docs/_build/screenshots"))
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page, height in PAGES:
        path = (args.site / page).resolve()
        if not path.exists():
            sys.exit(f"screenshots.py: the built site must have {page}; got no {path}. Build the site first.")
        png = (args.out / f"{name}.png").resolve()
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        command += [f"--window-size={args.width},{height}", f"--screenshot={png}", path.as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        print(f"{name}: {png}")


if __name__ == "__main__":
    main()

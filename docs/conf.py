"""Sphinx configuration of the spikepool documentation site.

``sphinx-build -W -b html docs docs/_build/html`` builds it, running the tutorials once and caching their
outputs (they need ``SPIKEPOOL_DATA``) and linking to the xarray, PyMC, ArviZ, Neo and numpy docs.
``SPIKEPOOL_DOCS_FAST=1`` builds it offline without running the tutorials (the test suite does this; it runs
the tutorials on its own).
"""

from __future__ import annotations

import os
import sys

import spikepool

# ``spikepool.plots`` and ``spikepool.analytic`` are the names users write (``sp.plots.plot_shrinkage``); as
# modules they live in ``spikepool.viz`` and ``spikepool.stats``. Registering the short names lets the API pages
# carry them.
sys.modules.setdefault("spikepool.plots", spikepool.plots)
sys.modules.setdefault("spikepool.analytic", spikepool.analytic)

project = "spikepool"
author = "the spikepool developers"
release = spikepool.__version__
version = release

FAST = os.environ.get("SPIKEPOOL_DOCS_FAST", "0") == "1"

# The tutorials run in their own folder, so a relative SPIKEPOOL_DATA (the README's ``../shared/data``) is made
# absolute against the folder sphinx-build was started from.
if not os.path.isabs(os.environ.get("SPIKEPOOL_DATA", "/")):
    started = os.environ.get("PWD") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["SPIKEPOOL_DATA"] = os.path.normpath(os.path.join(started, os.environ["SPIKEPOOL_DATA"]))

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc", "myst_nb"]
if not FAST:
    extensions.append("sphinx.ext.intersphinx")
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "off" if FAST else "cache"
nb_execution_raise_on_error = True
nb_execution_timeout = 900
nb_output_stderr = "remove"  # PyMC's progress and sampler logs; each tutorial prints what it found
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py", "screenshots.py", "tutorials/README.md"]

nitpicky = True  # a reference to a name that has no page (a renamed function) is a warning, so an error
templates_path = ["_templates"]
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# Each project's inventory is fetched from its site; offline, an empty one stands in (no links, no warning).
OFFLINE = "_inventories/offline.inv"
intersphinx_mapping = {
    name: (url, (None, OFFLINE))
    for name, url in {
        "python": "https://docs.python.org/3",
        "numpy": "https://numpy.org/doc/stable",
        "xarray": "https://docs.xarray.dev/en/stable",
        "pymc": "https://www.pymc.io/projects/docs/en/stable",
        "arviz": "https://python.arviz.org/en/stable",
        "neo": "https://neo.readthedocs.io/en/latest",
    }.items()
}

html_theme = "pydata_sphinx_theme"
html_title = "spikepool"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2, "header_links_before_dropdown": 8}
html_static_path = ["_static"]
html_css_files = ["spikepool.css"]


def _skip_constants(app, what, name, obj, skip, options):
    """Leave a class's upper-case constants (``MODEL``, ``REMEDIES``, ...) off its page: they serve the code."""
    return True if what == "class" and name.isupper() else None


def _no_result_constructor(app, what, name, obj, options, signature, return_annotation):
    """Results are made by ``fit`` and ``load_result``, never by hand: their pages show no constructor fields."""
    if what == "class" and getattr(obj, "__module__", "").startswith("spikepool.results."):
        return "", None
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_constants)
    app.connect("autodoc-process-signature", _no_result_constructor)

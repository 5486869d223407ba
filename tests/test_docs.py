"""The documentation site builds with warnings as errors, and every public name has an API page.

The build here is the fast one (``SPIKEPOOL_DOCS_FAST=1``: offline, tutorials rendered without running them;
``tests/test_tutorials.py`` runs them), so a renamed function with a stale cross-reference, a docstring that
does not parse or a public name left out of ``docs/api.md`` fails the suite.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spikepool as sp

ROOT = Path(__file__).resolve().parents[1]


def public_pages() -> dict[str, str]:
    """Every public name (``spikepool.X``, and the functions of the modules it exports) -> its API page."""
    pages = {}
    for name in sp.__all__:
        value = getattr(sp, name)
        if name.startswith("__"):
            continue
        if inspect.ismodule(value):
            for member in getattr(value, "__all__", []):
                if callable(getattr(value, member)):
                    pages[f"spikepool.{name}.{member}"] = f"generated/spikepool.{name}.{member}.html"
        else:
            pages[f"spikepool.{name}"] = f"generated/spikepool.{name}.html"
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The fast build of a copy of ``docs/`` (autosummary writes its stubs into the source tree)."""
    work = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "docs", work / "docs", symlinks=True, ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copytree(ROOT / "tutorials", work / "tutorials")
    out = work / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(work / "doctrees")]
        + [str(work / "docs"), str(out)],
        env={**os.environ, "SPIKEPOOL_DOCS_FAST": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return out


def test_the_site_builds_without_warnings_and_renders_every_tutorial(site):
    tutorials = sorted(p.stem for p in (ROOT / "tutorials").glob("[0-9]*.py"))
    assert len(tutorials) == 11
    for stem in tutorials:
        page = (site / "tutorials" / f"{stem}.html").read_text()
        assert "Learning objectives" in page, stem
    assert "A first fit" in (site / "getting_started.html").read_text()
    for page in ("data", "checks", "models", "results", "variability", "sessions", "fast_path"):
        assert (site / "guide" / f"{page}.html").exists(), page
    for page in ("validation", "performance", "changelog"):
        assert (site / f"{page}.html").exists(), page
    choose = (site / "guide" / "models.html").read_text()
    for model in ("HierarchicalNegBinom", "HierarchicalGLM", "HierarchicalPSTH", "com_poisson", "laplace"):
        assert model in choose, model


def test_every_benchmark_command_on_the_validation_and_performance_pages_names_a_script():
    named = set()
    for page in ("validation.md", "performance.md"):
        named |= set(re.findall(r"benchmarks/([A-Za-z_]+\.py)", (ROOT / "docs" / page).read_text()))
    assert len(named) > 15
    missing = sorted(name for name in named if not (ROOT / "benchmarks" / name).exists())
    assert not missing, f"the docs name benchmark scripts that do not exist: {missing}"


def public_objects() -> dict:
    """Every public name (``spikepool.X``, and the callables of the modules it exports) -> the object."""
    names = {name: getattr(sp, name) for name in sp.__all__ if not name.startswith("__")}
    objects = {}
    for name, value in names.items():
        if inspect.ismodule(value):
            objects |= {f"{name}.{m}": getattr(value, m) for m in value.__all__ if callable(getattr(value, m))}
        else:
            objects[name] = value
    return objects


def test_public_functions_and_models_document_parameters_returns_and_raises():
    """numpydoc sections of the API reference: every public function names its parameters, what it returns and
    what it raises; every model class its options and the errors they raise."""
    missing = []
    for name, obj in public_objects().items():
        doc = inspect.getdoc(obj) or ""
        if isinstance(obj, type):
            needed = ("Parameters", "Raises") if issubclass(obj, sp.models.base.Model) else ()
        else:
            takes = bool(inspect.signature(obj).parameters)
            needed = ("Parameters", "Returns", "Raises") if takes else ("Returns",)
        missing += [f"{name}: {section}" for section in needed if not re.search(rf"{section}\n-+\n", doc)]
    assert not missing, f"public names without these numpydoc sections: {missing}"


def test_every_public_name_has_an_example_in_its_docstring():
    """numpydoc ``Examples`` with doctest lines (``--doctest-modules`` runs them)."""
    objects = public_objects()
    without = [
        name for name, obj in objects.items() if not re.search(r"Examples\n-+\n(.*\n)*?>>> ", inspect.getdoc(obj) or "")
    ]
    assert not without, f"public names whose docstring has no Examples section with >>> lines: {without}"


def test_every_public_name_has_an_api_page_with_its_docstring(site):
    pages = public_pages()
    assert len(pages) > 80
    missing = [name for name, page in pages.items() if not (site / page).exists()]
    assert not missing, f"public names without an API page (add them to docs/api.md): {missing}"
    glm = (site / pages["spikepool.GLMResult"]).read_text()
    for method in ("variance_partition", "noise_correlations", "gains", "predict"):
        assert f'id="spikepool.GLMResult.{method}"' in glm, method
    fit = (site / pages["spikepool.HierarchicalNegBinom"]).read_text()
    assert "Parameters" in fit and "dispersion" in fit

"""The house: folders follow the data flow, every import points down, no circles, no module over 500 lines.

The import graph is read from the source (``ast``), module-level and function-local imports alike, the way
``../shared/hooks/import-cycles`` reads it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spikepool"

#: Layers from the bottom up: a module may import its own layer and the layers below it, never one above.
LAYERS = (
    ("_version", "exceptions", "_validate"),
    ("io",),
    ("datasets",),
    ("counts",),
    ("stats",),
    ("checks",),
    ("results",),
    ("models",),
    ("viz",),
    ("workflows",),
    ("cli",),
)
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts).removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    """Index of ``module``'s layer; the package's face (``spikepool``) sits above everything."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)
    return next(i for i, names in enumerate(LAYERS) if parts[1] in names)


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, bool, int]]:
    """(imported spikepool module, inside a function?, line) for every import statement of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    local = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            target = _resolve(name) if name.startswith("spikepool") else None
            if target and target != module and not module.startswith(target + "."):
                out.append((target, id(node) in local, node.lineno))
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    edges = {m: {t for t, _, _ in GRAPH[m]} for m in MODULES}
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in MODULES:
        if v not in index:
            visit(v)
    return found


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        _layer(module)  # StopIteration names a folder missing from LAYERS


def test_no_import_circles():
    assert _cycles() == []


def test_imports_point_down_the_layers():
    upward = [f"{m}:{line} imports {t}" for m, edges in GRAPH.items() for t, _, line in edges if _layer(t) > _layer(m)]
    assert upward == []


def test_no_function_local_imports_of_spikepool():
    # third-party imports may stay local: the optional extras, and PyMC / PyTensor, which ``import spikepool``
    # must not load (fit_many sets each dask worker's PyTensor compile directory before PyTensor is imported)
    local = [f"{m}:{line} imports {t}" for m, edges in GRAPH.items() for t, is_local, line in edges if is_local]
    assert local == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


def test_the_checker_sees_a_circle_and_an_upward_import(monkeypatch):
    # the graph code itself: a planted circle and an upward edge are found
    monkeypatch.setitem(GRAPH, "spikepool.io.neo", [*GRAPH["spikepool.io.neo"], ("spikepool.models.negbin", False, 1)])
    assert any("spikepool.io.neo" in c and "spikepool.models.negbin" in c for c in _cycles())
    assert _layer("spikepool.models.negbin") > _layer("spikepool.io.neo")

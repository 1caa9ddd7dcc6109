"""No import cycles inside a Lib: read from the sources (ast), function-level imports included.

A cycle between two modules of one package works only as long as one side imports lazily or late,
and it hides which module is the foundation. Every ``import`` / ``from ... import`` in a Lib's
modules (at any depth: top level, functions, methods) that names a module of the same Lib is an
edge; a cycle in that graph fails the test, naming the modules in it. Importing ``a.b`` runs the
package ``a/__init__.py`` first, but that is Python's order, not a dependency of ``a.b`` on ``a``:
only the modules an import statement names count.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBS = {
    "ResponseSignatureLib": REPO / "ResponseSignature" / "ResponseSignatureLib",
    "LesionAggregateLib": REPO / "LesionAggregate" / "LesionAggregateLib",
    "NomogramScoreLib": REPO / "NomogramScore" / "NomogramScoreLib",
    "RadiomicsResponseWeb": REPO / "Web" / "RadiomicsResponseWeb",
}


def module_files(package: str, folder: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (``pkg.sub`` for __init__)."""
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_names(module: str, path: Path, is_package: bool, modules=()) -> set[str]:
    """Dotted names of the modules the file's import statements name (relative ones resolved).

    ``from X import Y`` names the module X.Y when that is one of ``modules``, else X (Y is then
    something X defines): ``from . import filters`` depends on ``filters``, not on ``__init__``.
    """
    here = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                names.add(sub if sub in modules else source)
    return names


def import_graph(package: str, folder: Path) -> dict[str, set[str]]:
    """Module -> modules of the same package it imports."""
    files = module_files(package, folder)
    return {module: {name for name in imported_names(module, path, path.name == "__init__.py", files)
                     if name in files and name != module}
            for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", sorted(LIBS))
def test_no_import_cycle_inside_a_lib(package):
    folder = LIBS[package]
    if not folder.is_dir():
        pytest.skip(f"{folder} not in this checkout")
    graph = import_graph(package, folder)
    assert len(graph) > 3, f"no modules found under {folder}"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    """The checker itself: a two-module cycle, a three-module cycle through a function-level import."""
    graph = {"p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": {"p.d"}, "p.d": {"p.e"}, "p.e": {"p.c"}, "p.f": {"p.a"}}
    assert cycles(graph) == [["p.a", "p.b"], ["p.c", "p.d", "p.e"]]
    source = "def f():\n    from .b import thing\n"
    assert imported_names("p.a", _write(source), is_package=False) == {"p.b"}
    assert imported_names("p.a", _write(source), is_package=False, modules={"p.b.thing"}) == {"p.b.thing"}


def _write(text: str) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "a.py"
    path.write_text(text, encoding="utf-8")
    return path

"""The package's shape, as DESIGN.md asks for it: no import cycles between modules (lazy
imports inside functions count too: a cycle is a cycle whenever it runs), and no private
name imported across modules (a name shared between modules is public).

Read from the source with `ast`, so the test sees every import, executed or not.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backprop_cli"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(modules: dict[str, Path]):
    """(importer, imported module, names) for every intra-package `from … import …`."""
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("backprop_cli"):
                target = node.module
            else:
                continue
            for alias in node.names:
                as_module = f"{target}.{alias.name}"
                if as_module in modules:
                    yield name, as_module, ()
                elif target in modules:
                    yield name, target, (alias.name,)


def test_no_import_cycles():
    modules = _modules()
    edges = defaultdict(set)
    for importer, imported, _ in _imports(modules):
        # a package's __init__ importing its own modules is how a package exposes them
        if importer != imported and not imported.startswith(importer + "."):
            edges[importer].add(imported)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = 0

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_no_private_names_across_modules():
    modules = _modules()
    private = sorted(
        f"{importer} imports {name} from {imported}"
        for importer, imported, names in _imports(modules)
        for name in names
        if name.startswith("_") and not name.startswith("__") and importer != imported
    )
    assert not private, "\n".join(private)

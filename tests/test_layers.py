"""The import graph of bot/: data flows one way, so modules import only from their own layer or below.

Layers, bottom to top (``LAYERS``). An import that points up a layer, or a
circle of imports anywhere, fails here with the modules named: a reader can
trust that ``bot/engine`` never reaches into ``bot/sources`` or that delivery
never evaluates rules. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

# Prefixes, lowest layer first; the longest matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    ("bot", "bot.__init__", "bot.errors", "bot.escape", "bot.diagnostics", "bot.yamlfile", "bot.yamlcache",
     "bot.validation", "bot.prose", "bot.dates", "bot.text", "bot.model", "bot.hierarchy", "bot.redact", "bot.logs"),
    ("bot.config", "bot.workspace"),
    ("bot.engine",),
    ("bot.sources",),
    ("bot.store", "bot.waivers", "bot.ffr"),
    ("bot.deliver",),
    ("bot.digest",),
    ("bot.runs",),
    ("bot.render",),
    ("bot.service",),
    ("bot.doctor", "bot.init"),
    ("bot.commands",),
    ("bot.cli", "bot.__main__"),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The bot modules ``name`` imports (a name imported from a package counts as its submodule if it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.startswith("bot") and target != name:
                out.add(target)
    return out


def layer_of(name: str) -> int:
    best, layer = -1, None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), index
    assert layer is not None, f"{name} belongs to no layer: add it to LAYERS in {__file__}"
    return layer


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_every_module_belongs_to_a_layer():
    for name in modules():
        layer_of(name)


def test_no_module_imports_from_a_layer_above_it():
    upward = sorted(f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
                    for name, targets in graph().items() for target in targets
                    # A package's __init__ may re-export its own modules.
                    if layer_of(target) > layer_of(name) and not target.startswith(name + "."))
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_there_is_no_import_circle():
    edges = {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_layer_test_can_fail(tmp_path, monkeypatch):
    """A module of the engine importing delivery is caught (the test is not vacuous)."""
    fake = {"bot.engine.x": tmp_path / "x.py", "bot.deliver.y": tmp_path / "y.py"}
    fake["bot.engine.x"].write_text("from bot.deliver.y import thing\n")
    fake["bot.deliver.y"].write_text("from bot.engine.x import other\n")
    targets = imports_of("bot.engine.x", fake["bot.engine.x"], fake)
    assert targets == {"bot.deliver.y"} and layer_of("bot.deliver.y") > layer_of("bot.engine.x")

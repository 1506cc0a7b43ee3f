"""The package's import structure: no circle among zoo's modules, no import from a lower layer to a
higher one (docs/architecture.md describes the layers).

Imports are read from the source (every ``import`` statement, function-local ones included), so the
test needs nothing importable. Those under ``if TYPE_CHECKING:`` never run, so they cannot close a
circle; they still may not point upwards. Importing ``zoo.a.b`` also runs
``zoo/a/__init__.py``, so that package face counts as imported too (the root ``zoo/__init__.py``, the
public facade that every import runs first, is the exception).
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "zoo"

# Bottom to top. A module may import modules of its own layer or of lower layers only.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "records",
        (
            "_errors.py",
            "_version.py",
            "_choices.py",
            "_spec.py",
            "_recipe.py",
            "_study.py",
            "_weights_entry.py",
            "_growths.py",
        ),
    ),
    ("utilities", ("_files.py", "_measure.py", "_device.py", "_memory.py", "_units.py", "_progress.py")),
    ("registry", ("hookspecs.py", "_plugin_manager.py", "_registry.py")),
    ("components", ("models/*", "layers/*", "data/*", "weights/*")),
    ("building", ("_builder.py", "_contract.py", "_pretrained_cfg.py", "checkpoint.py")),
    (
        "workflows",
        ("train/*", "evaluate.py", "bench.py", "studies/*", "hub/*", "growth.py", "convert/*", "campaign/*"),
    ),
    ("api", ("__init__.py",)),
    ("cli", ("cli/*", "__main__.py")),
    ("plugins", ("plugins/*",)),
)
# Function-local imports kept only so that `import zoo` stays light (torch, huggingface_hub, matplotlib
# and their users load on first use); none of them may point upwards either.


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _layer_of(module: str) -> int:
    path = MODULES[module].relative_to(PACKAGE).as_posix()
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"zoo/{path} is in no layer: add it to LAYERS in {Path(__file__).name}")


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(name: str, importer: str) -> list[str]:
    """The zoo modules that `importer` importing `name` runs: it, and the faces of its parent packages
    but the root's and the importer's own packages' (those have begun running before the importer)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    if not name.startswith("zoo"):
        return []
    parts = name.split(".")
    faces = [".".join(parts[:i]) for i in range(2, len(parts))]
    return [face for face in faces if not importer.startswith(face + ".")] + [name]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    guarded = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
            guarded.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return guarded


def imports_of(module: str, *, type_checking: bool = True) -> set[str]:
    """The zoo modules `module` imports (anywhere in its file; without `type_checking`, not those
    under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = set() if type_checking else _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.update(_targets(alias.name, module))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.update(_targets(submodule if submodule in MODULES else base, module))
    found.discard(module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}
RUNTIME_GRAPH = {module: imports_of(module, type_checking=False) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer_of(module)


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    upward = [
        f"{module} ({LAYERS[_layer_of(module)][0]}) imports {target} ({LAYERS[_layer_of(target)][0]})"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if _layer_of(target) > _layer_of(module)
    ]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(RUNTIME_GRAPH[node]):
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
                found.append(sorted(component))

    for module in sorted(RUNTIME_GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle():
    circles = _circles()
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_builtin_plugins_use_only_public_api():
    private = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.items())
        if module.startswith("zoo.plugins.")
        for target in sorted(targets)
        if any(part.startswith("_") for part in target.split(".")[1:])
    ]
    assert not private, "built-in plugins must use zoo's public API, as third-party ones do:\n" + "\n".join(
        private
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from zoo import _registry\n", {"zoo._registry"}),
        ("from ..hub import _push\n", {"zoo.hub", "zoo.hub._push"}),
        ("from .loop import evaluate\n", {"zoo.train.loop"}),  # its own package face is running already
        ("import zoo\n", {"zoo"}),
        ("def f():\n    from .. import checkpoint\n", {"zoo.checkpoint"}),
        ("if TYPE_CHECKING:\n    from ..evaluate import evaluate\n", {"zoo.evaluate"}),
    ],
)
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected, monkeypatch):
    # The checks above are only as good as this reader: relative, absolute, function-local imports.
    module = "zoo.train.engine"
    fake = tmp_path / "engine.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, module, fake)
    assert imports_of(module) == expected
    runtime = imports_of(module, type_checking=False)
    assert runtime == (set() if "TYPE_CHECKING" in source else expected)

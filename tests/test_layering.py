"""The package's layering, read from the source: the engine reaches no dialect or reporting module, the math no layer,
the optimizers no engine, and only backend.py imports CuPy (ruff's banned-import rule enforces the direct cases)."""

import ast
import functools
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "minidl"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


@functools.cache  # each file parsed once for all the rules
def imports(name: str) -> frozenset[str]:
    """Every minidl module ``name`` imports, at module level or inside functions (``from a import b`` names the
    module a.b when it is one, else a)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up level − 1 packages from this module's package
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return frozenset(m for m in out if m.split(".")[0] in ("minidl", "cupy", "cupyx"))


def reachable(start: str) -> set[str]:
    """The minidl modules ``start`` reaches through imports (a package's own __init__ counts only when imported by
    its own name)."""
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m in seen or m not in MODULES:
            continue
        seen.add(m)
        todo.extend(imports(m))
    return seen - {start}


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


RULES = [  # (room, rooms it must never reach, even indirectly)
    ("minidl.training", ("minidl.matlab", "minidl.wolfram", "minidl.reporting")),
    ("minidl.functional", ("minidl.layers", "minidl.network", "minidl.optim", "minidl.training", "minidl.matlab",
                           "minidl.wolfram", "minidl.reporting")),
    ("minidl.optim", ("minidl.training", "minidl.network", "minidl.layers", "minidl.matlab", "minidl.wolfram",
                      "minidl.reporting")),
    ("minidl.layers", ("minidl.training", "minidl.matlab", "minidl.wolfram", "minidl.reporting")),
]


@pytest.mark.parametrize("room, banned", RULES, ids=[r for r, _ in RULES])
def test_a_room_never_reaches_the_rooms_above_it(room, banned):
    bad = []
    for m in MODULES:
        if in_room(m, room):
            bad += [f"{m} -> {r}" for r in sorted(reachable(m)) if any(in_room(r, b) for b in banned)]
    assert not bad, "\n".join(bad)


def cupy_imports(name: str) -> bool:
    """Whether a module imports CuPy: an import statement, or ``import_module("cupy...")``."""
    if any(i.split(".")[0] in ("cupy", "cupyx") for i in imports(name)):
        return True
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in ("cupy", "cupyx"):
                return True
    return False


def test_only_backend_imports_cupy():
    assert sorted(m for m in MODULES if cupy_imports(m)) == ["minidl.backend"]


def test_the_walker_sees_imports_inside_functions_and_relative_ones():
    assert "minidl.reporting.figure" in imports("minidl.wolfram.train")        # imported inside a function
    assert "minidl.training.events" in imports("minidl.training.observers")
    assert any(in_room(m, "minidl.matlab") for m in reachable("minidl.matlab.train"))
    assert not any(in_room(m, "minidl.wolfram") for m in reachable("minidl.training.trainer"))

"""The package's layout rules, read from the source with ``ast`` (nothing is imported).

* The sans-I/O core (``_core``, ``_dialects``) does no I/O and reads no clock:
  times and bytes come in as arguments, so every rule there is testable alone.
* The simulator depends on the library only through the wire's models,
  events and codec: a misreading of the contract cannot hide by being shared
  with the client it tests.
* Modules and classes stay small enough to read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "fxsocket_async"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300

SANS_IO = ("_core", "_dialects")
SANS_IO_FORBIDDEN_MODULES = ("aiohttp", "anyio", "asyncio", "time")
SANS_IO_FORBIDDEN_PACKAGES = tuple(
    f"{PACKAGE}.{name}" for name in ("_rest", "_stream", "_clock", "_client")
)
CLOCK_READS = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)

SIMULATOR = f"{PACKAGE}.simulator"
SIMULATOR_MAY_IMPORT = frozenset(
    f"{PACKAGE}._core.{name}" for name in ("models", "events", "codec")
)

# Known offenders of the size rules (none today). An entry that no longer
# offends fails test_size_allow_list_is_not_stale.
MODULE_LINES_ALLOWED: set[str] = set()
CLASS_LINES_ALLOWED: set[str] = set()


# ------------------------------------------------------------------ reading


def modules(*parts: str) -> Iterator[Path]:
    yield from sorted(ROOT.joinpath(*parts).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(path: Path, tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, names taken from it) for every import, relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module, [alias.name for alias in node.names]


def aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (``dt`` -> ``datetime.datetime``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    """The imported dotted name an expression such as ``datetime.now`` refers to."""
    attributes: list[str] = []
    while isinstance(node, ast.Attribute):
        attributes.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(attributes)])


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def report(offenders: list[str]) -> str:
    return "\n  " + "\n  ".join(sorted(offenders))


# -------------------------------------------------------------------- rules


def test_sans_io_core_imports_no_io() -> None:
    offenders = []
    for path in (p for part in SANS_IO for p in modules(part)):
        for line, module, _ in imported(path, parse(path)):
            if any(within(module, name) for name in SANS_IO_FORBIDDEN_MODULES):
                offenders.append(f"{relative(path)}:{line} imports {module}")
            elif any(within(module, name) for name in SANS_IO_FORBIDDEN_PACKAGES):
                offenders.append(f"{relative(path)}:{line} imports {module} (the I/O wing)")
    assert not offenders, "the sans-I/O core must not import I/O:" + report(offenders)


def test_sans_io_core_reads_no_clock() -> None:
    offenders = []
    for path in (p for part in SANS_IO for p in modules(part)):
        tree = parse(path)
        names = aliases(tree)
        for node in ast.walk(tree):
            # References count too: passing datetime.now along reads the clock later.
            if not isinstance(node, ast.Attribute):
                continue
            name = dotted(node, names)
            if name is not None and (name in CLOCK_READS or within(name, "time")):
                offenders.append(f"{relative(path)}:{node.lineno} uses {name}")
    assert not offenders, "the sans-I/O core must take times as arguments:" + report(offenders)


def test_simulator_imports_only_the_wire_from_the_library() -> None:
    offenders = []
    for path in modules("simulator"):
        for line, module, names in imported(path, parse(path)):
            if not within(module, PACKAGE) or within(module, SIMULATOR):
                continue
            if module in SIMULATOR_MAY_IMPORT:
                continue
            # ``from fxsocket_async._core import models`` names the module itself.
            refused = [
                name
                for name in names
                if f"{module}.{name}" not in SIMULATOR_MAY_IMPORT
                and not within(f"{module}.{name}", SIMULATOR)
            ]
            if not names:
                offenders.append(f"{relative(path)}:{line} imports {module}")
            elif refused:
                offenders.append(
                    f"{relative(path)}:{line} imports {', '.join(refused)} from {module}"
                )
    allowed = ", ".join(sorted(SIMULATOR_MAY_IMPORT))
    assert not offenders, f"the simulator may import only {allowed}:" + report(offenders)


def module_lengths() -> dict[str, int]:
    return {
        relative(path): len(path.read_text(encoding="utf-8").splitlines()) for path in modules()
    }


def class_lengths() -> dict[str, int]:
    lengths = {}
    for path in modules():
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                lengths[f"{relative(path)}::{node.name}"] = node.end_lineno - node.lineno
    return lengths


def test_no_module_is_over_the_line_limit() -> None:
    offenders = [
        f"{name}: {lines} lines"
        for name, lines in module_lengths().items()
        if lines > MAX_MODULE_LINES and name not in MODULE_LINES_ALLOWED
    ]
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines:" + report(offenders)


def test_no_class_is_over_the_line_limit() -> None:
    offenders = [
        f"{name}: {lines} lines"
        for name, lines in class_lengths().items()
        if lines > MAX_CLASS_LINES and name not in CLASS_LINES_ALLOWED
    ]
    assert not offenders, f"classes over {MAX_CLASS_LINES} lines:" + report(offenders)


def test_size_allow_list_is_not_stale() -> None:
    modules_now = module_lengths()
    classes_now = class_lengths()
    stale = [
        name
        for name in sorted(MODULE_LINES_ALLOWED)
        if modules_now.get(name, 0) <= MAX_MODULE_LINES
    ] + [
        name for name in sorted(CLASS_LINES_ALLOWED) if classes_now.get(name, 0) <= MAX_CLASS_LINES
    ]
    assert not stale, "within the limits now, remove from the allow-list:" + report(stale)

"""The folders are layers: every import of `bot` points down, never up.

Imports inside `if TYPE_CHECKING:` are annotations only and do not count. A module
may import its own layer and any layer below it; `bot/trail/` and `bot/render/`
import nothing of the shell.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# Lowest first. A module's layer is its longest matching prefix.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bot", "bot.trail", "bot.ids", "bot.keys"),
    ("bot.render",),
    ("bot.store",),
    ("bot.handlers",),
    ("bot.config", "bot.logs", "bot.auth", "bot.github"),
    ("bot.workers",),
    ("bot.http",),
    ("bot.web", "bot.reporter"),
    ("bot.app",),
    ("bot.cli", "bot.__main__"),
)


def layer_of(module: str) -> int:
    best, rank = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    return rank


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for each `bot` import that runs when the module loads or is called."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "bot":
                found.extend((node.lineno, f"bot.{alias.name}") for alias in node.names)
            elif node.module.startswith("bot."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend(
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name == "bot" or alias.name.startswith("bot.")
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def wrong_way(module: str, source: str) -> list[str]:
    """Each import of `source` (the text of `module`) that points to a higher layer."""
    mine = layer_of(module)
    return [
        f"{module}:{line} imports {target}"
        for line, target in runtime_imports(source)
        if layer_of(target) > mine
    ]


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in BOT.rglob("*.py") if layer_of(module_name(p)) < 0]
    assert unplaced == []


def test_no_import_points_up() -> None:
    found = [
        problem
        for path in sorted(BOT.rglob("*.py"))
        for problem in wrong_way(module_name(path), path.read_text())
    ]
    assert found == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("bot.trail.state", "from bot.store.base import Store\n", 1),
        ("bot.render.summary", "from bot import keys, config\n", 1),
        ("bot.store.sqlite", "def f():\n    from bot.http import api\n", 1),
        ("bot.workers.outbox", "import bot.http.metrics\n", 1),
        ("bot.http.api", "from bot.workers import scan\nfrom bot.trail import money\n", 0),
        ("bot.trail.state", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
         "    from bot.store.base import Store\n", 0),
    ],
)
def test_the_check_sees_an_upward_import(module: str, source: str, expected: int) -> None:
    assert len(wrong_way(module, source)) == expected

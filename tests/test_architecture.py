"""The import rules of docs/architecture.md hold in the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "embkit"
DOC = ROOT / "docs" / "architecture.md"


def documented_rules() -> dict[str, set[str]]:
    """Subpackage -> subpackages it may import, read from the table in the doc."""
    rules = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if match:
            rules[match[1]] = set(re.findall(r"`(\w+)`", match[2]))
    return rules


def embkit_imports(path: Path) -> set[str]:
    """Subpackages of embkit that a module imports (at any depth, lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "embkit" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_subpackage_has_a_rule_and_a_docstring():
    rules = documented_rules()
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(rules), "docs/architecture.md and embkit/ list other subpackages"
    for name in subpackages:
        assert ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))


@pytest.mark.parametrize(
    "module",
    sorted(p for p in PACKAGE.glob("*/*.py")),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_module_follows_import_rules(module):
    rules = documented_rules()
    own = module.parent.name
    allowed = rules[own] | {own}
    broken = embkit_imports(module) - allowed
    assert not broken, f"{own}/{module.name} imports {sorted(broken)}; allowed: {sorted(allowed)}"


def test_rules_parser_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from embkit.cli.app import main\n")
    assert embkit_imports(bad) == {"cli"}


def test_type_checking_block_names_every_export():
    import embkit

    tree = ast.parse(Path(embkit.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If))
    seen = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == embkit._EXPORTS

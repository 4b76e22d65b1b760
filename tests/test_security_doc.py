"""docs/security.md names the test behind each requirement; every name must be a test in this suite."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_test_named_in_the_security_checklist_exists() -> None:
    references = _REFERENCE.findall(DOC.read_text(encoding="utf-8"))
    assert len(references) > 80, "the checklist names fewer tests than it should: is the format still `file::test`?"
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).is_file() or name not in _tests_in(ROOT / path)
    ]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"

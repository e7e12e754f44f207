"""The test tree's shape: its folders mirror the code, and tests share helpers only through
tests/support.

A test module imported by another is collected on its own and imported again under a second
name, and ties one suite to the inside of another; a helper kept in a test folder is found only
by whoever happens to look there. So outside tests/support a test folder holds only tests,
conftest.py (fixtures, where they apply) and __init__.py, and the one thing any module under
tests/ may import from the test tree is a helper module of tests/support.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from config.paths import ROOT

TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"
# tests/<name> for a code folder <name>: every folder below it mirrors a folder of the code.
MIRRORING = ("config", "infra", "pipeline", "ops", "policies", "services", "bench")
# Folders that are kinds of test, not code: the deployed site, the browser, the helpers.
FLAT = ("deployed", "e2e", "support")
TEST_FOLDER_FILES = ("conftest.py", "__init__.py")


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def _test_folders() -> list[Path]:
    """Every folder under tests/ that holds Python (fixtures and snapshots hold none)."""
    return sorted({path.parent for path in _modules()} - {TESTS})


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_file(name: str) -> Path | None:
    """The file the dotted ``name`` imports, when it is a module or package of the checkout."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``, wherever it sits (function-level too)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from tests.support import clock` imports the module tests.support.clock.
            submodules = (f"{module}.{alias.name}" for alias in node.names)
            named = {name if _module_file(name) else module for name in submodules}
            yield from ((node.lineno, name) for name in sorted(named))


def _what_is_wrong_with_importing(name: str) -> str | None:
    """Why no module may import ``name``, or None for a support helper or a non-test module."""
    if name != "tests" and not name.startswith("tests."):
        return None
    file = _module_file(name)
    if file is None:
        return "not a module of the test tree"
    if file.name.startswith("test_"):
        return "a test module"
    if file.name == "conftest.py":
        return "a conftest (fixtures are found by pytest, not imported)"
    if file.is_relative_to(SUPPORT):
        return None
    return "a helper outside tests/support"


def test_modules_under_tests_import_only_support_helpers_from_the_test_tree() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}: {reason}"
        for path in _modules()
        for line, name in _imported_modules(path)
        if (reason := _what_is_wrong_with_importing(name))
    ]
    assert not wrong, "\n".join(wrong)


def test_helpers_live_in_tests_support_and_test_folders_hold_tests() -> None:
    stray = [
        str(path.relative_to(ROOT))
        for path in _modules()
        if not path.is_relative_to(SUPPORT)
        and path.parent != TESTS
        and not path.name.startswith("test_")
        and path.name not in TEST_FOLDER_FILES
    ]
    assert not stray, "\n".join(stray)


def test_every_test_folder_mirrors_a_code_folder() -> None:
    """tests/<path> for a folder <path> of the code; deployed, e2e and support stay flat."""
    unmirrored = []
    for folder in _test_folders():
        relative = folder.relative_to(TESTS)
        top = relative.parts[0]
        mirrors = (top in MIRRORING and (ROOT / relative).is_dir()) or (
            top in FLAT and len(relative.parts) == 1
        )
        if not mirrors:
            unmirrored.append(str(folder.relative_to(ROOT)))
    assert not unmirrored, "\n".join(unmirrored)


def test_every_test_folder_is_a_package() -> None:
    """Without __init__.py pytest puts the folder itself on sys.path and names its modules by
    their file name alone: two folders' test_worker.py would clash, and a bare
    `import test_something` would reach another folder's tests."""
    loose = [
        str(folder.relative_to(ROOT))
        for folder in [TESTS, *_test_folders()]
        if not (folder / "__init__.py").is_file()
    ]
    assert not loose, "\n".join(loose)

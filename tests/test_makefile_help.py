"""`make help` reads like the Makefile: its sections in file order, each target under its heading.

The Makefile is the one entry point (the README, buildspecs/ and .github/workflows/ call its
targets), so its help is the index of every command. Its recipes call Python modules by name
(`$(PY) -m ...`), never inline code that no linter, type checker or test reads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from config.paths import ROOT

MAKEFILE = ROOT / "Makefile"
# A section heading, as written in the Makefile: `# ----- name`.
_SECTION = re.compile(r"^# -{3,} (\S.*)$")
# A target with a description: `name: prerequisites ## what it does` (not `NAME := value`).
_DOCUMENTED = re.compile(r"^([a-z][a-zA-Z0-9_-]*):(?!=)[^#]*## (.+)$")
_PHONY = re.compile(r"^\.PHONY:(.*)$")
_INLINE_PYTHON = re.compile(r"(?:python3?|\$\((?:PY|PYTHON)\))\s+(?:-\S+\s+)*-c\b")

Sections = list[tuple[str, list[tuple[str, str]]]]


def _makefile_lines() -> list[str]:
    return MAKEFILE.read_text(encoding="utf-8").splitlines()


def _sections_of_the_makefile() -> Sections:
    """Each heading in file order, with the documented targets defined after it."""
    sections: Sections = []
    for line in _makefile_lines():
        if heading := _SECTION.match(line):
            sections.append((heading.group(1).strip(), []))
        elif target := _DOCUMENTED.match(line):
            assert sections, f"{target.group(1)}: documented before the first section heading"
            sections[-1][1].append((target.group(1), target.group(2).strip()))
    return sections


def _make_help() -> str:
    # Not the caller's make flags (a parent make's -n or jobserver would change the output).
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _sections_of_the_help() -> Sections:
    """Unindented lines are headings; indented lines are `target  description` under the last."""
    sections: Sections = []
    for line in _make_help().splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            sections.append((line.strip(), []))
            continue
        assert sections, f"{line.strip()!r}: listed before any section heading"
        name, _, description = line.strip().partition(" ")
        sections[-1][1].append((name, description.strip()))
    return sections


def test_the_makefile_has_sections_and_each_has_a_documented_target() -> None:
    sections = _sections_of_the_makefile()
    assert len(sections) >= 5
    assert [name for name, targets in sections if not targets] == []


def test_make_help_prints_the_sections_in_file_order() -> None:
    expected = [name for name, _ in _sections_of_the_makefile()]
    assert [name for name, _ in _sections_of_the_help()] == expected


def test_make_help_lists_each_target_under_the_heading_it_is_defined_after() -> None:
    assert _sections_of_the_help() == _sections_of_the_makefile()


def test_make_help_lists_every_documented_target_once() -> None:
    documented = [
        match.group(1) for line in _makefile_lines() if (match := _DOCUMENTED.match(line))
    ]
    listed = [name for _, targets in _sections_of_the_help() for name, _ in targets]
    assert sorted(listed) == sorted(documented)
    assert len(set(listed)) == len(listed)


def test_every_phony_target_is_documented() -> None:
    phony = {
        name
        for line in _makefile_lines()
        if (match := _PHONY.match(line))
        for name in match.group(1).split()
    }
    documented = {
        match.group(1) for line in _makefile_lines() if (match := _DOCUMENTED.match(line))
    }
    assert phony, "the Makefile declares no .PHONY targets"
    assert sorted(phony - documented) == []


def test_no_recipe_runs_inline_python() -> None:
    inline = [
        f"Makefile:{number}: {line.strip()}"
        for number, line in enumerate(_makefile_lines(), start=1)
        if _INLINE_PYTHON.search(line)
    ]
    assert inline == []


def test_the_inline_python_pattern_catches_what_it_must() -> None:
    assert _INLINE_PYTHON.search("\t$(PY) -c 'import x'")
    assert _INLINE_PYTHON.search("\tpython3 -I -c 'import x'")
    assert _INLINE_PYTHON.search("\t$(PYTHON) -c pass")
    assert not _INLINE_PYTHON.search("\t$(PY) -m ops.review.plan $(OUT)")
    assert not _INLINE_PYTHON.search(".SHELLFLAGS := -eu -o pipefail -c")


# A recipe that runs a repository file as a script: Python then puts the script's folder, not
# the checkout, first on the import path, so `from config.paths import ROOT` fails there.
_SCRIPT_BY_PATH = re.compile(r"\$\((?:PY|PYTHON)\)\s+(?:-\S+\s+)*[\w./-]+\.py\b")


def test_every_python_recipe_runs_a_module_by_name() -> None:
    by_path = [
        f"Makefile:{number}: {line.strip()}"
        for number, line in enumerate(_makefile_lines(), start=1)
        if _SCRIPT_BY_PATH.search(line)
    ]
    assert by_path == []


def test_the_benchmarks_import_the_checkout_as_make_runs_them() -> None:
    for module in (
        "bench.synth",
        "bench.checks",
        "bench.api_load",
        "bench.worker_load",
        "bench.suite",
    ):
        completed = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ""},
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, (module, completed.stderr[-2000:])

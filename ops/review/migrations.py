"""Rollback-safe migrations: every new migration expands the schema, and the previous release
still works on it.

Blue/green, a stage rollback and a revert all run the *previous* code against the *new* schema
(migrations run forward at start-up and are never run back). So a release may only expand:
add tables, nullable columns, columns with a server default, indexes. Dropping or renaming a
column or table, or making a column NOT NULL without a default, is split over two releases:
the first stops using what goes away, the second (once nothing running reads it) removes it.

    python -m ops.review.migrations check --base origin/main   # make migration-check
    python -m ops.review.migrations list                       # every migration and its class

``check`` classifies each migration added or changed since BASE by reading its ``upgrade()``
and fails on a destructive one, saying how to split it. Then, if there is any new migration, it
runs BASE's own API and worker tests (BASE exported beside this tree) against PostgreSQL
migrated with *this* tree's migrations: the previous release's code on the new schema.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT
from ops.checkout import git
from ops.common import CommandError
from ops.review.ref_diff import export_ref, resolve_commit

VERSIONS = Path("services/common/todo_common/migrations/versions")
MIGRATIONS = VERSIONS.parent
# The previous release's suites that touch the database (the API's and the worker's).
COMPATIBILITY_TESTS = ("tests/services/api", "tests/services/worker")

Kind = Literal["expand", "destructive"]

_SPLIT = {
    "drop_table": "release 1 stops reading and writing the table; release 2 drops it",
    "drop_column": "release 1 stops reading and writing the column; release 2 drops it",
    "rename_table": "release 1 creates the new table and writes both; release 2 moves the "
    "readers; release 3 drops the old one",
    "rename_column": "release 1 adds the new column and writes both (backfilling it); release 2 "
    "reads the new one; release 3 drops the old one",
    "not_null": "release 1 adds the column nullable (or with a server default) and writes it; "
    "release 2 backfills and sets NOT NULL once every running version writes it",
    "change_type": "release 1 adds a column of the new type and writes both; release 2 reads "
    "the new one; release 3 drops the old one",
}
# Raw SQL in op.execute(...) that destroys or tightens what old code relies on.
_DESTRUCTIVE_SQL = (
    (re.compile(r"\bDROP\s+TABLE\b", re.I), "drop_table"),
    (re.compile(r"\bALTER\s+TABLE\s+\S+\s+DROP\b", re.I), "drop_column"),
    (re.compile(r"\bRENAME\s+TO\b", re.I), "rename_table"),
    (re.compile(r"\bRENAME\s+(COLUMN\s+)?\w+\s+TO\b", re.I), "rename_column"),
    (re.compile(r"\bSET\s+NOT\s+NULL\b", re.I), "not_null"),
    (re.compile(r"\bALTER\s+(COLUMN\s+)?\w+\s+(SET\s+DATA\s+)?TYPE\b", re.I), "change_type"),
)


@dataclass(frozen=True)
class Finding:
    operation: str  # a key of _SPLIT
    where: str  # "line 12: drop_column('todos', 'text')"

    def advice(self) -> str:
        return f"{self.where} is destructive; split it: {_SPLIT[self.operation]}"


@dataclass(frozen=True)
class Migration:
    path: Path
    revision: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def kind(self) -> Kind:
        return "destructive" if self.findings else "expand"


class MigrationError(CommandError):
    """A migration that cannot be read: fix the file."""

    exit_code = BAD_INPUT


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _absent(node: ast.expr | None) -> bool:
    """Not given, or given as None (``server_default=None`` is no default)."""
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _column_without_default(call: ast.Call) -> bool:
    """An ``sa.Column(...)`` argument that is NOT NULL and has no server default."""
    return any(
        isinstance(arg, ast.Call)
        and getattr(arg.func, "attr", getattr(arg.func, "id", "")) == "Column"
        and _is_false(_keyword(arg, "nullable"))
        and _absent(_keyword(arg, "server_default"))
        for arg in call.args
    )


def _adds_not_null(clause: str) -> bool:
    """``ADD [COLUMN] c type NOT NULL`` without a DEFAULT: rows the old code inserts fail."""
    return bool(
        re.search(r"\bADD\b", clause, re.I)
        and re.search(r"\bNOT\s+NULL\b", clause, re.I)
        and not re.search(r"\bDEFAULT\b", clause, re.I)
    )


def _findings_of(call: ast.Call, source: str, constants: dict[str, str]) -> Iterator[Finding]:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    where = f"line {call.lineno}: {ast.get_source_segment(source, call) or name}"
    where = where.split("\n", 1)[0]
    if name in {"drop_table", "drop_column", "rename_table"}:
        yield Finding(name, where)
    elif name == "alter_column":
        if _keyword(call, "new_column_name") is not None:
            yield Finding("rename_column", where)
        if _is_false(_keyword(call, "nullable")):
            yield Finding("not_null", where)
        if _keyword(call, "type_") is not None:
            yield Finding("change_type", where)
    elif name == "add_column" and _column_without_default(call):
        yield Finding("not_null", where)
    elif name == "execute":
        yield from _sql_findings(call, where, constants)


def _sql_findings(call: ast.Call, where: str, constants: dict[str, str]) -> Iterator[Finding]:
    """Raw SQL given to op.execute, literally or through a module-level constant."""
    sql = " ".join(
        [
            str(node.value)
            for node in ast.walk(call)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        + [constants.get(node.id, "") for node in ast.walk(call) if isinstance(node, ast.Name)]
    )
    for pattern, operation in _DESTRUCTIVE_SQL:
        if pattern.search(sql):
            yield Finding(operation, where)
    if any(_adds_not_null(clause) for clause in re.split(r"[,;]", sql)):
        yield Finding("not_null", where)


def classify(path: Path) -> Migration:
    """What ``path``'s ``upgrade()`` does to code that expects the schema before it."""
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise MigrationError(f"{path}: cannot read: {error.msg} (line {error.lineno})") from None
    revisions = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "revision" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not revisions or all(f.name != "upgrade" for f in functions):
        raise MigrationError(f"{path}: not an Alembic migration (no revision or no upgrade())")
    # Module-level SQL text that op.execute(NAME) may run.
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    # Every function but downgrade(): upgrade() may call helpers of its own.
    findings = [
        finding
        for function in functions
        if function.name != "downgrade"
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        for finding in _findings_of(node, source, constants)
    ]
    return Migration(path=path, revision=str(revisions[0]), findings=findings)


def _is_migration(path: Path) -> bool:
    """Every module Alembic loads from the versions folder, whatever its name."""
    return path.suffix == ".py" and path.name != "__init__.py"


def all_migrations(root: Path = ROOT) -> list[Migration]:
    return [classify(path) for path in sorted((root / VERSIONS).iterdir()) if _is_migration(path)]


def new_migrations(base: str, root: Path = ROOT) -> list[Migration]:
    """The migrations added or changed since ``base`` (a changed one is new to the database
    that ran the old text)."""
    commit = resolve_commit(root, base)
    listed = git(root, "diff", "--name-only", "--diff-filter=AM", commit, "--", str(VERSIONS))
    if listed.returncode != 0:
        raise MigrationError(f"git diff against {base} failed: {listed.stderr.strip()}")
    paths = [root / line for line in listed.stdout.split()]
    return [classify(path) for path in paths if _is_migration(path) and path.exists()]


def run_previous_release(
    base: str, *, root: Path = ROOT, tests: Sequence[str] = COMPATIBILITY_TESTS
) -> int:
    """BASE's own service tests on PostgreSQL migrated with this tree's migrations."""
    with tempfile.TemporaryDirectory(prefix="migration-check-") as scratch:
        previous = export_ref(root, base, Path(scratch) / "base")
        shutil.rmtree(previous / MIGRATIONS)
        shutil.copytree(root / MIGRATIONS, previous / MIGRATIONS)
        # Its own conftest puts its own services on the path; PostgreSQL is required, not
        # skipped when absent (SQLite would prove nothing about the production schema).
        environment = {**os.environ, "REQUIRE_POSTGRES": "1"}
        completed = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            # Only their PostgreSQL cases: the schema that matters is production's.
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-m",
                "postgres",
                *tests,
            ],
            cwd=previous,
            env=environment,
            check=False,
        )
        return completed.returncode


def check(base: str, *, root: Path = ROOT, tests: Sequence[str] = COMPATIBILITY_TESTS) -> int:
    migrations = new_migrations(base, root)
    if not migrations:
        print(f"migration check: no migration added or changed since {base}")
        return SUCCESS
    for migration in migrations:
        print(f"migration {migration.revision} ({migration.path.name}): {migration.kind}")
    destructive = [m for m in migrations if m.findings]
    for migration in destructive:
        for finding in migration.findings:
            print(f"  {migration.path.name}, {finding.advice()}", file=sys.stderr)
    if destructive:
        print(
            "migration check: FAILED: the previous release still runs on this schema during "
            "blue/green, a stage rollback and a revert",
            file=sys.stderr,
        )
        return FAILURE
    print(f"migration check: running {base}'s service tests on the schema migrated to head")
    if run_previous_release(base, root=root, tests=tests) != SUCCESS:
        print(f"migration check: FAILED: {base}'s tests fail on the new schema", file=sys.stderr)
        return FAILURE
    print("migration check: passed")
    return SUCCESS


def render_list(migrations: Sequence[Migration]) -> str:
    lines = ["| migration | class |", "|---|---|"]
    lines += [f"| `{m.revision}` ({m.path.name}) | {m.kind} |" for m in migrations]
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="classify new migrations, run BASE on them")
    checking.add_argument("--base", required=True, help="the previous release's git ref")
    checking.add_argument("--tests", nargs="*", default=list(COMPATIBILITY_TESTS))
    commands.add_parser("list", help="every migration and its class")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print(render_list(all_migrations(root)))
            return SUCCESS
        return check(args.base, root=root, tests=args.tests)
    except CommandError as error:
        print(f"migration check: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""Migrations only expand: the previous release keeps working on the new schema.

Each fixture in fixtures/migrations/ is a migration 0005 on top of this tree's. The destructive
ones fail the check with the way to split them; the expansions pass the static reading, and
then the previous release's own tests run against PostgreSQL migrated with them: one passes,
and one that only looks like an expansion fails there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT
from ops.review.migrations import VERSIONS, all_migrations, check, classify, main, new_migrations
from tests.support.source_artifact import WEB_DIST, export_source

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "migrations"
IDENTITY = ["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "commit.gpgsign=false"]
# A suite of the previous release that writes todos: enough to meet a schema it cannot use.
PREVIOUS_TESTS = ["tests/services/api/test_api_todos.py"]

# It builds a repository from the checkout's files: it must pass on the Source artifact too.
pytestmark = pytest.mark.checkout


@pytest.mark.parametrize(
    ("fixture", "operations"),
    [
        ("expand_nullable_column.migration", []),
        ("expand_check_breaks_old_code.migration", []),
        ("drop_column.migration", ["drop_column"]),
        ("rename_column.migration", ["rename_column"]),
        ("not_null_without_default.migration", ["not_null"]),
        ("drop_table_in_sql.migration", ["drop_table"]),
    ],
)
def test_each_operation_is_classified(fixture: str, operations: list[str]) -> None:
    migration = classify(FIXTURES / fixture)
    assert migration.revision == "0005"
    assert [finding.operation for finding in migration.findings] == operations
    assert migration.kind == ("destructive" if operations else "expand")


MIGRATION = """revision = "0005"
down_revision = "0004"
{extra}

def upgrade() -> None:
    {body}


def downgrade() -> None:
    op.drop_table("everything")
"""


@pytest.mark.parametrize(
    ("body", "extra", "operations"),
    [
        ('op.execute("ALTER TABLE todos DROP text")', "", ["drop_column"]),
        ('op.execute("ALTER TABLE todos RENAME TO tasks")', "", ["rename_table"]),
        ('op.execute("ALTER TABLE todos ADD COLUMN owner text NOT NULL")', "", ["not_null"]),
        ('op.execute("ALTER TABLE todos ADD COLUMN n int NOT NULL DEFAULT 0")', "", []),
        ('op.execute("ALTER TABLE todos ALTER COLUMN text TYPE varchar(20)")', "", ["change_type"]),
        ("op.execute(SQL)", 'SQL = "DROP TABLE activity"', ["drop_table"]),
        (
            "_helper()",
            "def _helper() -> None:\n    op.drop_column('todos', 'text')",
            ["drop_column"],
        ),
        (
            'op.add_column("t", sa.Column("c", sa.Text(), nullable=False, server_default=None))',
            "",
            ["not_null"],
        ),
        ('op.alter_column("todos", "text", type_=sa.String(20))', "", ["change_type"]),
    ],
)
def test_destructive_sql_helpers_and_keywords_are_seen(
    tmp_path: Path, body: str, extra: str, operations: list[str]
) -> None:
    """What the fixtures do not show: raw SQL forms, a helper upgrade() calls, SQL held in a
    module constant, an explicit ``server_default=None``, a type change; never downgrade()."""
    path = tmp_path / "any_name.py"
    path.write_text(MIGRATION.format(body=body, extra=extra), encoding="utf-8")
    assert [finding.operation for finding in classify(path).findings] == operations


def test_a_migration_of_any_file_name_is_read(repository: Path) -> None:
    _add(repository, "drop_column.migration", name="0005_no_prefix.py")
    assert [m.path.name for m in new_migrations("base", repository)] == ["0005_no_prefix.py"]
    assert {m.path.name for m in all_migrations(repository)} >= {"0005_no_prefix.py"}


def test_the_shipped_migrations_all_expand() -> None:
    assert [(m.revision, m.kind) for m in all_migrations()] == [
        ("0001", "expand"),
        ("0002", "expand"),
        ("0003", "expand"),
        ("0004", "expand"),
    ]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """This checkout as commit "base" of a repository of its own."""
    repo = export_source(ROOT, tmp_path / "repo")
    shutil.copytree(ROOT / WEB_DIST, repo / WEB_DIST)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "base")
    _git(repo, "tag", "base")
    return repo


def _add(repo: Path, fixture: str, name: str = "r0005_fixture.py") -> None:
    shutil.copy(FIXTURES / fixture, repo / VERSIONS / name)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", fixture)


def test_no_new_migration_passes_without_running_anything(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check("base", root=repository) == SUCCESS
    assert "no migration added or changed since base" in capsys.readouterr().out


def test_a_destructive_migration_fails_with_how_to_split_it(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add(repository, "rename_column.migration")
    assert check("base", root=repository, tests=PREVIOUS_TESTS) == FAILURE
    err = capsys.readouterr().err
    assert "r0005_fixture.py, line 19: op.alter_column(" in err
    assert "is destructive; split it: release 1 adds the new column and writes both" in err
    assert "the previous release still runs on this schema" in err


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("expand_nullable_column.migration", SUCCESS),
        ("expand_check_breaks_old_code.migration", FAILURE),
    ],
)
def test_the_previous_release_runs_its_tests_on_the_migrated_schema(
    repository: Path, fixture: str, outcome: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _add(repository, fixture)
    assert check("base", root=repository, tests=PREVIOUS_TESTS) == outcome
    out = capsys.readouterr()
    assert "migration 0005 (r0005_fixture.py): expand" in out.out
    if outcome == FAILURE:
        assert "base's tests fail on the new schema" in out.err


def test_an_unreadable_migration_or_ref_is_one_clear_error(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / VERSIONS / "r0005_broken.py").write_text("def upgrade(:\n", encoding="utf-8")
    _git(repository, "add", "--all")
    _git(repository, "commit", "--quiet", "-m", "broken")
    assert check_cli(repository, "base") == BAD_INPUT
    err = capsys.readouterr().err
    assert "r0005_broken.py: cannot read" in err and "Traceback" not in err
    assert check_cli(repository, "no-such-ref") == BAD_INPUT
    assert "git ref 'no-such-ref' is not in this clone" in capsys.readouterr().err


def check_cli(repo: Path, base: str) -> int:
    return main(["check", "--base", base], root=repo)

"""The migrated, empty databases the service tests run on: the embedded SQLite file or the real
PostgreSQL (tests/services/conftest.py holds the fixtures that migrate them once per worker)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from todo_api.settings import ApiSettings
from todo_common.database import SQLITE_FILE, create_db_engine

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") in {"1", "true", "yes"}


@dataclass
class Database:
    """A migrated, empty database and the settings that reach it."""

    kind: str
    settings: ApiSettings
    engine: Engine

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM todos")).scalar_one())


def postgres_settings(schema: str, **overrides: object) -> ApiSettings:
    return ApiSettings.model_validate(
        {"database_url": POSTGRES_URL, "database_schema": schema, **overrides}
    )


def make_database(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, **overrides: object
) -> Database:
    """A ``kind`` database for one test, from the session fixtures of tests/services/conftest.py
    (``sqlite_template``, ``postgres_schema``)."""
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / SQLITE_FILE)
        settings = ApiSettings.model_validate({"data_dir": tmp_path, **overrides})
        return Database(kind, settings, create_db_engine(settings))
    schema: str = request.getfixturevalue("postgres_schema")
    settings = postgres_settings(schema, **overrides)
    engine = create_db_engine(settings)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE todos, outbox, activity"))
    return Database(kind, settings, engine)

"""Apply the Alembic migrations: ``python -m todo_common.migrate``.

Services call :func:`upgrade` at start-up (``DATABASE_MIGRATE=true``, the
default). On PostgreSQL an advisory lock serializes concurrent starts, so
several tasks rolling out at once migrate exactly once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from todo_common.database import WRITE_OPTION, DatabaseConfigError, create_db_engine
from todo_common.logs import configure_logging
from todo_common.settings import CommonSettings, SettingsError, load_settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key: "todo" in ASCII, any constant shared by all services.
LOCK_KEY = 0x746F646F


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        command.upgrade(alembic_config(conn), revision)
    log.info("database schema at %s", revision, extra={"revision": head_revision()})


def start_database(settings: CommonSettings) -> Engine | None:
    """A service's database at start-up: the engine, migrated when DATABASE_MIGRATE is on.

    None (with the reason logged) when it cannot be configured, reached or migrated: the
    service then exits 1 instead of serving without its database.
    """
    try:
        engine = create_db_engine(settings)
        if settings.database_migrate:
            upgrade(engine)
    except (DatabaseConfigError, SQLAlchemyError, BotoCoreError, ClientError) as error:
        log.error("cannot start: database: %s", error)
        return None
    return engine


def main() -> int:
    try:
        settings = load_settings(CommonSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.service_name)
    engine = create_db_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

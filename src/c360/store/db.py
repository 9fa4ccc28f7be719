"""Opening the store: SQLite (WAL) by default, PostgreSQL in production; migrated on open."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from c360.core.errors import StoreError, StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(spec_dir: Path) -> str:
    """``C360_STORE_URL`` if set, else ``<spec dir>/.c360/store.db``."""
    env = os.environ.get("C360_STORE_URL")
    if env:
        return env
    path = spec_dir / ".c360" / "store.db"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def private_file(url: str) -> None:
    """Create a SQLite store's file readable by its owner only (0600), as the keys are.

    The store holds customers' records and the audit; SQLite makes its ``-wal`` and ``-shm``
    files with the database file's permissions. An existing file is left as its operator set it.
    """
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        private_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten, not left in free pages (erasure must leave no residue).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Explicit BEGIN: pysqlite otherwise defers it and breaks transactional DDL and savepoints.
            conn.exec_driver_sql("BEGIN")

        # pysqlite's own transaction handling must be off for BEGIN IMMEDIATE to work.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # bad URL or missing driver
        raise StoreError(f"cannot open store {redact(url)}: {exc}") from exc
    where = redact(url)

    @event.listens_for(engine, "handle_error")
    def _unavailable(ctx: Any) -> StoreUnavailable | None:
        # A server that cannot be reached (refused, dropped, timed out) is not a query's answer:
        # it is raised as StoreUnavailable, which no reader may take for "none found".
        if ctx.is_disconnect or (ctx.connection is None and isinstance(ctx.sqlalchemy_exception, OperationalError)):
            first = str(ctx.original_exception).strip().splitlines()
            return StoreUnavailable(f"the store {where} did not answer: {first[0] if first else 'no reason given'}")
        return None

    return engine


def redact(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<store url>"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the newest revision."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def needs_migration(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return bool(current != head)

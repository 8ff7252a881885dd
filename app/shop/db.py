"""Engine construction (URL or Secrets Manager credentials), migrations, readiness and startup waits."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path
from typing import Any, Literal

import psycopg
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shop.observability import log_event
from shop.secrets import Secrets
from shop.settings import Settings

log = logging.getLogger("shop.db")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_AUTH_FAILED_SQLSTATES = {"28P01", "28000"}


# Alembic is imported where it is used: it costs about a second of start-up that serve does not need.
def alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@functools.cache
def _scripts() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def head_revisions() -> frozenset[str]:
    return frozenset(_scripts().get_heads())


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


SchemaState = Literal["current", "ahead", "behind"]


def schema_state(revisions: frozenset[str]) -> SchemaState:
    """Where a database's `alembic_version` stands against this image's migrations.

    A revision this image does not know was written by a newer release: its schema still works for this image
    (migrations expand first and contract a release later, see README), so a rollout's old pods and a rollback
    keep serving. A database behind this image (or never migrated) is not ready for it.
    """
    if revisions == head_revisions():
        return "current"
    return "ahead" if revisions - known_revisions() else "behind"


def create_engine(settings: Settings, secrets: Secrets) -> AsyncEngine:
    if settings.database_url and settings.database_url.startswith("sqlite"):
        return _sqlite_engine(settings.database_url)
    pool: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        # No pre-ping round trip per checkout: on a disconnect error SQLAlchemy invalidates the whole pool,
        # so after an RDS failover only the requests in flight fail, and recycling bounds idle connections.
        "pool_recycle": 600,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    if settings.database_url:
        return create_async_engine(settings.database_url, connect_args=connection_limits(settings), **pool)
    return create_async_engine("postgresql+psycopg://", async_creator=_rds_connector(settings, secrets), **pool)


def connection_limits(settings: Settings) -> dict[str, Any]:
    """Bounded waits on every PostgreSQL session: connect, statements and locks (server-side, per session), an
    abandoned transaction, and TCP keepalives plus a user timeout, so a silent peer (a network partition) breaks
    the connection in about 30 s instead of whenever the kernel gives up (minutes). The request deadline
    (SHOP_REQUEST_TIMEOUT_SECONDS) bounds what a client waits in any case."""
    statement_ms = round(settings.db_statement_timeout_seconds * 1000)
    lock_ms = round(settings.db_lock_timeout_seconds * 1000)
    return {
        "connect_timeout": settings.db_connect_timeout_seconds,
        "options": (
            f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}"
            " -c idle_in_transaction_session_timeout=30000"
        ),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }


def _rds_connector(settings: Settings, secrets: Secrets) -> Any:
    """Connect with credentials from the RDS-managed secret; on an auth failure re-read it once (rotation)."""
    root_cert = str(settings.db_ssl_root_cert) if settings.db_ssl_root_cert else None
    sslmode = settings.db_sslmode or ("verify-full" if root_cert else "require")

    async def connect() -> psycopg.AsyncConnection[Any]:
        for attempt in (1, 2):
            creds = await asyncio.to_thread(secrets.db_credentials)
            try:
                return await psycopg.AsyncConnection.connect(
                    host=settings.db_host,
                    port=settings.db_port,
                    dbname=settings.db_name,
                    user=creds.username,
                    password=creds.password,
                    application_name="shop",
                    sslmode=sslmode,
                    sslrootcert=root_cert,  # None is left out of the connection string
                    **connection_limits(settings),
                )
            except psycopg.OperationalError as exc:
                assert secrets.db is not None
                if attempt == 2 or not _is_auth_failure(exc) or not await secrets.db.arefresh():
                    raise
                log_event(log, "db_secret_refreshed", reason="authentication_failed")
        raise AssertionError("unreachable")

    return connect


def is_unavailable(exc: BaseException) -> bool:
    """The database did not answer (down, unreachable, too slow, a lock or pool wait ran out): a 503, not a 500.
    Errors about the request itself (constraints, data) stay what they are."""
    if isinstance(exc, (PoolTimeout, OperationalError, psycopg.OperationalError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _is_auth_failure(exc: psycopg.OperationalError) -> bool:
    return exc.sqlstate in _AUTH_FAILED_SQLSTATES or "password authentication failed" in str(exc)


def _sqlite_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions into our own hands: the driver's implicit BEGIN defers locking, so two
        # concurrent checkouts could both read and then fail to upgrade to a write lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions for single-statement reads: on PostgreSQL in autocommit, which saves the BEGIN and ROLLBACK
    round trips. SQLite keeps its own transaction handling (see _sqlite_engine)."""
    if engine.dialect.name == "sqlite":
        return sessionmaker(engine)
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


async def wait_for_database(engine: AsyncEngine, timeout: float) -> None:
    """Bounded retries with backoff while the database is not up yet (fresh cluster, failover)."""
    deadline = time.monotonic() + timeout
    delay, attempt = 0.5, 1
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except (OperationalError, DBAPIError, OSError) as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log_event(log, "db_unavailable", level=logging.ERROR, attempt=attempt, error=_one_line(exc))
                raise
            log_event(
                log,
                "db_unavailable",
                level=logging.WARNING,
                attempt=attempt,
                retry_in_s=round(min(delay, remaining), 2),
                error=_one_line(exc),
            )
            await asyncio.sleep(min(delay, remaining))
            delay, attempt = min(delay * 2, 5.0), attempt + 1


def _one_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade to this image's head; a database already ahead of it (a rollback) is left as it is."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    def upgrade(conn: Connection) -> frozenset[str]:
        revisions = frozenset(MigrationContext.configure(conn).get_current_heads())
        if schema_state(revisions) != "ahead":
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return revisions

    async with engine.begin() as conn:
        before = await conn.run_sync(upgrade)
    if schema_state(before) == "ahead":
        log_event(log, "migrate_skipped", level=logging.WARNING, **_versions(before))
    else:
        log_event(log, "migrated", revision=",".join(sorted(head_revisions())))


async def database_revisions(engine: AsyncEngine) -> frozenset[str]:
    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        except DBAPIError:
            return frozenset()  # no alembic_version table yet: never migrated
    return frozenset(rows)


def _versions(revisions: frozenset[str]) -> dict[str, str]:
    """Log fields: the database's revision and this image's, e.g. for a database ahead of the image."""
    return {"revision": ",".join(sorted(revisions)), "image_revision": ",".join(sorted(head_revisions()))}


def report_ahead(revisions: frozenset[str]) -> None:
    log_event(log, "schema_ahead", level=logging.WARNING, **_versions(revisions))

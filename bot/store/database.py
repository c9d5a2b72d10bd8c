"""The store's database: URL resolution, engine, transactions, dry runs, migrations, run locks, errors.

SQLAlchemy Core over SQLite (a file beside the config, zero set-up) or
PostgreSQL (by URL, for several replicas or shared state). Every public method
runs in one transaction (or joins the caller's ``transaction()``), so a failure
never leaves a half-written state. Database failures become one ``StoreError``
line with an exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event, exc, pool
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from bot.errors import EXIT_ERROR, EXIT_NETWORK, GovbotError
from bot.store.location import DEFAULT_FILENAME, store_url  # noqa: F401 - re-exported
from bot.store.schema import LATEST_VERSION, MIGRATIONS, metadata, schema_version


class StoreError(GovbotError):
    """The state store cannot be used (locked, full, unreachable, newer schema)."""

    exit_code = EXIT_NETWORK


class StoreConfigError(StoreError):
    """The store URL or path itself is wrong: the user must change config."""

    exit_code = EXIT_ERROR


class StoreBusy(StoreError):
    """Another run holds a run lock (``Database.run_lock``): try again once it is done."""


BUSY_TIMEOUT_SECONDS = 30.0


def sqlite_path(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


# -- error translation ------------------------------------------------------------------

# PostgreSQL error codes (SQLSTATE) for a lock wait cut short by lock_timeout, and a statement
# stopped by statement_timeout.
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_QUERY_CANCELED = "57014"


def _sqlstate(error: Exception) -> str | None:
    return getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)


def _translate(error: Exception, where: str, *, busy_timeout: float | None = None,
               holder: str | None = None) -> StoreError:
    text = str(getattr(error, "orig", None) or error)
    lowered = text.lower()
    waited = f"waited {busy_timeout:g} s (store.busy_timeout_seconds)" if busy_timeout else ""
    if "database is locked" in lowered or "database table is locked" in lowered:
        return StoreError(f"store {where} is locked by another process",
                          hint="another govbot run is writing; retry shortly, or raise store.busy_timeout_seconds")
    if _sqlstate(error) == PG_LOCK_NOT_AVAILABLE or "canceling statement due to lock timeout" in lowered:
        who = f": held by {holder}" if holder else ""
        return StoreError(f"store {where} is locked by another session{who}",
                          hint=(waited + "; " if waited else "") + "wait for that session to finish (or end it), "
                               "or raise store.busy_timeout_seconds")
    if _sqlstate(error) == PG_QUERY_CANCELED and "statement timeout" in lowered:
        return StoreError(f"store {where}: a query ran past its time limit and was stopped; nothing was written",
                          hint="the database is overloaded or a table is locked; retry later, or raise "
                               "store.busy_timeout_seconds (the limit is twice that)")
    if "disk is full" in lowered or "database or disk is full" in lowered or "no space left" in lowered:
        return StoreError(f"store {where}: the disk is full; nothing was written",
                          hint="free some space and run again")
    if "readonly database" in lowered or "read-only" in lowered:
        return StoreError(f"store {where} is read-only; nothing was written",
                          hint="make the database file and its folder writable by govbot")
    if "unable to open database file" in lowered:
        return StoreConfigError(f"store {where}: cannot open the database file",
                                hint="check that the folder exists and is writable, or set store.url")
    if "file is not a database" in lowered or "malformed" in lowered:
        return StoreConfigError(f"store {where} is not a govbot database (or is corrupted)",
                                hint="point store.url at another file, or restore it from a backup")
    if "disk i/o error" in lowered:
        return StoreError(f"store {where}: disk I/O error; nothing was written")
    if isinstance(error, exc.OperationalError) or "connection" in lowered:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return StoreError(f"cannot use store {where}: {first}",
                          hint="check that the database server is running and store.url / "
                               "$GOVBOT_DATABASE_URL is right")
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return StoreError(f"store {where}: {first}")


def _guarded(method):
    """Run a public Store method turning database failures into one StoreError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except (exc.SQLAlchemyError, OSError) as error:
            raise self._error(error) from None

    return wrapper


# -- the database ----------------------------------------------------------------------------

class Database:
    """The connection to one store: engine, transactions, dry runs, migrations and run locks."""

    """One database holding govbot's state; migrated on open."""

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS, migrate: bool = True,
                 display: str | None = None, copy_of: Path | None = None):
        """``copy_of``: an SQLite file read into this (in-memory) store when it opens; the file is never written."""
        self.url = url
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise StoreConfigError(f"store.url {url!r} is not a database URL",
                                   hint="use a file path, sqlite:///path/govbot.db or "
                                        "postgresql+psycopg://user@host/db") from None
        self.display = display or parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreConfigError(f"store.url: {self.dialect!r} databases are not supported",
                                   hint="use SQLite (a file path) or PostgreSQL (postgresql+psycopg://...)")
        self._local = threading.local()
        self.dry_run = False  # set by ``for_dry_run``: every write then happens inside ``preview``
        self.busy_timeout = busy_timeout
        self.lock_holders: dict[str, str | None] = {}  # lock name -> who held it when try_lock failed
        self.engine = self._create_engine(parsed, busy_timeout, copy_of)
        if migrate:
            self.migrate()

    # -- engine and transactions -------------------------------------------------------------
    def _create_engine(self, parsed, busy_timeout: float, copy_of: Path | None = None) -> Engine:
        try:
            if copy_of is not None:
                copy = _memory_copy(copy_of, busy_timeout)
                engine = sa.create_engine("sqlite://", creator=lambda: copy, poolclass=pool.StaticPool)
                _sqlite_transactions(engine, busy_timeout)
            elif self.dialect == "sqlite":
                path = sqlite_path(self.url)
                if path is not None and not path.parent.exists():
                    raise StoreConfigError(f"store {self.display}: folder {path.parent} does not exist",
                                           hint="create it, or set store.url to a path in an existing folder")
                if path is not None:
                    _create_private(path)
                engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
                _sqlite_transactions(engine, busy_timeout)
            else:
                # The same patience as SQLite's busy timeout: a lock another session holds
                # (a row, a table, the migration lock) is waited for that long, then one
                # clear error; no statement runs for more than twice that.
                wait_ms = max(1, int(busy_timeout * 1000))
                engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args={
                    "connect_timeout": int(max(1, busy_timeout)), "application_name": "govbot",
                    "options": f"-c lock_timeout={wait_ms} -c statement_timeout={2 * wait_ms}"})
        except StoreError:
            raise
        except ImportError as error:
            # The URL names a driver that is not installed: psycopg comes with an extra, others not.
            missing = getattr(error, "name", None) or ""
            hint = ("pip install 'govbot[postgres]'" if missing.startswith("psycopg") else
                    f"install the {missing or 'driver'} module, or use a postgresql+psycopg:// URL with "
                    f"pip install 'govbot[postgres]'")
            raise StoreConfigError(f"store {self.display}: the database driver is not installed ({error})",
                                   hint=hint) from None
        except (exc.ArgumentError, exc.NoSuchModuleError) as error:
            raise StoreConfigError(f"store {self.display}: {error}",
                                   hint="PostgreSQL URLs look like "
                                        "postgresql+psycopg://user@host:5432/govbot") from None
        except (sqlite3.Error, OSError) as error:
            raise _translate(error, self.display) from None
        return engine

    @classmethod
    def for_dry_run(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> "Database":
        """A store for a dry run: it reads the state at ``url`` but never writes to it.

        Dry runs record their plan and roll it back (``preview``), and a store is
        migrated when it opens; neither may touch the real database. An SQLite
        file is read into memory (and migrated there, if it is older); a database
        that does not exist yet is not created. A PostgreSQL database is used as
        it is when its schema is current (every dry-run write happens inside
        ``preview``, which rolls back); with no govbot tables yet the dry run uses
        an empty in-memory store; an older schema is a clear error, never migrated.
        """
        store = cls._dry_run_store(url, busy_timeout)
        store.dry_run = True
        return store

    @classmethod
    def _dry_run_store(cls, url: str, busy_timeout: float) -> "Database":
        path = sqlite_path(url)
        if path is not None:
            if not path.exists():
                return cls("sqlite://", busy_timeout=busy_timeout,
                           display=f"{path} (not created yet; dry run uses memory)")
            return cls("sqlite://", busy_timeout=busy_timeout, copy_of=path,
                       display=f"{path} (read into memory for this dry run; not written)")
        store = cls(url, busy_timeout=busy_timeout, migrate=False)
        try:
            version = store.stored_version()
        except BaseException:
            store.close()
            raise
        if version == LATEST_VERSION:
            return store
        store.close()
        if version is None:
            return cls("sqlite://", busy_timeout=busy_timeout,
                       display=f"{store.display} (no govbot tables yet; dry run uses memory)")
        if version > LATEST_VERSION:
            raise StoreError(f"store {store.display} has schema version {version}, newer than this govbot "
                             f"understands ({LATEST_VERSION})",
                             hint="upgrade govbot, or point store.url at another database")
        raise StoreError(f"store {store.display} has schema version {version}, older than this govbot's "
                         f"({LATEST_VERSION}); a dry run does not upgrade it",
                         hint="run once with --apply (or start `govbot serve`) to upgrade the store, then "
                              "try the dry run again")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for everything inside; nested calls join it."""
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        try:
            with self.engine.begin() as connection:
                self._local.connection = connection
                try:
                    yield connection
                finally:
                    self._local.connection = None
        except StoreError:
            raise
        except (exc.SQLAlchemyError, OSError) as error:
            raise self._error(error) from None

    @contextlib.contextmanager
    def preview(self) -> Iterator[Connection]:
        """Like ``transaction`` but always rolled back: dry runs see their own writes, then forget them."""
        if getattr(self._local, "connection", None) is not None:
            raise RuntimeError("preview() cannot be nested in a transaction")
        try:
            with self.engine.connect() as connection:
                transaction = connection.begin()
                self._local.connection = connection
                try:
                    yield connection
                finally:
                    self._local.connection = None
                    transaction.rollback()
        except StoreError:
            raise
        except (exc.SQLAlchemyError, OSError) as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> StoreError:
        """One StoreError for a database failure; a PostgreSQL lock timeout names the session holding the lock."""
        holder = None
        if self.dialect == "postgresql" and (_sqlstate(error) == PG_LOCK_NOT_AVAILABLE
                                             or "lock timeout" in str(error).lower()):
            holder = self._lock_holder()
        return _translate(error, self.display, busy_timeout=getattr(self, "busy_timeout", None), holder=holder)

    def _lock_holder(self, advisory_key: int | None = None) -> str | None:
        """Who holds a lock on govbot's tables (or the advisory lock ``advisory_key``), as PostgreSQL tells it."""
        if advisory_key is None:
            condition = ("(l.locktype = 'relation' AND l.relation IN "
                         "(SELECT c.oid FROM pg_class c WHERE c.relname = ANY(:tables))) "
                         "OR l.locktype = 'advisory'")
            params: dict[str, Any] = {"tables": sorted(metadata.tables) + ["schema_version"]}
        else:
            unsigned = advisory_key & 0xFFFFFFFFFFFFFFFF
            condition = "l.locktype = 'advisory' AND l.classid::bigint = :high AND l.objid::bigint = :low"
            params = {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}
        query = sa.text(
            "SELECT a.pid, a.usename, a.application_name, host(a.client_addr) AS client, a.xact_start, a.state, "
            "bool_or(l.mode <> 'AccessShareLock') AS strong "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.granted AND l.pid <> pg_backend_pid() AND a.datname = current_database() "
            f"AND ({condition}) "
            "GROUP BY a.pid, a.usename, a.application_name, a.client_addr, a.xact_start, a.state "
            "ORDER BY strong DESC, a.xact_start NULLS LAST LIMIT 1")
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SET LOCAL statement_timeout = 2000"))
                row = connection.execute(query, params).first()
                connection.rollback()
        except (exc.SQLAlchemyError, OSError):
            return None  # the explanation is a courtesy: the lock error itself still stands
        return _describe_session(row) if row is not None else None

    def writing(self, *, rollback: bool = False) -> contextlib.AbstractContextManager[Connection]:
        """The transaction a run writes in: committed, or rolled back for a dry run (``rollback``,
        or a store made by ``for_dry_run``)."""
        if (self.dry_run or rollback) and getattr(self._local, "connection", None) is None:
            return self.preview()
        return self.transaction()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- migrations ------------------------------------------------------------------------------
    @_guarded
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version now in place."""
        with self.transaction() as connection:
            self._lock_for_migration(connection)
            schema_version.create(connection, checkfirst=True)
            applied = {row.version for row in connection.execute(sa.select(schema_version.c.version))}
            newest = max(applied, default=0)
            if newest > LATEST_VERSION:
                raise StoreError(f"store {self.display} has schema version {newest}, newer than this govbot "
                                 f"understands ({LATEST_VERSION})",
                                 hint="upgrade govbot, or point store.url at another database")
            for version, name, function in MIGRATIONS:
                if version in applied:
                    continue
                function(connection)
                connection.execute(schema_version.insert().values(
                    version=version, name=name, applied_at=datetime.now(timezone.utc)))
            return LATEST_VERSION

    def _lock_for_migration(self, connection: Connection) -> None:
        # Two replicas starting together must not both create tables.
        if self.dialect == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key("migrate")})
        # SQLite: BEGIN IMMEDIATE already holds the write lock.

    @_guarded
    def schema_version(self) -> int:
        with self.transaction() as connection:
            return connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    @_guarded
    def stored_version(self) -> int | None:
        """The schema version in place, read without writing: None when the database has no govbot tables."""
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("schema_version"):
                return None
            version = connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            connection.rollback()
            return version

    # -- run locks ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def run_lock(self, name: str) -> Iterator[None]:
        """Only one run of ``name`` at a time. Released when the holder exits or dies."""
        with self.try_lock(name) as acquired:
            if not acquired:
                holder = self.lock_holders.get(name)
                raise StoreBusy(f"another govbot {name} run is in progress on {self.display}"
                                 + (f", held by {holder}" if holder else ""),
                                 hint="wait for it to finish; a crashed run releases the lock by itself")
            yield

    @contextlib.contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """Take the lock ``name`` if it is free; yields whether it was taken.

        PostgreSQL: a session advisory lock on a dedicated connection. SQLite: an
        flock on a file beside the database. Both vanish with a killed process,
        so a crash never leaves a stale lock behind.
        """
        if self.dialect == "postgresql":
            try:
                connection = self.engine.connect()
            except exc.SQLAlchemyError as error:
                raise self._error(error) from None
            try:
                got = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                              {"key": _lock_key(name)}).scalar())
                connection.commit()
                if not got:
                    self.lock_holders[name] = self._lock_holder(_lock_key(name))
                try:
                    yield got
                finally:
                    if got:
                        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(name)})
                        connection.commit()
            finally:
                connection.close()
            return
        path = sqlite_path(self.url)
        if path is None:  # in-memory: one process by definition
            yield True
            return
        import fcntl
        lock_path = path.with_name(path.name + f".{name}.lock")
        try:
            # 0600 like the database beside it (it names a process; nothing else needs to read it).
            handle = open(os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
        except OSError as error:
            raise StoreError(f"cannot create lock file {lock_path}: {error.strerror}") from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                written = handle.read(200).strip()
                self.lock_holders[name] = written if written.startswith("process ") else None
                yield False
                return
            try:
                # SQLite cannot say who holds a lock: the holder writes it down itself.
                handle.seek(0)
                handle.truncate()
                handle.write(f"process {os.getpid()} since "
                             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n")
                handle.flush()
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()


# -- helpers shared by the store's parts ----------------------------------------------------

def _lock_key(name: str) -> int:
    digest = hashlib.sha256(f"govbot:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _create_private(path: Path) -> None:
    """Create a new SQLite file 0600 (its journal and WAL files copy that mode): it maps email
    addresses to Slack ids and keeps message bodies. SQLite itself would honour the umask (0644)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing store keeps the mode its operator gave it


def _memory_copy(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """The SQLite database at ``path`` copied into memory, read through a read-only connection."""
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
        try:
            source.backup(copy)
        finally:
            source.close()
    except BaseException:
        copy.close()
        raise
    return copy


def _sqlite_transactions(engine: Engine, busy_timeout: float) -> None:
    """Real transactions on SQLite: DDL included, and the write lock taken up front.

    pysqlite's default mode commits DDL implicitly and starts transactions
    lazily; taking the lock at BEGIN (IMMEDIATE) means a busy database waits
    (up to the busy timeout) instead of failing half-way through a run.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _dialect_insert(dialect: str, table: sa.Table):
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _upsert(connection: Connection, dialect: str, table: sa.Table, values: dict, keys: list[str]) -> None:
    insert = _dialect_insert(dialect, table).values(**values)
    connection.execute(insert.on_conflict_do_update(
        index_elements=keys, set_={name: insert.excluded[name] for name in values if name not in keys}))


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _select_in(connection: Connection, table: sa.Table, column, values: list) -> list:
    rows = []
    for chunk in _chunks(values):
        rows.extend(connection.execute(sa.select(table).where(column.in_(chunk))).all())
    return rows


def _describe_session(row) -> str:
    """A PostgreSQL session in a few words: pid, user, application, where from, since when."""
    parts = [f"user {row.usename}" if row.usename else None,
             f"application {row.application_name}" if row.application_name else None,
             f"from {row.client}" if row.client else "over a local socket"]
    text = f"PostgreSQL session {row.pid} (" + ", ".join(part for part in parts if part) + ")"
    if row.xact_start is not None:
        started = row.xact_start.astimezone(timezone.utc) if row.xact_start.tzinfo else row.xact_start
        text += f", in a transaction since {started:%Y-%m-%d %H:%M:%S} UTC"
    if row.state == "idle in transaction":
        text += " and idle"
    return text

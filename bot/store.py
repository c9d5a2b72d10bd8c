"""State that outlives a run: findings lifecycle, outbox, waivers, runs, history.

SQLAlchemy Core over SQLite (a file beside the config, zero set-up) or
PostgreSQL (by URL, for several replicas or shared state). The schema is
versioned: ``MIGRATIONS`` is an ordered list applied automatically when a store
is opened, each in its own transaction, recorded in ``schema_version`` - except
by dry runs, which never write to the store (``Store.for_dry_run``).
We do not use Alembic: the schema is small, the bot must migrate itself at
start-up without a separate tool or config file, and a list of functions is
easy to read and test. Migration functions are frozen once released - change
the schema by appending a migration, never by editing an old one.

Every public method runs in one transaction (or joins the caller's
``transaction()``), so a failure never leaves a half-written state. Database
failures become one ``StoreError`` line with an exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import event, exc, pool
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from bot.errors import EXIT_ERROR, EXIT_NETWORK, GovbotError

DEFAULT_FILENAME = "govbot.db"
BUSY_TIMEOUT_SECONDS = 30.0


class StoreError(GovbotError):
    """The state store cannot be used (locked, full, unreachable, newer schema)."""

    exit_code = EXIT_NETWORK


class StoreConfigError(StoreError):
    """The store URL or path itself is wrong: the user must change config."""

    exit_code = EXIT_ERROR


# -- column types ---------------------------------------------------------------

class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store datetimes must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite in odd configurations
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# -- schema -----------------------------------------------------------------------

def _v1_tables(metadata: sa.MetaData) -> None:
    """The schema as created by migration 1. Frozen: add a migration to change it."""
    sa.Table(
        "findings", metadata,
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("issue", sa.String(100), nullable=False),
        sa.Column("team", sa.String(200)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False, default=""),
        sa.Column("message", sa.Text, nullable=False, default=""),
        sa.Column("summary", sa.Text, nullable=False, default=""),
        sa.Column("evidence", sa.Text, nullable=False, default=""),
        sa.Column("url", sa.Text),
        sa.Column("owner_id", sa.String(200)),
        sa.Column("owner", sa.JSON),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("reopened", sa.Integer, nullable=False, default=0),
        sa.Column("waived", sa.Boolean, nullable=False, default=False),
        sa.Column("waiver_reason", sa.Text),
        sa.Column("nudge_count", sa.Integer, nullable=False, default=0),
        sa.Column("last_nudged_at", UTCDateTime),
        sa.Column("escalated_at", UTCDateTime),
        sa.Index("ix_findings_issue", "issue"),
        sa.Index("ix_findings_open", "resolved_at"),
    )
    sa.Table(
        "deliveries", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200)),
        sa.Column("person", sa.String(200)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("external_id", sa.String(200)),
        sa.Index("ix_deliveries_status", "status"),
    )
    sa.Table(
        "waivers", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issue", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),  # "*" for every rule
        sa.Column("source", sa.String(16), nullable=False),  # snooze (stored here); file/label are observed
        sa.Column("by", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("until", sa.Date),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
        sa.Index("ix_waivers_issue", "issue"),
    )
    sa.Table(
        "scan_runs", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),  # scan | nudge
        sa.Column("source", sa.Text, nullable=False, default=""),
        sa.Column("started", UTCDateTime, nullable=False),
        sa.Column("finished", UTCDateTime),
        sa.Column("complete", sa.Boolean, nullable=False, default=True),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    sa.Table(
        "cursors", metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "digest_history", metadata,
        sa.Column("team", sa.String(200), primary_key=True),
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "slack_users", metadata,  # Jira user -> Slack user, from users.lookupByEmail
        sa.Column("jira_user", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("slack_id", sa.String(64)),  # None: looked up, not found
        sa.Column("looked_up_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "jira_comments", metadata,  # the one bot comment per issue
        sa.Column("issue", sa.String(100), primary_key=True),
        sa.Column("comment_id", sa.String(64)),
        sa.Column("revision", sa.Integer, nullable=False, default=0),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # open | resolved
        sa.Column("written_at", UTCDateTime),  # when the bot last wrote it (its own edit)
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def _migration_1(connection: Connection) -> None:
    metadata = sa.MetaData()
    _v1_tables(metadata)
    metadata.create_all(connection)


def _v2_tables(metadata: sa.MetaData) -> None:
    """Added by migration 2. Frozen: add a migration to change it."""
    sa.Table(
        # Where govbot posts -> the conversation id Slack uses for it: a Slack user id -> the DM
        # channel conversations.open gave; a channel name (#team) -> the id a post there returned.
        "slack_conversations", metadata,
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("learned_at", UTCDateTime, nullable=False),
    )


def _migration_2(connection: Connection) -> None:
    # A post's conversation is known before it is made (so an interrupted post can be looked up
    # in that conversation's history), without a conversations.open call on every run.
    metadata = sa.MetaData()
    _v2_tables(metadata)
    metadata.create_all(connection)


# (version, name, function). Append only.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _migration_1),
    (2, "slack conversations", _migration_2),
]
LATEST_VERSION = MIGRATIONS[-1][0]

metadata = sa.MetaData()
_v1_tables(metadata)
_v2_tables(metadata)
schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
findings = metadata.tables["findings"]
deliveries = metadata.tables["deliveries"]
waivers = metadata.tables["waivers"]
scan_runs = metadata.tables["scan_runs"]
cursors = metadata.tables["cursors"]
digest_history_table = metadata.tables["digest_history"]
slack_users = metadata.tables["slack_users"]
jira_comments = metadata.tables["jira_comments"]
slack_conversations = metadata.tables["slack_conversations"]


# -- values handed out ---------------------------------------------------------------

@dataclass
class FindingState:
    fingerprint: str
    rule: str
    issue: str
    team: str | None
    severity: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    reopened: int
    waived: bool
    nudge_count: int
    last_nudged_at: datetime | None
    escalated_at: datetime | None
    owner_id: str | None = None
    title: str = ""
    message: str = ""
    summary: str = ""
    url: str | None = None
    evidence: str = ""
    owner: dict | None = None
    waiver_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass
class RecordSummary:
    """What ``record_scan`` changed: fingerprints per lifecycle transition."""

    run_id: int
    new: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    waiver_started: list[str] = field(default_factory=list)
    waiver_ended: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in
                ("new", "still_open", "resolved", "reopened", "waiver_started", "waiver_ended")}


@dataclass
class Delivery:
    id: int
    dedupe_key: str
    kind: str
    recipient: str
    channel: str | None
    person: str | None
    payload: dict
    fingerprints: list[str]
    status: str
    attempts: int
    last_error: str | None
    run_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    external_id: str | None


@dataclass
class Snooze:
    id: int
    issue: str
    rule: str
    by: str | None
    reason: str
    until: date | None
    created_at: datetime


@dataclass
class CommentState:
    issue: str
    comment_id: str | None
    revision: int
    content_hash: str
    state: str
    written_at: datetime | None


# merged: folded into a later message to the same recipient (one message per person per run).
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "cancelled", "merged")


# -- URL resolution --------------------------------------------------------------------

def store_url(config) -> str:
    """``store.url`` from config, else ``$GOVBOT_DATABASE_URL``, else ``govbot.db`` beside the config.

    A bare path (no ``scheme://``) means an SQLite file; relative paths are
    relative to the config file's folder, like every other path in config.
    """
    configured = config.settings.store.url or config.env.get("GOVBOT_DATABASE_URL")
    if not configured:
        return f"sqlite:///{config.base_dir / DEFAULT_FILENAME}"
    configured = str(configured).strip()
    if "://" not in configured:
        return f"sqlite:///{config.resolve_path(configured)}"
    if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
        relative = configured[len("sqlite:///"):]
        if relative and relative != ":memory:" and not relative.startswith("file:"):
            query = ""
            if "?" in relative:
                relative, query = relative.split("?", 1)
                query = "?" + query
            return f"sqlite:///{config.resolve_path(relative)}{query}"
    return configured


def open_store(config, *, dry_run: bool = False) -> "Store":
    """The configured store; for a dry run, one that never writes to it (see ``Store.for_dry_run``)."""
    url = store_url(config)
    busy = float(config.settings.store.busy_timeout_seconds)
    if dry_run:
        return Store.for_dry_run(url, busy_timeout=busy)
    return Store(url, busy_timeout=busy)


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


# -- the store --------------------------------------------------------------------------------

class Store:
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
        except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
            raise StoreConfigError(f"store.url {self.display}: {error}",
                                   hint="PostgreSQL URLs look like "
                                        "postgresql+psycopg://user@host:5432/govbot") from None
        except (sqlite3.Error, OSError) as error:
            raise _translate(error, self.display) from None
        return engine

    @classmethod
    def for_dry_run(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> "Store":
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
    def _dry_run_store(cls, url: str, busy_timeout: float) -> "Store":
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

    def __enter__(self) -> "Store":
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
                raise StoreError(f"another govbot {name} run is in progress on {self.display}"
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
            handle = open(lock_path, "a+")
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

    # -- findings lifecycle -----------------------------------------------------------------------
    @_guarded
    def record_scan(self, result, now: datetime, *, source: str | None = None) -> RecordSummary:
        """Update the findings lifecycle from one scan, in one transaction.

        New findings are inserted, returning ones reopened, and open findings
        that did not fire again are resolved - but only for issues this scan
        actually read and rules it actually evaluated, so a partial read or a
        ``--rule`` subset never resolves what it did not look at.
        """
        current = {}
        for finding in result.findings:
            current.setdefault(finding.fingerprint, finding)
        read_issues = set(getattr(result, "read_keys", None) or result.workspace.issues)
        keys = getattr(result, "keys", None)
        if keys is not None:
            read_issues &= set(keys)
        evaluated_rules = _evaluated_rules(result)
        failed = _failed_pairs(result)
        workspace = result.workspace
        with self.transaction() as connection:
            run_id = connection.execute(scan_runs.insert().values(
                kind="scan", source=source or getattr(workspace, "source", "") or "", started=now,
                complete=bool(getattr(workspace, "complete", True)), counts={})).inserted_primary_key[0]
            summary = RecordSummary(run_id)
            existing = {row.fingerprint: row for row in _select_in(
                connection, findings, findings.c.fingerprint, list(current))}
            inserts, updates = [], []
            for fingerprint_value, finding in current.items():
                values = _finding_values(finding, now)
                row = existing.get(fingerprint_value)
                if row is None:
                    summary.new.append(fingerprint_value)
                    if finding.waived:
                        summary.waiver_started.append(fingerprint_value)
                    inserts.append({**values, "fingerprint": fingerprint_value, "first_seen": now,
                                    "resolved_at": None, "reopened": 0, "nudge_count": 0,
                                    "last_nudged_at": None, "escalated_at": None})
                    continue
                change = {**values, "b_fingerprint": fingerprint_value, "resolved_at": None,
                          "reopened": row.reopened, "nudge_count": row.nudge_count,
                          "escalated_at": row.escalated_at}
                if row.resolved_at is not None:
                    # The violation came back: a fresh start for nudges.
                    summary.reopened.append(fingerprint_value)
                    change.update(reopened=row.reopened + 1, nudge_count=0, escalated_at=None)
                else:
                    summary.still_open.append(fingerprint_value)
                if finding.waived and not row.waived:
                    summary.waiver_started.append(fingerprint_value)
                elif row.waived and not finding.waived:
                    summary.waiver_ended.append(fingerprint_value)
                updates.append(change)
            if inserts:
                connection.execute(findings.insert(), inserts)
            if updates:
                # executemany: keys named like columns become the SET clause.
                connection.execute(findings.update().where(
                    findings.c.fingerprint == sa.bindparam("b_fingerprint")), updates)
            resolvable = []
            for row in connection.execute(sa.select(findings.c.fingerprint, findings.c.rule, findings.c.issue)
                                          .where(findings.c.resolved_at.is_(None))):
                if (row.fingerprint not in current and row.issue in read_issues
                        and (evaluated_rules is None or row.rule in evaluated_rules)
                        and (row.rule, row.issue) not in failed):
                    resolvable.append(row.fingerprint)
            for chunk in _chunks(resolvable):
                connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                   .values(resolved_at=now))
            summary.resolved = resolvable
            counts = {**summary.counts(), "issues_read": len(read_issues), "findings": len(current)}
            connection.execute(scan_runs.update().where(scan_runs.c.id == run_id)
                               .values(finished=now, counts=counts))
        return summary

    @_guarded
    def finding_states(self, fingerprints: Iterable[str] | None = None, *,
                       open_only: bool = False) -> dict[str, FindingState]:
        with self.transaction() as connection:
            if fingerprints is None:
                query = sa.select(findings)
                if open_only:
                    query = query.where(findings.c.resolved_at.is_(None))
                rows = connection.execute(query)
            else:
                rows = _select_in(connection, findings, findings.c.fingerprint, list(fingerprints))
            return {row.fingerprint: _finding_state(row) for row in rows
                    if not open_only or row.resolved_at is None}

    @_guarded
    def mark_nudged(self, marks: Iterable[tuple[str, int]], now: datetime) -> None:
        """Record that findings were (committed to be) nudged: (fingerprint, nudge number)."""
        rows = [{"b_fingerprint": fp, "nudge_count": number + 1, "last_nudged_at": now} for fp, number in marks]
        if not rows:
            return
        with self.transaction() as connection:
            connection.execute(findings.update().where(findings.c.fingerprint == sa.bindparam("b_fingerprint")),
                               rows)

    @_guarded
    def nudge_delivered(self, fingerprints: Iterable[str], now: datetime) -> None:
        """A nudge about these findings reached Slack now: the next reminder counts from here, not from
        when it was queued (a message that waited out an outage is not followed by a reminder at once)."""
        with self.transaction() as connection:
            for chunk in _chunks(list(fingerprints)):
                connection.execute(findings.update().where(
                    findings.c.fingerprint.in_(chunk), findings.c.nudge_count > 0,
                    sa.or_(findings.c.last_nudged_at.is_(None), findings.c.last_nudged_at < now))
                    .values(last_nudged_at=now))

    @_guarded
    def mark_escalated(self, fingerprints: Iterable[str], now: datetime) -> None:
        with self.transaction() as connection:
            for chunk in _chunks(list(fingerprints)):
                connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                   .values(escalated_at=now))

    # -- outbox -------------------------------------------------------------------------------------
    @_guarded
    def enqueue(self, *, dedupe_key: str, kind: str, recipient: str, payload: dict,
                fingerprints: list[str], now: datetime, person: str | None = None,
                channel: str | None = None, run_id: int | None = None) -> bool:
        """Record a message before it is sent. False when this dedupe key was queued before."""
        values = dict(dedupe_key=dedupe_key, kind=kind, recipient=recipient, payload=payload,
                      fingerprints=list(fingerprints), person=person, channel=channel, status="queued",
                      attempts=0, run_id=run_id, created_at=now)
        with self.transaction() as connection:
            insert = _dialect_insert(self.dialect, deliveries).values(**values)
            result = connection.execute(insert.on_conflict_do_nothing(index_elements=["dedupe_key"])
                                        .returning(deliveries.c.id))
            return result.first() is not None

    @_guarded
    def deliveries(self, *, status: str | Iterable[str] | None = None, kinds: Iterable[str] | None = None,
                   limit: int | None = None) -> list[Delivery]:
        with self.transaction() as connection:
            query = sa.select(deliveries).order_by(deliveries.c.id)
            if status is not None:
                statuses = [status] if isinstance(status, str) else list(status)
                query = query.where(deliveries.c.status.in_(statuses))
            if kinds is not None:
                query = query.where(deliveries.c.kind.in_(list(kinds)))
            if limit:
                query = query.limit(limit)
            return [_delivery(row) for row in connection.execute(query)]

    @_guarded
    def delivery(self, dedupe_key: str) -> Delivery | None:
        with self.transaction() as connection:
            row = connection.execute(sa.select(deliveries).where(deliveries.c.dedupe_key == dedupe_key)).first()
            return _delivery(row) if row else None

    @_guarded
    def claim(self, delivery_id: int, now: datetime, *, from_status: str = "queued") -> bool:
        """Mark a delivery as being sent (committed before the network call). False if someone else has it."""
        with self.transaction() as connection:
            result = connection.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == from_status)
                .values(status="sending", attempts=deliveries.c.attempts + 1, claimed_at=now))
            return result.rowcount == 1

    @_guarded
    def release(self, delivery_id: int, *, error: str | None = None) -> bool:
        """Undo a claim whose send certainly did not reach the other side (a 429, a refused connection).

        Committed before any wait, so a run killed while it waits leaves the message
        plainly queued, never in doubt.
        """
        with self.transaction() as connection:
            return connection.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == "sending")
                .values(status="queued", last_error=error)).rowcount == 1

    @_guarded
    def requeue(self, delivery_id: int, *, payload: dict | None = None, error: str | None = None) -> None:
        """Put a message back in the queue (an in-doubt post settled as "send it"), optionally re-worded."""
        values: dict[str, Any] = {"status": "queued", "last_error": error}
        if payload is not None:
            values["payload"] = payload
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

    @_guarded
    def supersede(self, delivery_ids: Iterable[int], into: str, now: datetime) -> list[int]:
        """Mark queued messages as merged into the message ``into`` (a dedupe key); returns the ids merged."""
        merged = []
        with self.transaction() as connection:
            for delivery_id in delivery_ids:
                done = connection.execute(
                    deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == "queued")
                    .values(status="merged", last_error=f"merged into {into}")).rowcount
                if done:
                    merged.append(delivery_id)
        return merged

    @_guarded
    def set_delivery_channel(self, delivery_id: int, channel: str) -> None:
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(channel=channel))

    # -- Slack conversations ------------------------------------------------------------------------
    @_guarded
    def conversation(self, target: str) -> str | None:
        """The conversation id Slack uses for ``target`` (a user's DM, a channel name), if known."""
        with self.transaction() as connection:
            return connection.execute(sa.select(slack_conversations.c.channel)
                                      .where(slack_conversations.c.target == target)).scalar()

    @_guarded
    def remember_conversation(self, target: str, channel: str, now: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, slack_conversations,
                    {"target": target, "channel": channel, "learned_at": now}, ["target"])

    @_guarded
    def finish_delivery(self, delivery_id: int, status: str, now: datetime, *, external_id: str | None = None,
                        error: str | None = None, channel: str | None = None) -> None:
        if status not in DELIVERY_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}")
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = now
        if external_id is not None:
            values["external_id"] = external_id
        if channel is not None:
            values["channel"] = channel
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

    # -- runs ---------------------------------------------------------------------------------------
    @_guarded
    def start_run(self, kind: str, now: datetime, *, source: str = "") -> int:
        with self.transaction() as connection:
            return connection.execute(scan_runs.insert().values(
                kind=kind, source=source, started=now, complete=True, counts={})).inserted_primary_key[0]

    @_guarded
    def finish_run(self, run_id: int, now: datetime, counts: dict, *, complete: bool = True) -> None:
        with self.transaction() as connection:
            connection.execute(scan_runs.update().where(scan_runs.c.id == run_id)
                               .values(finished=now, counts=counts, complete=complete))

    @_guarded
    def recent_runs(self, kind: str, limit: int = 10) -> list[dict]:
        """The latest finished runs of one kind, newest first, as dicts with their counts."""
        with self.transaction() as connection:
            rows = connection.execute(
                sa.select(scan_runs).where(scan_runs.c.kind == kind, scan_runs.c.finished.is_not(None))
                .order_by(scan_runs.c.id.desc()).limit(limit))
            return [{"id": row.id, "started": row.started, "finished": row.finished, "complete": row.complete,
                     "source": row.source, "counts": row.counts or {}} for row in rows]

    # -- waivers and snoozes ------------------------------------------------------------------------
    @_guarded
    def add_snooze(self, issue: str, rule: str, *, reason: str, until: date | None, now: datetime,
                   by: str | None = None) -> int:
        """A waiver kept in the store (from chat or the CLI): suppresses ``rule`` on ``issue``."""
        if not reason or not reason.strip():
            raise ValueError("a snooze needs a reason")
        with self.transaction() as connection:
            return connection.execute(waivers.insert().values(
                issue=issue, rule=rule, source="snooze", by=by, reason=reason.strip(), until=until,
                created_at=now)).inserted_primary_key[0]

    @_guarded
    def revoke_snooze(self, snooze_id: int, now: datetime) -> bool:
        with self.transaction() as connection:
            return connection.execute(waivers.update().where(waivers.c.id == snooze_id,
                                                             waivers.c.revoked_at.is_(None))
                                      .values(revoked_at=now)).rowcount == 1

    @_guarded
    def snoozes(self, *, active_on: date | None = None) -> list[Snooze]:
        with self.transaction() as connection:
            query = sa.select(waivers).where(waivers.c.source == "snooze", waivers.c.revoked_at.is_(None))
            if active_on is not None:
                query = query.where(sa.or_(waivers.c.until.is_(None), waivers.c.until >= active_on))
            return [Snooze(row.id, row.issue, row.rule, row.by, row.reason, row.until, row.created_at)
                    for row in connection.execute(query.order_by(waivers.c.id))]

    # -- cursors (live Jira source) -----------------------------------------------------------------
    @_guarded
    def get_cursor(self, scope: str) -> dict | None:
        with self.transaction() as connection:
            return connection.execute(sa.select(cursors.c.value).where(cursors.c.scope == scope)).scalar()

    @_guarded
    def set_cursor(self, scope: str, value: dict) -> None:
        now = datetime.now(timezone.utc)
        with self.transaction() as connection:
            _upsert(connection, self.dialect, cursors, {"scope": scope, "value": value, "updated_at": now},
                    ["scope"])

    # -- digest history -----------------------------------------------------------------------------
    @_guarded
    def record_digest(self, team: str, week_start: date, figures: dict) -> None:
        now = datetime.now(timezone.utc)
        with self.transaction() as connection:
            _upsert(connection, self.dialect, digest_history_table,
                    {"team": team, "week_start": week_start, "figures": figures, "updated_at": now},
                    ["team", "week_start"])

    @_guarded
    def digest_history(self, team: str, until: date, weeks: int) -> list[tuple[date, dict]]:
        """Up to ``weeks`` recorded weeks for ``team`` starting on or before ``until``, oldest first."""
        with self.transaction() as connection:
            rows = connection.execute(
                sa.select(digest_history_table.c.week_start, digest_history_table.c.figures)
                .where(digest_history_table.c.team == team, digest_history_table.c.week_start <= until,
                       digest_history_table.c.week_start > until - timedelta(weeks=weeks))
                .order_by(digest_history_table.c.week_start.desc()).limit(weeks)).all()
            return [(row.week_start, row.figures) for row in reversed(rows)]

    # -- Slack user cache ---------------------------------------------------------------------------
    @_guarded
    def cached_slack_user(self, jira_user: str) -> tuple[str | None, datetime, str | None] | None:
        """(slack id or None when not found, when looked up, email) or None if never looked up."""
        with self.transaction() as connection:
            row = connection.execute(sa.select(slack_users).where(slack_users.c.jira_user == jira_user)).first()
            return (row.slack_id, row.looked_up_at, row.email) if row else None

    @_guarded
    def cache_slack_user(self, jira_user: str, email: str | None, slack_id: str | None, now: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, slack_users,
                    {"jira_user": jira_user, "email": email, "slack_id": slack_id, "looked_up_at": now},
                    ["jira_user"])

    # -- Jira comments -------------------------------------------------------------------------------
    @_guarded
    def comment_state(self, issue: str) -> CommentState | None:
        with self.transaction() as connection:
            row = connection.execute(sa.select(jira_comments).where(jira_comments.c.issue == issue)).first()
            return _comment_state(row) if row else None

    @_guarded
    def comment_states(self) -> dict[str, CommentState]:
        with self.transaction() as connection:
            return {row.issue: _comment_state(row) for row in connection.execute(sa.select(jira_comments))}

    @_guarded
    def plan_comment(self, issue: str, content_hash: str, state: str, now: datetime) -> int:
        """Record the comment content we intend to write; returns its revision number."""
        with self.transaction() as connection:
            row = connection.execute(sa.select(jira_comments).where(jira_comments.c.issue == issue)).first()
            if row is None:
                connection.execute(jira_comments.insert().values(
                    issue=issue, comment_id=None, revision=1, content_hash=content_hash, state=state,
                    updated_at=now))
                return 1
            revision = row.revision + 1
            connection.execute(jira_comments.update().where(jira_comments.c.issue == issue).values(
                revision=revision, content_hash=content_hash, state=state, updated_at=now))
            return revision

    @_guarded
    def comment_written(self, issue: str, comment_id: str, now: datetime) -> None:
        with self.transaction() as connection:
            connection.execute(jira_comments.update().where(jira_comments.c.issue == issue)
                               .values(comment_id=comment_id, written_at=now, updated_at=now))

    def last_bot_edit(self, issue: str) -> datetime | None:
        """When govbot last wrote to this issue (its comment), so sources can ignore that 'update'."""
        state = self.comment_state(issue)
        return state.written_at if state else None


class DeferredCursors:
    """Hands the live source its cursors, but saves new ones only on ``commit()``.

    Call ``commit()`` after the run's findings are recorded: a cursor saved
    before the state it covers would make a crashed run skip those issues.
    """

    def __init__(self, store: Store):
        self.store = store
        self.pending: dict[str, dict] = {}

    def get_cursor(self, scope: str) -> dict | None:
        return self.pending.get(scope) or self.store.get_cursor(scope)

    def set_cursor(self, scope: str, cursor: dict) -> None:
        self.pending[scope] = dict(cursor)

    def commit(self) -> None:
        for scope, value in self.pending.items():
            self.store.set_cursor(scope, value)
        self.pending.clear()


# -- helpers ---------------------------------------------------------------------------------------------

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


def _evaluated_rules(result) -> set[str] | None:
    ruleset = getattr(result, "ruleset", None)
    if ruleset is None:
        return None
    active = getattr(ruleset, "active", None)
    rules = active if active is not None else getattr(ruleset, "rules", None)
    if rules is None:
        return None
    return {rule.id for rule in rules}


def _failed_pairs(result) -> set[tuple[str, str]]:
    """(rule, issue) pairs the engine could not evaluate: never resolved on their account."""
    pairs = {(failure.rule, failure.issue) for failure in getattr(result, "failures", None) or []}
    for more in ("unjudged", "skipped"):
        pairs |= {tuple(pair) for pair in getattr(result, more, None) or []}
    return pairs


def _finding_values(finding, now: datetime) -> dict[str, Any]:
    owner = finding.owner
    return {
        "rule": finding.rule, "issue": finding.issue, "team": finding.team,
        "severity": getattr(finding.severity, "value", str(finding.severity)),
        "title": finding.title or "", "message": finding.message or "", "summary": finding.summary or "",
        "evidence": finding.evidence or "", "url": finding.url,
        "owner_id": owner.id if owner else None, "owner": owner.to_json() if owner else None,
        "last_seen": now, "waived": bool(finding.waived), "waiver_reason": finding.waiver_reason,
    }


def _finding_state(row) -> FindingState:
    return FindingState(
        fingerprint=row.fingerprint, rule=row.rule, issue=row.issue, team=row.team, severity=row.severity,
        first_seen=row.first_seen, last_seen=row.last_seen, resolved_at=row.resolved_at,
        reopened=row.reopened, waived=row.waived, nudge_count=row.nudge_count,
        last_nudged_at=row.last_nudged_at, escalated_at=row.escalated_at, owner_id=row.owner_id,
        title=row.title, message=row.message, summary=row.summary, url=row.url, evidence=row.evidence,
        owner=row.owner, waiver_reason=row.waiver_reason)


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


def _delivery(row) -> Delivery:
    return Delivery(
        id=row.id, dedupe_key=row.dedupe_key, kind=row.kind, recipient=row.recipient, channel=row.channel,
        person=row.person, payload=row.payload, fingerprints=list(row.fingerprints or []), status=row.status,
        attempts=row.attempts, last_error=row.last_error, run_id=row.run_id, created_at=row.created_at,
        claimed_at=row.claimed_at, sent_at=row.sent_at, external_id=row.external_id)


def _comment_state(row) -> CommentState:
    return CommentState(issue=row.issue, comment_id=row.comment_id, revision=row.revision,
                        content_hash=row.content_hash, state=row.state, written_at=row.written_at)


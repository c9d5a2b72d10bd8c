"""Where the next incremental read starts, per scope."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from bot.store.database import Database, _guarded, _upsert
from bot.store.schema import cursors


def peek_cursor(url: str, scope: str) -> dict | None:
    """A cursor read without opening the store for a run: no migration, no write lock (a run's
    transactions take SQLite's at BEGIN), no copy into memory (as a dry run makes). None when
    there is no store, no such cursor, or the database cannot be read: the caller does without."""
    from bot.store.database import sqlite_path

    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            return None
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    # A check waits for nobody: an unreachable PostgreSQL server costs it the verdict, not minutes.
    options = {} if path is not None else {"connect_args": {"connect_timeout": 5}}
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, **options)
    except Exception:  # noqa: BLE001 - a URL the store itself would refuse, with its own message
        return None
    try:
        with engine.connect() as connection:
            value = connection.execute(sa.select(cursors.c.value).where(cursors.c.scope == scope)).scalar()
    except Exception:  # noqa: BLE001 - no govbot tables yet, a locked or unreachable database
        return None
    finally:
        engine.dispose()
    return value if isinstance(value, dict) else None


class CursorStore(Database):
    """Where the next incremental read starts, per scope."""

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


class DeferredCursors:
    """Hands the live source its cursors, but saves new ones only on ``commit()``.

    Call ``commit()`` after the run's findings are recorded: a cursor saved
    before the state it covers would make a crashed run skip those issues.
    """

    def __init__(self, store: Database):
        self.store = store
        self.pending: dict[str, dict] = {}
        self.pending_cache: dict[str, object] = {}  # scope -> the read's CacheWrite, saved with its cursor

    def get_cursor(self, scope: str) -> dict | None:
        return self.pending.get(scope) or self.store.get_cursor(scope)

    def set_cursor(self, scope: str, cursor: dict) -> None:
        self.pending[scope] = dict(cursor)
        self.pending_cache.pop(scope, None)

    def update_cursor(self, scope: str, changes: dict) -> None:
        """Add ``changes`` to the cursor this run is about to save, keeping the cache written with it."""
        current = self.get_cursor(scope)
        if current is not None:
            self.pending[scope] = {**current, **changes}

    # The issue cache (``bot.store.issue_cache``): read from the store, written with the cursor.
    def cached_links(self, scope: str, keys=None, *, parents=()) -> dict:
        return self.store.cached_links(scope, keys, parents=parents)

    def cached_raws(self, scope: str, keys) -> dict:
        return self.store.cached_raws(scope, keys)

    def save_read(self, scope: str, cursor: dict, cache=None) -> None:
        self.pending[scope] = dict(cursor)
        self.pending_cache[scope] = cache

    def commit(self) -> None:
        """Every pending cursor, and the cache written with it, in one transaction."""
        with self.store.transaction():
            for scope, value in self.pending.items():
                if scope in self.pending_cache:
                    self.store.save_read(scope, value, self.pending_cache[scope])
                else:
                    self.store.set_cursor(scope, value)
        self.pending.clear()
        self.pending_cache.clear()

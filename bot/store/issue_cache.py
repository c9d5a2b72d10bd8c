"""The issue cache a rescan reads relatives from, written with the cursor (``bot.sources.issue_cache``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

import sqlalchemy as sa

from bot.store.database import Database, _chunks, _guarded, _upsert
from bot.store.schema import cursors, issue_cache


class IssueCacheStore(Database):
    """Per cursor: the issues in scope as last read (key, parent, level, updated, raw fields)."""

    @_guarded
    def cached_links(self, scope: str, keys: Iterable[str] | None = None, *,
                     parents: Iterable[str] = ()) -> dict[str, tuple[str | None, str | None]]:
        """key -> (parent key, level): of the cached ``keys`` and of the cached children of
        ``parents``; of every cached issue of ``scope`` when neither is given."""
        table = issue_cache
        columns = (table.c.key, table.c.parent_key, table.c.level)
        found: dict[str, tuple[str | None, str | None]] = {}
        with self.transaction() as connection:
            if keys is None and not parents:
                rows = connection.execute(sa.select(*columns).where(table.c.scope == scope)).all()
                return {row.key: (row.parent_key, row.level) for row in rows}
            for column, values in ((table.c.key, list(keys or ())), (table.c.parent_key, list(parents))):
                for chunk in _chunks(values):
                    rows = connection.execute(sa.select(*columns).where(table.c.scope == scope,
                                                                        column.in_(chunk))).all()
                    found.update((row.key, (row.parent_key, row.level)) for row in rows)
        return found

    def cached_hierarchy(self, scope: str) -> dict[str, tuple[str | None, str | None]]:
        """key -> (parent key, level) for every cached issue of ``scope``."""
        return self.cached_links(scope)

    @_guarded
    def cached_raws(self, scope: str, keys: Iterable[str]) -> dict[str, bytes]:
        """key -> the packed raw issue, for those of ``keys`` that are cached."""
        found: dict[str, bytes] = {}
        with self.transaction() as connection:
            for chunk in _chunks(list(keys)):
                rows = connection.execute(sa.select(issue_cache.c.key, issue_cache.c.raw).where(
                    issue_cache.c.scope == scope, issue_cache.c.key.in_(chunk))).all()
                found.update((row.key, bytes(row.raw)) for row in rows)
        return found

    @_guarded
    def cached_count(self, scope: str | None = None) -> int:
        with self.transaction() as connection:
            query = sa.select(sa.func.count()).select_from(issue_cache)
            if scope is not None:
                query = query.where(issue_cache.c.scope == scope)
            return connection.execute(query).scalar() or 0

    @_guarded
    def save_read(self, scope: str, cursor: dict, cache=None) -> None:
        """The cursor and the cache of one complete read, in one transaction: the cursor never
        moves past what the cache holds. ``cache`` is a ``bot.sources.issue_cache.CacheWrite``
        (None: the cursor only)."""
        with self.transaction() as connection:
            if cache is not None:
                table = issue_cache
                if cache.replace:
                    connection.execute(table.delete().where(table.c.scope == scope))
                else:
                    stale = sorted(set(cache.forget) | {row[0] for row in cache.rows})
                    for chunk in _chunks(stale):
                        connection.execute(table.delete().where(table.c.scope == scope, table.c.key.in_(chunk)))
                for chunk in _chunks(cache.rows, 1000):
                    connection.execute(table.insert(), [
                        {"scope": scope, "key": key, "parent_key": parent, "level": level, "updated": updated,
                         "raw": raw} for key, parent, level, updated, raw in chunk])
            _upsert(connection, self.dialect, cursors,
                    {"scope": scope, "value": cursor, "updated_at": datetime.now(timezone.utc)}, ["scope"])

"""State that outlives a run: findings lifecycle, outbox, snoozes, runs, cursors, history.

One ``Store`` per database, assembled from one part per kind of state:
``database`` (engine, transactions, dry runs, migrations, run locks, errors),
``schema`` (tables and the ordered migrations), ``values`` (what it hands
out), then ``findings``, ``outbox``, ``snoozes``, ``history``, ``cursors``,
``slack``, ``comments``, ``rule_health`` (read only: what each rule found, fixed and waived)
and ``dashboards``. The schema is versioned: migrations are applied
automatically when a store is opened, except by dry runs, which never write
to the store (``Store.for_dry_run``).
"""

from __future__ import annotations

from bot.store.comments import CommentStore
from bot.store.cursors import CursorStore, DeferredCursors
from bot.store.dashboards import DashboardStore
from bot.store.database import (BUSY_TIMEOUT_SECONDS, DEFAULT_FILENAME, Database, StoreConfigError, StoreError,
                                _lock_key, _sqlite_transactions, sqlite_path, store_url)
from bot.store.findings import FindingsStore
from bot.store.history import HistoryStore
from bot.store.outbox import OutboxStore
from bot.store.rule_health import RuleHealth, RuleHealthStore
from bot.store.schema import LATEST_VERSION, MIGRATIONS, metadata
from bot.store.slack import SlackStore
from bot.store.snoozes import SnoozeStore
from bot.store.values import CommentState, Delivery, FindingState, RecordSummary, Snooze


class Store(FindingsStore, OutboxStore, SnoozeStore, HistoryStore, CursorStore, SlackStore, CommentStore,
            RuleHealthStore, DashboardStore, Database):
    """One database holding govbot's state; migrated on open."""


def open_store(config, *, dry_run: bool = False) -> "Store":
    """The configured store; for a dry run, one that never writes to it (see ``Store.for_dry_run``)."""
    url = store_url(config)
    busy = float(config.settings.store.busy_timeout_seconds)
    if dry_run:
        return Store.for_dry_run(url, busy_timeout=busy)
    return Store(url, busy_timeout=busy)


__all__ = ["BUSY_TIMEOUT_SECONDS", "DEFAULT_FILENAME", "LATEST_VERSION", "MIGRATIONS", "CommentState",
           "DeferredCursors", "Delivery", "FindingState", "RecordSummary", "RuleHealth", "Snooze", "Store", "StoreConfigError",
           "StoreError", "metadata", "open_store", "sqlite_path", "store_url", "_lock_key", "_sqlite_transactions"]

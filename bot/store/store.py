"""``Store``: one database holding govbot's state, composed of one part per kind of state."""

from __future__ import annotations

from bot.store.claims import ClaimStore
from bot.store.comments import CommentStore
from bot.store.cursors import CursorStore
from bot.store.dashboards import DashboardStore
from bot.store.database import Database, store_url
from bot.store.findings import FindingsStore
from bot.store.history import HistoryStore
from bot.store.issue_cache import IssueCacheStore
from bot.store.outbox import OutboxStore
from bot.store.rule_health import RuleHealthStore
from bot.store.slack import SlackStore
from bot.store.snoozes import SnoozeStore


class Store(FindingsStore, OutboxStore, SnoozeStore, HistoryStore, CursorStore, IssueCacheStore, SlackStore,
            CommentStore, RuleHealthStore, DashboardStore, ClaimStore, Database):
    """One database holding govbot's state; migrated on open."""


def open_store(config, *, dry_run: bool = False) -> "Store":
    """The configured store; for a dry run, one that never writes to it (see ``Store.for_dry_run``)."""
    url = store_url(config)
    busy = float(config.settings.store.busy_timeout_seconds)
    if dry_run:
        return Store.for_dry_run(url, busy_timeout=busy)
    return Store(url, busy_timeout=busy)

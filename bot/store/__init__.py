"""State that outlives a run: findings lifecycle, outbox, snoozes, runs, cursors, history.

One ``Store`` per database (``store.py``), assembled from one part per kind of
state: ``database`` (engine, transactions, dry runs, migrations, run locks,
errors), ``schema`` (tables and the ordered migrations), ``values`` (what it
hands out), then ``findings``, ``outbox``, ``snoozes``, ``history``,
``cursors``, ``issue_cache`` (what rescans read relatives from), ``slack``, ``comments``, ``rule_health`` (read only: what each
rule found, fixed and waived), ``dashboards`` and ``claims`` (done once across replicas); ``location`` says where it lives.
The schema is versioned: migrations are applied automatically when a store
is opened, except by dry runs, which never write to the store
(``Store.for_dry_run``).

The names below are imported on first use: importing ``bot.store`` (or
``bot.store.location``) does not import SQLAlchemy, so runs that never open a
store start quickly.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "Store": "store", "open_store": "store",
    "DeferredCursors": "cursors",
    "BUSY_TIMEOUT_SECONDS": "database", "Database": "database", "StoreConfigError": "database",
    "StoreError": "database", "StoreBusy": "database", "_lock_key": "database", "_sqlite_transactions": "database", "sqlite_path": "database",
    "DEFAULT_FILENAME": "location", "store_url": "location",
    "LATEST_VERSION": "schema", "MIGRATIONS": "schema", "metadata": "schema",
    "CommentState": "values", "Delivery": "values", "FindingState": "values", "RecordSummary": "values",
    "Snooze": "values",
    "RuleHealth": "rule_health",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'bot.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bot.store.{_HOMES[name]}"), name)
    globals()[name] = value
    return value

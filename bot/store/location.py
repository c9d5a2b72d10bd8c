"""Where the store lives, worked out from config without importing SQLAlchemy.

A scan opens the store only to read chat waivers; when the configured SQLite
file does not exist there are none, and the scan need not pay for importing
SQLAlchemy (a third of a small scan's start-up) to find that out.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_FILENAME = "govbot.db"


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


def missing_sqlite_file(url: str) -> bool:
    """True only when ``url`` plainly names an SQLite file that does not exist (so it holds no state).

    Anything this simple reading is unsure of (another dialect, a driver name,
    escapes, in-memory or ``file:`` URIs) answers False, and the caller opens
    the store as usual.
    """
    if not url.startswith("sqlite:///"):
        return False
    database = url[len("sqlite:///"):].split("?", 1)[0]
    if not database or database == ":memory:" or database.startswith("file:") or "%" in database:
        return False
    return not Path(database).exists()

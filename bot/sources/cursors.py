"""Where incremental scans remember how far they got: a cursor per site and scope.

``JiraSource.load`` reads its cursor (named by ``cursor_key``) before a read and
writes it after a complete one. ``bot.store.Store`` keeps them with the rest of
govbot's state; ``MemoryCursorStore`` and ``JsonCursorStore`` are the small ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Protocol

from bot.sources.http import display_url


class CursorStore(Protocol):
    """Where incremental scans remember how far they got (``bot.store.Store`` is one)."""

    def get_cursor(self, scope: str) -> dict | None: ...

    def set_cursor(self, scope: str, cursor: dict) -> None: ...


class MemoryCursorStore:
    def __init__(self) -> None:
        self.cursors: dict[str, dict] = {}

    def get_cursor(self, scope: str) -> dict | None:
        value = self.cursors.get(scope)
        return dict(value) if value is not None else None

    def set_cursor(self, scope: str, cursor: dict) -> None:
        self.cursors[scope] = dict(cursor)


class JsonCursorStore:
    """Cursors in one small JSON file, written atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged cursor file only costs one full scan
        return data if isinstance(data, dict) else {}

    def get_cursor(self, scope: str) -> dict | None:
        value = self._load().get(scope)
        return value if isinstance(value, dict) else None

    def set_cursor(self, scope: str, cursor: dict) -> None:
        data = self._load()
        data[scope] = cursor
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".cursor-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        os.replace(temporary, self.path)


def cursor_key(url: str, scope: str) -> str:
    """The cursor's name: a hash of the site and the scope JQL."""
    digest = hashlib.sha256(f"{display_url(url)}\n{' '.join(scope.split())}".encode()).hexdigest()
    return f"jira:{digest[:24]}"

"""An append-only JSON-lines record of every delivery and every waiver.

One object per line: ``{"ts": ..., "event": "delivery.sent", ...}``. Written
after the state it describes is committed, so the log never claims something
the store does not know. Path: ``store.audit_file`` (relative to the config),
``-`` for standard error; default ``govbot-audit.jsonl`` beside the config.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.escape import terminal_safe_json
from bot.redact import redact_value

DEFAULT_FILENAME = "govbot-audit.jsonl"


class AuditLog:
    def __init__(self, path: Path | str | None):
        self.path = path
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []  # kept for the run's report and for tests

    @classmethod
    def from_config(cls, config) -> "AuditLog":
        configured = config.settings.store.audit_file
        if configured == "-":
            return cls("-")
        path = config.resolve_path(configured) if configured else config.base_dir / DEFAULT_FILENAME
        return cls(path)

    def check_writable(self) -> None:
        """Fail before anything is sent if the audit trail cannot be written."""
        if self.path in (None, "-"):
            return
        try:
            with _open_private(self.path):
                pass
        except OSError as error:
            raise ConfigError(f"cannot write the audit log {self.path}: {error.strerror}",
                              hint="set store.audit_file to a writable path (or - for standard error)") from None

    def write(self, event: str, **fields: Any) -> None:
        record = {"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event, **fields}
        # No secret reaches the trail, whatever its destination: a Slack or Jira error echoing a token.
        written = redact_value(json.loads(json.dumps(record, default=_default)))
        # Control, bidi and surrogate characters as \u escapes: the same data, safe to print or encode.
        line = terminal_safe_json(json.dumps(written, ensure_ascii=False, sort_keys=False))
        with self._lock:
            self.events.append(record)
            if self.path is None:
                return
            if self.path == "-":
                sys.stderr.write(line + "\n")
                return
            with _open_private(self.path) as handle:
                handle.write(line + "\n")


class NullAudit(AuditLog):
    """For dry runs: remembers events, writes nothing."""

    def __init__(self):
        super().__init__(None)


def _open_private(path):
    """Open for appending; a new file is created 0600 (it names people and what they were sent)."""
    return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)

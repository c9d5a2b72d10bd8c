"""Logging for the service: JSON lines for machines, plain lines for people, no secrets in either.

``setup_logging`` picks the format from where stderr goes: a terminal gets
human lines, anything else (a container log, journald, a file) gets one JSON
object per line. Every record passes through ``redact`` (bot/redact.py) last, after the
message, its arguments and any traceback have been formatted, so a token
that reaches a log by any route (an exception text, a URL, a request dump)
is replaced before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

# The one secret filter lives in bot/redact.py; these names stay importable from here.
from bot.redact import (MASK, MAX_SECRET_FILE_BYTES, MIN_SECRET_LENGTH, SECRET_ENV_NAMES,  # noqa: F401
                        _secrets, redact, register_config_secrets, register_env_secrets, register_secret)
from bot.redact import redact_value as _redact_value
from bot.escape import terminal_safe_json

# Attributes every LogRecord has; anything else came from ``extra=`` and is context worth keeping.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _context(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}" if error is not None else None
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        # Control, bidi and lone surrogate characters as \u escapes: a surrogate in a message or an
        # exception text must not make the handler fail to encode the line.
        return terminal_safe_json(json.dumps(_redact_value(entry), ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``2026-03-30 09:30:00 INFO  govbot.service: message (job=digest)`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context(record)
        if context:
            first, newline, rest = text.partition("\n")
            details = " ".join(f"{key}={value}" for key, value in context.items())
            text = f"{first} ({details}){newline}{rest}"
        return redact(text)


def use_json(mode: str, stream: TextIO) -> bool:
    if mode == "json":
        return True
    if mode == "text":
        return False
    return not (hasattr(stream, "isatty") and stream.isatty())


def setup_logging(level: str = "info", mode: str = "auto", *, stream: TextIO | None = None,
                  env: dict[str, str] | None = None) -> logging.Handler:
    """Route the root logger to ``stream`` (stderr) in JSON or text; returns the handler."""
    stream = stream or sys.stderr
    register_env_secrets(env)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json(mode, stream) else TextFormatter())
    handler.set_name("govbot")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "govbot":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # Libraries that talk a lot at INFO; their warnings still come through.
    for noisy in ("apscheduler.executors", "apscheduler.scheduler", "slack_bolt", "slack_sdk", "urllib3"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    return handler

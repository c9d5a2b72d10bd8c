"""Logging for the service: JSON lines for machines, plain lines for people, no secrets in either.

``setup_logging`` picks the format from where stderr goes: a terminal gets
human lines, anything else (a container log, journald, a file) gets one JSON
object per line. Every record passes through ``redact`` last, after the
message, its arguments and any traceback have been formatted, so a token
that reaches a log by any route (an exception text, a URL, a request dump)
is replaced before it is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

# Environment variables whose values are secrets wherever they appear, set directly or read
# from NAME_FILE: the one list that logging redacts. (bot/config.py's _SECRET_KEYS is another
# kind of list: the config *keys* refused in govbot.yaml because secrets do not go there.)
SECRET_ENV_NAMES = ("JIRA_API_TOKEN", "JIRA_PAT", "JIRA_PASSWORD", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
                    "SLACK_SIGNING_SECRET", "JIRA_WEBHOOK_SECRET")
# A file holding a token is small; a bigger one named by some *_FILE variable is something else.
MAX_SECRET_FILE_BYTES = 16 * 1024
# Shorter values are not redacted by value: replacing every "abc" in a log
# would garble it without protecting anything worth protecting.
MIN_SECRET_LENGTH = 6
MASK = "[REDACTED]"

_PATTERNS = [
    # Slack tokens: bot, user, app-level, workspace, refresh, configuration.
    (re.compile(r"\bxox[abposer]-[A-Za-z0-9-]+"), MASK),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), MASK),
    # Authorization headers and their echoes.
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}"),
    # Passwords inside URLs: postgresql://user:secret@host/db
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), rf"\1:{MASK}@"),
    # Slack response_url and webhook secrets carry the credential in the path.
    (re.compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+"), f"https://hooks.slack.com/{MASK}"),
]

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact this exact value from every log line from now on (a token read from a file, say)."""
    if value and len(value.strip()) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value.strip())


def register_env_secrets(env: dict[str, str] | None = None, names: Iterable[str] = SECRET_ENV_NAMES) -> None:
    """Redact the secrets in the environment: each of ``names``, and the content of the file
    any ``*_FILE`` variable names (any secret may come from a file: ``JIRA_API_TOKEN_FILE``)."""
    environment = os.environ if env is None else env
    for name in names:
        register_secret(environment.get(name))
    for name, value in environment.items():
        if name.endswith("_FILE") and value:
            register_secret(_read_secret_file(value))


def register_config_secrets(config) -> None:
    """Redact every secret a run with this config can read: the environment's, and ``jira.token_file``."""
    register_env_secrets(config.env)
    token_file = config.settings.jira.token_file
    if token_file:
        register_secret(_read_secret_file(config.resolve_path(token_file)))


def _read_secret_file(path) -> str | None:
    """The file's text, or None when it cannot be read (whoever needs the secret says so) or is too big."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > MAX_SECRET_FILE_BYTES:
        return None
    return data.decode("utf-8", errors="replace").strip()


def redact(text: str) -> str:
    """``text`` with known secret values and token-shaped strings masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(item) for item in value]
    return value


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
        return json.dumps(_redact_value(entry), ensure_ascii=False, default=str)


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

"""The one secret filter: every output govbot writes passes through ``redact`` before it leaves.

Secrets are of two kinds. *Known values*: the tokens govbot was given
(``SECRET_ENV_NAMES``, any ``NAME_FILE``, ``jira.token_file``), registered
once when a command starts. *Token shapes*: Authorization header values
(``Bearer ...``, ``Basic ...``), Slack tokens (``xox?-``, ``xapp-``),
Atlassian API tokens (``ATATT...``), passwords inside URLs and Slack webhook
paths, whoever they belong to. A remote error body that echoes a request's
``Authorization`` header is masked by shape even when its value was never
registered.

The outputs that call it (and nothing else redacts): the process's stdout
and stderr (``install_streams``: CLI messages, ``nudge`` reports, tracebacks,
logs, the audit log on ``-``), the audit file, error text written to the
store, ``/healthz`` and ``/metrics``, and the log formatters.

The patterns run on RE2: this filter sees untrusted Jira text (a scan's
output), and a backtracking ``://`` pattern over ``a-a-a-...`` is quadratic.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import Any, Iterable

import re2

from bot.escape import valid_text

# Environment variables whose values are secrets wherever they appear, set directly or read
# from NAME_FILE. (bot/config.py's _SECRET_KEYS is another kind of list: the config *keys*
# refused in govbot.yaml because secrets do not go there.)
# The service's own secrets (the webhook's shared secret, the dashboard's password or token) are
# here too, so they are masked from the first line a run writes, not only once the service reads them.
SECRET_ENV_NAMES = ("JIRA_API_TOKEN", "JIRA_PAT", "JIRA_PASSWORD", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
                    "SLACK_SIGNING_SECRET", "JIRA_WEBHOOK_SECRET", "GOVBOT_WEBHOOK_SECRET",
                    "GOVBOT_DASHBOARD_PASSWORD", "GOVBOT_DASHBOARD_TOKEN")
# A file holding a token is small; a bigger one named by some *_FILE variable is something else.
MAX_SECRET_FILE_BYTES = 16 * 1024
# Shorter values are not redacted by value: replacing every "abc" in a log
# would garble it without protecting anything worth protecting.
MIN_SECRET_LENGTH = 6
MASK = "[REDACTED]"


def _compile(pattern: str):
    options = re2.Options()
    options.case_sensitive = True
    return re2.compile(pattern, options)


# Token shapes, whoever they belong to: (what it looks like, pattern, literals). The group
# ``secret`` is the part to mask; without it the whole match is. ``bot.config`` refuses any
# config value holding one, with the same words. A pattern runs only when one of its literals
# (lower case) is in the text: most output holds none, and each RE2 call re-encodes the text.
# Slack tokens start with a digit after the dash (xoxb-1234..., xoxe.xoxp-1-...), which keeps
# a channel called #xoxo-fans out.
TOKEN_SHAPES = (
    ("a Slack token", _compile(r"\bxox[abposer](?:\.xox[a-z])?-\d[A-Za-z0-9-]*"), ("xox",)),
    ("a Slack app token", _compile(r"\bxapp-\d[A-Za-z0-9-]*"), ("xapp-",)),
    ("an Atlassian API token", _compile(r"\bAT[A-Z]TT[A-Za-z0-9_=+/-]{8,}"), ("tt",)),
    ("a password inside a URL", _compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<secret>[^@\s/]+)@"), ("://",)),
)

# (pattern, replacement, literals) for output: the token shapes, then credentials that only
# make sense in an output (an echoed Authorization header, a Slack webhook path).
_PATTERNS = [(pattern, MASK, literals) for _, pattern, literals in TOKEN_SHAPES
             if "secret" not in pattern.groupindex] + [
    # An Authorization header's value, whatever its scheme: "Authorization: Token abc" (a value
    # masked already is taken whole, so filtering twice changes nothing).
    (_compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:[A-Za-z-]+\s+)?(?:\[REDACTED\]|[^\s\"',;}\]\[]{6,})"),
     rf"\1{MASK}", ("authorization",)),
    # Bearer and Basic credentials wherever they appear.
    (_compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}", ("bearer", "basic")),
    # Passwords inside URLs: postgresql://user:secret@host/db
    (_compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), rf"\1:{MASK}@", ("://",)),
    # Slack response_url and webhook secrets carry the credential in the path.
    (_compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+"), f"https://hooks.slack.com/{MASK}", ("hooks.slack.com",)),
]


def token_shape(value: str) -> tuple[str, str] | None:
    """(what it looks like, the secret part) when ``value`` holds a token by its shape."""
    lowered = value.lower()
    for what, pattern, literals in TOKEN_SHAPES:
        if any(literal in lowered for literal in literals):
            match = pattern.search(value)
            if match:
                return what, match.group("secret") if "secret" in match.groupdict() else match.group(0)
    return None


_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact this exact value from every output from now on (a token read from a file, say)."""
    if not value or len(value.strip()) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(value.strip())


def clear_secrets() -> None:
    """Forget every registered value (tests)."""
    with _lock:
        _secrets.clear()


def register_env_secrets(env: dict[str, str] | None = None, names: Iterable[str] = SECRET_ENV_NAMES) -> None:
    """Redact the secrets in the environment: each of ``names``, and the content of the file
    any ``*_FILE`` variable names (any secret may come from a file: ``JIRA_API_TOKEN_FILE``)."""
    environment = os.environ if env is None else env
    for name in names:
        register_secret(environment.get(name))
    for name, value in environment.items():
        if name.endswith("_FILE") and value:
            register_secret(read_secret_file(value))


def register_config_secrets(config) -> None:
    """Redact every secret a run with this config can read: the environment's, and ``jira.token_file``."""
    register_env_secrets(config.env)
    token_file = config.settings.jira.token_file
    if token_file:
        register_secret(read_secret_file(config.resolve_path(token_file)))


def read_secret_file(path) -> str | None:
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
    if not text or not isinstance(text, str):
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    lowered = text.lower()
    try:
        for pattern, replacement, literals in _PATTERNS:
            if any(literal in lowered for literal in literals):
                text = pattern.sub(replacement, text)
    except UnicodeEncodeError:
        # RE2 works on UTF-8; a lone surrogate that reached an output is repaired here, then filtered.
        return redact(valid_text(text))
    return text


def redact_value(value: Any) -> Any:
    """``value`` (a JSON-shaped structure) with every string in it redacted; keys are left alone."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item) for item in value]
    return value


class RedactingStream(io.TextIOBase):
    """A text stream that redacts every write before passing it on (the process's stdout/stderr).

    It has no ``buffer``: a write in bytes cannot go around the filter. Click's
    ``echo`` accepts it as a text stream because it has an encoding and errors.
    """

    def __init__(self, stream):
        self.stream = stream

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self):  # noqa: D401 - the wrapped stream's
        return getattr(self.stream, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.stream, "errors", "strict")

    def __getattr__(self, name: str):
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self.stream, name)


def install_streams() -> None:
    """Route ``sys.stdout`` and ``sys.stderr`` through the filter (once; a test runner's swap is kept)."""
    register_env_secrets()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))

"""HTTP to Jira with manners: timeouts, ``Retry-After``, backoff with jitter, one-line errors.

Every request the live source and ``doctor`` make goes through ``Transport``.
It retries what is worth retrying (429, 503 and other 5xx, resets, timeouts)
a bounded number of times, sleeping through an injectable ``sleep`` so tests
never wait, and turns what is not (401, 403, 400, 404) into errors a person
can act on. Secrets never reach a message: only the host and path are named.

Several threads may share one ``Transport`` (the live source reads pages in
parallel). They share one ``RateGate`` too: a ``Retry-After`` on one answer, or
``X-RateLimit-Remaining: 0``, pauses every request until the site said to
come back, not only the one that was told.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from bot.errors import EXIT_ERROR, ConfigError, JiraError, NetworkError, SourceError
from bot.escape import json_needs_repair, valid_json

# Statuses that mean "try again later". 429/503 usually carry Retry-After.
RETRY_AFTER_STATUSES = {429, 503}
BACKOFF_STATUSES = {408, 500, 502, 504}

CREDENTIALS_HINT = ("check JIRA_EMAIL and JIRA_API_TOKEN (Jira Cloud) or JIRA_PAT (Data Center); "
                    "`govbot doctor` checks them")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5        # retries after the first attempt, per request
    backoff_base: float = 1.0   # seconds; doubles each attempt
    backoff_cap: float = 60.0
    max_wait: float = 300.0     # a Retry-After longer than this is a failure, not a nap


# Failures that, before the site has ever answered, mean "wrong URL" rather than "try again".
_FIRST_CONTACT_FATAL = {"connection refused", "connection timed out"}


class UnreachableError(NetworkError):
    """The URL leads nowhere (unknown host, refused, bad TLS): a setting to fix, so exit 2."""

    exit_code = EXIT_ERROR


class JiraHTTPError(JiraError):
    """Jira answered a 4xx. ``status`` and Jira's own ``messages`` let callers add context."""

    def __init__(self, message: str, *, status: int, messages: list[str], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.messages = messages


class _TruncatedJSON(Exception):
    """A JSON answer that does not parse: a connection cut mid-body, worth retrying."""


class RateGate:
    """When the site may be asked again, shared by every thread of one ``Transport``."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None], max_wait: float):
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.lock = threading.Lock()
        self.resume_at = 0.0
        self.owner: int | None = None  # the thread already sleeping through this pause itself
        self.pauses = 0

    def hold_until(self, moment: float, *, mine: bool = False) -> None:
        """No request before ``moment`` (the latest such moment wins). ``mine``: the calling
        thread sleeps through it in its own retry loop, so ``wait`` does not hold it twice."""
        with self.lock:
            if moment > self.resume_at:
                self.resume_at = moment
                self.owner = threading.get_ident() if mine else None
                self.pauses += 1

    def wait(self) -> None:
        with self.lock:
            delay = self.resume_at - self.clock()
            if self.owner == threading.get_ident():
                delay = 0
        if delay > 0:
            self.sleep(min(delay, self.max_wait))

    def note_headers(self, headers) -> None:
        """``X-RateLimit-Remaining: 0`` on any answer: pause until ``X-RateLimit-Reset``
        (an ISO time or an HTTP date; one second when it says nothing usable)."""
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is None or str(remaining).strip() != "0":
            return
        now = self.clock()
        until = _reset_time(headers.get("X-RateLimit-Reset"), now)
        self.hold_until(now + min(until if until is not None else 1.0, self.max_wait))


def _reset_time(value: str | None, now: float) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` time (ISO 8601, like Jira Cloud sends, or Retry-After forms)."""
    if not value:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return parse_retry_after(value, now)
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


class Transport:
    """Send JSON requests to one Jira site through a ``requests`` session (thread-safe)."""

    def __init__(self, session: requests.Session, base_url: str, *, timeout: float = 30,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.requests_sent = 0
        self.retries = 0
        self.gate = RateGate(clock, sleep, self.policy.max_wait)
        self._count_lock = threading.Lock()
        self.answered = False  # has this site ever answered (any status)?
        self.unreadable: list[str] = []  # issues left out of answers because they cannot be decoded

    @property
    def host(self) -> str:
        return display_url(self.base_url)

    def get(self, path: str, params: dict | None = None, *, what: str = "") -> Any:
        return self.request("GET", path, params=params, what=what)

    def post(self, path: str, body: Any, *, params: dict | None = None, what: str = "") -> Any:
        return self.request("POST", path, params=params, body=body, what=what)

    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
                what: str = "") -> Any:
        """The decoded JSON body of a successful answer, after any retries."""
        what = what or f"{method} {path}"
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            self.gate.wait()
            try:
                response = self._send(method, url, params, body)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema):
                raise ConfigError(f"the Jira URL {self.host!r} is not a valid http(s) URL",
                                  hint="set JIRA_URL (or jira.url) to the site's base URL, "
                                       "like https://example.atlassian.net") from None
            except requests.RequestException as error:
                failure = _describe_exception(error)
                # Retrying cannot fix a wrong host name or an untrusted certificate, and
                # a site that has never answered is more likely a wrong URL than a blip.
                if failure == "TLS handshake failed":
                    raise UnreachableError(f"{what}: cannot reach Jira at {self.host} (TLS certificate not "
                                           f"trusted, or the handshake failed)",
                                           hint="check JIRA_URL; for a private CA, point REQUESTS_CA_BUNDLE at "
                                                "its certificate bundle") from None
                if failure == "host name not found" or (not self.answered and failure in _FIRST_CONTACT_FATAL):
                    raise UnreachableError(f"{what}: cannot reach Jira at {self.host} ({failure})",
                                           hint="check JIRA_URL (or jira.url) and that Jira is running") from None
            else:
                self.answered = True
                status = response.status_code
                self.gate.note_headers(response.headers)
                if 200 <= status < 300:
                    try:
                        return self._decode(response, what)
                    except _TruncatedJSON:
                        failure = "answer cut short (invalid JSON)"
                else:
                    failure = f"HTTP {status}"
                if status in RETRY_AFTER_STATUSES:
                    wait = parse_retry_after(response.headers.get("Retry-After"), self.clock())
                    if wait is not None and wait <= self.policy.max_wait:
                        self.gate.hold_until(self.clock() + wait, mine=True)  # the other threads wait too
                elif status not in BACKOFF_STATUSES and not 200 <= status < 300:
                    raise self._client_error(response, what)
            if attempt > self.policy.max_retries:
                raise NetworkError(f"{what}: Jira at {self.host} still failing after {attempt} attempts "
                                   f"(last: {failure})",
                                   hint="check JIRA_URL and your network, or try again later")
            delay = wait if wait is not None else self.backoff(attempt)
            if delay > self.policy.max_wait:
                raise NetworkError(f"{what}: Jira at {self.host} asked to wait {delay:.0f}s before retrying "
                                   f"({failure}); giving up for now",
                                   hint="try again later, or lower the load with jira.projects / jira.jql")
            with self._count_lock:
                self.retries += 1
            self.sleep(delay)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: somewhere in the upper half of base * 2^(n-1)."""
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + self.rng.random() / 2)

    def _send(self, method: str, url: str, params: dict | None, body: Any) -> requests.Response:
        with self._count_lock:
            self.requests_sent += 1
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        # The jira package's ResilientSession.request adds its own retry loop
        # (with real sleeps) and raises JIRAError, whose str() prints request
        # headers - the Authorization header among them. Calling the plain
        # requests implementation keeps its auth, headers and TLS settings but
        # leaves retrying to this class alone.
        return requests.Session.request(self.session, method, url, params=params, data=data,
                                        headers=headers, timeout=self.timeout, allow_redirects=True)

    def _decode(self, response: requests.Response, what: str) -> Any:
        if not response.content:
            return {}
        try:
            # Jira speaks UTF-8; a stray bad byte costs a character, not the answer. A JSON
            # escape for a lone surrogate (or NUL) is repaired here, before the engine or the store.
            text = response.content.decode("utf-8", errors="replace")
            data = json.loads(text)
            return valid_json(data) if json_needs_repair(text) else data
        except json.JSONDecodeError:
            kind = response.headers.get("Content-Type", "unknown content").split(";")[0]
            if "json" in kind:
                raise _TruncatedJSON() from None
            raise JiraError(f"{what}: Jira at {self.host} answered with {kind}, not JSON",
                            hint="check that JIRA_URL is the Jira base URL (a login page or proxy "
                                 "may be answering instead)") from None
        except (RecursionError, ValueError):
            # Valid JSON the decoder cannot build: an issue nested deeper than its
            # recursion limit (hostile ADF), or a number too long to convert.
            return self._decode_leniently(response.content, what)

    def _decode_leniently(self, content: bytes, what: str) -> Any:
        """The answer without the issues that cannot be decoded; each one noted in ``unreadable``."""
        from bot.sources.snapshot import decode_page

        try:
            page, notes = decode_page(content, f"{what}: Jira at {self.host}")
        except (SourceError, RecursionError, ValueError):
            raise JiraError(f"{what}: Jira at {self.host} answered with JSON that cannot be read "
                            f"(nested too deeply, or a number too long)") from None
        self.unreadable.extend(notes)
        return page

    def _client_error(self, response: requests.Response, what: str) -> JiraHTTPError:
        status = response.status_code
        messages = error_messages(response)
        detail = "; ".join(messages)
        if status == 401:
            return JiraHTTPError(f"Jira at {self.host} rejected the credentials (401)",
                                 status=status, messages=messages, hint=CREDENTIALS_HINT)
        if status == 403:
            reason = response.headers.get("X-Authentication-Denied-Reason", "")
            if "CAPTCHA" in reason.upper():
                return JiraHTTPError(f"Jira at {self.host} wants a CAPTCHA answered before it accepts "
                                     f"these credentials again (403)", status=status, messages=messages,
                                     hint="log in to Jira once in a browser, then check JIRA_PAT or "
                                          "JIRA_EMAIL/JIRA_API_TOKEN")
            return JiraHTTPError(f"{what}: Jira at {self.host} refused access (403)"
                                 + (f": {detail}" if detail else ""), status=status, messages=messages,
                                 hint="the user needs Browse Projects on the projects in scope; "
                                      + CREDENTIALS_HINT)
        if status == 410:
            return JiraHTTPError(f"{what}: Jira at {self.host} no longer offers this API (410 Gone)",
                                 status=status, messages=messages,
                                 hint="set jira.deployment to cloud or datacenter to match the site")
        hint = None
        if status == 404 and not detail:
            hint = "check that JIRA_URL is the Jira base URL, including any context path such as /jira"
        return JiraHTTPError(f"{what}: Jira at {self.host} answered {status}" + (f": {detail}" if detail else ""),
                             status=status, messages=messages, hint=hint)


def error_messages(response: requests.Response) -> list[str]:
    """Jira's own error text (``errorMessages`` and ``errors``), trimmed to one line each."""
    try:
        data = valid_json(response.json())
    except ValueError:
        return []
    messages: list[str] = []
    if isinstance(data, dict):
        for message in data.get("errorMessages") or []:
            if isinstance(message, str) and message.strip():
                messages.append(message)
        errors = data.get("errors")
        if isinstance(errors, dict):
            messages.extend(f"{key}: {value}" if not str(value).startswith(str(key)) else str(value)
                            for key, value in errors.items() if isinstance(value, str))
        for key in ("message", "errorMessage"):
            if not messages and isinstance(data.get(key), str):
                messages.append(data[key])
    return [" ".join(message.split())[:500] for message in messages[:10]]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def display_url(url: str) -> str:
    """A URL fit for messages: scheme, host and path, never user:password or a query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if not parts.scheme:
        return url.split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


def _describe_exception(error: requests.RequestException) -> str:
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "no answer within the timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection reset while reading the answer"
    if isinstance(error, requests.exceptions.ConnectionError):
        text = str(error).lower()
        if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "host name not found"
        if "refused" in text:
            return "connection refused"
        if "reset" in text:
            return "connection reset"
        return "connection failed"
    return type(error).__name__

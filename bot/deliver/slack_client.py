"""A thin, careful wrapper around slack-sdk's WebClient.

What it adds: Slack's 429 ``Retry-After`` honoured; at most about one post per
second per channel; errors sorted into what the outbox needs to know - retry
later (Slack down), give up on this message (channel gone), stop the run (bad
token), or *in doubt* (the request may have reached Slack: never blindly
resend, reconcile first). A post is claimed in the outbox just before each
attempt and released before any wait, so a message is never "sending" while
govbot sleeps on a 429 or a refused connection (Slack has certainly not posted
it then). Sleeping and the clock are injectable so tests never wait for real.
The API base URL comes from ``SLACK_API_URL`` / ``slack.api_url`` so tests (and
proxies) can stand in for slack.com.
"""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any, Callable
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deliver.policy import DeliveryError
from bot.errors import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"
AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
               "no_permission", "missing_scope", "not_allowed_token_type", "team_access_not_granted",
               "ekm_access_denied", "org_login_required", "invalid_token"}
# The channel exists in config but Slack will not take posts there: the admin can fix it
# (invite the app, unarchive, correct the name). The message waits in the queue meanwhile.
CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived"}
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
                    "team_added_to_org", "rate_limited"}


# conversations.history, for finding an interrupted post by its metadata: one scope per kind of conversation.
HISTORY_SCOPES = {"im": "im:history", "public": "channels:history", "private": "groups:history"}
# Permanent answers to a history lookup: Slack cannot tell us, now or on a retry.
HISTORY_UNAVAILABLE = {"missing_scope", "not_in_channel", "channel_not_found", "unknown_method",
                       "method_deprecated", "not_allowed_token_type", "no_permission"}


class SlackError(DeliveryError):
    """A Slack call failed. ``code`` is Slack's error string (or a description)."""

    needed: str | None = None  # the scope Slack said it needs (``missing_scope``)


class SlackUnavailable(SlackError):
    retryable = True


class SlackInDoubt(SlackError):
    retryable = True
    in_doubt = True


class SlackAuthError(SlackError):
    fatal = True


class SlackChannelError(SlackError):
    """Slack refused the channel (not found, app not in it, archived): kept queued, the admin must act."""

    blocked = True


class ClaimLost(SlackError):
    """Another process claimed the message between two attempts: it is theirs to send."""


class Claim:
    """What ``post_message`` calls around each attempt: ``take()`` just before the request
    (False: someone else has it), ``release(why)`` after an attempt that certainly did not
    reach Slack, before any wait."""

    def take(self) -> bool:  # pragma: no cover - interface
        return True

    def release(self, why: str) -> None:  # pragma: no cover - interface
        pass


def api_url(config=None, env: dict[str, str] | None = None) -> str:
    """``SLACK_API_URL`` (environment) or ``slack.api_url`` or slack.com, ending in ``/api/``."""
    environment = env if env is not None else (config.env if config is not None else {})
    configured = environment.get("SLACK_API_URL") or (
        config.settings.slack.api_url if config is not None else None)
    if not configured:
        return DEFAULT_API_URL
    parts = urlsplit(str(configured).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Slack API URL {configured!r} is not an http(s) URL",
                          hint="set SLACK_API_URL (or slack.api_url) like https://slack.com/api/")
    path = parts.path.rstrip("/")
    if not path:
        path = "/api"
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


class SlackClient:
    """The Slack Web API calls govbot makes, with rate limits and error sorting."""

    def __init__(self, token: str, base_url: str = DEFAULT_API_URL, *, timeout: float = 20,
                 max_retries: int = 4, max_wait_seconds: float = 120, channel_interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.web = WebClient(token=token, base_url=base_url, timeout=int(max(1, timeout)), retry_handlers=[])
        self.base_url = base_url
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self.channel_interval = channel_interval
        self.sleep = sleep
        self.clock = clock
        self._last_post: dict[str, float] = {}
        self.calls = 0
        self.history_problem: str | None = None  # why the last find_message could not tell

    @classmethod
    def from_config(cls, config, **overrides) -> "SlackClient":
        token = config.secret("SLACK_BOT_TOKEN")
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is not set; it is needed to send Slack messages",
                              hint="export SLACK_BOT_TOKEN=xoxb-... (or SLACK_BOT_TOKEN_FILE), "
                                   "or leave out --apply to see what would be sent")
        slack = config.settings.slack
        settings = {"timeout": slack.timeout_seconds, "max_retries": slack.max_retries,
                    "channel_interval": slack.seconds_between_posts}
        settings.update(overrides)
        return cls(token, api_url(config), **settings)

    # -- calls -------------------------------------------------------------------------------------
    def post_message(self, channel: str, text: str, blocks: list[dict], *,
                     metadata: dict | None = None, claim: Claim | None = None) -> tuple[str, str]:
        """Post once; returns (channel id, ts). Never retried after the request may have landed:
        a server error or a lost answer raises ``SlackInDoubt``.

        ``claim`` is taken just before each attempt and released after one Slack
        certainly did not act on (429, connection refused), before the wait.
        """
        self._pace(channel)
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks,
                                  "unfurl_links": False, "unfurl_media": False}
        if metadata:
            kwargs["metadata"] = metadata

        def before() -> None:
            if claim is not None and not claim.take():
                raise ClaimLost("claimed", "another govbot process is sending this message")

        response = self._call(self.web.chat_postMessage, idempotent=False, before=before,
                              not_sent=claim.release if claim is not None else None, **kwargs)
        self._last_post[channel] = self.clock()
        return str(response.get("channel") or channel), str(response.get("ts") or "")

    def update_message(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._pace(channel)
        self._call(self.web.chat_update, idempotent=True, channel=channel, ts=ts, text=text, blocks=blocks)
        self._last_post[channel] = self.clock()

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user id for an email address, or None when Slack has no such user."""
        try:
            response = self._call(self.web.users_lookupByEmail, idempotent=True, email=email)
        except SlackError as error:
            if error.code in ("users_not_found", "user_not_found"):
                return None
            raise
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None
        return user.get("id")

    def open_dm(self, user_id: str) -> str:
        response = self._call(self.web.conversations_open, idempotent=True, users=user_id)
        return str((response.get("channel") or {}).get("id") or user_id)

    def find_message(self, channel: str, oldest: float, event_type: str, key: str) -> bool | None:
        """Whether a message carrying our metadata (``event_type``, ``key``) is in ``channel`` since ``oldest``.

        Reads that one conversation's history, with ``include_all_metadata``.
        None when Slack cannot tell us, now or later (a missing history scope, a
        conversation the app cannot read): the caller decides without proof, and
        ``history_problem`` says why. Slack down or busy raises ``SlackUnavailable``:
        ask again on the next run. A revoked token raises ``SlackAuthError``.
        """
        cursor = None
        self.history_problem = None
        try:
            for _ in range(20):
                response = self._call(self.web.conversations_history, idempotent=True, channel=channel,
                                      oldest=f"{max(0.0, oldest):.6f}", include_all_metadata=True, limit=200,
                                      cursor=cursor)
                for message in response.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    payload = metadata.get("event_payload") or {}
                    if metadata.get("event_type") == event_type and payload.get("key") == key:
                        return True
                cursor = ((response.get("response_metadata") or {}).get("next_cursor")) or None
                if not cursor:
                    return False
        except (SlackUnavailable, ClaimLost):
            raise
        except SlackError as error:
            if error.code not in HISTORY_UNAVAILABLE and error.fatal:
                raise
            self.history_problem = error.code + (f" (needs {error.needed})" if error.needed else "")
            return None
        self.history_problem = "history too long to search"
        return None

    def scopes(self) -> set[str] | None:
        """The bot token's scopes, from the ``X-OAuth-Scopes`` header Slack sends; None if it sends none."""
        response = self._call(self.web.auth_test, idempotent=True)
        headers = {str(name).lower(): value for name, value in (getattr(response, "headers", None) or {}).items()}
        value = headers.get("x-oauth-scopes")
        if isinstance(value, list):
            value = ",".join(value)
        if value is None:
            return None
        return {scope.strip() for scope in str(value).split(",") if scope.strip()}

    def auth_test(self) -> dict:
        return dict(self._call(self.web.auth_test, idempotent=True).data)

    # -- machinery ------------------------------------------------------------------------------------
    def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            wait = self.channel_interval - (self.clock() - last)
            if wait > 0:
                self.sleep(wait)

    def _call(self, method: Callable, *, idempotent: bool, before: Callable[[], None] | None = None,
              not_sent: Callable[[str], None] | None = None, **kwargs):
        """Call ``method``, retrying what is safe to retry.

        Rate limits (Slack refused before doing anything) and connections that
        never reached Slack are retried for every call. Server errors and lost
        answers are retried only for ``idempotent`` calls; for the others they
        raise ``SlackInDoubt``, never a blind second attempt. ``before`` runs just
        before each attempt; ``not_sent`` after an attempt Slack certainly did not
        act on, before waiting or giving up.
        """
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            if before is not None:
                before()
            try:
                return method(**kwargs)
            except SlackApiError as error:
                response = error.response
                status = getattr(response, "status_code", 200)
                code = _error_code(response)
                if status == 429 or code in ("ratelimited", "rate_limited"):
                    wait = _retry_after(response)
                    if not_sent is not None:
                        not_sent(f"rate limited: Slack asked to wait {wait:g}s")
                    if wait > self.max_wait_seconds or attempt > self.max_retries:
                        raise SlackUnavailable("rate_limited", f"Slack asked to wait {wait:.0f}s") from None
                    self.sleep(wait)
                    continue
                if status >= 500 or code in TRANSIENT_ERRORS:
                    if not idempotent:
                        # Slack may have done it before failing ("it's possible some aspect of the
                        # operation succeeded"): the outbox checks the channel before any resend.
                        raise SlackInDoubt(code or f"http_{status}", "Slack failed while handling the request; "
                                                                      "the message may or may not have been "
                                                                      "posted") from None
                    if attempt > self.max_retries:
                        raise SlackUnavailable(code or f"http_{status}", "Slack is unavailable") from None
                    self.sleep(min(2 ** attempt, 30))
                    continue
                if code in AUTH_ERRORS or status in (401, 403):
                    failure = SlackAuthError(code or f"http_{status}", _auth_hint(code, _needed(response)))
                    failure.needed = _needed(response)
                    raise failure from None
                if code in CHANNEL_ERRORS:
                    raise SlackChannelError(code, _channel_hint(code, kwargs.get("channel"))) from None
                raise SlackError(code or f"http_{status}") from None
            except (URLError, OSError, http.client.HTTPException) as error:
                if _never_sent(error):
                    if not_sent is not None:
                        not_sent(f"not sent: {_describe(error)}")
                    if attempt > self.max_retries:
                        raise SlackUnavailable("unreachable", f"cannot reach {self.base_url}: "
                                                              f"{_describe(error)}") from None
                    self.sleep(min(2 ** attempt, 30))
                    continue
                if idempotent and attempt <= self.max_retries:
                    self.sleep(min(2 ** attempt, 30))
                    continue
                if idempotent:
                    raise SlackUnavailable("unreachable", _describe(error)) from None
                raise SlackInDoubt("no_response", f"{_describe(error)}; the message may or may not have "
                                                  "been posted") from None


class ReadOnlySlack:
    """The calls a dry run may make: look users up, read history, read scopes. It cannot post."""

    def __init__(self, client: SlackClient):
        self.client = client

    @property
    def history_problem(self) -> str | None:
        return self.client.history_problem

    def lookup_user_by_email(self, email: str) -> str | None:
        return self.client.lookup_user_by_email(email)

    def find_message(self, channel: str, oldest: float, event_type: str, key: str) -> bool | None:
        return self.client.find_message(channel, oldest, event_type, key)

    def scopes(self) -> set[str] | None:
        return self.client.scopes()

    def post_message(self, *args, **kwargs):
        raise RuntimeError("a dry run never posts to Slack")

    update_message = open_dm = post_message


def _error_code(response) -> str:
    try:
        data = response.data if hasattr(response, "data") else response
        if isinstance(data, dict):
            return str(data.get("error") or "")
    except Exception:  # noqa: BLE001 - odd bodies are just "no code"
        pass
    return ""


def _retry_after(response) -> float:
    headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def _never_sent(error: BaseException) -> bool:
    """True when the request certainly did not reach Slack (refused, DNS, no route)."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
        return True
    if isinstance(reason, OSError) and getattr(reason, "errno", None) in (101, 111, 113, 61, 65):
        return True
    return False


def _describe(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error) or type(error).__name__


def _channel_hint(code: str, channel) -> str:
    where = f"channel {channel}" if channel else "the channel"
    if code == "not_in_channel":
        return f"invite the govbot app to {where}"
    if code == "is_archived":
        return f"{where} is archived; unarchive it or change the team's channel"
    return f"{where} does not exist or is private; check teams.<name>.channel / slack.admin_channel"


def _needed(response) -> str | None:
    try:
        data = response.data if hasattr(response, "data") else response
        return str(data.get("needed")) if isinstance(data, dict) and data.get("needed") else None
    except Exception:  # noqa: BLE001 - odd bodies name no scope
        return None


def _auth_hint(code: str, needed: str | None = None) -> str:
    if code == "missing_scope":
        if needed:
            return f"the Slack app lacks the scope {needed}; add it in deploy/slack-app-manifest.yaml and reinstall"
        return "the Slack app lacks a scope it needs (chat:write, im:write, users:read.email)"
    return "check SLACK_BOT_TOKEN: it is missing, wrong or revoked"

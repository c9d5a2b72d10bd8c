"""A thin, careful wrapper around slack-sdk's WebClient.

What it adds: Slack's 429 ``Retry-After`` honoured; at most about one post per
second per channel; errors sorted into what the outbox needs to know - retry
later (Slack down), give up on this message (channel gone), stop the run (bad
token), or *in doubt* (the request may have reached Slack: never blindly
resend, reconcile first). Sleeping and the clock are injectable so tests never
wait for real. The API base URL comes from ``SLACK_API_URL`` / ``slack.api_url``
so tests (and proxies) can stand in for slack.com.
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


class SlackError(DeliveryError):
    """A Slack call failed. ``code`` is Slack's error string (or a description)."""


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


def api_url(config=None, env: dict[str, str] | None = None) -> str:
    """``SLACK_API_URL`` (environment) or ``slack.api_url`` or slack.com, ending in ``/api/``."""
    environment = env if env is not None else (config.env if config is not None else {})
    configured = environment.get("SLACK_API_URL") or (
        (config.section("slack") or {}).get("api_url") if config is not None else None)
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

    @classmethod
    def from_config(cls, config, **overrides) -> "SlackClient":
        token = config.secret("SLACK_BOT_TOKEN")
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is not set; it is needed to send Slack messages",
                              hint="export SLACK_BOT_TOKEN=xoxb-... (or SLACK_BOT_TOKEN_FILE), "
                                   "or leave out --apply to see what would be sent")
        slack = config.section("slack") or {}
        settings = {"timeout": slack.get("timeout_seconds", 20), "max_retries": slack.get("max_retries", 4),
                    "channel_interval": slack.get("seconds_between_posts", 1.0)}
        settings.update(overrides)
        return cls(token, api_url(config), **settings)

    # -- calls -------------------------------------------------------------------------------------
    def post_message(self, channel: str, text: str, blocks: list[dict], *,
                     metadata: dict | None = None) -> tuple[str, str]:
        """Post once; returns (channel id, ts). Never retried after the request may have landed:
        a server error or a lost answer raises ``SlackInDoubt``."""
        self._pace(channel)
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks,
                                  "unfurl_links": False, "unfurl_media": False}
        if metadata:
            kwargs["metadata"] = metadata
        response = self._call(self.web.chat_postMessage, idempotent=False, **kwargs)
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
        """Whether a message carrying our metadata key is in ``channel`` since ``oldest``.

        None when Slack cannot tell us (method unavailable, missing scope...):
        the caller must then decide without knowing.
        """
        cursor = None
        try:
            for _ in range(10):
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
        except SlackError:
            return None
        return None

    def auth_test(self) -> dict:
        return dict(self._call(self.web.auth_test, idempotent=True).data)

    # -- machinery ------------------------------------------------------------------------------------
    def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            wait = self.channel_interval - (self.clock() - last)
            if wait > 0:
                self.sleep(wait)

    def _call(self, method: Callable, *, idempotent: bool, **kwargs):
        """Call ``method``, retrying what is safe to retry.

        Rate limits (Slack refused before doing anything) and connections that
        never reached Slack are retried for every call. Server errors and lost
        answers are retried only for ``idempotent`` calls; for the others they
        raise ``SlackInDoubt``, never a blind second attempt.
        """
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                return method(**kwargs)
            except SlackApiError as error:
                response = error.response
                status = getattr(response, "status_code", 200)
                code = _error_code(response)
                if status == 429 or code in ("ratelimited", "rate_limited"):
                    wait = _retry_after(response)
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
                    raise SlackAuthError(code or f"http_{status}", _auth_hint(code)) from None
                if code in CHANNEL_ERRORS:
                    raise SlackChannelError(code, _channel_hint(code, kwargs.get("channel"))) from None
                raise SlackError(code or f"http_{status}") from None
            except (URLError, OSError, http.client.HTTPException) as error:
                if _never_sent(error):
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


def _auth_hint(code: str) -> str:
    if code == "missing_scope":
        return "the Slack app lacks a scope it needs (chat:write, im:write, users:read.email)"
    return "check SLACK_BOT_TOKEN: it is missing, wrong or revoked"

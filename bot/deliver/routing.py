"""Who hears about a finding, and where.

The engine already chose the owner (the rule's owner fields: outcome owner,
assignee, reporter). Here the Jira user becomes a Slack user: first by the
admin's mapping file (``slack.user_map_file``: Jira accountId, username or
email -> Slack user id), then by ``users.lookupByEmail`` when Jira shows the
email (cached in the store). Display names are never used to match anyone.
An owner we cannot map, or no owner at all, goes to the team channel without
a mention, and is listed for admins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from bot.errors import ConfigError
from bot.validation import validate
from bot.yamlfile import DiagnosticError, load

SLACK_USER_ID = r"^[UW][A-Z0-9]{2,}$"
FOUND_TTL = timedelta(days=30)
NOT_FOUND_TTL = timedelta(days=1)

USER_MAP_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "pattern": SLACK_USER_ID,
                             "description": "a Slack user id like U0123ABCD (not a name or @handle)"},
}


@dataclass(frozen=True)
class Route:
    """Where one finding's nudge goes."""

    kind: str                  # "dm" | "channel" | "nowhere"
    target: str | None         # Slack user id, or channel, or None
    person: str | None         # the Jira user id the DM is about (None for channel routes)
    via: str                   # "user map", "email", "cache", "no owner", "unmapped", ...
    email: str | None = None   # when the Slack id will be looked up at send time (dry runs without a token)

    @property
    def label(self) -> str:
        if self.kind == "dm" and self.target:
            return f"DM {self.target} via {self.via}"
        if self.kind == "dm":
            return f"DM via {self.email}, looked up when sent"
        if self.kind == "channel":
            return f"channel {self.target} ({self.via})"
        return f"nowhere ({self.via})"


def load_user_map(path) -> dict[str, str]:
    """The mapping file: ``jira-account-id-or-username-or-email: U0123ABCD``."""
    try:
        document = load(path)
    except DiagnosticError as error:
        raise ConfigError(str(error)) from None
    data = document.data or {}
    if isinstance(data, dict) and isinstance(data.get("users"), dict) and len(data) == 1:
        data = data["users"]
        document.value_marks = {key[1:]: mark for key, mark in document.value_marks.items() if key[:1] == ("users",)}
        document.key_marks = {key[1:]: mark for key, mark in document.key_marks.items() if key[:1] == ("users",)}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the Slack user map must be a mapping of Jira user to Slack user id",
                          hint="for example:  5b10ac8d82e05b22cc7d4ef5: U0123ABCD")
    diagnostics = validate(document, USER_MAP_SCHEMA, data, what="user map:")
    if diagnostics:
        raise ConfigError("\n".join(d.render() for d in diagnostics))
    return {str(key).strip().casefold(): value for key, value in data.items()}


class Router:
    """Routes findings to Slack users or team channels, remembering email lookups."""

    def __init__(self, config, *, store=None, lookup: Callable[[str], str | None] | None = None,
                 user_map: dict[str, str] | None = None, now: datetime | None = None, remember: bool = True):
        self.config = config
        self.store = store
        self.lookup = lookup
        self.now = now
        self.remember = remember  # keep email lookups in the store's cache (not in dry runs: they write nothing)
        if user_map is None:
            path = config.resolve_path(config.settings.slack.user_map_file)
            if path is not None and not path.exists():
                raise ConfigError(f"slack.user_map_file: {path} not found",
                                  hint=f"create it or remove the setting ({config.position('slack', 'user_map_file')})")
            user_map = load_user_map(path) if path is not None else {}
        self.user_map = user_map
        self.unmapped: dict[str, str] = {}  # Jira user id -> why it could not be mapped
        self._memo: dict[str, tuple[str | None, str]] = {}

    def team_channel(self, team: str | None) -> str | None:
        teams = self.config.section("teams") or {}
        spec = teams.get(team or "") or {}
        return spec.get("channel") or self.config.settings.slack.default_channel

    def route(self, finding) -> Route:
        owner = finding.owner
        channel = self.team_channel(finding.team)
        if owner is None or not owner.id:
            return self._to_channel(channel, "no owner")
        slack_id, via = self.slack_user(owner)
        if slack_id:
            return Route("dm", slack_id, owner.id, via)
        if via == "lookup at send time":
            return Route("dm", None, owner.id, via, email=owner.email)
        self.unmapped[owner.id] = via
        return self._to_channel(channel, f"owner unmapped: {via}")

    def _to_channel(self, channel: str | None, why: str) -> Route:
        if channel:
            return Route("channel", channel, None, why)
        return Route("nowhere", None, None, f"{why}, and the team has no channel")

    def slack_user(self, owner) -> tuple[str | None, str]:
        """(Slack user id or None, how it was found or why not)."""
        if owner.id in self._memo:
            return self._memo[owner.id]
        answer = self._resolve(owner)
        self._memo[owner.id] = answer
        return answer

    def _resolve(self, owner) -> tuple[str | None, str]:
        for candidate in (owner.account_id, owner.name, owner.email):
            if candidate and candidate.strip().casefold() in self.user_map:
                return self.user_map[candidate.strip().casefold()], "user map"
        if not owner.email:
            return None, "no email visible in Jira and not in slack.user_map_file"
        if not _looks_like_email(owner.email):
            return None, "Jira email is not an address"
        cached = self.store.cached_slack_user(owner.id) if self.store is not None else None
        now = self.now
        if cached is not None and now is not None:
            slack_id, looked_up_at, email = cached
            fresh = now - looked_up_at < (FOUND_TTL if slack_id else NOT_FOUND_TTL)
            if fresh and (email or "").casefold() == owner.email.casefold():
                return (slack_id, "email (cached)") if slack_id else (None, "email not found in Slack")
        if self.lookup is None:
            return None, "lookup at send time"
        slack_id = self.lookup(owner.email)
        if self.store is not None and now is not None and self.remember:
            self.store.cache_slack_user(owner.id, owner.email, slack_id, now)
        return (slack_id, "email") if slack_id else (None, "email not found in Slack")


def _looks_like_email(value: str) -> bool:
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()) is not None

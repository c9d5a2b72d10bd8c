"""Who may change an issue from Slack: the people who may edit it in Jira, and govbot's admins.

Slack user -> e-mail (``users.info``, as routing matches people by e-mail) ->
the one active Jira user with that address -> Jira's own permission check for
that user and issue (Edit Issues). A configured admin (``service.admins``,
Slack user ids) may act on any issue. Every other answer, including "cannot
tell" (no e-mail visible, Jira hides addresses, Jira down), is no: a button
never lets anyone do what Jira would not let them do.

Answers are kept for a few minutes, so one person's clicks and submission cost
one round of look-ups.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from bot.errors import GovbotError

log = logging.getLogger("govbot.access")

CACHE_SECONDS = 300


@dataclass(frozen=True)
class Decision:
    allowed: bool
    who: str                 # how govbot names the person (Slack name, or id)
    jira_user: dict | None = None
    why: str = ""            # for the log, when refused
    admin: bool = False


def refusal_text(key: str) -> str:
    return f"Sorry, only people who can edit {key} in Jira can change it here."


class Access:
    """``decide(slack_user_id, issue_key)`` -> Decision."""

    def __init__(self, *, slack_user: Callable[[str], dict[str, Any] | None], editor: Callable[[], Any],
                 admins: list[str] | tuple[str, ...] = (), user_map: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.slack_user = slack_user      # users.info: the user object, or None
        self.editor = editor              # a JiraEditor (made lazily: Jira may be down at start)
        self.admins = {str(admin) for admin in admins}
        # slack.user_map_file read backwards: Slack id -> the Jira account id, username or e-mail it maps.
        self.mapped: dict[str, str] = {}
        for jira_id, slack_id in (user_map or {}).items():
            self.mapped.setdefault(str(slack_id), str(jira_id))
        self.clock = clock
        self._lock = threading.Lock()
        self._people: dict[str, tuple[float, str, dict | None, str]] = {}  # slack id -> (at, name, jira user, why)
        self._edits: dict[tuple[str, str], tuple[float, bool]] = {}

    def decide(self, user_id: str, key: str) -> Decision:
        name, jira_user, why = self._person(user_id)
        if user_id in self.admins:
            return Decision(True, name, jira_user, admin=True)
        if jira_user is None:
            return Decision(False, name, None, why)
        try:
            allowed = self._can_edit(user_id, key, jira_user)
        except GovbotError as error:
            log.warning("access: cannot check who may edit %s (%s)", key, error.message)
            return Decision(False, name, jira_user, f"Jira could not say ({error.message})")
        return Decision(allowed, name, jira_user, "" if allowed else "no Edit Issues permission in Jira")

    def refusal(self, user_id: str, key: str) -> str | None:
        """None when the person may act on ``key``, else the polite one-line answer."""
        decision = self.decide(user_id, key)
        if decision.allowed:
            return None
        log.info("access: %s may not change %s (%s)", user_id, key, decision.why,
                 extra={"user": user_id, "issue": key})
        return refusal_text(key)

    # -- look-ups, cached --------------------------------------------------------------------------
    def _person(self, user_id: str) -> tuple[str, dict | None, str]:
        now = self.clock()
        with self._lock:
            cached = self._people.get(user_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1], cached[2], cached[3]
        name, jira_user, why = f"Slack user {user_id}", None, ""
        try:
            user = self.slack_user(user_id) or {}
        except Exception as error:  # noqa: BLE001 - Slack trouble means "cannot tell": refused, logged
            log.warning("access: cannot read Slack user %s (%s)", user_id, error)
            return name, None, "Slack could not say who this is"
        profile = user.get("profile") or {}
        name = str(profile.get("real_name") or user.get("real_name") or user.get("name") or name)
        email = str(profile.get("email") or "").strip()
        mapped = self.mapped.get(user_id)
        if mapped and "@" in mapped and not email:
            email = mapped
        if user.get("deleted") or user.get("is_bot"):
            why = "not a person"
        elif mapped and "@" not in mapped:
            jira_user = self.editor().user_by_id(mapped)  # the mapping file says who this is in Jira
        elif not email:
            why = "no e-mail visible in Slack"
        else:
            try:
                jira_user = self.editor().find_user(email)
                why = "" if jira_user else "no Jira user with that e-mail"
            except GovbotError as error:
                log.warning("access: cannot look up a Jira user (%s)", error.message)
                return name, None, f"Jira could not say ({error.message})"
        with self._lock:
            self._people[user_id] = (now, name, jira_user, why)
        return name, jira_user, why

    def _can_edit(self, user_id: str, key: str, jira_user: dict) -> bool:
        now = self.clock()
        with self._lock:
            cached = self._edits.get((user_id, key))
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        allowed = bool(self.editor().can_edit(key, jira_user))
        with self._lock:
            self._edits[(user_id, key)] = (now, allowed)
        return allowed

    def forget(self, user_id: str, key: str) -> None:
        """Ask Jira again next time (after Jira refused an edit this person was thought allowed)."""
        with self._lock:
            self._edits.pop((user_id, key), None)

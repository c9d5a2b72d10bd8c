"""Editing one issue for a person who acted in Slack: who they are in Jira, whether they may edit it,
the edit itself (a custom field, or a description section), and govbot's comment saying so.

Over the live source's connection and transport (retries, Retry-After, errors
that name the host, never a secret). Cloud speaks REST v3 (ADF), Data Center
REST v2 (wiki markup). Where a value goes follows the rules' own lookup: the
first of the logical field's names (``fields:`` synonyms) that is a text field
on this site, else the description section of that name.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from bot.deliver import writeback
from bot.errors import GovbotError
from bot.escape import strip_controls, wiki_escape
from bot.sources.fields import FieldCatalog
from bot.sources.http import JiraHTTPError, Transport
from bot.sources.jira import JiraSource

TEXTAREA = "com.atlassian.jira.plugin.system.customfieldtypes:textarea"
TEXTFIELD = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
DATE_PICKER = "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"
SINGLE_LINE_LIMIT = 255
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EditRefused(GovbotError):
    """Jira would not take the edit; ``message`` says why in one line, fit to show the person."""


class IssueGone(GovbotError):
    """The issue is deleted, or govbot can no longer see it."""


@dataclass
class Write:
    """What one submission changes: field values and, if any sections, the new description."""

    fields: dict[str, Any] = field(default_factory=dict)
    where: list[str] = field(default_factory=list)      # "the Anticipated Outcome field", "the Reason section"
    sections: list[tuple[str, str]] = field(default_factory=list)  # (logical name, value) for the description

    def update(self) -> dict[str, Any]:
        return dict(self.fields)


class JiraEditor:
    """The calls behind one action from Slack."""

    def __init__(self, source: JiraSource):
        self.source = source
        self.config = source.config
        self.transport = source.transport
        # A comment is created once: an answer lost on the way may still have created it.
        self._send_once = Transport(self.transport.session, self.transport.base_url,
                                    timeout=self.transport.timeout,
                                    policy=dataclasses.replace(self.transport.policy, max_retries=0),
                                    sleep=self.transport.sleep, clock=self.transport.clock, rng=self.transport.rng)

    @classmethod
    def from_config(cls, config, **source_options) -> "JiraEditor":
        return cls(JiraSource.from_config(config, **source_options))

    @property
    def cloud(self) -> bool:
        return self.source.is_cloud

    @property
    def version(self) -> str:
        return "3" if self.cloud else "2"

    def catalog(self) -> FieldCatalog:
        return self.source.field_catalog()

    def _issue_path(self, key: str, *rest: str) -> str:
        return f"/rest/api/{self.version}/issue/" + "/".join(quote(str(part), safe="") for part in (key, *rest))

    # -- reading ------------------------------------------------------------------------------------
    def issue(self, key: str, field_ids: list[str]) -> dict[str, Any]:
        """The issue's ``fields`` (only those asked for). Raises ``IssueGone`` for a deleted issue."""
        with _gone_on_404(key):
            data = self.transport.get(self._issue_path(key), {"fields": ",".join(field_ids or ["summary"])},
                                      what=f"reading {key}")
        return data.get("fields") or {} if isinstance(data, dict) else {}

    # -- who may act ------------------------------------------------------------------------------
    def find_user(self, email: str) -> dict[str, Any] | None:
        """The active Jira user with this e-mail address, or None (none, or Jira hides addresses)."""
        if self.cloud:
            found = self.transport.get("/rest/api/3/user/search", {"query": email, "maxResults": 10},
                                       what="finding a Jira user by e-mail")
        else:
            found = self.transport.get("/rest/api/2/user/search", {"username": email, "maxResults": 10},
                                       what="finding a Jira user by e-mail")
        users = [user for user in found if isinstance(user, dict) and user.get("active", True)
                 and user.get("accountType", "atlassian") == "atlassian"] if isinstance(found, list) else []
        wanted = email.strip().casefold()
        matching = [user for user in users if str(user.get("emailAddress") or "").casefold() == wanted]
        if len(matching) == 1:
            return matching[0]
        # Most Cloud sites hide addresses from the API: the search still matches on the address, but the
        # answer leaves it out. One person found, with no address shown, is that person; several are not.
        hidden = [user for user in users if not user.get("emailAddress")]
        return hidden[0] if not matching and len(users) == 1 and len(hidden) == 1 else None

    def user_by_id(self, ident: str) -> dict[str, Any]:
        """A Jira user named by the Slack user map (an accountId on Cloud, a username on Data Center)."""
        return {"accountId": ident} if self.cloud else {"name": ident}

    def can_edit(self, key: str, user: dict[str, Any]) -> bool:
        """Jira's own answer: does this user hold Edit Issues on this issue?"""
        params: dict[str, Any] = {"permissions": "EDIT_ISSUES", "issueKey": key, "maxResults": 50}
        if self.cloud:
            if not user.get("accountId"):
                return False
            params["accountId"] = user["accountId"]
            path = "/rest/api/3/user/permission/search"
        else:
            name = user.get("name") or user.get("key")
            if not name:
                return False
            params["username"] = name
            path = "/rest/api/2/user/permission/search"
        with _gone_on_404(key):
            found = self.transport.get(path, params, what=f"checking who may edit {key}")
        users = found if isinstance(found, list) else []
        ident = ("accountId", user.get("accountId")) if self.cloud else ("name", user.get("name") or user.get("key"))
        return any(isinstance(other, dict) and (other.get(ident[0]) == ident[1] or
                                                (not self.cloud and other.get("key") == user.get("key")))
                   for other in users)

    # -- writing ----------------------------------------------------------------------------------
    def plan(self, key: str, values: list[tuple[str, str]]) -> Write:
        """Where each (logical name, value) goes on this site, and the new description when sections change."""
        catalog = self.catalog()
        write = Write()
        for logical, value in values:
            target = self._text_field(catalog, logical, value)
            if target is not None:
                field_id, encoded, name = target
                write.fields[field_id] = encoded
                write.where.append(f"the {name} field")
            else:
                write.sections.append((logical, value))
                write.where.append(f"the {logical} section of the description")
        if write.sections:
            description = self.issue(key, ["description"]).get("description")
            for logical, value in write.sections:
                names = self.config.synonyms(logical)
                if self.cloud:
                    description, _ = writeback.set_adf_section(description, names, logical, value)
                else:
                    description, _ = writeback.set_wiki_section(description, names, logical, value)
            write.fields["description"] = description
        return write

    def where(self, key: str, logical_names: Iterable[str]) -> list[str]:
        """Where each logical field would be written, in words (said in the modal before anything changes)."""
        catalog = self.catalog()
        out = []
        for logical in logical_names:
            target = self._text_field(catalog, logical, "x")
            out.append(f"the {target[2]} field" if target else f"the {logical} section of the description")
        return out

    def _text_field(self, catalog: FieldCatalog, logical: str, value: str) -> tuple[str, Any, str] | None:
        """(field id, value as that field takes it, its name) for the first custom text field of these names."""
        for name in self.config.synonyms(logical):
            for field_id in catalog.ids_for(name):
                info = catalog.get(field_id)
                if info is None or not info.custom:
                    continue
                schema = info.schema or {}
                custom = str(schema.get("custom") or "")
                if custom == DATE_PICKER or schema.get("type") == "date":
                    if _DATE.match(value.strip()):
                        return field_id, value.strip(), info.name
                    continue
                if schema.get("type") not in ("string", None, "any") or (custom and custom not in (TEXTAREA, TEXTFIELD)):
                    continue  # a select, a user picker, a number: not where govbot writes text
                if custom == TEXTFIELD:
                    return field_id, writeback.plain_line(value, SINGLE_LINE_LIMIT), info.name
                if self.cloud:
                    return field_id, writeback.adf_document(value), info.name
                return field_id, writeback.wiki_text(value), info.name
        return None

    def edit(self, key: str, fields: dict[str, Any]) -> None:
        """One PUT with every change. Jira refusing it raises ``EditRefused`` with its reason."""
        # Watchers are notified as for any edit (silencing them needs admin rights, and they should know).
        try:
            with _gone_on_404(key):
                self.transport.request("PUT", self._issue_path(key), body={"fields": fields}, what=f"editing {key}")
        except JiraHTTPError as error:
            raise EditRefused(refusal(key, error)) from None

    def comment(self, key: str, who: str, where: list[str]) -> None:
        """govbot's comment: who wrote what, from Slack. Sent once, never retried blindly."""
        text = f"{who} wrote {', '.join(where)} from Slack, through govbot."
        if self.cloud:
            body: Any = {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": strip_controls(text)}]}]}
        else:
            body = wiki_escape(text)
        self._send_once.post(self._issue_path(key, "comment"), {"body": body}, what=f"commenting on {key}")


@contextmanager
def _gone_on_404(key: str) -> Iterator[None]:
    """Jira's 404 for an issue means deleted (or hidden from govbot's user): ``IssueGone``."""
    try:
        yield
    except JiraHTTPError as error:
        if error.status == 404:
            raise IssueGone(f"{key} no longer exists in Jira (or govbot cannot see it)") from None
        raise


def refusal(key: str, error: JiraHTTPError) -> str:
    """Jira's refusal of an edit in one line, for the person who tried."""
    detail = "; ".join(" ".join(str(message).split()) for message in error.messages)[:300]
    if error.status == 403:
        return f"Jira refused the edit of {key}: govbot's Jira user may not edit it" + (f" ({detail})" if detail else "")
    if error.status == 400:
        return f"Jira refused the edit of {key}" + (f": {detail}" if detail else " (a field not on the edit screen, "
                                                                                   "or a workflow that locks it)")
    return f"Jira refused the edit of {key} (HTTP {error.status})" + (f": {detail}" if detail else "")

"""The buttons on a nudge and the modals they open, as Block Kit data.

Per item: one fix button when govbot can write the missing value itself ("Add
the anticipated outcome", "Record the actual outcome", "Document the
agreement"), "Snooze", "Not mine" (DMs only) and "Open in Jira" (a link).

A button's ``value`` carries ids only: the issue key, the rule id and the
finding's fingerprint, never text from Jira; the handler (``bot.service.actions``)
reads everything else again from the store and Jira, so a stale or forged
value can do no more than name a finding. A modal's ``private_metadata`` holds
the same ids plus where the original message is (channel, ts), for the
``chat.update`` that shows the fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.deliver.questions import family_of

FIX = "govbot.fix"
SNOOZE = "govbot.snooze"
NOT_MINE = "govbot.not_mine"
OPEN = "govbot.open"
# Every action id is ``<kind>:<finding>``: Slack wants action ids unique within a message.
ACTION_ID = re.compile(r"^(govbot\.(?:fix|snooze|not_mine|open)):[0-9a-f]{20}$")

FIX_VIEW = "govbot.fix_view"
SNOOZE_VIEW = "govbot.snooze_view"

SNOOZE_DAYS = (7, 14, 30)
MAX_VALUE_CHARS = 2000      # one value written to Jira (a field or a description section)
MAX_REASON_CHARS = 500      # a snooze's reason
MIN_REASON_CHARS = 3

_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
_RULE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{20}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
_CHANNEL = re.compile(r"^[CDG][A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class Fix:
    """What a fix button writes: the logical fields, in the modal's order."""

    kind: str
    label: str                 # the button
    title: str                 # the modal's title (24 characters at most)
    fields: tuple[str, ...]
    done: str                  # "✓ PAY-12 {done}, thank you"
    review_date: bool = False  # an optional review date in the modal


FIXES: dict[str, Fix] = {
    "anticipated": Fix("anticipated", "Add the anticipated outcome", "Anticipated outcome",
                       ("Anticipated Outcome",), "has its anticipated outcome"),
    "actual": Fix("actual", "Record the actual outcome", "Actual outcome", ("Actual Outcome",),
                  "has its actual outcome"),
    "agreement": Fix("agreement", "Document the agreement", "Tech-debt agreement", ("Reason", "Impact", "Timeline"),
                     "has its tech-debt agreement", review_date=True),
}
FAMILY_FIX = {"anticipated-outcome": "anticipated", "closing-the-loop": "actual", "tech-debt-agreement": "agreement"}
# Rules whose findings a fix answers when the finding does not say which fields it is about
# (a finding rebuilt from the store): the shipped "missing" rules.
DEFAULT_FIX_RULES = {"anticipated-outcome-missing": "anticipated",
                     "closing-the-loop-actual-outcome-missing": "actual",
                     "tech-debt-agreement-incomplete": "agreement"}
REVIEW_DATE = "Review Date"
REVIEW_DATE_BLOCK = "govbot-review-date"


def fix_for(rule: str, family: str = "", subjects: tuple[str, ...] | list[str] = ()) -> Fix | None:
    """The fix a finding gets a button for, or None (govbot cannot write what the rule asks for)."""
    kind = FAMILY_FIX.get(family or family_of(rule))
    if kind is None:
        return None
    fix = FIXES[kind]
    if subjects:
        wanted = {name.casefold() for name in fix.fields}
        return fix if any(str(subject).casefold() in wanted for subject in subjects) else None
    return fix if DEFAULT_FIX_RULES.get(rule) == kind else None


# -- ids in, ids out ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a button or modal is about: ids only."""

    issue: str
    rule: str
    finding: str

    def value(self) -> str:
        return f"{self.issue} {self.rule} {self.finding}"


def parse_value(value: Any) -> Target | None:
    """A button's value back into ids; None for anything govbot did not write."""
    parts = str(value or "").split(" ")
    if len(parts) != 3:
        return None
    issue, rule, finding = parts
    if not (_KEY.match(issue) and _RULE.match(rule) and _FINGERPRINT.match(finding)):
        return None
    return Target(issue, rule, finding)


def metadata(kind: str, target: Target, *, channel: str | None, ts: str | None, fix: str | None = None) -> str:
    data = {"a": kind, "v": target.value(), "c": channel or "", "t": ts or ""}
    if fix:
        data["x"] = fix
    return json.dumps(data, separators=(",", ":"))


def parse_metadata(text: Any) -> dict[str, Any] | None:
    """``private_metadata`` back into {kind, target, channel, ts, fix}; None when it is not ours."""
    try:
        data = json.loads(str(text or ""))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    target = parse_value(data.get("v"))
    if target is None:
        return None
    channel = str(data.get("c") or "")
    ts = str(data.get("t") or "")
    fix = data.get("x")
    return {"kind": str(data.get("a") or ""), "target": target,
            "channel": channel if _CHANNEL.match(channel) else None, "ts": ts if _TS.match(ts) else None,
            "fix": fix if fix in FIXES else None}


# -- the buttons ------------------------------------------------------------------------------------

def button(text: str, action_id: str, value: str | None = None, *, style: str | None = None,
            url: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id,
                              "text": {"type": "plain_text", "text": text, "emoji": True}}
    if value is not None:
        button["value"] = value
    if style:
        button["style"] = style
    if url:
        button["url"] = url
    return button


def item_block_id(finding: str) -> str:
    return f"govbot-item-{finding}"


def actions_block_id(finding: str) -> str:
    return f"govbot-actions-{finding}"


def actions_block(target: Target, *, fix: Fix | None, url: str | None,
                  not_mine: bool) -> dict[str, Any]:
    """One item's buttons. ``url`` must already have passed ``bot.escape.web_url``."""
    value = target.value()
    elements = []
    if fix is not None:
        elements.append(button(fix.label, f"{FIX}:{target.finding}", value, style="primary"))
    elements.append(button("Snooze", f"{SNOOZE}:{target.finding}", value))
    if not_mine:
        elements.append(button("Not mine", f"{NOT_MINE}:{target.finding}", value))
    if url:
        elements.append(button("Open in Jira", f"{OPEN}:{target.finding}", value, url=url))
    return {"type": "actions", "block_id": actions_block_id(target.finding), "elements": elements}


# -- the modals -------------------------------------------------------------------------------------

def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def text_input(block_id: str, label: str, *, multiline: bool, max_length: int, hint: str | None = None,
                optional: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": plain(label), "optional": optional,
                             "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                                         "max_length": max_length}}
    if hint:
        block["hint"] = plain(hint)
    return block


def date_input(block_id: str, label: str, *, optional: bool = False) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": plain(label), "optional": optional,
            "element": {"type": "datepicker", "action_id": "value"}}


def field_block_id(index: int) -> str:
    return f"govbot-field-{index}"


def fix_modal(fix: Fix, target: Target, *, channel: str | None, ts: str | None, where: list[str]) -> dict[str, Any]:
    """The modal a fix button opens: one text box per field (plus an optional review date).

    ``where``: where each value will be written, in words ("the Anticipated Outcome field"),
    said in the modal so nobody is surprised by what changes in Jira.
    """
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {
        "type": "plain_text", "text": f"{target.issue}: written to {', '.join(where)} in Jira, as plain text. "
                                      "govbot adds a comment saying you wrote it from Slack."}}]
    several = len(fix.fields) > 1
    for index, name in enumerate(fix.fields):
        # With several fields, each is optional: a person fills in what is missing, the rest stays as it is.
        blocks.append(text_input(field_block_id(index), name, multiline=True, max_length=MAX_VALUE_CHARS,
                                  optional=several, hint="Leave it empty to keep what Jira has." if several else None))
    if fix.review_date:
        blocks.append(date_input(REVIEW_DATE_BLOCK, "Review date", optional=True))
    return {"type": "modal", "callback_id": FIX_VIEW, "title": plain(fix.title[:24]),
            "submit": plain("Save to Jira"), "close": plain("Cancel"),
            "private_metadata": metadata("fix", target, channel=channel, ts=ts, fix=fix.kind),
            "blocks": blocks}


def snooze_modal(target: Target, *, channel: str | None, ts: str | None, max_days: int) -> dict[str, Any]:
    options = [{"text": plain(f"{days} days"), "value": str(days)} for days in SNOOZE_DAYS if days <= max_days]
    blocks = [
        {"type": "section", "text": {"type": "plain_text",
                                     "text": f"Pause this rule on {target.issue}. Your name and reason show in the "
                                             "digest, as for /govbot waive."}},
        {"type": "input", "block_id": "govbot-snooze-days", "label": plain("For"),
         "element": {"type": "static_select", "action_id": "value", "options": options,
                     "initial_option": options[0]}},
        text_input("govbot-snooze-reason", "Why", multiline=False, max_length=MAX_REASON_CHARS),
    ]
    return {"type": "modal", "callback_id": SNOOZE_VIEW, "title": plain("Snooze"), "submit": plain("Snooze"),
            "close": plain("Cancel"), "private_metadata": metadata("snooze", target, channel=channel, ts=ts),
            "blocks": blocks}


def submitted(view: dict[str, Any], block_id: str) -> Any:
    """The value a person gave in one input block of a submitted view (text, date or option)."""
    state = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    element = state.get("value") or {}
    kind = element.get("type")
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "static_select":
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")


# -- the message after an action --------------------------------------------------------------------

def replace_item(blocks: list[dict[str, Any]], finding: str, text: str) -> list[dict[str, Any]] | None:
    """The message's blocks with one item's section replaced by ``text`` (mrkdwn, escaped already)
    and its buttons removed; None when the message does not hold that item."""
    section_id, buttons_id = item_block_id(finding), actions_block_id(finding)
    out, found = [], False
    for block in blocks:
        block_id = block.get("block_id")
        if block_id == buttons_id:
            found = True
            continue
        if block_id == section_id:
            found = True
            out.append({"type": "section", "block_id": section_id,
                        "text": {"type": "mrkdwn", "text": text, "verbatim": True}})
            continue
        out.append(block)
    return out if found else None

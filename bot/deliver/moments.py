"""Moments that get a message of their own: an epic just moved to Done.

Closing the loop is easiest to plan at the moment the work ends: when will we
know whether it achieved its outcome? This message asks that once, when a
webhook says an epic (or anything above) moved to Done, and offers to set the
review date (and, if it is already known, the actual outcome) from Slack.

The button's value is the issue key only; the modal writes through the same
path as the nudges' fix buttons (``bot.service.actions``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.deliver import buttons
from bot.deliver.policy import Outgoing, dedupe_key
from bot.deliver.slack import MAX_FALLBACK_CHARS, issue_link, one_line, truncate
from bot.escape import slack_escape, web_url

REVIEW = "govbot.review"
REVIEW_VIEW = "govbot.review_view"
ACTUAL = "Actual Outcome"


def key_id(key: str) -> str:
    """A 20-hex id for an issue key: action ids and block ids need one of that shape."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def done_blocks(key: str, summary: str, url: str | None) -> list[dict[str, Any]]:
    link = issue_link(url, key)
    text = (f":tada: {link} · {slack_escape(one_line(summary, 200))} is done. Thank you!\n"
            "When will we know whether it achieved its anticipated outcome? Set a review date and govbot "
            "will ask for the actual outcome then; if you know it already, you can record it now.")
    elements = [buttons.button("Set the review date", f"{REVIEW}:{key_id(key)}", key, style="primary")]
    checked = web_url(url)
    if checked:
        elements.append(buttons.button("Open in Jira", f"{buttons.OPEN}:{key_id(key)}", key, url=checked))
    return [{"type": "section", "block_id": buttons.item_block_id(key_id(key)),
             "text": {"type": "mrkdwn", "text": text, "verbatim": True}},
            {"type": "actions", "block_id": buttons.actions_block_id(key_id(key)), "elements": elements}]


def done_message(*, person: str, slack_id: str, key: str, summary: str, url: str | None,
                 team: str | None) -> Outgoing:
    """The one DM an epic's owner gets when it moves to Done, through the outbox like any nudge."""
    payload = {"text": truncate(f"govbot: {slack_escape(key)} is done. When will we know its outcome?",
                                MAX_FALLBACK_CHARS),
               "blocks": done_blocks(key, summary, url), "items": [], "issues": [key], "teams": [team or ""]}
    return Outgoing(kind="slack_dm", recipient=slack_id, dedupe_key=dedupe_key("slack_dm", person, [f"done:{key}"]),
                    payload=payload, fingerprints=[], label=f"{person}: {key} moved to Done", person=person,
                    breaker_exempt=True)


def review_modal(key: str, *, channel: str | None, ts: str | None) -> dict[str, Any]:
    target = buttons.Target(key, "review", key_id(key))
    return {"type": "modal", "callback_id": REVIEW_VIEW,
            "title": buttons.plain("Review date"),
            "submit": buttons.plain("Save to Jira"),
            "close": buttons.plain("Cancel"),
            "private_metadata": buttons.metadata("review", target, channel=channel, ts=ts),
            "blocks": [
                buttons.date_input(buttons.REVIEW_DATE_BLOCK, "Review the outcome on"),
                buttons.text_input(buttons.field_block_id(0), "Actual outcome, if known already", multiline=True,
                                   max_length=buttons.MAX_VALUE_CHARS, optional=True)]}

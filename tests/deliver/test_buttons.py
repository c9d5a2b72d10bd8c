"""Buttons on nudges and the modals they open: ids only in values, the right fix per rule, Block Kit limits."""

from __future__ import annotations

import json

from bot.deliver import buttons
from bot.deliver.slack import Item, channel_message, nudge_message
from bot.model import fingerprint


def item(n: int, *, rule: str = "anticipated-outcome-missing", summary: str = "", subjects=(),
         url: str | None = None, family: str = "") -> Item:
    return Item(rule=rule, issue=f"PAY-{n}", summary=summary or f"Epic {n}", title="title",
                message=f"PAY-{n} needs something", url=url or f"https://example.atlassian.net/browse/PAY-{n}",
                fingerprint=fingerprint(rule, f"PAY-{n}", ""), subjects=tuple(subjects), family=family)


def actions(payload) -> list[dict]:
    return [block for block in payload["blocks"] if block["type"] == "actions"]


def test_every_item_of_a_dm_gets_its_buttons_and_values_carry_ids_only():
    hostile = item(1, summary="<!channel> <https://evil|click> PAY-1")
    payload = nudge_message([hostile, item(2, rule="work-hierarchy-orphan-epic")], label_prefix="govbot-waive-",
                            interval_days=7, reminder_cap=3, actions=True)
    first, second = actions(payload)
    labels = [element["text"]["text"] for element in first["elements"]]
    assert labels == ["Add the anticipated outcome", "Snooze", "Not mine", "Open in Jira"]
    # A rule govbot cannot write the answer for gets no fix button, but the rest.
    assert [element["text"]["text"] for element in second["elements"]] == ["Snooze", "Not mine", "Open in Jira"]
    for element in first["elements"] + second["elements"]:
        target = buttons.parse_value(element["value"])
        assert target is not None and element["value"] == target.value()
        assert "<" not in element["value"] and "evil" not in element["value"]
        assert buttons.ACTION_ID.match(element["action_id"])
    assert first["elements"][-1]["url"] == "https://example.atlassian.net/browse/PAY-1"
    ids = [element["action_id"] for block in actions(payload) for element in block["elements"]]
    assert len(ids) == len(set(ids))  # unique within the message, as Slack requires
    # The item's own section is addressable, for the chat.update that shows the fix.
    assert any(block.get("block_id") == buttons.item_block_id(hostile.fingerprint) for block in payload["blocks"])


def test_without_buttons_the_message_is_as_before():
    payload = nudge_message([item(1)], label_prefix="p-", interval_days=7, reminder_cap=3)
    assert not actions(payload)
    assert not any("block_id" in block for block in payload["blocks"])


def test_fix_follows_the_findings_subjects_or_the_shipped_missing_rules():
    assert buttons.fix_for("anticipated-outcome-missing").kind == "anticipated"
    assert buttons.fix_for("closing-the-loop-actual-outcome-missing").kind == "actual"
    assert buttons.fix_for("tech-debt-agreement-incomplete").fields == ("Reason", "Impact", "Timeline")
    assert buttons.fix_for("tech-debt-agreement-below-epic") is None
    assert buttons.fix_for("anticipated-outcome-unmeasurable", subjects=("Anticipated Outcome",)).kind == "anticipated"
    assert buttons.fix_for("my-rule", family="closing-the-loop", subjects=("actual outcome",)).kind == "actual"
    assert buttons.fix_for("my-rule", family="closing-the-loop", subjects=("Review",)) is None


def test_a_javascript_url_gets_no_link_button_and_channel_posts_have_no_not_mine():
    payload = channel_message("payments", unrouted=[item(1, url="javascript:alert(1)")], escalated=[item(2)],
                              label_prefix="p-", reminder_cap=3, actions=True)
    for block in actions(payload):
        labels = [element["text"]["text"] for element in block["elements"]]
        assert "Not mine" not in labels
    assert "Open in Jira" not in [e["text"]["text"] for e in actions(payload)[0]["elements"]]


def test_buttons_keep_within_block_kit_limits():
    items = [item(n, rule=("anticipated-outcome-missing", "tech-debt-agreement-incomplete",
                          "closing-the-loop-actual-outcome-missing")[n % 3]) for n in range(40)]
    dm = nudge_message(items, label_prefix="p-", interval_days=7, reminder_cap=3, actions=True)
    channel = channel_message("t", unrouted=items, escalated=items[::-1], label_prefix="p-", reminder_cap=3,
                              actions=True)
    for payload in (dm, channel):
        assert len(payload["blocks"]) <= 50
        assert payload["blocks"][-1]["type"] == "context"  # the footer survived: nothing was cut off
        for block in actions(payload):
            assert len(block["elements"]) <= 25


def test_forged_values_and_metadata_are_refused():
    for value in ("", "PAY-1", "PAY-1 rule", "PAY-1 rule notahexid", "pay-1 rule 0123456789abcdef0123",
                  "PAY-1 Rule! 0123456789abcdef0123", "PAY-1 r 0123456789abcdef0123 extra", None, 12):
        assert buttons.parse_value(value) is None
    target = buttons.Target("PAY-1", "r", "0123456789abcdef0123")
    good = buttons.metadata("fix", target, channel="D0123", ts="1700000000.000100", fix="anticipated")
    parsed = buttons.parse_metadata(good)
    assert parsed["target"] == target and parsed["channel"] == "D0123" and parsed["fix"] == "anticipated"
    assert buttons.parse_metadata("{") is None and buttons.parse_metadata("[]") is None
    odd = json.loads(good)
    odd.update(c="<!here>", t="x", x="drop-table")
    parsed = buttons.parse_metadata(json.dumps(odd))
    assert parsed["channel"] is None and parsed["ts"] is None and parsed["fix"] is None


def test_modals_ask_for_the_right_inputs_capped():
    target = buttons.Target("PAY-12", "tech-debt-agreement-incomplete", "0123456789abcdef0123")
    view = buttons.fix_modal(buttons.FIXES["agreement"], target, channel="D1", ts="1.2", where=["sections"])
    inputs = [block for block in view["blocks"] if block["type"] == "input"]
    assert [block["label"]["text"] for block in inputs] == ["Reason", "Impact", "Timeline", "Review date"]
    assert all(block["element"]["max_length"] == buttons.MAX_VALUE_CHARS for block in inputs[:3])
    assert inputs[-1]["optional"] and inputs[-1]["element"]["type"] == "datepicker"
    assert len(view["title"]["text"]) <= 24 and len(view["private_metadata"]) <= 3000
    snooze = buttons.snooze_modal(target, channel=None, ts=None, max_days=14)
    options = snooze["blocks"][1]["element"]["options"]
    assert [option["value"] for option in options] == ["7", "14"]  # capped like /govbot waive


def test_replace_item_swaps_the_section_and_drops_its_buttons():
    first, second = item(1), item(2)
    payload = nudge_message([first, second], label_prefix="p-", interval_days=7, reminder_cap=3, actions=True)
    updated = buttons.replace_item(payload["blocks"], first.fingerprint, "✓ done")
    assert len(updated) == len(payload["blocks"]) - 1
    assert {"type": "section", "block_id": buttons.item_block_id(first.fingerprint),
            "text": {"type": "mrkdwn", "text": "✓ done", "verbatim": True}} in updated
    assert buttons.actions_block_id(second.fingerprint) in [block.get("block_id") for block in updated]
    assert buttons.replace_item(payload["blocks"], "f" * 20, "x") is None

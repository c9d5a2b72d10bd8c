"""Control and bidi characters from Jira text, at every output that a person may read.

Outcomes:
- the JSON of ``scan``, ``check`` and ``digest`` (and the digest's Slack payload)
  carries the text exactly, but every control, bidi or surrogate character is
  written as a ``\\u`` escape: nothing raw reaches a terminal, and any JSON
  reader decodes the same data;
- a Cloud Jira comment (ADF) has no ESC, BEL or bidi control in any text node,
  like the Data Center (wiki) comment.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.deliver import comments
from tests.hostile.corpus import BIDI_CONTROLS, CONTROL, PAYLOAD, adf, issue, write_snapshot

RAW = (CONTROL | BIDI_CONTROLS) - {"\n"}


@pytest.fixture
def snapshot(tmp_path):
    return write_snapshot(tmp_path / "hostile.json", [
        issue("PAY-1", "Epic", summary=PAYLOAD, description=adf("TBD", heading="Anticipated Outcome")),
        issue("PAY-2", "Epic", summary=PAYLOAD, status="Done", category="done"),  # an unclosed loop in the digest
    ])


JSON_OUTPUTS = {
    "scan": ["scan", "--format", "json"],
    "check": ["check", "PAY-1", "PAY-2", "--format", "json"],
    "digest": ["digest", "--format", "json"],
    "digest slack": ["digest", "--format", "slack"],
}


@pytest.mark.parametrize("command", JSON_OUTPUTS.values(), ids=JSON_OUTPUTS.keys())
def test_json_outputs_escape_controls_and_keep_the_data(snapshot, command):
    result = CliRunner().invoke(cli, [*command, "--snapshot", str(snapshot), "--now", "2026-11-16"])
    assert result.exit_code in (0, 1), result.output
    output = result.stdout
    raw = sorted(f"U+{ord(char):04X}" for char in set(output) & RAW)
    assert not raw, f"raw control or bidi characters reached the terminal: {raw}"
    if command[-1] != "slack":  # Slack payloads are escaped for Slack and drop controls by design
        data = strings(json.loads(output))
        assert "\x1b[2J\x1b[31mRED" in data and "\u202egnp.exe" in data  # the data itself is unchanged


def strings(value) -> str:
    """Every string in a decoded JSON value, joined."""
    found, stack = [], [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return "\x00".join(found)


def test_cloud_comments_strip_escape_bell_and_bidi_controls_from_adf_text():
    items = [comments.CommentItem(rule="r", title="Title \x1b[31m\u202e", message=PAYLOAD, fix="Fix \x07 it \u2066")]
    body = comments.adf_body(items, resolved=False, label_prefix="govbot-waive-")
    texts, stack = [], [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "text":
                texts.append(node["text"])
            stack.extend(node.get("content", []))
    joined = "".join(texts)
    assert "gnp.exe" in joined and "bell" in joined  # the words stay
    assert not set(joined) & (CONTROL | BIDI_CONTROLS)
    wiki = comments.wiki_body(items, resolved=False, label_prefix="govbot-waive-")
    assert not set(wiki) & (RAW - {"\n"})  # the wiki path already did this

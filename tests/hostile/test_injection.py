"""Mention, link and markup injection through every Jira text that reaches an output.

Outcomes, per format:
- text (a terminal): control characters, escape sequences and bidi overrides
  are shown as U+FFFD; ``<!channel>`` and ``@here`` are inert on a terminal;
- markdown: Jira text cannot open HTML, links, images, table cells or
  @mentions (a zero-width space follows every ``@``); hostile URLs are not linked;
- json: the data contract carries Jira text as govbot read it, unescaped
  (consumers, like the Slack renderer, escape for their medium), and stays valid JSON.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.hostile.corpus import BIDI_CONTROLS, CONTROL, PAYLOAD, adf, issue, write_snapshot

OWNER = {"accountId": "acc-1", "displayName": "Mallory <!channel> @here \u202eevil", "emailAddress": "m@example.com"}


@pytest.fixture
def snapshot(tmp_path):
    unmapped = issue("PAY-2", PAYLOAD, summary="A deliverable", level=0, assignee=OWNER)
    del unmapped["fields"]["issuetype"]["hierarchyLevel"]  # no signal places it: an unmapped type
    hostile = [
        # Summary, type name, label and assignee all hostile; the description outcome only a placeholder.
        issue("PAY-1", "Epic", summary=PAYLOAD, description=adf("TBD", heading="Anticipated Outcome"),
              assignee=OWNER),
        unmapped,
        issue("PAY-3", "Story", summary=PAYLOAD, labels=["tech-debt-agreement"],
              parent={"key": "PAY-1", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}}),
        issue("PAY-4", "Story", summary=PAYLOAD),  # an orphan story
        issue("PAY-5", "Epic", summary=PAYLOAD,
              self_url="https://evil.example/x\n| forged | row |<script>/rest/api/3/issue/5"),
    ]
    return write_snapshot(tmp_path / "hostile.json", hostile)


def run(snapshot, output_format: str, command: str = "scan", *extra: str) -> str:
    result = CliRunner().invoke(cli, [command, *extra, "--snapshot", str(snapshot), "--format", output_format,
                                      "--now", "2026-11-16", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_text_output_shows_no_control_or_bidi_characters(snapshot):
    output = run(snapshot, "text")
    assert "PAY-1" in output and "PAY-2" in output and "PAY-4" in output
    assert not (set(output) & CONTROL), "a control character reached the terminal"
    assert not (set(output) & BIDI_CONTROLS), "a bidi control reached the terminal"
    assert "\ufffd" in output  # shown as replacement characters instead


def test_markdown_output_neutralises_html_links_images_mentions_and_table_breaks(snapshot):
    output = run(snapshot, "markdown")
    assert "<!" not in output and "<script" not in output and "<https://evil" not in output
    ours = output.replace("](<https://example.atlassian.net/browse/", "")
    ours = ours.replace("](<https://example.atlassian.net/issues/?jql=", "")  # a site-setup finding's issue list
    assert not re.search(r"(?<!\\)\]\(", ours), \
        "Jira text made a Markdown link"
    assert not re.search(r"@(here|channel|everyone)", output), "an @mention survived"
    assert "@\u200bhere" in output
    assert not (set(output) & (CONTROL | BIDI_CONTROLS))
    rows = [line for line in output.splitlines() if line.startswith("| ") and "PAY-" in line]
    assert rows
    for row in rows:
        unescaped = re.findall(r"(?<!\\)\|", row)
        assert len(unescaped) == 5, f"a table row was forged: {row!r}"
    assert "[PAY-1](<https://example.atlassian.net/browse/PAY-1>)" in output
    assert "evil.example/x" not in output  # a URL with a newline and brackets is not linked


def test_json_output_keeps_jira_text_exactly_and_stays_valid(snapshot):
    data = json.loads(run(snapshot, "json"))
    by_issue = {}
    for finding in data["findings"]:
        by_issue.setdefault(finding["issue"], []).append(finding)
    summary = by_issue["PAY-1"][0]["summary"]
    assert "<!channel>" in summary and "@here" in summary and "\u202e" in summary  # not escaped: data
    assert any("<!channel>" in finding["message"] for finding in by_issue["PAY-1"])
    assert by_issue["PAY-1"][0]["owner"]["display_name"] == OWNER["displayName"]
    assert any(finding["evidence"] == PAYLOAD for finding in by_issue["PAY-2"])
    assert by_issue["PAY-5"][0]["url"].startswith("https://evil.example/x\n")  # data, verbatim


def test_check_command_text_and_markdown_are_as_safe_as_scan(snapshot):
    text = run(snapshot, "text", "check", "PAY-1", "PAY-5")
    assert not (set(text) & (CONTROL | BIDI_CONTROLS))
    markdown = run(snapshot, "markdown", "check", "PAY-1")
    assert "<!" not in markdown and "<script" not in markdown
    assert not re.search(r"@(here|channel|everyone)", markdown)
    assert "## [PAY-1](<https://example.atlassian.net/browse/PAY-1>)" in markdown


def test_check_command_markdown_does_not_link_a_forged_url(snapshot):
    markdown = run(snapshot, "markdown", "check", "PAY-5")
    assert "evil.example/x" not in markdown

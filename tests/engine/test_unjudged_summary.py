"""A verdict a rule could not give (a parent nobody could read) is said in the summary, not guessed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli

RULE = """rules:
  - id: story-parent-initiative
    title: Story directly under an initiative
    severity: warning
    scope: {types: [Story]}
    condition: {parent: {where: {is-type: Initiative}}}
    message: "{{ issue.key }}"
    docs: {what: a, why: b, example: c, fix: d}
"""


def test_a_parent_outside_the_snapshot_is_unjudged_not_a_finding(tmp_path):
    snapshot = {"issues": [{"id": "1", "key": "PAY-1", "fields": {
        "summary": "s", "issuetype": {"name": "Story"}, "project": {"key": "PAY"},
        "status": {"name": "x", "statusCategory": {"key": "indeterminate"}},
        "parent": {"key": "PAY-9", "fields": {"issuetype": {"name": "Initiative"}}}}}]}
    (tmp_path / "snap.json").write_text(json.dumps(snapshot), encoding="utf-8")
    (tmp_path / "r.yaml").write_text(RULE, encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", "--only-rules", str(tmp_path / "r.yaml"), "--snapshot",
                                      str(tmp_path / "snap.json"), "--now", "2026-06-15"])
    assert "story-parent-initiative" in result.output and "could not be given from this read" in result.output
    assert result.exit_code == 0, result.output

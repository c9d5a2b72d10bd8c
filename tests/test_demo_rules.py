"""A govbot.yaml that only adds rules keeps the demo running, with those rules beside the bundled pack."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli

RULE = """rules:
  - id: epic-demo-probe
    title: Every epic, to show the demo reads extra rules
    severity: info
    scope: {types: [Epic]}
    condition: {is-type: Epic}
    message: "{{ issue.key }} is an epic."
    docs: {what: a, why: b, example: c, fix: d}
"""


def test_rules_paths_in_a_config_keeps_the_demo(tmp_path, monkeypatch):
    (tmp_path / "my-rules").mkdir()
    (tmp_path / "my-rules" / "probe.yaml").write_text(RULE, encoding="utf-8")
    (tmp_path / "govbot.yaml").write_text("rules:\n  paths: [my-rules]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JIRA_URL", raising=False)
    result = CliRunner().invoke(cli, ["scan", "--now", "2026-11-16", "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    rules = {finding["rule"] for finding in data["findings"]}
    assert "epic-demo-probe" in rules  # the extra rule
    assert "anticipated-outcome-missing" in rules  # beside the bundled pack


def test_a_rules_only_config_mistake_is_reported_in_that_file(tmp_path, monkeypatch):
    (tmp_path / "govbot.yaml").write_text(
        "rules:\n  params:\n    closing-the-loop-actual-outcome-missing: {grace_dayz: 3}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JIRA_URL", raising=False)
    result = CliRunner().invoke(cli, ["scan", "--now", "2026-11-16"])
    assert result.exit_code == 2 and "govbot.yaml:3:47" in result.output and "did you mean 'grace_days'" in result.output


def test_rules_option_adds_to_the_bundled_pack_and_only_rules_replaces_it(tmp_path, monkeypatch):
    # Issue 13's trap: `--rules` replaced the bundled pack. On the demo (no config, no Jira), as a user tries it.
    (tmp_path / "probe.yaml").write_text(RULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JIRA_URL", raising=False)

    def rules_that_fired(*options):
        result = CliRunner().invoke(cli, ["scan", "--now", "2026-11-16", "--format", "json", *options])
        assert result.exit_code in (0, 1), result.output  # the probe's findings are info: exit 0 alone
        return {finding["rule"] for finding in json.loads(result.stdout)["findings"]}

    added = rules_that_fired("--rules", "probe.yaml")
    assert {"epic-demo-probe", "anticipated-outcome-missing"} <= added
    assert rules_that_fired("--only-rules", "probe.yaml") == {"epic-demo-probe"}


def test_no_doc_sends_a_rule_author_into_site_packages():
    # The other half of that trap: the docs said to pass the pack's path inside site-packages.
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        assert "site-packages" not in doc.read_text(encoding="utf-8"), doc.name

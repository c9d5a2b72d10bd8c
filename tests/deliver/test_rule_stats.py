"""`govbot rules stats` on a store built by a few nudge runs: open / fixed / waived per rule, and the rules to retire."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from bot.cli import cli
from bot.deliver.slack_client import SlackClient
from bot.store import Store, store_url
from tests.batches import run_delivery
from tests.deliver.conftest import ALICE, BOB, NOW, TOKEN, finding, result, write_config

WAIVE = "govbot-waive-tech-debt-agreement-incomplete"


def nudge(config, fake, findings, now, labels=None):
    slack = SlackClient(TOKEN, fake.api_url, sleep=lambda s: None, timeout=5, channel_interval=0, max_retries=1)
    store = Store(store_url(config))
    try:
        return run_delivery(config, result(findings, labels=labels, read=["PAY-1", "PAY-2", "PAY-3", "PAY-4"]),
                            now=now, apply=True, store=store, slack=slack, include_comments=False)
    finally:
        store.close()


def build_store(tmp_path, fake_slack):
    config = write_config(tmp_path)
    debt = dict(rule_id="tech-debt-agreement-incomplete")
    week1 = [finding("PAY-1", ALICE), finding("PAY-2", BOB), finding("PAY-3", ALICE, **debt)]
    nudge(config, fake_slack, week1, NOW - timedelta(days=20), labels={"PAY-3": [WAIVE]})
    # A week later PAY-1 was fixed; PAY-4 is new.
    week2 = [finding("PAY-2", BOB), finding("PAY-4", ALICE), finding("PAY-3", ALICE, **debt)]
    nudge(config, fake_slack, week2, NOW - timedelta(days=13), labels={"PAY-3": [WAIVE]})
    nudge(config, fake_slack, week2, NOW - timedelta(hours=1), labels={"PAY-3": [WAIVE]})
    return config


def test_rules_stats_counts_per_rule_and_names_rules_to_retire(tmp_path, fake_slack):
    build_store(tmp_path, fake_slack)
    runner = CliRunner()
    shown = runner.invoke(cli, ["rules", "stats", "--config", str(tmp_path / "govbot.yaml"), "--now",
                                NOW.date().isoformat(), "--weeks", "3", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    rules = {row["rule"]: row for row in data["rules"]}
    outcome = rules["anticipated-outcome-missing"]
    assert (outcome["ever"], outcome["open"], outcome["fixed"], outcome["waived"]) == (3, 2, 1, 0)
    assert [week["open"] for week in outcome["weeks"]] == [2, 2, 2]
    assert [week["fixed"] for week in outcome["weeks"]] == [0, 1, 0]
    assert [week["new"] for week in outcome["weeks"]] == [2, 1, 0]
    debt = rules["tech-debt-agreement-incomplete"]
    assert (debt["open"], debt["waived"], debt["always_waived"]) == (0, 1, True)
    assert data["always_waived"] == ["tech-debt-agreement-incomplete"]
    assert "closing-the-loop-actual-outcome-missing" in data["never_fired"]
    assert "anticipated-outcome-missing" not in data["never_fired"]
    text = runner.invoke(cli, ["rules", "stats", "--config", str(tmp_path / "govbot.yaml"), "--now",
                               NOW.date().isoformat(), "--weeks", "3"]).output
    assert "Rule health over the 3 weeks to 2026-03-31" in text
    assert "Always waived: tech-debt-agreement-incomplete" in text
    assert "Never fired: " in text and "closing-the-loop-actual-outcome-missing" in text
    assert "Alice" not in text and "acc-alice" not in text  # rules, never people


def test_rules_stats_writes_nothing_and_works_without_a_store(tmp_path):
    config = write_config(tmp_path)
    shown = CliRunner().invoke(cli, ["rules", "stats", "--config", str(tmp_path / "govbot.yaml")])
    assert shown.exit_code == 0, shown.output
    assert "no findings in the store yet" in shown.output
    assert "`govbot scan` never does" in shown.output
    assert "Never fired" not in shown.output  # an empty store says nothing about which rules are idle
    assert not (tmp_path / "state.db").exists() and config.settings.store.url.endswith("state.db")

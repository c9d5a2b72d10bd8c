"""Helpers for delivery tests: findings, scan results, configs, a fake Slack."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from bot.config import load_config
from bot.model import Finding, Issue, Severity, User
from bot.workspace import Workspace
from tests.fakes.slack_server import FakeSlack

# A Tuesday, noon UTC: inside working hours in Europe and not a quiet day.
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
TOKEN = "xoxb-test-token"

ALICE = User(account_id="acc-alice", display_name="Alice Example", email="alice@example.com")
BOB = User(account_id="acc-bob", display_name="Bob Example", email="bob@example.com")
CAROL = User(account_id="acc-carol", display_name="Carol Example", email="carol@example.com")
DAVE_NO_EMAIL = User(account_id="acc-dave", display_name="Dave Example")
SLACK_USERS = {"alice@example.com": "U0ALICE", "bob@example.com": "U0BOB", "carol@example.com": "U0CAROL"}


def rule(rule_id: str, *, nudge: bool = True, comment: bool = False, title: str | None = None):
    return SimpleNamespace(id=rule_id, title=title or rule_id.replace("-", " ").capitalize(), nudge=nudge,
                           comment=comment, enabled=True, severity=Severity.ERROR,
                           docs={"what": "w", "why": "y", "example": "e", "fix": f"Fix it ({rule_id})."})


DEFAULT_RULES = [rule("anticipated-outcome-missing", comment=True), rule("tech-debt-agreement-incomplete"),
                 rule("work-hierarchy-unmapped-type", nudge=False)]


def finding(issue: str, owner: User | None = ALICE, *, rule_id: str = "anticipated-outcome-missing",
            summary: str | None = None, team: str = "payments", severity: Severity = Severity.ERROR,
            evidence: str = "missing", waived: bool = False) -> Finding:
    summary = summary if summary is not None else f"Summary of {issue}"
    return Finding(rule=rule_id, issue=issue, severity=severity,
                   message=f'{issue} "{summary}" has no anticipated outcome.', title="Epic has no outcome",
                   evidence=evidence, team=team, owner=owner, owner_role="assignee",
                   url=f"https://example.atlassian.net/browse/{issue}", summary=summary, waived=waived)


def result(findings: list[Finding], *, read: list[str] | None = None, rules=None, complete: bool = True,
           labels: dict[str, list[str]] | None = None):
    """A ScanResult-shaped value: what bot.scan.scan returns."""
    workspace = Workspace()
    keys = read if read is not None else sorted({f.issue for f in findings})
    for key in keys:
        workspace.add(Issue(key=key, project=key.split("-")[0], labels=tuple((labels or {}).get(key, []))))
    workspace.complete = complete
    workspace.source = "test"
    ruleset_rules = rules if rules is not None else DEFAULT_RULES
    ruleset = SimpleNamespace(rules=ruleset_rules, active=[r for r in ruleset_rules if r.enabled])
    return SimpleNamespace(findings=findings, workspace=workspace, ruleset=ruleset, verdicts=[], problems=[],
                           read_keys=set(workspace.issues))


def write_config(tmp_path: Path, data: dict | None = None, *, env: dict | None = None, name: str = "govbot.yaml"):
    base = {
        "teams": {"payments": {"projects": ["PAY"], "channel": "#payments", "timezone": "Europe/London"},
                  "platform": {"projects": ["PLAT"], "channel": "#platform", "timezone": "America/New_York"}},
        "slack": {"admin_channel": "#govbot-admins", "seconds_between_posts": 0},
        "store": {"url": str(tmp_path / "state.db"), "audit_file": str(tmp_path / "audit.jsonl")},
    }
    merged = _deep_merge(base, data or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    return load_config(path, env=env if env is not None else {})


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def audit_events(tmp_path: Path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def fake_slack():
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as slack:
        yield slack


@pytest.fixture
def slack_client(fake_slack):
    from bot.deliver.slack_client import SlackClient

    sleeps: list[float] = []
    client = SlackClient(TOKEN, fake_slack.api_url, sleep=sleeps.append, timeout=5, channel_interval=0)
    client.sleeps = sleeps
    return client

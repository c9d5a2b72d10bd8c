"""Active work by default: one definition of closed, delivered and abandoned, and a window
that keeps years of history out of findings, nudges, comments and the FFR (issue 10)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from bot import lifecycle
from bot.cli import cli
from bot.config import load_config
from bot.model import Issue

NOW = "2026-11-21"
SITE = "https://acme.atlassian.net"


def jira_issue(key, type_name="Epic", category="indeterminate", *, resolved=None, resolution=None, scc=None,
               updated="2026-11-01T10:00:00.000+0000", outcome=None, parent=None, assignee="ann"):
    level = {"Epic": 1, "Story": 0, "Task": 0}[type_name]
    fields = {"summary": f"{type_name} {key}", "issuetype": {"id": str(10000 + level), "name": type_name,
                                                             "subtask": False, "hierarchyLevel": level},
              "status": {"name": category, "statusCategory": {"key": category}}, "project": {"key": key.split("-")[0]},
              "labels": [], "updated": updated, "created": "2015-01-01T10:00:00.000+0000",
              "resolutiondate": resolved, "resolution": {"name": resolution} if resolution else None,
              "description": f"Anticipated Outcome: {outcome}" if outcome else None,
              "assignee": {"accountId": f"acc-{assignee}", "displayName": assignee.title(),
                           "emailAddress": f"{assignee}@example.com"}}
    if scc:
        fields["statuscategorychangedate"] = scc
    if parent:
        fields["parent"] = {"key": parent, "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}}
    return {"id": str(abs(hash(key)) % 100000), "key": key, "self": f"{SITE}/rest/api/3/issue/{key}", "fields": fields}


ISSUES = [
    jira_issue("PAY-1"),                                                                  # open, no outcome
    jira_issue("PAY-2", category="done", resolution="Done", resolved="2017-05-01T10:00:00.000+0000",
               updated="2017-05-02T10:00:00.000+0000"),                                  # 2017: history
    jira_issue("PAY-3", category="done", resolution="Done", resolved="2026-06-01T10:00:00.000+0000",
               updated="2026-06-01T10:00:00.000+0000", outcome="Churn below 2% by Q3"),  # loop open, in horizon
    jira_issue("PAY-4", category="done", resolution="Not A Problem", resolved="2026-10-01T10:00:00.000+0000",
               updated="2026-10-01T10:00:00.000+0000"),                                  # abandoned
    jira_issue("PAY-5", category="done", scc="2026-09-01T10:00:00.000+0000",
               updated="2026-10-20T10:00:00.000+0000", outcome="NPS +10 by Q2"),          # done, no resolution date
    jira_issue("PAY-6", category="done", resolution="Done", resolved="2025-08-01T10:00:00.000+0000",
               updated="2025-08-01T10:00:00.000+0000", outcome="Refunds in 1 day"),       # past the loop horizon
    jira_issue("PAY-10", "Story", parent="PAY-1"),
    jira_issue("PAY-11", "Story", category="done", resolution="Done", resolved="2006-03-01T10:00:00.000+0000",
               updated="2006-03-01T10:00:00.000+0000"),                                   # a 2006 orphan
    jira_issue("PAY-12", "Story"),                                                         # an open orphan
]


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"issues": ISSUES, "names": {}}), encoding="utf-8")
    return path


def scan(snapshot, *extra):
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--format", "json", "--now", NOW,
                                      "--fail-on", "never", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    fired: dict[str, set] = {}
    for finding in data["findings"]:
        fired.setdefault(finding["issue"], set()).add(finding["rule"])
    return data, fired


def test_rules_look_at_active_work_and_the_summary_counts_what_was_left_out(snapshot):
    data, fired = scan(snapshot)
    assert fired["PAY-1"] == {"anticipated-outcome-missing"}
    assert "PAY-2" not in fired and "PAY-11" not in fired and "PAY-4" not in fired
    assert fired["PAY-12"] == {"work-hierarchy-story-without-epic"}
    summary = data["summary"]
    assert summary["history_days"] == 180 and summary["all_history"] is False
    assert summary["issues_outside_window"] == 3  # PAY-2 (2017), PAY-6 (2025), PAY-11 (2006)
    assert any("closed more than 180 days ago" in note for note in data["notes"])


def test_closing_the_loop_keeps_its_own_horizon_and_says_which_date_it_used(snapshot):
    data, fired = scan(snapshot)
    assert "closing-the-loop-actual-outcome-missing" in fired["PAY-3"]       # 173 days: grace passed, in horizon
    assert "closing-the-loop-actual-outcome-missing" in fired["PAY-5"]       # Done without a resolution date
    assert "PAY-6" not in fired                                               # 477 days: past 365
    loops = {f["issue"]: f for f in data["findings"] if f["rule"] == "closing-the-loop-actual-outcome-missing"}
    assert loops["PAY-5"]["evidence"] == "older than 30 days (by the status category change date); empty"
    assert "delivered more than 30 days ago" in loops["PAY-5"]["message"]
    assert "delivered 173 days ago" in loops["PAY-3"]["message"]
    assert not any("delivered  days" in f["message"] for f in data["findings"])


def test_closed_work_dated_only_by_its_last_update_is_placed_by_its_creation_too(tmp_path):
    # Done without a resolution (a Data Center workflow with no resolution screen): only `updated` says
    # when, and only as an upper bound. PAY-7 closed any time since 2015 and was commented on this month;
    # PAY-8 was created in September, so it closed inside the window whatever its update says.
    pay7 = jira_issue("PAY-7", category="done", updated="2026-11-10T10:00:00.000+0000", outcome="NPS +10 by Q2")
    pay8 = jira_issue("PAY-8", category="done", updated="2026-10-01T10:00:00.000+0000", outcome="NPS +10 by Q2")
    pay8["fields"]["created"] = "2026-09-01T10:00:00.000+0000"
    path = tmp_path / "undated.json"
    path.write_text(json.dumps({"issues": [pay7, pay8]}), encoding="utf-8")
    data, fired = scan(path)
    assert "PAY-7" not in fired
    assert fired["PAY-8"] == {"closing-the-loop-actual-outcome-missing"}
    assert data["summary"]["issues_closed_undated"] == 1 and data["summary"]["issues_outside_window"] == 0
    assert any(note.startswith("1 closed issue with no resolution date was left out: when it closed is unknown")
               for note in data["notes"])
    audit, _ = scan(path, "--all-history")
    assert "issues_closed_undated" not in audit["summary"]  # an audit has no window to place it in


def test_all_history_lifts_the_window_and_the_horizon_for_one_run(snapshot):
    data, fired = scan(snapshot, "--all-history")
    assert fired["PAY-2"] == {"anticipated-outcome-missing", "closing-the-loop-actual-outcome-missing"}
    assert "closing-the-loop-actual-outcome-missing" in fired["PAY-6"]
    assert "work-hierarchy-story-without-epic" in fired["PAY-11"]
    assert "PAY-4" not in fired  # abandoned is abandoned, whatever the window
    assert data["summary"]["all_history"] is True and data["summary"]["issues_outside_window"] == 0
    assert data["summary"]["history_days"] is None


def test_the_ffr_counts_the_current_portfolio(snapshot):
    data, _ = scan(snapshot)
    counts = data["summary"]["feature_factory_ratio"]["counts"]
    # Epics open or closed within 180 days, not abandoned: PAY-1 (no outcome), PAY-3, PAY-5.
    assert (counts["without_outcome"], counts["total"]) == (1, 3)
    audit, _ = scan(snapshot, "--all-history")
    counts = audit["summary"]["feature_factory_ratio"]["counts"]
    assert (counts["without_outcome"], counts["total"]) == (2, 5)  # + PAY-2 (none) and PAY-6


def test_history_days_in_config_and_zero_for_no_window(snapshot, tmp_path):
    config = tmp_path / "govbot.yaml"
    config.write_text("scan: {history_days: 0}\n")
    _, fired = scan(snapshot, "--config", str(config))
    assert "PAY-2" in fired and "PAY-11" in fired
    assert "PAY-6" not in fired  # the loop keeps its own horizon
    config.write_text("scan: {history_days: 7}\n")
    _, fired = scan(snapshot, "--config", str(config))
    assert "PAY-3" in fired and "anticipated-outcome-unmeasurable" not in fired.get("PAY-5", set())


def test_check_and_preview_take_all_history(snapshot, tmp_path):
    result = CliRunner().invoke(cli, ["check", "PAY-2", "--snapshot", str(snapshot), "--now", NOW, "--format",
                                      "json", "--fail-on", "never"], catch_exceptions=False)
    rows = {row["rule"]: row["status"] for row in json.loads(result.output)["issues"][0]["verdicts"]}
    assert rows["anticipated-outcome-missing"] == "not-applicable"  # outside the window: no rule applies
    result = CliRunner().invoke(cli, ["check", "PAY-2", "--snapshot", str(snapshot), "--now", NOW, "--format",
                                      "json", "--fail-on", "never", "--all-history"], catch_exceptions=False)
    rows = {row["rule"]: row["status"] for row in json.loads(result.output)["issues"][0]["verdicts"]}
    assert rows["anticipated-outcome-missing"] == "fail"
    config = tmp_path / "govbot.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'g.db'}'}}\n")
    counts = []
    for extra in ((), ("--all-history",)):
        out = CliRunner().invoke(cli, ["preview", "--snapshot", str(snapshot), "--now", NOW, "--config",
                                       str(config), "--format", "json", *extra], env={}, catch_exceptions=False)
        assert out.exit_code == 0, out.output
        counts.append(sum(row["findings"] for row in json.loads(out.output)["rows"]))
    assert counts[1] > counts[0]


def test_nothing_closed_outside_the_window_is_nudged_or_commented(snapshot, tmp_path):
    from tests.batches import run_delivery
    from bot.engine import load_rules
    from tests.batches import scan as run_scan
    from bot.sources.snapshot import load_snapshot

    config_file = tmp_path / "govbot.yaml"
    config_file.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'g.db'}'}}\n")
    config = load_config(config_file, env={})
    ruleset = load_rules(None, config)
    now = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)  # a Tuesday morning
    result = run_scan(load_snapshot(snapshot, config, ruleset), ruleset, config, now)
    report = run_delivery(config, result, now=now, apply=False)
    touched = {issue for message in report.messages for issue in (message.payload.get("issues") or
                                                                    [message.recipient])}
    assert touched and not touched & {"PAY-2", "PAY-6", "PAY-11", "PAY-4"}
    comments = {m.recipient for m in report.messages if m.kind == "jira_comment"}
    assert comments == {"PAY-1"}


# -- the one definitions -------------------------------------------------------------------------

def when(day):
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def test_delivered_date_says_which_date_it_is():
    done = dict(status_category="done")
    assert lifecycle.delivered_on(Issue("A-1", resolved=when("2026-01-02"), **done)) == \
        (when("2026-01-02"), "resolution date")
    assert lifecycle.delivered_on(Issue("A-2", fields={"statuscategorychangedate": "2026-02-03T00:00:00.000+0000"},
                                        updated=when("2026-03-01"), **done))[1] == "status category change date"
    assert lifecycle.delivered_on(Issue("A-3", updated=when("2026-03-01"), **done)) == (when("2026-03-01"),
                                                                                        "last update")
    assert lifecycle.delivered_on(Issue("A-4", status_category="indeterminate", updated=when("2026-03-01"))) == \
        (None, "")
    # No status at all: a resolution says it is closed.
    assert Issue("A-5", resolution="Fixed").is_closed() and not Issue("A-6").is_closed()


def test_abandoned_resolutions_are_wide_by_default_and_configurable(tmp_path):
    config = load_config(None, search=False)
    for name in ("Not A Problem", "Invalid", "Incomplete", "Auto Closed", "Cannot Reproduce", "Obsolete",
                 "Won't Do", "won't fix", "Duplicate", "Declined", "Rejected", "Abandoned"):
        assert lifecycle.is_abandoned(Issue("A-1", resolution=name), config), name
    assert not lifecycle.is_abandoned(Issue("A-1", resolution="Done"), config)
    path = tmp_path / "govbot.yaml"
    path.write_text("abandoned_resolutions: [Verworfen]\n")
    custom = load_config(path, env={})
    assert lifecycle.is_abandoned(Issue("A-1", resolution="verworfen"), custom)
    assert not lifecycle.is_abandoned(Issue("A-1", resolution="Duplicate"), custom)


def test_a_bot_comment_on_work_that_left_the_window_is_not_rewritten_as_fixed(tmp_path):
    from bot.deliver.comments import plan_comments
    from bot.store import Store
    from types import SimpleNamespace
    from bot.workspace import Workspace

    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.plan_comment("PAY-2", "old-hash", "open", datetime(2017, 4, 1, tzinfo=timezone.utc))
    store.plan_comment("PAY-7", "old-hash", "open", datetime(2026, 10, 1, tzinfo=timezone.utc))
    workspace = Workspace()
    workspace.add(Issue("PAY-2", project="PAY", status_category="done", resolution="Done",
                        resolved=when("2017-05-01")))
    workspace.add(Issue("PAY-7", project="PAY", status_category="indeterminate"))
    rules = [SimpleNamespace(id="anticipated-outcome-missing", comment=True, audience="owner", enabled=True)]
    result = SimpleNamespace(findings=[], workspace=workspace, ruleset=SimpleNamespace(rules=rules, active=rules))
    planned = plan_comments(result, store, load_config(None, search=False), when("2026-11-21"))
    assert [message.recipient for message in planned] == ["PAY-7"]  # fixed: said once; PAY-2 left alone
    store.close()

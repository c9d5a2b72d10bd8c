"""Waivers: a label, the waiver file and stored snoozes suppress; expired ones resurface."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.model import Finding, Issue, Severity
from bot.store import Store
from bot.waivers import apply_waivers, load_waiver_file
from bot.workspace import Workspace

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)


def finding(issue="PAY-1", rule="anticipated-outcome-missing"):
    return Finding(rule=rule, issue=issue, severity=Severity.ERROR, message="m", evidence="missing")


def config_with(tmp_path, waivers_yaml: str | None = None, extra: str = ""):
    text = extra
    if waivers_yaml is not None:
        (tmp_path / "waivers.yaml").write_text(waivers_yaml)
        text += "waivers: {file: waivers.yaml}\n"
    path = tmp_path / "govbot.yaml"
    path.write_text(text or "teams: {}\n")
    return load_config(path, env={})


def test_file_waiver_suppresses_until_its_date_then_resurfaces(tmp_path):
    config = config_with(tmp_path, """
waivers:
  - issue: PAY-1
    rule: anticipated-outcome-missing
    reason: Discovery spike; outcome agreed in the kickoff doc
    until: 2026-04-30
    by: jane@example.com
""")
    found = [finding("PAY-1"), finding("PAY-2")]
    report = apply_waivers(found, config, NOW)
    assert [f.waived for f in found] == [True, False]
    assert "Discovery spike" in found[0].waiver_reason and "by jane@example.com" in found[0].waiver_reason
    assert "until 2026-04-30" in found[0].waiver_reason and "waivers.yaml:3" in found[0].waiver_reason
    assert len(report.applied) == 1
    # The last day still counts; the day after, the finding is back.
    later = [finding("PAY-1")]
    apply_waivers(later, config, datetime(2026, 4, 30, 23, 0, tzinfo=timezone.utc))
    assert later[0].waived
    resurfaced = [finding("PAY-1")]
    report = apply_waivers(resurfaced, config, datetime(2026, 5, 1, 1, 0, tzinfo=timezone.utc))
    assert not resurfaced[0].waived
    assert [(f.issue, w.until) for f, w in report.expired] == [("PAY-1", date(2026, 4, 30))]


def test_label_waiver_and_wildcard_rule(tmp_path):
    config = config_with(tmp_path, "- {issue: PAY-3, rule: '*', reason: legacy epic kept for history}\n")
    workspace = Workspace()
    workspace.add(Issue(key="PAY-1", labels=("govbot-waive-anticipated-outcome-missing",)))
    workspace.add(Issue(key="PAY-2", labels=("GOVBOT-WAIVE-other-rule",)))
    workspace.add(Issue(key="PAY-3"))
    found = [finding("PAY-1"), finding("PAY-2"), finding("PAY-2", rule="other-rule"), finding("PAY-3", rule="x-y")]
    apply_waivers(found, config, NOW, workspace=workspace)
    assert [f.waived for f in found] == [True, False, True, True]
    assert found[0].waiver_reason.startswith("label govbot-waive-anticipated-outcome-missing")


def test_custom_label_prefix(tmp_path):
    config = config_with(tmp_path, extra="waivers: {label_prefix: 'exempt-'}\n")
    workspace = Workspace()
    workspace.add(Issue(key="PAY-1", labels=("exempt-anticipated-outcome-missing",)))
    found = [finding("PAY-1")]
    apply_waivers(found, config, NOW, workspace=workspace)
    assert found[0].waived


def test_stored_snoozes_suppress_too(tmp_path):
    config = config_with(tmp_path)
    store = Store("sqlite://")
    store.add_snooze("PAY-1", "anticipated-outcome-missing", reason="on hold until the reorg", by="alice",
                     until=NOW.date() + timedelta(days=14), now=NOW)
    found = [finding("PAY-1")]
    apply_waivers(found, config, NOW, store=store)
    assert found[0].waived and "snooze #1" in found[0].waiver_reason
    expired = [finding("PAY-1")]
    apply_waivers(expired, config, NOW + timedelta(days=15), store=store)
    assert not expired[0].waived


def test_already_waived_findings_keep_their_reason(tmp_path):
    config = config_with(tmp_path)
    waived = finding()
    waived.waived, waived.waiver_reason = True, "label govbot-waive-anticipated-outcome-missing"
    apply_waivers([waived], config, NOW)
    assert waived.waiver_reason == "label govbot-waive-anticipated-outcome-missing"


@pytest.mark.parametrize("content, message, line", [
    ("waivers:\n  - {issue: PAY-1, rule: r-x}\n", "'reason' is required", 2),
    ("waivers:\n  - {issue: not a key, rule: r-x, reason: because}\n", "is not a valid value", 2),
    ("waivers:\n  - {issue: PAY-1, rule: r-x, reason: because, until: next week}\n", "is not a date", 2),
    ("waivers:\n  - {issue: PAY-1, rule: r-x, reason: because, untill: 2026-01-01}\n", "unknown key 'untill'", 2),
    ("waivers:\n  - {issue: PAY-1, rule: r-x, reason: a, reason: b}\n", "duplicate key", 2),
])
def test_bad_waiver_files_point_at_the_line(tmp_path, content, message, line):
    path = tmp_path / "waivers.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_waiver_file(path)
    assert message in str(error.value)
    assert f"waivers.yaml:{line}:" in str(error.value)


def test_missing_waiver_file_is_a_config_error(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("waivers: {file: nope.yaml}\n")
    with pytest.raises(ConfigError, match="nope.yaml not found"):
        apply_waivers([finding()], load_config(path, env={}), NOW)


def test_waiver_events_are_audited_when_they_start_and_end(tmp_path):
    """The audit log records a waiver when it starts and stops suppressing, not on every run."""
    from bot.deliver.audit import AuditLog
    from bot.deliver.run import audit_waivers
    from tests.test_store import FakeResult

    config = config_with(tmp_path, "- {issue: PAY-1, rule: anticipated-outcome-missing, reason: spike, "
                                   "until: 2026-04-01}\n")
    store = Store("sqlite://")
    audit = AuditLog(tmp_path / "audit.jsonl")
    for day in (0, 1, 2):
        now = NOW + timedelta(days=day)
        found = [finding("PAY-1")]
        report = apply_waivers(found, config, now)
        record = store.record_scan(FakeResult(found, read=["PAY-1"]), now)
        audit_waivers(audit, record, found, report)
    events = [(e["event"], e["issue"]) for e in audit.events]
    assert events == [("waiver.applied", "PAY-1"), ("waiver.expired", "PAY-1")]
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 2

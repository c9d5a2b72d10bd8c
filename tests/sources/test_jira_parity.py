"""`govbot scan` against live Jira reports what the same data reports from a snapshot."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import load_rules
from bot.engine.evaluate import evaluate
from bot.runs.owners import complete_owners
from bot.sources.jira import load_workspace_from_jira
from bot.sources.snapshot import load_snapshot
from fakejira import (CLOUD_ENV, DC_ENV, FakeJira, adf, cloud_fields, cloud_issue, dc_fields, dc_issue,
                      make_config, make_source, mock)

START = datetime(2025, 6, 1, tzinfo=timezone.utc)


def cloud_site() -> list[dict]:
    chooser = random.Random(3)
    issues = [cloud_issue("INIT-1", "Initiative", description=adf(("p", "Anticipated Outcome: churn below 2% by Q4")))]
    for n in range(1, 41):
        outcome = chooser.choice([None, "TBD", "Lift retention 25% by Q3", "Make it nicer"])
        done = chooser.random() < 0.3
        issues.append(cloud_issue(
            f"PAY-{n}", chooser.choice(["Epic", "Epic", "Story", "Release"]),
            parent=chooser.choice([None, "INIT-1", "PAY-1"]), parent_type="Initiative",
            outcome=outcome, labels=["tech-debt-agreement"] if chooser.random() < 0.2 else [],
            status="Done" if done else "In Progress", category="done" if done else "indeterminate",
            created=START + timedelta(days=n)))
    return issues


def dc_site() -> list[dict]:
    chooser = random.Random(4)
    issues = [dc_issue("INIT-1", "Initiative")]
    for n in range(1, 41):
        kind = chooser.choice(["Epic", "Story", "Story", "Sub-task"])
        issues.append(dc_issue(
            f"PAY-{n}", kind, epic="PAY-1" if kind == "Story" and chooser.random() < 0.6 else None,
            parent_link="INIT-1" if kind == "Epic" else None, parent="PAY-2" if kind == "Sub-task" else None,
            description=chooser.choice([None, "h2. Anticipated Outcome\nTBD",
                                        "h2. Anticipated Outcome\nCut p95 latency to 300 ms by May"]),
            created=START + timedelta(days=n)))
    return issues


def site_and_snapshot(cloud: bool, tmp_path) -> tuple[list[dict], Path]:
    """The site's issues, and a snapshot file of the same issues with the site's field names and schemas."""
    issues = cloud_site() if cloud else dc_site()
    fields = cloud_fields() if cloud else dc_fields()
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"issues": issues, "names": {f["id"]: f["name"] for f in fields},
                                    "schema": {f["id"]: f["schema"] for f in fields}}))
    return issues, snapshot


def read_live(rsps, issues: list[dict], cloud: bool, **load):
    """The issues read from a FakeJira with the bundled rules, as a scan of project PAY reads them:
    (workspace, config, ruleset)."""
    FakeJira(issues, cloud=cloud).install(rsps)
    config = make_config({"projects": ["PAY"]}, env=CLOUD_ENV if cloud else DC_ENV)
    ruleset = load_rules(None, config)
    return load_workspace_from_jira(config, ruleset, source=make_source(config), **load), config, ruleset


def findings(output: str) -> list[tuple]:
    data = json.loads(output)
    # The owner too: a live scan reads the owner fields after the rules, for the issues with findings.
    return sorted((f["rule"], f["issue"], f["evidence"], f["waived"], json.dumps(f.get("owner"), sort_keys=True),
                   f.get("owner_role") or "") for f in data["findings"])


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_live_scan_matches_a_snapshot_of_the_same_issues(flavour, tmp_path):
    cloud = flavour == "cloud"
    issues, snapshot = site_and_snapshot(cloud, tmp_path)
    env = CLOUD_ENV if cloud else DC_ENV
    runner = CliRunner()
    with mock() as rsps:
        fake = FakeJira(issues, cloud=cloud, page_cap=15).install(rsps)
        make_config({"projects": ["PAY"]}, env=env)
        live = runner.invoke(cli, ["scan", "--config", "govbot.yaml", "--format", "json", "--now", "2026-03-01"],
                             env=env)
    offline = runner.invoke(cli, ["scan", "--config", "govbot.yaml", "--snapshot", str(snapshot),
                                  "--format", "json", "--now", "2026-03-01"], env=env)
    assert live.exit_code == offline.exit_code == 1, live.output
    live_findings = findings(live.stdout)
    # The snapshot also holds INIT-1, which the live scope (project PAY) does not.
    assert live_findings == [f for f in findings(offline.stdout) if f[1] != "INIT-1"]
    assert len(live_findings) > 5
    scope_pages = [s for s in fake.searches() if "project = PAY" in s["params"].get("jql", "")]
    assert len(scope_pages) == 3  # 40 issues at 15 a page: one request per page
    # Plus fields, server info and one bulk read of the parent INIT-1; then the owners (assignee, reporter)
    # of the issues with findings, read after the rules: one bulkfetch on Cloud (up to 1,000 issues), on
    # Data Center one `key in (...)` search per page of the server's cap (15 here).
    owner_reads = [c for c in fake.calls if "assignee" in str(c["body"].get("fields", "")) + c["params"].get("fields", "")]
    assert len(fake.calls) - len(owner_reads) <= 6
    owned = {f[1] for f in live_findings}
    assert len(owner_reads) == (1 if cloud else -(-len(owned) // 15))
    assert all(c["method"] == "POST" and c["body"]["fields"] == ["assignee", "reporter"] for c in owner_reads)
    assert any(f[4] != "null" for f in live_findings)  # owners were named
    assert json.loads(live.stdout)["summary"]["source"].startswith("jira:https://")


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_live_issues_keep_the_same_fields_as_from_a_snapshot(flavour, tmp_path):
    """The live reader slims issues as the snapshot reader does (it used to keep every raw field)."""
    cloud = flavour == "cloud"
    issues, snapshot = site_and_snapshot(cloud, tmp_path)
    with mock() as rsps:
        live, config, ruleset = read_live(rsps, issues, cloud)
    offline = load_snapshot(snapshot, config, ruleset)
    kept = {key: sorted(issue.fields) for key, issue in live.issues.items()}
    assert kept == {key: sorted(offline.issues[key].fields) for key in live.issues}
    assert all("customfield_10060" not in names for names in kept.values())  # Story Points: nothing reads it


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_owners_read_later_leave_issues_with_findings_as_from_a_snapshot(flavour, tmp_path):
    """A scan's read leaves the owner fields out; once they are read for the issues with findings, those
    issues are what a snapshot gives, and the others differ by the owner fields only."""
    cloud = flavour == "cloud"
    issues, snapshot = site_and_snapshot(cloud, tmp_path)
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with mock() as rsps:
        live, config, ruleset = read_live(rsps, issues, cloud, defer_owners=True)
        assert all(issue.assignee is None and issue.reporter is None for issue in live.issues.values())
        evaluation = evaluate(live, ruleset.active, config, now)
        complete_owners(live, evaluation, config)
    offline = load_snapshot(snapshot, config, ruleset)
    with_findings = {f.issue for f in evaluation.findings}
    assert with_findings and live.complete
    for key, issue in live.issues.items():
        other = offline.issues[key]
        if key in with_findings:
            assert (issue.fields, issue.assignee, issue.reporter) == (other.fields, other.assignee, other.reporter)
        else:
            assert issue.fields == {k: v for k, v in other.fields.items() if k not in ("assignee", "reporter")}
    expected = evaluate(offline, ruleset.active, config, now).findings
    assert sorted((f.rule, f.issue, f.owner, f.owner_role) for f in evaluation.findings) == sorted(
        (f.rule, f.issue, f.owner, f.owner_role) for f in expected if f.issue != "INIT-1")

"""A live scan reads the owner fields (assignee, reporter) after the rules, for the issues with findings only."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import load_rules
from bot.engine.evaluate import evaluate
from bot.runs.owners import complete_owners
from bot.sources.cursors import MemoryCursorStore
from bot.sources.owners import deferrable
from fakejira import CLOUD_ENV, DC_ENV, FakeJira, cloud_issue, dc_issue, make_config, make_source, mock

BULKFETCH = "/rest/api/3/issue/bulkfetch"
DC_SEARCH = "/rest/api/2/search"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def site(cloud: bool, count: int = 20) -> list[dict]:
    """Epics, every second one without an outcome (a finding owned by its assignee), and stories."""
    if cloud:
        return [cloud_issue(f"PAY-{n}", "Epic" if n % 2 else "Story",
                            outcome=None if n % 4 == 1 else "Cut churn 5% by May") for n in range(1, count + 1)]
    return [dc_issue(f"PAY-{n}", "Epic" if n % 2 else "Story",
                     description=None if n % 4 == 1 else "h2. Anticipated Outcome\nCut churn 5% by May")
            for n in range(1, count + 1)]


def owner_reads(fake: FakeJira) -> list[dict]:
    return [c for c in fake.calls if "assignee" in str(c["body"].get("fields", "")) + c["params"].get("fields", "")]


def scan(fake: FakeJira, env: dict, *extra: str) -> tuple[int, dict]:
    with mock() as rsps:
        fake.install(rsps)
        make_config({"projects": ["PAY"]}, env=env)
        result = CliRunner().invoke(cli, ["scan", "--config", "govbot.yaml", "--format", "json", "--now",
                                          "2026-03-01", *extra], env=env)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_the_scope_is_read_without_owners_and_findings_still_name_them(cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeJira(site(cloud), cloud=cloud)
    code, data = scan(fake, CLOUD_ENV if cloud else DC_ENV)
    assert code == 1 and data["summary"]["complete"] is True
    reads = owner_reads(fake)
    assert len(reads) == 1  # every issue with findings in one request
    [read] = reads
    assert read["method"] == "POST" and read["body"]["fields"] == ["assignee", "reporter"]
    if cloud:
        assert read["path"] == BULKFETCH
        asked = {fake_id for fake_id in read["body"]["issueIdsOrKeys"]}
        by_id = {issue["id"]: key for key, issue in fake.issues.items()}
        asked = {by_id[i] for i in asked}
    else:
        assert read["path"] == DC_SEARCH and read["body"]["jql"].startswith("key in (")
        asked = set(read["body"]["jql"][len("key in ("):-1].split(", "))
    # Only issues with findings an owner field may own, never the whole scope.
    assert asked and asked <= {f["issue"] for f in data["findings"]}
    assert len(asked) < len(fake.issues)
    everything_else = [c for c in fake.calls if c not in reads]
    assert all("assignee" not in json.dumps(c["body"]) + json.dumps(c["params"]) for c in everything_else)
    owned = [f for f in data["findings"] if f["issue"] in asked]
    assert owned and all(f["owner"] and f["owner_role"] == "assignee" for f in owned)


def test_a_site_that_keeps_bulkfetchs_older_limit_gets_100_ids_a_request(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeJira(site(True, count=500), cloud=True)
    fake.bulkfetch_max = 100
    code, data = scan(fake, CLOUD_ENV)
    assert code == 1 and data["summary"]["complete"] is True
    reads = owner_reads(fake)
    sizes = [len(c["body"]["issueIdsOrKeys"]) for c in reads]
    with_findings = len({f["issue"] for f in data["findings"] if f["rule"].startswith("anticipated-outcome")})
    assert sizes[0] > 100 and all(size <= 100 for size in sizes[1:])  # refused once, then 100 at a time
    assert sum(sizes[1:]) >= with_findings > 100
    assert all(f["owner"] for f in data["findings"] if f["owner_role"])


def test_a_big_site_reads_up_to_1000_owners_a_bulkfetch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeJira(site(True, count=500), cloud=True)
    code, data = scan(fake, CLOUD_ENV)
    assert code == 1 and data["summary"]["complete"] is True
    assert [c["path"] for c in owner_reads(fake)] == [BULKFETCH]


def read_without_owners(rsps, cloud: bool):
    """The site installed and read as a scan reads it, the owner fields left for later, cursors in memory:
    (fake, config, ruleset, cursors, workspace)."""
    fake = FakeJira(site(cloud), cloud=cloud).install(rsps)
    config = make_config({"projects": ["PAY"]}, env=CLOUD_ENV if cloud else DC_ENV)
    ruleset = load_rules(None, config)
    cursors = MemoryCursorStore()
    workspace = make_source(config).load(ruleset, cursor_store=cursors, defer_owners=True)
    return fake, config, ruleset, cursors, workspace


def rule(*fields, owner=("assignee", "reporter")):
    return SimpleNamespace(fields=lambda: set(fields), enabled=True, metric=None, owner=list(owner))


def test_an_owner_field_a_rule_or_message_reads_is_read_with_the_scope(tmp_path, monkeypatch):
    from bot.engine.templates import fields_read

    monkeypatch.chdir(tmp_path)
    config = make_config({"projects": ["PAY"]})
    assert deferrable(SimpleNamespace(rules=[rule("Impact")]), config) == ("assignee", "reporter")
    assert deferrable(SimpleNamespace(rules=[rule("Assignee")]), config) == ("reporter",)
    assert deferrable(None, config) == ()
    # A message naming issue.assignee reads it (Rule.fields() includes what its message reads).
    assert "assignee" in fields_read("{{ issue.key }} belongs to {{ issue.assignee }}")


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_a_failed_owner_read_leaves_the_cursor_where_it_was(cloud, tmp_path, monkeypatch):
    """Otherwise the next rescan would skip the issues whose findings this run could not report."""
    monkeypatch.chdir(tmp_path)
    with mock() as rsps:
        fake, config, ruleset, cursors, workspace = read_without_owners(rsps, cloud)
        assert workspace.complete and cursors.cursors == {}  # not before the owners are read
        evaluation = evaluate(workspace, ruleset.active, config, NOW)
        before = len(evaluation.findings)
        fake.fail(BULKFETCH if cloud else DC_SEARCH, fake.counts.get(BULKFETCH if cloud else DC_SEARCH, 0) + 1,
                  status=400)  # not retried: the owner read fails
        complete_owners(workspace, evaluation, config)
    assert not workspace.complete
    assert cursors.cursors == {}  # the next run reads everything again
    assert all(f.owner is not None for f in evaluation.findings if f.rule.startswith("anticipated"))
    assert evaluation.unjudged and len(evaluation.findings) + len(evaluation.unjudged) == before
    assert any("could not read the owners (assignee, reporter) of" in p for p in workspace.problems)


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_a_complete_owner_read_writes_the_cursor(cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with mock() as rsps:
        _fake, config, ruleset, cursors, workspace = read_without_owners(rsps, cloud)
        complete_owners(workspace, evaluate(workspace, ruleset.active, config, NOW), config)
    assert workspace.complete
    assert any(c.get("version") for name, c in cursors.cursors.items() if name.startswith("jira:"))


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_an_issue_deleted_between_the_reads_has_no_owner_and_stays_quiet(cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with mock() as rsps:
        fake, config, ruleset, cursors, workspace = read_without_owners(rsps, cloud)
        evaluation = evaluate(workspace, ruleset.active, config, NOW)
        owned = sorted({f.issue for f in evaluation.findings if f.rule.startswith("anticipated")})
        deleted = owned[0]
        del fake.issues[deleted]  # deleted after the scope read, before the owner read
        complete_owners(workspace, evaluation, config)
    assert not [f for f in evaluation.findings if f.issue == deleted]  # nothing reported or sent about it
    assert {f.issue for f in evaluation.findings} >= set(owned[1:])
    assert all(f.owner is not None for f in evaluation.findings if f.issue in owned)
    assert workspace.complete  # nothing left unread: the next full read confirms it gone
    [note] = [n for n in workspace.notes if deleted in n]
    assert "deleted" in note and "no owner" in note
    assert cursors.cursors  # the cursor moves on


def test_owners_found_before_the_deferred_fields_need_no_read(tmp_path, monkeypatch):
    """An Outcome Owner named on the issue owns its findings: assignee and reporter are never asked for."""
    from bot.model import User

    monkeypatch.chdir(tmp_path)
    with mock() as rsps:
        fake, config, ruleset, _cursors, workspace = read_without_owners(rsps, cloud=True)
        evaluation = evaluate(workspace, ruleset.active, config, NOW)
        first = {rule.id for rule in ruleset.rules if rule.owner[:1] == ["Outcome Owner"]}
        evaluation.findings[:] = [f for f in evaluation.findings if f.rule in first]
        evaluation.verdicts[:] = [v for v in evaluation.verdicts if v.finding is None or v.rule in first]
        assert evaluation.findings
        for finding in evaluation.findings:
            finding.owner, finding.owner_role = User(account_id="acc-pm", display_name="PM"), "Outcome Owner"
        complete_owners(workspace, evaluation, config)
    assert not [c for c in fake.calls if c["path"] == BULKFETCH]
    assert all(f.owner.account_id == "acc-pm" for f in evaluation.findings)


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_a_rescan_reads_owners_with_the_changed_issues(cloud, tmp_path, monkeypatch):
    """A rescan reads a few hundred issues: one request more for their owners would cost more than it saves."""
    monkeypatch.chdir(tmp_path)
    with mock() as rsps:
        fake, config, ruleset, cursors, full = read_without_owners(rsps, cloud)
        complete_owners(full, evaluate(full, ruleset.active, config, NOW), config)
        fake.calls.clear()
        rescan = make_source(config).load(ruleset, cursor_store=cursors, defer_owners=True)
    assert rescan.partial and rescan.late_owners is None
    scope = [c for c in fake.searches() if "updated >=" in str(c["params"]) + str(c["body"])]
    assert scope and all("assignee" in str(c["params"]) + str(c["body"]) for c in scope)

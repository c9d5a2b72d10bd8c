"""Jira Data Center: startAt paging at the server's page size, the 10,000-result window,
Epic Link found by schema type, ``key in (...)`` relatives."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import bot.sources.jira as jira_source
from bot.sources.jira import load_issues_from_jira, load_workspace_from_jira
from fakejira import DC_ENV, EPIC_LINK, OUTCOME, PARENT_LINK, FakeJira, dc_issue, make_config, make_source, mock

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DESCRIPTION = """h2. Anticipated Outcome
Halve checkout time (p95 below 2 s) by Q3.

h2. Actual Outcome
TBD"""


class Rules:
    needs_relatives = True

    def fields_needed(self, config):
        return {"Anticipated Outcome", "Expected Outcome", "Actual Outcome", "labels"}


def config(projects=("PAY",)):
    return make_config({"projects": list(projects)}, env=DC_ENV)


def test_pages_with_the_size_the_server_allows_and_reads_the_hierarchy_by_schema():
    issues = [dc_issue("PAY-1", "Epic", description=DESCRIPTION, parent_link="PAY-200")]
    issues += [dc_issue(f"PAY-{n}", "Story", epic="PAY-1", created=START + timedelta(hours=n)) for n in range(2, 121)]
    issues += [dc_issue("PAY-200", "Initiative", outcome="Grow revenue 10%")]
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False, page_cap=50).install(rsps)
        cfg = config()
        workspace = load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
    searches = fake.searches()
    assert [s["params"]["maxResults"] for s in searches] == ["1000", "50", "50"]
    assert [s["params"]["startAt"] for s in searches] == ["0", "50", "100"]
    assert searches[0]["params"]["jql"] == "project = PAY ORDER BY created ASC"
    fields = searches[0]["params"]["fields"].split(",")
    assert EPIC_LINK in fields and PARENT_LINK in fields and OUTCOME in fields and "*all" not in fields
    assert len(workspace.issues) == 121 and workspace.complete
    epic = workspace.issues["PAY-1"]
    assert len(epic.children) == 119 and workspace.issues["PAY-5"].parent_key == "PAY-1"
    assert epic.parent_key == "PAY-200"
    assert epic.section("Anticipated Outcome") == "Halve checkout time (p95 below 2 s) by Q3."
    assert epic.section("Actual Outcome") == "TBD"
    assert epic.url == "https://jira.example.com/browse/PAY-1"


def test_more_than_ten_thousand_results_are_read_in_creation_windows():
    # Three issues a minute, in a time zone that is not UTC: JQL dates are the user's local time.
    issues = [dc_issue(f"PAY-{n}", "Story", created=START + timedelta(minutes=n // 3)) for n in range(1, 12_346)]
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False, time_zone="America/New_York").install(rsps)
        cfg = config()
        began = time.monotonic()
        workspace = load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
        elapsed = time.monotonic() - began
    assert len(workspace.issues) == 12_345 and workspace.complete, workspace.problems
    searches = fake.searches()
    assert len(searches) == 13  # 10 pages, then one more window of 3 pages
    assert all(int(s["params"]["startAt"]) + int(s["params"]["maxResults"]) <= 10_000 for s in searches)
    second = searches[10]["params"]
    # The 10,000th issue was created 3,333 minutes in: 2024-01-03 07:33 UTC, 02:33 in New York.
    assert second["jql"] == '(project = PAY) AND created >= "2024-01-03 02:33" ORDER BY created ASC'
    assert second["startAt"] == "0"
    assert elapsed < 15


def test_a_minute_holding_more_than_a_window_is_reported_not_looped_on(monkeypatch):
    monkeypatch.setattr(jira_source, "DC_RESULT_WINDOW", 20)
    issues = [dc_issue(f"PAY-{n}", "Story", created=START) for n in range(1, 31)]
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False, page_cap=10, window=20).install(rsps)
        cfg = config()
        workspace = load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
    assert len(workspace.issues) == 20 and not workspace.complete
    assert any("created in the minute of" in p for p in workspace.problems)
    assert len(fake.searches()) <= 5


def test_parents_outside_the_scope_come_from_key_searches_and_unknown_keys_are_dropped():
    issues = [dc_issue(f"PAY-{n}", "Epic", parent_link=f"PORT-{n}") for n in range(1, 4)]
    issues += [dc_issue("PORT-1", "Initiative"), dc_issue("PORT-2", "Initiative")]  # PORT-3 was deleted
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False).install(rsps)
        cfg = config()
        workspace = load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
    key_searches = [s["params"]["jql"] for s in fake.searches()][1:]
    assert key_searches == ["key in (PORT-1, PORT-2, PORT-3) ORDER BY created ASC",
                            "key in (PORT-1, PORT-2) ORDER BY created ASC"]
    assert set(workspace.relatives) == {"PORT-1", "PORT-2"}
    assert any("PORT-3: parent not found" in p for p in workspace.problems)
    assert workspace.complete


def test_check_on_data_center_finds_children_by_epic_link_and_parent():
    issues = [dc_issue("PAY-1", "Epic"), dc_issue("PAY-2", "Story", epic="PAY-1"),
              dc_issue("PAY-3", "Sub-task", parent="PAY-2"), dc_issue("PAY-4", "Story", epic="PAY-9"),
              dc_issue("PAY-9", "Epic")]
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False).install(rsps)
        cfg = config()
        workspace = load_issues_from_jira(cfg, ["PAY-1", "PAY-2"], Rules(), source=make_source(cfg))
    assert set(workspace.issues) == {"PAY-1", "PAY-2"} and set(workspace.relatives) == {"PAY-3"}
    children_query = fake.searches()[1]["params"]["jql"]
    assert children_query == "parent in (PAY-1, PAY-2) OR cf[10014] in (PAY-1) ORDER BY created ASC"
    assert workspace.children(workspace.issues["PAY-1"])[0].key == "PAY-2"


@pytest.mark.parametrize("deployment", ["datacenter", "auto"])
def test_deployment_is_detected_or_forced(deployment):
    with mock() as rsps:
        fake = FakeJira([dc_issue("PAY-1")], cloud=False).install(rsps)
        cfg = make_config({"projects": ["PAY"], "deployment": deployment}, env=DC_ENV)
        source = make_source(cfg)
        assert source.deployment == "datacenter"
    assert len(fake.calls_to("/rest/api/2/serverInfo")) == (1 if deployment == "auto" else 0)


def test_check_of_a_key_data_center_does_not_know_reads_the_others():
    with mock() as rsps:
        fake = FakeJira([dc_issue("PAY-1", "Epic")], cloud=False).install(rsps)
        cfg = config()
        workspace = load_issues_from_jira(cfg, ["PAY-1", "PAY-77"], Rules(), source=make_source(cfg))
    assert set(workspace.issues) == {"PAY-1"}
    assert any(p.startswith("PAY-77: not found") for p in workspace.problems)
    assert [s["params"]["jql"] for s in fake.searches()][:2] == [
        "key in (PAY-1, PAY-77) ORDER BY created ASC", "key in (PAY-1) ORDER BY created ASC"]


def test_a_server_that_cannot_sort_is_still_paged_without_order_by():
    issues = [dc_issue(f"PAY-{n}") for n in range(1, 26)]
    with mock() as rsps:
        fake = FakeJira(issues, cloud=False, page_cap=10).install(rsps)
        fake.supports_order_by = False
        cfg = config()
        workspace = load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
    assert len(workspace.issues) == 25 and workspace.complete
    assert [s["params"]["jql"] for s in fake.searches()] == ["project = PAY ORDER BY created ASC"] + ["project = PAY"] * 3


def test_a_project_jira_does_not_know_is_one_line_naming_the_setting():
    from bot.errors import JiraError

    with mock() as rsps:
        FakeJira([dc_issue("PAY-1")], cloud=False).install(rsps)
        cfg = config(projects=("PAY", "NOPE"))
        with pytest.raises(JiraError) as caught:
            load_workspace_from_jira(cfg, Rules(), source=make_source(cfg))
    assert str(caught.value) == ("Jira rejected the scope query (project in (PAY, NOPE)): The value 'NOPE' does not "
                                 "exist for the field 'project'.\nhelp: check jira.projects and jira.jql in govbot.yaml")

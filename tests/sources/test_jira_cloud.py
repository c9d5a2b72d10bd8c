"""Jira Cloud: /rest/api/3/search/jql token paging, bulkfetch relatives, faults mid-scan."""

from __future__ import annotations

import pytest
import requests

from bot.errors import JiraError, NetworkError
from bot.sources.jira import load_issues_from_jira, load_workspace_from_jira
from fakejira import OUTCOME, FakeJira, Sleeps, adf, cloud_issue, make_config, make_source, mock


class Rules:
    """The two things a source asks of a rule set."""

    def __init__(self, fields=("Anticipated Outcome", "Expected Outcome", "labels"), relatives=True):
        self._fields = set(fields)
        self.needs_relatives = relatives

    def fields_needed(self, config):
        return self._fields


def epic_and_stories(count: int) -> list[dict]:
    issues = [cloud_issue("PAY-1", "Epic", description=adf(
        ("h2", "Anticipated Outcome"), ("p", "80% of new users finish onboarding within 7 days")))]
    issues += [cloud_issue(f"PAY-{n}", "Story", parent="PAY-1") for n in range(2, count + 1)]
    return issues


def test_pages_to_the_end_asking_only_for_needed_fields():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(250)).install(rsps)
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    assert len(workspace.issues) == 250 and workspace.complete
    assert workspace.source == "jira:https://example.atlassian.net"
    searches = fake.searches()
    assert len(searches) == 3  # 100 + 100 + 50: one request per page
    assert "nextPageToken" not in searches[0]["params"]
    assert searches[1]["params"]["nextPageToken"] != searches[2]["params"]["nextPageToken"]
    fields = searches[0]["params"]["fields"].split(",")
    assert OUTCOME in fields and "labels" in fields and "parent" in fields
    assert "*all" not in fields and "customfield_10060" not in fields  # Story Points: no rule reads it
    assert searches[0]["params"]["maxResults"] == "5000"  # ask for the maximum, take what comes
    assert len(fake.calls_to("/rest/api/2/field")) == 1
    epic = workspace.issues["PAY-1"]
    assert epic.section("Anticipated Outcome").startswith("80% of new users")
    assert epic.url == "https://example.atlassian.net/browse/PAY-1"
    assert len(workspace.children(epic)) == 249


def test_missing_parents_are_fetched_in_bulk_one_call_per_hundred():
    issues = [cloud_issue(f"PAY-{n}", "Epic", parent=f"INIT-{n}", parent_type="Initiative") for n in range(1, 151)]
    issues += [cloud_issue(f"INIT-{n}", "Initiative", outcome="Cut churn 5% by Q3") for n in range(1, 151)]
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    assert [len(call["body"]["issueIdsOrKeys"]) for call in bulk] == [100, 50]
    assert OUTCOME in bulk[0]["body"]["fields"]
    assert len(workspace.issues) == 150 and len(workspace.relatives) == 150
    parent = workspace.parent(workspace.issues["PAY-7"])
    assert parent.key == "INIT-7" and not parent.stub and parent.text(OUTCOME) == "Cut churn 5% by Q3"


def test_no_relatives_are_fetched_when_no_rule_looks_at_them():
    issues = [cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative"), cloud_issue("INIT-1", "Initiative")]
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(relatives=False), source=make_source(config))
    assert fake.calls_to("/rest/api/3/issue/bulkfetch") == []
    assert workspace.relatives["INIT-1"].stub  # known only from the embedded parent object


def test_a_reset_mid_scan_resumes_from_that_page():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(250)).install(rsps)
        fake.fail("/rest/api/3/search/jql", 2, exception=requests.exceptions.ConnectionError("Connection reset by peer"))
        config = make_config()
        sleeps = Sleeps()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config, sleeps=sleeps))
    searches = fake.searches()
    assert len(searches) == 4 and len(sleeps) == 1
    assert "nextPageToken" not in searches[0]["params"]
    assert searches[1]["params"]["nextPageToken"] == searches[2]["params"]["nextPageToken"]  # same page again
    assert len(workspace.issues) == 250 and workspace.complete


def test_rate_limits_mid_scan_are_waited_out():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(250)).install(rsps)
        fake.fail("/rest/api/3/search/jql", 2, status=429, retry_after="5")
        fake.fail("/rest/api/3/search/jql", 4, status=503, retry_after="Sun, 01 Mar 2026 12:00:09 GMT")
        config = make_config()
        sleeps = Sleeps()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config, sleeps=sleeps))
    assert sleeps == [5, 9]
    assert len(workspace.issues) == 250 and workspace.complete


def test_a_fault_that_outlives_the_retries_leaves_a_usable_but_incomplete_workspace():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(250)).install(rsps)
        for call in range(2, 8):
            fake.fail("/rest/api/3/search/jql", call, status=502)
        config = make_config({"projects": ["PAY"], "max_retries": 2})
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    assert len(workspace.issues) == 100 and not workspace.complete
    assert any("stopped after reading 100 issues" in p for p in workspace.problems)


def test_nothing_read_at_all_is_a_network_error():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(5)).install(rsps)
        for call in range(1, 4):
            fake.fail("/rest/api/3/search/jql", call, exception=requests.exceptions.ConnectTimeout("timed out"))
        config = make_config({"projects": ["PAY"], "max_retries": 2})
        with pytest.raises(NetworkError, match="connection timed out"):
            load_workspace_from_jira(config, Rules(), source=make_source(config))


def test_a_project_jira_does_not_know_is_one_line_with_jiras_words():
    with mock() as rsps:
        FakeJira(epic_and_stories(3)).install(rsps)
        config = make_config({"projects": ["PAY"]})
        source = make_source(config)
        with pytest.raises(JiraError) as caught:
            load_workspace_from_jira(config, Rules(), jql="project = NOPE AND (", source=source)
    assert str(caught.value) == ("Jira rejected the scope query (project = NOPE AND (): Error in the JQL Query: "
                                 "the query ended too early.\nhelp: check --jql")
    assert caught.value.exit_code == 2


def test_bad_credentials_stop_the_scan_with_a_hint_and_no_secret():
    with mock() as rsps:
        fake = FakeJira(epic_and_stories(3)).install(rsps)
        fake.valid_auth = False
        config = make_config()
        with pytest.raises(JiraError) as caught:
            load_workspace_from_jira(config, Rules(), source=make_source(config))
    assert "401" in str(caught.value) and "JIRA_API_TOKEN" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_jql_override_replaces_the_scope_and_drops_its_order_by():
    issues = epic_and_stories(3) + [cloud_issue("MOB-1", "Epic")]
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(), jql='project = MOB ORDER BY "created" DESC',
                                             source=make_source(config))
    assert set(workspace.issues) == {"MOB-1"}
    assert fake.searches()[0]["params"]["jql"] == "project = MOB"


def test_post_is_used_when_the_site_refuses_get_searches():
    with mock() as rsps:
        rsps.add("GET", "https://example.atlassian.net/rest/api/3/search/jql", status=405)
        fake = FakeJira(epic_and_stories(150)).install(rsps)
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    posts = [c for c in fake.searches() if c["method"] == "POST"]
    assert len(posts) == 2 and posts[1]["body"]["nextPageToken"]
    assert isinstance(posts[0]["body"]["fields"], list)
    assert len(workspace.issues) == 150


def test_check_reads_named_issues_with_children_and_ancestors():
    issues = [cloud_issue("INIT-1", "Initiative"), cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative"),
              cloud_issue("PAY-2", "Story", parent="PAY-1"), cloud_issue("MOB-3", "Story", parent="PAY-1"),
              cloud_issue("PAY-9", "Story")]
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        config = make_config()
        workspace = load_issues_from_jira(config, ["pay-1", "PAY-404"], Rules(), source=make_source(config))
    assert set(workspace.issues) == {"PAY-1"}
    assert set(workspace.relatives) == {"INIT-1", "PAY-2", "MOB-3"}
    assert not workspace.relatives["INIT-1"].stub
    assert any("PAY-404: not found" in p for p in workspace.problems)
    assert fake.searches()[0]["params"]["jql"] == "parent in (PAY-1)"


def test_a_missing_field_is_one_warning_on_the_log_not_a_scan_problem(caplog):
    with mock() as rsps:
        FakeJira(epic_and_stories(3)).install(rsps)
        config = make_config()
        source = make_source(config)
        with caplog.at_level("WARNING", logger="govbot.jira"):
            workspace = load_workspace_from_jira(config, Rules(fields=("Reason", "Why", "Anticipated Outcome")),
                                                 source=source)
            load_workspace_from_jira(config, Rules(fields=("Reason", "Why")), source=source)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["warning: no field 'Reason' on this Jira site (nor their synonyms); rules read description "
                        "sections of those names instead (`govbot doctor` lists the fields)"]
    assert workspace.problems == []


def test_without_bulkfetch_parents_come_from_a_key_search():
    issues = [cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative"), cloud_issue("INIT-1", "Initiative")]
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        fake.supports_bulkfetch = False
        config = make_config()
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    assert not workspace.relatives["INIT-1"].stub
    assert fake.searches()[-1]["params"]["jql"] == "key in (INIT-1)"

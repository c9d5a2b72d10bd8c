"""`govbot doctor`: a green/red list of what works, exit 0 or 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.commands.doctor import doctor
from bot.doctor import FAIL, OK, WARN, run_doctor
from tests.sources.fakejira import (CLOUD_ENV, DC_ENV, FakeJira, Sleeps, cloud_issue, dc_issue, make_config,
                                    mock)


def source_factory(sleeps=None):
    from bot.sources.jira import JiraSource

    return lambda config, connection: JiraSource(config, connection, sleep=sleeps if sleeps is not None else Sleeps())


def statuses(steps):
    return {step.name: step.status for step in steps}


def test_all_good_on_cloud_with_field_ids_and_an_approximate_count():
    with mock() as rsps:
        fake = FakeJira([cloud_issue("PAY-1", "Epic"), cloud_issue("PAY-2")]).install(rsps)
        config = make_config({"projects": ["PAY"]})
        steps = run_doctor(config, make_source=source_factory())
    by_name = {step.name: step for step in steps}
    assert statuses(steps)["credentials"] == OK and "Ada Lovelace" in by_name["credentials"].detail
    assert by_name["reachable"].detail.startswith("Jira Cloud 1001.0.0")
    assert by_name["permissions in PAY"].status == OK
    assert by_name["project PAY"].status == OK
    assert by_name["field Anticipated Outcome"].detail == "Anticipated Outcome -> customfield_10050"
    assert by_name["field Reason"].status == WARN
    assert by_name["scope"].detail == "about 2 issues match project = PAY"
    assert not any(step.status == FAIL for step in steps)
    assert fake.calls_to("/rest/api/3/search/approximate-count")[0]["body"] == {"jql": "project = PAY"}
    assert fake.calls_to("/rest/api/2/mypermissions")[0]["params"] == {
        "permissions": "BROWSE_PROJECTS,ADD_COMMENTS", "projectKey": "PAY"}


def test_data_center_counts_with_search_total_and_shows_epic_link():
    with mock() as rsps:
        FakeJira([dc_issue("PAY-1", "Epic"), dc_issue("PAY-2", epic="PAY-1")], cloud=False).install(rsps)
        config = make_config({"projects": ["PAY"]}, env=DC_ENV)
        steps = run_doctor(config, make_source=source_factory())
    by_name = {step.name: step for step in steps}
    assert by_name["scope"].detail == "2 issues match project = PAY"
    assert by_name["field Epic Link"].detail == "customfield_10014"
    assert by_name["reachable"].detail.startswith("Jira Data Center 9.12.2")


def test_wrong_credentials_stop_at_the_credentials_line():
    with mock() as rsps:
        fake = FakeJira([cloud_issue("PAY-1")]).install(rsps)
        fake.valid_auth = False
        config = make_config()
        steps = run_doctor(config, make_source=source_factory())
    assert [(s.name, s.status) for s in steps] == [("config", OK), ("reachable", OK), ("credentials", FAIL)]
    assert "JIRA_API_TOKEN" in steps[-1].hint and "s3cr3t" not in steps[-1].detail + steps[-1].hint


def test_missing_project_permission_and_bad_jql_are_red():
    with mock() as rsps:
        fake = FakeJira([cloud_issue("PAY-1")]).install(rsps)
        fake.permissions["ADD_COMMENTS"] = False
        config = make_config({"projects": ["PAY", "NOPE"], "jql": "type = = Epic"})
        steps = run_doctor(config, make_source=source_factory())
    by_name = {step.name: step for step in steps}
    assert by_name["permissions in PAY"].status == WARN
    assert by_name["project NOPE"].status == FAIL and "not found" in by_name["project NOPE"].detail
    assert by_name["scope"].status == FAIL and "Error in the JQL Query" in by_name["scope"].detail


def test_unreachable_url_is_one_red_line(monkeypatch):
    import requests

    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("slept for real"))
    with mock() as rsps:
        rsps.add("GET", "https://example.atlassian.net/rest/api/2/serverInfo",
                 body=requests.exceptions.ConnectionError("Name or service not known"))
        config = make_config()
        steps = run_doctor(config, make_source=source_factory())
    assert [(s.name, s.status) for s in steps] == [("config", OK), ("reachable", FAIL)]
    assert "host name not found" in steps[-1].detail


def test_no_credentials_is_a_config_failure():
    config = make_config(env={"JIRA_URL": "https://example.atlassian.net"})
    steps = run_doctor(config)
    assert [(s.name, s.status) for s in steps] == [("config", FAIL)]


def test_command_prints_a_list_and_exits_by_outcome():
    with mock() as rsps:
        fake = FakeJira([cloud_issue("PAY-1", "Epic")]).install(rsps)
        make_config()
        ok = CliRunner().invoke(doctor, ["--config", "govbot.yaml"], env=CLOUD_ENV)
        fake.valid_auth = False
        bad = CliRunner().invoke(doctor, ["--config", "govbot.yaml", "--format", "json"], env=CLOUD_ENV)
    assert ok.exit_code == 0, ok.output
    lines = ok.output.splitlines()
    assert lines[0].split()[:2] == ["ok", "config"]
    assert lines[-1].startswith("all good")
    assert "\x1b[" not in ok.output
    assert bad.exit_code == 2
    data = json.loads(bad.stdout)
    assert data["ok"] is False and [c["status"] for c in data["checks"] if c["name"] == "credentials"] == ["fail"]

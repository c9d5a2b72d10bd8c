"""Jira misbehaving under a scan, on real sockets: the scan recovers, or says it is incomplete.

Every test runs against the loopback emulator (``tests/fakes/jira_server.py``)
for Cloud and Data Center. What must always hold: an issue counts as read only
if Jira delivered it whole, nothing is read twice, and a scan that could not
read everything says so (``complete: false``, exit 4) instead of passing for
a clean one.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import NetworkError
from tests.batches import scan
from bot.sources import http as http_module
from tests.faults.conftest import ISSUES, Sleeps, all_keys, source_for, write_config
from tests.fakes.jira_server import CLIENT_ENV, Faults

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=timezone.utc)
SEARCH_PATHS = ("/rest/api/3/search/jql", "/rest/api/2/search")


def read(emulator, sleeps=None, **jira):
    jira.setdefault("page_size", 100)  # several pages on Data Center too
    source, ruleset, config = source_for(emulator, sleeps, **jira)
    workspace = source.load(ruleset)
    return workspace, source, ruleset, config


def assert_read_only_what_was_delivered(workspace, emulator) -> None:
    assert set(workspace.issues) <= emulator.keys_delivered, "an issue counts as read that Jira never delivered"


# -- storms that retries ride out --------------------------------------------------------------------

def test_a_429_storm_is_ridden_out_honouring_retry_after(flavour, emulator_for):
    emulator = emulator_for(flavour, Faults(rate_limit_every=2, retry_after="7"))
    sleeps = Sleeps()
    workspace, source, *_ = read(emulator, sleeps)
    assert workspace.complete and set(workspace.issues) == all_keys(flavour)
    assert emulator.stats()["by_status"]["429"] >= 2
    # Retry-After, not a guess: the request told to wait sleeps 7 s; requests in flight on other
    # threads wait out what is left of the same pause (the shared gate), never longer.
    assert sleeps and 7.0 in sleeps and all(6.0 < seconds <= 7.0 for seconds in sleeps)
    assert sleeps.count(7.0) == emulator.stats()["by_status"]["429"]
    assert source.transport.retries == emulator.stats()["by_status"]["429"]


def test_bursts_of_503_are_retried_with_backoff(flavour, emulator_for):
    emulator = emulator_for(flavour, Faults(unavailable_every=3, unavailable_burst=2, retry_after=""))
    sleeps = Sleeps()
    # Two of every three requests fail, counted across all of them: one at a time, so each
    # request meets the burst pattern the same way (test_parallel_reads_retry_a_failed_page
    # covers faults under parallel reads).
    workspace, *_ = read(emulator, sleeps, concurrency=1)
    assert workspace.complete and set(workspace.issues) == all_keys(flavour)
    assert emulator.stats()["by_status"]["503"] >= 2
    assert all(0 < wait <= 60 for wait in sleeps)


def test_connections_reset_mid_body_are_retried_and_nothing_is_read_twice(flavour, emulator_for):
    emulator = emulator_for(flavour, Faults(reset_every=2, paths=SEARCH_PATHS))
    workspace, source, *_ = read(emulator)
    assert workspace.complete and set(workspace.issues) == all_keys(flavour)
    assert emulator.stats()["faults"]["reset"] >= 1
    assert len(workspace.issues) == ISSUES
    assert_read_only_what_was_delivered(workspace, emulator)


def test_slow_answers_past_the_timeout_are_retried(flavour, emulator_for):
    emulator = emulator_for(flavour, Faults(slow_every=3, slow_seconds=1.0, max_faults=2))
    workspace, *_ = read(emulator, timeout_seconds=0.25)
    assert workspace.complete and set(workspace.issues) == all_keys(flavour)
    assert emulator.stats()["faults"]["slow"] == 2


def test_expired_page_tokens_restart_the_cloud_search_without_duplicates(emulator_for):
    emulator = emulator_for("cloud", Faults(expire_token_every=2, max_faults=2))
    workspace, *_ = read(emulator, concurrency=1)  # one token chain over every page (ids-first needs one page)
    assert workspace.complete and set(workspace.issues) == all_keys("cloud")
    searches = emulator.stats()["by_path"]["/rest/api/3/search/jql"]
    assert searches > ISSUES // 100 + 1  # pages were read again after each refusal
    assert emulator.stats()["by_status"]["400"] == 2


# -- faults that outlast the retries --------------------------------------------------------------

def test_a_token_refused_every_time_ends_in_an_incomplete_scan_not_a_crash(emulator_for):
    emulator = emulator_for("cloud", Faults(expire_token_every=1))
    workspace, *_ = read(emulator, concurrency=1)
    assert not workspace.complete
    assert 0 < len(workspace.issues) < ISSUES
    assert any("page token" in problem for problem in workspace.problems)
    assert_read_only_what_was_delivered(workspace, emulator)


def test_an_outage_mid_paging_keeps_what_was_read_and_marks_the_rest_unread(flavour, emulator_for):
    # The first search page is answered; then 503s, longer than the retries last.
    emulator = emulator_for(flavour, Faults(outage_after=1, paths=SEARCH_PATHS))
    workspace, source, ruleset, config = read(emulator, max_retries=2)
    assert not workspace.complete
    assert len(workspace.issues) == 100
    assert_read_only_what_was_delivered(workspace, emulator)
    assert any("stopped after reading 100 issues" in problem for problem in workspace.problems)
    result = scan(workspace, ruleset, config, NOW)
    assert result.read_keys == set(workspace.issues)
    assert {finding.issue for finding in result.findings} <= set(workspace.issues)
    assert result.to_json()["summary"]["complete"] is False


def test_an_outage_before_anything_was_read_is_a_network_error(emulator_for):
    emulator = emulator_for("cloud", Faults(outage_after=0, paths=SEARCH_PATHS))
    with pytest.raises(NetworkError) as caught:
        read(emulator, max_retries=1)
    assert "still failing after 2 attempts" in str(caught.value) and "HTTP 503" in str(caught.value)


def test_the_removed_search_api_answers_410_and_the_error_says_what_to_set(emulator_for):
    emulator = emulator_for("cloud")
    write_config(emulator, deployment="datacenter")  # wrong: this is a Cloud site
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "--now", "2026-11-16"],
                                env={**CLIENT_ENV, "JIRA_URL": emulator.url})
    assert result.exit_code == 2, result.output
    assert "410 Gone" in result.output and "jira.deployment" in result.output
    assert "Traceback" not in result.output
    assert emulator.stats()["by_status"]["410"] == 1


# -- what the command line says -------------------------------------------------------------------

@pytest.fixture
def no_backoff(monkeypatch):
    """The CLI builds its own source with real sleeps: make backoff instant for these tests."""
    monkeypatch.setattr(http_module.Transport, "backoff", lambda self, attempt: 0.0)


def test_cli_exit_4_and_complete_false_when_a_scan_could_not_read_everything(emulator_for, no_backoff):
    # The first page and the id list are read; then every bulk read fails past its retries.
    emulator = emulator_for("cloud", Faults(outage_after=0, retry_after="0", paths=("/rest/api/3/issue/bulkfetch",)))
    write_config(emulator)
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "--now", "2026-11-16", "--fail-on", "never"],
                                env={**CLIENT_ENV, "JIRA_URL": emulator.url})
    assert result.exit_code == 4, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["summary"]["complete"] is False
    assert result.stderr.strip().splitlines()[-1].startswith("govbot: scan incomplete: ")
    assert data["summary"]["issues_scanned"] < ISSUES
    assert emulator.stats()["by_path"]["/rest/api/3/issue/bulkfetch"] >= 6  # retried before giving up
    assert result.stderr.strip().splitlines()[-1].startswith("govbot: scan incomplete: not every issue")
    assert {finding["issue"] for finding in data["findings"]} <= emulator.keys_delivered


def test_cli_recovers_from_a_mixed_storm_and_exits_as_if_nothing_happened(emulator_for, no_backoff):
    emulator = emulator_for("datacenter", Faults(rate_limit_every=3, unavailable_every=5, reset_every=7,
                                                 retry_after="0"))
    # Pages are read four at a time, so which request meets which fault varies from run to run:
    # enough retries that no page can meet six faults in a row and give up (p < 1e-3 per run).
    write_config(emulator, page_size=100, max_retries=12)
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "--now", "2026-11-16", "--fail-on", "never"],
                                env={**CLIENT_ENV, "JIRA_URL": emulator.url})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["summary"]["complete"] is True and data["summary"]["issues_scanned"] == ISSUES
    assert sum(emulator.stats()["faults"].values()) >= 3


def test_an_incomplete_scan_resolves_no_finding_on_an_issue_it_did_not_read(emulator_for, tmp_path):
    from bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
    emulator = emulator_for("cloud")
    workspace, source, ruleset, config = read(emulator)
    first = scan(workspace, ruleset, config, NOW)
    store.record_scan(first, NOW)
    open_before = store.finding_states(open_only=True)
    assert open_before
    # Every issue is edited so no finding would fire again; then an outage after one page.
    emulator.store.touch(list(all_keys("cloud")), NOW)
    for issue in emulator.store.issues:
        issue["fields"]["issuetype"] = {"name": "Task", "hierarchyLevel": 0, "subtask": False}
        issue["fields"]["labels"] = []
        issue["fields"].pop("parent", None)
    emulator.store._fragments.clear()
    emulator.set_faults(Faults(outage_after=1, paths=SEARCH_PATHS))
    partial, *_ = read(emulator, max_retries=1)
    assert not partial.complete and len(partial.issues) == 100
    summary = store.record_scan(scan(partial, ruleset, config, NOW), NOW)
    resolved = {open_before[fingerprint].issue for fingerprint in summary.resolved}
    assert resolved <= set(partial.issues), "a finding was resolved on an issue this scan never read"
    still_open = store.finding_states(open_only=True)
    unread = {fingerprint for fingerprint, state in open_before.items() if state.issue not in partial.issues}
    assert unread and unread <= set(still_open)


# -- nudge --apply when Jira dies mid-scan ------------------------------------------------------------------

def _people_issues() -> tuple[list[dict], dict[str, str]]:
    """60 issues, three pages of 20: epics with no outcome, and every fifth a story under no epic."""
    people = {f"person{n}@example.com": f"U0PERSON{n}" for n in range(1, 9)}
    emails = sorted(people)
    issues = []
    for number in range(1, 61):
        email = emails[number % len(emails)]
        story = number % 5 == 0
        issues.append({"key": f"PAY-{number}", "id": str(1000 + number),
                       "self": f"https://example.atlassian.net/rest/api/3/issue/{1000 + number}",
                       "fields": {"summary": f"Work {number}", "project": {"key": "PAY"},
                                  "issuetype": ({"name": "Story", "hierarchyLevel": 0} if story else
                                                {"name": "Epic", "hierarchyLevel": 1}),
                                  "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                                  "assignee": {"accountId": f"acc-{email}", "displayName": email,
                                               "emailAddress": email},
                                  "labels": [], "created": "2026-01-05T10:00:00.000+0000",
                                  "updated": "2026-01-05T10:00:00.000+0000"}})
    return issues, people


@contextmanager
def _jira_dying_mid_scan(issues: list[dict], people: dict[str, str], *config: str):
    """A Cloud site whose searches fail after the first page, Slack knowing ``people``, and a govbot.yaml
    for one team (plus the ``config`` lines) that gives up after one retry: (jira, slack, env)."""
    from tests.deliver.conftest import TOKEN
    from tests.fakes.jira_server import JiraEmulator
    from tests.fakes.slack_server import FakeSlack

    Path("govbot.yaml").write_text(
        "jira: {projects: [PAY], timeout_seconds: 2, max_retries: 1, page_size: 20}\n"
        "teams: {payments: {projects: [PAY], channel: '#payments', timezone: Europe/London}}\n"
        "slack: {seconds_between_posts: 0, max_retries: 1}\n"
        "store: {url: state.db, audit_file: audit.jsonl}\n"
        "nudges: {breaker: {max_people: 100, max_findings: 1000}}\n" + "".join(config))
    with JiraEmulator([{"issues": issues}], flavour="cloud", record_keys=True,
                      faults=Faults(outage_after=1, paths=SEARCH_PATHS)) as jira, \
            FakeSlack(token=TOKEN, users=dict(people)) as slack:
        yield jira, slack, {**CLIENT_ENV, "JIRA_URL": jira.url, "SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": TOKEN}


def test_nudge_apply_when_jira_dies_mid_scan_exits_4_and_sends_only_what_it_could_read(tmp_path, no_backoff,
                                                                                         monkeypatch):
    import re

    from bot.deliver.slack import all_texts

    monkeypatch.chdir(tmp_path)
    issues, people = _people_issues()
    with _jira_dying_mid_scan(issues, people) as (jira, slack, env):
        run = CliRunner().invoke(cli, ["nudge", "--apply", "--no-comments", "--now", "2026-03-31", "--config",
                                       "govbot.yaml"], env=env)
        assert run.exit_code == 4, run.output
        read = set(jira.keys_delivered)
        assert 0 < len(read) < len(issues)
        nudged = {key for post in slack.posts() for key in re.findall(r"\|(PAY-\d+)>", "\n".join(all_texts(post)))}
        # Only what it read, and only what needs nothing it could not read: no story-without-epic
        # nudge, since the epics it might hang under were not all read.
        expected = {issue["key"] for issue in issues if issue["key"] in read and int(issue["key"][4:]) % 5}
        assert nudged == expected
        assert run.output.count("note: scan incomplete") == 1
        [line] = [line for line in run.stderr.splitlines() if line.startswith("govbot:")]
        assert line.startswith("govbot: the scan could not read every issue in scope; ")
        assert "work-hierarchy-story-without-epic" in line and "not sent" in line
        assert len({post["channel"] for post in slack.posts()}) == len(slack.posts())  # one message per person

        jira.set_faults(Faults())  # Jira is back: the next run sends the rest, nothing twice
        done = CliRunner().invoke(cli, ["nudge", "--apply", "--no-comments", "--now", "2026-03-31", "--config",
                                        "govbot.yaml"], env=env)
        assert done.exit_code == 0, done.output
        everything = [key for post in slack.posts() for key in re.findall(r"\|(PAY-\d+)>", "\n".join(all_texts(post)))]
        assert sorted(everything) == sorted(issue["key"] for issue in issues)  # each issue exactly once


@pytest.mark.parametrize("job", ["scan-and-nudge", "digest"])
def test_the_service_job_status_is_incomplete_exit_4_when_jira_dies_mid_scan(tmp_path, no_backoff, monkeypatch, job):
    monkeypatch.chdir(tmp_path)
    issues, people = _people_issues()
    with _jira_dying_mid_scan(issues, people, "comments: {enabled: false}\n") as (_jira, slack, env):
        result = CliRunner().invoke(cli, ["serve", "--once", job, "--apply", "--now", "2026-03-30T09:00:00",
                                          "--config", "govbot.yaml"], env=env)
        assert result.exit_code == 4, (result.output, result.stderr)
        assert f"govbot: {job} incomplete: " in result.stderr
        if job == "digest":
            assert slack.posts() == []  # every figure would be wrong: nothing posted
        else:
            assert 0 < len(slack.posts()) <= len(people)

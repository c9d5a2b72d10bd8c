"""The owner read after the rules fails on real sockets: nobody is nudged by guess, nothing is half-written.

A live nudge run reads the scope without assignee and reporter, evaluates, then
reads those fields for the issues with findings (bot/runs/owners.py). Here that
last read answers 500 past its retries: the run exits 4, sends nothing it
would have had to guess an owner for, records nothing about those findings and
leaves the cursor alone; once Jira is back, the next run sends each nudge once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.sources import http as http_module

OWNER_PATH = {"cloud": "/rest/api/3/issue/bulkfetch", "datacenter": "/rest/api/2/search"}
CONFIG = ("jira: {projects: [PAY], timeout_seconds: 2, max_retries: 2}\n"
          "teams: {payments: {projects: [PAY], channel: '#payments', timezone: Europe/London}}\n"
          "slack: {seconds_between_posts: 0, max_retries: 1}\n"
          "store: {url: state.db, audit_file: audit.jsonl}\n"
          "comments: {enabled: false}\n"
          "nudges: {breaker: {max_people: 100, max_findings: 1000}}\n")


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(http_module.Transport, "backoff", lambda self, attempt: 0.0)


def epics(flavour: str) -> tuple[list[dict], dict[str, str]]:
    """30 epics without an outcome, each assigned to one of six people (a nudge each)."""
    people = {f"person{n}@example.com": f"U0PERSON{n}" for n in range(1, 7)}
    emails = sorted(people)
    issues = []
    for number in range(1, 31):
        email = emails[number % len(emails)]
        user = ({"accountId": f"acc-{number % len(emails)}", "displayName": email, "emailAddress": email}
                if flavour == "cloud" else
                {"name": f"user{number % len(emails)}", "key": f"JIRAUSER{number % len(emails)}",
                 "displayName": email, "emailAddress": email})
        issues.append({"key": f"PAY-{number}", "id": str(1000 + number),
                       "self": f"https://jira.example.com/rest/api/2/issue/{1000 + number}",
                       "fields": {"summary": f"Epic {number}", "project": {"key": "PAY"},
                                  "issuetype": {"name": "Epic", "hierarchyLevel": 1, "id": "10000"},
                                  "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                                  "assignee": user, "reporter": user, "labels": [],
                                  "created": "2026-01-05T10:00:00.000+0000",
                                  "updated": "2026-01-05T10:00:00.000+0000"}})
    return issues, people


def recorded_findings(env: dict) -> dict:
    from bot.config import load_config
    from bot.store import open_store

    store = open_store(load_config("govbot.yaml", env=env))
    try:
        return store.finding_states()
    finally:
        store.close()


def nudged(slack) -> list[str]:
    from bot.deliver.slack import all_texts

    return [key for post in slack.posts() for key in re.findall(r"\|(PAY-\d+)>", "\n".join(all_texts(post)))]


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_a_500_on_the_owner_read_sends_nothing_by_guess_and_the_next_run_sends_each_once(
        flavour, tmp_path, no_backoff, monkeypatch):
    from tests.deliver.conftest import TOKEN
    from tests.fakes.jira_server import CLIENT_ENV, Faults, JiraEmulator
    from tests.fakes.slack_server import FakeSlack

    monkeypatch.chdir(tmp_path)
    Path("govbot.yaml").write_text(CONFIG)
    issues, people = epics(flavour)
    path = OWNER_PATH[flavour]
    with JiraEmulator([{"issues": issues}], flavour=flavour) as jira, \
            FakeSlack(token=TOKEN, users=dict(people)) as slack:
        env = {**CLIENT_ENV, "JIRA_URL": jira.url, "SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": TOKEN}
        # A dry run first, to count the requests to the owner read's path before it (the scope read
        # on Data Center): the owner read is the last one, and every try of it answers 500.
        dry = CliRunner().invoke(cli, ["scan", "--format", "json", "--now", "2026-03-31", "--config", "govbot.yaml"],
                                 env=env)
        assert dry.exit_code == 1, dry.output
        before = jira.stats()["by_path"].get(path, 0) - 1
        jira.reset_stats()
        jira.set_faults(Faults(outage_after=before, outage_status="500", paths=(path,)))
        run = CliRunner().invoke(cli, ["nudge", "--apply", "--no-comments", "--now", "2026-03-31", "--config",
                                       "govbot.yaml"], env=env)
        assert run.exit_code == 4, (run.output, run.stderr)
        assert jira.stats()["by_status"].get("500") == 3  # tried, retried twice, given up
        assert slack.posts() == []  # every finding here needs its assignee: none is sent to a guess
        assert "could not read every issue in scope" in run.stderr
        assert recorded_findings(env) == {}  # nothing recorded about findings whose owner is unknown

        jira.set_faults(Faults())  # Jira is back
        again = CliRunner().invoke(cli, ["nudge", "--apply", "--no-comments", "--now", "2026-03-31", "--config",
                                         "govbot.yaml"], env=env)
        assert again.exit_code == 0, (again.output, again.stderr)
        sent = nudged(slack)
        assert sorted(sent) == sorted(issue["key"] for issue in issues)  # each once, to its assignee
        from bot.deliver.slack import all_texts

        owner_of = {i["key"]: people[i["fields"]["assignee"]["emailAddress"]] for i in issues}
        for post in slack.posts():  # each DM (channel D...) to the person whose issues it names
            keys = re.findall(r"\|(PAY-\d+)>", "\n".join(all_texts(post)))
            assert keys and {"D" + owner_of[key][1:] for key in keys} == {post["channel"]}
        report = CliRunner().invoke(cli, ["scan", "--format", "json", "--now", "2026-03-31", "--config",
                                          "govbot.yaml"], env=env)
        owners = {f["issue"]: f["owner"]["email"] for f in json.loads(report.stdout)["findings"] if f["owner"]}
        assert owners == {i["key"]: i["fields"]["assignee"]["emailAddress"] for i in issues}
        assert len(recorded_findings(env)) == len(issues)

"""`govbot preview` counts exactly what `govbot nudge --apply` then sends, on the same data and time.

Preview resolves owners the way apply does: the store's lookup cache, and
read-only ``users.lookupByEmail`` when SLACK_BOT_TOKEN is set. So an owner
Slack does not know is counted where apply sends it (the team channel), not as
a DM; leftovers queued by an earlier run are merged the same way; and the
circuit breaker decides on the same numbers.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.deliver.conftest import TOKEN
from tests.deliver.test_nudge_cli import epic, snapshot, write_config
from tests.fakes.slack_server import FakeSlack

# Erin's email is in Jira but not in Slack (a contractor, a typo): apply sends her items to the channel.
ERIN = {"accountId": "acc-erin", "displayName": "Erin Example", "emailAddress": "erin@contractor.example"}
SLACK_USERS = {"alice@example.com": "U0ALICE", "bob@example.com": "U0BOB", "carol@example.com": "U0CAROL"}


def erin(key: str) -> dict:
    issue = epic(key, "alice")
    issue["fields"]["assignee"] = dict(ERIN)
    return issue


def issues(extra: int = 0) -> list[dict]:
    found = [epic("PAY-1", "alice"), epic("PAY-2", "alice"), epic("PAY-3", "bob"), epic("PAY-4", "carol"),
             epic("PAY-5", "dave"), erin("PAY-6"), erin("PAY-7")]
    return found + [epic(f"PAY-{10 + n}", "bob") for n in range(extra)]


def command(*args: str, env: dict, expect: tuple[int, ...] = (0, 1)) -> dict | None:
    result = CliRunner().invoke(cli, [*args, "--config", "govbot.yaml"], env=env, catch_exceptions=False)
    assert result.exit_code in expect, (result.output, result.stderr)
    return json.loads(result.stdout) if "--format" in args else None


def sent(fake: FakeSlack, since: int = 0) -> Counter:
    return Counter(fake.dm_user(post["channel"]) or post["channel"] for post in fake.posts()[since:])


@pytest.mark.parametrize("case", ["a first run", "after an outage, with news", "the breaker holds it"])
def test_preview_counts_equal_what_apply_sends(tmp_path, monkeypatch, case):
    write_config(tmp_path, "nudges:\n  breaker: {max_people: 2}\n" if case == "the breaker holds it" else "")
    monkeypatch.chdir(tmp_path)
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url}
        snap = str(snapshot(tmp_path, issues()))
        now = "2026-03-31"
        if case == "after an outage, with news":
            fake.fail("chat.postMessage", status=429, retry_after=3600, times=100)
            command("nudge", "--apply", "--snapshot", snap, "--now", now, env=env, expect=(3,))  # all queued
            fake.clear_faults()
            snap = str(snapshot(tmp_path, issues(extra=2), name="later.json"))  # Bob has two new items
            now = "2026-03-31T15:00:00"
        preview = command("preview", "--snapshot", snap, "--now", now, "--format", "json", env=env)
        dry = command("nudge", "--snapshot", snap, "--now", now, "--format", "json", env=env)
        before = len(fake.posts())
        applied = command("nudge", "--apply", "--snapshot", snap, "--now", now, "--format", "json", env=env)
        delivered = sent(fake, before)
    if case == "the breaker holds it":
        assert preview["breaker"] and applied["held_by_breaker"] == preview["breaker"] == dry["held_by_breaker"]
        assert delivered == Counter({"#govbot-admins": 1})  # only the alert, as preview said it would be
        return
    assert preview["breaker"] is None and applied["held_by_breaker"] is None
    assert Counter(preview["by_recipient"]) == delivered, (preview["by_recipient"], delivered)
    assert preview["people"] == len([who for who in delivered if who.startswith("U")])
    assert preview["channels"] == len([who for who in delivered if who.startswith("#")])
    assert preview["messages"] == sum(delivered.values())
    # Erin is unknown to Slack: counted, and sent, in the team channel; never as a DM.
    assert "email:erin@contractor.example" not in preview["by_recipient"] and "#payments" in delivered
    if case == "after an outage, with news":
        assert delivered["U0BOB"] == 1  # the queued message and Bob's news went as one

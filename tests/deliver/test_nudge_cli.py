"""`govbot nudge` and `govbot preview` end to end: snapshot -> rules -> store -> fake Slack.

Includes the crash test from the issue's Done-when list: a real `govbot nudge
--apply` process is killed with SIGKILL while Slack holds a message, then run
again; every owner still gets exactly one message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import ROOT
from tests.deliver.conftest import TOKEN
from tests.fakes.slack_server import FakeSlack

PEOPLE = {
    "alice": {"accountId": "acc-alice", "displayName": "Alice Example", "emailAddress": "alice@example.com"},
    "bob": {"accountId": "acc-bob", "displayName": "Bob Example", "emailAddress": "bob@example.com"},
    "carol": {"accountId": "acc-carol", "displayName": "Carol Example", "emailAddress": "carol@example.com"},
    "dave": {"accountId": "acc-dave", "displayName": "Dave Example"},  # Jira hides his email
}
SLACK_USERS = {"alice@example.com": "U0ALICE", "bob@example.com": "U0BOB", "carol@example.com": "U0CAROL"}


def epic(key: str, owner: str, summary: str | None = None, *, outcome: str | None = None) -> dict:
    fields = {"summary": summary or f"Epic {key}", "issuetype": {"name": "Epic", "hierarchyLevel": 1},
              "project": {"key": key.split("-")[0]}, "status": {"name": "To Do", "statusCategory": {"key": "new"}},
              "assignee": PEOPLE[owner], "labels": []}
    if outcome:
        fields["description"] = f"Anticipated Outcome: {outcome}"
    return {"key": key, "id": key.split("-")[1], "self": f"https://example.atlassian.net/rest/api/3/issue/{key}",
            "fields": fields}


def snapshot(tmp_path: Path, issues: list[dict], name: str = "snapshot.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"issues": issues}))
    return path


def default_issues() -> list[dict]:
    return [epic("PAY-1", "alice", "Checkout <!channel> revamp"), epic("PAY-2", "alice"), epic("PAY-3", "bob"),
            epic("PAY-4", "carol"), epic("PAY-5", "dave"),
            epic("PAY-6", "bob", outcome="Cut p95 checkout latency to 300 ms by Q3")]


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "govbot.yaml"
    path.write_text(f"""
teams:
  payments: {{projects: [PAY], channel: "#payments", timezone: Europe/London}}
slack:
  admin_channel: "#govbot-admins"
  seconds_between_posts: 0
  max_retries: 1
store:
  url: state.db
  audit_file: audit.jsonl
{extra}""")
    return path


@pytest.fixture
def slack(monkeypatch):
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        yield fake


def nudge(*args: str, token: bool = True, env: dict | None = None):
    environment = {"SLACK_BOT_TOKEN": TOKEN} if token else {}
    environment.update(env or {})
    return CliRunner().invoke(cli, ["nudge", *args], env=environment, catch_exceptions=False)


def dm_users(fake: FakeSlack) -> list[str]:
    return sorted(fake.dm_user(p["channel"]) or p["channel"] for p in fake.posts())


def test_dry_run_prints_every_message_and_sends_nothing(tmp_path, slack):
    write_config(tmp_path)
    snap = snapshot(tmp_path, default_issues())
    result = nudge("--snapshot", str(snap), "--now", "2026-03-31", "--config", "govbot.yaml", token=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Would send 4 Slack messages and 5 Jira comments" in out and "dry run: add --apply to send" in out
    assert "== Alice Example" in out and "== Bob Example" in out and "== channel #payments" in out
    assert "Checkout &lt;!channel&gt; revamp" in out
    assert "Dave Example [acc-dave]: no email visible in Jira" in out
    assert slack.calls == []
    assert not (tmp_path / "state.db").exists()


def test_apply_needs_a_token(tmp_path, slack):
    write_config(tmp_path)
    snap = snapshot(tmp_path, default_issues())
    result = nudge("--apply", "--snapshot", str(snap), "--config", "govbot.yaml", token=False)
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output and "Traceback" not in result.output
    assert slack.calls == []


def test_the_bundled_demo_never_posts(tmp_path, slack):
    if not (ROOT / "bot" / "demo" / "govbot.yaml").exists():
        pytest.skip("the bundled demo is not in this tree yet")
    result = nudge("--apply")
    assert result.exit_code == 2 and "never posts" in result.output
    assert slack.calls == []
    result = nudge()
    assert result.exit_code == 0, result.output
    assert slack.calls == []
    # The dry run does not suggest the --apply the demo refuses.
    assert "(dry run: the bundled demo never sends)" in result.output and "add --apply" not in result.output


def test_first_run_second_run_and_reminder(tmp_path, slack):
    write_config(tmp_path)
    snap = str(snapshot(tmp_path, default_issues()))
    first = nudge("--apply", "--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml")
    assert first.exit_code == 0, first.output
    assert dm_users(slack) == ["#payments", "U0ALICE", "U0BOB", "U0CAROL"]
    alice = slack.posts_to_user("U0ALICE")
    assert len(alice) == 1 and "PAY-1" in alice[0]["text"] and "PAY-2" in alice[0]["text"]
    for text in [alice[0]["text"]] + [json.dumps(alice[0]["blocks"])]:
        assert "<!channel>" not in text
    # Issue links come from the Jira site, with no token or API path in them.
    assert "https://example.atlassian.net/browse/PAY-1" in json.dumps(alice[0]["blocks"])

    second = nudge("--apply", "--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml")
    assert second.exit_code == 0 and "Queued 0 Slack messages" in second.output
    assert len(slack.posts()) == 4

    early = nudge("--apply", "--snapshot", snap, "--now", "2026-04-06", "--config", "govbot.yaml")
    assert early.exit_code == 0 and len(slack.posts()) == 4

    reminder = nudge("--apply", "--snapshot", snap, "--now", "2026-04-07", "--config", "govbot.yaml")
    assert reminder.exit_code == 0, reminder.output
    assert len(slack.posts()) == 8  # one reminder each: three people and the team channel
    assert len(slack.posts_to_user("U0ALICE")) == 2
    assert "reminder 1 of 3" in json.dumps(slack.posts_to_user("U0ALICE")[1]["blocks"])
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sum(1 for event in audit if event["event"] == "delivery.sent") == 8


def test_json_output(tmp_path, slack):
    write_config(tmp_path)
    snap = str(snapshot(tmp_path, default_issues()))
    result = nudge("--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml", "--format", "json")
    data = json.loads(result.output)
    assert data["dry_run"] is True and len(data["messages"]) == 4 + 5  # Slack messages and Jira comments
    assert data["unmapped_owners"]["acc-dave"]["findings"] == 1


def test_preview_counts_messages_per_person_and_rule(tmp_path, slack):
    write_config(tmp_path)
    snap = str(snapshot(tmp_path, default_issues()))
    result = CliRunner().invoke(cli, ["preview", "--snapshot", snap, "--now", "2026-03-31", "--config",
                                      "govbot.yaml", "--format", "json"], env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)
    assert table["messages"] == 4 and table["people"] == 3 and table["channels"] == 1
    rows = {(row["to"].split(":")[0], row["rule"]): row["findings"] for row in table["rows"]}
    assert rows[("Alice Example", "anticipated-outcome-missing")] == 2
    text = CliRunner().invoke(cli, ["preview", "--snapshot", snap, "--now", "2026-03-31", "--config",
                                    "govbot.yaml"], env={}).output
    assert "Total: 4 Slack messages (3 people, 1 channel), 5 Jira comments" in text
    assert slack.calls == [] and not (tmp_path / "state.db").exists()


def test_breaker_via_the_command(tmp_path, slack):
    write_config(tmp_path, "nudges:\n  breaker: {max_people: 1}\n")
    snap = str(snapshot(tmp_path, default_issues()))
    result = nudge("--apply", "--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml")
    assert result.exit_code == 1, result.output
    assert "HELD by the circuit breaker" in result.output
    assert "Nothing was sent except one alert to the admin channel." in result.output
    assert [p["channel"] for p in slack.posts()] == ["#govbot-admins"]


def test_a_dry_run_held_by_the_breaker_says_what_would_happen_not_that_it_happened(tmp_path, slack):
    write_config(tmp_path, "nudges:\n  breaker: {max_people: 1}\n")
    snap = str(snapshot(tmp_path, default_issues()))
    result = nudge("--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml")
    assert result.exit_code == 1, result.output
    assert "Nothing would be sent; one alert would go to the admin channel." in result.output
    [held] = [line for line in result.output.splitlines() if line.startswith("HELD")]
    assert "was sent" not in held and slack.posts() == []


def test_bad_config_values_point_at_the_line(tmp_path, slack):
    write_config(tmp_path, "nudges:\n  quiet_days: [saturday, sundy]\n")
    result = nudge("--config", "govbot.yaml", token=False)
    assert result.exit_code == 2
    assert "govbot.yaml:12:26" in result.output and "did you mean 'sunday'" in result.output


# -- a real process, killed -------------------------------------------------------------------------------

def run_process(tmp_path: Path, snap: Path, env: dict) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("SLACK_", "JIRA_", "GOVBOT_"))}
    environment.update(env)
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "bot", "nudge", "--apply", "--snapshot", str(snap),
                             "--now", "2026-03-31", "--config", "govbot.yaml"],
                            cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("history", ["available", "unavailable"])
def test_sigkill_mid_run_then_rerun_delivers_exactly_once(tmp_path, history):
    write_config(tmp_path)
    snap = snapshot(tmp_path, default_issues())
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        if history == "unavailable":
            fake.without_history()  # installed without im:history: the lookup answers missing_scope
        env = {"SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN}
        fake.hold("chat.postMessage", 2)  # Slack takes the 2nd message, then hangs
        process = run_process(tmp_path, snap, env)
        try:
            deadline = time.monotonic() + 30
            while not fake.wait_held(0.1):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    out, err = process.communicate(timeout=5)
                    pytest.fail(f"govbot never reached the 2nd message (exit {process.returncode}):\n"
                                f"{(out + err).decode()}\ncalls: {[c.method for c in fake.calls]}")
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finally:
            fake.release()
        assert len(fake.posts()) == 2
        rerun = run_process(tmp_path, snap, env)
        out, err = rerun.communicate(timeout=30)
        assert rerun.returncode == 0, (out + err).decode()
        recipients = [fake.dm_user(p["channel"]) or p["channel"] for p in fake.posts()]
        marked = [p for p in fake.posts() if p["text"].startswith("(in case you missed this)")]
        if history == "available":
            assert sorted(recipients) == ["#payments", "U0ALICE", "U0BOB", "U0CAROL"] and not marked
            return
        # Nothing could prove whether the killed post arrived (it had): resent once, and it says so.
        second = fake.posts()[1]
        assert sorted(recipients) == sorted(["#payments", "U0ALICE", "U0BOB", "U0CAROL",
                                             fake.dm_user(second["channel"]) or second["channel"]])
        assert [p["metadata"] for p in marked] == [second["metadata"]]


# -- what reaches a terminal ------------------------------------------------------------------------------

HOSTILE = "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b[2J\u202egnp.exe \x9b31m\u2066x\u2069 \r\x08"
TERMINAL_UNSAFE = {chr(c) for c in range(0x20) if chr(c) != "\n"} | {chr(c) for c in range(0x7f, 0xa0)} | {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
    "\u061c"}


def hostile_issues() -> list[dict]:
    issues = default_issues()
    issues[0]["fields"]["summary"] = "Checkout " + HOSTILE
    dave = dict(PEOPLE["dave"], displayName="Dave " + HOSTILE)
    issues[4]["fields"]["assignee"] = dave
    return issues


def test_dry_run_and_preview_output_carry_no_terminal_controls(tmp_path, slack):
    write_config(tmp_path)
    snap = str(snapshot(tmp_path, hostile_issues()))
    common = ["--snapshot", snap, "--now", "2026-03-31", "--config", "govbot.yaml"]
    text = nudge(*common, token=False)
    assert text.exit_code == 0, text.output
    assert "Would send 4 Slack messages and 5 Jira comments" in text.output
    assert "Dave " in text.output and "gnp.exe" in text.output  # the text is there, made harmless
    assert not set(text.output) & TERMINAL_UNSAFE, "a control character reached the terminal"

    as_json = nudge(*common, "--format", "json", token=False)
    assert not set(as_json.output) & TERMINAL_UNSAFE
    data = json.loads(as_json.output)
    assert any("\u202egnp.exe" in json.dumps(message["blocks"], ensure_ascii=False) or
               "gnp.exe" in (message["comment"] or "") for message in data["messages"])
    assert data["unmapped_owners"]["acc-dave"]["name"] == "Dave " + HOSTILE  # JSON keeps the data exact

    for extra in ([], ["--format", "json"]):
        preview = CliRunner().invoke(cli, ["preview", *common, *extra], env={}, catch_exceptions=False)
        assert preview.exit_code == 0, preview.output
        assert not set(preview.output) & TERMINAL_UNSAFE
    assert slack.calls == []


def test_nudge_and_preview_share_the_scan_options():
    from bot.commands.nudge import nudge as nudge_command, preview
    from bot.commands.scan import scan

    def options(command):
        return {param.name: param.help for param in command.params}

    for command in (nudge_command, preview):
        for name in ("snapshot", "rule_paths", "config_path", "now_text"):
            assert options(command)[name] == options(scan)[name], (command.name, name)
        assert options(command)["output_format"]

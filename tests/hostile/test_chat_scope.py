"""Chat stays inside govbot's scope: `/govbot check` and `waive` only for issues it watches and that exist.

The attack: `/govbot check PAY-3` answered with an issue the configured scope
leaves out, read with the bot's Jira account; `/govbot waive ZZZ-1 ...`
accepted an issue that does not exist; chat waivers never reached the audit
log; waivers renewed without limit. Outcomes: one polite sentence and no Jira
data for an issue outside the scope (the same words whether it exists or
not), no waiver on an issue that is not there, every waiver given or ended in
chat in the audit log, and at most ``service.max_waiver_renewals`` renewals in
a row. `/govbot waivers` lists what is in effect; `/govbot unwaive` ends one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from bot.runs.inputs import load_inputs
from bot.service.chat import ChatCommands
from bot.store import Store
from tests.fakes.jira_server import JiraEmulator
from tests.hostile.corpus import issue, write_snapshot

NOW = datetime(2026, 3, 30, 9, 0, tzinfo=timezone.utc)
USER = {"user_id": "U123", "user_name": "sam"}
RULE = "anticipated-outcome-missing"
SECRET_SUMMARY = "Acquisition plan codename BLUEBIRD"


def issues() -> list[dict]:
    return [issue("PAY-1", "Epic", summary="Checkout revamp"),
            issue("PAY-2", "Epic", summary="Faster refunds"),
            issue("PAY-3", "Story", summary=SECRET_SUMMARY),          # outside the scope's JQL (Epics only)
            issue("OPS-7", "Epic", summary=SECRET_SUMMARY)]           # outside the scope's projects


def write_config(tmp_path, **extra) -> str:
    data = {"jira": {"projects": ["PAY"]}, "teams": {"payments": {"projects": ["PAY"], "channel": "#pay"}},
            "store": {"url": str(tmp_path / "state.db"), "audit_file": str(tmp_path / "audit.jsonl")}}
    for section, values in extra.items():
        data[section] = {**data.get(section, {}), **values}
    (tmp_path / "govbot.yaml").write_text(yaml.safe_dump(data))
    return str(tmp_path / "govbot.yaml")


@pytest.fixture
def chat(tmp_path):
    """Chat on a snapshot: the snapshot is the scope, narrowed by jira.projects."""
    snapshot = write_snapshot(tmp_path / "snapshot.json", [i for i in issues() if i["key"] != "PAY-3"])
    inputs = load_inputs(write_config(tmp_path, service={"max_waiver_renewals": 1}), snapshot=str(snapshot))
    clock = {"now": NOW}
    commands = ChatCommands(inputs, snapshot=str(snapshot), clock=lambda: clock["now"], max_waiver_renewals=1)
    commands.clock_at = clock
    return commands


def audit_events(tmp_path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def snoozes(tmp_path):
    if not (tmp_path / "state.db").exists():
        return []
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        return store.snoozes()


def test_check_outside_the_projects_answers_politely_without_reading(chat):
    name, answer = chat.answer("check OPS-7", USER)
    assert name == "check"
    assert answer == (":mag: *OPS-7* is not an issue govbot watches here (outside its configured scope, "
                      "or not in Jira), so it has nothing to say about it.")
    assert "BLUEBIRD" not in answer


def test_check_of_a_missing_issue_says_so(chat):
    _, answer = chat.answer("check PAY-99", USER)
    assert answer == ":mag: *PAY-99*: not found in the snapshot."


def test_waive_refuses_issues_that_are_not_watched_or_not_there(chat, tmp_path):
    for key, words in (("ZZZ-1", "is not an issue govbot watches"), ("OPS-7", "is not an issue govbot watches"),
                       ("PAY-99", "PAY-99: not found in the snapshot")):
        _, answer = chat.answer(f"waive {key} {RULE} 14d discovery spike", USER)
        assert words in answer and "nothing was waived" in answer, answer
        assert "BLUEBIRD" not in answer
    assert snoozes(tmp_path) == [] and audit_events(tmp_path) == []


def test_chat_waivers_are_audited_listed_capped_and_ended(chat, tmp_path):
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d discovery spike", USER)
    assert "is waived on *PAY-1* until 2026-04-06" in answer, answer
    [added] = audit_events(tmp_path)
    assert (added["event"], added["source"], added["issue"], added["rule"], added["by"], added["until"],
            added["renewal"]) == ("waiver.added", "chat", "PAY-1", RULE, "sam (Slack U123)", "2026-04-06", 0)

    # Renewed while it runs: allowed once (max_waiver_renewals: 1), then refused.
    chat.clock_at["now"] = NOW + timedelta(days=6)
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d still exploring", USER)
    assert "is waived on *PAY-1*" in answer and audit_events(tmp_path)[-1]["renewal"] == 1
    chat.clock_at["now"] = NOW + timedelta(days=12)
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d one more week", USER)
    assert "renewed at most 1 times" in answer and "waivers.file" in answer, answer
    assert len(snoozes(tmp_path)) == 2

    _, listing = chat.answer("waivers", USER)
    assert listing.startswith("*1 waiver from chat in effect*") and "*PAY-1* `anticipated-outcome-missing`" in listing
    _, listing = chat.answer("waivers PAY-2", USER)
    assert listing == "No waivers from chat are in effect on *PAY-2*."

    _, answer = chat.answer(f"unwaive PAY-1 {RULE}", USER)
    assert "applies to *PAY-1* again" in answer, answer
    assert audit_events(tmp_path)[-1]["event"] == "waiver.revoked"
    assert chat.answer("waivers", USER)[1] == "No waivers from chat are in effect."
    _, answer = chat.answer(f"unwaive PAY-1 {RULE}", USER)
    assert "no waiver from chat" in answer

    # Ending it early does not reset the count: waiving again right away is a third in a row.
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d again", USER)
    assert "renewed at most 1 times" in answer
    # A later waiver, once the last one would have run out, starts a new run.
    chat.clock_at["now"] = NOW + timedelta(days=30)
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d a new reason", USER)
    assert "is waived on *PAY-1*" in answer, answer


def test_a_waiver_without_an_audit_trail_is_not_given(chat, tmp_path):
    (tmp_path / "audit.jsonl").mkdir()  # cannot be written
    _, answer = chat.answer(f"waive PAY-1 {RULE} 7d discovery spike", USER)
    assert "cannot write the audit log" in answer
    assert snoozes(tmp_path) == []


def test_live_jira_out_of_scope_issue_is_not_read(tmp_path):
    with JiraEmulator([{"issues": issues(), "names": {}}], flavour="cloud", lifetime=60,
                      record_keys=True) as emulator:
        config = write_config(tmp_path, jira={"jql": "type = Epic"})
        inputs = load_inputs(config)
        inputs.config.env.update({"JIRA_URL": emulator.url, "JIRA_EMAIL": "bot@example.com",
                                  "JIRA_API_TOKEN": "jira-token-value"})
        chat = ChatCommands(inputs, clock=lambda: NOW)
        before = emulator.stats_.requests
        _, answer = chat.answer("check OPS-7", USER)
        assert "is not an issue govbot watches" in answer
        assert emulator.stats_.requests == before  # decided from the key: nothing was asked of Jira
        _, answer = chat.answer("check PAY-3", USER)
        assert "is not an issue govbot watches" in answer and "BLUEBIRD" not in answer
        _, answer = chat.answer(f"waive PAY-3 {RULE} 7d because", USER)
        assert "is not an issue govbot watches" in answer
        assert "PAY-3" not in emulator.keys_delivered  # no answer carried it: its fields were never read
        _, answer = chat.answer("check PAY-1", USER)
        assert "Checkout revamp" in answer, answer  # in scope: the usual verdict
    assert snoozes(tmp_path) == []

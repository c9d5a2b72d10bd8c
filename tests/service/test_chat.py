"""/govbot through Bolt: acked at once, answered ephemerally, the same verdict as `govbot check`."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.service.chat import ChatCommands, build_app
from bot.runs.check import check_issues
from bot.cli import cli

NOW = datetime(2026, 3, 30, 9, 0, tzinfo=timezone.utc)
SIGNING_SECRET = "test-signing-secret"


def command_request(fake_slack, text: str, *, secret: str = SIGNING_SECRET, user: str = "U123") -> BoltRequest:
    body = urlencode({"token": "legacy", "team_id": "T1", "team_domain": "acme", "channel_id": "C1",
                      "channel_name": "delivery", "user_id": user, "user_name": "sam", "command": "/govbot",
                      "text": text, "api_app_id": "A1", "response_url": f"{fake_slack.url}/respond/1",
                      "trigger_id": "1.2.3"})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"],
                                           "x-slack-request-timestamp": [timestamp],
                                           "x-slack-signature": [signature]})


@pytest.fixture
def commands(inputs, snapshot):
    return ChatCommands(inputs, snapshot=str(snapshot), clock=lambda: NOW)


@pytest.fixture
def app(commands, fake_slack):
    return build_app(commands, token="xoxb-test-token", base_url=fake_slack.api_url, signing_secret=SIGNING_SECRET)


def ask(app, fake_slack, text: str) -> tuple[float, dict]:
    """Dispatch one slash command; (seconds until the ack, the ephemeral answer)."""
    fake_slack.responded.clear()
    started = time.monotonic()
    response = app.dispatch(command_request(fake_slack, text))
    acked = time.monotonic() - started
    assert response.status == 200, response.body
    assert fake_slack.responded.wait(10), "no answer was posted to the response_url"
    return acked, fake_slack.responses[-1]


def test_check_is_acked_at_once_and_answered_ephemerally_with_jira_text_escaped(app, fake_slack):
    acked, answer = ask(app, fake_slack, "check pay-1")
    assert acked < 3
    assert answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert "*<https://acme.atlassian.net/browse/PAY-1|PAY-1>*" in text
    assert "Checkout &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;" in text
    assert "<!channel>" not in text and "<https://evil" not in text
    assert ":red_circle: *error* `anticipated-outcome-missing`" in text
    assert "`/govbot explain anticipated-outcome-missing`" in text
    assert ("auth.test", {}) in [(method, {}) for method, _ in fake_slack.calls]  # Bolt checked the token


def test_the_ack_does_not_wait_for_the_answer(commands, fake_slack):
    entered, release = threading.Event(), threading.Event()

    class SlowJira(ChatCommands):
        def check(self, words, user):
            entered.set()
            assert release.wait(10)  # Jira is slow today
            return super().check(words, user)

    slow = SlowJira(commands.inputs, snapshot=commands.snapshot, clock=lambda: NOW)
    app = build_app(slow, token="xoxb-test-token", base_url=fake_slack.api_url, signing_secret=SIGNING_SECRET)
    response = app.dispatch(command_request(fake_slack, "check PAY-2"))
    assert response.status == 200 and entered.wait(10)
    assert not fake_slack.responded.is_set()  # acked while the check is still running
    release.set()
    assert fake_slack.responded.wait(10)
    assert ":white_check_mark:" in fake_slack.responses[-1]["text"]


def test_a_bad_signature_is_refused(app, fake_slack):
    response = app.dispatch(command_request(fake_slack, "help", secret="not-the-secret"))
    assert response.status == 401


def test_same_verdict_as_govbot_check(inputs, snapshot, write_config):
    result = CliRunner().invoke(cli, ["check", "PAY-1", "PAY-3", "--snapshot", str(snapshot), "--config",
                                      str(write_config()), "--format", "json", "--now", "2026-03-30"])
    cli_rows = {issue["key"]: issue["verdicts"] for issue in json.loads(result.output)["issues"]}
    for key in ("PAY-1", "PAY-3"):
        checked = check_issues(inputs, [key], datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc),
                               snapshot=str(snapshot))
        assert checked.verdicts[key].rows == cli_rows[key]


def test_explain_help_and_mistakes(app, fake_slack):
    _, answer = ask(app, fake_slack, "explain anticipated-outcome-missing")
    assert answer["text"].startswith("```anticipated-outcome-missing") and "How to fix" in answer["text"]
    # The rule's file by name only: nobody in Slack learns where govbot is installed.
    assert "defined in anticipated-outcome.yaml:" in answer["text"] and "/" not in answer["text"].split(
        "defined in ", 1)[1].split(":", 1)[0]
    _, answer = ask(app, fake_slack, "explain anticipated-outcome-mising")
    assert "no rule 'anticipated-outcome-mising'" in answer["text"] and "anticipated-outcome-missing" in answer["text"]
    _, answer = ask(app, fake_slack, "")
    assert "`/govbot check PROJ-123`" in answer["text"] and answer["response_type"] == "ephemeral"
    _, answer = ask(app, fake_slack, "chek PAY-1")
    assert "Did you mean `/govbot check`?" in answer["text"]
    _, answer = ask(app, fake_slack, "check <PAY-1>")
    assert "is not an issue key" in answer["text"] and "&lt;PAY-1&gt;" in answer["text"]
    _, answer = ask(app, fake_slack, "check PAY-99")
    assert "*PAY-99*: not found in the snapshot." in answer["text"]


def test_waive_then_check_shows_the_waiver(app, fake_slack, tmp_path):
    from bot.store import Store

    _, answer = ask(app, fake_slack, "waive PAY-1 anticipated-outcome-missing 2w discovery spike, no outcome yet")
    assert "is waived on *PAY-1* until 2026-04-13" in answer["text"], answer["text"]
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        [snooze] = store.snoozes()
    assert (snooze.issue, snooze.rule, snooze.by) == ("PAY-1", "anticipated-outcome-missing", "sam (Slack U123)")
    assert snooze.reason == "discovery spike, no outcome yet"
    _, answer = ask(app, fake_slack, "check PAY-1")
    assert ":zzz: waived `anticipated-outcome-missing`: discovery spike, no outcome yet; by sam (Slack U123)" \
           in answer["text"]
    assert ":red_circle:" not in answer["text"]


@pytest.mark.parametrize("text, message", [
    ("waive PAY-1 anticipated-outcome-missing 14d", "needs an issue key, a rule id, a duration and a reason"),
    ("waive PAY-1 anticipated-outcome-missing soon because", "is not a duration"),
    ("waive PAY-1 anticipated-outcome-missing 365d because", "lasts 1 to 90 days"),
    ("waive PAY-1 no-such-rule 14d because", "no rule 'no-such-rule'"),
])
def test_waive_mistakes_write_nothing(commands, text, message, tmp_path):
    name, answer = commands.answer(text, {"user_id": "U1"})
    assert name == "waive" and message in answer
    assert not (tmp_path / "state.db").exists()


# -- starting chat inside the service ------------------------------------------------------------------------

def fake_service(inputs, env: dict, chat="auto"):
    from types import SimpleNamespace

    from bot.service.health import Metrics
    from bot.service import load_settings

    inputs.config.env = env
    settings = load_settings(inputs.config)
    settings.chat = chat
    return SimpleNamespace(settings=settings, config=inputs.config, inputs=inputs, snapshot=None,
                           metrics=Metrics(), jobs=None)


def test_chat_stays_off_without_tokens_unless_required(inputs):
    from bot.service.chat import start_chat
    from bot.errors import ConfigError

    assert start_chat(fake_service(inputs, {})) is None
    assert start_chat(fake_service(inputs, {"SLACK_APP_TOKEN": "xapp-1-x"}, chat=False)) is None
    with pytest.raises(ConfigError, match="service.chat is on but SLACK_APP_TOKEN and SLACK_BOT_TOKEN is not set"):
        start_chat(fake_service(inputs, {}, chat=True))
    with pytest.raises(ConfigError, match="must be an app-level token starting with xapp-"):
        start_chat(fake_service(inputs, {"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "xoxb-2"}))


def test_a_rejected_bot_token_stops_the_start(inputs, fake_slack):
    from bot.service.chat import start_chat
    from bot.errors import ConfigError

    fake_slack.answer = lambda method: {"ok": False, "error": "invalid_auth"}
    env = {"SLACK_APP_TOKEN": "xapp-1-A-1-x", "SLACK_BOT_TOKEN": "xoxb-1-2-y", "SLACK_API_URL": fake_slack.api_url}
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        start_chat(fake_service(inputs, env))


def test_slack_unreachable_for_socket_mode_is_retried_not_fatal(inputs, fake_slack):
    from bot.service.chat import start_chat

    fake_slack.answer = lambda method: ({"ok": False, "error": "service_unavailable"}
                                        if method == "apps.connections.open" else FakeAnswers.auth)
    env = {"SLACK_APP_TOKEN": "xapp-1-A-1-x", "SLACK_BOT_TOKEN": "xoxb-1-2-y", "SLACK_API_URL": fake_slack.api_url}
    handle = start_chat(fake_service(inputs, env))
    try:
        deadline = time.monotonic() + 10
        while not handle.state.startswith("retrying") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert handle.state.startswith("retrying") and "service_unavailable" in handle.state
        assert ("apps.connections.open", {}) in [(method, {}) for method, _ in fake_slack.calls]
    finally:
        handle.close()
    assert handle.state == "closed"


class FakeAnswers:
    auth = {"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}


def test_a_key_missing_from_the_demo_says_so_as_the_command_does():
    from bot.runs.inputs import load_inputs

    demo = load_inputs(None)
    assert demo.demo
    name, answer = ChatCommands(demo, clock=lambda: NOW).answer("check NOPE-1", {"user_id": "U1"})
    assert answer == ":mag: *NOPE-1*: not in the bundled demo workspace."
    result = CliRunner().invoke(cli, ["check", "NOPE-1"])
    assert result.stderr.splitlines()[-1] == "govbot: NOPE-1: not in the bundled demo workspace"

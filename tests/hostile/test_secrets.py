"""Secrets echoed by a remote error body never leave govbot: one filter (bot/redact.py) on every output.

A Slack or Jira error that repeats the request's ``Authorization`` header (a
debugging proxy, a gateway, a misbehaving server) used to reach CLI stderr,
``nudge`` stdout, the audit log (and with ``audit_file: "-"``, the container's
stderr), ``deliveries.last_error`` and the unauthenticated ``/healthz``. Here
the fakes echo every secret govbot holds, real ``govbot`` processes provoke
the errors, and every output is searched for the secret: stderr, stdout, the
audit file, the store's bytes (database and WAL), ``/healthz`` and ``/metrics``.
Each test also checks the echo did arrive (masked), so it cannot pass by
never reaching the error path.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot import redact as redaction
from tests.conftest import ROOT
from tests.fakes.jira_server import Faults, JiraEmulator
from tests.fakes.slack_server import FakeSlack
from tests.hostile.bounded import govbot
from tests.hostile.corpus import issue

JIRA_EMAIL = "govbot@example.com"
JIRA_TOKEN = "ATATT3xFfGF0-jira-secret-0123456789abcdef=DEADBEEF"
JIRA_BASIC = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
SLACK_TOKEN = "xoxb-1111-2222-secret-slack-token"
# A configured value with no token shape: masked because it was configured, not by its look.
SIGNING_SECRET = "plain-signing-secret-4242"
SECRETS = (JIRA_TOKEN, JIRA_BASIC, SLACK_TOKEN, SIGNING_SECRET)


def assert_clean(where: str, text: str | bytes) -> None:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    for secret in SECRETS:
        assert secret.encode() not in data, f"{where} leaks {secret[:12]}..."
    # Pieces long enough to identify a token (a secret cut in half is still a secret).
    for secret in (JIRA_TOKEN, SLACK_TOKEN):
        assert secret[-16:].encode() not in data, f"{where} leaks the end of {secret[:12]}..."


def store_bytes(folder: Path) -> bytes:
    """Every byte the SQLite store wrote: the database and its side files."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("state.db*")))


def test_the_filter_masks_configured_values_and_token_shapes():
    redaction.register_secret(SIGNING_SECRET)
    text = (f"Authorization: Basic {JIRA_BASIC} Bearer abcdef123456 token={SLACK_TOKEN} xapp-1-A0-zz "
            f"{JIRA_TOKEN} postgresql://govbot:pw-in-url@db:5432/govbot https://hooks.slack.com/T0/B0/xyz "
            f"{SIGNING_SECRET}")
    out = redaction.redact(text)
    assert_clean("redact()", out)
    for piece in ("abcdef123456", "xapp-1", "pw-in-url", "T0/B0/xyz"):
        assert piece not in out
    assert "postgresql://govbot:[REDACTED]@db:5432/govbot" in out
    assert redaction.redact(out) == out  # filtering twice (log formatter, then the stream) changes nothing


def test_the_filter_is_linear_on_hostile_text():
    # A backtracking `scheme://` pattern is quadratic on "a-a-a-...": the filter sees Jira text.
    started = time.monotonic()
    redaction.redact("a-" * 500_000 + "Bearer " + "b" * 200_000)
    assert time.monotonic() - started < 2


def secret_env(**extra) -> dict:
    return {"JIRA_EMAIL": JIRA_EMAIL, "JIRA_API_TOKEN": JIRA_TOKEN, "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "GOVBOT_LOG_FORMAT": "json", **extra}


def epic(key: str) -> dict:
    return issue(key, "Epic", summary=f"Epic {key}",
                 assignee={"accountId": "acc-alice", "displayName": "Alice", "emailAddress": "alice@example.com"})


@pytest.fixture
def echoing_jira():
    faults = Faults(outage_after=0, outage_status="echo")  # every API request answers 400, echoing the header
    with JiraEmulator([{"issues": [epic("PAY-1")], "names": {}}], flavour="cloud", faults=faults,
                      lifetime=120) as emulator:
        yield emulator


def write_config(folder: Path, **sections) -> Path:
    data = {"jira": {"projects": ["PAY"]}, "teams": {"payments": {"projects": ["PAY"], "channel": "#payments"}},
            "slack": {"seconds_between_posts": 0, "max_retries": 0},
            "store": {"url": str(folder / "state.db"), "audit_file": str(folder / "audit.jsonl")},
            "service": {"health_port": False, "chat": False}}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    path = folder / "govbot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_jira_error_echoing_the_credentials_stays_masked_on_the_cli(tmp_path, echoing_jira):
    config = write_config(tmp_path)
    for command in (["scan"], ["scan", "--format", "json"], ["check", "PAY-1"], ["nudge"]):
        done = govbot(*command, "--config", str(config), timeout=60, cwd=tmp_path,
                      env=secret_env(JIRA_URL=echoing_jira.url))
        assert done.returncode == 2, (command, done.returncode, done.stderr)
        assert "headers were Authorization: [REDACTED]" in done.stderr, done.stderr  # the echo arrived
        assert_clean(f"{command} stderr", done.stderr)
        assert_clean(f"{command} stdout", done.stdout)


@pytest.mark.parametrize("audit", ["file", "stderr"])
def test_a_slack_error_echoing_the_token_stays_masked_in_every_output(tmp_path, audit):
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps([{"issues": [epic("PAY-1"), epic("PAY-2")], "names": {}}]))
    config = write_config(tmp_path, **({"store": {"audit_file": "-"}} if audit == "stderr" else {}))
    with FakeSlack(token=SLACK_TOKEN, users={"alice@example.com": "U0ALICE"}) as slack:
        slack.fail("chat.postMessage", error="invalid_blocks", echo_auth=True, times=20)
        done = govbot("nudge", "--apply", "--snapshot", str(snapshot), "--config", str(config),
                      "--now", "2026-03-31", timeout=60, cwd=tmp_path,
                      env=secret_env(SLACK_API_URL=slack.api_url))
        assert slack.calls_to("chat.postMessage"), done.stderr
    assert done.returncode in (0, 1), (done.returncode, done.stderr)  # a failed post is reported, not a crash
    assert "Authorization: [REDACTED]" in done.stdout  # the nudge report names the masked error
    assert_clean("nudge stdout", done.stdout)
    assert_clean("nudge stderr", done.stderr)
    stored = store_bytes(tmp_path)
    assert b"request had Authorization: [REDACTED]" in stored  # deliveries.last_error kept the masked echo
    assert_clean("the store", stored)
    if audit == "file":
        trail = (tmp_path / "audit.jsonl").read_text()
        assert "request had Authorization: [REDACTED]" in trail
        assert_clean("the audit file", trail)
    else:
        assert "request had Authorization: [REDACTED]" in done.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:  # 503 while unhealthy still has a body
        return error.read().decode("utf-8")


def test_the_service_keeps_echoed_secrets_out_of_healthz_metrics_and_its_logs(tmp_path, echoing_jira):
    port = free_port()
    config = write_config(tmp_path, store={"audit_file": "-"},
                          service={"health_port": port, "chat": False},
                          schedule={"scan_and_nudge": "every 1s", "digest": False, "full_rescan": False})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8",
           **secret_env(JIRA_URL=echoing_jira.url)}
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--config", str(config)], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8")
    try:
        deadline = time.monotonic() + 60
        health = ""
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                health = fetch(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                continue
            if (json.loads(health)["jobs"]["scan-and-nudge"].get("last_error") or ""):
                break
        else:
            pytest.fail(f"the job never failed: {health}")
        assert "Authorization: [REDACTED]" in health, health
        assert_clean("/healthz", health)
        assert_clean("/metrics", fetch(f"http://127.0.0.1:{port}/metrics"))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    assert "Authorization: [REDACTED]" in stderr  # the failure was logged, masked
    assert_clean("serve stderr", stderr)
    assert_clean("serve stdout", stdout)
    assert_clean("the store", store_bytes(tmp_path))


def test_a_chat_answer_quoting_a_jira_error_keeps_the_credentials_masked(tmp_path, echoing_jira):
    from bot.runs.inputs import load_inputs
    from bot.service.chat import ChatCommands

    inputs = load_inputs(str(write_config(tmp_path)))
    inputs.config.env.update({"JIRA_URL": echoing_jira.url, "JIRA_EMAIL": JIRA_EMAIL, "JIRA_API_TOKEN": JIRA_TOKEN})
    _, answer = ChatCommands(inputs).answer("check PAY-1", {"user_id": "U1"})
    assert "Authorization: [REDACTED]" in answer, answer  # the Jira error reached the answer, masked
    assert_clean("the chat answer", answer)

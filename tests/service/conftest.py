"""Fixtures for the service: a tiny Jira snapshot, a config writer, a loopback fake Slack API."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.runs.inputs import load_inputs


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()

SITE = "https://acme.atlassian.net"


@pytest.fixture(autouse=True)
def _restore_logging():
    """`govbot serve` sets up logging for the process; undo it after each test."""
    root = logging.getLogger()
    noisy = ("apscheduler.executors", "apscheduler.scheduler", "slack_bolt", "slack_sdk", "urllib3")
    levels = {name: logging.getLogger(name).level for name in noisy}
    root_level = root.level
    yield
    for handler in list(root.handlers):
        if handler.get_name() == "govbot":
            root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _issue(key: str, kind: str, summary: str, *, description: str | None = None, parent: str | None = None,
           labels: tuple[str, ...] = ()) -> dict:
    fields = {"summary": summary, "issuetype": {"name": kind}, "project": {"key": key.split("-")[0]},
              "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
              "labels": list(labels), "created": "2026-01-05T10:00:00.000+0000",
              "updated": "2026-03-01T10:00:00.000+0000"}
    if description is not None:
        fields["description"] = description
    if parent:
        fields["parent"] = {"key": parent}
    return {"id": str(abs(hash(key)) % 100000), "key": key, "self": f"{SITE}/rest/api/2/issue/{key}", "fields": fields}


SNAPSHOT = {"issues": [
    _issue("PAY-1", "Epic", "Checkout <!channel> & <https://evil.example|click here>"),
    _issue("PAY-2", "Epic", "Faster refunds",
           description="Anticipated Outcome: 80% of refunds paid within 2 days by Q3, cutting support tickets 30%."),
    _issue("PAY-3", "Story", "Refund button", parent="PAY-2"),
]}


@pytest.fixture
def snapshot(tmp_path) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(SNAPSHOT))
    return path


@pytest.fixture
def write_config(tmp_path):
    """Write govbot.yaml with a store in tmp_path; extra YAML text is appended."""

    def write(extra: str = "", name: str = "govbot.yaml") -> Path:
        path = tmp_path / name
        path.write_text("teams:\n  payments: {projects: [PAY], channel: '#pay'}\n"
                        f"store:\n  url: {tmp_path / 'state.db'}\n" + extra)
        return path

    return write


@pytest.fixture
def inputs(write_config, snapshot):
    return load_inputs(str(write_config()), snapshot=str(snapshot))


class FakeSlack:
    """Slack's Web API and response URLs on 127.0.0.1: records every call, answers ok."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.responses: list[dict] = []
        self.responded = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                if self.path.startswith("/respond/"):
                    fake.responses.append(body)
                    fake.responded.set()
                    answer = b"ok"
                else:
                    method = self.path.rsplit("/", 1)[-1]
                    fake.calls.append((method, body))
                    answer = json.dumps(fake.answer(method)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"

    def answer(self, method: str) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "govbot",
                    "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"}
        return {"ok": True}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_slack():
    slack = FakeSlack()
    yield slack
    slack.close()

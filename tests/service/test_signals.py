"""SIGTERM on a real `govbot serve`: exit 0, and the store holds all of a write or none of it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.runs.inputs import DEMO_WORKSPACE
from tests.conftest import ROOT

HELPER = Path(__file__).with_name("serve_with_slow_write.py")


def start(tmp_path, *, hold: float, shutdown_timeout: str) -> tuple[subprocess.Popen, Path, Path]:
    config = tmp_path / "govbot.yaml"
    config.write_text(f"store:\n  url: {tmp_path / 'state.db'}\n"
                      "schedule:\n  full_rescan: every 1s\n  scan_and_nudge: false\n  digest: false\n"
                      f"service:\n  health_port: 0\n  chat: false\n  shutdown_timeout: {shutdown_timeout}\n"
                      "logging:\n  format: json\n")
    marker, log = tmp_path / "writing", tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVBOT_TEST_MARKER": str(marker),
           "GOVBOT_TEST_HOLD_SECONDS": str(hold)}
    process = subprocess.Popen([sys.executable, str(HELPER), "serve", "--config", str(config), "--snapshot",
                                str(DEMO_WORKSPACE)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=log.open("w"))
    return process, marker, log


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def log_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def scan_runs(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT kind, finished FROM scan_runs").fetchall()


def finding_count(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "state.db") as db:
        return db.execute("SELECT count(*) FROM findings").fetchone()[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_a_write_lets_it_finish_then_exits_0(tmp_path):
    process, marker, log = start(tmp_path, hold=1.0, shutdown_timeout="20s")
    try:
        wait_for(marker.exists)
        # While the job runs, the real endpoint says so.
        url = next(line["health_url"] for line in log_lines(log) if "health_url" in line)
        with urllib.request.urlopen(url, timeout=5) as response:
            health = json.load(response)
        assert health["status"] == "ok" and health["jobs"]["full-rescan"]["running_for_seconds"] is not None
        with urllib.request.urlopen(url.replace("/healthz", "/metrics"), timeout=5) as response:
            assert 'govbot_job_running{job="full-rescan"} 1' in response.read().decode()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    messages = [line["message"] for line in log_lines(log)]
    assert "SIGTERM received: stopping (no new jobs start)" in messages
    assert any(m.startswith("full-rescan finished") for m in messages) and "stopped cleanly" in messages
    runs = scan_runs(tmp_path)
    assert runs and all(finished is not None for _, finished in runs)  # the write completed, whole
    assert finding_count(tmp_path) > 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_job_past_the_shutdown_timeout_is_abandoned_and_its_write_rolled_back(tmp_path):
    process, marker, log = start(tmp_path, hold=60.0, shutdown_timeout="1s")
    try:
        wait_for(marker.exists)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    messages = [line["message"] for line in log_lines(log)]
    assert any(m.startswith("abandoning full-rescan after 1s") for m in messages)
    assert scan_runs(tmp_path) == [] and finding_count(tmp_path) == 0  # none of the write happened


def test_sigterm_while_idle_exits_0_at_once(tmp_path):
    config = tmp_path / "govbot.yaml"
    config.write_text(f"store:\n  url: {tmp_path / 'state.db'}\nservice:\n  health_port: 0\n  chat: false\n")
    log = tmp_path / "serve.log"
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--config", str(config), "--snapshot",
                                str(DEMO_WORKSPACE)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for(lambda: "serving (dry-run)" in log.read_text() or process.poll() is not None)
        assert process.poll() is None, log.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0, log.read_text()
    finally:
        process.kill()
    assert "SIGINT received" in log.read_text()

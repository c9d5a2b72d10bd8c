"""Two replicas, jobs once: real `govbot serve` processes on one store.

PostgreSQL: two processes elect one scheduler through an advisory lock; only
the leader runs the scheduled job, both serve /healthz and say who leads;
SIGKILL on the leader hands the schedule to the other within a minute.
SQLite: a second `govbot serve` on the same file refuses to start.
The PostgreSQL test needs GOVBOT_TEST_POSTGRES_URL (``.ci/run`` starts a server).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.service.conftest import SNAPSHOT

POSTGRES_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL")
JOB = "scan-and-nudge"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except (OSError, ValueError):
        return None


class Replica:
    def __init__(self, folder: Path, name: str, config: Path, port: int | None):
        self.name, self.port = name, port
        self.log_path = folder / f"{name}.log"
        self.log = open(self.log_path, "w")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", "GOVBOT_LOG_FORMAT": "json"}
        env.pop("SLACK_APP_TOKEN", None)
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--config", str(config),
                                         "--snapshot", str(folder / "snapshot.json")],
                                        cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"message": line})
        return out

    def job_starts(self) -> list[str]:
        return [line.get("time", "") for line in self.lines() if line.get("message") == f"{JOB} started"]

    def health(self) -> dict | None:
        return health(self.port)

    def role(self) -> str | None:
        """leader | follower | electing (its first round), or None while it starts."""
        return ((self.health() or {}).get("scheduler") or {}).get("role")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def write_config(folder: Path, store: str, port: int | None = None) -> Path:
    (folder / "snapshot.json").write_text(json.dumps(SNAPSHOT))
    path = folder / f"govbot-{port}.yaml"
    path.write_text(yaml.safe_dump({
        "teams": {"payments": {"projects": ["PAY"], "channel": "#pay"}},
        "store": {"url": store, "audit_file": str(folder / "audit.jsonl")},
        "schedule": {"scan_and_nudge": "every 2s", "digest": False, "full_rescan": False},
        "service": {"health_port": port if port is not None else False, "chat": False,
                    "leader_check_every": "1s", "shutdown_timeout": "10s"}}))
    return path


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs GOVBOT_TEST_POSTGRES_URL (a PostgreSQL server)")
def test_two_replicas_run_each_job_once_and_the_survivor_takes_over(tmp_path):
    from tests.test_store import reset_postgres

    reset_postgres(POSTGRES_URL)
    ports = [free_port(), free_port()]
    first = Replica(tmp_path, "first", write_config(tmp_path, POSTGRES_URL, ports[0]), ports[0])
    try:
        wait_for(lambda: first.role() == "leader", 60, "a leader")
        second = Replica(tmp_path, "second", write_config(tmp_path, POSTGRES_URL, ports[1]), ports[1])
        try:
            wait_for(lambda: second.role() in ("leader", "follower"), 60, "the second replica's election")
            status = second.health()
            # Both serve health; both name the same leader; the follower is healthy too.
            assert status["status"] == "ok" and status["scheduler"]["role"] == "follower", status
            leader_name = first.health()["scheduler"]["replica"]
            assert status["scheduler"]["leader"] == leader_name
            wait_for(lambda: len(first.job_starts()) >= 4, 60, "the leader to run its job a few times")
            assert second.job_starts() == [], "the follower ran a scheduled job"
            leading = [urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read().decode()
                       for port in ports]
            assert ["govbot_scheduler_leader 1" in text.splitlines() for text in leading] == [True, False]
            # One run per slot: the leader's runs are at least an interval apart.
            assert all(line.get("message") != f"{JOB} skipped: its previous run is still going"
                       for line in second.lines())

            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=10)
            killed = time.monotonic()
            wait_for(lambda: second.role() == "leader", 60, "the survivor to take the schedule over")
            taken_over = time.monotonic() - killed
            assert taken_over < 60
            wait_for(lambda: len(second.job_starts()) >= 2, 30, "the new leader to run the job")
            status = second.health()
            assert status["status"] == "ok" and status["scheduler"]["leader"] == status["scheduler"]["replica"]
        finally:
            second.stop()
    finally:
        first.stop()
    log_text = (tmp_path / "second.log").read_text()
    assert "runs the schedule now" in log_text and "Traceback" not in log_text


def test_a_second_service_on_one_sqlite_store_refuses_to_start(tmp_path):
    store = str(tmp_path / "state.db")
    first = Replica(tmp_path, "first", write_config(tmp_path, store, free_port()), None)
    try:
        wait_for(lambda: first.job_starts(), 60, "the first service to run its job")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVBOT_LOG_FORMAT": "json"}
        done = subprocess.run([sys.executable, "-m", "bot", "serve", "--config",
                               str(write_config(tmp_path, store, free_port())),
                               "--snapshot", str(tmp_path / "snapshot.json")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 3, done.stderr
        assert "another govbot serve is running on the SQLite store" in done.stderr
        assert "with SQLite, govbot runs as one replica" in done.stderr and "Traceback" not in done.stderr
    finally:
        first.stop()

"""`govbot nudge --apply` killed with SIGKILL at many points, then run to completion.

A real process runs against the loopback fake Slack. The fake kills it at its
Nth Slack request of that run, either as the request arrives (Slack never saw
it) or after Slack acted on it but before the answer left (Slack did it; govbot
never learns). A few more runs are killed after a random delay instead, which
lands in start-up, the scan or the store's writes. The kill points come from a
seeded RNG, so a failure can be replayed. Then one run goes to the end.

Afterwards every due message has reached Slack exactly once (counted by the
dedupe key each post carries as metadata, and by recipient), and an immediate
further run sends nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.deliver.conftest import TOKEN
from tests.deliver.test_nudge_cli import write_config
from tests.fakes.slack_server import FakeSlack

OWNERS = [f"owner{i}" for i in range(1, 21)]         # twenty people Slack knows by email
SLACK_USERS = {f"{name}@example.com": f"U0{name.upper()}" for name in OWNERS}
EXPECTED = sorted(["#payments"] + list(SLACK_USERS.values()))  # plus the team channel, for an owner with no email
SEED = 20261121
KILLS_AT_REQUEST = 10
KILLS_TIMED = 2


class KillingSlack(FakeSlack):
    """The fake Slack that SIGKILLs the client process at its Nth Slack request in a run."""

    def __post_init__(self):
        super().__post_init__()
        self.victim: int | None = None
        self.kill_method: str | None = None
        self.kill_at: int | None = None
        self.after = False          # False: kill as the request arrives; True: after Slack acted on it
        self.seen = 0
        self.kills: list[str] = []
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def arm(self, pid: int | None, method: str | None, nth: int | None, after: bool = False) -> None:
        with self._count_lock:
            self.victim, self.kill_method, self.kill_at, self.after, self.seen = pid, method, nth, after, 0

    def _kill(self, where: str) -> None:
        if self.victim:  # never 0 (that would be our own process group)
            method = self._local.method
            self.kills.append(f"{where} {method} (request {self.seen})")
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None

    def _handle(self, request) -> None:
        method = request.path.split("?", 1)[0][len("/api/"):]
        with self._count_lock:
            if self.kill_method in (None, method):
                self.seen += 1
                ordinal = self.seen
            else:
                ordinal = None
        self._local.method = method
        self._local.ordinal = ordinal
        if self.kill_at is not None and ordinal == self.kill_at and not self.after:
            self._kill("before")
            return  # Slack never acted on it
        super()._handle(request)

    def _reply(self, request, status, body, headers=None) -> None:
        if self.kill_at is not None and getattr(self._local, "ordinal", None) == self.kill_at and self.after:
            self._kill("after")
            return  # Slack acted on it; the answer never leaves
        super()._reply(request, status, body, headers)


def epic(number: int, owner: str, email: bool = True) -> dict:
    person = {"accountId": f"acc-{owner}", "displayName": f"{owner.title()} Example"}
    if email:
        person["emailAddress"] = f"{owner}@example.com"
    return {"key": f"PAY-{number}", "id": str(number),
            "self": f"https://example.atlassian.net/rest/api/3/issue/{number}",
            "fields": {"summary": f"Epic {number}", "issuetype": {"name": "Epic", "hierarchyLevel": 1},
                       "project": {"key": "PAY"}, "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                       "assignee": person, "labels": []}}


def start(tmp_path: Path, snap: Path, fake: FakeSlack) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("SLACK_", "JIRA_", "GOVBOT_"))}
    environment.update({"SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)})
    return subprocess.Popen([sys.executable, "-m", "bot", "nudge", "--apply", "--snapshot", str(snap),
                             "--now", "2026-03-31", "--config", "govbot.yaml"],
                            cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def keys(fake: FakeSlack) -> list[str]:
    return [p["metadata"]["event_payload"]["key"] for p in fake.posts()]


def test_killed_at_random_points_then_completed_delivers_each_message_exactly_once(tmp_path):
    write_config(tmp_path)
    issues = [epic(i, owner) for i, owner in enumerate(OWNERS, 1)]
    issues += [epic(20 + i, owner) for i, owner in enumerate(OWNERS[:3], 1)]  # some people own two
    issues.append(epic(40, "hidden", email=False))                           # goes to the team channel
    snap = tmp_path / "snapshot.json"
    snap.write_text(json.dumps({"issues": issues}))
    rng = random.Random(SEED)
    # Each kill lands as the request arrives or after Slack acted on it, alternately. The first kills
    # land on any Slack request (email lookups, mostly); the rest on posts, the dangerous moment, and
    # the runs after an interrupted post start with its history check.
    plan = [("request", None if index < 3 else "chat.postMessage", rng.randint(1, 6) if index < 3 else
             rng.randint(1, 2), index % 2 == 1) for index in range(KILLS_AT_REQUEST)]
    for _ in range(KILLS_TIMED):  # anywhere among the first runs: start-up, scan, store writes
        plan.insert(rng.randrange(len(plan) // 2), ("timed", None, rng.uniform(0.1, 0.6), False))
    deadline = time.monotonic() + 90
    outcomes = []
    with KillingSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        for kind, method, point, after in plan:
            process = start(tmp_path, snap, fake)
            fake.arm(process.pid, method, point if kind == "request" else None, after)
            try:
                if kind == "timed":
                    try:
                        process.wait(point)
                    except subprocess.TimeoutExpired:
                        process.send_signal(signal.SIGKILL)
                process.wait(max(1.0, deadline - time.monotonic()))
            finally:
                if process.poll() is None:
                    process.kill()
                out, err = process.communicate(timeout=10)
            fake.arm(None, None, None)  # disarmed: nobody to kill
            outcomes.append((kind, method, round(point, 2), after, process.returncode))
            # A run nobody killed (nothing left to do by then) must still have ended well.
            assert process.returncode in (0, -signal.SIGKILL), (outcomes, (out + err).decode())
            assert len(keys(fake)) == len(set(keys(fake))), ("posted twice", outcomes, fake.kills)
        # How far a timed kill lets a run get depends on the machine's speed, so a few request kills
        # may find nothing left to do; most must land, and at least one on a post.
        landed = [kill for kill in fake.kills]
        assert len(landed) >= KILLS_AT_REQUEST - 4, (outcomes, landed)
        assert any(kill.startswith("after chat.postMessage") for kill in landed), landed
        assert any(kill.startswith("before chat.postMessage") for kill in landed), landed

        final = start(tmp_path, snap, fake)
        out, err = final.communicate(timeout=60)
        assert final.returncode == 0, (out + err).decode()
        posted = keys(fake)
        assert len(posted) == len(set(posted)), ("posted twice", outcomes, fake.kills)
        assert sorted(fake.dm_user(p["channel"]) or p["channel"] for p in fake.posts()) == EXPECTED, (
            outcomes, fake.kills)

        count = len(fake.posts())
        again = start(tmp_path, snap, fake)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, (out + err).decode()
        assert len(fake.posts()) == count, "an immediate later run sent something"

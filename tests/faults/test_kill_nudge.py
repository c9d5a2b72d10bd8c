"""`govbot nudge --apply` SIGKILLed at random moments (50 kills that land, per setting), then run to completion.

A real process reads the loopback Jira emulator (``tests/fakes/jira_server.py``)
and posts to the loopback fake Slack (``tests/fakes/slack_server.py``), through
five weekly rounds: the first nudge, three reminders, the escalation to the team
channel. In each round it is killed again and again, then one run goes to the
end. Kills land, chosen by a seeded RNG so a failure can be replayed:

- as a Slack request arrives (Slack never acts on it);
- after Slack posted a message, before the answer leaves (Slack did it; govbot
  never learns);
- while govbot sleeps on a 429's ``Retry-After`` (the fake answers the post 429
  with ``Retry-After: 1`` and kills it during the wait);
- after a random delay: start-up, the Jira read, the store's writes.

Some runs also meet a 429 they survive. It runs twice: with Slack history
readable (``im:history``, ``channels:history``), and with an app installed
without those scopes.

What must hold, round by round: no message is lost (every person and the
team channel hear once per round), and nothing is sent twice - with history,
every dedupe key reaches Slack exactly once; without it, the only extra posts
are resends of killed in-doubt posts, at most one per such kill, each marked
"in case you missed this". A run killed while it sleeps on a 429 leaves no
message "sending" (in doubt): Slack had certainly not posted it. An immediate
further run sends nothing.

Restarts are cheap: ``tests/faults/forkserver.py`` imports govbot once and forks
a fresh process per run (about 0.1 s instead of a second of imports).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deliver.conftest import TOKEN
from tests.fakes.jira_server import CLIENT_ENV, JiraEmulator
from tests.fakes.slack_server import FakeSlack

OWNERS = [f"owner{i}" for i in range(1, 31)]         # thirty people Slack knows by email
SLACK_USERS = {f"{name}@example.com": f"U0{name.upper()}" for name in OWNERS}
DMS = sorted(SLACK_USERS.values())
WEEKS = ["2026-03-31", "2026-04-07", "2026-04-14", "2026-04-21", "2026-04-28"]  # Tuesdays, noon UTC
EXPECTED = [sorted(DMS + ["#payments"])] * 4 + [["#payments"]]  # nudge, 3 reminders; then the escalation
KILLS = [12, 12, 12, 12, 2]                          # per week: 50 kills that land
SEED = 20261202
MARK = "(in case you missed this)"


# -- the fake Slack that kills -----------------------------------------------------------------------------

class KillingSlack(FakeSlack):
    """The fake Slack, arming one kill per run: at a request, after a post, or during a Retry-After wait."""

    def __post_init__(self):
        super().__post_init__()
        self.plan: dict | None = None
        self.victim: int | None = None
        self._victim_known = threading.Event()
        self.seen: Counter = Counter()
        self.kills: list[str] = []
        self.first_request_at: float | None = None  # when this run's first request came (monotonic)
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def arm(self, plan: dict | None) -> None:
        with self._count_lock:
            self.plan, self.victim, self.seen = plan, None, Counter()
            self.first_request_at = None
            self._victim_known.clear()

    def set_victim(self, pid: int) -> None:
        self.victim = pid
        self._victim_known.set()

    def disarm(self) -> None:
        self.arm(None)

    def _kill(self, where: str) -> None:
        plan = self.plan
        if plan is None or not self._victim_known.wait(5) or not self.victim:
            return
        self.plan = None  # one kill per run
        self.kills.append(where)
        os.kill(self.victim, signal.SIGKILL)

    def _handle(self, request) -> None:
        method = request.path.split("?", 1)[0][len("/api/"):]
        with self._count_lock:
            if self.first_request_at is None:
                self.first_request_at = time.monotonic()
            self.seen["*"] += 1
            self.seen[method] += 1
            plan = self.plan
            hit = plan is not None and self.seen[plan["method"]] == plan["nth"]
            survive = plan is not None and method == "chat.postMessage" and \
                self.seen[method] == plan.get("survive_429_at")
        self._local.kill_after = hit and plan["kind"] == "after"
        if hit and plan["kind"] == "before":
            self._kill(f"before {method}")
            return  # Slack never acted on it
        if hit and plan["kind"] == "sleep":
            self._reply(request, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            timer = threading.Timer(plan["delay"], self._kill, args=(f"sleeping on Retry-After ({method})",))
            timer.daemon = True
            timer.start()
            return
        if survive:
            self._reply(request, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            return
        super()._handle(request)

    def _reply(self, request, status, body, headers=None) -> None:
        if getattr(self._local, "kill_after", False) and status == 200 and body.get("ok"):
            self._local.kill_after = False
            self._kill("after chat.postMessage")
            return  # Slack acted on it; the answer never leaves
        super()._reply(request, status, body, headers)


# -- restarts ------------------------------------------------------------------------------------------------

class ForkServer:
    """Client of tests/faults/forkserver.py: start a govbot command, wait for it, with timeouts."""

    def __init__(self):
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith(("SLACK_", "JIRA_", "GOVBOT_"))}
        environment["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("forkserver.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
        self._buffer = b""
        self.base_env = environment

    def start(self, argv: list[str], cwd: Path, env: dict, out: Path) -> int:
        request = {"argv": argv, "cwd": str(cwd), "env": {**self.base_env, **env}, "out": str(out)}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        answer = self._line(30)
        assert answer is not None and "pid" in answer, "the fork server did not start the run"
        return answer["pid"]

    def wait(self, timeout: float) -> int | None:
        """The run's exit code (negative: killed by that signal), or None if it is still running."""
        answer = self._line(timeout)
        return None if answer is None else os.waitstatus_to_exitcode(answer["status"])

    def _line(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("the fork server died")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


@pytest.fixture(scope="module")
def forks():
    server = ForkServer()
    yield server
    server.close()


# -- the workspace -------------------------------------------------------------------------------------------

def epic(number: int, owner: str, email: bool = True) -> dict:
    person = {"accountId": f"acc-{owner}", "displayName": f"{owner.title()} Example"}
    if email:
        person["emailAddress"] = f"{owner}@example.com"
    return {"key": f"PAY-{number}", "id": str(number),
            "self": f"https://example.atlassian.net/rest/api/3/issue/{number}",
            "fields": {"summary": f"Epic {number}", "issuetype": {"name": "Epic", "hierarchyLevel": 1},
                       "project": {"key": "PAY"}, "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                       "assignee": person, "labels": [], "created": "2026-01-05T10:00:00.000+0000",
                       "updated": "2026-01-05T10:00:00.000+0000"}}


def issues() -> list[dict]:
    found = [epic(i, owner) for i, owner in enumerate(OWNERS, 1)]
    found += [epic(40 + i, owner) for i, owner in enumerate(OWNERS[:3], 1)]  # some people own two
    found.append(epic(60, "hidden", email=False))                           # goes to the team channel
    return found


def write_config(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "govbot.yaml").write_text("""
jira: {projects: [PAY], timeout_seconds: 3, max_retries: 1}
teams:
  payments: {projects: [PAY], channel: "#payments", timezone: Europe/London}
slack: {admin_channel: "#govbot-admins", seconds_between_posts: 0, max_retries: 3, timeout_seconds: 5}
store: {url: state.db, audit_file: audit.jsonl}
nudges: {breaker: {max_people: 100, max_findings: 500}}
""")


def plan_for(rng: random.Random, unsent: int, before_slack: float) -> dict:
    """Where this run dies (seeded): at a request, after a post, during a Retry-After wait, or on a timer.

    A kill that misses lets the run finish and send everything left, which ends the week's chances, so
    kills aim within what is left: the nth post of at most ``unsent``, and a timer within
    ``before_slack`` (the quickest a run has reached Slack so far: start-up, the Jira read, the store).
    """
    most = max(1, min(2, unsent))
    roll = rng.random()
    if roll < 0.3:
        plan = {"kind": "after", "method": "chat.postMessage", "nth": rng.randint(1, most)}
    elif roll < 0.55:
        method = rng.choice(["*", "chat.postMessage"])
        plan = {"kind": "before", "method": method, "nth": rng.randint(1, 3 if method == "*" else most)}
    elif roll < 0.8:
        plan = {"kind": "sleep", "method": "chat.postMessage", "nth": rng.randint(1, most),
                "delay": rng.uniform(0.05, 0.9)}
    else:
        plan = {"kind": "timed", "method": "never", "nth": 0, "delay": rng.uniform(0.1, 0.9) * before_slack}
    if rng.random() < 0.15:  # a 429 it survives (waits one second, then goes on)
        plan["survive_429_at"] = plan["nth"] + 1 if plan["method"] == "chat.postMessage" else rng.randint(1, 2)
    return plan


def rows(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "state.db") as db:
        return db.execute("SELECT dedupe_key, status FROM deliveries").fetchall()


def audit(folder: Path) -> list[dict]:
    path = folder / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recipient(fake: FakeSlack, post: dict) -> str:
    return fake.dm_user(post["channel"]) or post["channel"]


@pytest.mark.parametrize("history", ["readable", "not granted"])
def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(tmp_path, forks, history):
    folder = tmp_path / history.replace(" ", "-")
    write_config(folder)
    rng = random.Random(f"{SEED}-{history}")
    landed: list[tuple[str, str]] = []   # (week, where) of every kill that hit
    in_doubt_kills = 0
    with JiraEmulator([{"issues": issues()}], flavour="cloud") as jira, \
            KillingSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        if history == "not granted":
            fake.without_history()
        env = {"SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "JIRA_URL": jira.url, **CLIENT_ENV}

        before_slack = 0.5  # the quickest a run reached Slack, in seconds (measured as runs go)

        def run(week: str, plan: dict | None, label: str) -> int:
            nonlocal before_slack
            argv = ["nudge", "--apply", "--no-comments", "--now", week, "--config", "govbot.yaml"]
            fake.arm(plan)
            out = folder / f"run-{label}.log"
            started = time.monotonic()
            pid = forks.start(argv, folder, env, out)
            fake.set_victim(pid)
            code = None
            if plan is not None and plan["kind"] == "timed":
                code = forks.wait(plan["delay"])
                if code is None:
                    os.kill(pid, signal.SIGKILL)
                    fake.kills.append("timed")
            if code is None:
                code = forks.wait(60)
            if fake.first_request_at is not None:
                before_slack = min(before_slack, fake.first_request_at - started)
            fake.disarm()
            assert code is not None, f"run {label} hung"
            # A run nobody killed (nothing left to do by then) must still have ended well.
            assert code in (0, -signal.SIGKILL), (label, code, out.read_text())
            return code

        for week_number, (week, kills, expected) in enumerate(zip(WEEKS, KILLS, EXPECTED)):
            start = len(fake.posts())
            # Until this week's kills have landed: a planned kill can miss (its run ends first, or the
            # posts it aims at went out in earlier runs), and on a loaded machine more of them do.
            landed_now = attempt = 0
            while landed_now < kills and attempt < 3 * kills:
                unsent = len(set(expected) - {recipient(fake, post) for post in fake.posts()[start:]})
                if not unsent:
                    break  # every message of the week is out: nothing is left to be killed around
                plan = plan_for(rng, unsent, before_slack)
                before = len(fake.kills)
                run(week, plan, f"{week_number}-{attempt}")
                attempt += 1
                if len(fake.kills) > before:
                    landed_now += 1
                    where = fake.kills[-1]
                    landed.append((week, where))
                    if where.startswith("sleeping"):
                        # Killed while it waited: the message was released, never left in doubt.
                        assert [key for key, status in rows(folder) if status == "sending"] == [], where
                    else:
                        in_doubt_kills += 1  # may have left one post in doubt (at most one: posts go one by one)
            assert run(week, None, f"{week_number}-done") == 0
            posts = fake.posts()[start:]
            heard = Counter(recipient(fake, post) for post in posts)
            assert sorted(heard) == sorted(set(expected)), (week, heard, landed)  # nobody missed out
            keys = Counter(post["metadata"]["event_payload"]["key"] for post in posts)
            marked = [post for post in posts if post["text"].startswith(MARK)]
            if history == "readable":
                assert sorted(heard.elements()) == expected, (week, heard)  # each once
                assert max(keys.values()) == 1 and not marked, ("posted twice", week, keys)
            else:
                unmarked = Counter(post["metadata"]["event_payload"]["key"] for post in posts
                                   if not post["text"].startswith(MARK))
                assert max(unmarked.values(), default=0) <= 1, ("posted twice unmarked", week, unmarked)
                # Every extra post is a marked resend of a post a kill left in doubt.
                assert len(posts) - len(set(keys)) <= len(marked)
            statuses = {status for _, status in rows(folder)}
            assert statuses <= {"sent", "merged", "cancelled"}, statuses  # nothing left queued or in doubt
            sent = {key for key, status in rows(folder) if status == "sent"}
            assert sent <= {post["metadata"]["event_payload"]["key"] for post in fake.posts()}

        count = len(fake.posts())
        assert run(WEEKS[-1], None, "again") == 0
        assert len(fake.posts()) == count, "an immediate later run sent something"

    # The kills really landed where they matter, and the in-doubt paths were taken.
    wheres = Counter(where.split(" (")[0] for _, where in landed)
    assert len(landed) >= 40, wheres
    assert wheres["after chat.postMessage"] >= 5 and wheres["sleeping on Retry-After"] >= 5, wheres
    events = audit(folder)
    marked_resends = [e for e in events if e["event"] == "delivery.requeued" and e.get("marked")]
    if history == "readable":
        assert any(e.get("confirmed_after_interruption") for e in events if e["event"] == "delivery.sent")
        assert any(e["event"] == "delivery.requeued" and e.get("proof") for e in events)
        assert marked_resends == []
    else:
        assert marked_resends and len(marked_resends) <= in_doubt_kills
        assert len([p for p in fake.posts() if p["text"].startswith(MARK)]) <= wheres["after chat.postMessage"] \
            + wheres["before chat.postMessage"] + wheres["before *"] + wheres["timed"]

"""The state database failing under `govbot nudge --apply`: locked, full, read-only.

Each fault must give one clear error line (no traceback), exit 3 (the store
cannot be used right now; 2 is kept for a wrong store URL), and leave no
half-written state: once the fault is gone, the next normal run nudges each
owner exactly once, and the run after that sends nothing.

How the faults are made:
- locked: another connection holds SQLite's write lock (``BEGIN IMMEDIATE``)
  for longer than ``store.busy_timeout_seconds``, before the run or between two
  Slack posts;
- full: ``PRAGMA max_page_count`` set to the file's current size on govbot's own
  connections, so the first page the run needs fails with SQLITE_FULL ("database
  or disk is full"), exactly as on a full disk;
- read-only: the file is made read-only (``chmod 0444``; as root, which ignores
  file modes, ``PRAGMA query_only`` gives SQLite's same SQLITE_READONLY error).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.store.database as store_module  # where engines are made
from bot.cli import cli
from bot.deliver.slack_client import SlackClient
from bot.store import Store
from tests.deliver.conftest import SLACK_USERS, TOKEN
from tests.deliver.test_nudge_cli import default_issues, snapshot, write_config
from tests.fakes.slack_server import FakeSlack

EVERYONE = ["#payments", "U0ALICE", "U0BOB", "U0CAROL"]


@pytest.fixture
def fake():
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as slack:
        yield slack


@pytest.fixture
def workspace(tmp_path):
    write_config(tmp_path, "  busy_timeout_seconds: 0.2\n")
    snap = snapshot(tmp_path, default_issues())
    Store(f"sqlite:///{tmp_path / 'state.db'}").close()  # an existing, migrated store
    return tmp_path, str(snap)


def nudge(fake: FakeSlack, snap: str, now: str = "2026-03-31"):
    return CliRunner().invoke(
        cli, ["nudge", "--apply", "--snapshot", snap, "--now", now, "--config", "govbot.yaml"],
        env={"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url})


def recipients(fake: FakeSlack) -> list[str]:
    return sorted(fake.dm_user(p["channel"]) or p["channel"] for p in fake.posts())


def assert_one_clear_line(result, words: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.output, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("govbot: store ") and words in lines[0], result.stderr
    assert len(lines) <= 2 and all(line.startswith(("govbot:", "help:")) for line in lines), result.stderr
    assert "Traceback" not in result.stderr + result.output


def assert_recovers(fake: FakeSlack, snap: str, before: int = 0) -> None:
    """The next normal run delivers everything once; the one after sends nothing."""
    run = nudge(fake, snap)
    assert run.exit_code == 0, (run.output, run.stderr)
    assert recipients(fake) == EVERYONE
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts()]
    assert len(keys) == len(set(keys)) == 4
    again = nudge(fake, snap)
    assert again.exit_code == 0 and len(fake.posts()) == 4, again.output


def test_locked_before_the_run(workspace, fake):
    tmp_path, snap = workspace
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = nudge(fake, snap)
        assert_one_clear_line(result, "is locked by another process")
        assert fake.posts() == []
    finally:
        holder.rollback()
        holder.close()
    assert_recovers(fake, snap)


def test_locked_between_two_slack_posts(workspace, fake, monkeypatch):
    """The write lock is taken by someone else right after Slack accepted the 2nd message:
    govbot cannot record it as sent. The next run must find it in Slack, not post it again."""
    tmp_path, snap = workspace
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    original = SlackClient.post_message

    def post_then_lose_the_database(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        if len(fake.posts()) == 2:
            holder.execute("BEGIN IMMEDIATE")
        return answer

    monkeypatch.setattr(SlackClient, "post_message", post_then_lose_the_database)
    try:
        result = nudge(fake, snap)
        assert_one_clear_line(result, "is locked by another process")
        assert len(fake.posts()) == 2
    finally:
        holder.rollback()
        holder.close()
    monkeypatch.setattr(SlackClient, "post_message", original)
    assert_recovers(fake, snap)


def _limit_connections(monkeypatch, pragma) -> list[bool]:
    """Run ``pragma(dbapi_connection)`` on every new connection govbot's store opens, while ``on[0]``."""
    from sqlalchemy import event

    original = store_module._sqlite_transactions
    on = [True]

    def with_pragma(engine, busy_timeout):
        original(engine, busy_timeout)

        @event.listens_for(engine, "connect")
        def _limit(dbapi_connection, _record):
            if on[0]:
                pragma(dbapi_connection)

    monkeypatch.setattr(store_module, "_sqlite_transactions", with_pragma)
    return on


def test_disk_full(workspace, fake, monkeypatch):
    tmp_path, snap = workspace
    with sqlite3.connect(tmp_path / "state.db") as probe:
        pages = probe.execute("PRAGMA page_count").fetchone()[0]
    limit = _limit_connections(monkeypatch, lambda c: c.execute(f"PRAGMA max_page_count = {pages}"))
    result = nudge(fake, snap)
    assert_one_clear_line(result, "the disk is full")
    assert fake.posts() == []
    with sqlite3.connect(tmp_path / "state.db") as probe:  # nothing half-written
        assert probe.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
        assert probe.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
    limit[0] = False  # space freed
    assert_recovers(fake, snap)


def test_disk_full_after_the_first_run(workspace, fake, monkeypatch):
    """Full at the reminder run, a week later: nothing sent, nothing marked; the reminder comes next run."""
    tmp_path, snap = workspace
    assert nudge(fake, snap).exit_code == 0 and len(fake.posts()) == 4
    with sqlite3.connect(tmp_path / "state.db") as probe:
        pages = probe.execute("PRAGMA page_count").fetchone()[0]
    limit = _limit_connections(monkeypatch, lambda c: c.execute(f"PRAGMA max_page_count = {pages}"))
    result = nudge(fake, snap, "2026-04-07")
    assert_one_clear_line(result, "the disk is full")
    assert len(fake.posts()) == 4
    limit[0] = False
    done = nudge(fake, snap, "2026-04-07")
    assert done.exit_code == 0 and len(fake.posts()) == 8, done.output
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts()]
    assert len(keys) == len(set(keys))


def test_read_only_database(workspace, fake, monkeypatch):
    tmp_path, snap = workspace
    path: Path = tmp_path / "state.db"
    path.chmod(0o444)
    read_only = [False]
    if os.geteuid() == 0 or os.access(path, os.W_OK):  # root ignores file modes: SQLite's own read-only mode
        read_only = _limit_connections(monkeypatch, lambda c: c.execute("PRAGMA query_only = ON"))
    try:
        result = nudge(fake, snap)
        assert_one_clear_line(result, "is read-only")
        assert fake.posts() == []
    finally:
        path.chmod(0o644)
        read_only[0] = False
    assert_recovers(fake, snap)


# -- PostgreSQL: a lock another session holds ------------------------------------------------------------

POSTGRES_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_workspace(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need GOVBOT_TEST_POSTGRES_URL (.ci/run starts a server)")
    from tests.test_store import reset_postgres

    reset_postgres(POSTGRES_URL)
    write_config(tmp_path, "  busy_timeout_seconds: 0.5\n")
    config = tmp_path / "govbot.yaml"
    config.write_text(config.read_text().replace("url: state.db", f"url: '{POSTGRES_URL}'"))
    snap = snapshot(tmp_path, default_issues())
    Store(POSTGRES_URL).close()  # an existing, migrated store
    yield tmp_path, str(snap)
    reset_postgres(POSTGRES_URL)


@pytest.mark.parametrize("lock", ["a maintenance job locks the table", "another session holds the rows"])
def test_postgres_locked_by_another_session_exits_3_within_the_timeout_naming_it(postgres_workspace, fake, lock):
    import time

    import sqlalchemy as sa

    tmp_path, snap = postgres_workspace
    week = "2026-03-31"
    holder_engine = sa.create_engine(POSTGRES_URL, connect_args={"application_name": "pg-maintenance"})
    if lock == "another session holds the rows":
        assert nudge(fake, snap).exit_code == 0 and len(fake.posts()) == 4  # rows to hold
        week = "2026-04-07"  # the reminders, which update those rows
    holder = holder_engine.connect()
    try:
        pid = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        if lock == "another session holds the rows":
            holder.execute(sa.text("UPDATE findings SET title = title"))
        else:
            holder.execute(sa.text("LOCK TABLE findings IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        result = nudge(fake, snap, week)
        took = time.monotonic() - started
        assert result.exit_code == 3, (result.output, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith("govbot: store ") and "is locked by another session" in lines[0], lines
        assert f"held by PostgreSQL session {pid} (" in lines[0] and "application pg-maintenance" in lines[0]
        assert lines[1].startswith("help: waited 0.5 s (store.busy_timeout_seconds)")
        assert "Traceback" not in result.stderr + result.output
        assert took < 10, took  # it waited the configured 0.5 s per lock, not forever
        assert len(fake.posts()) == (4 if week != "2026-03-31" else 0)  # nothing sent
    finally:
        holder.rollback()
        holder.close()
        holder_engine.dispose()
    run = nudge(fake, snap, week)
    assert run.exit_code == 0, (run.output, run.stderr)
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts()]
    assert len(keys) == len(set(keys)) == (4 if week == "2026-03-31" else 8)  # once each, after the lock
    assert sorted(set(recipients(fake))) == EVERYONE


def test_a_second_sqlite_nudge_run_is_told_which_process_holds_the_run_lock(workspace, fake):
    tmp_path, snap = workspace
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with store.run_lock("deliver"):
            result = nudge(fake, snap)
    finally:
        store.close()
    assert result.exit_code == 3
    assert f"another govbot deliver run is in progress on sqlite:///state.db, held by process {os.getpid()} since " \
           in result.stderr

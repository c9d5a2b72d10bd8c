"""State is private by default: under umask 022 (files 0644 otherwise) the SQLite store and
the audit log are created 0600; a file that exists keeps its mode; the image's state
folder is 0700."""

from __future__ import annotations

import os
import stat

import pytest

from bot.deliver.audit import AuditLog
from bot.store import Store
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def umask_022():
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "govbot.db"
    with Store(f"sqlite:///{path}") as store:
        store.stored_version()
        journals = [p for p in tmp_path.iterdir() if p.name.startswith("govbot.db-")]
    assert mode(path) == 0o600, oct(mode(path))
    assert all(mode(p) == 0o600 for p in journals)  # SQLite gives its journal the database's mode


def test_an_existing_store_keeps_the_mode_its_operator_gave_it(tmp_path):
    path = tmp_path / "govbot.db"
    with Store(f"sqlite:///{path}"):
        pass
    os.chmod(path, 0o640)
    with Store(f"sqlite:///{path}") as store:
        store.stored_version()
    assert mode(path) == 0o640


def test_the_audit_log_is_created_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "govbot-audit.jsonl"
    audit = AuditLog(path)
    audit.check_writable()
    assert mode(path) == 0o600, oct(mode(path))
    audit.write("delivery.sent", to="ann@example.com", text="hello")
    assert mode(path) == 0o600 and "ann@example.com" in path.read_text()
    other = tmp_path / "written-first.jsonl"
    AuditLog(other).write("delivery.sent", to="bob@example.com")
    assert mode(other) == 0o600


def test_the_image_state_folder_is_0700_and_the_unit_keeps_a_private_umask():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "chmod 0700 /var/lib/govbot" in dockerfile
    unit = (ROOT / "deploy" / "systemd" / "govbot.service").read_text()
    assert "StateDirectoryMode=0700" in unit and "UMask=0077" in unit


def test_sqlite_side_files_are_created_readable_by_their_owner_only(tmp_path):
    """The rollback journal, the WAL and its shared memory hold the same rows as the database;
    SQLite creates them with the database's mode, and govbot's lock files are 0600 too."""
    import sqlite3

    import sqlalchemy as sa

    path = tmp_path / "govbot.db"
    with Store(f"sqlite:///{path}") as store:
        with store.writing() as connection:
            connection.execute(sa.text("CREATE TABLE probe (x TEXT)"))
            journal = tmp_path / "govbot.db-journal"
            assert journal.exists() and mode(journal) == 0o600, sorted(p.name for p in tmp_path.iterdir())
        with store.try_lock("deliver") as acquired:
            assert acquired
            [lock] = tmp_path.glob("govbot.db.*.lock")
            assert mode(lock) == 0o600, oct(mode(lock))
    wal = sqlite3.connect(path)
    try:
        assert wal.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        with Store(f"sqlite:///{path}") as store:
            with store.writing() as connection:
                connection.execute(sa.text("INSERT INTO probe VALUES ('secret')"))
            side = sorted(p for p in tmp_path.iterdir() if p.name.startswith("govbot.db-"))
            assert {p.name for p in side} >= {"govbot.db-wal", "govbot.db-shm"}, [p.name for p in side]
            assert all(mode(p) == 0o600 for p in side), {p.name: oct(mode(p)) for p in side}
    finally:
        wal.close()

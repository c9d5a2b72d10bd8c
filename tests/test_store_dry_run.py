"""Dry runs never write to the state store: not a plan, not a migration, not a lock file.

``govbot nudge`` without --apply and ``govbot preview`` promise that nothing is
recorded. They read the state (so they show what --apply would really do), but
an SQLite file is read into memory and a PostgreSQL database is only read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.store import LATEST_VERSION, Store, StoreError, metadata, open_store
from tests.deliver.test_nudge_cli import default_issues, snapshot, write_config
from tests.test_store import NOW, POSTGRES_URL, FakeResult, make_finding, reset_postgres


def fingerprint_of_folder(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file in the folder with its modification time and bytes (journals and lock files included)."""
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(folder.iterdir())
            if path.is_file()}


def existing_store(tmp_path: Path) -> Path:
    """A store an earlier `nudge --apply` left behind: migrated, with findings and a run."""
    path = tmp_path / "state.db"
    with Store(f"sqlite:///{path}") as store:
        store.record_scan(FakeResult([make_finding("PAY-1")], read=["PAY-1"]), NOW)
        store.enqueue(dedupe_key="slack_dm:left-by-an-earlier-run", kind="slack_dm", recipient="U0ALICE",
                      payload={"text": "hi", "blocks": []}, fingerprints=[], now=NOW)
    return path


def dry_runs(tmp_path: Path) -> None:
    snap = str(tmp_path / "snapshot.json")
    for command in (["nudge"], ["nudge", "--format", "json"], ["preview"]):
        result = CliRunner().invoke(cli, [*command, "--snapshot", snap, "--now", "2026-03-31", "--config",
                                          str(tmp_path / "govbot.yaml")], env={}, catch_exceptions=False)
        assert result.exit_code == 0, result.output


def test_dry_runs_against_a_current_store_write_nothing(tmp_path):
    write_config(tmp_path)
    existing_store(tmp_path)
    snapshot(tmp_path, default_issues())
    before = fingerprint_of_folder(tmp_path)
    dry_runs(tmp_path)
    assert fingerprint_of_folder(tmp_path) == before


def test_a_dry_run_reads_the_existing_state(tmp_path):
    write_config(tmp_path)
    existing_store(tmp_path)
    snap = str(snapshot(tmp_path, default_issues()))
    result = CliRunner().invoke(cli, ["nudge", "--snapshot", snap, "--now", "2026-03-31", "--config",
                                      str(tmp_path / "govbot.yaml")], env={}, catch_exceptions=False)
    assert "1 message queued by an earlier run would also be sent" in result.output
    assert "read into memory for this dry run; not written" in result.output


def test_dry_runs_against_an_older_store_do_not_migrate_it(tmp_path, monkeypatch):
    import bot.store.database as module  # where the migrations are applied

    write_config(tmp_path)
    path = existing_store(tmp_path)
    snapshot(tmp_path, default_issues())

    def add_table(connection):
        connection.execute(sa.text("CREATE TABLE added_later (x INTEGER)"))

    # This govbot knows one migration more than the store has seen.
    monkeypatch.setattr(module, "MIGRATIONS", module.MIGRATIONS + [(LATEST_VERSION + 1, "added later", add_table)])
    monkeypatch.setattr(module, "LATEST_VERSION", LATEST_VERSION + 1)
    before = fingerprint_of_folder(tmp_path)
    dry_runs(tmp_path)
    with open_store(load_config(tmp_path / "govbot.yaml", env={}), dry_run=True) as store:
        assert store.schema_version() == LATEST_VERSION + 1  # migrated in memory, for the dry run only
        assert len(store.finding_states()) == 1
    assert fingerprint_of_folder(tmp_path) == before
    on_disk = sqlite3.connect(path)
    assert on_disk.execute("select max(version) from schema_version").fetchone()[0] == LATEST_VERSION
    on_disk.close()

    Store(f"sqlite:///{path}").close()  # a run with --apply migrates it
    on_disk = sqlite3.connect(path)
    assert on_disk.execute("select max(version) from schema_version").fetchone()[0] == LATEST_VERSION + 1
    on_disk.close()


def test_a_dry_run_on_a_file_that_is_not_a_store_is_one_clear_error(tmp_path):
    write_config(tmp_path)
    (tmp_path / "state.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not a govbot database"):
        open_store(load_config(tmp_path / "govbot.yaml", env={}), dry_run=True)


# -- PostgreSQL: read, never migrated, never written ------------------------------------------------------

@pytest.fixture
def postgres():
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need GOVBOT_TEST_POSTGRES_URL "
                    "(e.g. postgresql+psycopg://govbot:govbot@127.0.0.1:5432/govbot_test)")
    reset_postgres(POSTGRES_URL)
    yield POSTGRES_URL
    reset_postgres(POSTGRES_URL)


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_postgres_dry_run_with_no_tables_creates_none(postgres):
    with Store.for_dry_run(postgres) as store:
        store.record_scan(FakeResult([make_finding()], read=["PAY-1"]), NOW)
        assert "no govbot tables yet" in store.display
    assert not table_names(postgres) & ({"schema_version"} | set(metadata.tables))


def test_postgres_dry_run_on_a_current_store_writes_nothing(postgres):
    with Store(postgres) as store:
        store.record_scan(FakeResult([make_finding()], read=["PAY-1"]), NOW)
    with Store.for_dry_run(postgres) as store:
        with store.preview():
            store.record_scan(FakeResult([make_finding("PAY-2")], read=["PAY-1", "PAY-2"]), NOW)
        assert len(store.finding_states()) == 1 and len(store.recent_runs("scan")) == 1


def test_postgres_dry_run_on_an_older_store_is_a_clear_error_and_migrates_nothing(postgres, monkeypatch):
    import bot.store.database as module  # where the migrations are applied

    Store(postgres).close()
    def add_table(connection):
        connection.execute(sa.text("CREATE TABLE added_later (x INTEGER)"))

    monkeypatch.setattr(module, "MIGRATIONS", module.MIGRATIONS + [(LATEST_VERSION + 1, "added later", add_table)])
    monkeypatch.setattr(module, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StoreError, match="a dry run does not upgrade it") as error:
        Store.for_dry_run(postgres)
    assert "--apply" in error.value.hint
    assert "added_later" not in table_names(postgres)

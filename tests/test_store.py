"""The state store: migrations, findings lifecycle, outbox, cursors, history, errors.

Every test runs on SQLite; the ``store`` fixture also runs them on PostgreSQL
when GOVBOT_TEST_POSTGRES_URL names a server (see tests/test_store_postgres.py).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.config import load_config
from bot.model import Finding, Issue, Severity, User
from bot.store import (LATEST_VERSION, MIGRATIONS, Store, StoreConfigError, StoreError, metadata, open_store,
                       store_url)
from bot.store.schema import schema_version
from bot.engine.evaluate import Failure
from bot.workspace import Workspace

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
POSTGRES_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL")


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL tests need GOVBOT_TEST_POSTGRES_URL "
                        "(e.g. postgresql+psycopg://govbot:govbot@127.0.0.1:5432/govbot_test)")
        reset_postgres(POSTGRES_URL)
        instance = Store(POSTGRES_URL)
    else:
        instance = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield instance
    instance.close()


def make_finding(issue="PAY-1", rule="anticipated-outcome-missing", evidence="missing", *, waived=False,
                 owner=User(account_id="acc-1", email="a@example.com")):
    return Finding(rule=rule, issue=issue, severity=Severity.ERROR, message=f"{issue} has a problem",
                   title="Title", evidence=evidence, team="payments", owner=owner, summary="Summary",
                   waived=waived, waiver_reason="label govbot-waive-x" if waived else None)


class FakeResult:
    def __init__(self, findings, read, rules=("anticipated-outcome-missing", "other-rule"), failures=()):
        self.findings = list(findings)
        self.workspace = Workspace()
        for key in read:
            self.workspace.add(Issue(key=key))
        self.workspace.source = "test"

        class Rule:
            def __init__(self, rule_id):
                self.id = rule_id

        self.ruleset = type("RuleSet", (), {"active": [Rule(r) for r in rules], "rules": [Rule(r) for r in rules]})()
        self.failures = list(failures)


# -- migrations ----------------------------------------------------------------------------------------

def test_fresh_store_is_migrated_to_the_latest_version(store):
    assert store.schema_version() == LATEST_VERSION
    inspector = sa.inspect(store.engine)
    tables = set(inspector.get_table_names())
    assert {"findings", "deliveries", "waivers", "scan_runs", "cursors", "digest_history", "schema_version"} <= tables


def test_migrated_schema_matches_the_query_tables(store):
    """A migration and the module's table definitions must never drift apart."""
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        reflected = {column["name"] for column in inspector.get_columns(table.name)}
        assert reflected == {column.name for column in table.columns}, table.name


def test_reopening_does_not_migrate_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store(url).close()
    again = Store(url)
    with again.transaction() as connection:
        rows = connection.execute(sa.select(schema_version)).all()
    assert [row.version for row in rows] == [version for version, _, _ in MIGRATIONS]


def test_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with Store(url).transaction() as connection:
        connection.execute(schema_version.insert().values(version=LATEST_VERSION + 1, name="future", applied_at=NOW))
    with pytest.raises(StoreError, match="newer than this govbot"):
        Store(url)


def test_failed_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    import bot.store.database as module  # where the migrations are applied

    def broken(connection):
        connection.execute(sa.text("CREATE TABLE half_done (x INTEGER)"))
        raise sa.exc.OperationalError("boom", {}, Exception("disk I/O error"))

    monkeypatch.setattr(module, "MIGRATIONS", module.MIGRATIONS + [(LATEST_VERSION + 1, "broken", broken)])
    monkeypatch.setattr(module, "LATEST_VERSION", LATEST_VERSION + 1)
    path = tmp_path / "state.db"
    with pytest.raises(StoreError):
        Store(f"sqlite:///{path}")
    tables = {row[0] for row in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert "half_done" not in tables and "findings" not in tables  # the whole migration rolled back


# -- findings lifecycle --------------------------------------------------------------------------------

def test_new_still_open_resolved_and_reopened(store):
    a, b = make_finding("PAY-1"), make_finding("PAY-2")
    summary = store.record_scan(FakeResult([a, b], read=["PAY-1", "PAY-2"]), NOW)
    assert sorted(summary.new) == sorted([a.fingerprint, b.fingerprint])
    summary = store.record_scan(FakeResult([a], read=["PAY-1", "PAY-2"]), NOW + timedelta(days=1))
    assert summary.still_open == [a.fingerprint] and summary.resolved == [b.fingerprint]
    states = store.finding_states()
    assert states[b.fingerprint].resolved_at == NOW + timedelta(days=1)
    assert states[a.fingerprint].first_seen == NOW and states[a.fingerprint].last_seen == NOW + timedelta(days=1)
    store.mark_nudged([(b.fingerprint, 0)], NOW)
    summary = store.record_scan(FakeResult([a, b], read=["PAY-1", "PAY-2"]), NOW + timedelta(days=2))
    assert summary.reopened == [b.fingerprint]
    state = store.finding_states([b.fingerprint])[b.fingerprint]
    assert state.open and state.reopened == 1 and state.nudge_count == 0


def test_findings_resolve_only_for_issues_read_and_rules_evaluated(store):
    a, b = make_finding("PAY-1"), make_finding("PAY-2", rule="other-rule")
    store.record_scan(FakeResult([a, b], read=["PAY-1", "PAY-2"]), NOW)
    # A partial read: PAY-1 was not read this time, so its finding stays open.
    summary = store.record_scan(FakeResult([], read=["PAY-3"]), NOW + timedelta(hours=1))
    assert summary.resolved == []
    # A --rule subset: other-rule was not evaluated, so PAY-2's finding stays open.
    summary = store.record_scan(FakeResult([], read=["PAY-1", "PAY-2"], rules=["anticipated-outcome-missing"]),
                                NOW + timedelta(hours=2))
    assert summary.resolved == [a.fingerprint]
    # A rule that crashed on an issue does not count as "fixed".
    summary = store.record_scan(FakeResult([], read=["PAY-2"], failures=[
        Failure("other-rule", "PAY-2", "KeyError: 'x'")]), NOW + timedelta(hours=3))
    assert summary.resolved == []


def test_evidence_change_is_a_new_finding(store):
    old = make_finding(evidence="placeholder")
    new = make_finding(evidence="missing")
    store.record_scan(FakeResult([old], read=["PAY-1"]), NOW)
    summary = store.record_scan(FakeResult([new], read=["PAY-1"]), NOW + timedelta(days=1))
    assert summary.new == [new.fingerprint] and summary.resolved == [old.fingerprint]


def test_waiver_transitions_are_reported(store):
    plain, waived = make_finding(), make_finding(waived=True)
    assert plain.fingerprint == waived.fingerprint
    summary = store.record_scan(FakeResult([waived], read=["PAY-1"]), NOW)
    assert summary.waiver_started == [waived.fingerprint]
    summary = store.record_scan(FakeResult([plain], read=["PAY-1"]), NOW + timedelta(days=1))
    assert summary.waiver_ended == [plain.fingerprint]
    assert store.finding_states()[plain.fingerprint].waived is False


def test_record_scan_is_all_or_nothing(store, monkeypatch):
    store.record_scan(FakeResult([make_finding("PAY-1")], read=["PAY-1"]), NOW)
    broken = make_finding("PAY-2")
    broken.message = object()  # cannot be stored: fails mid-write, after the run row was written
    with pytest.raises(StoreError):
        store.record_scan(FakeResult([make_finding("PAY-3"), broken], read=["PAY-1", "PAY-2", "PAY-3"]),
                          NOW + timedelta(days=1))
    states = store.finding_states()
    assert [s.issue for s in states.values()] == ["PAY-1"] and all(s.open for s in states.values())
    assert [run["id"] for run in store.recent_runs("scan")] == [1]


# -- outbox ---------------------------------------------------------------------------------------------

def test_outbox_dedupes_and_tracks_status(store):
    args = dict(dedupe_key="slack_dm:abc", kind="slack_dm", recipient="U1", payload={"text": "hi"},
                fingerprints=["f1"], now=NOW, person="acc-1")
    assert store.enqueue(**args) is True
    assert store.enqueue(**args) is False
    (entry,) = store.deliveries(status="queued")
    assert store.claim(entry.id, NOW) is True
    assert store.claim(entry.id, NOW) is False  # someone already has it
    store.finish_delivery(entry.id, "sent", NOW, external_id="123.456", channel="D1")
    entry = store.delivery("slack_dm:abc")
    assert (entry.status, entry.attempts, entry.external_id, entry.channel) == ("sent", 1, "123.456", "D1")
    assert entry.payload == {"text": "hi"} and entry.fingerprints == ["f1"]


def test_nudge_state(store):
    finding = make_finding()
    store.record_scan(FakeResult([finding], read=["PAY-1"]), NOW)
    store.mark_nudged([(finding.fingerprint, 0)], NOW)
    store.mark_escalated([finding.fingerprint], NOW + timedelta(days=30))
    state = store.finding_states()[finding.fingerprint]
    assert (state.nudge_count, state.last_nudged_at, state.escalated_at) == (1, NOW, NOW + timedelta(days=30))


# -- cursors, digest history, snoozes, caches ---------------------------------------------------------------

def test_cursors(store):
    assert store.get_cursor("jira:abc") is None
    store.set_cursor("jira:abc", {"since": "2026-03-31T10:00:00+00:00", "version": 1})
    store.set_cursor("jira:abc", {"since": "2026-03-31T11:00:00+00:00", "version": 1})
    assert store.get_cursor("jira:abc") == {"since": "2026-03-31T11:00:00+00:00", "version": 1}


def test_digest_history(store):
    for week in range(6):
        store.record_digest("payments", date(2026, 2, 2) + timedelta(weeks=week), {"ffr": 50 - week})
    store.record_digest("payments", date(2026, 3, 9), {"ffr": 1.5})  # upsert
    store.record_digest("platform", date(2026, 3, 9), {"ffr": 10})
    history = store.digest_history("payments", until=date(2026, 3, 9), weeks=3)
    assert history == [(date(2026, 2, 23), {"ffr": 47}), (date(2026, 3, 2), {"ffr": 46}),
                       (date(2026, 3, 9), {"ffr": 1.5})]
    assert store.digest_history("payments", until=date(2026, 2, 1), weeks=4) == []


def test_snoozes(store):
    first = store.add_snooze("PAY-1", "anticipated-outcome-missing", reason="waiting for research",
                             until=date(2026, 4, 30), now=NOW, by="alice")
    store.add_snooze("PAY-2", "*", reason="legacy", until=date(2026, 1, 1), now=NOW)
    assert [s.issue for s in store.snoozes(active_on=date(2026, 3, 31))] == ["PAY-1"]
    assert store.revoke_snooze(first, NOW) is True
    assert [s.issue for s in store.snoozes()] == ["PAY-2"]
    with pytest.raises(ValueError):
        store.add_snooze("PAY-3", "x", reason=" ", until=None, now=NOW)


def test_slack_user_cache_and_comment_state(store):
    assert store.cached_slack_user("acc-1") is None
    store.cache_slack_user("acc-1", "a@example.com", "U1", NOW)
    assert store.cached_slack_user("acc-1") == ("U1", NOW, "a@example.com")
    assert store.plan_comment("PAY-1", "hash1", "open", NOW) == 1
    assert store.plan_comment("PAY-1", "hash2", "open", NOW) == 2
    store.comment_written("PAY-1", "10001", NOW)
    state = store.comment_state("PAY-1")
    assert (state.comment_id, state.revision, state.content_hash) == ("10001", 2, "hash2")
    assert store.last_bot_edit("PAY-1") == NOW


# -- URLs and errors ---------------------------------------------------------------------------------------

def test_store_url_resolution(tmp_path):
    config_path = tmp_path / "govbot.yaml"
    config_path.write_text("store: {url: state/govbot.db}\n")
    assert store_url(load_config(config_path, env={})) == f"sqlite:///{tmp_path / 'state/govbot.db'}"
    config_path.write_text("teams: {}\n")
    assert store_url(load_config(config_path, env={})) == f"sqlite:///{tmp_path / 'govbot.db'}"
    env = {"GOVBOT_DATABASE_URL": "postgresql+psycopg://govbot@db/govbot"}
    assert store_url(load_config(config_path, env=env)) == env["GOVBOT_DATABASE_URL"]
    config_path.write_text("store: {url: 'sqlite:///rel.db'}\n")
    assert store_url(load_config(config_path, env=env)) == f"sqlite:///{tmp_path / 'rel.db'}"


def test_dry_run_never_creates_a_database(tmp_path):
    config_path = tmp_path / "govbot.yaml"
    config_path.write_text("teams: {}\n")
    store = open_store(load_config(config_path, env={}), dry_run=True)
    store.record_scan(FakeResult([make_finding()], read=["PAY-1"]), NOW)
    store.close()
    assert not (tmp_path / "govbot.db").exists()


@pytest.mark.parametrize("url, message", [
    ("mysql://x@y/z", "not supported"),
    ("postgresql+nosuchdriver://x@y/z", "Can't load plugin"),
    ("::::", "not a database URL"),
])
def test_bad_urls_are_configuration_errors(url, message):
    with pytest.raises(StoreConfigError, match=message) as error:
        Store(url)
    assert error.value.exit_code == 2


def test_a_driver_that_is_not_installed_names_the_extra_that_brings_it():
    pytest.importorskip("sqlalchemy.dialects.postgresql.pg8000")
    try:
        import pg8000  # noqa: F401
        pytest.skip("pg8000 is installed here")
    except ImportError:
        pass
    with pytest.raises(StoreConfigError, match="the database driver is not installed") as error:
        Store("postgresql+pg8000://govbot@127.0.0.1:5432/govbot")
    assert error.value.exit_code == 2
    assert error.value.hint.startswith("install the pg8000 module, or use a postgresql+psycopg:// URL")


def test_missing_folder_and_not_a_database(tmp_path):
    with pytest.raises(StoreConfigError, match="does not exist") as error:
        Store(f"sqlite:///{tmp_path / 'nope' / 'state.db'}")
    assert error.value.exit_code == 2
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreConfigError, match="not a govbot database"):
        Store(f"sqlite:///{junk}")


def test_locked_database_is_one_clear_error(tmp_path):
    path = tmp_path / "state.db"
    Store(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = Store(f"sqlite:///{path}", busy_timeout=0.1, migrate=False)
        with pytest.raises(StoreError, match="locked by another process") as error:
            store.record_scan(FakeResult([make_finding()], read=["PAY-1"]), NOW)
        assert error.value.exit_code == 3
        assert "Traceback" not in str(error.value)
    finally:
        holder.rollback()
        holder.close()


def test_postgres_unreachable_is_one_clear_error():
    with pytest.raises(StoreError, match="cannot use store") as error:
        Store("postgresql+psycopg://govbot:secret@127.0.0.1:9/govbot", busy_timeout=1)
    assert error.value.exit_code == 3
    assert "secret" not in str(error.value)


def test_run_lock_is_exclusive(tmp_path):
    first = Store(f"sqlite:///{tmp_path / 'state.db'}")
    second = Store(f"sqlite:///{tmp_path / 'state.db'}")
    with first.run_lock("deliver"):
        with pytest.raises(StoreError, match="in progress"):
            with second.run_lock("deliver"):
                pass
    with second.run_lock("deliver"):
        pass


def test_deferred_cursors_are_saved_only_on_commit(store):
    from bot.store import DeferredCursors

    store.set_cursor("jira:x", {"since": "old"})
    deferred = DeferredCursors(store)
    deferred.set_cursor("jira:x", {"since": "new"})
    assert deferred.get_cursor("jira:x") == {"since": "new"} and store.get_cursor("jira:x") == {"since": "old"}
    deferred.commit()
    assert store.get_cursor("jira:x") == {"since": "new"}


def test_a_claim_is_taken_once_by_whichever_process_comes_first(store):
    # Two replicas share one store: the second claim of a key fails, whoever makes it.
    other = Store(store.url)
    try:
        assert store.claim_once("slack-view:V1", NOW) is True
        assert other.claim_once("slack-view:V1", NOW) is False
        assert store.claim_once("slack-view:V1", NOW) is False
        assert other.claim_once("slack-view:V2", NOW) is True
        # Claims are kept a month (far beyond any redelivery), then make room.
        later = NOW + timedelta(days=31)
        assert other.claim_once("slack-view:V3", later) is True
        assert store.claim_once("slack-view:V1", later) is True
    finally:
        other.close()

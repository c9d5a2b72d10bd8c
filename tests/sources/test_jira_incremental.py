"""Incremental scans: a cursor per scope, changes since it (with overlap), relatives re-evaluated."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.sources.cursors import JsonCursorStore, MemoryCursorStore, cursor_key
from bot.sources.jira import load_workspace_from_jira
from bot.sources.jql import scope_jql
from fakejira import FakeJira, cloud_issue, make_config, make_source, mock

T1 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
OLD = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Rules:
    needs_relatives = True

    def __init__(self, fields=("Anticipated Outcome",)):
        self.fields = set(fields)

    def fields_needed(self, config):
        return self.fields


def site() -> list[dict]:
    return [
        cloud_issue("INIT-1", "Initiative", updated=OLD),
        cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative", updated=OLD),
        cloud_issue("PAY-2", "Story", parent="PAY-1", updated=OLD),
        cloud_issue("PAY-3", "Story", parent="PAY-1", updated=OLD),
        cloud_issue("PAY-4", "Story", updated=OLD),
    ]


def touch(fake: FakeJira, key: str, when: datetime) -> None:
    fake.issues[key]["fields"]["updated"] = when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def run(fake, store, now, *, jira=None, full=False, rules=None, time_zone="UTC"):
    config = make_config(jira or {"projects": ["PAY"]})
    fake.time_zone = time_zone
    fake.now = now  # Jira's clock, for the rescan's relative date
    return load_workspace_from_jira(config, rules or Rules(), full=full, cursor_store=store,
                                    source=make_source(config, now=now)), config


def edited_after_a_full_read(fake, store, *keys: str, at: datetime = T1 + timedelta(minutes=5), **options) -> None:
    """A full read at T1, then ``keys`` edited in Jira ``at``; the calls so far are forgotten."""
    run(fake, store, T1, **options)
    for key in keys:
        touch(fake, key, at)
    fake.calls.clear()


def test_first_run_is_full_and_leaves_a_cursor_named_after_the_scope():
    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        workspace, config = run(fake, store, T1)
    assert set(workspace.issues) == {"PAY-1", "PAY-2", "PAY-3", "PAY-4"}
    assert fake.searches()[0]["params"]["jql"] == "project = PAY"
    key = cursor_key("https://example.atlassian.net", scope_jql(config))
    cursor = store.get_cursor(key)
    assert cursor["since"] == T1.isoformat() and cursor["full_at"] == T1.isoformat()
    assert cursor["jql"] == "project = PAY" and cursor["issues"] == 4


def test_next_run_reads_changes_since_the_cursor_and_re_evaluates_the_parent():
    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        edited_after_a_full_read(fake, store, "PAY-2", at=T1 + timedelta(minutes=30))
        workspace, _ = run(fake, store, T1 + timedelta(hours=1), time_zone="Europe/Berlin")
    # Back to 10 minutes before the cursor (the overlap), and the overlap once more for a late
    # answer: 80 minutes before Jira's own clock, whatever the user's time zone.
    assert fake.searches()[0]["params"]["jql"] == '(project = PAY) AND updated >= "-80m"'
    assert set(workspace.issues) == {"PAY-2", "PAY-1"}  # the change and its parent, re-evaluated
    assert {"PAY-3", "INIT-1"} <= set(workspace.relatives)  # context, not evaluated
    assert not workspace.relatives["INIT-1"].stub
    assert store.get_cursor(next(iter(store.cursors)))["since"] == (T1 + timedelta(hours=1)).isoformat()


def test_a_changed_parent_brings_its_children_back_for_evaluation():
    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        edited_after_a_full_read(fake, store, "PAY-1")
        workspace, _ = run(fake, store, T1 + timedelta(hours=2))
    assert set(workspace.issues) == {"PAY-1", "PAY-2", "PAY-3"}


def test_with_a_jql_scope_relatives_are_promoted_only_when_jira_says_they_are_in_it():
    store = MemoryCursorStore()
    jira = {"jql": "project = PAY AND type != Story"}
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        edited_after_a_full_read(fake, store, "PAY-2", "PAY-1", jira=jira)
        workspace, _ = run(fake, store, T1 + timedelta(hours=2), jira=jira)
    assert set(workspace.issues) == {"PAY-1"}  # stories are outside this scope
    membership = [s for s in fake.searches() if "key in" in s["params"]["jql"]]
    assert membership[0]["params"]["jql"].startswith("(project = PAY AND type != Story) AND key in (")


def test_full_flag_interval_and_changed_fields_each_force_a_full_read():
    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        run(fake, store, T1)
        for kwargs, expect_full in [({"full": True}, True), ({}, False),
                                    ({"rules": Rules({"Anticipated Outcome", "Actual Outcome"})}, True)]:
            fake.calls.clear()
            run(fake, store, T1 + timedelta(hours=1), **kwargs)
            assert ("updated >=" not in fake.searches()[0]["params"]["jql"]) == expect_full, kwargs
        fake.calls.clear()
        run(fake, store, T1 + timedelta(days=2), rules=Rules({"Anticipated Outcome", "Actual Outcome"}))
        assert "updated >=" not in fake.searches()[0]["params"]["jql"]  # jira.full_rescan_every: 1d


def test_an_incomplete_read_does_not_move_the_cursor():
    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(site(), page_cap=2).install(rsps)
        run(fake, store, T1)
        before = dict(store.cursors)
        for call in range(1, 20):
            fake.fail("/rest/api/3/search/jql", fake.counts["/rest/api/3/search/jql"] + 1 + call, status=500)
        workspace, _ = run(fake, store, T1 + timedelta(hours=1), full=True)
    assert not workspace.complete and store.cursors == before


def test_json_cursor_store_survives_a_restart(tmp_path):
    path = tmp_path / "state" / "cursors.json"
    JsonCursorStore(path).set_cursor("jira:abc", {"since": "2026-03-01T12:00:00+00:00"})
    assert JsonCursorStore(path).get_cursor("jira:abc") == {"since": "2026-03-01T12:00:00+00:00"}
    assert JsonCursorStore(path).get_cursor("jira:other") is None
    path.write_text("{not json")
    assert JsonCursorStore(path).get_cursor("jira:abc") is None  # a damaged file costs one full scan


def test_cursor_keys_differ_by_scope_and_site_but_not_by_spacing():
    assert cursor_key("https://a.example", "project = PAY") == cursor_key("https://a.example/", "project  =  PAY")
    assert cursor_key("https://a.example", "project = PAY") != cursor_key("https://a.example", "project = MOB")
    assert cursor_key("https://a.example", "project = PAY") != cursor_key("https://b.example", "project = PAY")


def test_the_store_keeps_cursors_across_runs(tmp_path):
    store_module = __import__("bot.store", fromlist=["Store"])
    store = store_module.Store(f"sqlite:///{tmp_path / 'govbot.db'}")
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        edited_after_a_full_read(fake, store, "PAY-4")
        workspace, _ = run(fake, store_module.Store(f"sqlite:///{tmp_path / 'govbot.db'}"), T1 + timedelta(hours=1))
    assert "updated >=" in fake.searches()[0]["params"]["jql"]
    assert set(workspace.issues) == {"PAY-4"}


def test_a_rescan_does_not_ask_the_site_again_what_the_full_read_learned():
    """Server info and the field list: remembered by the full read, reused until the next one.
    The user's time zone is not asked at all: a rescan's bound is a relative date."""
    store = MemoryCursorStore()
    setup = ("/rest/api/2/serverInfo", "/rest/api/2/field")
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        run(fake, store, T1, jira={"projects": ["PAY"], "deployment": "auto"})
        assert all(fake.calls_to(path) for path in setup)
        touch(fake, "PAY-4", T1 + timedelta(minutes=5))
        fake.calls.clear()
        workspace, _ = run(fake, store, T1 + timedelta(hours=1), time_zone="Europe/Berlin")
        assert set(workspace.issues) == {"PAY-4"}
        assert not any(fake.calls_to(path) for path in setup)
        assert not fake.calls_to("/rest/api/2/myself")
        assert 'updated >= "-80m"' in fake.searches()[0]["params"]["jql"]
        fake.calls.clear()
        run(fake, store, T1 + timedelta(days=2))  # past full_rescan_every (1d): a full read asks afresh
        assert all(fake.calls_to(path) for path in setup)


def test_a_rescan_judges_orphan_stories_by_what_the_last_whole_read_knew(tmp_path, monkeypatch):
    """A rescan reads only what changed, so whether the project uses epics is not in it. It is kept with
    the cursor: a story that loses its epic is an orphan on the next rescan, as a whole read would say
    (before, the rule gave no verdict on a rescan, and a dry run and --apply disagreed)."""
    from bot.engine import load_rules
    from bot.runs.batch import build_batch
    from bot.runs.inputs import Inputs, Read
    from bot.sources.jira import JiraSource
    from bot.store import Store
    from bot.store.cursors import DeferredCursors

    store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
    moment = [T1]
    monkeypatch.setattr(JiraSource, "from_config", classmethod(lambda cls, config, **_: make_source(
        config, now=moment[0])))
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        config = make_config({"projects": ["PAY"]})
        inputs = Inputs(config, load_rules(None, config))

        def run_at(now):
            moment[0] = fake.now = now
            cursors = DeferredCursors(store)
            batch = build_batch(inputs, now, read=Read(cursors=cursors))
            cursors.commit()
            return batch, {(f.issue, f.rule) for f in batch.findings}

        del fake.issues["PAY-4"]  # no orphan at first: the whole read still keeps what it knows
        whole, found = run_at(T1)
        assert not whole.workspace.partial and not {rule for _, rule in found} & {"work-hierarchy-story-without-epic"}
        del fake.issues["PAY-3"]["fields"]["parent"]
        touch(fake, "PAY-3", T1 + timedelta(minutes=5))
        rescan, found = run_at(T1 + timedelta(hours=1))
        assert rescan.workspace.partial and "PAY-1" not in rescan.workspace.issues  # the epic was not re-read
        assert ("PAY-3", "work-hierarchy-story-without-epic") in found
        assert "work-hierarchy-story-without-epic" not in {rule for rule, _ in rescan.unjudged}
        # A second rescan (nothing about epics in it either) still knows, and still judges.
        del fake.issues["PAY-2"]["fields"]["parent"]
        touch(fake, "PAY-2", T1 + timedelta(hours=1, minutes=5))
        again, found = run_at(T1 + timedelta(hours=2))
    assert ("PAY-2", "work-hierarchy-story-without-epic") in found and again.workspace.partial
    key = cursor_key("https://example.atlassian.net", scope_jql(config))
    assert store.get_cursor(key)["projects_at"] == {"epic": ["INIT", "PAY"]}  # INIT: the initiative, a relative


def test_a_check_of_one_story_judges_it_as_the_scheduled_reads_would(monkeypatch):
    """`govbot check PAY-4` reads one story: whether PAY plans with epics comes from the cursor the
    scheduled reads keep (read without a write lock or a copy of the store), as a rescan's does."""
    from bot.engine import load_rules
    from bot.runs.batch import build_batch
    from bot.runs.check import check_issues
    from bot.runs.inputs import Inputs, Read
    from bot.sources.jira import JiraSource
    from bot.store import Store, store_url
    from bot.store.cursors import DeferredCursors

    monkeypatch.setattr(JiraSource, "from_config", classmethod(lambda cls, config, **_: make_source(config, now=T1)))
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        fake.now = T1
        config = make_config({"projects": ["PAY"]})
        inputs = Inputs(config, load_rules(None, config))
        before = check_issues(inputs, ["PAY-4"], T1)  # no store yet: no verdict, as before
        assert not before.batch.findings
        assert "work-hierarchy-story-without-epic" in {rule for rule, _ in before.batch.unjudged}
        store = Store(store_url(config))
        cursors = DeferredCursors(store)
        build_batch(inputs, T1, read=Read(cursors=cursors))  # the scheduled whole read
        cursors.commit()
        store.close()
        after = check_issues(inputs, ["PAY-4"], T1)
    assert after.batch.workspace.partial
    assert [(f.issue, f.rule) for f in after.batch.findings] == [("PAY-4", "work-hierarchy-story-without-epic")]

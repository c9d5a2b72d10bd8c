"""Rescans take relatives from the store's issue cache, and give exactly the findings of a full read.

Against the loopback emulator (``tests/fakes/jira_server.py``, the real Cloud and Data Center
APIs) with generated sites: a full read through a store writes the cache with the cursor; edits
(a summary, a re-parented story, a parent edited out of the scope) are then read by a rescan
with the cache, by one without it, and by a full read, and their findings compared.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.engine.evaluate import evaluate
from bot.sources.cursors import JsonCursorStore, MemoryCursorStore
from bot.store import DeferredCursors, Store
from helpers import CHILDLESS, emulator_source, rules_from
from tests.fakes.jira_server import Faults, JiraEmulator
from tools.synth import generate

SCOPE_JQL = "status != Frozen"  # with projects: a parent can be edited out of the scope
NOW = datetime.now(timezone.utc)
_SITES: dict[str, list[dict]] = {}


def site(flavour: str) -> list[dict]:
    if flavour not in _SITES:
        _SITES[flavour] = generate(400, flavour, seed=8)
    return copy.deepcopy(_SITES[flavour])


def source_for(emulator: JiraEmulator, tmp_path, **options):
    """A source for the scope these tests edit a parent out of (``SCOPE_JQL``)."""
    return emulator_source(emulator, tmp_path, jql=SCOPE_JQL, **options)


def findings(workspace, rules, config, keys) -> set[tuple]:
    result = evaluate(workspace, rules.active, config, NOW)
    return {(f.rule, f.issue, f.severity, f.message, f.evidence, f.owner, f.team) for f in result.findings
            if f.issue in keys and f.issues is None}


def parent_field(flavour: str, fields: dict) -> str | None:
    if flavour == "cloud":
        return "parent" if isinstance(fields.get("parent"), dict) else None
    return "customfield_10100" if isinstance(fields.get("customfield_10100"), str) else None


def edit(emulator: JiraEmulator, flavour: str) -> dict[str, str]:
    """A few edits as Jira would stamp them; returns what was done to which key."""
    issues = emulator.store.by_key
    rng = random.Random(4)
    done: dict[str, str] = {}
    stories = sorted(k for k, i in issues.items() if parent_field(flavour, i["fields"]))
    story, moved = rng.sample(stories, 2)
    done[story] = "summary"  # its parent epic comes from the cache
    # A story moved under another epic: its old epic loses a child.
    old = issues[moved]["fields"][parent_field(flavour, issues[moved]["fields"])]
    old_key = old["key"] if isinstance(old, dict) else old
    other = next(k for k in stories if k != moved and _parent_of(flavour, issues[k]) not in (old_key, None)
                 and _parent_of(flavour, issues[k]) != _parent_of(flavour, issues[moved]))
    if flavour == "cloud":
        issues[moved]["fields"]["parent"] = copy.deepcopy(issues[other]["fields"]["parent"])
    else:
        issues[moved]["fields"]["customfield_10100"] = issues[other]["fields"]["customfield_10100"]
    done[moved] = f"moved from {old_key}"
    # A story whose epic was edited out of the scope: the cached epic must not be used.
    third = next(k for k in stories if k not in done and _parent_of(flavour, issues[k]) not in
                 {_parent_of(flavour, issues[s]) for s in done} | {old_key})
    epic = _parent_of(flavour, issues[third])
    issues[epic]["fields"]["status"] = {**issues[epic]["fields"]["status"], "name": "Frozen"}
    done[third] = "summary"
    done[epic] = "frozen"
    for key in rng.sample(sorted(issues), 5):
        done.setdefault(key, "summary")
    emulator.touch(sorted(done), when=emulator.store.now())
    return done


def _parent_of(flavour: str, issue: dict) -> str | None:
    name = parent_field(flavour, issue["fields"])
    value = issue["fields"].get(name) if name else None
    return value["key"] if isinstance(value, dict) else value


def cursors_of(store: Store) -> MemoryCursorStore:
    """The same cursors in memory: a rescan that has no cache to use."""
    memory = MemoryCursorStore()
    with store.transaction() as connection:
        for scope, value in connection.execute(sa.text("SELECT scope, value FROM cursors")).all():
            memory.cursors[scope] = value if isinstance(value, dict) else __import__("json").loads(value)
    return memory


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_a_rescan_from_the_cache_finds_exactly_what_a_full_read_finds(flavour, tmp_path):
    with JiraEmulator(site(flavour), flavour=flavour, lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, config = source_for(emulator, tmp_path)
        first = source.load(rules, cursor_store=store)
        assert first.complete and store.cached_count() == len(first.issues) > 300
        without_cache = cursors_of(store)
        done = edit(emulator, flavour)

        emulator.reset_stats()
        cached = source_for(emulator, tmp_path)[0].load(rules, cursor_store=store)
        with_cache_stats = emulator.stats()
        emulator.reset_stats()
        live = source_for(emulator, tmp_path)[0].load(rules, cursor_store=without_cache)
        live_stats = emulator.stats()
        whole = source_for(emulator, tmp_path)[0].load(rules)

    frozen = next(k for k, what in done.items() if what == "frozen")
    assert cached.complete and cached.partial
    assert set(cached.issues) == set(live.issues)
    assert {k for k, what in done.items() if what != "frozen"} <= set(cached.issues)
    assert frozen not in cached.issues and frozen not in whole.issues
    assert cached.relatives[frozen].status == "Frozen"  # read live: the cached copy is out of date
    keys = set(cached.issues)
    assert findings(cached, rules, config, keys) == findings(whole, rules, config, keys)
    assert findings(live, rules, config, keys) == findings(whole, rules, config, keys)
    for key in keys:  # the same links and context as a full read
        assert cached.issues[key].parent_key == whole.issues[key].parent_key
    assert with_cache_stats["requests"] < live_stats["requests"]
    # The rescan rewrote what it read: the moved story's new parent is in the cache.
    moved = next(k for k, what in done.items() if what.startswith("moved"))
    assert store.cached_hierarchy(next(s for s in without_cache.cursors if s.startswith("jira:")))[moved][0] \
        == cached.issues[moved].parent_key
    store.close()


def test_the_cursor_moves_only_with_the_cache_and_the_full_rescan_replaces_it(tmp_path):
    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        deferred = DeferredCursors(store)
        source, rules, _config = source_for(emulator, tmp_path)
        source.load(rules, cursor_store=deferred)
        assert store.cached_count() == 0 and store.get_cursor(next(iter(deferred.pending))) is None
        deferred.commit()  # the run's state is recorded: cursor and cache together
        count = store.cached_count()
        assert count > 300
        # An incomplete rescan writes neither.
        edit(emulator, "cloud")
        scope, = _scopes(store)
        before = store.get_cursor(scope)
        hierarchy = store.cached_hierarchy(scope)
        # The rescan's own search is answered, the check of the cached relatives is not.
        emulator.set_faults(Faults(outage_after=1, paths=("/rest/api/3/search/jql",)))
        broken = source_for(emulator, tmp_path, max_retries=0)[0].load(rules, cursor_store=store)
        assert not broken.complete and store.get_cursor(scope) == before
        assert store.cached_hierarchy(scope) == hierarchy
        emulator.set_faults(Faults())
        # The full read replaces the cache: an issue gone from the scope is gone from it too.
        frozen = next(iter(emulator.store.by_key))
        emulator.store.by_key[frozen]["fields"]["status"]["name"] = "Frozen"
        emulator.touch([frozen], when=emulator.store.now())
        full = source_for(emulator, tmp_path)[0].load(rules, cursor_store=store, full=True)
        assert frozen not in store.cached_hierarchy(scope)
        assert set(store.cached_hierarchy(scope)) == set(full.issues) and len(full.issues) < count
        store.close()


def _scopes(store: Store) -> list[str]:
    with store.transaction() as connection:
        return [row[0] for row in connection.execute(sa.text("SELECT scope FROM cursors WHERE scope LIKE 'jira:%'"))]


def test_a_cache_written_for_other_fields_or_config_is_not_used(tmp_path):
    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, _config = source_for(emulator, tmp_path)
        source.load(rules, cursor_store=store)
        edit(emulator, "cloud")
        source, rules, _config = source_for(emulator, tmp_path, concurrency=2)
        assert source.load(rules, cursor_store=store).complete
        scope, = _scopes(store)
        assert "cache" in store.get_cursor(scope)  # the same fields and configuration: used and kept
        # Other field names configured: parent keys and levels may differ, so the cache is ignored.
        source, rules, _config = source_for(emulator, tmp_path, concurrency=2, settings={
            "fields": {"Anticipated Outcome": ["Anticipated Outcome", "Expected Outcome"]}})
        emulator.touch(sorted(emulator.store.by_key)[:3], when=emulator.store.now())
        emulator.reset_stats()
        changed = source.load(rules, cursor_store=store)
        assert changed.complete and changed.partial
        scope, = _scopes(store)
        assert "cache" not in store.get_cursor(scope)  # not used, not updated: the next full read replaces it
        store.close()


def test_without_a_store_a_rescan_reads_as_before(tmp_path):
    """A cursor file (the plain CLI) keeps no cache: relatives are read live."""
    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        cursors = JsonCursorStore(tmp_path / "cursors.json")
        source, rules, _config = source_for(emulator, tmp_path)
        source.load(rules, cursor_store=cursors)
        assert "cache" not in next(v for k, v in cursors._load().items() if k.startswith("jira:"))
        edit(emulator, "cloud")
        changed = source_for(emulator, tmp_path)[0].load(rules, cursor_store=cursors)
        assert changed.complete and changed.partial


def test_a_story_moved_to_another_epic_has_its_old_epic_judged_again(tmp_path):
    """With a rule that reads children, the old parent's verdict changes when its child leaves:
    the cache knows the old parent, so the rescan re-evaluates it, as a full read would."""
    from datetime import timedelta

    from fakejira import FakeJira, cloud_issue, make_config, make_source, mock

    t1 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    old = datetime(2026, 1, 1, tzinfo=timezone.utc)
    issues = [cloud_issue("PAY-1", "Epic", updated=old), cloud_issue("PAY-2", "Epic", updated=old),
              cloud_issue("PAY-3", "Story", parent="PAY-1", updated=old),
              cloud_issue("PAY-4", "Story", parent="PAY-2", updated=old)]
    config = make_config({"projects": ["PAY"]})
    ruleset = rules_from(tmp_path, CHILDLESS, config)
    store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
    with mock() as rsps:
        fake = FakeJira(issues).install(rsps)
        fake.now = t1
        first = make_source(config, now=t1)
        assert not evaluate(first.load(ruleset, cursor_store=store), ruleset.active, config, t1).findings
        later = t1 + timedelta(hours=1)
        fake.issues["PAY-3"]["fields"]["parent"] = copy.deepcopy(fake.issues["PAY-4"]["fields"]["parent"])
        fake.issues["PAY-3"]["fields"]["updated"] = (t1 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        fake.now = later
        rescan = make_source(config, now=later).load(ruleset, cursor_store=store)
        whole = make_source(config, now=later).load(ruleset)
    assert "PAY-1" in rescan.issues and rescan.partial
    found = {(f.rule, f.issue) for f in evaluate(rescan, ruleset.active, config, later).findings}
    assert found == {(f.rule, f.issue) for f in evaluate(whole, ruleset.active, config, later).findings} \
        == {("epic-childless", "PAY-1")}
    store.close()


def test_deferred_cursors_save_the_cache_with_its_cursor_in_one_transaction(tmp_path):
    from bot.sources.issue_cache import CacheWrite, pack, unpack

    store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
    deferred = DeferredCursors(store)
    raw = {"id": "1", "key": "PAY-1", "fields": {"summary": "s", "assignee": {
        "accountId": "a1", "displayName": "Ada", "avatarUrls": {"48x48": "https://x"}}, "duedate": None}}
    deferred.save_read("jira:x", {"since": "t1"}, CacheWrite(True, [("PAY-1", "PAY-0", "story", None, pack(raw))]))
    assert store.get_cursor("jira:x") is None and store.cached_count() == 0  # nothing before commit
    deferred.commit()
    assert store.get_cursor("jira:x") == {"since": "t1"}
    assert deferred.cached_links("jira:x", ["PAY-1"]) == {"PAY-1": ("PAY-0", "story")}
    assert deferred.cached_links("jira:x", parents=["PAY-0"]) == {"PAY-1": ("PAY-0", "story")}
    # Users keep what the normalizer reads of them; nulls are dropped.
    assert unpack(store.cached_raws("jira:x", ["PAY-1"])["PAY-1"]) == {
        "id": "1", "key": "PAY-1", "fields": {"summary": "s", "assignee": {"accountId": "a1", "displayName": "Ada"}}}
    # A rescan's write: rows it read are rewritten, forgotten ones go, the rest stay.
    deferred.save_read("jira:x", {"since": "t2"}, CacheWrite(False, [("PAY-2", None, "epic", None, pack(raw))],
                                                             forget={"PAY-1"}))
    deferred.commit()
    assert set(store.cached_hierarchy("jira:x")) == {"PAY-2"} and store.get_cursor("jira:x") == {"since": "t2"}
    store.close()


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_relatives_from_a_cache_a_full_read_wrote_without_owners_get_their_owners(flavour, tmp_path):
    """A full read leaves the owner fields for later (bot/sources/owners.py), so the cache it writes
    has none. A rescan that judges a cached relative again (a story whose epic changed) must name
    the story's owner as a full read does, not leave its finding without one."""
    from bot.runs.owners import complete_owners

    with JiraEmulator(site(flavour), flavour=flavour, lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, config = source_for(emulator, tmp_path)
        first = source.load(rules, cursor_store=store, defer_owners=True)
        assert first.late_owners is not None
        before = evaluate(first, rules.active, config, NOW)
        complete_owners(first, before, config)  # reads the owners, then writes the cursor and the cache
        assert store.cached_count() == len(first.issues) > 300
        # Stories with an owned finding: their epics are edited, the stories are not (they are
        # judged again because an ancestor changed, from the cache).
        owned = {f.issue for f in before.findings if f.owner and f.issues is None}
        parents = {issue.parent_key for issue in first.issues.values()}
        stories = {issue.key for issue in first.issues.values()
                   if issue.key in owned and issue.key not in parents and issue.parent_key in first.issues}
        epics = sorted({first.issues[key].parent_key for key in stories})[:3]
        assert epics, "the generated site has no story with an owned finding under an epic in scope"
        stories = {key for key in stories if first.issues[key].parent_key in epics}
        emulator.touch(epics, when=emulator.store.now())
        cached = source_for(emulator, tmp_path)[0].load(rules, cursor_store=store, defer_owners=True)
        evaluation = evaluate(cached, rules.active, config, NOW)
        complete_owners(cached, evaluation, config)
        whole = source_for(emulator, tmp_path)[0].load(rules)

    judged = stories & set(cached.issues)  # judged again, not read: their epics changed, they did not
    assert cached.complete and judged
    keys = set(cached.issues)
    got = {(f.rule, f.issue, f.owner) for f in evaluation.findings if f.issue in keys and f.issues is None}
    want = {(f.rule, f.issue, f.owner) for f in evaluate(whole, rules.active, config, NOW).findings
            if f.issue in keys and f.issues is None}
    assert got == want
    assert {issue for _rule, issue, owner in got if owner} >= judged
    store.close()


def test_a_cloud_rescan_reads_its_changes_relatives_and_their_owners_in_two_round_trips(tmp_path, monkeypatch):
    """More changes than a page of 100: their ids are listed, then their fields, the confirmation of
    their cached relatives and those relatives' owners are read side by side; nothing waits for the
    rules (paging the changes, then confirming, then reading owners: four round trips one after another)."""
    import threading
    import time

    from bot.runs.owners import complete_owners
    from bot.sources.http import Transport

    latency = 0.3
    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, config = source_for(emulator, tmp_path)
        first = source.load(rules, cursor_store=store, defer_owners=True)
        complete_owners(first, evaluate(first, rules.active, config, NOW), config)
        edited = sorted(first.issues)[::2][:150]
        emulator.touch(edited, when=emulator.store.now())
        emulator.latency = latency
        spans: list[tuple[float, float]] = []
        lock = threading.Lock()
        request = Transport.request

        def timed(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return request(self, *args, **kwargs)
            finally:
                with lock:
                    spans.append((started, time.perf_counter()))

        monkeypatch.setattr(Transport, "request", timed)
        rescan = source_for(emulator, tmp_path)[0]
        cached = rescan.load(rules, cursor_store=store, defer_owners=True)
        evaluation = evaluate(cached, rules.active, config, NOW)
        asked = len(spans)
        complete_owners(cached, evaluation, config)

    assert cached.complete and set(edited) <= set(cached.issues) and len(cached.issues) > len(edited)
    assert len(spans) == asked  # the owners of the cached relatives it judges were read already
    waves, wave_end = 0, 0.0
    for started, ended in sorted(spans):
        # Began once every request before it was answered (a request that waits for another starts after it
        # ends; a worker started late within a wave does not, however late).
        if started >= wave_end - 0.02:
            waves += 1
        wave_end = max(wave_end, ended)
    assert waves == 2, sorted(spans)
    store.close()


def test_a_cloud_rescan_whose_changed_issues_cannot_be_read_moves_neither_cursor_nor_cache(tmp_path):
    """The changes are listed by id, then read by bulkfetch: when none can be read, the rescan fails as a
    search that reads nothing does, and its cursor and the issue cache stay where they were."""
    from bot.errors import NetworkError

    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, _config = source_for(emulator, tmp_path)
        source.load(rules, cursor_store=store)
        scope, = _scopes(store)
        before, hierarchy = store.get_cursor(scope), store.cached_hierarchy(scope)
        edit(emulator, "cloud")
        emulator.set_faults(Faults(outage_after=0, paths=("/rest/api/3/issue/bulkfetch",)))
        with pytest.raises(NetworkError):
            source_for(emulator, tmp_path, max_retries=0)[0].load(rules, cursor_store=store)
        assert store.get_cursor(scope) == before and store.cached_hierarchy(scope) == hierarchy
        emulator.set_faults(Faults())
        again = source_for(emulator, tmp_path)[0].load(rules, cursor_store=store)
        assert again.complete and again.partial and store.get_cursor(scope) != before
        store.close()


def test_a_cloud_site_that_refuses_a_long_list_of_keys_is_asked_in_shorter_ones(tmp_path, monkeypatch):
    """A Cloud rescan confirms its cached relatives 1,000 keys a POSTed search. No limit on a list of keys
    is documented, so that is a bet: a site that refuses the list (a 400 that names no key) is asked again
    ``SHORT_KEY_LIST`` keys at a time, and the rescan finds what a full read finds (before, the refusal
    failed the rescan as a rejected scope query, on every rescan)."""
    import bot.sources.jira as jira
    import bot.sources.rescan as rescan

    monkeypatch.setattr(jira, "SHORT_KEY_LIST", 40)
    monkeypatch.setattr(rescan, "SHORT_KEY_LIST", 40)
    with JiraEmulator(site("cloud"), flavour="cloud", lifetime=120) as emulator:
        store = Store(f"sqlite:///{tmp_path / 'govbot.db'}")
        source, rules, config = source_for(emulator, tmp_path)
        first = source.load(rules, cursor_store=store)
        done = edit(emulator, "cloud")
        emulator.touch(sorted(first.issues)[::2][:150], when=emulator.store.now())
        whole = source_for(emulator, tmp_path)[0].load(rules)
        emulator.store.max_key_list = 100  # the other key lists (100 keys a search) still pass
        refusing = source_for(emulator, tmp_path)[0]
        cached = refusing.load(rules, cursor_store=store)

    assert not refusing.long_key_lists  # refused, and asked again in shorter lists
    assert cached.complete and cached.partial and cached.problems == []
    keys = set(cached.issues)
    assert {k for k, what in done.items() if what != "frozen"} <= keys
    assert findings(cached, rules, config, keys) == findings(whole, rules, config, keys)
    assert len(keys) > 150
    store.close()

"""Unknown shapes of the fields issue 10 reads never crash; partial reads never resolve what they cannot judge."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from bot.config import load_config
from bot.engine import load_rules
from tests.batches import scan
from bot.sources.normalize import Normalizer
from bot.store import Store

CONFIG = load_config(None, search=False)
RULES = load_rules(None, CONFIG)
NOW = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)

ODD = [None, "", "x", 7, 1.5, True, [], [None], {}, {"name": None}, {"name": 5}, {"key": "NOT A KEY"},
       {"id": {"deep": 1}}, "PAY-1", {"key": "PAY-1"}, {"id": 37}, {"data": {"key": "PAY-1"}}]


@pytest.mark.parametrize("issuetype, status, epic", list(itertools.product(
    [None, "Story", {"name": "故事", "hierarchyLevel": "0"}, {"id": 10000}, {"name": "X", "hierarchyLevel": True},
     {"name": "Y", "subtask": "yes", "untranslatedName": ["Story"]}, {"untranslatedName": "Epic"}],
    [None, "Done", {"name": "Fertig"}, {"statusCategory": "done"}, {"id": 6}, {"statusCategory": {"key": 3}}],
    ODD[:9] + ODD[13:])))
def test_odd_shapes_are_read_as_far_as_possible(issuetype, status, epic):
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [
        {"key": "PAY-1", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}},
        {"key": "PAY-2", "id": 2, "fields": {"issuetype": issuetype, "status": status, "epic": epic,
                                             "customfield_1": epic, "resolution": epic, "statuscategorychangedate": epic,
                                             "parent": epic if isinstance(epic, dict) else None}}]})
    workspace = normalizer.finish()
    result = scan(workspace, RULES, CONFIG, NOW)
    assert not [p for p in result.problems if "could not be evaluated" in p]
    result.to_json()


def test_a_system_status_without_a_category_is_read_by_its_id():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [{"key": "A-1", "fields": {"status": {"id": "6", "name": "Geschlossen"}}},
                                    {"key": "A-2", "fields": {"status": {"name": "Open"}}}]})
    workspace = normalizer.finish()
    assert workspace.issues["A-1"].status_category == "done" and workspace.issues["A-2"].status_category == "new"


def test_a_partial_read_resolves_no_site_setup_finding_and_judges_no_project_fact(tmp_path):
    def issues(*keys):
        raw = [{"key": "OPS-1", "fields": {"issuetype": {"name": "Chore", "id": "77"}, "project": {"key": "OPS"},
                                           "status": {"name": "Open", "statusCategory": {"key": "new"}}}},
               {"key": "OPS-2", "fields": {"issuetype": {"name": "Story", "id": "1"}, "project": {"key": "OPS"},
                                           "status": {"name": "Open", "statusCategory": {"key": "new"}}}}]
        return [item for item in raw if item["key"] in keys]

    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    full = Normalizer(CONFIG)
    full.add_issues(issues("OPS-1", "OPS-2"))
    first = scan(full.finish(), RULES, CONFIG, NOW)
    rules = {f.rule for f in first.findings}
    assert {"work-hierarchy-unmapped-type", "work-hierarchy-project-without-epics"} <= rules
    store.record_scan(first, NOW)
    # Changes since the last run: OPS-1 and OPS-2 changed, nothing else read.
    partial = Normalizer(CONFIG)
    partial.add_issues(issues("OPS-1", "OPS-2"))
    workspace = partial.finish()
    workspace.partial = True
    second = scan(workspace, RULES, CONFIG, NOW)
    assert not any(f.site_setup for f in second.findings)
    assert ("work-hierarchy-story-without-epic", "OPS-2") in second.unjudged
    summary = store.record_scan(second, NOW)
    assert summary.resolved == []
    open_rules = {state.rule for state in store.finding_states(open_only=True).values()}
    assert {"work-hierarchy-unmapped-type", "work-hierarchy-project-without-epics"} <= open_rules
    store.close()

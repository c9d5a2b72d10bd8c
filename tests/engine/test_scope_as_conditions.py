"""Scope keys are shorthand for check kinds: a scope and the condition it stands for pick the same issues."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.config import load_config
from bot.engine.context import Context
from bot.engine.loader import _compile_condition
from bot.engine.params import Bound
from bot.engine.rule import SCOPE_KINDS, Scope
from bot.sources.examples import build_workspace
from bot.yamlfile import load

CONFIG = load_config(None, search=False)
NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
ISSUES = [
    {"type": "Epic"}, {"type": "Story", "labels": ["Backend"]}, {"type": "Bug", "project": "PAY"},
    {"type": "Initiative", "status_category": "done", "resolution": "Won't Do", "resolved": "3 days ago"},
    {"type": "Epic", "status_category": "done", "resolution": "Done", "resolved": "3 days ago"},
    {"type": "Story", "status_category": "new", "project": "MOB", "labels": ["tech-debt-agreement"]},
    {"type": "Technical Debt", "resolution": "Duplicate", "status_category": "done", "resolved": "1 day ago"},
]
SCOPES = [
    {"levels": ["epic", "initiative"]}, {"min_level": "epic"}, {"types": ["Bug", "Story"]},
    {"exclude_types": ["Epic"]}, {"status_categories": ["new", "in progress"]}, {"labels": ["backend"]},
    {"exclude_labels": ["tech-debt-agreement"]}, {"projects": ["PAY"]}, {"teams": ["MOB"]},
    {"flow_items": ["debt", "defect"]}, {"exclude_resolutions": ["duplicate"]}, {"exclude_abandoned": True},
    {"min_level": "epic", "status_categories": ["done"], "exclude_abandoned": True},
]


def test_every_scope_key_has_a_check_kind():
    keys = set(Scope.__dataclass_fields__) - {"resolved_within"}
    assert keys == set(SCOPE_KINDS)


@pytest.mark.parametrize("data", SCOPES, ids=[",".join(s) for s in SCOPES])
def test_a_scope_picks_what_its_condition_picks(data, tmp_path):
    scope = Scope.from_data(data)
    path = tmp_path / "c.yaml"
    path.write_text("x: 1\n", encoding="utf-8")
    diagnostics: list = []
    condition = _compile_condition(load(path), ("x",), scope.as_condition(), Bound({}), CONFIG, diagnostics, "scope")
    assert not diagnostics and condition is not None
    picked = []
    for example in ISSUES:
        workspace, issue = build_workspace(example, CONFIG, NOW)
        context = Context(workspace, CONFIG, NOW)
        by_scope = scope.matches(issue, CONFIG.hierarchy, context, window=False)
        assert by_scope == (condition.evaluate(issue, context) is not None), (data, example)
        picked.append(by_scope)
    assert any(picked) and not all(picked), picked  # the sample tells them apart

"""Checks over children, parent and ancestors: what they count, and no verdict on what was not read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.engine.context import Context, Unjudged
from bot.engine.evaluate import evaluate
from bot.model import Issue
from bot.workspace import Workspace

NOW = datetime(2026, 6, 15, tzinfo=timezone.utc)
CONFIG = load_config(None, search=False)


def ruleset(tmp_path, condition: str, scope: str = "{}"):
    path = tmp_path / "r.yaml"
    path.write_text(f"""
rules:
  - id: relatives-probe
    title: A probe of the relatives checks
    severity: info
    scope: {scope}
    condition: {condition}
    message: "{{{{ issue.key }}}}: {{{{ evidence }}}}"
    docs: {{what: a, why: b, example: c, fix: d}}
""", encoding="utf-8")
    return load_rules([path], CONFIG, include_bundled=False)


def issue(key, type_name, parent=None, category="indeterminate", **extra):
    level = {"Initiative": "initiative", "Epic": "epic", "Story": "story"}.get(type_name)
    return Issue(key=key, project=key.split("-")[0], type=type_name, level=level, status="x",
                 status_category=category, parent_key=parent, **extra)


def workspace(*issues, relatives=()):
    space = Workspace()
    for one in issues:
        space.add(one)
    for one in relatives:
        space.add(one, relative=True)
    space.link()
    return space


def fired(rules, space):
    evaluation = evaluate(space, rules.active, CONFIG, NOW)
    return sorted(f.issue for f in evaluation.findings), sorted(key for _, key in evaluation.unjudged)


def test_open_children_are_counted_by_a_nested_condition(tmp_path):
    rules = ruleset(tmp_path, "{children: {where: {status-category: [new, indeterminate]}, count: 0}}",
                    "{types: [Epic]}")
    space = workspace(issue("P-1", "Epic"), issue("P-2", "Story", "P-1", "done"),
                      issue("P-3", "Epic"), issue("P-4", "Story", "P-3"), issue("P-5", "Epic"))
    assert fired(rules, space) == (["P-1", "P-5"], [])


def test_every_needs_at_least_one_child(tmp_path):
    rules = ruleset(tmp_path, "{children: {every: {status-category: [done]}}}", "{types: [Epic]}")
    space = workspace(issue("P-1", "Epic"), issue("P-2", "Story", "P-1", "done"), issue("P-3", "Epic"))
    assert fired(rules, space) == (["P-1"], [])


def test_a_parent_nobody_could_read_gives_no_verdict_even_under_not(tmp_path):
    rules = ruleset(tmp_path, "{not: {parent: {where: {is-type: Epic}}}}", "{types: [Story]}")
    stub = issue("P-1", "Epic", stub=True)
    space = workspace(issue("P-2", "Story", "P-1"), issue("P-3", "Story", "P-9"), issue("P-4", "Story"),
                      relatives=[stub])
    # P-4 has no parent at all: it fires. P-2's parent is only a stub, P-3's was never read.
    assert fired(rules, space) == (["P-4"], ["P-2", "P-3"])


def test_children_the_reader_could_not_list_give_no_verdict(tmp_path):
    rules = ruleset(tmp_path, "{children: {count: 0}}", "{types: [Epic]}")
    space = workspace(issue("P-1", "Epic"))
    space.children_unread.add("P-1")
    assert fired(rules, space) == ([], ["P-1"])


def test_ancestors_look_up_the_chain(tmp_path):
    rules = ruleset(tmp_path, "{ancestors: {where: {is-type: Initiative}, count: 0}}", "{types: [Story]}")
    space = workspace(issue("I-1", "Initiative"), issue("E-1", "Epic", "I-1"), issue("S-1", "Story", "E-1"),
                      issue("E-2", "Epic"), issue("S-2", "Story", "E-2"))
    assert fired(rules, space) == (["S-2"], [])


def test_a_nested_condition_does_not_make_the_rule_need_the_issues_own_type(tmp_path):
    rules = ruleset(tmp_path, "{children: {where: {is-type: Bug}}}")
    rule = rules.rules[0]
    assert rule.needs_children and rule.needs_relatives and not rule.needs_type


def test_nested_fields_are_fetched(tmp_path):
    rules = ruleset(tmp_path, "{children: {where: {missing: Anticipated Outcome}}}")
    assert "Anticipated Outcome" in rules.rules[0].fields()


def test_the_check_raises_unjudged_on_a_parent_not_read():
    from bot.engine.checks.relatives import Parent

    space = workspace(issue("P-2", "Story", "P-1"))
    with pytest.raises(Unjudged):
        Parent({}).evaluate(space.issues["P-2"], Context(space, CONFIG, NOW))

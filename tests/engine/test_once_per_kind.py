"""Rules made only of checks on the issue's type are evaluated once per kind of issue, with the same verdicts."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.config import load_config
from bot.engine import load_rules
from bot.engine.checks.hierarchy import UnmappedType
from bot.engine.evaluate import evaluate
from bot.engine.registry import kinds
from bot.hierarchy import IssueType
from bot.model import Issue
from bot.workspace import Workspace

NOW = datetime(2026, 6, 15, tzinfo=timezone.utc)
CONFIG = load_config(None, search=False)


def ruleset(tmp_path, condition: str):
    path = tmp_path / "r.yaml"
    path.write_text(f"""
rules:
  - id: kind-probe
    title: A probe of checks decided by the kind of issue
    severity: info
    scope: {{}}
    condition: {condition}
    message: "{{{{ issue.key }}}}: {{{{ evidence }}}}"
    docs: {{what: a, why: b, example: c, fix: d}}
""", encoding="utf-8")
    return load_rules([path], CONFIG, include_bundled=False)


def gadget(key, *, mapped):
    return Issue(key=key, project="P", type="Gadget", issue_type=IssueType(name="Gadget", id="7"), level=None,
                 status="x", status_category="indeterminate", type_mapped=mapped)


def workspace(issues):
    space = Workspace()
    for one in issues:
        space.add(one)
    space.link()
    return space


def test_a_quiet_kind_is_asked_once_and_every_issue_still_gets_its_verdict(tmp_path, monkeypatch):
    rules = ruleset(tmp_path, "{unmapped-type: {}}")
    calls = []
    original = UnmappedType.evaluate
    monkeypatch.setattr(UnmappedType, "evaluate", lambda self, issue, context: calls.append(issue.key)
                        or original(self, issue, context))
    space = workspace([gadget(f"P-{n}", mapped=True) for n in range(1, 51)])
    evaluation = evaluate(space, rules.active, CONFIG, NOW)
    assert calls == ["P-1"]
    assert [(v.issue, v.fired) for v in evaluation.verdicts] == [(f"P-{n}", False) for n in range(1, 51)]
    assert not evaluation.findings


def test_issues_of_one_type_name_that_differ_in_what_the_check_reads_are_judged_apart(tmp_path):
    # Same type name, project, level and status: only ``type_mapped`` differs, and the check reads it.
    rules = ruleset(tmp_path, "{unmapped-type: {}}")
    space = workspace([gadget("P-1", mapped=True), gadget("P-2", mapped=False), gadget("P-3", mapped=True)])
    evaluation = evaluate(space, rules.active, CONFIG, NOW)
    assert [f.issue for f in evaluation.findings] == ["P-2"]
    assert [(v.issue, v.fired) for v in evaluation.verdicts] == [("P-1", False), ("P-2", True), ("P-3", False)]


def test_a_kind_that_fires_is_judged_issue_by_issue(tmp_path):
    rules = ruleset(tmp_path, "{unmapped-type: {}}")
    space = workspace([gadget(f"P-{n}", mapped=False) for n in range(1, 4)])
    evaluation = evaluate(space, rules.active, CONFIG, NOW)
    assert [f.issue for f in evaluation.findings] == ["P-1", "P-2", "P-3"]
    assert [f.message for f in evaluation.findings] == ["P-1: Gadget", "P-2: Gadget", "P-3: Gadget"]


def test_only_checks_of_the_type_are_kind_only():
    # A check marked kind_only must read nothing kind_of leaves out; these two read the type alone.
    assert sorted(name for name, cls in kinds().items() if cls.kind_only) == ["not-a-work-item", "unmapped-type"]


def test_a_rule_mixing_in_a_check_of_the_issue_itself_is_not_decided_by_kind(tmp_path):
    rules = ruleset(tmp_path, "{all: [{unmapped-type: {}}, {has-label: x}]}")
    assert not rules.active[0].kind_decided
    assert ruleset(tmp_path, "{not: {not-a-work-item: {}}}").active[0].kind_decided

"""The digest's registers and the rules agree on every issue, because the registers are built from those rules.

The tech-debt register lists the open issues in the scope of the rules tagged
``register: tech-debt-agreements``; an agreement is undocumented exactly where
the ``undocumented`` rule fired, overdue exactly where the ``overdue`` rule
did. Unclosed loops are the open findings of the ``unclosed-loops`` rule.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.digest.figures import build_digests
from bot.runs.inputs import load_inputs
from bot.runs.scan import run_scan
from tests.conftest import DATA, ROOT

CASES = ["cloud_small", "datacenter_small", "demo_workspace"]


def batch_for(name):
    expected = json.loads((DATA / f"{name}.expected.json").read_text())
    snapshot = str(ROOT / expected["snapshot"])
    config = str(ROOT / expected["config"]) if expected.get("config") else None
    now = datetime.fromisoformat(expected["now"]).replace(hour=12, tzinfo=timezone.utc)
    inputs = load_inputs(config, snapshot=snapshot)
    return run_scan(inputs, now, snapshot=snapshot)


def tagged(batch, name, flag=None):
    return {rule.id for rule in batch.ruleset.active
            if rule.register and rule.register.name == name and (flag is None or rule.register.flag == flag)}


@pytest.mark.parametrize("name", CASES)
def test_the_debt_register_and_the_agreement_rules_agree_on_every_issue(name):
    batch = batch_for(name)
    digests = build_digests(batch, batch.config, batch.now)
    register = {agreement.key: agreement for agreement in digests.organisation.agreements}
    in_scope = {v.issue for v in batch.verdicts if v.rule in tagged(batch, "tech-debt-agreements")}
    fired = {}
    for finding in batch.findings:
        fired.setdefault(finding.issue, set()).add(finding.rule)
    for key in in_scope | set(register):
        issue = batch.workspace.get(key)
        assert (key in register) == (key in in_scope and not issue.is_done()), key
        if key not in register:
            continue
        rules = fired.get(key, set())
        assert bool(register[key].undocumented) == bool(rules & tagged(batch, "tech-debt-agreements", "undocumented")), key
        assert register[key].overdue == bool(rules & tagged(batch, "tech-debt-agreements", "overdue")), key
    assert register or name != "demo_workspace", "the demo has agreements to review"


@pytest.mark.parametrize("name", CASES)
def test_unclosed_loops_are_the_loop_rules_open_findings(name):
    batch = batch_for(name)
    digests = build_digests(batch, batch.config, batch.now)
    loops = {loop.key for loop in digests.organisation.loops}
    rules = tagged(batch, "unclosed-loops")
    assert loops == {f.issue for f in batch.findings if f.rule in rules and not f.waived}


def test_a_placeholder_impact_is_undocumented_in_the_register_too(tmp_path):
    """`Impact: TBD` fires tech-debt-agreement-incomplete, and the register says the impact is undocumented."""
    issue = {"id": "1", "key": "PAY-1", "fields": {
        "summary": "Hand-rolled retries", "issuetype": {"name": "Epic"}, "project": {"key": "PAY"},
        "labels": ["tech-debt-agreement"], "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "description": "Reason: launch deadline\nImpact: TBD\nTimeline: pay down by 2027-01-31"}}
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"issues": [issue]}))
    inputs = load_inputs(None, snapshot=str(path))
    batch = run_scan(inputs, datetime(2026, 11, 16, 12, tzinfo=timezone.utc), snapshot=str(path))
    assert {f.rule for f in batch.findings} >= {"tech-debt-agreement-incomplete"}
    [agreement] = build_digests(batch, batch.config, batch.now).organisation.agreements
    assert agreement.undocumented == ["impact"] and agreement.impact == ""
    assert agreement.reason == "launch deadline" and not agreement.overdue

"""Every rule's examples, as one parametrised test (semgrep's ruleid/ok style).

Each `fires` example must fire and each `ok` example must stay quiet. The
examples are turned into real Jira JSON and read by the normaliser, so they
test the whole path a live issue takes.
"""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.runs.ruletest import run_examples
from bot.engine.rule import DOC_SECTIONS

CONFIG = load_config(None, search=False)
RULESET = load_rules(None, CONFIG)
RESULTS = run_examples(RULESET, CONFIG)


@pytest.mark.parametrize("result", RESULTS, ids=[f"{r.rule}:{r.kind}[{r.index}]" for r in RESULTS])
def test_example(result):
    assert result.passed, result.detail


@pytest.mark.parametrize("rule", RULESET.rules, ids=[r.id for r in RULESET.rules])
def test_rule_is_documented_and_exemplified(rule):
    for key in DOC_SECTIONS:
        assert rule.docs.get(key, "").strip(), f"{rule.id} docs lack '{DOC_SECTIONS[key]}'"
    assert rule.examples.get("fires"), f"{rule.id} has no example that fires"
    assert rule.examples.get("ok"), f"{rule.id} has no example that stays quiet"


def test_default_pack_covers_the_four_families():
    families = {rule.family for rule in RULESET.rules if rule.enabled}
    assert {"anticipated-outcome", "closing-the-loop", "tech-debt-agreement", "work-hierarchy"} <= families


def test_rule_ids_name_their_family():
    for rule in RULESET.rules:
        if rule.enabled:
            assert rule.id.startswith(rule.family + "-"), rule.id


def test_optional_rules_ship_disabled():
    assert not RULESET.get("anticipated-outcome-key-result-missing").enabled
    assert not RULESET.get("flow-item-aging").enabled

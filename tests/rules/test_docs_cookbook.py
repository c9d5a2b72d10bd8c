"""The five rules of docs/writing-rules.md ("Five rules, written from this page") load and pass their examples."""

from __future__ import annotations

import re

from bot.config import load_config
from bot.engine import load_rules
from bot.runs.ruletest import run_examples
from tests.conftest import ROOT

FIVE = {"bug-priority-missing", "initiative-summary-wip", "story-in-progress-unassigned",
        "epic-in-progress-childless", "epic-open-children-done"}


def test_the_five_rules_in_the_docs_pass_their_examples(tmp_path):
    text = (ROOT / "docs" / "writing-rules.md").read_text(encoding="utf-8")
    section = text[text.index("### Five rules, written from this page"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    path = tmp_path / "five.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_config(None, search=False)
    ruleset = load_rules([path], config, include_bundled=False)
    assert {rule.id for rule in ruleset.rules} == FIVE
    results = run_examples(ruleset, config)
    assert all(result.passed for result in results), [r for r in results if not r.passed]
    for rule_id in FIVE:
        kinds = {r.kind for r in results if r.rule == rule_id}
        assert kinds == {"fires", "ok"}, rule_id

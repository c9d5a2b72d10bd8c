"""Every check kind's example (shown in the rule reference) fires on its `fires` issue and not on its `ok` one."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.engine.registry import kinds
from bot.runs.ruletest import run_examples
import yaml

CONFIG = load_config(None, search=False)


@pytest.mark.parametrize("kind", sorted(kinds()))
def test_the_reference_example_of_each_check_kind_is_true(kind, tmp_path):
    example = kinds()[kind].example
    assert example.get("condition") and example.get("fires") and example.get("ok"), f"{kind} has no example"
    rule = {"id": f"example-{kind}".replace("--", "-"), "title": f"Example of {kind}", "severity": "info",
            "condition": example["condition"], "message": "{{ issue.key }}",
            "docs": {"what": "a", "why": "b", "example": "c", "fix": "d"},
            "examples": {"fires": [example["fires"]], "ok": [example["ok"]]}}
    path = tmp_path / "example.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}, sort_keys=False), encoding="utf-8")
    ruleset = load_rules([path], CONFIG, include_bundled=False)
    results = run_examples(ruleset, CONFIG)
    assert [r.passed for r in results] == [True, True], [r.detail for r in results]

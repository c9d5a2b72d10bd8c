"""The rule reference reads as prose: parameters in words (no raw JSON Schema), an example per check kind."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.engine.reference import render_reference
from bot.engine.registry import kinds
from bot.errors import RuleError

CONFIG = load_config(None, search=False)


def test_check_kinds_are_described_in_words_with_an_example():
    text = render_reference(load_rules(None, CONFIG))
    section = text[text.index("# Check kinds"):]
    assert '{"' not in section and '"type"' not in section  # no raw JSON Schema
    for name in kinds():
        part = section[section.index(f"## `{name}`"):]
        part = part[:part.index("\n## ", 1)] if "\n## " in part[1:] else part
        assert "fires on: " in part and "quiet on: " in part, name


def rule(tmp_path, condition: str):
    path = tmp_path / "r.yaml"
    path.write_text(f"""rules:
  - id: status-probe-rule
    title: Status probe
    severity: info
    condition: {condition}
    message: "{{{{ issue.key }}}}"
    docs: {{what: a, why: b, example: c, fix: d}}
""", encoding="utf-8")
    return load_rules([path], CONFIG, include_bundled=False)


def test_status_category_takes_categories_and_still_reads_the_old_in(tmp_path):
    assert rule(tmp_path, "{status-category: {categories: [done]}}").rules
    assert rule(tmp_path, "{status-category: {in: [done]}}").rules
    with pytest.raises(RuleError, match="`in` is the old name of `categories`"):
        rule(tmp_path, "{status-category: {in: [done], categories: [new]}}")


def test_flow_item_without_infer_from_loads(tmp_path):
    # It used to raise KeyError in the loader (the optional level parameter was read unconditionally).
    assert rule(tmp_path, "{flow-item: defect}").rules


def test_rules_explain_shows_the_scope_as_its_condition_and_each_parameter_declared():
    from click.testing import CliRunner

    from bot.cli import cli

    shown = CliRunner().invoke(cli, ["rules", "explain", "closing-the-loop-actual-outcome-missing"])
    assert shown.exit_code == 0, shown.output
    assert "{all: [{min-level: epic}, {status-category: [done]}, {not: {abandoned: {}}}]}" in shown.output
    assert "grace_days: 30 (integer; days after delivery before the actual outcome is due" in shown.output

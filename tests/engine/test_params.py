"""Parameters a rule declares: a site's misspelt or mistyped value is an error where the site wrote it."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.errors import RuleError

RULE = "closing-the-loop-actual-outcome-missing"


def errors(tmp_path, params: str) -> str:
    config_file = tmp_path / "govbot.yaml"
    config_file.write_text(f"jira:\n  projects: [PAY]\nrules:\n  params:\n{params}", encoding="utf-8")
    with pytest.raises(RuleError) as raised:
        load_rules(None, load_config(config_file))
    return str(raised.value)


def test_a_misspelt_parameter_is_an_error_with_did_you_mean(tmp_path):
    text = errors(tmp_path, f"    {RULE}:\n      grace_dayz: 100\n")
    assert f"govbot.yaml:6:7: error: config: rule '{RULE}' has no parameter 'grace_dayz'" in text
    assert "did you mean 'grace_days'?" in text
    assert text.endswith("1 error in govbot.yaml; no issue was read.")


def test_a_wrongly_typed_parameter_is_blamed_on_govbot_yaml_not_the_rule_file(tmp_path):
    text = errors(tmp_path, f"    {RULE}:\n      grace_days: forty\n")
    assert text.startswith(f"{tmp_path / 'govbot.yaml'}:6:19: error:")
    assert "`grace_days` takes a whole number, not 'forty'" in text
    assert "closing-the-loop.yaml" not in text
    assert text.count("error:") == 1


def test_a_value_the_check_refuses_is_blamed_on_govbot_yaml(tmp_path):
    # flow-item-aging declares `days: 30` (an integer); older-than also needs it to be 0 or more.
    text = errors(tmp_path, "    flow-item-aging: {days: -3}\n")
    assert "govbot.yaml:5:29: error: config: rules.params.flow-item-aging.days: -3 is less than the minimum of 0" in text
    assert "optional.yaml" not in text


def test_a_good_override_applies(tmp_path):
    config_file = tmp_path / "govbot.yaml"
    config_file.write_text(f"rules:\n  params:\n    {RULE}: {{grace_days: 45}}\n", encoding="utf-8")
    rule = load_rules(None, load_config(config_file)).get(RULE)
    assert rule.params["grace_days"] == 45 and rule.declared["grace_days"].default == 30


def test_a_rule_declares_its_parameters_in_full(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("""rules:
  - id: epic-stale-probe
    title: Probe of declared params
    severity: info
    params:
      days: {type: integer, default: forty, doc: how long}
      words: {type: lists, default: []}
      limit: {dflt: 3}
    condition:
      older-than: {date: updated, days: $days}
    message: "{{ issue.key }}"
    docs: {what: a, why: b, example: c, fix: d}
""", encoding="utf-8")
    with pytest.raises(RuleError) as raised:
        load_rules([path], load_config(None, search=False), include_bundled=False)
    text = str(raised.value)
    assert "r.yaml:6:" in text and "the default does not fit: `days` takes a whole number, not 'forty'" in text
    assert "r.yaml:7:" in text and "unknown type 'lists'" in text
    assert "r.yaml:8:" in text and "a mapping without `default:`" in text

"""One date model: system and custom date fields, relative dates in examples and conditions, `rules test --now`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import load_rules
from bot.errors import RuleError
from bot.runs.ruletest import run_examples

CONFIG = load_config(None, search=False)


def rule_file(tmp_path, condition: str, examples: str = "", scope: str = "{}"):
    path = tmp_path / "dates.yaml"
    path.write_text(f"""rules:
  - id: date-probe-rule
    title: A probe of the date checks
    severity: info
    scope: {scope}
    condition: {condition}
    message: "{{{{ issue.key }}}}: {{{{ evidence }}}}"
    docs: {{what: a, why: b, example: c, fix: d}}
{examples}""", encoding="utf-8")
    return path


def results(path):
    ruleset = load_rules([path], CONFIG, include_bundled=False)
    return [(r.kind, r.passed, r.detail) for r in run_examples(ruleset, CONFIG)]


def test_a_misspelt_date_is_a_validation_error_with_did_you_mean(tmp_path):
    path = rule_file(tmp_path, "{older-than: {date: creatd, days: 30}}")
    with pytest.raises(RuleError) as raised:
        load_rules([path], CONFIG, include_bundled=False)
    assert "dates.yaml:6:" in str(raised.value) and "unknown date 'creatd'" in str(raised.value)
    assert "did you mean 'created'?" in str(raised.value)


def test_relative_dates_inside_fields_are_dates(tmp_path):
    path = rule_file(tmp_path, "{older-than: {date: Target Date, days: 30}}", """    examples:
      fires:
        - {fields: {Target Date: 45 days ago}}
      ok:
        - {fields: {Target Date: 10 days ago}}
        - {fields: {Target Date: in 3 weeks}}
        - {note: no target date}
""")
    assert all(passed for _, passed, _ in results(path)), results(path)


def test_status_changed_and_due_are_system_dates(tmp_path):
    path = rule_file(tmp_path, "{all: [{older-than: {date: status changed, days: 90}}, "
                               "{date-is: {date: due, before: today}}]}", """    examples:
      fires:
        - {status_changed: 100 days ago, due: 2 days ago}
      ok:
        - {status_changed: 100 days ago, due: in 2 days}
        - {status_changed: 100 days ago, due: today, note: due today has not passed}
        - {status_changed: 10 days ago, due: 2 days ago}
""")
    assert all(passed for _, passed, _ in results(path)), results(path)


def test_date_is_takes_relative_and_calendar_bounds(tmp_path):
    path = rule_file(tmp_path, "{date-is: {date: created, after: 30 days ago, before: 2026-06-10}}", """    examples:
      fires:
        - {created: 2026-06-01}
      ok:
        - {created: 2026-06-12}
        - {created: 40 days ago}
""")
    assert all(passed for _, passed, _ in results(path)), results(path)


def test_a_bound_that_is_not_a_date_is_refused(tmp_path):
    path = rule_file(tmp_path, "{date-is: {date: due, before: next tuesday}}")
    with pytest.raises(RuleError) as raised:
        load_rules([path], CONFIG, include_bundled=False)
    assert "'next tuesday' is not a date" in str(raised.value)


def test_an_example_date_that_is_not_one_is_a_validation_error_not_a_crash(tmp_path):
    path = rule_file(tmp_path, "{older-than: {date: created, days: 1}}", """    examples:
      fires:
        - {created: yesterday}
""")
    with pytest.raises(RuleError) as raised:
        load_rules([path], CONFIG, include_bundled=False)
    assert "dates.yaml:11:21: error: rule 'date-probe-rule': 'yesterday' is not a date" in str(raised.value)


def test_rules_test_now_moves_the_evaluation_date(tmp_path):
    rule_file(tmp_path, "{date-is: {date: due, before: today}}", """    examples:
      fires:
        - {due: 2026-06-01}
      ok:
        - {due: 2026-07-01}
""")
    runner = CliRunner()
    default = runner.invoke(cli, ["rules", "test", "--no-bundled", str(tmp_path / "dates.yaml")])
    assert default.exit_code == 0, default.output
    later = runner.invoke(cli, ["rules", "test", "--no-bundled", "--now", "2026-08-01", str(tmp_path / "dates.yaml")])
    assert later.exit_code == 1 and "expected to stay quiet, but it fired" in later.output
    bad = runner.invoke(cli, ["rules", "test", "--no-bundled", "--now", "soon", str(tmp_path / "dates.yaml")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_a_date_field_is_read_under_its_configured_synonyms_and_a_near_miss_is_an_error(tmp_path):
    config_file = tmp_path / "govbot.yaml"
    config_file.write_text("fields:\n  Target Date: [customfield_10077]\n", encoding="utf-8")
    config = load_config(config_file)
    good = rule_file(tmp_path, "{older-than: {date: Target Date, days: 30}}", """    examples:
      fires:
        - {fields: {customfield_10077: 45 days ago}}
      ok:
        - {fields: {customfield_10077: 5 days ago}}
""")
    ruleset = load_rules([good], config, include_bundled=False)
    assert all(r.passed for r in run_examples(ruleset, config)), [r.detail for r in run_examples(ruleset, config)]
    bad = rule_file(tmp_path, "{older-than: {date: Target Dte, days: 30}}")
    with pytest.raises(RuleError) as raised:
        load_rules([bad], config, include_bundled=False)
    assert "unknown date field 'Target Dte'" in str(raised.value) and "did you mean 'Target Date'" in str(raised.value)

"""One validation pass: govbot.yaml's errors and the rule files' are reported together, once.

A schema error in govbot.yaml used to stop the run before the rule files (and the rule settings in
govbot.yaml) were checked, so a fix was followed by a second round of errors that were there all along.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import load_rules
from bot.errors import ConfigError, RuleError
from tests.conftest import golden

HERE = Path(__file__).resolve().parent
CONFIG = """\
jira:
  projects: PAY
  deploymnt: cloud
teams:
  payments: {timezone: Mars/Olympus}
rules:
  paths: [mine]
  enable: [no-such-rule]
  params:
    closing-the-loop-actual-outcome-missing: {grace_dayz: 100}
"""


def write(tmp_path, config: str, rule_file: str = "every_error_at_once.yaml") -> None:
    (tmp_path / "govbot.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "mine").mkdir(exist_ok=True)
    shutil.copy(HERE / "bad_rules" / rule_file, tmp_path / "mine" / rule_file)


def test_config_and_rule_errors_in_one_report(tmp_path):
    write(tmp_path, CONFIG)
    result = CliRunner().invoke(cli, ["rules", "validate"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    # govbot.yaml first, then the rule file, each top to bottom; one summary line at the end.
    golden(HERE / "golden" / "config_and_rules.txt", result.output)
    assert result.output.count("no issue was read") == 1


def test_a_run_checks_both_at_start_up_too(tmp_path):
    write(tmp_path, CONFIG)
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps({"issues": []}))
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot)])
    assert result.exit_code == 2
    assert "govbot.yaml:2:13: error: config: jira.projects must be a list" in result.output
    assert "mine/every_error_at_once.yaml:7:11: error:" in result.output
    assert result.output.rstrip().endswith("9 errors in govbot.yaml and rule files; no issue was read.")


def test_a_broken_rules_section_is_said_in_one_line_not_cascaded(tmp_path):
    write(tmp_path, "jira:\n  deploymnt: cloud\nrules: [mine]\n")
    result = CliRunner().invoke(cli, ["rules", "validate"])
    assert result.exit_code == 2
    lines = result.output.rstrip().splitlines()
    assert "govbot.yaml:2:3: error: config: unknown key 'deploymnt' in jira" in result.output
    assert "govbot.yaml:3:8: error: config: rules must be a mapping, not a list" in result.output
    assert lines[-1] == "note: rule files were not checked: govbot.yaml has errors in its `rules:` section"
    assert "every_error_at_once" not in result.output


@pytest.mark.parametrize("config, why", [
    ("rules:\n  paths: mine\n", "has errors in rules.paths (which rule files to read is not known)"),
    ("hierarchy:\n  levels: [{name: saga, above: nowhere}]\n",
     "has errors in its `hierarchy:` section (rules name its levels)"),
    ("jira:\n  projects: [PAY\n", "could not be read"),
])
def test_what_the_rules_lean_on_is_broken(tmp_path, config, why):
    write(tmp_path, config)
    result = CliRunner().invoke(cli, ["rules", "validate", "mine"])
    assert result.exit_code == 2
    assert result.output.rstrip().splitlines()[-1] == f"note: rule files were not checked: govbot.yaml {why}"
    assert "every_error_at_once" not in result.output


def test_a_bad_entry_in_rules_params_leaves_the_other_entries_checked(tmp_path):
    write(tmp_path, "rules:\n  params:\n    flow-item-aging: 5\n"
                    "    closing-the-loop-actual-outcome-missing: {grace_dayz: 100}\n")
    result = CliRunner().invoke(cli, ["rules", "validate"])
    assert result.exit_code == 2
    assert "govbot.yaml:3:22: error: config: rules.params.flow-item-aging must be a mapping" in result.output
    assert "has no parameter 'grace_dayz'" in result.output
    assert "every_error_at_once.yaml" not in result.output  # not in rules.paths here


def test_config_errors_alone_keep_their_format(tmp_path):
    write(tmp_path, "jira:\n  deploymnt: cloud\n")
    with pytest.raises(ConfigError) as raised:
        load_rules(None, load_config(tmp_path / "govbot.yaml", partial=True))
    assert str(raised.value).startswith(f"{tmp_path / 'govbot.yaml'}:2:3: error: config: unknown key 'deploymnt'")
    assert "no issue was read" not in str(raised.value)


def test_a_rule_id_in_a_file_with_errors_is_still_known(tmp_path):
    # rules.enable names a rule whose file has errors: that rule exists, only the file's errors are said.
    write(tmp_path, "rules:\n  paths: [mine]\n  enable: [epic-multi-errors]\n")
    with pytest.raises(RuleError) as raised:
        load_rules(None, load_config(tmp_path / "govbot.yaml", partial=True))
    assert "no rule has the id" not in str(raised.value)
    assert "4 errors in rule files" in str(raised.value)


def test_ids_are_not_judged_when_a_file_cannot_be_read(tmp_path):
    write(tmp_path, "rules:\n  paths: [mine]\n  enable: [summary-shouts]\n", rule_file="syntax.yaml")
    with pytest.raises(RuleError) as raised:
        load_rules(None, load_config(tmp_path / "govbot.yaml", partial=True))
    assert "no rule has the id" not in str(raised.value)


def test_load_config_alone_still_raises_at_once(tmp_path):
    write(tmp_path, "jira:\n  deploymnt: cloud\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "govbot.yaml")

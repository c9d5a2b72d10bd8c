"""Bad rule files get compiler-style errors: file:line:col, the line, a marker, a hint.

One golden file per bad input; refresh with GOVBOT_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import load_rules
from bot.errors import RuleError
from tests.conftest import golden

HERE = Path(__file__).resolve().parent
BAD = sorted((HERE / "bad_rules").glob("*.yaml"))


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_rule_file_is_reported_with_position(path, tmp_path):
    # Copy so the reported path is short and stable.
    local = tmp_path / path.name
    shutil.copy(path, local)
    result = CliRunner().invoke(cli, ["rules", "validate", path.name])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(path.name), result.output
    golden(HERE / "golden" / f"{path.stem}.txt", result.output)


def test_duplicate_ids_across_files(tmp_path):
    source = (HERE / "bad_rules" / "bad_regex.yaml").read_text().replace('"([A-Z]+"', '"[A-Z]{5}"')
    (tmp_path / "one.yaml").write_text(source)
    (tmp_path / "two.yaml").write_text(source)
    with pytest.raises(RuleError) as error:
        load_rules([tmp_path / "one.yaml", tmp_path / "two.yaml"])
    assert "duplicate rule id 'summary-shouts'" in str(error.value)
    assert "first defined at" in str(error.value)


def test_every_error_is_reported_not_just_the_first(tmp_path):
    for name in ("unknown_key.yaml", "bad_regex.yaml", "bad_template.yaml"):
        shutil.copy(HERE / "bad_rules" / name, tmp_path / name)
    with pytest.raises(RuleError) as error:
        load_rules([tmp_path])
    assert "3 errors in rule files" in str(error.value)


def test_missing_rule_path():
    result = CliRunner().invoke(cli, ["rules", "validate", "nowhere.yaml"])
    assert result.exit_code == 2
    assert "nowhere.yaml: error: rule file or folder not found" in result.output


def test_a_folder_named_twice_is_read_once(tmp_path, monkeypatch):
    # docs/writing-rules.md: list the folder under rules.paths, and `rules test my-rules/` it; the same
    # file reached twice is one set of rules, not a duplicate id per rule.
    source = (HERE / "bad_rules" / "bad_regex.yaml").read_text().replace('"([A-Z]+"', '"[A-Z]{5}"')
    (tmp_path / "my-rules").mkdir()
    (tmp_path / "my-rules" / "one.yaml").write_text(source)
    (tmp_path / "govbot.yaml").write_text("rules:\n  paths: [my-rules]\n")
    monkeypatch.chdir(tmp_path)
    for args in (["rules", "validate", "my-rules/"], ["rules", "validate", "./my-rules/one.yaml"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert result.output == "1 rule in 1 file: OK\n"

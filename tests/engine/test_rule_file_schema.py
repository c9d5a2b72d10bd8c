"""`govbot rules schema` is for editors: it must accept every rule file the loader accepts, the bundled pack's
and the guide's (a file-level `family:`, a check value given as a declared `$parameter`)."""

from __future__ import annotations

import re

import jsonschema
import pytest
import yaml

from bot.engine.schema import rule_file_schema
from tests.conftest import ROOT

BUNDLED = sorted((ROOT / "rules").glob("*.yaml"))
GUIDE_BLOCKS = [block for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "writing-rules.md").read_text(
    encoding="utf-8"), re.DOTALL) if block.lstrip().startswith("rules:")]


def errors(data) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(rule_file_schema()).iter_errors(data)]


@pytest.mark.parametrize("path", BUNDLED, ids=[path.name for path in BUNDLED])
def test_the_bundled_rule_files_satisfy_the_published_schema(path):
    assert errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("block", GUIDE_BLOCKS, ids=[f"writing-rules[{i}]" for i in range(len(GUIDE_BLOCKS))])
def test_the_guides_rules_satisfy_the_published_schema(block):
    assert errors(yaml.safe_load(block)) == []


def test_the_schema_still_refuses_what_the_loader_refuses():
    rule = yaml.safe_load(BUNDLED[0].read_text(encoding="utf-8"))["rules"][0]
    assert errors({"rules": [{**rule, "severty": "error"}]})
    assert errors({"family": "x", "rules": [rule], "extra": 1})
    assert errors({"rules": [{**rule, "condition": {"older-than": {"date": "updated", "days": "thirty"}}}]})

"""Scans of independently written fixtures find exactly the seeded violations.

The fixtures in tests/data were written from the rule semantics in
tests/data/README.md, not from the engine: each issue lists the rules that must
fire on it, and every other (rule, issue) pair must stay quiet.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import DATA, ROOT

CASES = ["cloud_small", "datacenter_small", "demo_workspace"]


def scan(expected):
    snapshot = ROOT / expected["snapshot"] if not expected["snapshot"].startswith("/") else expected["snapshot"]
    args = ["scan", "--snapshot", str(snapshot), "--format", "json", "--now", expected["now"], "--fail-on", "never"]
    if expected.get("config"):
        args += ["--config", str(ROOT / expected["config"])]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("name", CASES)
def test_findings_match_the_seeded_violations(name):
    expected = json.loads((DATA / f"{name}.expected.json").read_text())
    output = scan(expected)
    got: dict[str, set[str]] = {}
    for finding in output["findings"]:
        got.setdefault(finding["issue"], set()).add(finding["rule"])
    want = {key: set(rules) for key, rules in expected["issues"].items() if rules}
    missed = {k: sorted(v - got.get(k, set())) for k, v in want.items() if v - got.get(k, set())}
    extra = {k: sorted(v - want.get(k, set())) for k, v in got.items() if v - want.get(k, set())}
    assert not missed, f"seeded violations not found: {missed}"
    assert not extra, f"false positives: {extra}"
    assert output["summary"]["issues_scanned"] == expected["issues_scanned"]


@pytest.mark.parametrize("name", CASES)
def test_feature_factory_ratio(name):
    expected = json.loads((DATA / f"{name}.expected.json").read_text())
    ffr = scan(expected)["summary"]["feature_factory_ratio"]
    want = expected["feature_factory_ratio"]
    assert ffr["overall"] == pytest.approx(want["overall"], abs=0.06)
    by_team = want.get("by_team") or want.get("by_project")
    for team, value in by_team.items():
        assert ffr["by_team"][team] == pytest.approx(value, abs=0.06), team

"""Template injection in rule messages: the sandbox holds, and rendering is bounded.

A rule file is user-authored. Escapes are refused when the rule loads (the
trial render), and anything that would exhaust time or memory is refused at
load or stops at a bound: ``range`` over 1,000 items, values over 10,000
characters, integer arguments over 10,000, huge format widths, powers, loops
nested three deep, macros; output stops at 4,000 characters.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import load_rules, templates
from bot.errors import RuleError
from tests.batches import scan
from bot.workspace import Workspace
from tests.hostile.corpus import issue

RULE = {"id": "hostile-message", "title": "Hostile message", "severity": "warning",
        "docs": {"what": "a", "why": "b", "example": "c", "fix": "d"},
        "condition": {"missing": {"field": "Anticipated Outcome"}}, "scope": {"levels": ["epic"]}}

REFUSED_AT_LOAD = {
    "class walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals via cycler": "{{ cycler.__init__.__globals__.os }}",
    "globals via a method": "{{ issue.field.__globals__ }}",
    "huge range": "{% for i in range(10**9) %}{% endfor %}",
    "string bomb": "{{ 'x' * 10**9 }}",
    "list bomb": "{{ [0] * 10**8 }}",
    "power tower": "{{ 9**9**9 }}",
    "format width (%)": "{{ '%999999999d' % 1 }}",
    "format width (str.format)": "{{ '{:>999999999}'.format(1) }}",
    "filter width": "{{ issue.key|center(10**9) }}",
    "lorem ipsum": "{{ lipsum(10**6) }}",
    "namespace doubling": "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                          "{% endfor %}{{ ns.s }}",
    "triple loop": "{% for a in range(999) %}{% for b in range(999) %}{% for c in range(999) %}{% endfor %}"
                   "{% endfor %}{% endfor %}",
    "recursive macro": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "include": "{% include '/etc/passwd' %}",
    "too long": "x" * 5000,
}


def write_rules(tmp_path: Path, message: str) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump({"rules": [{**RULE, "message": message}]}), encoding="utf-8")
    return path


@pytest.mark.parametrize("message", REFUSED_AT_LOAD.values(), ids=REFUSED_AT_LOAD.keys())
def test_escapes_and_bombs_are_refused_when_the_rule_loads(tmp_path, message):
    path = write_rules(tmp_path, message)
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert time.perf_counter() - started < 5
    text = str(caught.value)
    assert "hostile.yaml:" in text and "message template" in text
    result = CliRunner().invoke(cli, ["rules", "validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_double_loop_that_prints_is_cut_at_the_bound(tmp_path):
    path = write_rules(tmp_path, "{% for i in range(1000) %}{% for j in range(1000) %}{{ issue.key }}"
                                 "{% endfor %}{% endfor %}")
    config = load_config(None, search=False)
    ruleset = load_rules([path], config)
    workspace = Workspace()
    from bot.sources.normalize import Normalizer

    normalizer = Normalizer(config, workspace)
    normalizer.add(issue("PAY-1", "Epic"))
    started = time.perf_counter()
    result = scan(normalizer.finish(), ruleset, config, datetime(2026, 11, 16, tzinfo=timezone.utc))
    assert time.perf_counter() - started < 2
    assert len(result.findings[0].message) == templates.MAX_MESSAGE_CHARS


def test_a_value_that_grows_too_big_only_for_one_issue_is_a_problem_not_a_crash(tmp_path):
    # Fine on the sample issue at load time, too big for a 2,000-character summary.
    path = write_rules(tmp_path, "{{ issue.summary * 100 }}")
    config = load_config(None, search=False)
    ruleset = load_rules([path], config)
    from bot.sources.normalize import Normalizer

    normalizer = Normalizer(config)
    normalizer.add(issue("PAY-1", "Epic", summary="s" * 2000))
    normalizer.add(issue("PAY-2", "Epic", summary="short"))
    result = scan(normalizer.finish(), ruleset, config, datetime(2026, 11, 16, tzinfo=timezone.utc))
    assert [finding.issue for finding in result.findings] == ["PAY-2"]
    assert any("PAY-1: rule hostile-message could not be evaluated" in p for p in result.problems)


def test_messages_cannot_reach_config_or_secrets():
    env = templates.ENVIRONMENT
    assert set(env.globals) == {"range"}
    with pytest.raises(Exception):
        templates.compile_template("{{ config }}").render()
    with pytest.raises(Exception):
        templates.compile_template("{{ rule.__init__.__globals__ }}").render(rule=object())

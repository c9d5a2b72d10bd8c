"""Template injection in rule messages: the sandbox holds, and rendering is bounded.

A rule file is user-authored. Escapes are refused when the rule loads (the
trial render), and anything that would exhaust time or memory is refused at
load or stops at a bound: ``range`` over 1,000 items, values over 10,000
characters, integer arguments over 10,000, huge format widths, powers, loops
nested three deep, recursive loops, macros, a render over 0.5 s on the sample
issue; output stops at 4,000 characters. A template that is only slow on some
issue's data is stopped there at 0.5 s, the rule is skipped on that issue (said
once), and the scan goes on and exits 4.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import budget, load_rules, templates
from bot.errors import RuleError
from tests.batches import scan
from bot.workspace import Workspace
from tests.hostile.bounded import govbot
from tests.hostile.corpus import issue, write_snapshot

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
    # loop() re-enters the loop: 30**7 iterations that the nesting check could not see.
    "recursive loop": "{% for i in range(30) recursive %}{% if loop.depth < 7 %}{{ loop(range(30)) }}{% endif %}"
                      "{% endfor %}",
    "recursive loop, nested": "{% for i in range(3) %}{% for j in range(3) recursive %}{{ loop([]) }}{% endfor %}"
                              "{% endfor %}",
    # Two loops are allowed; 10**6 costly bodies are not: the trial render hits the 0.5 s budget.
    "costly double loop": "{% for i in range(1000) %}{% for j in range(1000) %}{% if issue.summary.count('x') %}"
                          "{% endif %}{% endfor %}{% endfor %}",
    "costly double loop, no calls": "{% set s = issue.summary %}{% for i in range(1000) %}{% for j in range(1000) %}"
                                    "{% if ('zz' ~ i) in s %}{% endif %}{% endfor %}{% endfor %}",
    "costly filter in a double loop": "{% for i in range(1000) %}{% for j in range(1000) %}"
                                      "{{ range(1000)|map('string')|join|length }}{% endfor %}{% endfor %}",
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


def test_a_template_over_its_time_budget_on_the_sample_says_so_at_load(tmp_path):
    path = write_rules(tmp_path, "{% for i in range(1000) %}{% for j in range(1000) %}{% if issue.key.lower() %}"
                                 "{% endif %}{% endfor %}{% endfor %}")
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert time.perf_counter() - started < budget.TEMPLATE_SECONDS + 2
    assert f"took longer than {budget.TEMPLATE_SECONDS:g} s to render on a sample issue" in str(caught.value)
    assert re.search(r"hostile\.yaml:\d+:\d+: error: rule 'hostile-message': message template", str(caught.value))


# Cheap on the sample issue (no labels), costly on an issue with 1,000 labels: 10**6 steps.
SLOW_ON_LABELS = ("{% for a in issue.labels %}{% for b in issue.labels %}{% if (a ~ b) in issue.summary %}"
                  "{% endif %}{% endfor %}{% endfor %}{{ issue.key }} has no outcome")


def many_labels(key: str) -> dict:
    return issue(key, "Epic", labels=[f"label-{n}" for n in range(1000)])


def test_a_template_slow_on_one_issue_skips_the_rule_there_once_and_the_scan_goes_on(tmp_path):
    path = write_rules(tmp_path, SLOW_ON_LABELS)
    config = load_config(None, search=False)
    ruleset = load_rules([path], config)  # fine on the sample issue
    from bot.sources.normalize import Normalizer

    normalizer = Normalizer(config)
    for item in (issue("PAY-1", "Epic"), many_labels("PAY-3"), issue("PAY-4", "Epic")):
        normalizer.add(item)
    started = time.perf_counter()
    result = scan(normalizer.finish(), ruleset, config, datetime(2026, 11, 16, tzinfo=timezone.utc))
    assert time.perf_counter() - started < budget.TEMPLATE_SECONDS + 1.5
    assert [f.issue for f in result.findings] == ["PAY-1", "PAY-4"]
    [line] = [p for p in result.problems if "took too long" in p]
    assert line.startswith("rule hostile-message took too long on PAY-3 and was skipped")
    assert result.skipped == [("hostile-message", "PAY-3")]  # never resolved on this run's account
    assert not result.complete and result.workspace.complete


def test_a_rule_slow_everywhere_is_dropped_after_three_issues_and_reported_once(tmp_path):
    path = write_rules(tmp_path, SLOW_ON_LABELS)
    snapshot = write_snapshot(tmp_path / "labels.json", [many_labels(f"PAY-{n}") for n in range(1, 21)])
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--only-rules", str(path), "--now",
                                      "2026-11-16", "--format", "json"])
    elapsed = time.perf_counter() - started
    # 3 renders stopped at 0.5 s each, then the rule is skipped on the other 17 issues without trying.
    assert elapsed < budget.RULE_SKIPS * budget.TEMPLATE_SECONDS + 3, elapsed
    assert result.exit_code == 4, result.output  # incomplete: no verdict for that rule
    data = json.loads(result.stdout)
    lines = [p for p in data["problems"] if "hostile-message" in p]
    assert lines == ["rule hostile-message took too long on PAY-1, PAY-2 and PAY-3 and was skipped, then on the "
                     "17 other issues in its scope (limit: 2 s per issue for its condition and message, 0.5 s per "
                     "message; simplify its pattern or message template)"]
    assert data["summary"]["complete"] is False
    text = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--only-rules", str(path), "--now",
                                    "2026-11-16"])
    assert text.exit_code == 4 and "rule hostile-message took too long on PAY-1" in text.output
    assert "some rules were skipped on some issues" in text.output


def test_messages_past_the_run_budget_keep_the_rule_title_and_the_run_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "RUN_MESSAGE_CHARS", 40)  # two messages' worth
    path = write_rules(tmp_path, "{{ issue.key }}: no anticipated outcome yet")
    config = load_config(None, search=False)
    ruleset = load_rules([path], config)
    from bot.sources.normalize import Normalizer

    normalizer = Normalizer(config)
    for n in range(1, 6):
        normalizer.add(issue(f"PAY-{n}", "Epic"))
    result = scan(normalizer.finish(), ruleset, config, datetime(2026, 11, 16, tzinfo=timezone.utc))
    messages = [f.message for f in sorted(result.findings, key=lambda f: f.issue)]
    assert messages[:2] == ["PAY-1: no anticipated outcome yet", "PAY-2: no anticipated outcome yet"]
    assert messages[2:] == ["Hostile message"] * 3  # the verdicts stand; only the wording is plain
    assert any("3 later findings show their rule's title as message" in p for p in result.problems)
    assert result.complete


def test_a_field_over_10000_characters_renders_cut_instead_of_losing_the_finding(tmp_path):
    path = write_rules(tmp_path, "{{ issue.key }}: {{ issue.field('Description') }} | {{ issue.summary|upper }}")
    config = load_config(None, search=False)
    ruleset = load_rules([path], config)
    from bot.sources.normalize import Normalizer

    normalizer = Normalizer(config)
    normalizer.add(issue("PAY-1", "Epic", summary="s" * 20_000, description="word " * 20_000))
    result = scan(normalizer.finish(), ruleset, config, datetime(2026, 11, 16, tzinfo=timezone.utc))
    assert not result.problems, result.problems
    [finding] = result.findings
    assert finding.message.startswith("PAY-1: word word") and finding.message.endswith("…")
    assert len(finding.message) == templates.MAX_MESSAGE_CHARS


def test_a_recursive_loop_is_refused_by_the_nesting_check_not_by_the_clock(tmp_path):
    # 30**7 renders if it ran: a child process under a deadline, so a regression fails instead of hanging.
    path = write_rules(tmp_path, REFUSED_AT_LOAD["recursive loop"])
    started = time.perf_counter()
    done = govbot("rules", "validate", str(path), timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "message template: recursive loops are not allowed in a message template" in done.stdout + done.stderr
    loading = time.perf_counter()
    with pytest.raises(RuleError):
        load_rules([path])
    assert time.perf_counter() - loading < budget.TEMPLATE_SECONDS  # refused before any render
    assert time.perf_counter() - started < 30

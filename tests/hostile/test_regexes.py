"""ReDoS: a rule's pattern against hostile issue text, and patterns the linear-time engine refuses.

Outcomes:
- ``matches`` runs on RE2: ``(a+)+$`` on a 41-character description and
  ``.*x.*y`` on a 1 MB one (each hangs Python's ``re`` for minutes or more)
  take milliseconds; the scan runs in a child process with a deadline, so a
  regression fails here instead of hanging the suite;
- what RE2 refuses (backreferences, lookaround, possessive quantifiers, atomic
  groups, repetition counts over 1,000, patterns too large) is one validation
  error at ``file:line:col``, exit 2, no traceback;
- Python's ``\\Z`` still means the end of the text.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import load_rules, regex
from bot.errors import RuleError
from tests.hostile.bounded import govbot
from tests.hostile.corpus import issue, write_snapshot

DEADLINE = 30  # seconds for a whole `govbot scan` child process, start-up included (about 2 s here)


def rule_file(tmp_path: Path, pattern: str, field: str = "Description", **extra) -> Path:
    rule = {"id": "pattern-found", "title": "Pattern found", "severity": "warning",
            "docs": {"what": "a", "why": "b", "example": "c", "fix": "d"}, "scope": {"levels": ["epic"]},
            "condition": {"matches": {"field": field, "pattern": pattern, **extra}},
            "message": "{{ issue.key }}: {{ evidence }}"}
    path = tmp_path / "patterns.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}, width=1000), encoding="utf-8")
    return path


@pytest.mark.parametrize("pattern, description, evidence", [
    (r"(a+)+$", "a" * 41 + "!", None),                   # 2**41 backtracking steps in Python's re
    (r"^(\w+\s?)*$", "word " * 30 + "!", None),          # the classic "words then a stray character"
    (r".*x.*y", "x" * 1_000_000, None),                  # quadratic: 10**12 steps on a megabyte
    (r".*x.*y", "x" * 999_999 + "y", "x" * 80),          # and it still finds what is there
], ids=["nested-plus", "words", "dot-star-1mb", "dot-star-found"])
def test_catastrophic_patterns_on_hostile_text_finish_in_a_bounded_time(tmp_path, pattern, description, evidence):
    rules = rule_file(tmp_path, pattern)
    snapshot = write_snapshot(tmp_path / "s.json", [issue("PAY-1", "Epic", description=description),
                                                    issue("PAY-2", "Epic", description="nothing to see here.")])
    started = time.perf_counter()
    done = govbot("scan", "--snapshot", str(snapshot), "--rules", str(rules), "--format", "json",
                  "--now", "2026-11-16", "--fail-on", "never", timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert time.perf_counter() - started < DEADLINE
    found = {f["issue"]: f["evidence"] for f in json.loads(done.stdout)["findings"] if f["rule"] == "pattern-found"}
    assert found == ({"PAY-1": evidence} if evidence else {})


@pytest.mark.parametrize("pattern, says", [
    (r"(\w+) \1", "backreferences"),
    (r"(?P<word>\w+) (?P=word)", "backreferences"),
    (r"outcome(?=:)", "lookahead and lookbehind"),
    (r"(?<!no )outcome", "lookahead and lookbehind"),
    (r"a++b", "possessive quantifiers and atomic groups"),
    (r"(?>a+)b", "possessive quantifiers and atomic groups"),
    (r"x{1001}", "repetition counts over 1,000"),
    (r"(x{100}){100}", "repetition counts over 1,000"),
    (r"(?x) a b c", "this group syntax is not supported"),
    (r"(?s)(.*a){300}Q", "too complex for linear-time matching"),
    ("x" * 1001, "the limit is 1,000"),
    (r"([A-Z]+", "invalid regular expression: missing ), unterminated subpattern at position 0"),
])
def test_patterns_the_linear_engine_refuses_are_one_clear_error_at_file_line_col(tmp_path, pattern, says):
    path = rule_file(tmp_path, pattern)
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    text = str(caught.value)
    # The position of the pattern itself in the YAML file.
    lines = path.read_text().splitlines()
    line = next(n for n, content in enumerate(lines, 1) if "pattern:" in content)
    column = lines[line - 1].index("pattern:") + len("pattern: ") + 1
    assert re.search(rf"patterns\.yaml:{line}:{column}: error: rule 'pattern-found': matches: ", text), text
    assert says in text
    assert "help: " in text
    result = CliRunner().invoke(cli, ["rules", "validate", str(path)])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_refused_patterns_print_nothing_from_re2_itself(tmp_path, capfd):
    with pytest.raises(RuleError):
        load_rules([rule_file(tmp_path, r"(?=x)")])
    assert capfd.readouterr().err == ""  # RE2 logs parse errors to stderr unless told not to


def test_python_spellings_and_case_rules_still_hold():
    assert regex.compile(r"done\Z").search("all done") == "done"
    assert regex.compile(r"done\Z").search("done, not") is None
    assert regex.compile(r"\\Z").search(r"a \Z") == "\\Z"  # an escaped backslash is left alone
    assert regex.compile("tbd").search("Outcome: TBD") == "TBD"
    assert regex.compile("tbd", case_sensitive=True).search("Outcome: TBD") is None
    assert regex.compile(r"\p{L}+").search("résumé 42") == "résumé"
    assert regex.compile("x").search("Bulk \ud800 x") == "x"  # a stray surrogate does not crash a search


def test_a_scan_with_an_ordinary_pattern_finds_what_python_re_would(tmp_path):
    texts = ["Anticipated outcome: TBD", "Outcome - tbd by Q3", "We will know it when we see it", "TBDX"]
    pattern = r"\bTBD\b"
    rules = rule_file(tmp_path, pattern)
    snapshot = write_snapshot(tmp_path / "s.json", [issue(f"PAY-{n}", "Epic", description=text)
                                                    for n, text in enumerate(texts, 1)])
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--rules", str(rules), "--format",
                                      "json", "--now", "2026-11-16", "--fail-on", "never"])
    found = sorted(f["issue"] for f in json.loads(result.output)["findings"] if f["rule"] == "pattern-found")
    expected = sorted(f"PAY-{n}" for n, text in enumerate(texts, 1) if re.search(pattern, text, re.IGNORECASE))
    assert found == expected == ["PAY-1", "PAY-2"]

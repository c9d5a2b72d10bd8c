"""YAML bombs and oddities in rule and config files: one positioned error each, quickly.

Billion laughs needs aliases, and aliases (and merge keys) are refused; deep
nesting stops at 64 levels or the parser's recursion, whichever comes first;
files over 2 MB are refused unread; ``!!python/...`` and other explicit tags
are refused instead of being silently dropped; bad bytes are named.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from bot.cli import cli

BILLION_LAUGHS = "\n".join(
    ['lol0: &l0 "lol"'] + [f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]) + "\n"

HOSTILE = {
    "billion laughs": (BILLION_LAUGHS, "anchors and aliases"),
    "merge key": ("a: &x {b: 1}\nc:\n  <<: *x\n", "anchors and aliases"),
    "nested flow lists": ("rules: " + "[" * 400_000 + "]" * 400_000 + "\n", "nested too deeply"),
    "nested flow maps": ("rules: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n", "nested too deeply"),
    "nested blocks": ("rules:\n" + "".join("  " * depth + f"k{depth}:\n" for depth in range(1, 200)) + "\n",
                      "nested too deeply"),
    "python object tag": ("rules: !!python/object/apply:os.system ['echo pwned']\n", "tags like !!python"),
    "python name tag": ("jira: !!python/name:os.system\n", "tags like !!python"),
    "custom tag": ("rules: !include other.yaml\n", "tags like !include"),
    "too big": ("a: '" + "x" * 2_100_000 + "'\n", "the limit is 2,000,000"),
    "two documents": ("a: 1\n---\nb: 2\n", "another document"),
    "invalid UTF-8": (b"rules: \xff\xfe\n", "not UTF-8 text"),
    "NUL byte": ("rules: \x00\n", "invalid YAML"),
}


@pytest.mark.parametrize("content, expected", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("kind", ["rules", "config"])
def test_hostile_yaml_is_one_clear_error(tmp_path, kind, content, expected):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    args = ["rules", "validate", str(path)] if kind == "rules" else ["scan", "--config", str(path)]
    started = time.perf_counter()
    result = CliRunner().invoke(cli, args)
    assert time.perf_counter() - started < 10
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception) or \
        isinstance(result.exception, SystemExit)
    assert expected in result.output
    assert "hostile.yaml" in result.output

"""The docs stay true: the generated reference is current and every YAML example loads."""

from __future__ import annotations

import re

import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.runs.ruletest import run_examples
from bot.engine.reference import render_reference
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def yaml_blocks():
    for path in DOCS:
        if path.exists():
            for index, block in enumerate(BLOCK.findall(path.read_text(encoding="utf-8"))):
                yield pytest.param(path, block, id=f"{path.name}[{index}]")


def test_rule_reference_is_current():
    expected = render_reference(load_rules(None, load_config(None, search=False)))
    actual = (ROOT / "docs" / "rules-reference.md").read_text(encoding="utf-8")
    assert actual == expected, "run: govbot rules docs > docs/rules-reference.md"


@pytest.mark.parametrize("path, block", list(yaml_blocks()))
def test_yaml_examples_in_docs_load(path, block, tmp_path):
    if block.lstrip().startswith("rules:"):
        rule_file = tmp_path / "example.yaml"
        rule_file.write_text(block)
        config = load_config(None, search=False)
        ruleset = load_rules([rule_file], config)
        failures = [r for r in run_examples(ruleset, config) if not r.passed]
        assert not failures, failures
    elif re.match(r"waivers:\n +- ", block):  # a waivers file (waivers.file), not govbot.yaml
        from bot.waivers import load_waiver_file

        waiver_file = tmp_path / "waivers.yaml"
        waiver_file.write_text(block)
        assert load_waiver_file(waiver_file)
    else:
        config_file = tmp_path / "govbot.yaml"
        config_file.write_text(block)
        load_rules(None, load_config(config_file))


def test_readme_sample_output_is_what_the_command_prints(monkeypatch):
    """The README's `$ govbot scan --now ...` block: its lines before `...` open the output, those after close it."""
    from click.testing import CliRunner

    from bot.cli import cli

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```\n\$ govbot (scan --now \S+)\n(.*?)```", text, re.DOTALL)
    assert match, "the README shows a sample `$ govbot scan --now YYYY-MM-DD` with its output"
    shown = match.group(2).rstrip("\n").split("\n")
    head, tail = shown[:shown.index("...")], shown[shown.index("...") + 1:]
    monkeypatch.setenv("COLUMNS", "100")
    printed = CliRunner().invoke(cli, match.group(1).split()).stdout.rstrip("\n").split("\n")
    assert printed[:len(head)] == head
    assert printed[-len(tail):] == tail


def test_readme_layout_table_matches_the_tree():
    """Every path the README's layout table names exists, and every part of bot/ is named there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| Path | What |"):]
    table = table.split("\n\n", 1)[0]
    named = set()
    for row in table.splitlines()[2:]:
        named.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    for path in named:
        assert (ROOT / path).exists(), f"the README's layout table names {path}, which does not exist"
    parts = {f"bot/{p.name}/" if p.is_dir() else f"bot/{p.name}" for p in (ROOT / "bot").iterdir()
             if not p.name.startswith(("__", ".")) and p.name != "py.typed" and (p.is_dir() or p.suffix == ".py")}
    parts = {part for part in parts if not part.endswith("__pycache__/")}
    unnamed = sorted(part for part in parts if part not in named)
    assert not unnamed, f"parts of bot/ missing from the README's layout table: {unnamed}"


def test_readme_layout_table_names_only_modules_that_exist():
    """A module a folder's row names (`batch.py` in the `bot/runs/` row) is in that folder: merges move
    and add modules, and a newcomer reads this table to find them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| Path | What |"):].split("\n\n", 1)[0]
    missing = []
    for row in table.splitlines()[2:]:
        cells = row.split("|")
        folders = [name for name in re.findall(r"`([^`]+)`", cells[1]) if name.endswith("/")]
        if len(folders) != 1:
            continue
        for module in re.findall(r"`([a-z_]+\.py)`", cells[2]):
            if not (ROOT / folders[0] / module).exists():
                missing.append(folders[0] + module)
    assert not missing, f"the README's layout table names modules that do not exist: {missing}"


def test_readme_validate_sample_is_what_the_first_rule_of_the_guide_prints(tmp_path, monkeypatch):
    """The README's `$ govbot rules validate my-rules/` block is the output for docs/writing-rules.md's first
    rule saved as my-rules/bugs.yaml with `severity` mistyped; unmistyped, that rule validates."""
    from click.testing import CliRunner

    from bot.cli import cli

    first_rule = BLOCK.findall((ROOT / "docs" / "writing-rules.md").read_text(encoding="utf-8"))[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```\n\$ govbot rules validate my-rules/\n(.*?)```", readme, re.DOTALL)
    assert match, "the README shows a sample `$ govbot rules validate my-rules/` with its output"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-rules").mkdir()
    rule_file = tmp_path / "my-rules" / "bugs.yaml"
    rule_file.write_text(first_rule, encoding="utf-8")
    good = CliRunner().invoke(cli, ["rules", "validate", "my-rules/"])
    assert (good.exit_code, good.output) == (0, "1 rule in 1 file: OK\n")
    rule_file.write_text(first_rule.replace("severity:", "severty:", 1), encoding="utf-8")
    bad = CliRunner().invoke(cli, ["rules", "validate", "my-rules/"])
    assert bad.exit_code == 2
    assert bad.output == match.group(1)


FREE_FORM = {"fields", "teams", "hierarchy"}  # maps a site fills with its own names: the README shows their shape
FREE_FORM_KEYS = {("rules", "params"), ("rules", "severity")}  # rule id -> ...


def _config_keys(section, value, prefix=()):
    """Every key a site can set, dotted (`nudges.breaker.max_people`), from bot.config.DEFAULTS."""
    path = (*prefix, section)
    if isinstance(value, dict) and section not in FREE_FORM and path not in FREE_FORM_KEYS:
        for key, inner in value.items():
            yield from _config_keys(key, inner, path)
    else:
        yield ".".join(path)


def test_every_config_key_is_documented_and_every_documented_key_exists():
    """README.md or docs/*.md name each key of DEFAULTS as `section.key`; a `section.key` they name
    (outside file names and code paths) is a key of DEFAULTS. Merges added keys without docs before."""
    from bot.config import DEFAULTS

    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
    keys = [key for section, value in DEFAULTS.items() for key in _config_keys(section, value)]
    undocumented = [key for key in keys if not re.search(r"(?<![\w.])%s(?![\w])" % re.escape(key), text)]
    assert not undocumented, f"config keys no doc names (add them to docs/deploy.md, 'Every other key'): " \
                             f"{undocumented}"
    sections = "|".join(map(re.escape, DEFAULTS))
    unknown = set()
    for match in re.finditer(r"`((?:%s)(?:\.[a-z_]+)+)`" % sections, text):
        parts, value = match.group(1).split("."), DEFAULTS
        if parts[-1] in ("py", "md", "yaml", "yml", "json", "com"):
            continue  # a file (`digest.py`) or a host, not a key
        for part in parts:
            if not isinstance(value, dict) or parts[0] in FREE_FORM or tuple(parts[:2]) in FREE_FORM_KEYS:
                break
            if part not in value:
                unknown.add(match.group(1))
                break
            value = value[part]
    assert not unknown, f"the docs name config keys that do not exist: {sorted(unknown)}"


def test_readme_json_contract_names_every_key_scan_prints():
    """The README calls `scan --format json` a stable contract: every key the demo's output carries is listed."""
    import json

    from click.testing import CliRunner

    from bot.cli import cli

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r'```\n(\{"findings".*?)```', text, re.DOTALL).group(1)
    listed = set(re.findall(r'"(\w+)"', block))
    data = json.loads(CliRunner().invoke(cli, ["scan", "--now", "2026-11-16", "--format", "json"]).stdout)
    printed = set(data) | set(data["summary"]) | set(data["summary"]["feature_factory_ratio"])
    for finding in data["findings"]:
        printed |= set(finding)
    assert not printed - listed, f"keys `scan --format json` prints that the README's contract omits: " \
                                 f"{sorted(printed - listed)}"


def test_the_rule_guide_describes_every_key_a_rule_may_have():
    """docs/writing-rules.md's "The parts of a rule" table has a row per property of the rule schema."""
    from bot.engine.schema import rule_file_schema

    text = (ROOT / "docs" / "writing-rules.md").read_text(encoding="utf-8")
    table = text[text.index("## The parts of a rule"):].split("\n\n", 2)[1]
    described = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    allowed = set(rule_file_schema()["properties"]["rules"]["items"]["properties"])
    assert described == allowed, f"undescribed: {sorted(allowed - described)}; not keys: {sorted(described - allowed)}"

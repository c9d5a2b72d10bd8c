"""The cache of validated YAML (bot/yamlcache.py): a hit changes nothing but the time it takes.

Every test here turns the cache on (conftest turns it off for the rest of the suite) in a
folder of its own, and compares against the same run with the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import yamlcache
from bot.cli import cli
from bot.engine import load_rules
from bot.engine.loader import default_rule_paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.delenv("GOVBOT_NO_CACHE", raising=False)
    monkeypatch.setenv("GOVBOT_CACHE_DIR", str(folder))
    return folder


def scan(*args: str, cached: bool = True):
    env = {} if cached else {"GOVBOT_NO_CACHE": "1"}
    return CliRunner().invoke(cli, ["scan", "--now", "2026-11-16", "--format", "json", *args], env=env)


def no_validation(monkeypatch):
    """From here on, any parse or schema check fails the test: only the cache may answer."""
    def refuse(*args, **kwargs):
        raise AssertionError("parsed or validated although the cache holds this")

    for target in ("bot.engine.loader.validate", "bot.engine.loader.parse", "bot.config.validate",
                   "bot.config.parse", "bot.config._bad_places", "bot.engine.loader._sample_context"):
        monkeypatch.setattr(target, refuse)


def pack(tmp_path: Path) -> Path:
    """A copy of the bundled rule pack, to edit."""
    rules = tmp_path / "rules"
    shutil.copytree(default_rule_paths()[0], rules)
    return rules


def test_a_second_run_is_answered_by_the_cache_with_identical_findings(cache, tmp_path, monkeypatch):
    uncached = scan(cached=False)
    first = scan()
    assert first.exit_code == uncached.exit_code == 1, first.output
    entries = sorted(path.name.split("-")[0] for path in cache.iterdir())
    assert entries == ["config", "rules"]  # the demo's govbot.yaml and the bundled pack
    no_validation(monkeypatch)
    second = scan()
    assert second.exit_code == 1, second.output
    assert json.loads(second.stdout) == json.loads(first.stdout) == json.loads(uncached.stdout)


def test_cached_rules_are_the_same_rules(cache):
    fresh = load_rules()
    cached = load_rules()
    assert [rule.id for rule in cached.rules] == [rule.id for rule in fresh.rules]
    for old, new in zip(fresh.rules, cached.rules):
        assert (new.path, new.line, new.scope, new.params, new.owner, new.examples, new.docs, new.severity,
                new.enabled, new.family, new.message_source) == \
               (old.path, old.line, old.scope, old.params, old.owner, old.examples, old.docs, old.severity,
                old.enabled, old.family, old.message_source)
        assert new.fields() == old.fields()
        assert [(type(check), check.params) for check in new.condition.checks()] == \
               [(type(check), check.params) for check in old.condition.checks()]


def test_an_edited_rule_file_is_validated_again_and_its_error_said_as_without_cache(cache, tmp_path, monkeypatch):
    rules = pack(tmp_path)
    assert scan("--only-rules", str(rules)).exit_code == 1
    assert scan("--only-rules", str(rules)).exit_code == 1  # cached now
    target = sorted(rules.glob("*.yaml"))[0]
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("    severity:", "    severty:", 1), encoding="utf-8")
    cached = scan("--only-rules", str(rules))
    uncached = scan("--only-rules", str(rules), cached=False)
    assert cached.exit_code == uncached.exit_code == 2
    assert cached.output == uncached.output
    assert f"{target}:" in cached.output and "did you mean 'severity'?" in cached.output
    # Fixed again: the entry of the first text answers again, without a parse.
    target.write_text(text, encoding="utf-8")
    no_validation(monkeypatch)
    assert scan("--only-rules", str(rules)).exit_code == 1


def test_a_changed_config_setting_is_checked_again(cache, tmp_path):
    rules = pack(tmp_path)
    config = tmp_path / "govbot.yaml"
    config.write_text("rules:\n  disable: [anticipated-outcome-missing]\n", encoding="utf-8")
    assert scan("--only-rules", str(rules), "--config", str(config)).exit_code == 1
    config.write_text("rules:\n  disable: [anticipated-outcome-mising]\n", encoding="utf-8")
    cached = scan("--only-rules", str(rules), "--config", str(config))
    uncached = scan("--only-rules", str(rules), "--config", str(config), cached=False)
    assert cached.exit_code == uncached.exit_code == 2
    assert cached.output == uncached.output
    assert "govbot.yaml:2:" in cached.output and "did you mean 'anticipated-outcome-missing'?" in cached.output


def test_a_bad_govbot_yaml_after_a_good_one_still_exits_2_with_its_message(cache, tmp_path):
    config = tmp_path / "govbot.yaml"
    config.write_text("scan:\n  history_days: 90\n", encoding="utf-8")
    assert scan("--config", str(config), "--snapshot", str(ROOT / "tests/data/cloud_small.json")).exit_code == 1
    config.write_text("scan:\n  history_dayz: 90\n", encoding="utf-8")
    cached = scan("--config", str(config), "--snapshot", str(ROOT / "tests/data/cloud_small.json"))
    uncached = scan("--config", str(config), "--snapshot", str(ROOT / "tests/data/cloud_small.json"), cached=False)
    assert cached.exit_code == uncached.exit_code == 2
    assert cached.output == uncached.output
    assert "govbot.yaml:2:3" in cached.output and "history_days" in cached.output


def test_a_damaged_entry_is_ignored_and_written_again(cache, monkeypatch):
    first = scan()
    for entry in cache.iterdir():
        text = entry.read_bytes()
        entry.write_bytes(text[: len(text) // 2])  # cut short
    assert json.loads(scan().stdout) == json.loads(first.stdout)
    for entry in cache.iterdir():
        entry.write_bytes(entry.read_bytes().replace(b'"severity"', b'"severitx"'))  # changed, still JSON
    assert json.loads(scan().stdout) == json.loads(first.stdout)
    for entry in cache.iterdir():
        entry.write_bytes(b"\x00\xff not json at all")
    assert json.loads(scan().stdout) == json.loads(first.stdout)
    for entry in cache.iterdir():  # a checksum that fits, over JSON nested past the recursion limit
        raw = b"[" * 100_000 + b"]" * 100_000
        entry.write_bytes(json.dumps({"format": yamlcache.FORMAT, "sum": hashlib.sha256(raw).hexdigest()}).encode()
                          + b"\n" + raw)
    assert json.loads(scan().stdout) == json.loads(first.stdout)
    no_validation(monkeypatch)  # each damaged entry was replaced by a good one
    assert json.loads(scan().stdout) == json.loads(first.stdout)


def test_an_entry_of_another_version_or_for_other_text_is_not_used(cache, tmp_path):
    document = yamlcache.YamlDocument("a.yaml", "x: 1\n", {"x": 1}, {(): (1, 1), ("x",): (1, 4)}, {("x",): (1, 1)})
    key = yamlcache.key("config", yamlcache.text_hash(document.text))
    assert yamlcache.remember("config", key, [document])
    restored, _ = yamlcache.restore("config", key, {"a.yaml": "x: 1\n"})
    assert restored["a.yaml"].data == {"x": 1} and restored["a.yaml"].validated
    assert restored["a.yaml"].value_marks == document.value_marks
    assert yamlcache.restore("config", key, {"a.yaml": "x: 2\n"}) is None
    assert yamlcache.restore("config", key, {"b.yaml": "x: 1\n"}) is None
    entry = cache / f"config-{key}.json"
    header, _, raw = entry.read_bytes().partition(b"\n")
    body = json.loads(raw)
    body["govbot"] = "0.0.0-another"
    raw = json.dumps(body).encode()
    entry.write_bytes(json.dumps({"format": yamlcache.FORMAT, "sum": hashlib.sha256(raw).hexdigest()})
                      .encode() + b"\n" + raw)
    assert yamlcache.restore("config", key, {"a.yaml": "x: 1\n"}) is None


def test_data_json_cannot_carry_exactly_is_not_kept(cache):
    for data in ({1: "a number as a key"}, {"when": date(2026, 3, 31)}, {"x": float("nan")}):
        document = yamlcache.YamlDocument("a.yaml", "x\n", data)
        assert not yamlcache.remember("config", "k", [document])
    assert not cache.exists() or not list(cache.iterdir())


def test_entries_are_private_and_a_folder_that_cannot_be_written_only_means_no_cache(cache, tmp_path, monkeypatch):
    first = scan()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert {stat.S_IMODE(entry.stat().st_mode) for entry in cache.iterdir()} == {0o600}
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("GOVBOT_CACHE_DIR", str(blocked / "cache"))
    again = scan()
    assert again.exit_code == 1 and json.loads(again.stdout) == json.loads(first.stdout)
    assert not (blocked / "cache").exists()


def test_the_cache_can_be_turned_off_and_follows_xdg(cache, tmp_path, monkeypatch):
    monkeypatch.delenv("GOVBOT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert yamlcache.cache_dir() == tmp_path / "xdg" / "govbot"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert yamlcache.cache_dir() == tmp_path / "home" / ".cache" / "govbot"
    monkeypatch.setenv("GOVBOT_NO_CACHE", "1")
    assert yamlcache.cache_dir() is None
    scan()
    assert not (tmp_path / "home").exists()


DATED_RULE = """\
rules:
  - id: dated-outcome-missing
    title: Epic has no outcome
    severity: warning
    scope: {levels: [epic]}
    condition:
      missing: {field: Anticipated Outcome}
    message: "{{ issue.key }} has no outcome"
    docs: {what: w, why: w, example: e, fix: f}
    examples:
      fires:
        - {type: Epic, created: 2026-03-31}
      ok:
        - {type: Epic, created: 2026-03-31, fields: {Anticipated Outcome: More sales}}
"""


def test_a_rule_whose_examples_hold_plain_dates_is_cached_as_text(cache, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "dated.yaml").write_text(DATED_RULE, encoding="utf-8")
    fresh = load_rules([rules], include_bundled=False)
    assert fresh.rules[0].examples["fires"][0]["created"] == "2026-03-31"
    assert [entry.name.split("-")[0] for entry in cache.iterdir()] == ["rules"]
    no_validation(monkeypatch)
    cached = load_rules([rules], include_bundled=False)
    assert [rule.examples for rule in cached.rules] == [rule.examples for rule in fresh.rules]


def test_cache_files_are_json_never_pickle(cache):
    scan()
    for entry in cache.iterdir():
        header, _, body = entry.read_bytes().partition(b"\n")
        assert json.loads(header)["format"] == yamlcache.FORMAT
        json.loads(body)
    assert os.listdir(cache)


@pytest.fixture
def fresh_signature():
    """The code signature is worked out once per process: a test that breaks it forgets it after."""
    yield
    yamlcache.code_signature.cache_clear()


def test_code_that_cannot_be_fingerprinted_means_no_cache_and_the_same_findings(cache, fresh_signature, monkeypatch):
    uncached = scan(cached=False)

    def unlistable(folder):
        raise PermissionError(13, "Permission denied", folder)

    monkeypatch.setattr(yamlcache, "_modules", unlistable)
    yamlcache.code_signature.cache_clear()  # the uncached scan above worked it out already
    result = scan()
    assert result.exit_code == uncached.exit_code == 1
    assert json.loads(result.stdout) == json.loads(uncached.stdout)
    assert yamlcache.key("config", "x") is None
    assert not cache.exists() or not list(cache.iterdir())


@pytest.mark.parametrize("where", ["_documents", "_write", "_prune", "_plain"])
def test_an_unforeseen_error_inside_the_cache_is_a_miss_never_a_crash(cache, monkeypatch, where):
    """Whatever goes wrong in reading or writing an entry, the run is the run without a cache."""
    uncached = scan(cached=False)
    if where == "_documents":
        scan()  # entries to restore: the broken step is on the reading side
    calls = []

    def broken(*args, **kwargs):
        calls.append(where)
        raise RuntimeError(f"{where} broke")

    monkeypatch.setattr(yamlcache, where, broken)
    result = scan()
    assert calls, f"{where} was never reached: the test would prove nothing"
    assert result.exit_code == uncached.exit_code == 1, result.output
    assert json.loads(result.stdout) == json.loads(uncached.stdout)


def test_an_entry_whose_checksum_fits_but_whose_shape_is_wrong_is_a_miss(cache):
    document = yamlcache.YamlDocument("a.yaml", "x: 1\n", {"x": 1}, {(): (1, 1)}, {})
    key = yamlcache.key("config", yamlcache.text_hash(document.text))
    assert yamlcache.remember("config", key, [document])
    entry = cache / f"config-{key}.json"
    for body in ([], {"kind": "config", "key": key, "govbot": yamlcache.bot.__version__, "documents": {"a": 1}},
                 {"kind": "config", "key": key, "govbot": yamlcache.bot.__version__,
                  "documents": [{"path": "a.yaml", "sha256": yamlcache.text_hash("x: 1\n"), "data": {},
                                 "value_marks": [[1]], "key_marks": 7}]}):
        raw = json.dumps(body).encode()
        entry.write_bytes(json.dumps({"format": yamlcache.FORMAT, "sum": hashlib.sha256(raw).hexdigest()}).encode()
                          + b"\n" + raw)
        assert yamlcache.restore("config", key, {"a.yaml": "x: 1\n"}) is None


def test_no_home_at_all_means_no_cache_rather_than_a_folder_named_tilde(cache, tmp_path, monkeypatch):
    monkeypatch.delenv("GOVBOT_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("~")))  # HOME unset, no passwd entry
    assert yamlcache.cache_dir() is None
    monkeypatch.chdir(tmp_path)
    assert scan().exit_code == 1
    assert not (tmp_path / "~").exists()

"""Text that is not valid Unicode: a lone surrogate (``"Bulk \\ud800 import"``, a legal JSON
escape that no UTF-8 output can encode) or NUL (``"\\u0000"``, which PostgreSQL refuses).

Outcomes: such strings are repaired once, where JSON is decoded (a snapshot, a
live Jira answer), into U+FFFD, before the engine or the store sees them; every
command that printed or stored them and crashed with UnicodeEncodeError
(``scan --format json``, ``check``, ``nudge``, ``digest``, ``serve --once``) now
runs to its usual exit code. A snapshot without such an escape is never walked.
"""

from __future__ import annotations

import json
import random

import pytest
import yaml

from bot import escape
from bot.config import load_config
from bot.engine import load_rules
from bot.sources import snapshot as snapshot_module
from bot.sources.snapshot import load_snapshot
from tests.hostile.bounded import govbot
from tests.hostile.corpus import adf, issue

SUMMARY = "Bulk \ud800 import"  # json.dumps writes it as the escape "Bulk \\ud800 import"


def hostile_issues() -> list[dict]:
    return [
        issue("PAY-1", "Epic", summary=SUMMARY, description=adf("TBD \udfff", heading="Anticipated Outcome"),
              labels=["bad\udc80label"], assignee={"accountId": "a-1", "displayName": "Ann \ud83d",
                                                  "emailAddress": "ann@example.com"}),
        issue("PAY-2", "Epic", summary="NUL \u0000 inside", **{"customfield_\ud800": "odd field id"}),
        issue("PAY-3", "Epic", summary="An emoji written as a pair: \U0001F600"),  # a valid pair stays
    ]


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "snapshot.json"
    # ensure_ascii (the default) writes every non-ASCII character as an escape, as many export scripts do.
    path.write_text(json.dumps([{"issues": hostile_issues(), "names": {}}]), encoding="ascii")
    assert "\\ud800" in path.read_text()
    (tmp_path / "govbot.yaml").write_text(yaml.safe_dump({
        "store": {"url": str(tmp_path / "state.db")}, "service": {"health_port": False, "chat": False},
        "teams": {"default": {"channel": "#payments"}}}))
    return tmp_path


def test_a_snapshot_is_repaired_as_it_is_read(site):
    config = load_config(site / "govbot.yaml")
    workspace = load_snapshot(site / "snapshot.json", config, load_rules(None, config))
    first, second, third = (workspace.issues[key] for key in ("PAY-1", "PAY-2", "PAY-3"))
    assert first.summary == "Bulk \ufffd import"
    assert list(first.labels) == ["bad\ufffdlabel"]
    assert first.section("Anticipated Outcome") == "TBD \ufffd"
    assert second.summary == "NUL \ufffd inside"
    assert third.summary.endswith("\U0001F600")
    for item in workspace.issues.values():
        item.summary.encode("utf-8")  # raises on a surrogate


COMMANDS = {
    "scan json": ["scan", "--format", "json"],
    "scan text": ["scan"],
    "check": ["check", "PAY-1", "PAY-2", "--format", "json"],
    "check text": ["check", "PAY-1"],
    "nudge": ["nudge"],
    "digest": ["digest", "--format", "json"],
    "serve once": ["serve", "--once", "full-rescan"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_command_runs_to_its_usual_exit_on_invalid_text(site, command):
    done = govbot(*command, "--snapshot", str(site / "snapshot.json"), "--config", str(site / "govbot.yaml"),
                  "--now", "2026-11-16", timeout=60, cwd=site)
    assert "UnicodeEncodeError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), (done.returncode, done.stderr)  # clean or findings: never a crash
    if "json" in command and command[0] != "digest":  # the digest's JSON holds figures, not summaries
        data = json.loads(done.stdout)
        assert "Bulk \ufffd import" in json.dumps(data, ensure_ascii=False)


def test_a_live_jira_answer_is_repaired_before_the_engine_sees_it(tmp_path):
    from bot.sources.jira import JiraSource
    from tests.fakes.jira_server import JiraEmulator

    from tests.fakes.jira_server import RawJSON

    # The emulator serves these field values as written: the escapes reach govbot's decoder as Jira sends them.
    issues = [issue("PAY-1", "Epic", summary=RawJSON('"Bulk \\ud800 import"'),
                    assignee=RawJSON('{"accountId": "a-1", "displayName": "Ann \\ud83d"}')),
              issue("PAY-2", "Epic", summary=RawJSON('"NUL \\u0000 inside"'))]
    with JiraEmulator([{"issues": issues, "names": {"summary": "Summary"}}], flavour="cloud",
                      lifetime=60) as emulator:
        (tmp_path / "govbot.yaml").write_text(yaml.safe_dump({"jira": {"projects": ["PAY"]}}))
        config = load_config(tmp_path / "govbot.yaml", env={"JIRA_URL": emulator.url, "JIRA_EMAIL": "a@b.c",
                                                            "JIRA_API_TOKEN": "t"})
        source = JiraSource(config, sleep=lambda seconds: None, rng=random.Random(1))
        workspace = source.load(load_rules(None, config))
    assert workspace.issues["PAY-1"].summary == "Bulk \ufffd import"
    assert workspace.issues["PAY-2"].summary == "NUL \ufffd inside"
    assert workspace.issues["PAY-1"].assignee.display_name == "Ann \ufffd"


def test_only_issues_with_such_an_escape_are_walked(tmp_path, monkeypatch):
    calls = []
    real = escape.valid_json
    monkeypatch.setattr(snapshot_module, "valid_json", lambda value: calls.append(value) or real(value))
    config = load_config(None, search=False)
    clean = [issue(f"PAY-{n}", "Epic", summary=f"caf\u00e9 {n} \U0001F600") for n in range(1, 51)]
    path = tmp_path / "clean.json"
    path.write_text(json.dumps([{"issues": clean, "names": {}}]), encoding="ascii")  # escapes, but valid pairs
    load_snapshot(path, config)
    assert calls == []
    path.write_text(json.dumps([{"issues": clean + [issue("PAY-99", "Epic", summary=SUMMARY)], "names": {}}]),
                    encoding="ascii")
    workspace = load_snapshot(path, config)
    assert [value["key"] for value in calls] == ["PAY-99"]
    assert workspace.issues["PAY-99"].summary == "Bulk \ufffd import"


@pytest.mark.parametrize("value, expected", [
    ("Bulk \ud800 import", "Bulk \ufffd import"),
    ("\ud83d\ude00 pair as halves", "\U0001F600 pair as halves"),
    ("\ude00\ud83d reversed", "\ufffd\ufffd reversed"),
    ("nul\x00", "nul\ufffd"),
    ("plain", "plain"),
])
def test_valid_text(value, expected):
    assert escape.valid_text(value) == expected


def test_valid_json_walks_deep_values_without_recursion():
    value: list = ["\ud800"]
    for _ in range(100_000):
        value = [value]
    escape.valid_json(value)
    for _ in range(100_000):
        value = value[0]
    assert value == ["\ufffd"]


def test_nul_and_surrogates_reach_a_postgresql_store_repaired(site):
    """PostgreSQL refuses NUL in text outright (SQLite stores it): run the full rescan against it."""
    import os

    url = os.environ.get("GOVBOT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("needs GOVBOT_TEST_POSTGRES_URL (a throwaway PostgreSQL database)")
    from bot.store import Store
    from tests.test_store import reset_postgres

    reset_postgres(url)
    (site / "postgres.yaml").write_text(yaml.safe_dump({"store": {"url": url},
                                                        "service": {"health_port": False, "chat": False}}))
    done = govbot("serve", "--once", "full-rescan", "--snapshot", str(site / "snapshot.json"), "--config",
                  str(site / "postgres.yaml"), "--now", "2026-11-16", timeout=60, cwd=site)
    assert done.returncode == 0, done.stderr
    with Store(url) as store:
        summaries = {state.issue: state.summary for state in store.finding_states().values()}
    assert summaries["PAY-1"] == "Bulk \ufffd import" and summaries["PAY-2"] == "NUL \ufffd inside"


@pytest.mark.parametrize("kind", ["json", "text"])
def test_a_log_line_with_a_lone_surrogate_is_written_not_lost(kind, capsys):
    """A summary with a lone surrogate in a log message or an exception text: the line is written
    (the surrogate escaped or replaced), not dropped with a "--- Logging error ---" traceback."""
    import io
    import logging

    from bot.logs import JsonFormatter, TextFormatter

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if kind == "json" else TextFormatter())
    logger = logging.getLogger(f"govbot.test.surrogates.{kind}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"cannot read {SUMMARY}")
        except ValueError:
            logger.exception("scan of %s failed", SUMMARY, extra={"issue": SUMMARY})
    finally:
        logger.removeHandler(handler)
    written = raw.getvalue().decode("utf-8")
    assert "Logging error" not in capsys.readouterr().err
    assert "scan of Bulk" in written and "import failed" in written
    if kind == "json":
        entry = json.loads(written.splitlines()[0])
        assert entry["message"].startswith("scan of Bulk") and "ValueError" in entry["error"]

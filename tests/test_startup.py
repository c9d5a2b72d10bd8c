"""Start-up stays quick: `govbot --help` imports no command, a scan no store, Slack, Jira or scheduler,
and a small scan whose rule pack validated before no YAML parser, validator or (without findings) Jinja.

Checked by the modules a fresh interpreter has loaded, not by wall time, which
depends on the machine: SQLAlchemy alone was a third of a small scan's start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

import bot
from bot.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "jira", "slack_sdk", "slack_bolt", "apscheduler", "requests", "jinja2", "jsonschema")

# Reported by an exit handler: a one-shot scan ends its process inside main() (bot.commands.common.end_process).
PROBE = """
import atexit, json, sys
from bot.cli import main

@atexit.register
def report():
    sys.stdout.flush()
    loaded = sorted({name.split(".")[0] for name in sys.modules} | {name for name in sys.modules if name.startswith("bot.")})
    sys.stderr.write("\\nLOADED " + json.dumps(loaded) + "\\n")

sys.argv = ["govbot", *json.loads(sys.argv[1])]
main()
"""


def loaded_by(args: list[str], cwd, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env=env)
    line = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert line, done.stderr
    return set(json.loads(line[-1][len("LOADED "):]))


def test_help_imports_no_command_and_no_heavy_dependency(tmp_path):
    loaded = loaded_by(["--help"], tmp_path)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not {name for name in loaded if name.startswith("bot.commands.")}


def test_a_scan_without_a_store_file_imports_no_store_slack_jira_or_scheduler(tmp_path):
    loaded = loaded_by(["scan", "--now", "2026-03-31"], tmp_path)
    assert "bot.runs.scan" in loaded  # the scan did run
    unwanted = {"sqlalchemy", "jira", "slack_sdk", "slack_bolt", "apscheduler"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def cached(tmp_path) -> dict[str, str]:
    """The environment of a run with the cache of validated YAML (bot/yamlcache.py) on, in tmp_path."""
    env = {name: value for name, value in os.environ.items() if name != "GOVBOT_NO_CACHE"}
    env["GOVBOT_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def small_snapshot(tmp_path, count: int = 10) -> str:
    """The demo's first issues (a theme, initiatives, an epic, stories: no finding), as one search response."""
    page = json.loads((Path(bot.__file__).parent / "demo" / "workspace.json").read_text(encoding="utf-8"))[0]
    page = {**page, "issues": page["issues"][:count], "isLast": True}
    page.pop("nextPageToken", None)
    path = tmp_path / "small.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    return str(path)


def test_a_small_scan_whose_rules_were_validated_before_loads_no_parser_validator_or_jinja(tmp_path):
    """The second scan reads the rule pack from the cache: no PyYAML, no jsonschema; with no finding to
    word, no Jinja either. (The first run parses and validates, as any run without a cache does.)"""
    args = ["scan", "--snapshot", small_snapshot(tmp_path), "--now", "2026-11-16"]
    first = loaded_by(args, tmp_path, cached(tmp_path))
    assert {"yaml", "jsonschema", "jinja2"} <= first
    loaded = loaded_by(args, tmp_path, cached(tmp_path))
    assert "bot.runs.scan" in loaded
    unwanted = {"yaml", "jsonschema", "jinja2", "sqlalchemy", "jira", "requests", "slack_sdk", "slack_bolt",
                "apscheduler"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_a_demo_scan_from_the_cache_loads_jinja_for_its_findings_but_no_parser_or_validator(tmp_path):
    loaded_by(["scan", "--now", "2026-11-16"], tmp_path, cached(tmp_path))
    loaded = loaded_by(["scan", "--now", "2026-11-16"], tmp_path, cached(tmp_path))
    assert "jinja2" in loaded  # the findings' messages are rendered, and only their rules' templates compiled
    unwanted = {"yaml", "jsonschema", "sqlalchemy", "jira", "requests"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_the_listed_summaries_are_the_commands_own():
    """``COMMANDS`` repeats each command's summary so --help need not import it; they must not drift."""
    context = click.Context(cli)
    for name, (module, attribute, summary) in COMMANDS.items():
        command = __import__(module, fromlist=[attribute]).__dict__[attribute]
        assert command.get_short_help_str(200) == summary, name
        assert command.help.strip().splitlines()[0] == summary, f"{name}: its --help opens differently"
        assert cli.get_command(context, name) is command


def test_only_a_plainly_missing_sqlite_file_counts_as_no_store(tmp_path):
    from bot.store.location import missing_sqlite_file

    existing = tmp_path / "govbot.db"
    existing.write_bytes(b"")
    assert missing_sqlite_file(f"sqlite:///{tmp_path / 'absent.db'}")
    assert missing_sqlite_file(f"sqlite:///{tmp_path / 'absent.db'}?timeout=5")
    assert not missing_sqlite_file(f"sqlite:///{existing}")
    for unsure in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory", "postgresql://h/db",
                   f"sqlite+pysqlite:///{tmp_path / 'absent.db'}", f"sqlite:///{tmp_path / 'a%20b.db'}"):
        assert not missing_sqlite_file(unsure), unsure


FREEZE_PROBE = """
import atexit, gc, sys
from bot.cli import main
atexit.register(lambda: sys.stderr.write(f"\\nFROZEN {gc.get_freeze_count()} ENABLED {gc.isenabled()}\\n"))
sys.argv = ["govbot", *sys.argv[1:]]
main()
"""


def test_a_one_shot_command_freezes_what_it_built_and_a_host_process_does_not(tmp_path):
    """After a scan the collector need not walk the workspace again (it did, once, during output)."""
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE, "scan", "--now", "2026-03-31"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    frozen = int(done.stderr.rsplit("FROZEN ", 1)[1].split()[0])
    assert frozen > 1000, done.stderr[-2000:]
    assert "ENABLED True" in done.stderr  # paused while the command was imported, and on again

    import gc

    from click.testing import CliRunner

    before = gc.get_freeze_count()
    CliRunner().invoke(cli, ["scan", "--now", "2026-03-31"])
    assert gc.get_freeze_count() == before  # a test runner (or any host) lives on: nothing frozen


# Code after main() runs when a command returns or raises SystemExit, not when it ends the process.
END_PROBE = """
import atexit, sys
from bot.cli import main
atexit.register(lambda: sys.stderr.write("EXIT HANDLERS RAN\\n"))
sys.argv = ["govbot", *sys.argv[1:]]
try:
    main()
finally:
    sys.stderr.write("UNWOUND: the workspace is freed now\\n")
"""


def test_a_one_shot_scan_ends_without_freeing_what_it_built_but_writes_its_whole_report(tmp_path):
    done = subprocess.run([sys.executable, "-c", END_PROBE, "scan", "--now", "2026-03-31", "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    report = json.loads(done.stdout)  # flushed to the last byte
    assert report["findings"] and done.returncode == 1  # the demo has errors: exit 1, as before
    assert "EXIT HANDLERS RAN" in done.stderr
    assert "UNWOUND" not in done.stderr, done.stderr[-2000:]

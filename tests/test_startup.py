"""Start-up stays quick: `govbot --help` imports no command, a scan no store, Slack, Jira or scheduler.

Checked by the modules a fresh interpreter has loaded, not by wall time, which
depends on the machine: SQLAlchemy alone was a third of a small scan's start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click

from bot.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "jira", "slack_sdk", "slack_bolt", "apscheduler", "requests", "jinja2", "jsonschema")

PROBE = """
import json, sys
from bot.cli import main
try:
    sys.argv = ["govbot", *json.loads(sys.argv[1])]
    main()
except SystemExit:
    pass
finally:
    sys.stdout.flush()
    loaded = sorted({name.split(".")[0] for name in sys.modules} | {name for name in sys.modules if name.startswith("bot.")})
    sys.stderr.write("\\nLOADED " + json.dumps(loaded) + "\\n")
"""


def loaded_by(args: list[str], cwd) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)
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
import gc, sys
from bot.cli import main
sys.argv = ["govbot", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write(f"\\nFROZEN {gc.get_freeze_count()}\\n")
"""


def test_a_one_shot_command_freezes_what_it_built_and_a_host_process_does_not(tmp_path):
    """After a scan the collector need not walk the workspace again (it did, once, during output)."""
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE, "scan", "--now", "2026-03-31"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    frozen = int(done.stderr.rsplit("FROZEN ", 1)[1].split()[0])
    assert frozen > 1000, done.stderr[-2000:]

    import gc

    from click.testing import CliRunner

    before = gc.get_freeze_count()
    CliRunner().invoke(cli, ["scan", "--now", "2026-03-31"])
    assert gc.get_freeze_count() == before  # a test runner (or any host) lives on: nothing frozen

"""A bug in govbot ends with one line and exit 2, never a traceback and never exit 1 (which means findings)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

# Runs `govbot scan` as the program does, with the report renderer broken the way a bug would break it.
PROBE = """
import sys

def broken(*args, **kwargs):
    raise KeyError("customfield_10010 <secret-looking> detail")

import bot.commands.scan as command
command.render_text = broken  # the command holds its own reference
sys.argv = ["govbot", "scan", "--now", "2026-11-16"]
from bot.cli import main
main()
"""


def run(folder, **env_extra: str) -> subprocess.CompletedProcess:
    """The probe in ``folder`` (no govbot.yaml or store of the caller's), without GOVBOT_ or JIRA_ settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GOVBOT_", "JIRA_", "SLACK_"))}
    env.update(GOVBOT_NO_CACHE="1", PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=folder,
                          timeout=120)


def test_a_bug_is_one_line_exit_2_and_says_where(tmp_path):
    done = run(tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("govbot: internal error (a bug in govbot, not in your input): KeyError:")
    assert "Traceback" not in done.stderr
    assert "GOVBOT_TRACEBACK=1" in lines[0]
    assert " at bot/commands/scan.py:" in lines[0]  # the deepest line of govbot's own


def test_the_traceback_is_there_when_asked_for(tmp_path):
    done = run(tmp_path, GOVBOT_TRACEBACK="1")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("govbot: internal error")

"""Cheap restarts for kill loops: import govbot once, then fork one real process per command.

A kill loop starts `govbot nudge --apply` a hundred times. Python start-up and
importing govbot's dependencies (slack-sdk, SQLAlchemy, Jinja, the rule
loader) take about a second each time, far more than a small run itself.
This server pays that once: it imports everything, then for each request
forks a child that runs the command line exactly as ``python -m bot`` would,
in its own folder, environment and output file. The child is a real process
with nothing in memory from earlier runs (only from imports): it can be
SIGKILLed at any moment, and all it leaves behind is what it wrote to the
store and to Slack, like any killed run.

Protocol, one JSON object per line. Request on standard input:
``{"argv": [...], "cwd": "...", "env": {...}, "out": "path"}``; answers on
standard output: ``{"pid": N}`` as soon as the child runs, then
``{"pid": N, "status": S}`` (``os.waitpid`` status) when it ends. One command
at a time.

Run as ``python tests/faults/forkserver.py`` with the repository on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _warm() -> None:
    """Import what a nudge run imports, so children start with it loaded."""
    import bot.cli  # noqa: F401 - registers every command
    import bot.commands.nudge  # noqa: F401
    import bot.deliver.comments  # noqa: F401
    import bot.deliver.run  # noqa: F401
    import bot.deliver.slack_client  # noqa: F401
    import bot.runs.nudge  # noqa: F401
    import bot.sources.jira  # noqa: F401
    import bot.store  # noqa: F401
    import slack_sdk.web  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401


def _child(request: dict) -> None:
    code = 70
    try:
        fd = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from bot.cli import cli

        try:
            cli.main(args=request["argv"], prog_name="govbot")
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 - a crash must show in the output file, not vanish
        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    _warm()
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            answers.close()
            _child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"pid": pid, "status": status}) + "\n")


if __name__ == "__main__":
    main()

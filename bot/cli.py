"""The ``govbot`` command: parse arguments, call the pipeline, choose exit codes.

Each command lives in ``bot/commands/<name>.py``; this module only assembles them.
Commands are imported when they run, not when ``govbot`` starts: importing all of
them pulls in SQLAlchemy, Slack, Jinja and the scheduler, which made ``govbot
--help`` take most of a second. ``COMMANDS`` carries each command's one-line
summary so ``--help`` lists them without importing any (a test keeps the
summaries equal to the commands' own).
"""

from __future__ import annotations

import gc
import importlib
from typing import NoReturn

import click

from bot import __version__

# name -> (module, attribute, one-line summary shown by `govbot --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "scan": ("bot.commands.scan", "scan", "Scan issues and report rule findings."),
    "check": ("bot.commands.check", "check", "Show every rule's verdict on some issues, passes included."),
    "rules": ("bot.commands.rules", "rules", "List, explain, validate and test rules."),
    "doctor": ("bot.commands.doctor", "doctor", "Check that govbot can read Jira as configured."),
    "nudge": ("bot.commands.nudge", "nudge", "Nudge owners about their findings (dry run unless --apply)."),
    "preview": ("bot.commands.nudge", "preview", "Count the messages a rule set would send today."),
    "digest": ("bot.commands.digest", "digest", "Write the weekly hygiene digest per team, and a dashboard."),
    "serve": ("bot.commands.serve", "serve", "Run the service: scheduled jobs, /govbot in Slack, /healthz."),
    "init": ("bot.commands.init", "init", "Write a commented starter govbot.yaml."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; listing them imports nothing."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            # Only when run as the `govbot` program (main() names it so), never inside a test
            # runner or another host process that lives on after the command.
            one_shot = name != "serve" and ctx.info_name == "govbot"
            if one_shot:
                from bot.model import one_shot_process

                one_shot_process()  # the process ends with this command: see bot.model.bulk
            module, attribute, _ = COMMANDS[name]
            paused = one_shot and gc.isenabled()
            if paused:
                # Importing a command makes tens of thousands of objects that live as long as the
                # process; the cycle collector walked them 30-odd times (a tenth of a small scan's
                # CPU). Paused while they are made, then frozen out of its sight, as bot.model.bulk
                # does for a workspace.
                gc.disable()
            try:
                self.add_command(getattr(importlib.import_module(module), attribute), name)
            finally:
                if paused:
                    gc.freeze()
                    gc.enable()
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2] if name in COMMANDS and name not in self.commands
                 else self.commands[name].get_short_help_str(formatter.width))
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="govbot")
def cli() -> None:
    """govbot keeps outcome-driven delivery hygiene visible in Jira.

    It checks Epics and Initiatives for an anticipated outcome, closes the loop
    on delivered work, tracks technical debt agreements and flags misuse of the
    work hierarchy, then nudges the one person who can fix each item.

    Start with `govbot scan` (it scans the bundled demo when nothing is configured).
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration
    error, 3 Jira, Slack or the state store unavailable, 4 scan incomplete.
    """
    # Everything the process prints (messages, reports, logs, tracebacks) passes the secret filter.
    from bot.redact import install_streams

    install_streams()


def main() -> None:
    try:
        cli(prog_name="govbot")
    except Exception as error:  # noqa: BLE001 - a bug of govbot's: one line and exit 2, as for any error
        internal_error(error)


def internal_error(error: BaseException) -> NoReturn:
    """Say that govbot itself failed, where, and how to see more; exit 2 (never 1, which means findings).

    Every problem a user can fix is a GovbotError with its own message (bot/errors.py); anything
    else reaching here is a bug, and a traceback would look like a report of their input.
    """
    import os
    import sys
    import traceback

    from bot.errors import EXIT_ERROR

    if os.environ.get("GOVBOT_TRACEBACK", "").strip() not in ("", "0"):
        traceback.print_exception(error, file=sys.stderr)
    frames = traceback.extract_tb(error.__traceback__)
    package = os.path.dirname(os.path.abspath(__file__))
    ours = [frame for frame in frames if frame.filename.startswith(package + os.sep)]
    # The deepest frame of govbot's own: the line to report (a library's frame says less).
    where = (f" at bot/{os.path.relpath(ours[-1].filename, package)}:{ours[-1].lineno}" if ours else "")
    detail = str(error).splitlines()[0][:300] if str(error) else ""
    click.echo(f"govbot: internal error (a bug in govbot, not in your input): {type(error).__name__}"
               f"{': ' + detail if detail else ''}{where}. Set GOVBOT_TRACEBACK=1 to see the traceback, "
               "and please report it.", err=True)
    sys.exit(EXIT_ERROR)

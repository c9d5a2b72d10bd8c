"""The ``govbot`` command: parse arguments, call the pipeline, choose exit codes.

Each command lives in ``bot/commands/<name>.py``; this module only assembles them.
"""

from __future__ import annotations

import click

from bot import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="govbot")
def cli() -> None:
    """govbot keeps outcome-driven delivery hygiene visible in Jira.

    It checks Epics and Initiatives for an anticipated outcome, closes the loop
    on delivered work, tracks technical debt agreements and flags misuse of the
    work hierarchy, then nudges the one person who can fix each item.

    Start with `govbot scan` (it scans the bundled demo when nothing is configured).
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration
    error, 3 Jira or Slack unreachable, 4 scan incomplete.
    """
    # Everything the process prints (messages, reports, logs, tracebacks) passes the secret filter.
    from bot.redact import install_streams

    install_streams()


# One-line summaries for `govbot --help`, for commands whose decorators do not declare one
# (Click would otherwise cut the docstring's first sentence short with "...").
def _register() -> None:
    from bot.commands import check, digest, doctor, init, nudge, rules, scan, serve

    for command in (scan.scan, check.check, rules.rules, doctor.doctor, nudge.nudge, nudge.preview,
                    digest.digest, serve.serve, init.init):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="govbot")

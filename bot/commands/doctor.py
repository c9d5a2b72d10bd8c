"""`govbot doctor`: check the Jira connection, credentials, permissions, fields and scope; then Slack."""

from __future__ import annotations

import json
import sys

import click

from bot.commands.common import config_option, get_config, handle_errors, is_terminal
from bot.doctor import FAIL, OK, SKIP, WARN, problems, run_doctor, slack_doctor
from bot.errors import EXIT_CLEAN, EXIT_ERROR, GovbotError
from bot.escape import terminal_safe as safe_text

_MARKS = {OK: ("ok", "green"), WARN: ("warn", "yellow"), FAIL: ("FAIL", "red"), SKIP: ("skip", None)}


@click.command()
@config_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: every step as data, for scripts and CI.")
@handle_errors
def doctor(config_path, output_format):
    """Check that govbot can read Jira as configured.

    URL reachable, credentials accepted, Browse and Add Comments permissions,
    the projects, the fields the rules read (and their ids), and how many
    issues the scope holds. With SLACK_BOT_TOKEN set, Slack too: the token, its
    scopes, and which mode settles a post an interrupted run left in doubt
    (proof from Slack's history, or a resend marked "in case you missed this").

    \b
    Exit codes:
      0  everything works
      2  something must be fixed first
    """
    config = get_config(config_path)
    try:
        from bot.engine import load_rules

        ruleset = load_rules(None, config)
    except GovbotError:
        ruleset = None  # `govbot rules validate` reports rule errors; here they only narrow the field list
    steps = run_doctor(config, ruleset) + slack_doctor(config)
    failed = problems(steps)
    if output_format == "json":
        click.echo(json.dumps({"ok": failed == 0, "checks": [step.to_json() for step in steps]}, indent=2))
    else:
        colour = is_terminal()
        width = max(len(step.name) for step in steps)
        for step in steps:
            word, fg = _MARKS[step.status]
            mark = click.style(f"{word:<4}", fg=fg, bold=step.status == FAIL) if colour and fg else f"{word:<4}"
            click.echo(f"  {mark}  {step.name:<{width}}  {safe_text(step.detail)}")
            if step.hint and step.status != OK:
                click.echo(f"  {'':<4}  {'':<{width}}  help: {step.hint}")
        warnings = sum(1 for step in steps if step.status == WARN)
        if failed:
            summary = f"{failed} problem{'s' if failed != 1 else ''} to fix"
        else:
            summary = "all good" + (f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else "")
        click.echo(summary)
    sys.exit(EXIT_ERROR if failed else EXIT_CLEAN)

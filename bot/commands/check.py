"""`govbot check KEY...`: every rule's verdict on a few issues, now, passes included.

The run lives in ``bot.runs.check`` and its rendering in ``bot.render.check``,
shared with ``/govbot check`` in Slack; this module parses the arguments and picks the exit code.
"""

from __future__ import annotations

import sys

import click

from bot.commands.common import (all_history_option, config_option, handle_errors, is_terminal, now_option,
                                 parse_now, say_incomplete)
from bot.commands.scan import DEMO_NOTE, fail_on_option, format_option, rules_option, snapshot_option
from bot.errors import EXIT_ERROR
from bot.render.check import RENDERERS, render_text
from bot.runs.check import check_issues, parse_keys
from bot.runs.inputs import load_inputs


@click.command(short_help="Show every rule's verdict on some issues, passes included.")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@snapshot_option
@rules_option
@config_option
@format_option
@now_option
@fail_on_option
@all_history_option
@handle_errors
def check(keys, snapshot, rule_paths, only_rule_paths, config_path, output_format, now_text, fail_on, all_history):
    """Show every rule's verdict on some issues, passes included.

    Reads the issues from live Jira with the parents and children the rules
    look at (or from --snapshot, or the bundled demo when nothing is
    configured). Every waiver applies: labels, the waiver file (waivers.file)
    and waivers given with /govbot waive. `/govbot check KEY` in Slack gives
    the same verdicts.

    \b
    Exit codes, as for `scan`:
      0  clean: no unwaived finding at or above --fail-on
      1  a finding at or above --fail-on
      2  usage or configuration error, bad credentials, a wrong or unknown Jira
         host, or an issue that cannot be found
      3  Jira or the state store unavailable (after retries)
      4  some issues or their relatives could not be read

    \b
    Examples:
      govbot check PAY-123
      govbot check PAY-123 PAY-124 --format json
      govbot check PAY-1 --snapshot export.json --now 2026-03-31
    """
    now = parse_now(now_text)
    wanted = parse_keys(keys)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    inputs.config.all_history = all_history
    if inputs.demo:
        click.echo(DEMO_NOTE, err=output_format == "json")
    checked = check_issues(inputs, wanted, now, snapshot=snapshot)
    if checked.found:
        if output_format == "text":
            click.echo(render_text(checked, colour=is_terminal()))
        else:
            click.echo(RENDERERS[output_format](checked), nl=output_format == "json")
    if checked.missing:
        click.echo(f"govbot: {checked.missing_message()}", err=True)
        sys.exit(EXIT_ERROR)
    code = checked.batch.exit_code(fail_on)
    say_incomplete("check", checked.batch, code)
    sys.exit(code)

"""`govbot nudge` and `govbot preview`: findings that reach people.

Both run the same pipeline as `govbot scan`, then the delivery policy. Dry run
is the default: `nudge` prints exactly the messages it would send (per person,
the Block Kit text) and `preview` counts them per person and per rule, so a new
rule can be tried before it speaks. Only `nudge --apply` sends, and never for
the bundled demo.
"""

from __future__ import annotations

import json
import sys

import click

from bot.commands.common import all_history_option, config_option, handle_errors, now_option, parse_now
from bot.commands.scan import rules_option, snapshot_option
from bot.errors import UsageError
from bot.escape import terminal_safe, terminal_safe_json
from bot.render.nudge import preview_table, render_nudge_report, render_preview
from bot.runs.inputs import load_inputs
from bot.runs.nudge import preview as preview_run
from bot.runs.nudge import raise_for_credentials, scan_and_nudge
from bot.store import open_store

format_option = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Output format; json lists every message as Block Kit data.")
preview_format_option = click.option("--format", "output_format", type=click.Choice(["text", "json"]),
                                     default="text", show_default=True,
                                     help="Output format; json gives the table's rows (to, kind, rule, findings).")


@click.command(short_help="Nudge owners about their findings (dry run unless --apply).")
@click.option("--apply", is_flag=True, help="Send the messages (needs SLACK_BOT_TOKEN). Default: dry run.")
@snapshot_option
@rules_option
@config_option
@now_option
@format_option
@click.option("--override-breaker", is_flag=True,
              help="Send even if the circuit breaker would hold this run (after checking `govbot preview`).")
@click.option("--no-comments", is_flag=True, help="Do not write Jira comments in this run.")
@handle_errors
def nudge(apply, snapshot, rule_paths, only_rule_paths, config_path, now_text, output_format, override_breaker,
          no_comments):
    """Nudge owners about their findings (dry run unless --apply).

    On Slack, and as a comment in Jira where rules opt in.

    At most one message per person per run, grouping all of their new or due
    findings; reminders are spaced out and capped, then the team channel hears
    instead. Without --apply nothing is sent: the messages are printed.

    \b
    Exit codes:
      0  done
      1  held by the circuit breaker
      2  usage, configuration or credential error
      3  Slack, Jira or the state store unavailable (messages stay queued for the next run)
      4  the scan could not read everything (what it could was sent;
         it says what was not)

    \b
    Examples:
      govbot nudge --snapshot export.json --now 2026-03-31
      govbot nudge --apply
    """
    now = parse_now(now_text)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    config = inputs.config
    if apply and inputs.demo:
        raise UsageError("the bundled demo never posts: --apply needs a config file, --snapshot or Jira",
                         hint="run `govbot nudge` without --apply to see what the demo would send")
    store = open_store(config, dry_run=not apply)
    try:
        run = scan_and_nudge(inputs, now, store, apply=apply, snapshot=snapshot,
                             include_comments=not no_comments, override_breaker=override_breaker)
    finally:
        store.close()
    report, notes = run.report, run.notes
    report.notes[:0] = notes
    if inputs.demo:
        report.notes.insert(0, "Using the bundled demo workspace; it never posts.")
    if output_format == "json":
        click.echo(terminal_safe_json(json.dumps(report.to_json(), indent=2, ensure_ascii=False)))
    else:
        click.echo(render_nudge_report(report, store_display=store.display, demo=inputs.demo))
    raise_for_credentials(report)
    problem = report.problem()
    if problem:
        click.echo(f"govbot: {terminal_safe(problem)}", err=True)
    sys.exit(report.exit_code)


@click.command(short_help="Count the messages a rule set would send today.")
@snapshot_option
@rules_option
@config_option
@now_option
@preview_format_option
@all_history_option
@handle_errors
def preview(snapshot, rule_paths, only_rule_paths, config_path, now_text, output_format, all_history):
    """Count the messages a rule set would send today.

    Per person and per rule.
    Nothing is sent and nothing is recorded. Use it to try a new rule before it
    speaks: `govbot preview --rules my-new-rule.yaml`.
    """
    now = parse_now(now_text)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    inputs.config.all_history = all_history
    store = open_store(inputs.config, dry_run=True)
    try:
        report = preview_run(inputs, now, store, snapshot=snapshot)
    finally:
        store.close()
    table = preview_table(report)
    if output_format == "json":
        click.echo(terminal_safe_json(json.dumps(table, indent=2, ensure_ascii=False)))
        return
    click.echo(render_preview(table, report))

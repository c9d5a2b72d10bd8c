"""`govbot scan`: apply the rules to a snapshot, live Jira, or the bundled demo."""

from __future__ import annotations

import sys
import time

import click

from bot.commands.common import (all_history_option, config_option, end_process, handle_errors, is_terminal,
                                 now_option, parse_now, say_incomplete)
from bot.errors import UsageError
from bot.escape import terminal_safe
from bot.render.scan import RENDERERS, render_text
from bot.runs.inputs import load_inputs
from bot.runs.scan import run_scan


class StatusLine:
    """Progress of a long read, rewritten in place on a terminal's stderr (never on a pipe or in CI logs)."""

    def __init__(self, stream=None, interval: float = 0.2):
        self.stream = stream or sys.stderr
        self.interval = interval
        self.shown = 0
        self.last = 0.0

    def __call__(self, message: str) -> None:
        moment = time.monotonic()
        if moment - self.last < self.interval:
            return
        self.last = moment
        text = terminal_safe(message)[:100]
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = len(text)

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()


DEMO_NOTE = "Scanning the bundled demo workspace (no --snapshot, config file or Jira given)."

format_option = click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)), default="text",
                             show_default=True, help="Output format; json is the stable machine contract.")
fail_on_option = click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]),
                              default="error", show_default=True,
                              help="Exit 1 when an unwaived finding is at or above this severity.")
def rules_option(function):
    """``--rules PATH`` adds rule files to the bundled pack; ``--only-rules PATH`` replaces the pack."""
    function = click.option("--only-rules", "only_rule_paths", multiple=True, type=click.Path(), metavar="PATH",
                            help="Use these rule files or folders instead of the bundled pack (repeatable).")(function)
    return click.option("--rules", "rule_paths", multiple=True, type=click.Path(), metavar="PATH",
                        help="Add a rule file or folder to the bundled pack and rules.paths (repeatable).")(function)
snapshot_option = click.option("--snapshot", type=click.Path(dir_okay=False), metavar="FILE",
                               help="JSON saved from Jira's search API (one response or a list of pages).")


@click.command()
@snapshot_option
@rules_option
@config_option
@format_option
@now_option
@fail_on_option
@click.option("--jql", default=None, help="Scan this JQL instead of the configured scope (live Jira only).")
@click.option("--show-waived", is_flag=True, help="List waived findings too (text format).")
@all_history_option
@handle_errors
def scan(snapshot, rule_paths, only_rule_paths, config_path, output_format, now_text, fail_on, jql, show_waived, all_history):
    """Scan issues and report rule findings.

    With no --snapshot, no config file and no Jira configured, scans the bundled
    demo workspace. A scan always reads everything in scope and records nothing.

    \b
    Exit codes:
      0  clean: no unwaived finding at or above --fail-on
      1  a finding at or above --fail-on
      2  usage or configuration error (a wrong Jira URL included)
      3  Jira or the state store unavailable (after retries)
      4  the scan could not read everything

    \b
    Examples:
      govbot scan
      govbot scan --snapshot export.json --format json --now 2026-03-31
      govbot scan --rules my-rules/ --fail-on warning    # the bundled pack plus my rules
      govbot scan --snapshot export.json --all-history
    """
    now = parse_now(now_text)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    inputs.config.all_history = all_history
    if jql and (snapshot or inputs.demo):
        # A query the read would ignore: scanning everything instead would report on the wrong issues.
        raise UsageError("--jql queries live Jira; a snapshot or the bundled demo is read whole",
                         hint="drop --jql, or scan live Jira (jira.url in govbot.yaml)")
    if inputs.demo:
        click.echo(DEMO_NOTE, err=output_format == "json")
    status = StatusLine() if is_terminal(sys.stderr) else None
    try:
        batch = run_scan(inputs, now, snapshot=snapshot, jql=jql, progress=status)
    finally:
        if status is not None:
            status.close()
    if output_format == "text":
        click.echo(render_text(batch, colour=is_terminal(), show_waived=show_waived))
    else:
        click.echo(RENDERERS[output_format](batch), nl=output_format != "markdown")
    code = batch.exit_code(fail_on)
    if output_format != "text" or not (is_terminal() and is_terminal(sys.stderr)):
        say_incomplete("scan", batch, code)  # the text report on the same terminal has said it already
    end_process(code)

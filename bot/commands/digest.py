"""`govbot digest`: the weekly hygiene digest per team and for the organisation.

The run itself (scan, record, dashboard, post) is ``bot.runs.digest.run_digest``,
shared with the service's weekly job; this module adds the options and the output.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from bot.commands.common import config_option, handle_errors, now_option, parse_now, say_incomplete
from bot.commands.scan import DEMO_NOTE, rules_option, snapshot_option
from bot.digest import render
from bot.digest.figures import Digests
from bot.digest.slack import SlackMessage
from bot.errors import UsageError
from bot.escape import terminal_safe_json
from bot.runs.digest import NOT_RECORDED, DigestRun, prepare_dashboard_folder, run_digest, slack_client
from bot.runs.inputs import DEMO_CONFIG, load_inputs
from bot.store import Store, open_store

RENDERERS = {"text": render.render_text, "markdown": render.render_markdown, "json": render.render_json}
FORMATS = [*RENDERERS, "slack"]  # slack: the Block Kit payloads, exactly as they would be posted


@click.command(short_help="Write the weekly hygiene digest per team, and a dashboard.")
@snapshot_option
@rules_option
@config_option
@now_option
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="What to print: a short text summary, Markdown (wiki, email), JSON (the same numbers "
                   "for other tools) or the Slack payloads.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the --format output to FILE instead of standard output.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write the dashboard: DIR/index.html, one self-contained page per team and "
                   "the list behind each count.")
@click.option("--apply", is_flag=True,
              help="Post the Slack messages (needs SLACK_BOT_TOKEN). Without it nothing is posted, "
                   "but the week's figures are still recorded.")
@handle_errors
def digest(snapshot, rule_paths, only_rule_paths, config_path, now_text, output_format, out_path, html_dir, apply):
    """Write the weekly hygiene digest per team, and a dashboard.

    One digest per team and one for the whole organisation.

    Covers the week ending --now: the Feature Factory Ratio and its trend, open
    findings by rule (new, fixed and waived this week), unclosed loops, the
    tech-debt agreement register and the flow distribution, with one question
    on where to look first. Figures describe teams, never individuals.

    Every run, a dry run included, records the week's figures and brings the
    findings lifecycle up to date in the state store (store.url): that history
    is what draws the trends and the new/fixed counts, week by week. Run it
    again with an older --now (and that week's snapshot) to regenerate a past
    week; that leaves the findings lifecycle alone. Slack messages go to each
    team's channel (teams.<name>.channel) and to slack.org_channel, only with
    --apply; a rerun in the same week does not post twice.

    \b
    Exit codes:
      0  done
      2  usage, configuration or credential error
      3  Jira, Slack or the state store unavailable
      4  the scan behind the digest could not read everything

    \b
    Examples:
      govbot digest --html out/
      govbot digest --snapshot export.json --now 2026-03-31 --format markdown --out digest.md
      govbot digest --apply
    """
    now = parse_now(now_text)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    if apply and inputs.demo:
        raise UsageError("the bundled demo never posts: --apply needs a config file, --snapshot or Jira",
                         hint="run `govbot digest` without --apply to see what the demo would post")
    if inputs.demo:
        click.echo(DEMO_NOTE, err=True)

    def say(line: str) -> None:
        click.echo(f"govbot: {line}", err=True)

    def print_output(run: DigestRun) -> None:
        if not run.recorded:
            say(NOT_RECORDED)
        _write_output(output_format, run.digests, run.messages, out_path)

    slack = slack_client(inputs.config) if apply else None  # no token: stop before the store is created
    if html_dir:
        prepare_dashboard_folder(html_dir)  # a folder that cannot be written: stop before the store changes
    with _open_store(inputs.config, demo=inputs.demo) as store:
        run = run_digest(inputs, now, store, apply=apply, snapshot=snapshot, html_dir=html_dir, slack=slack,
                         say=say, on_built=print_output)
    if run.messages and not apply:
        say("dry run: nothing was posted; " + ("the bundled demo never posts." if inputs.demo
                                                else "add --apply to post to Slack."))
    say_incomplete("digest", run.batch, run.exit_code)
    sys.exit(run.exit_code)


def _open_store(config, *, demo: bool) -> Store:
    """The configured store; for the bundled demo, one in memory unless
    $GOVBOT_DATABASE_URL names one, so a demo run never writes into the package."""
    if demo and not config.env.get("GOVBOT_DATABASE_URL"):
        click.echo("The demo keeps no history between runs; set GOVBOT_DATABASE_URL (for example "
                   "sqlite:///demo.db) to see trends build up week by week.", err=True)
        return Store("sqlite://")
    if demo and config.path == DEMO_CONFIG:
        # The demo's config file lives inside the package: a relative sqlite:///demo.db means the
        # folder the command runs in (where `govbot rules stats` looks too), not the package's.
        config = dataclasses.replace(config, path=None)
    return open_store(config)


def _write_output(output_format: str, digests: Digests, messages: list[SlackMessage], out_path: str | None) -> None:
    if output_format == "slack":
        text = terminal_safe_json(json.dumps([message.payload for message in messages], indent=2,
                                             ensure_ascii=False)) + "\n"
    else:
        text = RENDERERS[output_format](digests)
    if not out_path:
        click.echo(text, nl=False)
        return
    try:
        Path(out_path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--out: cannot write {out_path} ({error.strerror})") from None
    click.echo(f"govbot: wrote the {output_format} digest to {out_path}", err=True)

"""`govbot digest`: the weekly hygiene digest per team and for the organisation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.commands.common import config_option, handle_errors, now_option, parse_now
from bot.commands.scan import DEMO_NOTE, snapshot_option
from bot.digest import render
from bot.digest.metrics import Digests, build_digests
from bot.digest.run import send_digest_messages, track_findings
from bot.digest.slack import SlackMessage, build_messages
from bot.errors import EXIT_INCOMPLETE, UsageError
from bot.pipeline import load_inputs, run_pipeline
from bot.store import Store, open_store

RENDERERS = {"text": render.render_text, "markdown": render.render_markdown, "json": render.render_json}
FORMATS = [*RENDERERS, "slack"]  # slack: the Block Kit payloads, exactly as they would be posted


@click.command()
@snapshot_option
@config_option
@now_option
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="What to print: a short text summary, Markdown (wiki, email), JSON (the same numbers "
                   "for other tools) or the Slack payloads.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the --format output to FILE instead of standard output.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write the dashboard: DIR/index.html plus one self-contained page per team.")
@click.option("--apply", is_flag=True,
              help="Post the Slack messages. Without it the digest is a dry run: nothing is posted.")
@handle_errors
def digest(snapshot, config_path, now_text, output_format, out_path, html_dir, apply):
    """Weekly hygiene digest, per team and for the whole organisation.

    Covers the week ending --now: the Feature Factory Ratio and its trend, open
    findings by rule (new, fixed and waived this week), unclosed loops, the
    tech-debt agreement register and the flow distribution, with one question
    on where to look first. Figures describe teams, never individuals.

    Each run stores the week's figures, so trends build up week by week; run it
    again with an older --now (and that week's snapshot) to regenerate a past week.
    Slack messages go to each team's channel (teams.<name>.channel) and to
    slack.org_channel, only with --apply.

    \b
    Examples:
      govbot digest --html out/
      govbot digest --snapshot export.json --now 2026-03-31 --format markdown --out digest.md
      govbot digest --apply
    """
    now = parse_now(now_text)
    inputs = load_inputs(config_path, snapshot=snapshot)
    if apply and inputs.demo:
        raise UsageError("the bundled demo never posts: --apply needs a config file, --snapshot or Jira",
                         hint="run `govbot digest` without --apply to see what the demo would post")
    if inputs.demo:
        click.echo(DEMO_NOTE, err=True)
    result = run_pipeline(inputs, now, snapshot=snapshot)
    config = inputs.config
    with _open_store(config, demo=inputs.demo) as store:
        changes = track_findings(store, result, now)
        digests = build_digests(result, config, now, history=store, changes=changes)
        if result.complete:
            digests.record(store)
        else:
            click.echo("govbot: the scan could not read every issue; this week's figures were shown "
                       "but not stored", err=True)
        if html_dir:
            try:
                pages = render.write_html(digests, html_dir)
            except OSError as error:
                raise UsageError(f"--html: cannot write the dashboard into {html_dir} "
                                 f"({error.strerror or error})") from None
            click.echo(f"Wrote the dashboard: {Path(html_dir) / 'index.html'} and "
                       f"{len(pages) - 1} team pages.", err=True)
        messages, notes = build_messages(digests, config)
        _write_output(output_format, digests, messages, out_path)
        code = _deliver(messages, notes, store, config, digests, apply=apply)
    sys.exit(code or (0 if result.complete else EXIT_INCOMPLETE))


def _open_store(config, *, demo: bool) -> Store:
    """The configured store; for the bundled demo, one in memory unless
    $GOVBOT_DATABASE_URL names one, so a demo run never writes into the package."""
    if demo and not config.env.get("GOVBOT_DATABASE_URL"):
        click.echo("The demo keeps no history between runs; set GOVBOT_DATABASE_URL (for example "
                   "sqlite:///demo.db) to see trends build up week by week.", err=True)
        return Store("sqlite://")
    return open_store(config)


def _write_output(output_format: str, digests: Digests, messages: list[SlackMessage], out_path: str | None) -> None:
    if output_format == "slack":
        text = json.dumps([message.payload for message in messages], indent=2, ensure_ascii=False) + "\n"
    else:
        text = RENDERERS[output_format](digests)
    if not out_path:
        click.echo(text, nl=False)
        return
    try:
        Path(out_path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--out: cannot write {out_path} ({error.strerror})") from None
    click.echo(f"Wrote the {output_format} digest to {out_path}.", err=True)


def _deliver(messages: list[SlackMessage], notes: list[str], store: Store, config, digests: Digests, *,
             apply: bool) -> int:
    """Post through the outbox with --apply; otherwise list what would be posted."""
    for note in notes:
        click.echo(f"govbot: {note}", err=True)
    if not messages:
        return 0
    if apply:
        return send_digest_messages(messages, store, config, week_start=digests.week_start, now=digests.now,
                                    say=lambda line: click.echo(f"govbot: {line}", err=True))
    for message in messages:
        click.echo(f"dry run: would post the {message.name} digest to {message.channel} "
                   f"({len(message.payload['blocks'])} blocks)", err=True)
    click.echo("dry run: nothing was posted; add --apply to post to Slack.", err=True)
    return 0

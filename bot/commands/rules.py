"""`govbot rules ...`: list, explain, validate and test rules."""

from __future__ import annotations

import json
import sys

import click

from bot.commands.common import config_option, handle_errors, is_terminal, parse_now
from bot.config import load_config
from bot.engine import load_rules
from bot.errors import UsageError
from bot.prose import plural
from bot.render.rules import explain_text

paths_argument = click.argument("paths", nargs=-1, type=click.Path())
bundled_option = click.option("--bundled/--no-bundled", default=None,
                              help="Include the bundled rule pack (default: only when no PATH is given).")


def _load(paths, config_path, bundled):
    # partial: govbot.yaml's errors are reported by load_rules with the rule files' (one pass).
    config = load_config(config_path, partial=True)
    return config, load_rules(list(paths) or None, config, include_bundled=bundled)


@click.group(short_help="List, explain, validate and test rules.")
def rules():
    """List, explain, validate and test rules."""


@rules.command("list", short_help="List rules with their severity and whether they are enabled.")
@paths_argument
@config_option
@bundled_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def list_rules(paths, config_path, bundled, output_format):
    """List rules with their severity and whether they are enabled."""
    _, ruleset = _load(paths, config_path, bundled)
    if output_format == "json":
        click.echo(json.dumps([rule.to_json() for rule in ruleset.rules], indent=2))
        return
    for rule in ruleset.rules:
        state = "" if rule.enabled else "  (disabled)"
        click.echo(f"{rule.code or '':<6} {rule.id:<44} {rule.severity.value:<8} {rule.title}{state}")


@rules.command(short_help="Explain a rule: what, why, an example, how to fix.")
@click.argument("rule_id")
@paths_argument
@config_option
@bundled_option
@handle_errors
def explain(rule_id, paths, config_path, bundled):
    """Show a rule's documentation: what it checks, why it matters, an example, how to fix."""
    config, ruleset = _load(paths, config_path, bundled)
    rule = ruleset.get(rule_id) or next((r for r in ruleset.rules if r.code == rule_id), None)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, [r.id for r in ruleset.rules], n=1)
        raise UsageError(f"no rule {rule_id!r}", hint=f"did you mean {close[0]!r}?" if close else "see `govbot rules list`")
    click.echo(explain_text(rule))


@rules.command(short_help="Check rule files; every error with file:line:col.")
@paths_argument
@config_option
@bundled_option
@handle_errors
def validate(paths, config_path, bundled):
    """Check rule files like a compiler: every error with file:line:col, exit 2 if any."""
    _, ruleset = _load(paths, config_path, bundled)
    click.echo(f"{plural(len(ruleset.rules), 'rule')} in {plural(len(ruleset.files), 'file')}: OK")


@rules.command("test", short_help="Run every rule's `fires` and `ok` examples.")
@paths_argument
@config_option
@bundled_option
@click.option("-v", "--verbose", is_flag=True, help="Show passing examples too.")
@click.option("--now", "now_text", metavar="YYYY-MM-DD", default=None,
              help="Evaluate the examples as if today were this date (default 2026-06-15, so examples with "
                   "calendar dates stay true); relative dates (120 days ago) count from it.")
@handle_errors
def test_rules(paths, config_path, bundled, verbose, now_text):
    """Run every rule's examples: `fires` must fire, `ok` must stay quiet."""
    from bot.runs.ruletest import EXAMPLE_NOW, run_examples

    config, ruleset = _load(paths, config_path, bundled)
    results = run_examples(ruleset, config, parse_now(now_text) if now_text else EXAMPLE_NOW)
    colour = is_terminal()
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed and not verbose:
            continue
        mark = click.style("PASS", fg="green") if result.passed and colour else ("PASS" if result.passed else
               (click.style("FAIL", fg="red") if colour else "FAIL"))
        click.echo(f"{mark} {result.rule} examples.{result.kind}[{result.index}]: {result.detail}")
    untested = [rule.id for rule in ruleset.rules if not rule.examples.get("fires")]
    for rule_id in untested:
        click.echo(f"note: {rule_id} has no `fires` example")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@rules.command(short_help="Rule health from the store: findings open, fixed and waived per rule.")
@paths_argument
@config_option
@bundled_option
@click.option("--weeks", type=click.IntRange(1, 52), default=4, show_default=True, help="Weeks to look back.")
@click.option("--now", "now_text", metavar="YYYY-MM-DD", default=None, help="Count as if today were this date.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def stats(paths, config_path, bundled, weeks, now_text, output_format):
    """Per rule: findings open, fixed and waived over recent weeks; rules that never fired or whose
    findings are always waived, so a site can retire rules nobody needs. Reads the store, writes nothing."""
    from bot.render.rules import rule_stats_text
    from bot.store import open_store, sqlite_path, store_url

    config, ruleset = _load(paths, config_path, bundled)
    now = parse_now(now_text)
    store = open_store(config, dry_run=True)  # read only: never migrates or writes the real store
    try:
        health = store.rule_health(now, weeks)
    finally:
        store.close()
    if output_format == "json":
        click.echo(json.dumps({
            "now": now.isoformat(), "weeks": weeks,
            "rules": [health[rule_id].to_json() for rule_id in sorted(health)],
            "never_fired": [rule.id for rule in ruleset.active if rule.id not in health],
            "always_waived": [rule_id for rule_id in sorted(health) if health[rule_id].always_waived],
        }, indent=2))
        return
    path = sqlite_path(store_url(config))
    # Never print a database URL: it may hold a password.
    click.echo(rule_stats_text(health, ruleset, now, weeks, str(path) if path else "the configured store"))


@rules.command(short_help="Print the rule reference as Markdown.")
@paths_argument
@config_option
@bundled_option
@handle_errors
def docs(paths, config_path, bundled):
    """Print the rule reference as Markdown (rules, their docs, and every check kind)."""
    from bot.engine.reference import render_reference

    _, ruleset = _load(paths, config_path, bundled)
    click.echo(render_reference(ruleset), nl=False)


@rules.command(short_help="Print the JSON Schema of rule files.")
@handle_errors
def schema():
    """Print the JSON Schema of rule files (for editor completion), generated from the check registry."""
    from bot.engine.schema import rule_file_schema

    click.echo(json.dumps(rule_file_schema(), indent=2))

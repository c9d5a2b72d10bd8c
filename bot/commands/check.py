"""`govbot check KEY...`: every rule's verdict on a few issues, now, passes included."""

from __future__ import annotations

import json
import re
import sys

import click

from bot.commands.common import config_option, handle_errors, is_terminal, now_option, parse_now
from bot.commands.scan import DEMO_NOTE, fail_on_option, format_option, rules_option, snapshot_option
from bot.errors import EXIT_ERROR, EXIT_INCOMPLETE, ConfigError, UsageError
from bot.model import Severity
from bot.pipeline import jira_configured, load_inputs, load_workspace
from bot.report import terminal_safe as safe_text
from bot.report import exit_code_for, md_escape
from bot.scan import ScanResult, scan
from bot.workspace import Workspace

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


@click.command()
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@snapshot_option
@rules_option
@config_option
@format_option
@now_option
@fail_on_option
@handle_errors
def check(keys, snapshot, rule_paths, config_path, output_format, now_text, fail_on):
    """Check issues now and show every rule's verdict, passes included.

    Reads the issues from live Jira with the parents and children the rules
    look at (or from --snapshot). Exit codes as for `scan`: 0 clean, 1 a finding
    at or above --fail-on, 2 usage error or an issue that cannot be found.

    \b
    Examples:
      govbot check PAY-123
      govbot check PAY-123 PAY-124 --format json
      govbot check PAY-1 --snapshot export.json --now 2026-03-31
    """
    now = parse_now(now_text)
    wanted = parse_keys(keys)
    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot)
    if inputs.demo:
        click.echo(DEMO_NOTE, err=output_format == "json")
    if snapshot or inputs.demo:
        workspace = only(load_workspace(inputs, snapshot=snapshot), wanted)
    elif jira_configured(inputs.config):
        from bot.sources.jira import load_issues_from_jira

        workspace = load_issues_from_jira(inputs.config, wanted, inputs.ruleset)
    else:
        raise ConfigError("nothing to check against: give --snapshot FILE, or set jira.url in the config "
                          "(or JIRA_URL)")
    missing = [key for key in wanted if key not in workspace.issues]
    result = scan(workspace, inputs.ruleset, inputs.config, now)
    if len(missing) < len(wanted):
        if output_format == "json":
            click.echo(render_json(result, wanted, missing))
        elif output_format == "markdown":
            click.echo(render_markdown(result, wanted), nl=False)
        else:
            click.echo(render_text(result, wanted, colour=is_terminal()))
    if missing:
        where = "in the snapshot" if snapshot else "in Jira (or not visible to this user)"
        click.echo(f"govbot: {', '.join(missing)}: not found {where}", err=True)
        sys.exit(EXIT_ERROR)
    code = exit_code_for(result.findings, fail_on)
    if not result.complete and code == 0:
        code = EXIT_INCOMPLETE
    sys.exit(code)


def parse_keys(values) -> list[str]:
    """Issue keys from the command line (``PAY-1 pay-2,PAY-3``), upper-cased, in order, once each."""
    keys: list[str] = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            if not _KEY.match(part):
                raise UsageError(f"{part!r} is not an issue key", hint="keys look like PAY-123")
            if part.upper() not in keys:
                keys.append(part.upper())
    if not keys:
        raise UsageError("give at least one issue key, like PAY-123")
    return keys


def only(workspace: Workspace, keys: list[str]) -> Workspace:
    """The same issues with only ``keys`` evaluated; every other issue stays as context."""
    narrowed = Workspace(complete=workspace.complete, problems=list(workspace.problems),
                         source=workspace.source, skipped=workspace.skipped)
    for issue in list(workspace.issues.values()) + list(workspace.relatives.values()):
        # A stub (known only from a child's embedded parent) has no fields to check.
        if issue.key.upper() in keys and not issue.stub:
            narrowed.issues[issue.key] = issue
        else:
            narrowed.relatives[issue.key] = issue
    narrowed.link()
    return narrowed


# -- verdicts per issue -------------------------------------------------------------------------

def verdict_rows(result: ScanResult, key: str) -> list[dict]:
    """Every rule that applies to the issue: fails first (by severity), then passes."""
    rows = []
    for verdict in result.verdicts:
        if verdict.issue != key:
            continue
        rule = result.ruleset.get(verdict.rule)
        finding = verdict.finding
        if finding is not None:
            status = "waived" if finding.waived else "fail"
        else:
            status = "pass"
        rows.append({
            "rule": verdict.rule,
            "title": rule.title if rule else "",
            "severity": (finding.severity if finding else rule.severity if rule else Severity.INFO).value,
            "status": status,
            "message": finding.message if finding else "",
            "owner": finding.owner.to_json() if finding and finding.owner else None,
        })
    order = {"fail": 0, "waived": 1, "pass": 2}
    rows.sort(key=lambda row: (order[row["status"]],
                               -Severity.parse(row["severity"]).rank if row["status"] != "pass" else 0, row["rule"]))
    return rows


def _counts(result: ScanResult, keys: list[str]) -> dict:
    rows = [row for key in keys if key in result.workspace.issues for row in verdict_rows(result, key)]
    fails = [row for row in rows if row["status"] == "fail"]
    return {
        "issues": sum(1 for key in keys if key in result.workspace.issues),
        "findings": len(fails),
        "by_severity": {s.value: sum(1 for row in fails if row["severity"] == s.value) for s in Severity},
        "passed": sum(1 for row in rows if row["status"] == "pass"),
        "waived": sum(1 for row in rows if row["status"] == "waived"),
    }


def render_text(result: ScanResult, keys: list[str], *, colour: bool = False) -> str:
    style = (lambda text, **kw: click.style(text, **kw)) if colour else (lambda text, **kw: text)
    lines = []
    for key in keys:
        issue = result.workspace.issues.get(key)
        if issue is None:
            continue
        heading = f"{issue.key}  {safe_text(issue.type)}  {safe_text(issue.summary)[:100]}"
        lines.append(style(heading, bold=True) + (f"  {issue.url}" if issue.url else ""))
        rows = verdict_rows(result, key)
        for row in rows:
            if row["status"] == "pass":
                mark = style("pass   ", fg="green")
                lines.append(f"  {mark} {'':<8} {row['rule']}")
                continue
            mark = style("FAIL   " if row["status"] == "fail" else "waived ", fg=_COLOURS[row["severity"]], bold=True)
            lines.append(f"  {mark} {row['severity']:<8} {row['rule']}")
            lines.append(f"      {safe_text(row['message'])}")
        if not rows:
            lines.append(f"  no rule applies to a {safe_text(issue.type) or 'issue of this type'}")
        lines.append("")
    counts = _counts(result, keys)
    by = counts["by_severity"]
    lines.append(f"{_plural(counts['issues'], 'issue')} checked: {_plural(counts['findings'], 'finding')} "
                 f"({_plural(by['error'], 'error')}, {_plural(by['warning'], 'warning')}, {by['info']} info), "
                 f"{counts['passed']} passed" + (f", {counts['waived']} waived" if counts["waived"] else ""))
    missing = {key for key in keys if key not in result.workspace.issues}  # reported on stderr instead
    notes = [p for p in result.workspace.problems + result.problems if p.split(":", 1)[0] not in missing]
    for note in notes[:10]:
        lines.append(style(f"note: {safe_text(note)}", fg="yellow"))
    if not result.complete:
        lines.append(style("check incomplete: some issues or their relatives could not be read", fg="yellow"))
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_markdown(result: ScanResult, keys: list[str]) -> str:
    counts = _counts(result, keys)
    out = ["# govbot check", "", f"*{counts['issues']} issues checked on {result.now.date().isoformat()}; "
           f"{counts['findings']} findings, {counts['passed']} rules passed.*", ""]
    for key in keys:
        issue = result.workspace.issues.get(key)
        if issue is None:
            continue
        title = md_escape(issue.key)
        if issue.url and issue.url.startswith(("https://", "http://")):
            title = f"[{title}](<{issue.url.replace('>', '%3E')}>)"
        out += [f"## {title}: {md_escape(issue.summary)} ({md_escape(issue.type)})", "",
                "| Verdict | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for row in verdict_rows(result, key):
            message = md_escape(row["message"]) if row["status"] != "pass" else ""
            severity = row["severity"] if row["status"] != "pass" else ""
            out.append(f"| {row['status']} | {severity} | `{row['rule']}` | {message} |")
        out.append("")
    if not result.complete:
        out += ["> Check incomplete: some issues or their relatives could not be read.", ""]
    return "\n".join(out)


def render_json(result: ScanResult, keys: list[str], missing: list[str]) -> str:
    issues = []
    for key in keys:
        issue = result.workspace.issues.get(key)
        if issue is None:
            continue
        issues.append({"key": issue.key, "summary": issue.summary, "type": issue.type, "level": issue.level,
                       "status": issue.status, "team": issue.team, "url": issue.url,
                       "parent": issue.parent_key, "verdicts": verdict_rows(result, key)})
    data = {
        "issues": issues,
        "findings": [finding.to_json() for finding in result.findings],
        "summary": {**_counts(result, keys), "complete": result.complete, "source": result.workspace.source,
                    "now": result.now.date().isoformat()},
        "missing": missing,
    }
    problems = result.workspace.problems + result.problems
    if problems:
        data["problems"] = problems
    return json.dumps(data, indent=2, ensure_ascii=False)

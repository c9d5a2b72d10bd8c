"""A check's verdicts for a terminal, Markdown, JSON and Slack (``/govbot check``).

The JSON ``summary`` has the same keys as a scan's, plus ``verdicts``: how many
rule verdicts were fail, waived, pass, not-judged and not-applicable.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import click

from bot.deliver.slack import issue_link, one_line
from bot.escape import markdown_escape, markdown_link, slack_escape, terminal_safe, terminal_safe_json
from bot.render.common import SEVERITY_COLOURS, plural
from bot.runs.check import NOT_FOUND, CheckResult

_SEVERITY_MARK = {"error": ":red_circle:", "warning": ":large_yellow_circle:", "info": ":large_blue_circle:"}


def summary(check: CheckResult) -> dict[str, Any]:
    return {**check.batch.summary(), "verdicts": check.counts()}


def render_text(check: CheckResult, *, colour: bool = False) -> str:
    """Per issue a heading and one line per rule that applies (rules that do not, on one line); then counts."""
    style = click.style if colour else (lambda text, **_: text)
    lines = []
    for verdict in check.found:
        issue = verdict.issue
        heading = f"{issue.key}  {terminal_safe(issue.type)}  {terminal_safe(issue.summary)[:100]}"
        lines.append(style(heading, bold=True) + (f"  {terminal_safe(issue.url)}" if issue.url else ""))
        for row in verdict.rows:
            if row["status"] == "pass":
                lines.append(f"  {style('pass   ', fg='green')} {'':<8} {row['rule']}")
            elif row["status"] in ("fail", "waived"):
                mark = style("FAIL   " if row["status"] == "fail" else "waived ",
                             fg=SEVERITY_COLOURS[row["severity"]], bold=True)
                lines.append(f"  {mark} {row['severity']:<8} {row['rule']}")
                lines.append(f"      {terminal_safe(row['message'])}")
        unjudged = [row["rule"] for row in verdict.with_status("not-judged")]
        if unjudged:
            lines.append(style(f"  {'unknown':<7} {'':<8} {', '.join(unjudged)} (not judged from this read: "
                               f"see the notes)", fg="yellow"))
        skipped = [row["rule"] for row in verdict.with_status("not-applicable")]
        if skipped and len(skipped) == len(verdict.rows):
            lines.append(f"  no rule applies to a {terminal_safe(issue.type) or 'issue of this type'}")
        elif skipped:
            lines.append(style(f"  n/a     {'':<8} {', '.join(skipped)}", dim=True))
        lines.append("")
    counts = check.counts()
    by = {severity: 0 for severity in ("error", "warning", "info")}
    for verdict in check.found:
        for row in verdict.with_status("fail"):
            by[row["severity"]] += 1
    lines.append(f"{plural(len(check.found), 'issue')} checked: {plural(counts['fail'], 'finding')} "
                 f"({plural(by['error'], 'error')}, {plural(by['warning'], 'warning')}, {by['info']} info), "
                 f"{counts['pass']} passed" + (f", {counts['waived']} waived" if counts["waived"] else "")
                 + (f", {counts['not-judged']} not judged" if counts["not-judged"] else "")
                 + (f", {counts['not-applicable']} not applicable" if counts["not-applicable"] else ""))
    for note in check.notes[:10]:
        lines.append(style(f"note: {terminal_safe(note)}", fg="yellow"))
    if not check.complete:
        lines.append(style(f"check incomplete: {'; '.join(check.batch.incomplete_reasons)}", fg="yellow"))
    return "\n".join(lines)


def render_markdown(check: CheckResult) -> str:
    counts = check.counts()
    out = ["# govbot check", "", f"*{plural(len(check.found), 'issue')} checked on "
           f"{check.batch.now.date().isoformat()}; {plural(counts['fail'], 'finding')}, "
           f"{plural(counts['pass'], 'rule')} passed.*", ""]
    for verdict in check.found:
        issue = verdict.issue
        title = markdown_link(markdown_escape(issue.key), issue.url)
        out += [f"## {title}: {markdown_escape(issue.summary)} ({markdown_escape(issue.type)})", "",
                "| Verdict | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for row in verdict.rows:
            judged = row["status"] in ("fail", "waived")
            message = markdown_escape(row["message"]) if judged else ""
            severity = row["severity"] if judged else ""
            out.append(f"| {row['status']} | {severity} | `{row['rule']}` | {message} |")
        out.append("")
    if not check.complete:
        out += [f"> Check incomplete: {'; '.join(check.batch.incomplete_reasons)}.", ""]
    return "\n".join(out)


def render_json(check: CheckResult) -> str:
    batch = check.batch
    issues = [{"key": v.issue.key, "summary": v.issue.summary, "type": v.issue.type, "level": v.issue.level,
               "status": v.issue.status, "team": v.issue.team, "url": v.issue.url,
               "parent": v.issue.parent_key, "verdicts": v.rows} for v in check.found]
    data: dict[str, Any] = {
        "issues": issues,
        "findings": [finding.to_json() for finding in batch.findings],
        "summary": summary(check),
        "missing": check.missing,
    }
    if check.problems:
        data["problems"] = check.problems
    data["notes"] = batch.coverage_notes  # what could not be judged, as in scan's JSON
    return terminal_safe_json(json.dumps(data, indent=2, ensure_ascii=False))  # no raw controls on a terminal


def render_slack(check: CheckResult) -> str:
    """The verdict on the one issue checked, as Slack mrkdwn; everything from Jira escaped."""
    [verdict] = check.verdicts.values()
    if not verdict.found:
        note = "" if check.complete else " (Jira could not be read completely; try again shortly)"
        hint = " Check the key, or whether govbot may read that project." if check.source == "jira" else ""
        return f":mag: *{slack_escape(verdict.key)}*: {NOT_FOUND[check.source]}{note}.{hint}"
    issue = verdict.issue
    fails, waived, passes = (verdict.with_status(status) for status in ("fail", "waived", "pass"))
    mark = ":white_check_mark: " if not fails else ""
    lines = [f"{mark}{issue_link(issue.url, issue.key)} · {slack_escape(issue.type)} · "
             f"{slack_escape(one_line(issue.summary, 200))}"]
    for row in fails:
        lines.append(f"{_SEVERITY_MARK.get(row['severity'], ':white_circle:')} *{row['severity']}* "
                     f"`{slack_escape(row['rule'])}`: {slack_escape(one_line(row['message'], 600))}")
    for row in waived:
        reason = verdict.waivers.get(row["rule"], "")
        because = f": {slack_escape(one_line(reason, 300))}" if reason else ""
        lines.append(f":zzz: waived `{slack_escape(row['rule'])}`{because}")
    unjudged = verdict.with_status("not-judged")
    if unjudged:
        names = ", ".join(f"`{slack_escape(row['rule'])}`" for row in unjudged)
        lines.append(f":grey_question: Not judged from what govbot could read: {names}")
    if not (fails or waived or passes or unjudged):
        lines.append(f"No rule applies to a {slack_escape(issue.type) or 'issue of this type'}.")
    elif passes:
        names = ", ".join(f"`{slack_escape(row['rule'])}`" for row in passes)
        lines.append(f"Passes {len(passes)} rule{'s' if len(passes) != 1 else ''}: {names}")
    if fails:
        lines.append(f"_Why and how to fix:_ `/govbot explain {slack_escape(fails[0]['rule'])}`")
    for problem in check.notes[:3]:
        lines.append(f":warning: {slack_escape(one_line(problem, 300))}")
    if not check.complete:
        lines.append(":warning: some relatives of this issue could not be read; the verdict may be incomplete")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[CheckResult], str]] = {
    "text": render_text, "markdown": render_markdown, "json": render_json}

"""A scan's findings for people and machines: text (terminal), Markdown, JSON."""

from __future__ import annotations

import json
import shutil
import textwrap

import click

from bot.escape import markdown_escape, markdown_link, terminal_safe, terminal_safe_json
from bot.render.common import SEVERITY_COLOURS, ffr_line, plural
from bot.runs.batch import Batch


def render_json(batch: Batch) -> str:
    # Control, bidi and surrogate characters as \u escapes: the same data, safe on a terminal.
    return terminal_safe_json(json.dumps(batch.to_json(), indent=2, ensure_ascii=False, sort_keys=False))


def render_text(batch: Batch, *, colour: bool = False, show_waived: bool = False) -> str:
    lines = []
    style = (lambda text, **kw: click.style(text, **kw)) if colour else (lambda text, **kw: text)
    findings = sorted(batch.findings, key=lambda f: (-f.severity.rank, f.issue, f.rule))
    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    for finding in findings:
        if finding.waived and not show_waived:
            continue
        severity = style(f"{finding.severity.value:<7}", fg=SEVERITY_COLOURS[finding.severity.value], bold=True)
        waived = " (waived)" if finding.waived else ""
        # A site-setup finding speaks of a project (its issues are in the message and the JSON).
        subject = finding.project if finding.site_setup and finding.project else finding.issue
        audience = " (for the admins)" if finding.site_setup else ""
        lines.append(f"{terminal_safe(subject):<12} {severity} {finding.rule}{audience}{waived}")
        lines.extend(textwrap.wrap(terminal_safe(finding.message), width, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    summary = batch.summary()
    if lines:
        lines.append("")
    by_sev = summary["by_severity"]
    lines.append(f"{plural(summary['issues_scanned'], 'issue')} scanned, {plural(summary['findings'], 'finding')} "
                 f"({plural(by_sev['error'], 'error')}, {plural(by_sev['warning'], 'warning')}, {by_sev['info']} info)"
                 + (f", {summary['waived']} waived" if summary["waived"] else ""))
    lines.extend(textwrap.wrap(ffr_line(summary["feature_factory_ratio"]), width, subsequent_indent="  "))
    for note in batch.coverage_notes:
        lines.extend(textwrap.wrap(terminal_safe(f"note: {note}"), width, subsequent_indent="  ",
                                   break_on_hyphens=False))
    for line in batch.evaluation.time_limits:  # a rule skipped for taking too long: say which, here
        lines.append(style(terminal_safe(line), fg="yellow"))
    if batch.workspace.skipped:
        lines.append(f"{plural(batch.workspace.skipped, 'malformed issue')} skipped (see --format json for details)")
    elif batch.problems:
        lines.append(f"{plural(len(batch.problems), 'problem')} while scanning (see --format json)")
    for reason in batch.incomplete_reasons:
        lines.append(style(f"scan incomplete: {reason}", fg="yellow"))
    return "\n".join(lines)


def render_markdown(batch: Batch) -> str:
    summary = batch.summary()
    out = ["# govbot scan", "", f"*{summary['issues_scanned']} issues scanned on {summary['now']}; "
           f"{summary['findings']} findings.*", "", f"**{ffr_line(summary['feature_factory_ratio'])}**", ""]
    if summary["by_rule"]:
        out += ["## Findings by rule", "", "| Rule | Findings |", "| --- | ---: |"]
        out += [f"| `{rule}` | {count} |" for rule, count in summary["by_rule"].items()]
        out.append("")
        out += ["## Findings", "", "| Issue | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for finding in sorted(batch.open_findings(), key=lambda f: (-f.severity.rank, f.issue, f.rule)):
            issue = markdown_link(markdown_escape(finding.issue), finding.url)
            out.append(f"| {issue} | {finding.severity.value} | `{finding.rule}` | "
                       f"{markdown_escape(finding.message)} |")
    else:
        out.append("No findings.")
    if batch.coverage_notes:
        out += ["", "## Notes", ""] + [f"- {markdown_escape(note)}" for note in batch.coverage_notes]
    for reason in batch.incomplete_reasons:
        out += ["", f"> Scan incomplete: {reason}."]
    return "\n".join(out) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}

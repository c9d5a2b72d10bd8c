"""Scan results for people and machines: text (terminal), markdown, JSON."""

from __future__ import annotations

import json
import shutil
import textwrap
from typing import Iterable

import click

from bot.escape import markdown_escape, markdown_link, terminal_safe, terminal_safe_json
from bot.model import Finding, Severity

SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def render_json(result) -> str:
    # Control, bidi and surrogate characters as \u escapes: the same data, safe on a terminal.
    return terminal_safe_json(json.dumps(result.to_json(), indent=2, ensure_ascii=False, sort_keys=False))


def _ffr_line(summary: dict) -> str:
    ffr = summary["feature_factory_ratio"]
    if ffr.get("overall") is None:
        return "Feature Factory Ratio: n/a (no epics or initiatives scanned)"
    counts = ffr.get("counts", {})
    teams = ", ".join(f"{team} {value:.1f}%" for team, value in ffr["by_team"].items() if value is not None)
    return (f"Feature Factory Ratio: {ffr['overall']:.1f}% "
            f"({counts.get('without_outcome')} of {counts.get('total')} epics and initiatives have no "
            f"anticipated outcome){'; by team: ' + teams if teams else ''}")


def render_text(result, *, colour: bool = False, show_waived: bool = False) -> str:
    lines = []
    style = (lambda text, **kw: click.style(text, **kw)) if colour else (lambda text, **kw: text)
    findings = sorted(result.findings, key=lambda f: (-f.severity.rank, f.issue, f.rule))
    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    for finding in findings:
        if finding.waived and not show_waived:
            continue
        severity = style(f"{finding.severity.value:<7}", fg=SEVERITY_COLOURS[finding.severity.value], bold=True)
        waived = " (waived)" if finding.waived else ""
        lines.append(f"{terminal_safe(finding.issue):<12} {severity} {finding.rule}{waived}")
        lines.extend(textwrap.wrap(terminal_safe(finding.message), width, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    summary = result.summary()
    if lines:
        lines.append("")
    by_sev = summary["by_severity"]
    lines.append(f"{summary['issues_scanned']} issues scanned, {summary['findings']} findings "
                 f"({by_sev['error']} errors, {by_sev['warning']} warnings, {by_sev['info']} info)"
                 + (f", {summary['waived']} waived" if summary["waived"] else ""))
    lines.extend(textwrap.wrap(_ffr_line(summary), width, subsequent_indent="  "))
    problems = result.workspace.problems + result.problems
    for line in getattr(result, "time_limits", ()):  # a rule skipped for taking too long: say which, here
        lines.append(style(terminal_safe(line), fg="yellow"))
    if result.workspace.skipped:
        lines.append(f"{result.workspace.skipped} malformed issues skipped (see --format json for details)")
    elif problems:
        lines.append(f"{len(problems)} problems while scanning (see --format json)")
    if not result.workspace.complete:
        lines.append(style("scan incomplete: not every issue in scope could be read", fg="yellow"))
    elif not result.complete:
        lines.append(style("scan incomplete: some rules were skipped on some issues (above)", fg="yellow"))
    return "\n".join(lines)


def render_markdown(result) -> str:
    summary = result.summary()
    out = ["# govbot scan", "", f"*{summary['issues_scanned']} issues scanned on {summary['now']}; "
           f"{summary['findings']} findings.*", "", f"**{_ffr_line(summary)}**", ""]
    if summary["by_rule"]:
        out += ["## Findings by rule", "", "| Rule | Findings |", "| --- | ---: |"]
        out += [f"| `{rule}` | {count} |" for rule, count in summary["by_rule"].items()]
        out.append("")
        out += ["## Findings", "", "| Issue | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for finding in sorted(result.open_findings(), key=lambda f: (-f.severity.rank, f.issue, f.rule)):
            issue = markdown_link(markdown_escape(finding.issue), finding.url)
            out.append(f"| {issue} | {finding.severity.value} | `{finding.rule}` | "
                       f"{markdown_escape(finding.message)} |")
    else:
        out.append("No findings.")
    if not result.complete:
        out += ["", "> Scan incomplete: not every issue in scope could be read."]
    return "\n".join(out) + "\n"


def exit_code_for(findings: Iterable[Finding], fail_on: str, complete: bool = True) -> int:
    """0 clean, 1 an unwaived finding at or above ``fail_on``, 4 clean but not everything was read."""
    from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE

    failing = False
    if fail_on != "never":
        threshold = Severity.parse(fail_on)
        failing = any(not f.waived and f.severity.rank >= threshold.rank for f in findings)
    if failing:
        return EXIT_FINDINGS
    # Clean only as far as we could see: say so rather than claim a clean tracker.
    return EXIT_CLEAN if complete else EXIT_INCOMPLETE


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}

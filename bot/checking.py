"""Every rule's verdict on a few issues, now: what `govbot check` and `/govbot check` both answer.

``check_issues`` reads the named issues with the relatives their rules look at
(from a snapshot, the bundled demo or live Jira), evaluates only those issues,
applies every waiver (labels, the waiver file, and waivers from chat kept in
the store) and returns one ``IssueVerdict`` per issue: every applicable rule,
failing, waived or passing. The renderers here print that for a terminal,
Markdown or JSON; the chat renders the same verdicts as Slack mrkdwn, so the
command line and chat cannot disagree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

import click

from bot.digest.metrics import plural
from bot.errors import ConfigError, UsageError
from bot.escape import markdown_escape, markdown_link, terminal_safe, terminal_safe_json
from bot.model import Issue, Severity
from bot.waivers import apply_every_waiver
from bot.pipeline import Inputs, jira_configured, load_workspace
from bot.report import SEVERITY_COLOURS
from bot.scan import ScanResult, scan
from bot.workspace import Workspace

ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")

# What a key that was asked for but not read means, by where the issues came from.
NOT_FOUND = {
    "snapshot": "not found in the snapshot",
    "demo": "not in the bundled demo workspace",
    "jira": "not found in Jira (or not visible to this user)",
}
_STATUS_ORDER = {"fail": 0, "waived": 1, "pass": 2}


def parse_keys(values: Iterable[str]) -> list[str]:
    """Issue keys as typed (``PAY-1 pay-2,PAY-3``): upper-cased, in order, once each."""
    keys: list[str] = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            if not ISSUE_KEY.match(part):
                raise UsageError(f"{part!r} is not an issue key", hint="keys look like PAY-123")
            if part.upper() not in keys:
                keys.append(part.upper())
    if not keys:
        raise UsageError("give at least one issue key, like PAY-123")
    return keys


# -- reading the issues -----------------------------------------------------------------------------

def source_kind(inputs: Inputs, snapshot: str | None) -> str:
    """Where ``check_issues`` reads from: ``snapshot``, ``demo`` or ``jira``."""
    if snapshot is not None:
        return "snapshot"
    return "demo" if inputs.demo else "jira"


def load_issues(inputs: Inputs, keys: list[str], *, snapshot: str | None = None,
                workspace_loader: Callable[[], Workspace] | None = None) -> Workspace:
    """The issues ``keys`` with their relatives; every other issue known only as context.

    A snapshot or the demo is read whole and narrowed to ``keys``
    (``workspace_loader`` may supply it from a cache); live Jira is asked for
    the keys and their parents, ancestors and children only.
    """
    kind = source_kind(inputs, snapshot)
    if kind in ("snapshot", "demo"):
        full = workspace_loader() if workspace_loader is not None else load_workspace(inputs, snapshot=snapshot)
        return narrow(full, keys)
    if jira_configured(inputs.config):
        from bot.sources.jira import load_issues_from_jira

        return load_issues_from_jira(inputs.config, keys, inputs.ruleset)
    raise ConfigError("nothing to check against: give --snapshot FILE, or set jira.url in the config "
                      "(or JIRA_URL)")


def narrow(workspace: Workspace, keys: list[str]) -> Workspace:
    """The same issues with only ``keys`` in scope; every other issue stays as a relative (context)."""
    wanted = {key.upper() for key in keys}
    narrowed = Workspace(complete=workspace.complete, problems=list(workspace.problems),
                         source=workspace.source, skipped=workspace.skipped)
    for issue in list(workspace.issues.values()) + list(workspace.relatives.values()):
        # A stub (known only from a child's embedded parent) has no fields to check.
        if issue.key.upper() in wanted and not issue.stub:
            narrowed.issues[issue.key] = issue
        else:
            narrowed.relatives[issue.key] = issue
    narrowed.link()
    return narrowed


# -- verdicts -----------------------------------------------------------------------------------------------

@dataclass
class IssueVerdict:
    """Every applicable rule's verdict on one issue: fails first (by severity), then waived, then passes."""

    key: str
    issue: Issue | None
    rows: list[dict] = field(default_factory=list)
    waivers: dict[str, str] = field(default_factory=dict)  # rule -> why it is waived here

    @property
    def found(self) -> bool:
        return self.issue is not None

    def with_status(self, status: str) -> list[dict]:
        return [row for row in self.rows if row["status"] == status]


def verdict_rows(result: ScanResult, key: str) -> list[dict]:
    """One row per rule that applies to the issue: rule, title, severity, status, message, owner."""
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
    rows.sort(key=lambda row: (_STATUS_ORDER[row["status"]],
                               -Severity.parse(row["severity"]).rank if row["status"] != "pass" else 0, row["rule"]))
    return rows


@dataclass
class CheckResult:
    """The verdicts on the issues asked for, in the order asked, and what could not be read."""

    keys: list[str]
    result: ScanResult
    source: str                      # snapshot | demo | jira
    verdicts: dict[str, IssueVerdict]
    store_note: str | None = None    # waivers from chat could not be read

    @property
    def found(self) -> list[IssueVerdict]:
        return [self.verdicts[key] for key in self.keys if self.verdicts[key].found]

    @property
    def missing(self) -> list[str]:
        return [key for key in self.keys if not self.verdicts[key].found]

    @property
    def complete(self) -> bool:
        return self.result.complete

    @property
    def problems(self) -> list[str]:
        """Everything the source and the scan reported (the JSON ``problems``)."""
        return self.result.workspace.problems + self.result.problems + ([self.store_note] if self.store_note else [])

    @property
    def notes(self) -> list[str]:
        """The problems worth showing beside the verdicts: not those saying an asked-for key is missing,
        which ``missing_message`` says once."""
        missing = set(self.missing)
        return [problem for problem in self.problems if problem.split(":", 1)[0] not in missing]

    def missing_message(self) -> str:
        """``PAY-9, PAY-10: not found in the snapshot``, or "" when every key was found."""
        return f"{', '.join(self.missing)}: {NOT_FOUND[self.source]}" if self.missing else ""

    def counts(self) -> dict[str, Any]:
        rows = [row for verdict in self.found for row in verdict.rows]
        fails = [row for row in rows if row["status"] == "fail"]
        return {
            "issues": len(self.found),
            "findings": len(fails),
            "by_severity": {s.value: sum(1 for row in fails if row["severity"] == s.value) for s in Severity},
            "passed": sum(1 for row in rows if row["status"] == "pass"),
            "waived": sum(1 for row in rows if row["status"] == "waived"),
        }


def check_issues(inputs: Inputs, keys: Iterable[str], now: datetime, *, snapshot: str | None = None,
                 workspace_loader: Callable[[], Workspace] | None = None,
                 open_store: Callable[..., Any] | None = None) -> CheckResult:
    """Read ``keys`` (with the relatives their rules need), apply every active rule and waiver.

    Waivers from chat live in the store, opened read-only (``open_store(dry_run=True)``,
    by default the configured store): a store that cannot be opened costs only those
    waivers, and ``store_note`` says so.
    """
    wanted = parse_keys(keys)
    workspace = load_issues(inputs, wanted, snapshot=snapshot, workspace_loader=workspace_loader)
    result = scan(workspace, inputs.ruleset, inputs.config, now)
    store_note = apply_every_waiver(result, inputs.config, now, open_store=open_store)
    verdicts: dict[str, IssueVerdict] = {}
    for key in wanted:
        issue = workspace.issues.get(key)
        if issue is None:
            verdicts[key] = IssueVerdict(key, None)
            continue
        waivers = {f.rule: f.waiver_reason or "" for f in result.findings if f.issue == key and f.waived}
        verdicts[key] = IssueVerdict(key, issue, verdict_rows(result, key), waivers)
    return CheckResult(wanted, result, source_kind(inputs, snapshot), verdicts, store_note)


# -- rendering ------------------------------------------------------------------------------------------

def render_text(check: CheckResult, *, colour: bool = False) -> str:
    """For a terminal: per issue a heading and one line per rule; then the counts and notes."""
    style = click.style if colour else (lambda text, **_: text)
    lines = []
    for verdict in check.found:
        issue = verdict.issue
        heading = f"{issue.key}  {terminal_safe(issue.type)}  {terminal_safe(issue.summary)[:100]}"
        lines.append(style(heading, bold=True) + (f"  {terminal_safe(issue.url)}" if issue.url else ""))
        for row in verdict.rows:
            if row["status"] == "pass":
                lines.append(f"  {style('pass   ', fg='green')} {'':<8} {row['rule']}")
                continue
            mark = style("FAIL   " if row["status"] == "fail" else "waived ",
                         fg=SEVERITY_COLOURS[row["severity"]], bold=True)
            lines.append(f"  {mark} {row['severity']:<8} {row['rule']}")
            lines.append(f"      {terminal_safe(row['message'])}")
        if not verdict.rows:
            lines.append(f"  no rule applies to a {terminal_safe(issue.type) or 'issue of this type'}")
        lines.append("")
    counts = check.counts()
    by = counts["by_severity"]
    lines.append(f"{plural(counts['issues'], 'issue')} checked: {plural(counts['findings'], 'finding')} "
                 f"({plural(by['error'], 'error')}, {plural(by['warning'], 'warning')}, {by['info']} info), "
                 f"{counts['passed']} passed" + (f", {counts['waived']} waived" if counts["waived"] else ""))
    for note in check.notes[:10]:
        lines.append(style(f"note: {terminal_safe(note)}", fg="yellow"))
    if not check.complete:
        lines.append(style("check incomplete: some issues or their relatives could not be read", fg="yellow"))
    return "\n".join(lines)


def render_markdown(check: CheckResult) -> str:
    counts = check.counts()
    out = ["# govbot check", "", f"*{plural(counts['issues'], 'issue')} checked on "
           f"{check.result.now.date().isoformat()}; {plural(counts['findings'], 'finding')}, "
           f"{plural(counts['passed'], 'rule')} passed.*", ""]
    for verdict in check.found:
        issue = verdict.issue
        title = markdown_link(markdown_escape(issue.key), issue.url)
        out += [f"## {title}: {markdown_escape(issue.summary)} ({markdown_escape(issue.type)})", "",
                "| Verdict | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for row in verdict.rows:
            message = markdown_escape(row["message"]) if row["status"] != "pass" else ""
            severity = row["severity"] if row["status"] != "pass" else ""
            out.append(f"| {row['status']} | {severity} | `{row['rule']}` | {message} |")
        out.append("")
    if not check.complete:
        out += ["> Check incomplete: some issues or their relatives could not be read.", ""]
    return "\n".join(out)


def render_json(check: CheckResult) -> str:
    result = check.result
    issues = [{"key": v.issue.key, "summary": v.issue.summary, "type": v.issue.type, "level": v.issue.level,
               "status": v.issue.status, "team": v.issue.team, "url": v.issue.url,
               "parent": v.issue.parent_key, "verdicts": v.rows} for v in check.found]
    data: dict[str, Any] = {
        "issues": issues,
        "findings": [finding.to_json() for finding in result.findings],
        "summary": {**check.counts(), "complete": check.complete, "source": result.workspace.source,
                    "now": result.now.date().isoformat()},
        "missing": check.missing,
    }
    if check.problems:
        data["problems"] = check.problems
    return terminal_safe_json(json.dumps(data, indent=2, ensure_ascii=False))  # no raw controls on a terminal


RENDERERS: dict[str, Callable[[CheckResult], str]] = {
    "text": render_text, "markdown": render_markdown, "json": render_json}

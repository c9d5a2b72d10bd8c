"""A check run: every rule's verdict on a few issues, now (`govbot check` and `/govbot check`).

The batch reads the named issues with the relatives their rules look at (from
a snapshot, the bundled demo or live Jira), evaluates only those issues and
applies every waiver; this module turns it into one ``IssueVerdict`` per issue
asked for: every active rule, failing, waived, passing or not applicable. The
command line and chat render the same verdicts (``bot.render.check``), so they
cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from bot.errors import UsageError
from bot.model import Issue, Severity
from bot.runs.batch import Batch, build_batch
from bot.runs.inputs import Inputs, Read
from bot.workspace import Workspace

ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")

# What a key that was asked for but not read means, by where the issues came from.
NOT_FOUND = {
    "snapshot": "not found in the snapshot",
    "demo": "not in the bundled demo workspace",
    "jira": "not found in Jira (or not visible to this user)",
}
# not-judged: the rule applies, but this read cannot say (``Batch.unjudged``: the notes say why).
STATUSES = ("fail", "waived", "pass", "not-judged", "not-applicable")
_STATUS_ORDER = {status: position for position, status in enumerate(STATUSES)}


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


@dataclass
class IssueVerdict:
    """Every active rule's verdict on one issue: fails first (by severity), then waived, passes, not applicable."""

    key: str
    issue: Issue | None
    rows: list[dict] = field(default_factory=list)
    waivers: dict[str, str] = field(default_factory=dict)  # rule -> why it is waived here

    @property
    def found(self) -> bool:
        return self.issue is not None

    def with_status(self, status: str) -> list[dict]:
        return [row for row in self.rows if row["status"] == status]


def verdict_rows(batch: Batch, key: str) -> list[dict]:
    """One row per active rule: rule, title, severity, status, message, owner."""
    judged = {verdict.rule: verdict for verdict in batch.verdicts if verdict.issue == key}
    failed = {failure.rule: failure for failure in batch.failures if failure.issue == key}
    unjudged = {rule for rule, issue in batch.unjudged if issue == key}
    rows = []
    for rule in batch.evaluated_rules:
        verdict = judged.get(rule.id)
        finding = verdict.finding if verdict is not None else None
        if finding is not None:
            status = "waived" if finding.waived else "fail"
        elif verdict is not None:
            status = "pass"
        elif rule.id in failed:
            continue  # not judged: the batch's problems say why
        elif rule.id in unjudged:
            status = "not-judged"
        else:
            status = "not-applicable"
        rows.append({
            "rule": rule.id,
            "title": rule.title,
            "severity": (finding.severity if finding else rule.severity).value,
            "status": status,
            "message": finding.message if finding else "",
            "owner": finding.owner.to_json() if finding and finding.owner else None,
        })
    rows.sort(key=lambda row: (_STATUS_ORDER[row["status"]],
                               -Severity.parse(row["severity"]).rank if row["status"] in ("fail", "waived") else 0,
                               row["rule"]))
    return rows


@dataclass
class CheckResult:
    """The verdicts on the issues asked for, in the order asked, and what could not be read."""

    keys: list[str]
    batch: Batch
    source: str                      # snapshot | demo | jira
    verdicts: dict[str, IssueVerdict]

    @property
    def found(self) -> list[IssueVerdict]:
        return [self.verdicts[key] for key in self.keys if self.verdicts[key].found]

    @property
    def missing(self) -> list[str]:
        return [key for key in self.keys if not self.verdicts[key].found]

    @property
    def complete(self) -> bool:
        return self.batch.complete

    @property
    def problems(self) -> list[str]:
        """Everything the source and the engine reported (the JSON ``problems``)."""
        return self.batch.problems

    @property
    def notes(self) -> list[str]:
        """The problems worth showing beside the verdicts (not those saying an asked-for key is missing,
        which ``missing_message`` says once), then why a rule could not be judged, if one was not."""
        missing = set(self.missing)
        shown = [problem for problem in self.problems if problem.split(":", 1)[0] not in missing]
        if any(row["status"] == "not-judged" for verdict in self.found for row in verdict.rows):
            shown += [note for note in self.batch.coverage_notes if "could not be given" in note]
        return shown

    def missing_message(self) -> str:
        """``PAY-9, PAY-10: not found in the snapshot``, or "" when every key was found."""
        return f"{', '.join(self.missing)}: {NOT_FOUND[self.source]}" if self.missing else ""

    def counts(self) -> dict[str, int]:
        rows = [row for verdict in self.found for row in verdict.rows]
        return {status: sum(1 for row in rows if row["status"] == status) for status in STATUSES}


def check_issues(inputs: Inputs, keys: Iterable[str], now: datetime, *, snapshot: str | None = None,
                 workspace_loader: Callable[[], Workspace] | None = None,
                 open_store: Callable[..., Any] | None = None) -> CheckResult:
    """Read ``keys`` (with the relatives their rules need), apply every active rule and waiver.

    ``workspace_loader`` may supply a snapshot or the demo already read (chat
    caches it); ``open_store`` opens the store read-only for chat waivers.
    """
    wanted = parse_keys(keys)
    read = Read(snapshot=snapshot, keys=wanted)
    if workspace_loader is not None and read.source_kind(inputs) != "jira":
        read.workspace = workspace_loader()
    batch = build_batch(inputs, now, read=read, open_store=open_store)
    verdicts: dict[str, IssueVerdict] = {}
    for key in wanted:
        issue = batch.workspace.issues.get(key)
        if issue is None:
            verdicts[key] = IssueVerdict(key, None)
            continue
        waivers = {f.rule: f.waiver_reason or "" for f in batch.findings if f.issue == key and f.waived}
        verdicts[key] = IssueVerdict(key, issue, verdict_rows(batch, key), waivers)
    return CheckResult(wanted, batch, read.source_kind(inputs), verdicts)

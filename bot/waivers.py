"""Explicit, visible suppression of findings, like ``# nosemgrep``.

Three sources, all of which say who and why:
- a label on the issue, ``govbot-waive-<rule-id>`` (prefix ``waivers.label_prefix``);
  it lasts while the label is there;
- entries in the waiver file ``waivers.file`` (issue, rule, reason, until, by);
- snoozes kept in the store (from chat or the CLI), with the same fields.

A waived finding is not dropped: it stays in the results with ``waived=True``
and its reason, so the digest still counts it. A waiver past its ``until`` date
no longer applies and the finding resurfaces.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

from bot.errors import ConfigError
from bot.validation import validate
from bot.yamlfile import DiagnosticError, load

ANY_RULE = "*"
_ISSUE_KEY = r"^[A-Za-z][A-Za-z0-9_]*-\d+$"

WAIVER_FILE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["waivers"],
    "properties": {"waivers": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["issue", "rule", "reason"],
        "properties": {
            "issue": {"type": "string", "pattern": _ISSUE_KEY, "description": "an issue key like PROJ-123"},
            "rule": {"type": "string", "minLength": 1,
                     "description": "a rule id like anticipated-outcome-missing, or * for every rule"},
            "reason": {"type": "string", "minLength": 3},
            "until": {"description": "a date like 2026-06-30 (the last day the waiver applies)"},
            "by": {"type": "string"},
        }}}},
}


@dataclass(frozen=True)
class Waiver:
    issue: str
    rule: str
    reason: str
    until: date | None = None
    by: str | None = None
    source: str = ""  # "label", "snooze #id", or "path:line"

    def matches(self, rule: str, issue: str) -> bool:
        return self.issue.casefold() == issue.casefold() and self.rule in (rule, ANY_RULE)

    def active_on(self, today: date) -> bool:
        return self.until is None or today <= self.until

    def describe(self) -> str:
        parts = [self.reason]
        if self.by:
            parts.append(f"by {self.by}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        # A label explains itself ("label govbot-waive-..."); other sources say where the waiver is written.
        shown = self.source and self.source != "label"
        return "; ".join(parts) + f" ({self.source})" if shown else "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"issue": self.issue, "rule": self.rule, "reason": self.reason,
                "until": self.until.isoformat() if self.until else None, "by": self.by, "source": self.source}


@dataclass
class WaiverReport:
    """What applying waivers did to one set of findings."""

    applied: list[tuple[Any, Waiver]] = field(default_factory=list)  # (finding, waiver)
    expired: list[tuple[Any, Waiver]] = field(default_factory=list)  # finding resurfaced
    unused: list[Waiver] = field(default_factory=list)               # matched nothing this run


def load_waiver_file(path) -> list[Waiver]:
    """Waivers from a YAML file; ConfigError with ``file:line:col`` when malformed."""
    try:
        document = load(path)
    except DiagnosticError as error:
        raise ConfigError(str(error)) from None
    data = document.data
    if data is None:
        return []
    if isinstance(data, list):  # a bare list is accepted too
        data = {"waivers": data}
        document.value_marks = {("waivers",) + key: mark for key, mark in document.value_marks.items()}
        document.key_marks = {("waivers",) + key: mark for key, mark in document.key_marks.items()}
        document.data = data
    diagnostics = validate(document, WAIVER_FILE_SCHEMA, data, what="waiver:")
    entries = data.get("waivers") if isinstance(data, dict) else None
    result: list[Waiver] = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        until = entry.get("until")
        if until is not None and not isinstance(until, date):
            try:
                until = date.fromisoformat(str(until).strip())
            except ValueError:
                diagnostics.append(document.diagnostic(
                    ("waivers", index, "until"), f"waiver: until {until!r} is not a date",
                    hint="write it as YYYY-MM-DD, for example 2026-06-30"))
                continue
        if isinstance(until, datetime):
            until = until.date()
        line, _ = document.position(("waivers", index))
        if isinstance(entry.get("issue"), str) and isinstance(entry.get("rule"), str) \
                and isinstance(entry.get("reason"), str):
            result.append(Waiver(issue=entry["issue"].strip(), rule=entry["rule"].strip(),
                                 reason=entry["reason"].strip(), until=until,
                                 by=str(entry["by"]).strip() if entry.get("by") else None,
                                 source=f"{document.path}:{line}"))
    if diagnostics:
        raise ConfigError("\n".join(d.render() for d in diagnostics))
    return result


def configured_waivers(config, store=None) -> list[Waiver]:
    """Waivers from the configured file and the store's snoozes (labels are per issue)."""
    waivers: list[Waiver] = []
    path = config.resolve_path(config.settings.waivers.file)
    if path is not None:
        if not path.exists():
            raise ConfigError(f"waivers.file: {path} not found",
                              hint=f"create it (the README shows the format: a list under `waivers:`) or remove "
                                   f"waivers.file ({config.position('waivers', 'file')})")
        waivers.extend(load_waiver_file(path))
    if store is not None:
        for snooze in store.snoozes():
            waivers.append(Waiver(issue=snooze.issue, rule=snooze.rule, reason=snooze.reason,
                                  until=snooze.until, by=snooze.by, source=f"snooze #{snooze.id}"))
    return waivers


def label_prefix(config) -> str:
    return config.settings.waivers.label_prefix


def label_waiver(labels: Iterable[str], rule: str, prefix: str) -> Waiver | None:
    """The waiver a ``<prefix><rule-id>`` label expresses, if the issue carries one."""
    wanted = f"{prefix}{rule}".casefold()
    for label in labels:
        if label.casefold() == wanted:
            return Waiver(issue="", rule=rule, reason=f"label {label}", source="label")
    return None


def apply_waivers(findings: list, config, now: datetime, *, workspace=None, store=None,
                  waivers: list[Waiver] | None = None) -> WaiverReport:
    """Mark findings waived in place; return what applied and what expired.

    Idempotent: a finding already waived (for example by the engine's label
    check) keeps its reason. A file or snooze waiver past ``until`` does not
    apply, and is reported so the finding's resurfacing can be explained.
    """
    today = now.date()
    waivers = configured_waivers(config, store) if waivers is None else waivers
    prefix = label_prefix(config)
    report = WaiverReport()
    used: set[Waiver] = set()
    for finding in findings:
        if finding.waived:
            report.applied.append((finding, Waiver(finding.issue, finding.rule, finding.waiver_reason or "",
                                                   source="engine")))
            continue
        issue = workspace.get(finding.issue) if workspace is not None else None
        if issue is not None:
            by_label = label_waiver(issue.labels, finding.rule, prefix)
            if by_label is not None:
                _waive(finding, by_label, report)
                continue
        matching = [w for w in waivers if w.matches(finding.rule, finding.issue)]
        active = [w for w in matching if w.active_on(today)]
        if active:
            # The most specific, longest-lasting waiver explains it best.
            chosen = sorted(active, key=lambda w: (w.rule == ANY_RULE, -(w.until or date.max).toordinal()))[0]
            used.add(chosen)
            _waive(finding, chosen, report)
        elif matching:
            latest = max(matching, key=lambda w: w.until or date.min)
            used.add(latest)
            report.expired.append((finding, latest))
    report.unused = [w for w in waivers if w not in used and w.active_on(today)]
    return report


def unknown_rule_notes(unused: Iterable[Waiver], rule_ids: Iterable[str]) -> list[str]:
    """One line per file waiver whose rule no loaded rule has (with the nearest id): it can never apply."""
    known = sorted(set(rule_ids))
    notes = []
    for waiver in unused:
        if waiver.rule == ANY_RULE or waiver.rule in known or waiver.source.startswith(("snooze", "label")):
            continue
        close = difflib.get_close_matches(waiver.rule, known, n=1)
        notes.append(f"the waiver at {waiver.source} names rule {waiver.rule!r}, which no loaded rule has"
                     + (f" (did you mean {close[0]!r}?)" if close else "") + f": it waives nothing on {waiver.issue}")
    return notes


def _waive(finding, waiver: Waiver, report: WaiverReport) -> None:
    finding.waived = True
    finding.waiver_reason = waiver.describe()
    report.applied.append((finding, waiver))

"""The values the store hands out: finding states, deliveries, snoozes, comment states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


# -- values handed out ---------------------------------------------------------------

@dataclass
class FindingState:
    fingerprint: str
    rule: str
    issue: str
    team: str | None
    severity: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    reopened: int
    waived: bool
    nudge_count: int
    last_nudged_at: datetime | None
    escalated_at: datetime | None
    owner_id: str | None = None
    title: str = ""
    message: str = ""
    summary: str = ""
    url: str | None = None
    evidence: str = ""
    owner: dict | None = None
    waiver_reason: str | None = None
    resolved_as: str | None = None  # None: its rule stopped firing; "gone": the issue left Jira or the scope

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def as_finding(self):
        """The Finding this state was stored from, for an issue not read this run or a queued message's item."""
        from bot.model import Finding, Severity, User

        owner = User(**{k: v for k, v in self.owner.items()
                        if k in ("account_id", "name", "display_name", "email")}) if self.owner else None
        return Finding(rule=self.rule, issue=self.issue, severity=Severity.parse(self.severity),
                       message=self.message, title=self.title, evidence=self.evidence or "",
                       team=self.team, owner=owner, url=self.url, summary=self.summary,
                       waived=bool(self.waived), waiver_reason=self.waiver_reason)


@dataclass
class RecordSummary:
    """What ``record_scan`` changed: fingerprints per lifecycle transition."""

    run_id: int
    new: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    waiver_started: list[str] = field(default_factory=list)
    waiver_ended: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in
                ("new", "still_open", "resolved", "reopened", "waiver_started", "waiver_ended")}


@dataclass
class Delivery:
    id: int
    dedupe_key: str
    kind: str
    recipient: str
    channel: str | None
    person: str | None
    payload: dict
    fingerprints: list[str]
    status: str
    attempts: int
    last_error: str | None
    run_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    external_id: str | None


@dataclass
class Snooze:
    id: int
    issue: str
    rule: str
    by: str | None
    reason: str
    until: date | None
    created_at: datetime


@dataclass
class CommentState:
    issue: str
    comment_id: str | None
    revision: int
    content_hash: str
    state: str
    written_at: datetime | None


# merged: folded into a later message to the same recipient (one message per person per run).
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "cancelled", "merged")


def _finding_state(row) -> FindingState:
    return FindingState(
        fingerprint=row.fingerprint, rule=row.rule, issue=row.issue, team=row.team, severity=row.severity,
        first_seen=row.first_seen, last_seen=row.last_seen, resolved_at=row.resolved_at,
        reopened=row.reopened, waived=row.waived, nudge_count=row.nudge_count,
        last_nudged_at=row.last_nudged_at, escalated_at=row.escalated_at, owner_id=row.owner_id,
        title=row.title, message=row.message, summary=row.summary, url=row.url, evidence=row.evidence,
        owner=row.owner, waiver_reason=row.waiver_reason, resolved_as=row.resolved_as)


def _delivery(row) -> Delivery:
    return Delivery(
        id=row.id, dedupe_key=row.dedupe_key, kind=row.kind, recipient=row.recipient, channel=row.channel,
        person=row.person, payload=row.payload, fingerprints=list(row.fingerprints or []), status=row.status,
        attempts=row.attempts, last_error=row.last_error, run_id=row.run_id, created_at=row.created_at,
        claimed_at=row.claimed_at, sent_at=row.sent_at, external_id=row.external_id)


def _comment_state(row) -> CommentState:
    return CommentState(issue=row.issue, comment_id=row.comment_id, revision=row.revision,
                        content_hash=row.content_hash, state=row.state, written_at=row.written_at)

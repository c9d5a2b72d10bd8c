"""One delivery run: scan result -> state -> plan -> outbox -> Slack / Jira.

Shared by ``govbot nudge``, ``govbot preview`` and the scheduler. Dry run is
the default: the whole run happens inside a transaction that is rolled back,
so what it prints is exactly what ``--apply`` would queue and send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.deliver.audit import AuditLog, NullAudit
from bot.deliver.breaker import BreakerSettings
from bot.deliver.comments import plan_comments
from bot.deliver.outbox import FlushReport, Outbox, SubmitReport
from bot.deliver.policy import NudgeSettings, Outgoing, Plan, plan_nudges
from bot.deliver.routing import Router
from bot.deliver.slack_client import SlackError
from bot.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_NETWORK, ConfigError, NetworkError
from bot.model import Finding, Severity, User
from bot.store import RecordSummary, Store, open_store
from bot.waivers import WaiverReport, apply_waivers


@dataclass
class DeliveryReport:
    dry_run: bool
    plan: Plan
    comments: list[Outgoing] = field(default_factory=list)
    submitted: SubmitReport = field(default_factory=SubmitReport)
    leftovers: FlushReport = field(default_factory=FlushReport)   # dry run: queued by earlier runs
    flushed: FlushReport = field(default_factory=FlushReport)
    record: RecordSummary | None = None
    waivers: WaiverReport | None = None
    notes: list[str] = field(default_factory=list)
    unmapped_all: dict[str, str] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return self.submitted.trip is not None

    @property
    def messages(self) -> list[Outgoing]:
        return self.plan.messages + self.comments

    @property
    def exit_code(self) -> int:
        both = (self.leftovers, self.flushed)
        if any(report.fatal or report.blocked for report in both):
            return EXIT_ERROR
        if any(report.unreachable or report.pending for report in both):
            return EXIT_NETWORK
        if self.held:
            return EXIT_FINDINGS
        return EXIT_CLEAN

    def to_json(self) -> dict[str, Any]:
        def entry(message: Outgoing) -> dict:
            return {"kind": message.kind, "to": message.label, "recipient": message.recipient,
                    "dedupe_key": message.dedupe_key, "findings": message.fingerprints,
                    "by_rule": message.by_rule, "text": message.payload.get("text"),
                    "blocks": message.payload.get("blocks"), "comment": message.payload.get("wiki")}
        return {
            "dry_run": self.dry_run,
            "held_by_breaker": self.submitted.trip.reason if self.submitted.trip else None,
            "messages": [entry(m) for m in self.messages],
            "queued": [m.dedupe_key for m in self.submitted.queued],
            "already_queued": [m.dedupe_key for m in self.submitted.duplicate],
            "sent": [d.dedupe_key for d in self.leftovers.sent + self.flushed.sent],
            "failed": [{"key": d.dedupe_key, "error": e} for d, e in self.leftovers.failed + self.flushed.failed],
            "pending": [d.dedupe_key for d in self.leftovers.pending + self.flushed.pending],
            "blocked": [{"key": d.dedupe_key, "error": e} for d, e in self.leftovers.blocked + self.flushed.blocked],
            "in_doubt": [d.dedupe_key for d in self.leftovers.in_doubt + self.flushed.in_doubt],
            "deferred": [{"issue": f.issue, "rule": f.rule, "why": why} for f, why in self.plan.deferred],
            "undeliverable": [{"issue": f.issue, "rule": f.rule, "why": why} for f, why in self.plan.undeliverable],
            "unmapped_owners": self.plan.unmapped,
            "skipped": dict(self.plan.skipped),
            "notes": self.notes,
        }


def run_delivery(config, result, *, now: datetime, apply: bool = False, store: Store | None = None,
                 slack=None, comment_writer=None, audit: AuditLog | None = None,
                 override_breaker: bool = False, include_slack: bool = True,
                 include_comments: bool = True) -> DeliveryReport:
    """Plan and (with ``apply``) deliver this run's nudges and comments."""
    settings = NudgeSettings.from_config(config)
    audit = audit or (AuditLog.from_config(config) if apply else NullAudit())
    if apply:
        audit.check_writable()
    own_store = store is None
    store = store or open_store(config, dry_run=not apply)
    try:
        # Applying without a Jira writer must not queue comments nobody will send.
        include_comments = include_comments and (comment_writer is not None or not apply)
        return _run(config, result, now=now, apply=apply, store=store, slack=slack,
                    comment_writer=comment_writer, audit=audit, override_breaker=override_breaker,
                    include_slack=include_slack and settings.enabled, include_comments=include_comments,
                    settings=settings)
    finally:
        if own_store:
            store.close()


def _run(config, result, *, now, apply, store, slack, comment_writer, audit, override_breaker,
         include_slack, include_comments, settings) -> DeliveryReport:
    slack_section = config.section("slack") or {}
    waiver_report = apply_waivers(result.findings, config, now, workspace=result.workspace, store=store)
    router = Router(config, store=store, now=now,
                    lookup=slack.lookup_user_by_email if (slack is not None and apply) else None)
    if include_slack:
        # Resolve Slack users before the planning transaction: network calls must
        # not run while the database is locked for writing.
        try:
            for finding in result.findings:
                if not finding.waived:
                    router.route(finding)
        except SlackError as error:
            if error.fatal:
                raise ConfigError(f"Slack refused govbot's token: {error}",
                                  hint="check SLACK_BOT_TOKEN and the app's scopes "
                                       "(chat:write, im:write, users:read, users:read.email)") from None
            raise NetworkError(f"Slack is unreachable (looking up users by email): {error}",
                               hint="nothing was sent or recorded; queued messages wait for the next run") from None
    outbox = Outbox(store, audit=audit, dry_run=not apply, slack=slack, comments=comment_writer,
                    resend_unconfirmed=bool(slack_section.get("resend_unconfirmed", False)),
                    breaker_settings=BreakerSettings.from_config(config),
                    admin_channel=slack_section.get("admin_channel"), keep_blocked=True)
    report = DeliveryReport(dry_run=not apply, plan=Plan(), waivers=waiver_report)
    if not include_slack:
        report.notes.append("Slack nudges are off for this run")
    history = store.recent_runs("nudge", BreakerSettings.from_config(config).history_runs)
    if not apply:
        report.leftovers = outbox.flush(now)
        with store.preview():
            _plan_and_submit(report, result, store, config, now, router, settings, outbox, override_breaker,
                             include_slack, include_comments, history, run_id=None)
        report.unmapped_all = dict(router.unmapped)
        return report
    with store.run_lock("deliver"):
        run_id = store.start_run("nudge", now, source=getattr(result.workspace, "source", "") or "")
        # Record and plan first, then one flush sends what earlier runs left queued
        # (unless its findings were fixed meanwhile) and this run's messages.
        with store.transaction():
            _plan_and_submit(report, result, store, config, now, router, settings, outbox, override_breaker,
                             include_slack, include_comments, history, run_id=run_id)
        audit_waivers(audit, report.record, result.findings, waiver_report)
        for message in report.submitted.queued:
            audit.write("delivery.queued", kind=message.kind, recipient=message.recipient, person=message.person,
                        dedupe_key=message.dedupe_key, fingerprints=message.fingerprints,
                        issues=message.payload.get("issues") or ([message.recipient] if message.comment else []))
        if report.submitted.trip is not None:
            audit.write("breaker.tripped", reason=report.submitted.trip.reason,
                        baseline=report.submitted.trip.baseline,
                        held=[m.dedupe_key for m in report.submitted.held])
        report.flushed = outbox.flush(now)
        report.unmapped_all = dict(router.unmapped)
        if report.plan.unmapped:
            audit.write("routing.unmapped", owners=report.plan.unmapped)
        store.finish_run(run_id, now, {
            "applied": True, "held": report.held,
            "people": report.plan.people if not report.held else _people(report.submitted.held),
            "findings": _findings(report.messages),
            "queued": len(report.submitted.queued),
            "sent": len(report.leftovers.sent) + len(report.flushed.sent),
            "pending": len(report.flushed.pending),
            "failed": len(report.leftovers.failed) + len(report.flushed.failed),
        })
    return report


def _plan_and_submit(report, result, store, config, now, router, settings, outbox, override_breaker,
                     include_slack, include_comments, history, *, run_id) -> None:
    report.record = store.record_scan(result, now)
    carried = carried_findings(result, store, config, now) if include_slack else []
    if carried:
        report.notes.append(f"{len(carried)} open findings on issues not read this run are included "
                            "from the store (incremental or partial read)")
    report.plan = plan_nudges(result, store, config, now, router, settings=settings,
                              extra=carried) if include_slack else Plan()
    report.comments = plan_comments(result, store, config, now) if include_comments else []
    report.submitted = outbox.submit(report.plan.messages + report.comments, now, run_id=run_id,
                                     override_breaker=override_breaker, history=history)
    if report.submitted.trip is None and report.plan.silent_escalations:
        store.mark_escalated(report.plan.silent_escalations, now)


def carried_findings(result, store, config, now: datetime) -> list:
    """Open findings from earlier scans on issues this scan did not read, as Findings.

    An incremental or partial read only sees changed issues; their unchanged
    neighbours still have open findings that may be due for a reminder.
    """
    read = set(result.workspace.issues)
    active = {rule.id for rule in getattr(result.ruleset, "active", getattr(result.ruleset, "rules", []))}
    findings = []
    for state in store.finding_states(open_only=True).values():
        if state.issue in read or state.rule not in active:
            continue
        findings.append(_finding_from_state(state))
    if findings:
        labelled = {id(f) for f in findings if (f.waiver_reason or "").startswith("label ")}
        for finding in findings:
            if id(finding) not in labelled:
                finding.waived, finding.waiver_reason = False, None
        apply_waivers(findings, config, now, store=store)
    return findings


def _finding_from_state(state):
    owner = User(**{k: v for k, v in state.owner.items()
                    if k in ("account_id", "name", "display_name", "email")}) if state.owner else None
    return Finding(rule=state.rule, issue=state.issue, severity=Severity.parse(state.severity),
                   message=state.message, title=state.title, evidence=state.evidence or "",
                   team=state.team, owner=owner, url=state.url, summary=state.summary,
                   waived=bool(state.waived), waiver_reason=state.waiver_reason)


def _people(messages: list[Outgoing]) -> int:
    return len({m.person for m in messages if m.kind == "slack_dm"})


def _findings(messages: list[Outgoing]) -> int:
    return len({fp for m in messages if not m.breaker_exempt for fp in m.fingerprints})


def audit_waivers(audit: AuditLog, record: RecordSummary | None, findings, waiver_report: WaiverReport | None) -> None:
    """Log waivers that started or stopped suppressing a finding in this run (not every run they apply)."""
    if record is None:
        return
    by_fingerprint = {finding.fingerprint: finding for finding in findings}
    expired = {finding.fingerprint: waiver for finding, waiver in (waiver_report.expired if waiver_report else [])}
    applied = {finding.fingerprint: waiver for finding, waiver in (waiver_report.applied if waiver_report else [])}
    for fingerprint in record.waiver_started:
        finding = by_fingerprint.get(fingerprint)
        waiver = applied.get(fingerprint)
        audit.write("waiver.applied", fingerprint=fingerprint, issue=getattr(finding, "issue", None),
                    rule=getattr(finding, "rule", None), reason=getattr(finding, "waiver_reason", None),
                    waiver=waiver.to_json() if waiver else None)
    for fingerprint in record.waiver_ended:
        finding = by_fingerprint.get(fingerprint)
        waiver = expired.get(fingerprint)
        audit.write("waiver.expired" if waiver else "waiver.ended", fingerprint=fingerprint,
                    issue=getattr(finding, "issue", None), rule=getattr(finding, "rule", None),
                    waiver=waiver.to_json() if waiver else None)

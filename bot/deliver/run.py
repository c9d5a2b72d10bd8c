"""One delivery run: a run's batch -> plan -> outbox -> Slack / Jira.

Shared by ``govbot nudge``, ``govbot preview`` and the scheduler, through
``bot.runs.nudge``, which composes it with the batch (the batch reads,
evaluates, waives and records; delivery never does). Dry run is the default:
the record and the plan happen inside a transaction that is rolled back, with
the same (read-only) Slack calls, so what it prints is exactly what
``--apply`` would queue and send.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from bot.deliver.audit import AuditLog, NullAudit
from bot.deliver.breaker import BreakerSettings
from bot.deliver.comments import plan_comments
from bot.deliver.outbox import NUDGE_KINDS, FlushReport, Outbox, SubmitReport
from bot.deliver.policy import NudgeSettings, Outgoing, Plan, findings_to_route, plan_nudges, quiet_reason
from bot.deliver.routing import Router
from bot.deliver.slack_client import SlackError
from bot.errors import (EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_NETWORK, ConfigError,
                        NetworkError)
from bot.store import RecordSummary, Store
from bot.waivers import WaiverReport


@dataclass
class DeliveryReport:
    dry_run: bool
    plan: Plan
    comments: list[Outgoing] = field(default_factory=list)
    submitted: SubmitReport = field(default_factory=SubmitReport)
    settled: FlushReport = field(default_factory=FlushReport)     # messages an interrupted run left in doubt
    leftovers: FlushReport = field(default_factory=FlushReport)   # dry run: queued by earlier runs, as they are
    flushed: FlushReport = field(default_factory=FlushReport)
    record: RecordSummary | None = None
    waivers: WaiverReport | None = None
    notes: list[str] = field(default_factory=list)
    unmapped_all: dict[str, str] = field(default_factory=dict)
    incomplete: str | None = None  # the scan could not read everything: what was held back, and why

    @property
    def held(self) -> bool:
        return self.submitted.trip is not None

    @property
    def messages(self) -> list[Outgoing]:
        return self.plan.messages + self.comments

    @property
    def reports(self) -> tuple[FlushReport, ...]:
        return self.settled, self.leftovers, self.flushed

    @property
    def exit_code(self) -> int:
        """2 a channel or the credentials refused, 3 Slack or Jira unreachable, 4 the scan was incomplete,
        1 held by the circuit breaker, else 0."""
        if any(report.fatal or report.blocked for report in self.reports):
            return EXIT_ERROR
        if any(report.unreachable or report.pending for report in self.reports):
            return EXIT_NETWORK
        if self.incomplete:
            return EXIT_INCOMPLETE
        if self.held:
            return EXIT_FINDINGS
        return EXIT_CLEAN

    def problem(self) -> str | None:
        """One line for standard error when the run exits 2 or more, saying why."""
        code = self.exit_code
        if code == EXIT_ERROR:
            fatal = [line for report in self.reports for line in report.fatal]
            if fatal:
                return f"Slack or Jira refused govbot's credentials: {fatal[0]}; queued messages are kept"
            blocked = [(entry, error) for report in self.reports for entry, error in report.blocked]
            entry, error = blocked[0]
            more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
            return f"Slack refused {entry.recipient}{more}: {error}; the message stays queued"
        if code == EXIT_NETWORK:
            waiting = sum(len(report.pending) + len(report.in_doubt) for report in self.reports)
            first = next((line for report in self.reports for line in report.unreachable), "no answer")
            return (f"Slack or Jira is unreachable ({first}); {waiting} message{'s' if waiting != 1 else ''} "
                    "wait for the next run")
        if code == EXIT_INCOMPLETE:
            return self.incomplete
        return None

    def to_json(self) -> dict[str, Any]:
        def entry(message: Outgoing) -> dict:
            return {"kind": message.kind, "to": message.label, "recipient": message.recipient,
                    "dedupe_key": message.dedupe_key, "findings": message.fingerprints,
                    "by_rule": message.by_rule, "text": message.payload.get("text"),
                    "blocks": message.payload.get("blocks"), "comment": message.payload.get("wiki")}
        both = self.reports
        return {
            "dry_run": self.dry_run,
            "held_by_breaker": self.submitted.trip.reason if self.submitted.trip else None,
            "messages": [entry(m) for m in self.messages],
            "queued": [m.dedupe_key for m in self.submitted.queued],
            "already_queued": [m.dedupe_key for m in self.submitted.duplicate],
            "merged": [{"into": m.dedupe_key, "earlier": ids} for m, ids in self.submitted.merged],
            "queued_earlier": [d.dedupe_key for d in self.leftovers.would_send],
            "sent": [d.dedupe_key for r in both for d in r.sent],
            "failed": [{"key": d.dedupe_key, "error": e} for r in both for d, e in r.failed],
            "pending": [d.dedupe_key for r in both for d in r.pending],
            "blocked": [{"key": d.dedupe_key, "error": e} for r in both for d, e in r.blocked],
            "in_doubt": [d.dedupe_key for r in both for d in r.in_doubt],
            "resent_after_interruption": [d.dedupe_key for r in both for d in r.resent],
            "marked_possible_repeat": [d.dedupe_key for r in both for d in r.repeats],
            "waiting_for_quiet_time": [{"key": d.dedupe_key, "why": why} for r in both for d, why in r.deferred],
            "deferred": [{"issue": f.issue, "rule": f.rule, "why": why} for f, why in self.plan.deferred],
            "undeliverable": [{"issue": f.issue, "rule": f.rule, "why": why} for f, why in self.plan.undeliverable],
            "unmapped_owners": self.plan.unmapped,
            "skipped": dict(self.plan.skipped),
            "incomplete": self.incomplete,
            "notes": self.notes,
        }


class Delivery:
    """One run's delivery, in the three moves a nudge run makes around its batch's record.

    ``prepare`` (before the record, no transaction open): what may be sent, the
    owners' Slack accounts (network calls must not run while the database is
    locked), and with ``apply`` the settling of posts an interrupted run left in
    doubt. ``plan`` (inside the record's transaction, see ``bot.runs.batch``):
    plan the nudges and comments and queue them in the outbox, atomically with
    the record. ``send`` (after the commit): audit and flush the outbox.

    A dry run decides exactly as ``apply`` would: owners are resolved through the
    Slack lookup cache and, when SLACK_BOT_TOKEN is set, read-only
    ``users.lookupByEmail``; messages an interrupted run left in doubt are looked
    up in Slack's history the same way; leftovers are merged the same way. Its
    writes happen inside the rolled-back transaction of the record.
    """

    def __init__(self, config, *, now: datetime, store: Store, apply: bool = False, slack=None,
                 comment_writer=None, audit: AuditLog | None = None, override_breaker: bool = False,
                 include_slack: bool = True, include_comments: bool = True, demo: bool = False):
        self.config, self.now, self.store, self.apply = config, now, store, apply
        self.settings = NudgeSettings.from_config(config)
        self.audit = audit or (AuditLog.from_config(config) if apply else NullAudit())
        if apply:
            self.audit.check_writable()
        self.include_slack = include_slack and self.settings.enabled
        if slack is None and not apply and self.include_slack and not demo:
            slack = read_only_slack(config)  # the bundled demo never talks to Slack at all
        self.slack = slack
        self.comment_writer = comment_writer
        # Applying without a Jira writer must not queue comments nobody will send.
        self.include_comments = include_comments and (comment_writer is not None or not apply)
        self.override_breaker = override_breaker
        self.report = DeliveryReport(dry_run=not apply, plan=Plan())
        self.run_id: int | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator["Delivery"]:
        """With ``apply``, one delivery run at a time on this store (held from the read to the flush)."""
        if not self.apply:
            yield self
            return
        with self.store.run_lock("deliver"):
            yield self

    def prepare(self, batch) -> None:
        """Before the record: decide what may be sent and resolve its owners (see the class)."""
        config, store, now, report = self.config, self.store, self.now, self.report
        report.waivers = batch.waivers
        self.usable, self.include_comments = _what_can_be_sent(batch, report, self.include_comments)
        # Open findings on issues this run did not read: due reminders, and comments an earlier run planned
        # but could not write (held by the breaker, --no-comments, Jira down before it queued them).
        self.unread = batch.carried if batch.workspace.complete else []
        self.carried = self.unread if self.include_slack else []
        slack_section = config.settings.slack
        self.router = Router(config, store=store, now=now, remember=self.apply,
                             lookup=self.slack.lookup_user_by_email if self.slack is not None else None)
        if self.include_slack:
            _resolve_owners(report, self.router, findings_to_route(self.usable, store, config, now,
                                                                   settings=self.settings, extra=self.carried),
                            apply=self.apply)
        breaker = BreakerSettings.from_config(config)
        self.outbox = Outbox(store, audit=self.audit, dry_run=not self.apply, slack=self.slack,
                             comments=self.comment_writer,
                             resend_unconfirmed=slack_section.resend_unconfirmed,
                             breaker_settings=breaker, admin_channel=slack_section.admin_channel,
                             keep_blocked=True, quiet=_quiet_for(config, store, self.settings, now))
        if not self.include_slack:
            report.notes.append("Slack nudges are off for this run")
        # Enough recent runs to find the last few that sent something (the breaker skips the empty ones).
        self.history = store.recent_runs("nudge", breaker.history_runs * 20)
        if self.apply:
            # First settle what an interrupted run left in doubt, so a message to resend is merged
            # with this run's news for the same person (one message per person per run).
            report.settled = self.outbox.settle(now)
            self.run_id = store.start_run("nudge", now, source=getattr(batch.workspace, "source", "") or "")

    def plan(self, batch) -> None:
        """Inside the record's transaction: plan and queue, so the queue and the record commit together."""
        report, now = self.report, self.now
        report.record = batch.record
        if not self.apply:
            report.settled = self.outbox.settle(now)
        _plan_and_submit(report, self.usable, self.carried, self.store, self.config, now, self.router,
                         self.settings, self.outbox, self.override_breaker, self.include_slack,
                         self.include_comments, self.history, run_id=self.run_id, unread=self.unread)
        if not self.apply:
            planned = {m.dedupe_key for m in report.submitted.queued}
            leftovers = self.outbox.flush(now)
            report.leftovers.would_send = [e for e in leftovers.would_send if e.dedupe_key not in planned]
            report.leftovers.deferred = [(e, why) for e, why in leftovers.deferred if e.dedupe_key not in planned]
            return
        # What this run let through counts for the breaker from now on, even if it dies before
        # it has sent it all (the counts are completed at the end).
        self.store.finish_run(self.run_id, now, _run_counts(report))

    def send(self, batch) -> DeliveryReport:
        """After the commit: audit what was queued, then one flush sends what earlier runs left queued
        (unless its findings were fixed meanwhile, or merged into this run's message) and this run's."""
        report, audit, now = self.report, self.audit, self.now
        report.unmapped_all = dict(self.router.unmapped)
        if not self.apply:
            return report
        audit_waivers(audit, report.record, batch.findings, report.waivers)
        for message in report.submitted.queued:
            audit.write("delivery.queued", kind=message.kind, recipient=message.recipient, person=message.person,
                        dedupe_key=message.dedupe_key, fingerprints=message.fingerprints,
                        issues=message.payload.get("issues") or ([message.recipient] if message.comment else []))
        for message, merged in report.submitted.merged:
            if merged:
                audit.write("delivery.merged", kind=message.kind, recipient=message.recipient,
                            person=message.person, into=message.dedupe_key, merged=merged,
                            carried_over=message.carried_over,
                            why="one message per person per run: queued earlier, sent with this run's")
        if report.submitted.trip is not None:
            audit.write("breaker.tripped", reason=report.submitted.trip.reason,
                        baseline=report.submitted.trip.baseline,
                        held=[m.dedupe_key for m in report.submitted.held])
        report.flushed = self.outbox.flush(now, settle=False)
        report.unmapped_all = dict(self.router.unmapped)
        if report.plan.unmapped:
            audit.write("routing.unmapped", owners=report.plan.unmapped)
        self.store.finish_run(self.run_id, now, {
            **_run_counts(report),
            "sent": len(report.settled.sent) + len(report.flushed.sent),
            "pending": len(report.flushed.pending),
            "failed": len(report.flushed.failed),
        })
        return report


def read_only_slack(config):
    """For dry runs: the Slack lookups apply would make (users by email, history), never a post; None without a token."""
    if not config.secret("SLACK_BOT_TOKEN"):
        return None
    from bot.deliver.slack_client import ReadOnlySlack, SlackClient

    return ReadOnlySlack(SlackClient.from_config(config))


def _run_counts(report: DeliveryReport) -> dict[str, Any]:
    """What the breaker's history keeps of a run: who and how much it let through (news only)."""
    messages = report.submitted.held if report.held else report.plan.messages
    news = [m for m in messages if not m.breaker_exempt and set(m.fingerprints) - set(m.carried_over)]
    return {"applied": True, "held": report.held,
            "people": len({m.person for m in news if m.kind == "slack_dm"}),
            "findings": len({fp for m in news for fp in m.fingerprints if fp not in set(m.carried_over)}),
            "queued": len(report.submitted.queued), **({"incomplete": True} if report.incomplete else {})}


def _what_can_be_sent(result, report: DeliveryReport, include_comments: bool):
    """This scan's findings that are safe to deliver, and whether comments are.

    A scan that could not read everything (Jira failed mid-scan) still read some
    issues whole: findings on them from rules that look only at the issue itself
    are sound. Findings from rules that look at parents or children, and open
    findings carried from the store for issues not read, may be wrong: they are
    not sent this run (the run exits 4 and says so).
    """
    if result.workspace.complete:
        return result, include_comments
    active = getattr(result.ruleset, "active", getattr(result.ruleset, "rules", []))
    relatives = {rule.id for rule in active if getattr(rule, "needs_relatives", False)}
    kept = [finding for finding in result.findings if finding.rule not in relatives]
    held = len(result.findings) - len(kept)
    said = ["the scan could not read every issue in scope"]
    if held:
        said.append(f"{held} finding{'s' if held != 1 else ''} from rules that look at parents or children "
                    f"({', '.join(sorted({f.rule for f in result.findings if f.rule in relatives}))}) not sent")
    said.append("open findings on issues not read this run not sent; findings on the issues read were")
    commenting = {rule.id for rule in active if getattr(rule, "comment", False)}
    if include_comments and commenting & relatives:
        include_comments = False
        said.append("no Jira comments this run (a comment rule looks at parents or children)")
    report.incomplete = "; ".join(said)
    return _Findings(result, kept), include_comments


class _Findings:
    """A scan result with only some of its findings (the rest cannot be sent this run)."""

    def __init__(self, result, findings: list):
        self._result = result
        self.findings = findings

    def __getattr__(self, name: str):
        return getattr(self._result, name)


def _resolve_owners(report: DeliveryReport, router: Router, findings: list, *, apply: bool) -> None:
    """Look up the Slack users of the findings this run may DM about, before the planning transaction:
    network calls must not run while the database is locked for writing."""
    try:
        for finding in findings:
            router.route(finding)
    except SlackError as error:
        if apply or error.fatal:
            if error.fatal:
                raise ConfigError(f"Slack refused govbot's token: {error}",
                                  hint="check SLACK_BOT_TOKEN and the app's scopes "
                                       "(chat:write, im:write, users:read, users:read.email)") from None
            raise NetworkError(f"Slack is unreachable (looking up users by email): {error}",
                               hint="nothing was sent or recorded; queued messages wait for the next run") from None
        router.lookup = None  # a dry run goes on with what the cache knows, and says so
        report.notes.append(f"Slack could not be reached to look up owners ({error}); owners not in the "
                            "lookup cache are counted as DMs here")


def _quiet_for(config, store, settings: NudgeSettings, now: datetime):
    """Why now is quiet time for a queued nudge (any of its teams, in their time zones), or None."""
    def quiet(entry) -> str | None:
        teams = (entry.payload or {}).get("teams")
        if teams is None:
            teams = sorted({state.team or "" for state in store.finding_states(entry.fingerprints).values()})
        for team in teams or [""]:
            why = quiet_reason(config, team or None, settings, now)
            if why:
                return why
        return None

    return quiet


def _plan_and_submit(report, usable, carried, store, config, now, router, settings, outbox,
                     override_breaker, include_slack, include_comments, history, *, run_id, unread=()) -> None:
    if carried:
        report.notes.append(f"{len(carried)} open findings on issues not read this run are included "
                            "from the store (incremental or partial read)")
    leftovers = store.deliveries(status="queued", kinds=NUDGE_KINDS) if include_slack else []
    report.plan = plan_nudges(usable, store, config, now, router, settings=settings, extra=carried,
                              leftovers=leftovers) if include_slack else Plan()
    report.comments = plan_comments(usable, store, config, now, waivers=report.waivers,
                                    unread=unread) if include_comments else []
    report.submitted = outbox.submit(report.plan.messages + report.comments, now, run_id=run_id,
                                     override_breaker=override_breaker, history=history)
    if report.submitted.trip is None and report.plan.silent_escalations:
        store.mark_escalated(report.plan.silent_escalations, now)


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

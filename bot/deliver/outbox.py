"""Nothing lost, nothing twice: every outgoing message passes through here.

1. ``submit`` records each planned message as ``queued`` - together with the
   findings' nudge state, in the same transaction - before anything is sent.
   The dedupe key is run-independent (recipient + findings + nudge number), so
   a message can never be queued twice.
2. ``flush`` sends queued messages one by one: mark ``sending`` (committed),
   call Slack or Jira, mark ``sent`` with the Slack ``ts`` / Jira comment id.
   Slack or Jira down: the message goes back to ``queued`` for the next run.
3. A message left ``sending`` by a run that died, or whose send failed in a
   way that may still have delivered it (a server error, a lost answer), is
   *in doubt*: never resent blindly, only settled by the next flush. Jira
   comments are simply retried (the upsert finds the bot's own comment first).
   Slack messages carry their dedupe key as message metadata; the outbox asks
   ``conversations.history`` whether it arrived, and resends only when Slack
   says it did not. When Slack cannot tell, it is counted as sent (a lost
   nudge comes back at the next reminder; a duplicate is noise) unless
   ``slack.resend_unconfirmed`` is true.

This is the only place that knows about dry runs and the circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.deliver import breaker as breaker_module
from bot.deliver.audit import AuditLog
from bot.deliver.policy import Outgoing, dedupe_key
from bot.deliver.slack import breaker_alert

METADATA_EVENT = "govbot_delivery"


@dataclass
class FlushReport:
    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)          # (delivery, error)
    cancelled: list = field(default_factory=list)
    unconfirmed: list = field(default_factory=list)     # in doubt, counted as sent
    resent: list = field(default_factory=list)          # in doubt, Slack confirmed it never arrived
    pending: list = field(default_factory=list)         # still queued (Slack/Jira down)
    in_doubt: list = field(default_factory=list)        # may have arrived: the next flush checks before resending
    would_send: list = field(default_factory=list)      # dry run: queued earlier, would go now
    blocked: list = field(default_factory=list)         # (delivery, error): channel refused, kept queued
    unreachable: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)

    def merge(self, other: "FlushReport") -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


@dataclass
class SubmitReport:
    queued: list[Outgoing] = field(default_factory=list)
    duplicate: list[Outgoing] = field(default_factory=list)  # dedupe key already known: not queued again
    held: list[Outgoing] = field(default_factory=list)
    trip: Any = None
    alert: Outgoing | None = None


class Outbox:
    def __init__(self, store, *, audit: AuditLog, dry_run: bool = True, slack=None, comments=None,
                 resend_unconfirmed: bool = False, breaker_settings=None, admin_channel: str | None = None,
                 keep_blocked: bool = False):
        self.store = store
        self.audit = audit
        self.dry_run = dry_run
        self.slack = slack
        self.comments = comments
        self.resend_unconfirmed = resend_unconfirmed
        self.breaker_settings = breaker_settings or breaker_module.BreakerSettings()
        self.admin_channel = admin_channel
        self.keep_blocked = keep_blocked  # a refused channel keeps its message queued (else: failed)

    # -- recording ---------------------------------------------------------------------------------
    def submit(self, messages: list[Outgoing], now: datetime, *, run_id: int | None = None,
               override_breaker: bool = False, history: list[dict] | None = None) -> SubmitReport:
        """Queue messages (and commit their findings' nudge state), unless the breaker holds them.

        Call inside ``store.transaction()`` (apply) or ``store.preview()`` (dry run)
        so queueing and state changes land together or not at all.
        """
        report = SubmitReport()
        counted = [m for m in messages if not m.breaker_exempt]
        people = len({m.person for m in counted if m.kind == "slack_dm"})
        findings = len({fp for m in counted for fp in m.fingerprints})
        trip = breaker_module.check(people, findings, history or [], self.breaker_settings) if counted else None
        if trip is not None and not override_breaker:
            report.trip = trip
            report.held = list(messages)
            by_rule: dict[str, int] = {}
            for message in counted:
                for rule, count in message.by_rule.items():
                    by_rule[rule] = by_rule.get(rule, 0) + count
            if self.admin_channel:
                payload = breaker_alert(reason=trip.reason, people=people, findings=findings, by_rule=by_rule,
                                        baseline=trip.baseline)
                alert = Outgoing(kind="slack_alert", recipient=self.admin_channel,
                                 dedupe_key=dedupe_key("slack_alert", self.admin_channel,
                                                       ["breaker", now.date().isoformat()]),
                                 payload=payload, fingerprints=[], label=f"admin channel {self.admin_channel}",
                                 breaker_exempt=True)
                report.alert = alert
                self._queue(alert, now, run_id, report)
            return report
        for message in messages:
            self._queue(message, now, run_id, report)
        return report

    def _queue(self, message: Outgoing, now: datetime, run_id: int | None, report: SubmitReport) -> None:
        with self.store.transaction():
            fresh = self.store.enqueue(dedupe_key=message.dedupe_key, kind=message.kind,
                                       recipient=message.recipient, payload=message.payload,
                                       fingerprints=message.fingerprints, now=now, person=message.person,
                                       run_id=run_id)
            if not fresh:
                report.duplicate.append(message)
                return
            self.store.mark_nudged(message.nudges, now)
            if message.escalations:
                self.store.mark_escalated(message.escalations, now)
            if message.comment:
                issue, digest, state = message.comment
                self.store.plan_comment(issue, digest, state, now)
        report.queued.append(message)

    # -- sending -----------------------------------------------------------------------------------
    def flush(self, now: datetime, *, kinds: tuple[str, ...] | None = None) -> FlushReport:
        """Send everything queued (oldest first), or only entries of ``kinds``. A dry run only lists what would go.

        ``kinds`` keeps one job's flush to its own messages: the digest must not
        send nudges an earlier ``nudge`` left queued, outside the nudge timing rules.
        """
        report = FlushReport()
        if self.dry_run:
            report.would_send = self.store.deliveries(status=("queued", "sending"), kinds=kinds)
            return report
        with self.store.try_lock("outbox") as alone:
            if alone:
                # Only with no other flush running: its "sending" rows are in flight, not in doubt.
                self._reconcile(now, report, kinds)
            self._send_queued(now, report, kinds)
        return report

    def _send_queued(self, now: datetime, report: FlushReport, kinds: tuple[str, ...] | None = None) -> None:
        stopped: set[str] = set()  # "slack" / "jira" once one is down for this run
        for entry in self.store.deliveries(status="queued", kinds=kinds):
            channel = "jira" if entry.kind == "jira_comment" else "slack"
            transport = self.comments if channel == "jira" else self.slack
            if transport is None:
                continue  # this run cannot send that kind (a digest run and a Jira comment): left for another
            if channel in stopped:
                report.pending.append(entry)
                continue
            if self._obsolete(entry):
                self.store.finish_delivery(entry.id, "cancelled", now, error="every finding in it is fixed or waived")
                self.audit.write("delivery.cancelled", **_describe(entry),
                                 why="findings fixed or waived before sending")
                report.cancelled.append(entry)
                continue
            outcome = self._send(entry, transport, now, report)
            if outcome in ("down", "fatal"):
                stopped.add(channel)

    def _obsolete(self, entry) -> bool:
        """A nudge queued in an earlier run whose findings were all fixed since: don't send it."""
        if entry.kind not in ("slack_dm", "slack_channel") or not entry.fingerprints:
            return False
        states = self.store.finding_states(entry.fingerprints)
        return bool(states) and all(not s.open or s.waived for s in states.values())

    def _send(self, entry, transport, now: datetime, report: FlushReport) -> str:
        if entry.kind == "slack_dm" and not entry.channel:
            try:
                channel_id = self.slack.open_dm(entry.recipient)
            except Exception as error:  # noqa: BLE001 - sorted below like a send failure
                refused = getattr(error, "code", None) == "missing_scope" or not (
                    getattr(error, "retryable", True) or getattr(error, "fatal", True))
                if not refused:
                    return self._failure(entry, error, now, report)
                # conversations.open refused (no im:write scope, an old fake...): posting
                # to the user id still reaches the app's DM with them.
                channel_id = entry.recipient
            self.store.set_delivery_channel(entry.id, channel_id)
            entry.channel = channel_id
        # The claim time is real time, not the run's --now: it bounds the Slack
        # history search if this run dies before it learns the outcome.
        if not self.store.claim(entry.id, datetime.now(timezone.utc)):
            return "skipped"  # another process took it
        try:
            if entry.kind == "jira_comment":
                external = transport.send(entry, now)
                channel = None
            else:
                channel, external = self.slack.post_message(
                    entry.channel or entry.recipient, entry.payload["text"], entry.payload["blocks"],
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": entry.dedupe_key}})
        except Exception as error:  # noqa: BLE001 - every failure is sorted and recorded
            return self._failure(entry, error, now, report)
        self.store.finish_delivery(entry.id, "sent", now, external_id=external, channel=channel)
        entry.status, entry.external_id = "sent", external
        self.audit.write("delivery.sent", **_describe(entry), external_id=external)
        report.sent.append(entry)
        return "sent"

    def _failure(self, entry, error: Exception, now: datetime, report: FlushReport) -> str:
        detail = str(error) or type(error).__name__
        if getattr(error, "in_doubt", False):
            # Leave it "sending": the next run asks Slack whether it arrived (or finds the Jira comment).
            report.in_doubt.append(entry)
            report.unreachable.append(f"{entry.kind} to {entry.recipient}: {detail}")
            self.audit.write("delivery.in_doubt", **_describe(entry), error=detail)
            return "down"
        if getattr(error, "fatal", False):
            self.store.finish_delivery(entry.id, "queued", now, error=detail)
            report.fatal.append(detail)
            report.pending.append(entry)
            return "fatal"
        if getattr(error, "blocked", False) and self.keep_blocked and entry.kind != "slack_dm":
            # A misconfigured channel is the admin's to fix; dropping the message would lose it
            # (its findings are already marked nudged). Keep it queued and say so (exit 2).
            # A DM refused this way (a deactivated user) still fails: nobody can fix that.
            self.store.finish_delivery(entry.id, "queued", now, error=detail)
            report.blocked.append((entry, detail))
            self.audit.write("delivery.blocked", **_describe(entry), error=detail)
            return "blocked"
        if getattr(error, "retryable", False):
            self.store.finish_delivery(entry.id, "queued", now, error=detail)
            report.unreachable.append(f"{entry.kind} to {entry.recipient}: {detail}")
            report.pending.append(entry)
            self.audit.write("delivery.deferred", **_describe(entry), error=detail)
            return "down"
        if not hasattr(error, "retryable"):
            raise error  # a programming error, not a delivery problem
        self.store.finish_delivery(entry.id, "failed", now, error=detail)
        self.audit.write("delivery.failed", **_describe(entry), error=detail)
        report.failed.append((entry, detail))
        return "failed"

    def _reconcile(self, now: datetime, report: FlushReport, kinds: tuple[str, ...] | None = None) -> None:
        """Settle messages a dead run (or an answer lost in transit) left half-sent (``sending``)."""
        for entry in self.store.deliveries(status="sending", kinds=kinds):
            if entry.kind == "jira_comment" and self.comments is None:
                continue
            if entry.kind == "jira_comment":
                # Safe to retry: the upsert finds an existing bot comment by its marker.
                self.store.finish_delivery(entry.id, "queued", now, error="retried after an interrupted run")
                continue
            arrived = None
            channel = entry.channel or entry.recipient  # a channel post has no separate channel id
            if self.slack is not None and channel and entry.claimed_at is not None:
                oldest = (entry.claimed_at - timedelta(minutes=5)).timestamp()
                arrived = self.slack.find_message(channel, oldest, METADATA_EVENT, entry.dedupe_key)
            if arrived is True:
                self.store.finish_delivery(entry.id, "sent", now, error="confirmed after an interrupted run")
                self.audit.write("delivery.sent", **_describe(entry), confirmed_after_interruption=True)
                report.sent.append(entry)
            elif arrived is False or self.resend_unconfirmed:
                self.store.finish_delivery(entry.id, "queued", now, error="not delivered by an interrupted run")
                report.resent.append(entry)
            elif self.slack is None:
                continue  # cannot tell now; try again when Slack is configured
            else:
                self.store.finish_delivery(entry.id, "sent", now,
                                           error="unconfirmed: an interrupted run may have sent it; not resent")
                self.audit.write("delivery.unconfirmed", **_describe(entry))
                report.unconfirmed.append(entry)


def _describe(entry) -> dict[str, Any]:
    issues = sorted({item for item in _issues(entry)})
    return {"id": entry.id, "kind": entry.kind, "recipient": entry.recipient, "person": entry.person,
            "dedupe_key": entry.dedupe_key, "fingerprints": entry.fingerprints, "issues": issues}


def _issues(entry) -> list[str]:
    if entry.kind == "jira_comment":
        return [entry.recipient]
    return list((entry.payload or {}).get("issues") or [])

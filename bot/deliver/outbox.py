"""Nothing lost, nothing twice: every outgoing message passes through here.

1. ``submit`` records each planned message as ``queued`` - together with the
   findings' nudge state, in the same transaction - before anything is sent.
   The dedupe key is run-independent (recipient + findings + nudge number), so
   a message can never be queued twice. A message that folds in what earlier
   runs left queued for the same person (``Outgoing.supersedes``) marks those
   ``merged`` in the same transaction: one message per person per run.
2. ``flush`` sends queued messages one by one. Each attempt is claimed
   (``sending``, committed) just before the request and released before any
   wait: a 429 or a refused connection means Slack has not posted it, so the
   message is back to ``queued`` while govbot sleeps and a kill then loses
   nothing. Sent: ``sent`` with the Slack ``ts`` / Jira comment id. Slack or
   Jira down: back to ``queued`` for the next run. A nudge whose team is in its
   quiet days or hours waits in the queue, whichever run queued it.
3. ``settle`` decides, before a run plans, what a message left ``sending`` is:
   a run that died mid-post, or an answer lost in transit, means Slack *may*
   have posted it. Every post carries message metadata (event type
   ``govbot_delivery``, the outbox id and dedupe key), so the outbox reads
   that one conversation's history (``conversations.history`` with
   ``include_all_metadata``) from just before the claim: found, it is sent;
   absent, it is queued again and sent normally. Where history cannot be read
   (the app lacks the ``*:history`` scopes), the default is to resend it once,
   marked "in case you missed this": a possible duplicate that says so beats
   a silent loss. ``slack.resend_unconfirmed: false`` counts it as sent instead.
   Slack unreachable: it stays in doubt for the next run. Jira comments are
   simply retried (the upsert finds the bot's own comment first).

This is the only place that knows about dry runs and the circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from bot.deliver import breaker as breaker_module
from bot.deliver.audit import AuditLog
from bot.deliver.policy import Outgoing, dedupe_key
from bot.deliver.slack import breaker_alert, mark_possible_repeat
from bot.deliver.slack_client import Claim, ClaimLost

METADATA_EVENT = "govbot_delivery"
NUDGE_KINDS = ("slack_dm", "slack_channel")
# How far before the claim the history search starts: clocks differ a little between hosts.
HISTORY_MARGIN = timedelta(minutes=5)


@dataclass
class FlushReport:
    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)          # (delivery, error)
    cancelled: list = field(default_factory=list)
    unconfirmed: list = field(default_factory=list)     # in doubt, no proof, counted as sent (resend_unconfirmed: false)
    resent: list = field(default_factory=list)          # in doubt, queued again: Slack's history proved it absent...
    repeats: list = field(default_factory=list)         # ...or, without history to ask, resent marked as a possible repeat
    pending: list = field(default_factory=list)         # still queued (Slack/Jira down)
    in_doubt: list = field(default_factory=list)        # may have arrived: the next run checks before resending
    would_send: list = field(default_factory=list)      # dry run: queued earlier, would go now
    blocked: list = field(default_factory=list)         # (delivery, error): channel refused, kept queued
    deferred: list = field(default_factory=list)        # (delivery, why): queued, waiting for the end of quiet time
    unreachable: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)
    history_problem: list[str] = field(default_factory=list)  # why Slack's history could not prove anything

    def merge(self, other: "FlushReport") -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


@dataclass
class SubmitReport:
    queued: list[Outgoing] = field(default_factory=list)
    duplicate: list[Outgoing] = field(default_factory=list)  # dedupe key already known: not queued again
    held: list[Outgoing] = field(default_factory=list)
    merged: list[tuple[Outgoing, list[int]]] = field(default_factory=list)  # (message, earlier delivery ids folded in)
    trip: Any = None
    alert: Outgoing | None = None


class _OutboxClaim(Claim):
    """The outbox row of one message, claimed just before each attempt and released before each wait."""

    def __init__(self, store, entry):
        self.store = store
        self.entry = entry

    def take(self) -> bool:
        # Real time, not the run's --now: it bounds the history search if this run dies mid-post.
        claimed_at = datetime.now(timezone.utc)
        if not self.store.claim(self.entry.id, claimed_at):
            return False
        self.entry.status, self.entry.claimed_at = "sending", claimed_at
        return True

    def release(self, why: str) -> None:
        self.store.release(self.entry.id, error=why)
        self.entry.status = "queued"


class Outbox:
    def __init__(self, store, *, audit: AuditLog, dry_run: bool = True, slack=None, comments=None,
                 resend_unconfirmed: bool = True, breaker_settings=None, admin_channel: str | None = None,
                 keep_blocked: bool = False, quiet: Callable[[Any], str | None] | None = None):
        self.store = store
        self.audit = audit
        self.dry_run = dry_run
        self.slack = slack
        self.comments = comments
        self.resend_unconfirmed = resend_unconfirmed
        self.breaker_settings = breaker_settings or breaker_module.BreakerSettings.default()
        self.admin_channel = admin_channel
        self.keep_blocked = keep_blocked  # a refused channel keeps its message queued (else: failed)
        self.quiet = quiet                # a queued nudge -> why now is quiet time for it, or None

    # -- recording ---------------------------------------------------------------------------------
    def submit(self, messages: list[Outgoing], now: datetime, *, run_id: int | None = None,
               override_breaker: bool = False, history: list[dict] | None = None) -> SubmitReport:
        """Queue messages (and commit their findings' nudge state), unless the breaker holds them.

        Call inside ``store.transaction()`` (apply) or ``store.preview()`` (dry run)
        so queueing and state changes land together or not at all.
        """
        report = SubmitReport()
        counted = [m for m in messages if not m.breaker_exempt]
        # What an earlier run left queued was let through then: only this run's news counts here.
        fresh = [(m, [fp for fp in m.fingerprints if fp not in set(m.carried_over)]) for m in counted]
        people = len({m.person for m, news in fresh if m.kind == "slack_dm" and news})
        findings = len({fp for _, news in fresh for fp in news})
        trip = breaker_module.check(people, findings, history or [], self.breaker_settings) if counted else None
        if trip is not None and not override_breaker:
            report.trip = trip
            report.held = list(messages)
            by_rule = _held_by_rule(counted)
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
            if message.supersedes:
                merged = self.store.supersede(message.supersedes, message.dedupe_key, now)
                report.merged.append((message, merged))
            self.store.mark_nudged(message.nudges, now)
            if message.escalations:
                self.store.mark_escalated(message.escalations, now)
            if message.comment:
                issue, digest, state = message.comment
                self.store.plan_comment(issue, digest, state, now)
        report.queued.append(message)

    # -- settling what an interrupted run left in doubt ------------------------------------------------
    def settle(self, now: datetime, *, kinds: tuple[str, ...] | None = None) -> FlushReport:
        """Decide every message left ``sending`` (in doubt): sent, or queued again (marked when unproven).

        Run it before planning, so a message settled as "send it" is merged with
        this run's news for the same person. A dry run calls it inside
        ``store.preview()``: it asks Slack (read-only) and forgets what it wrote.
        """
        report = FlushReport()
        if self.dry_run:
            self._settle(now, report, kinds)
            return report
        with self.store.try_lock("outbox") as alone:
            if alone:
                # Only with no other flush running: its "sending" rows are in flight, not in doubt.
                self._settle(now, report, kinds)
        return report

    def _settle(self, now: datetime, report: FlushReport, kinds: tuple[str, ...] | None) -> None:
        for entry in self.store.deliveries(status="sending", kinds=kinds):
            if entry.kind == "jira_comment":
                if self.comments is not None:
                    # Safe to retry: the upsert finds an existing bot comment by its marker.
                    self.store.requeue(entry.id, error="retried after an interrupted run")
                continue
            if self.slack is None:
                continue  # cannot tell now; settled when Slack is configured
            if report.unreachable or report.fatal:
                report.in_doubt.append(entry)  # Slack is down for this run: asked again next time
                continue
            arrived = self._ask_history(entry, report)
            if arrived == "unreachable":
                report.in_doubt.append(entry)
                continue
            if arrived is True:
                with self.store.transaction():
                    self.store.finish_delivery(entry.id, "sent", now,
                                               error="confirmed in Slack after an interrupted run")
                    if entry.kind in NUDGE_KINDS:
                        self.store.nudge_delivered(entry.fingerprints, now)
                self.audit.write("delivery.sent", **_describe(entry), confirmed_after_interruption=True)
                report.sent.append(entry)
            elif self._obsolete(entry):
                self.store.finish_delivery(entry.id, "cancelled", now, error="in doubt, and every finding in it "
                                                                              "is fixed or waived now")
                self.audit.write("delivery.cancelled", **_describe(entry), why="in doubt; findings fixed or waived")
                report.cancelled.append(entry)
            elif arrived is False:
                self.store.requeue(entry.id, error="not in Slack's history after an interrupted run: sent again")
                self.audit.write("delivery.requeued", **_describe(entry), proof="absent from Slack's history")
                entry.status = "queued"
                report.resent.append(entry)
            elif self.resend_unconfirmed:
                marked = mark_possible_repeat(entry.payload)
                self.store.requeue(entry.id, payload=marked, error="in doubt, no Slack history to check: "
                                                                   "resent once, marked as a possible repeat")
                self.audit.write("delivery.requeued", **_describe(entry), proof=None,
                                 why=report.history_problem[-1] if report.history_problem else None,
                                 marked="in case you missed this")
                entry.status, entry.payload = "queued", marked
                report.resent.append(entry)
                report.repeats.append(entry)
            else:
                self.store.finish_delivery(entry.id, "sent", now,
                                           error="unconfirmed: an interrupted run may have sent it; not resent")
                self.audit.write("delivery.unconfirmed", **_describe(entry))
                report.unconfirmed.append(entry)

    def _ask_history(self, entry, report: FlushReport):
        """True / False from Slack's history, None when it cannot tell, "unreachable" when Slack is down."""
        channel = self._conversation_for_lookup(entry)
        moment = entry.claimed_at or entry.created_at
        oldest = (moment - HISTORY_MARGIN).timestamp()
        try:
            arrived = self.slack.find_message(channel, oldest, METADATA_EVENT, entry.dedupe_key)
        except Exception as error:  # noqa: BLE001 - sorted like a send failure
            if getattr(error, "fatal", False):
                report.fatal.append(str(error))
                return "unreachable"
            if getattr(error, "retryable", False):
                report.unreachable.append(f"checking whether {entry.kind} to {entry.recipient} arrived: {error}")
                return "unreachable"
            raise
        if arrived is None:
            problem = getattr(self.slack, "history_problem", None) or "Slack could not tell"
            if problem not in report.history_problem:
                report.history_problem.append(problem)
        return arrived

    def _conversation_for_lookup(self, entry) -> str:
        """The conversation id to read history from: Slack's own id, not a #name."""
        if entry.channel and not entry.channel.startswith("#"):
            return entry.channel
        return self.store.conversation(entry.recipient) or entry.channel or entry.recipient

    # -- sending -----------------------------------------------------------------------------------
    def flush(self, now: datetime, *, kinds: tuple[str, ...] | None = None, settle: bool = True) -> FlushReport:
        """Send everything queued (oldest first), or only entries of ``kinds``. A dry run only lists what would go.

        ``kinds`` keeps one job's flush to its own messages: the digest must not
        send nudges an earlier ``nudge`` left queued, outside the nudge timing rules.
        ``settle``: first settle messages left in doubt (the nudge run has done so
        before planning, and passes False).
        """
        report = FlushReport()
        if self.dry_run:
            for entry in self.store.deliveries(status="queued", kinds=kinds):
                why = self._quiet(entry)
                if why:
                    report.deferred.append((entry, why))
                else:
                    report.would_send.append(entry)
            return report
        with self.store.try_lock("outbox") as alone:
            if alone and settle:
                self._settle(now, report, kinds)
            self._send_queued(now, report, kinds)
        return report

    def _quiet(self, entry) -> str | None:
        if self.quiet is None or entry.kind not in NUDGE_KINDS:
            return None
        return self.quiet(entry)

    def _send_queued(self, now: datetime, report: FlushReport, kinds: tuple[str, ...] | None = None) -> None:
        stopped: set[str] = set()  # "slack" / "jira" once one is down for this run
        if report.unreachable or report.fatal:
            stopped.add("slack")  # settling found Slack down: do not hammer it
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
            why = self._quiet(entry)
            if why:
                report.deferred.append((entry, why))
                continue
            outcome = self._send(entry, transport, now, report)
            if outcome in ("down", "fatal"):
                stopped.add(channel)

    def _obsolete(self, entry) -> bool:
        """A nudge queued in an earlier run whose findings were all fixed since: don't send it."""
        if entry.kind not in NUDGE_KINDS or not entry.fingerprints:
            return False
        states = self.store.finding_states(entry.fingerprints)
        return bool(states) and all(not s.open or s.waived for s in states.values())

    def _send(self, entry, transport, now: datetime, report: FlushReport) -> str:
        if entry.kind == "jira_comment":
            return self._send_comment(entry, transport, now, report)
        if not self._know_conversation(entry, now, report):
            return "down"
        claim = _OutboxClaim(self.store, entry)
        # A DM goes to its conversation; a channel post to the channel as configured.
        target = (entry.channel or entry.recipient) if entry.kind == "slack_dm" else entry.recipient
        try:
            channel, external = self.slack.post_message(
                target, entry.payload["text"], entry.payload["blocks"], claim=claim,
                metadata={"event_type": METADATA_EVENT,
                          "event_payload": {"outbox_id": entry.id, "key": entry.dedupe_key}})
        except ClaimLost:
            return "skipped"  # another process took it
        except Exception as error:  # noqa: BLE001 - every failure is sorted and recorded
            return self._failure(entry, error, now, report)
        with self.store.transaction():
            self.store.finish_delivery(entry.id, "sent", now, external_id=external, channel=channel)
            if entry.kind in NUDGE_KINDS:
                self.store.nudge_delivered(entry.fingerprints, now)
        if channel and channel != entry.recipient and entry.kind != "slack_dm":
            self.store.remember_conversation(entry.recipient, channel, now)  # for a later in-doubt lookup
        entry.status, entry.external_id = "sent", external
        self.audit.write("delivery.sent", **_describe(entry), external_id=external,
                         **({"marked": "in case you missed this"} if entry.payload.get("possible_repeat") else {}))
        report.sent.append(entry)
        return "sent"

    def _know_conversation(self, entry, now: datetime, report: FlushReport) -> bool:
        """Learn, before the post, the conversation an in-doubt post would be looked up in."""
        if entry.channel:
            return True
        known = self.store.conversation(entry.recipient)
        if known is None and entry.kind == "slack_dm":
            try:
                known = self.slack.open_dm(entry.recipient)
            except Exception as error:  # noqa: BLE001 - sorted below like a send failure
                refused = getattr(error, "code", None) == "missing_scope" or not (
                    getattr(error, "retryable", True) or getattr(error, "fatal", True))
                if not refused:
                    self._failure(entry, error, now, report)
                    return False
                # conversations.open refused (no im:write scope, an old fake...): posting
                # to the user id still reaches the app's DM with them.
                known = entry.recipient
            else:
                # Once per person: the DM conversation between govbot and a user does not change.
                self.store.remember_conversation(entry.recipient, known, now)
        if known:
            self.store.set_delivery_channel(entry.id, known)
            entry.channel = known
        return True

    def _send_comment(self, entry, transport, now: datetime, report: FlushReport) -> str:
        if not self.store.claim(entry.id, datetime.now(timezone.utc)):
            return "skipped"  # another process took it
        try:
            external = transport.send(entry, now)
        except Exception as error:  # noqa: BLE001 - every failure is sorted and recorded
            return self._failure(entry, error, now, report)
        self.store.finish_delivery(entry.id, "sent", now, external_id=external)
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


def _describe(entry) -> dict[str, Any]:
    issues = sorted({item for item in _issues(entry)})
    return {"id": entry.id, "kind": entry.kind, "recipient": entry.recipient, "person": entry.person,
            "dedupe_key": entry.dedupe_key, "fingerprints": entry.fingerprints, "issues": issues}


def _issues(entry) -> list[str]:
    if entry.kind == "jira_comment":
        return [entry.recipient]
    return list((entry.payload or {}).get("issues") or [])


def _held_by_rule(messages: list[Outgoing]) -> dict[str, int]:
    """This run's held findings per rule, each counted once, as the alert's total counts them: a
    finding nudged on Slack and commented in Jira is one finding, and what an earlier run let through
    (``carried_over``) is not news."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for message in messages:
        earlier = set(message.carried_over)
        for fingerprint, rule in message.rules.items():
            if fingerprint not in seen and fingerprint not in earlier:
                seen.add(fingerprint)
                counts[rule] = counts.get(rule, 0) + 1
    return counts

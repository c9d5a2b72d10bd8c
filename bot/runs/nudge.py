"""A nudge run, shared by `govbot nudge`, `govbot preview` and the service's scheduled job.

The batch reads the configured source (incrementally when a cursor store is
given), evaluates, waives and records the findings lifecycle; delivery
(``bot.deliver.run.Delivery``) plans Slack nudges, and Jira comments for rules
that opt in, in the record's own transaction, then sends. Messages are sent
only when ``apply`` is true; the Jira cursor moves only after the run's state
is recorded, so a crash never skips issues next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from bot.deliver.run import Delivery, DeliveryReport
from bot.engine.evaluate import Evaluation
from bot.errors import ConfigError
from bot.runs.batch import ALWAYS, Batch, open_batch
from bot.runs.inputs import Inputs, Read, jira_configured
from bot.store import DeferredCursors


@dataclass
class NudgeRun:
    batch: Batch
    report: DeliveryReport
    notes: list[str] = field(default_factory=list)


def deliver(inputs: Inputs, now: datetime, store, *, read: Read | None = None, apply: bool = False,
            slack=None, comment_writer=None, audit=None, override_breaker: bool = False,
            include_slack: bool = True, include_comments: bool = True,
            checkpoint: Callable[[], None] | None = None,
            evaluation: Evaluation | None = None, carry: bool = True) -> tuple[Batch, DeliveryReport]:
    """The batch and its delivery: read, evaluate, waive; prepare; record + plan in one transaction; send.

    ``carry``: include the open findings of issues not read (for their reminders); an event-driven check
    of a few issues leaves them to the scheduled run.
    """
    delivery = Delivery(inputs.config, now=now, store=store, apply=apply, slack=slack,
                        comment_writer=comment_writer, audit=audit, override_breaker=override_breaker,
                        include_slack=include_slack, include_comments=include_comments, demo=inputs.demo)

    def prepare(batch: Batch) -> None:
        if checkpoint is not None:
            checkpoint()  # the batch is built and nothing is written yet: a safe point to stop
        delivery.prepare(batch)

    with delivery.session():
        with open_batch(inputs, now, read=read, store=store, record=ALWAYS, carry=carry, before_record=prepare,
                        dry_run=not apply, evaluation=evaluation) as batch:
            delivery.plan(batch)
        return batch, delivery.send(batch)


def preview(inputs: Inputs, now: datetime, store, *, snapshot: str | None = None) -> DeliveryReport:
    """What a nudge run would send today, counted; nothing is sent or recorded."""
    return deliver(inputs, now, store, read=Read(snapshot=snapshot))[1]


def scan_and_nudge(inputs: Inputs, now: datetime, store, *, apply: bool, snapshot: str | None = None,
                   include_comments: bool = True, override_breaker: bool = False,
                   progress: Callable | None = None, checkpoint: Callable[[], None] | None = None) -> NudgeRun:
    config = inputs.config
    notes: list[str] = []
    slack = comment_writer = None
    if apply:
        from bot.deliver.slack_client import SlackClient

        if config.settings.nudges.enabled:
            slack = SlackClient.from_config(config)
        if include_comments and any(rule.comment for rule in inputs.ruleset.active):
            if jira_configured(config):
                from bot.deliver.comments import CommentWriter, JiraCommentClient

                comment_writer = CommentWriter(JiraCommentClient.from_config(config), store)
            else:
                include_comments = False
                notes.append("Jira comments skipped: Jira is not configured (jira.url / JIRA_URL)")
    cursors = DeferredCursors(store) if apply else None
    batch, report = deliver(inputs, now, store, read=Read(snapshot=snapshot, cursors=cursors, progress=progress),
                            apply=apply, slack=slack, comment_writer=comment_writer,
                            override_breaker=override_breaker, include_comments=include_comments,
                            checkpoint=checkpoint)
    if cursors is not None:
        cursors.commit()
    return NudgeRun(batch, report, notes)


def raise_for_credentials(report: DeliveryReport) -> None:
    """Slack or Jira refusing our token is the operator's to fix: one clear error."""
    fatal = report.settled.fatal + report.leftovers.fatal + report.flushed.fatal
    if fatal:
        raise ConfigError(f"Slack or Jira refused govbot's credentials: {fatal[0]}",
                          hint="check SLACK_BOT_TOKEN (and its scopes: chat:write, im:write, users:read.email) "
                               "or the Jira credentials; queued messages are kept for the next run")

"""A nudge run, shared by `govbot nudge`, `govbot preview` and the service's scheduled job.

The batch reads the configured source (incrementally when a cursor store is
given), evaluates and waives; delivery records the findings and plans:
Slack nudges, and Jira comments for rules that opt in. Messages are sent only
when ``apply`` is true; the Jira cursor moves only after the run's state is
recorded, so a crash never skips issues next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from bot.deliver.run import DeliveryReport, run_delivery
from bot.errors import ConfigError
from bot.runs.batch import Batch, build_batch
from bot.runs.inputs import Inputs, Read, jira_configured
from bot.store import DeferredCursors


@dataclass
class NudgeRun:
    batch: Batch
    report: DeliveryReport
    notes: list[str] = field(default_factory=list)


def preview(inputs: Inputs, now: datetime, store, *, snapshot: str | None = None) -> DeliveryReport:
    """What a nudge run would send today, counted; nothing is sent or recorded."""
    batch = build_batch(inputs, now, read=Read(snapshot=snapshot), store=store)
    return run_delivery(inputs.config, batch, now=now, apply=False, store=store)


def scan_and_nudge(inputs: Inputs, now: datetime, store, *, apply: bool, snapshot: str | None = None,
                   include_comments: bool = True, override_breaker: bool = False,
                   progress: Callable | None = None, checkpoint: Callable[[], None] | None = None) -> NudgeRun:
    config = inputs.config
    notes: list[str] = []
    slack = jira_client = None
    if apply:
        from bot.deliver.slack_client import SlackClient

        if (config.section("nudges") or {}).get("enabled", True):
            slack = SlackClient.from_config(config)
        if include_comments and any(rule.comment for rule in inputs.ruleset.active):
            if jira_configured(config):
                from bot.deliver.comments import JiraCommentClient

                jira_client = JiraCommentClient.from_config(config)
            else:
                include_comments = False
                notes.append("Jira comments skipped: Jira is not configured (jira.url / JIRA_URL)")
    cursors = DeferredCursors(store) if apply else None
    batch = build_batch(inputs, now, read=Read(snapshot=snapshot, cursors=cursors, progress=progress),
                        store=store, before_record=checkpoint)
    comment_writer = None
    if jira_client is not None:
        from bot.deliver.comments import CommentWriter

        comment_writer = CommentWriter(jira_client, store)
    report = run_delivery(config, batch, now=now, apply=apply, store=store, slack=slack,
                          comment_writer=comment_writer, override_breaker=override_breaker,
                          include_comments=include_comments)
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

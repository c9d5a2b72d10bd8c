"""Posting the digest: its Slack messages go through the outbox, like nudges.

``send_digest_messages`` queues the Slack messages in the outbox and sends
them, so a Slack failure leaves them queued
for the next run and a rerun in the same week never posts twice. A digest run
sends only digest messages: nudges an earlier ``nudge`` left queued follow the
nudge timing rules (quiet days and hours) and go with the next nudge run.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from typing import Callable

from bot.deliver.audit import AuditLog
from bot.deliver.outbox import Outbox
from bot.digest.slack import SlackMessage, outgoing
from bot.errors import EXIT_ERROR, EXIT_NETWORK, ConfigError

log = logging.getLogger(__name__)

# The outbox kind of digest posts, so a digest run flushes only its own entries.
DIGEST_KIND = "slack_digest"


def send_digest_messages(messages: list[SlackMessage], store, config, *, week_start: date, now: datetime,
                         slack=None, say: Callable[[str], None] | None = None) -> int:
    """Queue the messages in the outbox and send them; returns an exit code.

    0 when all were posted (or had been already this week), EXIT_NETWORK when
    Slack could not be reached (they stay queued), EXIT_ERROR when Slack
    rejected some (a channel that does not exist). Bad credentials raise.
    """
    say = say or log.info
    if slack is None:
        from bot.deliver.slack_client import SlackClient

        slack = SlackClient.from_config(config)
    audit = AuditLog.from_config(config)
    audit.check_writable()
    outbox = Outbox(store, audit=audit, dry_run=False, slack=slack)
    entries = [dataclasses.replace(entry, kind=DIGEST_KIND) for entry in outgoing(messages, week_start)]
    submitted = outbox.submit(entries, now)
    for message in submitted.duplicate:
        say(f"{message.label} was already posted (or queued) for this week; not posted again")
    report = outbox.flush(now, kinds=(DIGEST_KIND,))
    if report.sent:
        say(f"posted {len(report.sent)} Slack message(s)")
    for entry, error in report.failed:
        say(f"could not post to {entry.recipient}: {error}")
    if report.fatal:
        raise ConfigError(f"Slack refused the bot's credentials ({report.fatal[0]})",
                          hint="check SLACK_BOT_TOKEN and the app's scopes (chat:write); the digest stays queued")
    if report.pending or report.in_doubt:
        # A post in doubt is not pending: the next run looks for it in Slack before posting it again.
        say(f"Slack is unreachable ({'; '.join(report.unreachable) or 'no response'}); "
            f"{len(report.pending) + len(report.in_doubt)} message(s) stay queued for the next run")
        return EXIT_NETWORK
    return EXIT_ERROR if report.failed else 0

"""A digest run, shared by `govbot digest` and the service's weekly job.

The batch reads the configured source, applies every waiver and brings the
findings lifecycle up to date; this run builds the week's digests from it,
stores the week's figures (so trends build up), writes the dashboard if
asked, and posts to Slack only when ``apply`` is true. A dry run posts nothing
but still records the figures and the lifecycle: the trends and the HTML
dashboard are what most people run the digest for, and they need that history
whether or not Slack is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from bot.digest import archive, render
from bot.digest.figures import Digests, build_digests, week_changes
from bot.digest.post import send_digest_messages
from bot.digest.slack import SlackMessage, build_messages
from bot.errors import EXIT_CLEAN, EXIT_INCOMPLETE, UsageError
from bot.runs.batch import IF_CURRENT, Batch, build_batch, checkpoint_hook
from bot.runs.inputs import Inputs, Read

NOT_RECORDED = "the scan could not read every issue; this week's figures were shown but not stored"
NOT_POSTED = ("the scan could not read every issue; the digest was not posted to Slack (its figures would be "
              "wrong) and this week's figures were not stored")

DASHBOARD_FOLDER_HINT = "--html needs a folder govbot can create and write"


@dataclass
class DigestRun:
    batch: Batch
    digests: Digests
    messages: list[SlackMessage]
    notes: list[str] = field(default_factory=list)   # digests with no channel, and the like
    pages: list[Path] = field(default_factory=list)  # dashboard pages written, index first
    applied: bool = False        # posted (or tried to), rather than a dry run
    post_code: int = EXIT_CLEAN  # after posting: EXIT_NETWORK when queued for later, EXIT_ERROR when refused

    @property
    def recorded(self) -> bool:
        """Whether this week's figures were stored (only a complete scan's are)."""
        return self.batch.complete

    @property
    def exit_code(self) -> int:
        """Posting problems first; then 4 when the scan could not read or judge everything."""
        return self.post_code or (EXIT_CLEAN if self.batch.complete else EXIT_INCOMPLETE)

    @property
    def posted(self) -> int:
        """Messages posted by this run or an earlier one this week; 0 in a dry run or on failure."""
        return len(self.messages) if self.post_code == EXIT_CLEAN and self.applied else 0


def run_digest(inputs: Inputs, now: datetime, store, *, apply: bool, snapshot: str | None = None,
               html_dir: str | Path | None = None, slack=None, say: Callable[[str], None] | None = None,
               progress: Callable | None = None, checkpoint: Callable[[], None] | None = None,
               on_built: Callable[[DigestRun], None] | None = None) -> DigestRun:
    """The week ending ``now``: scan, record, dashboard, then (with ``apply``) post through the outbox.

    With ``apply``, the Slack client (``slack``, else ``slack_client(config)``) is
    made first, so a missing SLACK_BOT_TOKEN stops the run before anything is
    read or written. ``say`` hears each line worth telling a person (what would
    be posted, what was); ``on_built`` is called once the digest is built and
    the dashboard written, before anything is posted (the command prints its
    output there, so a Slack failure cannot swallow it). ``checkpoint`` is
    called where stopping loses nothing.
    """
    say = say or (lambda line: None)
    config = inputs.config
    if apply and slack is None:
        slack = slack_client(config)
    batch = build_batch(inputs, now, read=Read(snapshot=snapshot, progress=progress), store=store,
                        record=IF_CURRENT, before_record=checkpoint_hook(checkpoint))
    states = list(store.finding_states().values())
    changes = week_changes(states, now - timedelta(days=7), now)
    digests = build_digests(batch, config, now, history=store, changes=changes, lifecycle=states)
    if batch.complete:
        digests.record(store)
        store.record_dashboard(digests.week_start, archive.to_payload(digests), now)  # the served archive
    messages, notes = build_messages(digests, config)
    run = DigestRun(batch, digests, messages, notes, applied=apply)
    if html_dir:
        run.pages = write_dashboard(digests, html_dir)
        say(f"wrote the dashboard: {run.pages[0]}, {len(digests.teams)} team pages and the lists behind "
            f"their counts ({len(run.pages)} pages)")
    if on_built is not None:
        on_built(run)
    for note in notes:
        say(note)
    if not messages:
        return run
    if not apply:
        for message in messages:
            say(f"dry run: would post the {message.name} digest to {message.channel} "
                f"({len(message.payload['blocks'])} blocks)")
        return run
    if not batch.complete:
        say(NOT_POSTED)  # every figure depends on issues it could not read: exit 4, nothing posted
        run.applied = False
        return run
    if checkpoint is not None:
        checkpoint()
    run.post_code = send_digest_messages(messages, store, config, week_start=digests.week_start, now=digests.now,
                                         slack=slack, say=say)
    return run


def slack_client(config):
    """The Slack client a digest posts with; ConfigError when SLACK_BOT_TOKEN is not set.

    Callers make it before they open the store, so a run that cannot post
    stops before it creates, reads or writes anything.
    """
    from bot.deliver.slack_client import SlackClient

    return SlackClient.from_config(config)


def prepare_dashboard_folder(html_dir: str | Path) -> None:
    """Make sure ``--html`` can be written before anything runs: a digest that records the week and
    then cannot write its pages would leave the store changed by a run that failed."""
    import os

    try:
        Path(html_dir).mkdir(parents=True, exist_ok=True)
        if not os.access(html_dir, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as error:
        raise UsageError(f"cannot write the dashboard into {html_dir} ({error.strerror or error})",
                         hint=DASHBOARD_FOLDER_HINT) from None


def write_dashboard(digests: Digests, html_dir: str | Path) -> list[Path]:
    """index.html first, then one page per team; a folder that cannot be written is one clear error."""
    try:
        pages = render.write_html(digests, html_dir)
    except OSError as error:
        raise UsageError(f"cannot write the dashboard into {html_dir} ({error.strerror or error})",
                         hint=DASHBOARD_FOLDER_HINT) from None
    index = [page for page in pages if page.name == "index.html"]
    return index + [page for page in pages if page.name != "index.html"]

"""What each scheduled job does, by calling the same runs as the matching command.

``Jobs`` has one method per job (scan-and-nudge, digest, full-rescan); each
takes a ``JobRun`` and returns counts for the log and /metrics. A job stops at
its next safe point (``JobRun.checkpoint``) when the service is shutting down.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from bot.errors import EXIT_NETWORK, GovbotError, NetworkError
from bot.runs.inputs import Inputs
from bot.service.schedule import JOBS

log = logging.getLogger("govbot.service")

class JobCancelled(Exception):
    """The service is stopping and the job reached a point where stopping loses nothing."""


@dataclass
class JobRun:
    job: str
    now: datetime
    apply: bool
    stopping: threading.Event = field(default_factory=threading.Event)

    def checkpoint(self) -> None:
        """Stop here if the service is shutting down. Call only where nothing is half-written."""
        if self.stopping.is_set():
            raise JobCancelled(f"{self.job} stopped before writing anything: the service is shutting down")

    def progress(self, *_args: Any) -> None:
        # Sources report progress while reading: a safe point, nothing is written yet.
        self.checkpoint()


@dataclass
class JobOutcome:
    job: str
    status: str  # success | incomplete (done, but the scan could not read everything) | failure | cancelled | skipped
    started: datetime
    duration: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int = 0  # for `serve --once`: the failure's exit code, as the matching command would use


class Jobs:
    """What each job does, by calling the functions behind the CLI commands.

    A method takes a ``JobRun`` and returns counts for the log and /metrics
    (``summary`` is a ``ScanResult.summary()``, ``nudges_sent`` a number).
    Tests replace these methods; the service never needs to know what they do.
    """

    def __init__(self, inputs: Inputs, *, snapshot: str | None = None,
                 open_store: Callable[..., Any] | None = None):
        self.inputs = inputs
        self.config = inputs.config
        self.snapshot = snapshot
        self.open_store = open_store or StoreOpener(inputs)

    def run(self, name: str, run: JobRun) -> dict[str, Any]:
        return getattr(self, JOBS[name])(run)

    def close(self) -> None:
        """Release what the jobs hold between runs (the demo's temporary store)."""
        close = getattr(self.open_store, "close", None)
        if close is not None:
            close()

    # -- shared steps ----------------------------------------------------------------------------
    def _open_store(self, *, dry_run: bool = False):
        return self.open_store(dry_run=dry_run)

    # -- the jobs ----------------------------------------------------------------------------------
    def scan_and_nudge(self, run: JobRun) -> dict[str, Any]:
        """What `govbot nudge` does: scan, record the findings lifecycle, nudge owners (sent only with apply).

        Reads incrementally when live Jira is configured (the cursor is saved
        only after the run's state is recorded); open findings on issues not
        re-read are carried from the store by the delivery run.
        """
        from bot.runs.nudge import raise_for_credentials, scan_and_nudge

        with self._open_store(dry_run=not run.apply) as store:
            nudged = scan_and_nudge(self.inputs, run.now, store, apply=run.apply, snapshot=self.snapshot,
                                    progress=run.progress, checkpoint=run.checkpoint)
        batch, report = nudged.batch, nudged.report
        sent = report.leftovers.sent + report.flushed.sent
        counts: dict[str, Any] = {
            "summary": batch.summary(), "messages": len(report.messages), "nudges_sent": len(sent),
            ("queued" if run.apply else "would_queue"): len(report.submitted.queued), "held_by_breaker": report.held,
            "pending": len(report.flushed.pending), "failed": len(report.leftovers.failed + report.flushed.failed)}
        raise_for_credentials(report)
        if report.exit_code == EXIT_NETWORK:
            raise NetworkError(f"Slack or Jira was unreachable: {counts['pending']} messages stay queued "
                               "for the next run")
        if report.incomplete:
            counts["incomplete"] = f"scan incomplete: {report.incomplete}"  # status "incomplete", exit 4
        if report.held:
            log.warning("scan-and-nudge: the circuit breaker held this run's messages (%s); "
                        "check `govbot preview`, then run `govbot nudge --apply --override-breaker`",
                        report.submitted.trip.reason, extra={"job": run.job})
        return counts

    def digest(self, run: JobRun) -> dict[str, Any]:
        """What `govbot digest` does: the week's figures per team, recorded; posted to Slack only with apply."""
        from bot.runs.digest import NOT_POSTED, NOT_RECORDED, run_digest, slack_client

        context = {"job": run.job}
        slack = slack_client(self.config) if run.apply else None  # no token: stop before touching the store
        with self._open_store() as store:
            digested = run_digest(self.inputs, run.now, store, apply=run.apply, snapshot=self.snapshot, slack=slack,
                                  say=lambda line: log.info("digest: %s", line, extra=context),
                                  progress=run.progress, checkpoint=run.checkpoint)
        if not digested.recorded:
            log.warning("digest: %s", NOT_RECORDED, extra=context)
        if digested.post_code == EXIT_NETWORK:
            raise NetworkError("Slack was unreachable; the digest stays queued and is posted by the next run")
        if digested.post_code:
            raise GovbotError("Slack refused some digest messages (see the log above); the others were posted")
        counts = {"summary": digested.batch.summary(), "messages": len(digested.messages),
                  "posted": digested.posted}
        if not digested.batch.complete:
            counts["incomplete"] = NOT_POSTED if run.apply and digested.messages else NOT_RECORDED
        return counts

    def full_rescan(self, run: JobRun) -> dict[str, Any]:
        """Read everything in scope (not only what changed) and bring the findings lifecycle up to date."""
        from bot.runs.rescan import full_rescan

        with self._open_store() as store:
            batch = full_rescan(self.inputs, run.now, store, snapshot=self.snapshot, progress=run.progress,
                                checkpoint=run.checkpoint)
        counts: dict[str, Any] = {"summary": batch.summary()}
        counts["recorded"] = batch.record.counts() if batch.record is not None else "not recorded (incomplete scan)"
        return counts


class StoreOpener:
    """How jobs and chat open the store: the configured one, or for the demo a private temporary file.

    The demo's config lives inside the installed package, where a store "beside
    the config" would be written into site-packages (read-only in a container).
    The temporary folder goes when the service stops (``close``), or at the
    latest when the process exits.
    """

    def __init__(self, inputs: Inputs):
        self.config = inputs.config
        self.temporary: tempfile.TemporaryDirectory | None = None
        configured = self.config.settings.store.url or self.config.env.get("GOVBOT_DATABASE_URL")
        if inputs.demo and not configured:
            self.temporary = tempfile.TemporaryDirectory(prefix="govbot-demo-", ignore_cleanup_errors=True)
            log.info("demo: state is kept in %s for this run of the service", self.demo_url)

    @property
    def url(self) -> str:
        """The store's URL (for the scheduler's leader election)."""
        from bot.store.database import store_url

        return self.demo_url or store_url(self.config)

    @property
    def demo_url(self) -> str | None:
        return f"sqlite:///{Path(self.temporary.name) / 'govbot.db'}" if self.temporary is not None else None

    def __call__(self, dry_run: bool = False):
        from bot.store import Store, open_store

        if self.temporary is not None:
            return Store(self.demo_url)
        return open_store(self.config, dry_run=dry_run)

    def close(self) -> None:
        """Remove the demo's temporary state (nothing to do for a configured store)."""
        if self.temporary is not None:
            self.temporary.cleanup()

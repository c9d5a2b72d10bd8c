"""``govbot serve``: the scheduler, its jobs, the health endpoint and chat, and a clean stop on SIGTERM.

One process runs three jobs on cron slots read in one time zone:
scan + nudges (weekdays 09:30), the digest (Monday 09:00) and a full rescan
(nightly 02:00). Each job calls the same runs as the matching command
(``bot.service.jobs``), so a job and ``govbot nudge`` / ``govbot digest`` can
never disagree.

Guarantees:
- one run of a job at a time (``max_instances=1``; a slot that comes while the
  previous run is still going is skipped and counted), and one job at a time
  overall (a one-thread executor: jobs that write the same store queue up);
- missed slots coalesce into one run, if missed by less than ``misfire_grace``;
- a failing job is logged with its cause and simply runs again at its next slot;
- with a PostgreSQL store, replicas elect one scheduler (``bot.service.leader``): the
  others serve health and chat and take over within a minute when the leader dies;
  an SQLite store runs one replica (a second ``govbot serve`` on it refuses to start);
- SIGTERM / SIGINT: no new runs start, a running job stops at its next safe point
  (before it writes anything) or finishes, for up to ``shutdown_timeout``; past that
  it is abandoned. Every store write is one database transaction, so an abandoned
  job leaves either all of a write or none of it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from typing import Any, Callable, NoReturn

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot import __version__
from bot.errors import EXIT_INCOMPLETE, GovbotError
from bot.runs.inputs import Inputs
from bot.service.health import HealthServer, Metrics
from bot.service.jobs import JobCancelled, JobOutcome, JobRun, Jobs
from bot.service.schedule import JOB_TITLES, JOBS, Settings, describe_schedule, utc_now

log = logging.getLogger("govbot.service")

class Service:
    """Scheduler + jobs + health endpoint + chat, with a clean stop."""

    def __init__(self, inputs: Inputs, settings: Settings, *, jobs: Jobs | None = None,
                 snapshot: str | None = None, apply: bool | None = None,
                 clock: Callable[[], datetime] = utc_now, metrics: Metrics | None = None):
        self.inputs = inputs
        self.config = inputs.config
        self.settings = settings
        self.snapshot = snapshot
        self.apply = settings.apply if apply is None else apply
        self.jobs = jobs or Jobs(inputs, snapshot=snapshot)
        self.clock = clock
        self.metrics = metrics or Metrics(JOBS)
        self.stopping = threading.Event()
        self.started_at = clock()
        self.scheduler: BackgroundScheduler | None = None
        self.health_server: HealthServer | None = None
        self.chat = None
        self.leadership = None  # bot.service.leader: who runs the schedule
        self.webhooks = None
        self._cond = threading.Condition()
        self._running: dict[str, float] = {}  # job -> monotonic start
        self._last: dict[str, JobOutcome] = {}
        self._last_success: dict[str, datetime] = {}

    @property
    def mode(self) -> str:
        return "apply" if self.apply else "dry-run"

    # -- running a job ------------------------------------------------------------------------------
    def run_job(self, name: str) -> JobOutcome:
        """Run one job now. Never raises: a failure is logged with its cause and counted."""
        started = self.clock()
        context = {"job": name, "mode": self.mode}
        with self._cond:
            if self.stopping.is_set() or name in self._running:
                why = "the service is stopping" if self.stopping.is_set() else "its previous run is still going"
                log.warning("%s skipped: %s", name, why, extra=context)
                self.metrics.job_skipped(name)
                return JobOutcome(name, "skipped", started, error=why)
            self._running[name] = time.monotonic()
        self.metrics.job_started(name)
        log.info("%s started", name, extra=context)
        run = JobRun(name, started, self.apply, self.stopping)
        outcome = JobOutcome(name, "success", started)
        try:
            outcome.counts = self.jobs.run(name, run) or {}
            if outcome.counts.get("incomplete"):
                # Done as far as it safely could: what it could not read was left alone (exit 4).
                outcome.status, outcome.error = "incomplete", str(outcome.counts["incomplete"])
                outcome.exit_code = EXIT_INCOMPLETE
                log.warning("%s: %s", name, outcome.error, extra=context)
        except JobCancelled as cancelled:
            outcome.status, outcome.error = "cancelled", str(cancelled)
            log.warning("%s", cancelled, extra=context)
        except GovbotError as error:
            outcome.status, outcome.error, outcome.exit_code = "failure", error.message, error.exit_code
            log.error("%s failed: %s; it runs again at its next slot", name, error.message,
                      extra={**context, "error": error.message, **({"hint": error.hint} if error.hint else {})})
        except Exception as error:  # noqa: BLE001 - a job must never take the service down
            outcome.status, outcome.error = "failure", f"{type(error).__name__}: {error}"
            log.exception("%s failed: %s; it runs again at its next slot", name, outcome.error, extra=context)
        finally:
            with self._cond:
                begun = self._running.pop(name, time.monotonic())
                self._cond.notify_all()
            outcome.duration = time.monotonic() - begun
            self._last[name] = outcome
            self.metrics.job_finished(name, outcome.status, outcome.duration)
        if outcome.status in ("success", "incomplete"):
            if outcome.status == "success":
                self._last_success[name] = self.clock()
                self._remember_success(name, self._last_success[name])
            summary = outcome.counts.get("summary") or {}
            if summary:
                self.metrics.scanned(name, summary)
            self.metrics.nudges_sent(int(outcome.counts.get("nudges_sent") or 0))
            log.info("%s finished in %.1fs", name, outcome.duration,
                     extra={**context, "counts": _loggable(outcome.counts)})
        return outcome

    # -- scheduling ------------------------------------------------------------------------------------
    def build_scheduler(self) -> BackgroundScheduler:
        """The scheduler with every enabled job; not started."""
        scheduler = BackgroundScheduler(
            timezone=self.settings.timezone,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(self.settings.misfire_grace.total_seconds())})
        for name, job in self.settings.jobs.items():
            scheduler.add_job(self.run_job, job.trigger, args=[name], id=name, name=JOB_TITLES[name],
                              replace_existing=True)
        scheduler.add_listener(self._on_scheduler_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler = scheduler
        return scheduler

    def _on_scheduler_event(self, event: JobEvent) -> None:
        context = {"job": event.job_id}
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("%s skipped: its previous run is still going", event.job_id, extra=context)
            self.metrics.job_skipped(event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("%s missed its %s slot (more than schedule.misfire_grace late); next slot as usual",
                        event.job_id, getattr(event, "scheduled_run_time", "?"), extra=context)
            self.metrics.job_skipped(event.job_id)

    def next_run_times(self) -> dict[str, datetime | None]:
        if self.scheduler is None or not self.scheduler.running:
            return {}
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    # -- health ------------------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        running = self.scheduler is not None and self.scheduler.running
        leads = self.leadership is None or self.leadership.leader
        # A follower is healthy while it keeps watching for the leader's place: it serves health and chat.
        working = running if leads else self.leadership.alive()
        healthy = working and not self.stopping.is_set()
        status = "ok" if healthy else ("stopping" if self.stopping.is_set() else
                                       "scheduler not running" if leads else "leader election stopped")
        next_runs = self.next_run_times()
        jobs: dict[str, Any] = {}
        for name, schedule in self.settings.jobs.items():
            last = self._last.get(name)
            with self._cond:
                begun = self._running.get(name)
            jobs[name] = {
                "schedule": schedule.spec,
                "next_run": _iso(next_runs.get(name)),
                "running_for_seconds": round(time.monotonic() - begun, 1) if begun is not None else None,
                "last_status": last.status if last else None,
                "last_error": last.error if last and last.status in ("failure", "incomplete") else None,
                "last_success": _iso(self._last_success.get(name)),
            }
        details = {"status": status, "version": __version__, "mode": self.mode,
                   "timezone": self.settings.timezone.key,
                   "uptime_seconds": round((self.clock() - self.started_at).total_seconds(), 1),
                   "chat": self.chat.state if self.chat is not None else "off",
                   "scheduler": self.leadership.state() if self.leadership is not None else None, "jobs": jobs}
        return healthy, details

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the health endpoint, the scheduler and chat (each only if configured)."""
        if self.webhooks is None:
            from bot.service.webhooks import start_webhooks

            self.webhooks = start_webhooks(self)  # None unless service.webhook_path is set
        if not self._last_success:
            self.restore_last_success()
        if self.settings.health_port is not None and self.health_server is None:
            from bot.service.dashboard import dashboard_for

            dashboard = dashboard_for(self.config, self._dashboard_store)
            self.health_server = HealthServer(self.settings.health_host, self.settings.health_port,
                                              self.metrics, self.health, webhooks=self.webhooks, dashboard=dashboard).start()
            log.info("health and metrics on %s/healthz and /metrics", self.health_server.url,
                     extra={"health_url": f"{self.health_server.url}/healthz"})
            if dashboard is not None:
                url = f"{self.health_server.url}{dashboard.path}/"
                if dashboard.access.kind == "none" and not _loopback(self.settings.health_host):
                    # Issue summaries and team figures, to whoever reaches the port: say so where it is seen.
                    log.warning("dashboard on %s is open to anyone who can reach %s:%s: set "
                                "service.dashboard_auth (basic or token), or keep the port behind a proxy",
                                url, self.settings.health_host, self.settings.health_port,
                                extra={"dashboard_url": url})
                else:
                    log.info("dashboard on %s (%s)", url,
                             "open to this machine only" if dashboard.access.kind == "none"
                             else f"{dashboard.access.kind} authentication", extra={"dashboard_url": url})
        if self.chat is None:
            # Before the scheduler: a rejected Slack token stops the start-up with one clear error.
            from bot.service.chat import start_chat

            self.chat = start_chat(self)
        if self.leadership is None:
            from bot.service.leader import leadership_for

            self.leadership = leadership_for(
                self.config, check_every=self.settings.leader_check_every.total_seconds(),
                on_elected=self._lead, on_deposed=self._follow,
                store_url=getattr(getattr(self.jobs, "open_store", None), "url", None))
            self.leadership.start()

    def _lead(self) -> None:
        """Elected: run the schedule, from now on (a fresh scheduler: no slot of the old leader is replayed)."""
        with self._cond:
            if self.stopping.is_set():
                return
            if self.scheduler is None:
                self.build_scheduler()
            if not self.scheduler.running:
                self.scheduler.start()
        self.metrics.set("govbot_scheduler_leader", 1)
        for line in describe_schedule(self.settings, self.clock(), count=1).splitlines():
            log.info("schedule: %s", line)

    def _follow(self) -> None:
        """Deposed: stop the schedule (a job already running finishes; the store's run locks guard it)."""
        self.metrics.set("govbot_scheduler_leader", 0)
        with self._cond:
            scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop accepting runs and wait for the running job; False if it had to be abandoned."""
        self.stopping.set()
        timeout = self.settings.shutdown_timeout.total_seconds() if timeout is None else timeout
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.chat is not None:
            self.chat.close()
        if self.webhooks is not None:
            self.webhooks.stop()
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._running:
                log.info("waiting up to %.0fs for %s to finish", timeout, ", ".join(self._running))
            while self._running and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.01, deadline - time.monotonic())))
            abandoned = list(self._running)
        if self.leadership is not None:
            self.leadership.close()  # after the running job: no other replica starts its slot meanwhile
        if self.health_server is not None:
            self.health_server.stop()
        # The demo's temporary state goes even if a job is abandoned: the process is about to exit.
        self.close()
        if abandoned:
            log.error("abandoning %s after %.0fs: any store write in progress is rolled back by the "
                      "database; messages already queued are sent by the next run", ", ".join(abandoned), timeout)
            return False
        log.info("stopped cleanly")
        return True

    def _job_store(self):
        """The jobs' store (the demo's temporary one included), or None when the jobs have none."""
        opener = getattr(self.jobs, "open_store", None)
        return opener() if opener is not None else None

    def _remember_success(self, name: str, when: datetime) -> None:
        # The service's own bookkeeping (also in a dry run): when each job last worked.
        try:
            store = self._job_store()
            if store is not None:
                with store:
                    store.record_job_success(name, when)
        except Exception as error:  # noqa: BLE001 - bookkeeping must not turn a success into a failure
            log.warning("could not store when %s last succeeded: %s", name, error, extra={"job": name})

    def restore_last_success(self) -> None:
        """Read when each job last succeeded from the store, so /metrics survives a restart."""
        try:
            store = self._job_store()
            if store is None:
                return
            with store:
                successes = store.job_successes()
        except Exception as error:  # noqa: BLE001 - a store not reachable yet: the jobs will say so
            log.warning("could not read when jobs last succeeded: %s", error)
            return
        for name, when in successes.items():
            if name in self.settings.jobs or name in JOBS:
                self._last_success.setdefault(name, when)
                self.metrics.set("govbot_job_last_success_timestamp_seconds", round(when.timestamp(), 3), job=name)

    def _dashboard_store(self):
        # The jobs' own store (the demo's temporary one included); reading it writes nothing.
        return self.jobs.open_store()

    def close(self) -> None:
        """Release what the jobs hold between runs (the demo's temporary store); ``stop`` calls it."""
        close = getattr(self.jobs, "close", None)
        if close is not None:
            close()

    def serve_forever(self, *, install_signals: bool = True) -> int:
        """Run until SIGTERM or SIGINT; the exit code."""
        stop_requested = threading.Event()
        signals_seen: list[int] = []

        def on_signal(number, _frame) -> None:
            signals_seen.append(number)
            if len(signals_seen) > 1:
                # A second signal: the operator does not want to wait.
                _hard_exit("second signal received: stopping now without waiting for the running job")
            stop_requested.set()

        if install_signals:
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        self.start()
        log.info("govbot %s serving (%s); stop with SIGTERM or Ctrl-C", __version__, self.mode)
        while not stop_requested.wait(0.5):
            pass
        name = signal.Signals(signals_seen[0]).name if signals_seen else "stop"
        log.info("%s received: stopping (no new jobs start)", name)
        if not self.stop():
            # The job's thread cannot be interrupted; leaving now is what makes the timeout real.
            _hard_exit("exiting with the job abandoned", code=0)
        return 0


def _hard_exit(message: str, code: int = 0) -> NoReturn:
    log.warning(message)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _loggable(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts worth a log line: the scan summary without its long lists."""
    out = dict(counts)
    summary = out.pop("summary", None)
    if isinstance(summary, dict):
        out.update({key: summary[key] for key in ("issues_scanned", "findings", "waived", "complete", "source")
                    if key in summary})
    return out


def _loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.strip().casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: other machines may reach it

"""``govbot serve``: the scheduler, its jobs, and a clean stop on SIGTERM.

One process runs three jobs on cron slots read in one time zone:
scan + nudges (weekdays 09:30), the digest (Monday 09:00) and a full rescan
(nightly 02:00). Each job calls the same Python functions as the matching
command, so a job and ``govbot nudge`` / ``govbot digest`` can never disagree.

Guarantees:
- one run of a job at a time (``max_instances=1``; a slot that comes while the
  previous run is still going is skipped and counted), and one job at a time
  overall (a one-thread executor: jobs that write the same store queue up);
- missed slots coalesce into one run, if missed by less than ``misfire_grace``;
- a failing job is logged with its cause and simply runs again at its next slot;
- SIGTERM / SIGINT: no new runs start, a running job stops at its next safe point
  (before it writes anything) or finishes, for up to ``shutdown_timeout``; past that
  it is abandoned. Every store write is one database transaction, so an abandoned
  job leaves either all of a write or none of it.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import __version__
from bot.config import Config
from bot.errors import EXIT_INCOMPLETE, EXIT_NETWORK, ConfigError, GovbotError, NetworkError
from bot.health import HealthServer, Metrics
from bot.pipeline import Inputs, run_pipeline

log = logging.getLogger("govbot.service")

# Job names as the CLI and logs spell them -> their keys in the schedule section.
JOBS: dict[str, str] = {"scan-and-nudge": "scan_and_nudge", "digest": "digest", "full-rescan": "full_rescan"}
JOB_TITLES = {"scan-and-nudge": "scan and nudges", "digest": "weekly digest", "full-rescan": "full rescan"}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CRON_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``6h``, ``7d``, ``2w`` -> timedelta (the config schema has checked the shape)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 6h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- schedules -------------------------------------------------------------------------------------

class WallClockCronTrigger(CronTrigger):
    """A cron trigger that fires once per wall-clock slot, also in the hour DST repeats.

    APScheduler 3 fires a 01:30 job twice on the night clocks go back (01:30
    summer time, then 01:30 winter time). A nudge run must not happen twice,
    so a fire time showing the same local time as the previous one is skipped.
    In the hour clocks skip (spring), the slot fires once, just after the jump.
    """

    def get_next_fire_time(self, previous_fire_time, now):
        fire = super().get_next_fire_time(previous_fire_time, now)
        while (fire is not None and previous_fire_time is not None
               and _wall(fire, self.timezone) == _wall(previous_fire_time, self.timezone)):
            fire = super().get_next_fire_time(fire, fire)
        # A time inside the spring gap (01:30 that never happens) as the real instant (02:30 BST):
        # such "imaginary" datetimes never compare equal across zones.
        return fire.astimezone(timezone.utc).astimezone(self.timezone) if fire is not None else None


def _wall(moment: datetime, zone) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


@dataclass
class JobSchedule:
    name: str        # scan-and-nudge
    spec: str        # "30 9 * * mon-fri" or "every 30m", as configured
    trigger: BaseTrigger

    def next_times(self, after: datetime, count: int = 3) -> list[datetime]:
        """The next ``count`` fire times after ``after`` (what the scheduler will do, without waiting)."""
        times: list[datetime] = []
        previous = None
        now = after
        for _ in range(count):
            fire = self.trigger.get_next_fire_time(previous, now)
            if fire is None:
                break
            times.append(fire)
            previous = now = fire
        return times


@dataclass
class Settings:
    """The schedule, service and logging sections, checked and turned into values."""

    timezone: ZoneInfo
    timezone_source: str
    jobs: dict[str, JobSchedule]  # enabled jobs only
    misfire_grace: timedelta
    apply: bool
    health_host: str
    health_port: int | None
    shutdown_timeout: timedelta
    chat: str | bool
    slash_command: str
    max_waiver_days: int
    log_level: str
    log_format: str


def day_of_week_names(field_text: str) -> str | None:
    """The day-of-week field with numbers written as names (standard cron: 0 and 7 are Sunday).

    None when the field uses no numbers. APScheduler 3 reads 0 as *Monday*,
    so a crontab line copied from elsewhere would silently run a day late;
    govbot refuses numbers and suggests the names instead.
    """
    fixed, numeric = [], False
    for part in field_text.split(","):
        days, slash, step = part.partition("/")
        if re.search(r"\d", days):
            numeric = True
            days = re.sub(r"\d+", lambda m: _CRON_DAY_NAMES[int(m.group())] if int(m.group()) <= 7 else m.group(),
                          days)
        fixed.append(days + slash + step)
    return ",".join(fixed) if numeric else None


def make_trigger(spec: str, zone: ZoneInfo) -> BaseTrigger:
    """A trigger for one schedule entry; ValueError with a reason a person can act on."""
    text = " ".join(str(spec).split())
    if text.lower().startswith("every "):
        interval = parse_duration(text[6:])
        if interval.total_seconds() <= 0:
            raise ValueError("the interval must be longer than zero")
        return IntervalTrigger(seconds=int(interval.total_seconds()), timezone=zone)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(f"a schedule has 5 fields (minute hour day month day-of-week), this has {len(fields)}")
    names = day_of_week_names(fields[4])
    if names is not None:
        raise ValueError(f"write the days of the week as names: {' '.join(fields[:4] + [names])!r} "
                         f"(numbered days are ambiguous: in crontab 0 is Sunday, in APScheduler 3 it is Monday)")
    minute, hour, day, month, day_of_week = fields
    return WallClockCronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week,
                                timezone=zone)


def _zone_names() -> list[str]:
    try:
        return sorted(available_timezones())
    except Exception:  # noqa: BLE001 - only used for a hint
        return []


def load_settings(config: Config) -> Settings:
    """Check the service's sections beyond what the schema can say; ConfigError at file:line."""
    problems: list[str] = []

    def problem(path: tuple, message: str, hint: str | None = None) -> None:
        if config.document is not None:
            problems.append(config.document.diagnostic(path, f"config: {message}", hint=hint).render())
        else:
            problems.append(f"config: {message}" + (f"\n  help: {hint}" if hint else ""))

    schedule = config.section("schedule")
    service = config.section("service")
    logging_section = config.section("logging")

    zone, source = ZoneInfo("UTC"), "default (UTC)"
    configured = schedule.get("timezone")
    if configured:
        try:
            zone, source = ZoneInfo(str(configured)), "schedule.timezone"
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(str(configured), _zone_names(), n=1)
            problem(("schedule", "timezone"), f"unknown time zone {configured!r}",
                    f"did you mean {close[0]!r}?" if close else "use an IANA name like Europe/London or UTC")
    else:
        team_zones = {spec.get("timezone") for spec in config.section("teams").values()
                      if isinstance(spec, dict) and spec.get("timezone")}
        if len(team_zones) == 1:
            name = team_zones.pop()
            try:
                zone, source = ZoneInfo(name), "teams (the zone they share)"
            except (ZoneInfoNotFoundError, ValueError):
                problem(("teams",), f"unknown time zone {name!r} in teams",
                        "use an IANA name like Europe/London, or set schedule.timezone")

    jobs: dict[str, JobSchedule] = {}
    for name, key in JOBS.items():
        spec = schedule.get(key)
        if spec is False or spec is None or str(spec).strip().lower() in ("off", "never", "false"):
            continue
        try:
            jobs[name] = JobSchedule(name, " ".join(str(spec).split()), make_trigger(str(spec), zone))
        except ValueError as error:
            problem(("schedule", key), f"schedule.{key}: {error}",
                    "for example '30 9 * * mon-fri' (09:30 on weekdays) or 'every 4h'; false turns it off")

    durations = {}
    for section, key, path in (("schedule", "misfire_grace", schedule), ("service", "shutdown_timeout", service)):
        try:
            durations[key] = parse_duration(path.get(key))
        except ValueError as error:
            problem((section, key), str(error))
            durations[key] = timedelta(minutes=1)

    if durations["misfire_grace"].total_seconds() < 1:
        problem(("schedule", "misfire_grace"), "schedule.misfire_grace must be at least 1s",
                "a late slot runs if it is missed by less than this; 1h suits most sites")
    port = service.get("health_port")
    if problems:
        raise ConfigError("\n".join(problems))
    return Settings(
        timezone=zone, timezone_source=source, jobs=jobs, misfire_grace=durations["misfire_grace"],
        apply=bool(service.get("apply")), health_host=str(service.get("health_host") or "127.0.0.1"),
        health_port=None if port is False or port is None else int(port),
        shutdown_timeout=durations["shutdown_timeout"], chat=service.get("chat", "auto"),
        slash_command=str(service.get("slash_command") or "/govbot"),
        max_waiver_days=int(service.get("max_waiver_days") or 90),
        log_level=str(logging_section.get("level") or "info"), log_format=str(logging_section.get("format") or "auto"))


def describe_schedule(settings: Settings, now: datetime, count: int = 3) -> str:
    """What will run when, in the schedule's zone: for `govbot serve --show-schedule` and the start-up log."""
    lines = [f"time zone: {settings.timezone.key} (from {settings.timezone_source})"]
    for name in JOBS:
        job = settings.jobs.get(name)
        if job is None:
            lines.append(f"{name:<15} off")
            continue
        times = ", ".join(t.astimezone(settings.timezone).strftime("%a %Y-%m-%d %H:%M %Z")
                          for t in job.next_times(now, count))
        lines.append(f"{name:<15} {job.spec:<18} next: {times}")
    return "\n".join(lines)


# -- one run of a job ----------------------------------------------------------------------------------

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

    def _scan(self, run: JobRun, store, *, full: bool = False, cursors=None):
        """Read the configured source and apply the rules and every waiver (labels, file, snoozes)."""
        from bot.waivers import apply_waivers

        result = run_pipeline(self.inputs, run.now, snapshot=self.snapshot, full=full, cursor_store=cursors,
                              progress=run.progress)
        apply_waivers(result.findings, self.config, run.now, workspace=result.workspace, store=store)
        return result

    # -- the jobs ----------------------------------------------------------------------------------
    def scan_and_nudge(self, run: JobRun) -> dict[str, Any]:
        """What `govbot nudge` does: scan, record the findings lifecycle, nudge owners (sent only with apply).

        Reads incrementally when live Jira is configured (the cursor is saved
        only after the run's state is recorded); open findings on issues not
        re-read are carried from the store by the delivery run.
        """
        from bot.nudging import raise_for_credentials, scan_and_nudge

        with self._open_store(dry_run=not run.apply) as store:
            nudged = scan_and_nudge(self.inputs, run.now, store, apply=run.apply, snapshot=self.snapshot,
                                    progress=run.progress, checkpoint=run.checkpoint)
        result, report = nudged.result, nudged.report
        sent = report.leftovers.sent + report.flushed.sent
        counts: dict[str, Any] = {
            "summary": result.summary(), "messages": len(report.messages), "nudges_sent": len(sent),
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
        from bot.digesting import NOT_POSTED, NOT_RECORDED, run_digest, slack_client

        context = {"job": run.job}
        slack = slack_client(self.config) if run.apply else None  # no token: stop before touching the store
        with self._open_store() as store:
            digested = run_digest(self.inputs, run.now, store, apply=run.apply, snapshot=self.snapshot, slack=slack,
                                  say=lambda line: log.info("digest: %s", line, extra=context),
                                  progress=run.progress, checkpoint=run.checkpoint)
        if not digested.recorded:
            log.warning("digest: %s", NOT_RECORDED, extra=context)
        if digested.exit_code == EXIT_NETWORK:
            raise NetworkError("Slack was unreachable; the digest stays queued and is posted by the next run")
        if digested.exit_code:
            raise GovbotError("Slack refused some digest messages (see the log above); the others were posted")
        counts = {"summary": digested.result.summary(), "messages": len(digested.messages),
                  "posted": digested.posted}
        if not digested.result.complete:
            counts["incomplete"] = NOT_POSTED if run.apply and digested.messages else NOT_RECORDED
        return counts

    def full_rescan(self, run: JobRun) -> dict[str, Any]:
        """Read everything in scope (not only what changed) and bring the findings lifecycle up to date."""
        from bot.store import DeferredCursors

        with self._open_store() as store:
            # The cursor (where the next incremental read starts) is saved only once the state is recorded.
            cursors = DeferredCursors(store)
            result = self._scan(run, store, full=True, cursors=cursors)
            run.checkpoint()
            counts: dict[str, Any] = {"summary": result.summary()}
            if result.complete:
                counts["recorded"] = store.record_scan(result, run.now).counts()
                cursors.commit()
            else:
                counts["recorded"] = "not recorded (incomplete scan)"
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
        configured = (self.config.section("store") or {}).get("url") or self.config.env.get("GOVBOT_DATABASE_URL")
        if inputs.demo and not configured:
            self.temporary = tempfile.TemporaryDirectory(prefix="govbot-demo-", ignore_cleanup_errors=True)
            log.info("demo: state is kept in %s for this run of the service", self.demo_url)

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


# -- the service ------------------------------------------------------------------------------------------

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
        healthy = running and not self.stopping.is_set()
        status = "ok" if healthy else ("stopping" if self.stopping.is_set() else "scheduler not running")
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
                   "chat": self.chat.state if self.chat is not None else "off", "jobs": jobs}
        return healthy, details

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the health endpoint, the scheduler and chat (each only if configured)."""
        if self.settings.health_port is not None and self.health_server is None:
            self.health_server = HealthServer(self.settings.health_host, self.settings.health_port,
                                              self.metrics, self.health).start()
            log.info("health and metrics on %s/healthz and /metrics", self.health_server.url,
                     extra={"health_url": f"{self.health_server.url}/healthz"})
        if self.chat is None:
            # Before the scheduler: a rejected Slack token stops the start-up with one clear error.
            from bot.chat import start_chat

            self.chat = start_chat(self)
        if self.scheduler is None:
            self.build_scheduler()
        self.scheduler.start()
        for line in describe_schedule(self.settings, self.clock(), count=1).splitlines():
            log.info("schedule: %s", line)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop accepting runs and wait for the running job; False if it had to be abandoned."""
        self.stopping.set()
        timeout = self.settings.shutdown_timeout.total_seconds() if timeout is None else timeout
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.chat is not None:
            self.chat.close()
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._running:
                log.info("waiting up to %.0fs for %s to finish", timeout, ", ".join(self._running))
            while self._running and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.01, deadline - time.monotonic())))
            abandoned = list(self._running)
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


def _hard_exit(message: str, code: int = 0) -> None:
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

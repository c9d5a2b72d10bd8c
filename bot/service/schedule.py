"""When the service runs each job: the schedule section read into triggers, and the service settings.

Schedules are crontab lines with day *names* (mon-fri), read in one time zone,
or "every 30m"; ``load_settings`` checks the schedule, service and logging
sections beyond what the schema can say, with file:line errors.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Config
from bot.dates import parse_duration
from bot.errors import ConfigError

# Job names as the CLI and logs spell them -> their keys in the schedule section.
JOBS: dict[str, str] = {"scan-and-nudge": "scan_and_nudge", "digest": "digest", "full-rescan": "full_rescan"}
JOB_TITLES = {"scan-and-nudge": "scan and nudges", "digest": "weekly digest", "full-rescan": "full rescan"}

_CRON_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


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
    max_waiver_renewals: int
    leader_check_every: timedelta
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

    schedule = config.settings.schedule
    service = config.settings.service
    logging_section = config.settings.logging

    zone, source = ZoneInfo("UTC"), "default (UTC)"
    configured = schedule.timezone
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
        spec = getattr(schedule, key)
        if spec is False or spec is None or str(spec).strip().lower() in ("off", "never", "false"):
            continue
        try:
            jobs[name] = JobSchedule(name, " ".join(str(spec).split()), make_trigger(str(spec), zone))
        except ValueError as error:
            problem(("schedule", key), f"schedule.{key}: {error}",
                    "for example '30 9 * * mon-fri' (09:30 on weekdays) or 'every 4h'; false turns it off")

    durations = {}
    for section, key, values in (("schedule", "misfire_grace", schedule), ("service", "shutdown_timeout", service),
                                 ("service", "leader_check_every", service)):
        try:
            durations[key] = parse_duration(getattr(values, key))
        except ValueError as error:
            problem((section, key), str(error))
            durations[key] = timedelta(minutes=1)

    if durations["misfire_grace"].total_seconds() < 1:
        problem(("schedule", "misfire_grace"), "schedule.misfire_grace must be at least 1s",
                "a late slot runs if it is missed by less than this; 1h suits most sites")
    if not timedelta(seconds=1) <= durations["leader_check_every"] <= timedelta(minutes=1):
        problem(("service", "leader_check_every"), "service.leader_check_every must be between 1s and 1m",
                "a replica takes the schedule over this long after its leader dies; 15s suits most sites")
    port = service.health_port
    if problems:
        raise ConfigError("\n".join(problems))
    return Settings(
        timezone=zone, timezone_source=source, jobs=jobs, misfire_grace=durations["misfire_grace"],
        apply=bool(service.apply), health_host=str(service.health_host),
        health_port=None if port is False or port is None else int(port),
        shutdown_timeout=durations["shutdown_timeout"], chat=service.chat,
        slash_command=str(service.slash_command), max_waiver_days=int(service.max_waiver_days),
        max_waiver_renewals=int(service.max_waiver_renewals), leader_check_every=durations["leader_check_every"],
        log_level=str(logging_section.level), log_format=str(logging_section.format))


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

"""The service: ``govbot serve`` runs the jobs on a schedule, answers chat and reports health.

``schedule`` reads when jobs run, ``jobs`` says what each does (the same runs
as the commands), ``service`` runs them with a clean stop, ``chat`` answers
``/govbot`` in Slack and ``health`` serves /healthz and /metrics.
"""

from bot.service.jobs import JobCancelled, JobOutcome, JobRun, Jobs, StoreOpener
from bot.service.schedule import (JOB_TITLES, JOBS, JobSchedule, Settings, WallClockCronTrigger, day_of_week_names,
                                  describe_schedule, load_settings, make_trigger, parse_duration, utc_now)
from bot.service.service import Service

__all__ = ["JOBS", "JOB_TITLES", "JobCancelled", "JobOutcome", "JobRun", "JobSchedule", "Jobs", "Service",
           "Settings", "StoreOpener", "WallClockCronTrigger", "day_of_week_names", "describe_schedule",
           "load_settings", "make_trigger", "parse_duration", "utc_now"]

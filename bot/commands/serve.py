"""`govbot serve`: run the scheduler, the slash command and the health endpoint until stopped."""

from __future__ import annotations

import logging
import sys

import click

from bot.commands.common import config_option, handle_errors, now_option, parse_now
from bot.commands.scan import DEMO_NOTE, snapshot_option
from bot.errors import EXIT_CLEAN, GovbotError, UsageError
from bot.pipeline import load_inputs

log = logging.getLogger("govbot.service")

# `--once JOB` exit codes beyond the usual ones: the job did not complete.
EXIT_JOB_FAILED = 1
EXIT_JOB_CANCELLED = 130


@click.command()
@config_option
@snapshot_option
@click.option("--once", "once", type=click.Choice(["scan-and-nudge", "digest", "full-rescan"]), default=None,
              metavar="JOB", help="Run one job now and exit: scan-and-nudge, digest or full-rescan "
                                  "(for cron or a Kubernetes CronJob).")
@click.option("--dry-run/--apply", "dry_run", default=None,
              help="Dry run (log what would be sent) or send nudges and digests. "
                   "Default: service.apply in the config, which defaults to a dry run.")
@click.option("--show-schedule", is_flag=True, help="Print the time zone and the next runs of each job, then exit.")
@now_option
@handle_errors
def serve(config_path, snapshot, once, dry_run, show_schedule, now_text):
    """Run govbot as a service: scheduled jobs, /govbot in Slack, /healthz and /metrics.

    \b
    Jobs (times from the schedule section, in schedule.timezone):
      scan-and-nudge  scan, update the findings lifecycle, nudge owners (weekdays 09:30)
      digest          the weekly digest per team (Monday 09:00)
      full-rescan     read everything in scope again (nightly 02:00)

    Runs until SIGTERM or Ctrl-C, then lets a running job finish (up to
    service.shutdown_timeout) and exits 0. Nothing is sent to Slack or Jira
    unless --apply is given or service.apply is true.

    \b
    Examples:
      govbot serve --show-schedule
      govbot serve --config govbot.yaml --apply
      govbot serve --once digest --apply
    """
    from bot.logs import register_secret, setup_logging
    from bot.service import Service, describe_schedule, load_settings

    inputs = load_inputs(config_path, snapshot=snapshot)
    config = inputs.config
    settings = load_settings(config)
    now = parse_now(now_text)
    if show_schedule:
        click.echo(describe_schedule(settings, now))
        return
    setup_logging(settings.log_level, settings.log_format, env=config.env)
    for name in ("JIRA_API_TOKEN", "JIRA_PAT", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        try:
            register_secret(config.secret(name))  # values read from NAME_FILE too
        except GovbotError:
            pass  # an unreadable *_FILE is reported by whoever needs that secret
    if inputs.demo:
        log.info(DEMO_NOTE)
    apply = settings.apply if dry_run is None else not dry_run
    if apply and inputs.demo:
        raise UsageError("the bundled demo never posts: --apply needs a config file, --snapshot or Jira",
                         hint="run `govbot serve` without --apply to watch what the demo would do")
    clock = (lambda: now) if now_text else None
    service = Service(inputs, settings, snapshot=snapshot, apply=apply,
                      **({"clock": clock} if clock else {}))
    if once:
        outcome = service.run_job(once)
        if outcome.status == "success":
            sys.exit(EXIT_CLEAN)
        sys.exit(EXIT_JOB_CANCELLED if outcome.status == "cancelled" else outcome.exit_code or EXIT_JOB_FAILED)
    sys.exit(service.serve_forever())

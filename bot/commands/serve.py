"""`govbot serve`: run the scheduler, the slash command and the health endpoint until stopped."""

from __future__ import annotations

import logging
import sys

import click

from bot.commands.common import config_option, handle_errors, now_option, parse_now
from bot.commands.scan import DEMO_NOTE, rules_option, snapshot_option
from bot.errors import EXIT_CLEAN, UsageError
from bot.runs.inputs import load_inputs

log = logging.getLogger("govbot.service")

# `--once JOB` exit codes beyond the usual ones: the job did not complete.
EXIT_JOB_FAILED = 1
EXIT_JOB_CANCELLED = 130


@click.command(short_help="Run the service: scheduled jobs, /govbot in Slack, /healthz.")
@config_option
@snapshot_option
@rules_option
@click.option("--once", "once", type=click.Choice(["scan-and-nudge", "digest", "full-rescan"]), default=None,
              metavar="JOB", help="Run one job now and exit: scan-and-nudge, digest or full-rescan "
                                  "(for cron or a Kubernetes CronJob).")
@click.option("--dry-run/--apply", "dry_run", default=None,
              help="Dry run (log what would be sent) or send nudges and digests. "
                   "Default: service.apply in the config, which defaults to a dry run.")
@click.option("--show-schedule", is_flag=True, help="Print the time zone and the next runs of each job, then exit.")
@now_option
@handle_errors
def serve(config_path, snapshot, rule_paths, only_rule_paths, once, dry_run, show_schedule, now_text):
    """Run the service: scheduled jobs, /govbot in Slack, /healthz.

    Also /metrics and the dashboard.

    \b
    Jobs (times from the schedule section, in schedule.timezone):
      scan-and-nudge  scan, update the findings lifecycle, nudge owners
                      (weekdays 09:30)
      digest          record the week's figures, post the digest per team
                      (Monday 09:00)
      full-rescan     read everything in scope again (nightly 02:00)

    The dashboard of the latest week and the archive of every stored week are served
    read-only under service.dashboard_path (default /dashboard, no trailing slash) on the
    health port: http://HOST:9464/dashboard/.

    Runs until SIGTERM or Ctrl-C, then lets a running job finish (up to
    service.shutdown_timeout) and exits 0. Nothing is sent to Slack or Jira
    unless --apply is given or service.apply is true.

    \b
    Examples:
      govbot serve --show-schedule
      govbot serve --config govbot.yaml --apply
      govbot serve --once digest --apply
    """
    from bot.logs import register_config_secrets, setup_logging
    from bot.service import Service, describe_schedule, load_settings

    inputs = load_inputs(config_path, list(rule_paths), snapshot=snapshot, only_rules=list(only_rule_paths))
    config = inputs.config
    settings = load_settings(config)
    now = parse_now(now_text)
    if show_schedule:
        click.echo(describe_schedule(settings, now))
        return
    setup_logging(settings.log_level, settings.log_format, env=config.env)
    register_config_secrets(config)  # NAME_FILE and jira.token_file too
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
        try:
            outcome = service.run_job(once)
        finally:
            service.close()
        if outcome.status == "success":
            sys.exit(EXIT_CLEAN)
        code = EXIT_JOB_CANCELLED if outcome.status == "cancelled" else outcome.exit_code or EXIT_JOB_FAILED
        if code >= 2:  # the log said it already; one plain line for scripts and people, as every command does
            click.echo(f"govbot: {outcome.job} {outcome.status}: {outcome.error}", err=True)
        sys.exit(code)
    sys.exit(service.serve_forever())

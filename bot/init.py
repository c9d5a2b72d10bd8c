"""``govbot init``: write a commented starter ``govbot.yaml`` that loads as it is.

The starter names every section an operator is likely to touch, with the
defaults written out or commented, and says where secrets go (the
environment, never this file). It is checked with ``load_config`` before it
is written, so what ``init`` writes always loads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bot.config import load_config
from bot.errors import ConfigError, UsageError

STARTER = """\
# govbot.yaml - written by `govbot init`. Every key is optional; the comments give the defaults.
# Secrets never go in this file: set JIRA_EMAIL + JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center),
# SLACK_BOT_TOKEN and SLACK_APP_TOKEN in the environment (or NAME_FILE pointing at a file).
# Check it with `govbot serve --show-schedule` and `govbot scan`. Guide: docs/deploy.md

jira:
  url: {jira_url}           # or set JIRA_URL; Cloud also needs JIRA_EMAIL with JIRA_API_TOKEN
  projects: {projects}
  # jql: "project = PAY AND statusCategory != Done"   # instead of (or narrowing) projects
  # deployment: auto                                    # auto | cloud | datacenter

# Teams own projects (or components): findings, nudges and digests are grouped by team.
teams: {{}}
#  payments:
#    projects: [PAY]
#    channel: "#payments-delivery"      # team channel: escalations and the weekly digest
#    timezone: Europe/London

rules:
  paths: []        # your own rule files or folders, relative to this file
  enable: []       # rules shipped off that you want, e.g. [flow-item-aging]
  disable: []      # rule ids to switch off
  # params:   {{closing-the-loop-actual-outcome-missing: {{grace_days: 60}}}}
  # severity: {{work-hierarchy-unmapped-type: warning}}

# Where govbot keeps state (findings lifecycle, sent messages, waivers, digest history).
# Default: govbot.db beside this file, or $GOVBOT_DATABASE_URL (postgresql+psycopg://...).
store:
  url: null
  # audit_file: govbot-audit.jsonl   # every delivery and waiver as JSON lines; "-": standard error

waivers:
  label_prefix: govbot-waive-   # label govbot-waive-<rule-id> on an issue waives that rule there
  # file: waivers.yaml          # reviewed waivers with reason and end date

slack:
  admin_channel: null    # where govbot reports its own trouble (a tripped circuit breaker)
  org_channel: null      # the organisation-wide digest
  # user_map_file: slack-users.yaml   # Jira user -> Slack id, when Jira hides e-mail addresses

# When the service (`govbot serve`) runs each job: a crontab line with day NAMES, read in
# the time zone below, or "every 30m"; false turns a job off.
schedule:
  timezone: {timezone}
  scan_and_nudge: "30 9 * * mon-fri"   # scan, then nudge owners privately (with --apply)
  digest: "0 9 * * mon"                # the weekly digest per team
  full_rescan: "0 2 * * *"             # read everything again overnight
  misfire_grace: 1h                    # a slot missed by less than this still runs

service:
  apply: false              # false: a dry run that only logs what it would send; true: send
  health_host: 127.0.0.1    # 0.0.0.0 in a container probed from outside (Kubernetes)
  health_port: 9464         # /healthz and /metrics; false turns them off
  shutdown_timeout: 2m      # on SIGTERM, how long a running job may take to finish
  chat: auto                # auto: answer /govbot when SLACK_APP_TOKEN and SLACK_BOT_TOKEN are set
  slash_command: /govbot
  max_waiver_days: 90       # the longest waiver `/govbot waive` may grant

logging:
  level: info               # debug | info | warning | error
  format: auto              # auto: JSON lines unless on a terminal | json | text
"""


def _yaml_string(value: str | None) -> str:
    if not value:
        return "null"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def starter_config(*, jira_url: str | None = None, projects: tuple[str, ...] | list[str] = (),
                   timezone: str | None = None) -> str:
    project_list = "[" + ", ".join(_yaml_string(p.strip()) for p in projects if p.strip()) + "]"
    return STARTER.format(jira_url=_yaml_string(jira_url), projects=project_list,
                          timezone=_yaml_string(timezone or "UTC"))


def write_starter(path: str | Path, *, force: bool = False, **values) -> Path:
    """Write the starter config to ``path`` after checking that it loads; refuse to overwrite."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; nothing was written", hint="use --force to replace it")
    if not target.parent.exists():
        raise UsageError(f"folder {target.parent} does not exist")
    text = starter_config(**values)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".govbot-init-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        # The same checks as at start-up: a bad --jira-url or --timezone is caught here.
        from bot.service import load_settings

        try:
            load_settings(load_config(temporary, env={}))
        except ConfigError as error:
            raise ConfigError(str(error).replace(temporary, str(target)) + "\nnothing was written") from None
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target

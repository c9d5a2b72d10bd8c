"""govbot.yaml + environment -> validated settings.

One YAML file holds all configuration; secrets come only from environment
variables (or files named in config), never from the YAML itself. Errors point
at ``govbot.yaml:line:col`` like rule errors do.

Each top-level section has its schema in ``SECTION_SCHEMAS`` and its defaults
in ``DEFAULTS``; a subsystem reads its section through ``Config.section(name)``
which returns the user's values merged over the defaults.
"""

from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import ConfigError
from bot.settings import Settings
from bot.hierarchy import DEFAULT_HIERARCHY, Hierarchy, merge_hierarchy
from bot.validation import validate
from bot import yamlcache
from bot.yamlfile import DiagnosticError, YamlDocument, parse, read

CONFIG_FILENAMES = ("govbot.yaml", "govbot.yml")

_string_list = {"type": "array", "items": {"type": "string"}}
_channel = {"type": ["string", "null"], "pattern": r"^[#A-Za-z0-9]",
            "description": "a channel id like C0123ABCD or a name like #team-payments"}
_duration = {"type": "string", "pattern": r"^\d+\s*[smhdw]$",
             "description": "a duration like 30s, 15m, 6h, 7d or 2w"}

DEFAULTS: dict[str, Any] = {
    "jira": {
        "url": None,               # or $JIRA_URL
        "deployment": "auto",      # auto | cloud | datacenter
        "projects": [],
        "jql": None,               # base JQL; combined with projects when both given
        "page_size": None,         # None: the server's maximum
        "concurrency": 4,          # requests in flight at once while reading pages (1: one at a time)
        "timeout_seconds": 30,
        "max_retries": 5,
        "token_file": None,        # a file holding JIRA_API_TOKEN / JIRA_PAT
        "full_rescan_every": "1d",
        "incremental_overlap": "10m",
    },
    # Logical field name -> synonyms. A rule asking for "Anticipated Outcome"
    # finds a field or description section under any of these names.
    "fields": {
        "Anticipated Outcome": ["Anticipated Outcomes", "Expected Outcome", "Expected Outcomes", "Outcome Hypothesis",
                                "Hypothesis"],
        "Actual Outcome": ["Actual Outcomes", "Outcome Achieved", "Realised Outcome", "Realized Outcome"],
        "Outcome Owner": ["Product Manager", "Product Owner", "Technical Lead", "Tech Lead"],
        "Reason": ["Reason for the shortcut", "Why"],
        "Impact": ["Impact of the debt", "Debt Impact"],
        "Timeline": ["Trigger", "Timeline or Trigger", "Timeline/Trigger", "Payback", "Pay-down Timeline"],
        "Key Result": ["Parent OKR", "OKR", "Key Result Link"],
    },
    # Text that stands in for a value: compared after folding case, spacing and
    # punctuation (bot.text.placeholder_reason). Text with no letter or digit in any
    # script ("-", "…", "???") is always a placeholder. A list here replaces this one.
    "placeholders": ["tbd", "tba", "tbc", "n/a", "na", "none", "-", "--", "todo", "to do",
                     "?", "...", "xxx", "placeholder", "fill in", "fill me in", "later",
                     "coming soon", "see above", "same as above", "same as summary", "nothing", "null", "to be defined",
                     "to be determined", "to be confirmed", "unknown", "pending", "wip", "x"],
    # Resolutions that close work without delivering it (bot.lifecycle.is_abandoned):
    # no outcome to record. Compared case-insensitively; a list here replaces this one.
    "abandoned_resolutions": ["Won't Do", "Won't Fix", "Wont Do", "Wont Fix", "Duplicate", "Duplicated",
                              "Not A Problem", "Not a Bug", "Invalid", "Incomplete", "Cannot Reproduce",
                              "Can't Reproduce", "Obsolete", "Auto Closed", "Declined", "Rejected",
                              "Abandoned", "Cancelled", "Canceled", "Out of Scope", "Not Done"],
    # Active work (bot.lifecycle.ActiveWindow): rules look at open issues and at issues
    # closed within this many days; older history is never nudged or commented on.
    # 0: no window. `--all-history` on scan, check and preview lifts it for one run.
    "scan": {"history_days": 180},
    "hierarchy": copy.deepcopy(DEFAULT_HIERARCHY),  # bot/hierarchy.py
    "teams": {},             # name -> {projects, components, channel, timezone}
    "rules": {
        "paths": [],         # extra rule files or folders, relative to this file
        "enable": [],        # rule ids shipped disabled that this site wants
        "disable": [],
        "params": {},        # rule id -> {param: value}
        "severity": {},      # rule id -> severity override
    },
    "tech_debt": {"label": "tech-debt-agreement"},
    "owners": ["Outcome Owner", "assignee", "reporter"],
    # State, delivery and waivers (bot/store/, bot/deliver/, bot/waivers.py).
    "store": {
        "url": None,                   # None: $GOVBOT_DATABASE_URL, else sqlite file govbot.db beside the config
        "busy_timeout_seconds": 30,    # how long to wait for a store another run is writing
        "audit_file": None,            # JSON lines of every delivery and waiver; None: govbot-audit.jsonl; "-": stderr
    },
    "waivers": {"file": None, "label_prefix": "govbot-waive-"},
    "slack": {
        "api_url": None,               # or $SLACK_API_URL; default https://slack.com/api/
        "admin_channel": None,         # circuit-breaker alerts
        "org_channel": None,
        "default_channel": None,       # for teams without teams.<name>.channel
        "user_map_file": None,         # Jira accountId / username / email -> Slack user id
        "timeout_seconds": 20,
        "max_retries": 4,
        "seconds_between_posts": 1.0,  # per channel (Slack allows about one post per second)
        "resend_unconfirmed": True,    # a post left in doubt that Slack's history cannot settle: resend it once,
                                       # marked "in case you missed this" (false: count it as sent; may lose it)
    },
    "nudges": {
        "enabled": True,
        "reminder_interval_days": 7,
        "max_reminders": 3,            # reminders after the first nudge; then escalate
        "escalate_to": "channel",      # channel | digest
        "quiet_days": ["saturday", "sunday"],
        "quiet_hours": "19:00-07:00",  # local time in the team's time zone; "off" (or false) to disable
        "timezone": "UTC",             # for teams without teams.<name>.timezone
        "min_severity": "info",
        "waiver_hint": None,           # extra line in every nudge, e.g. who grants waivers
        "buttons": True,               # fix / snooze / not mine / open buttons (answered by `govbot serve` chat)
        "breaker": {
            "max_people": 25, "max_findings": 100,             # absolute limits per run
            "relative_factor": 3.0, "min_people": 10, "min_findings": 40,  # x the recent maximum, above floors
            "history_runs": 10,
        },
    },
    "comments": {"enabled": True},     # Jira comments for rules with comment: true
    "digest": {
        "trend_weeks": 8,              # weeks of FFR history drawn, this week included
        "flow_window_days": 90,        # delivered = done and resolved within this many days
        "loop_age_days": [30, 60, 90],  # age bands for unclosed loops
        "ffr_attention": 25,           # FFR (%) above which "where to look first" asks about outcomes
        "slack_max_items": 5,          # items per list in a Slack message; the rest link to the dashboard
        "dashboard_url": None,         # where people open the dashboard; None: the service's own /dashboard/
        "organisation": "Organisation",  # title of the organisation-wide digest
    },
    # When the service runs each job: a crontab line with day NAMES (mon-fri), read in
    # schedule.timezone, or "every 30m"; false turns a job off.
    "schedule": {
        "timezone": None,                   # IANA name; None: the teams' zone when they share one, else UTC
        "scan_and_nudge": "30 9 * * mon-fri",
        "digest": "0 9 * * mon",
        "full_rescan": "0 2 * * *",
        "misfire_grace": "1h",              # a slot missed by less than this (busy, asleep) still runs
    },
    "service": {
        "apply": False,                     # dry run unless true here or `govbot serve --apply`
        "health_host": "127.0.0.1",         # 0.0.0.0 in a container probed from outside
        "health_port": 9464,                # /healthz and /metrics; false: no endpoint
        "shutdown_timeout": "2m",           # on SIGTERM, how long a running job may take to finish
        "chat": "auto",                     # auto: Slack slash commands when SLACK_APP_TOKEN is set
        "slash_command": "/govbot",
        "max_waiver_days": 90,              # the longest `/govbot waive` a person can ask for
        "max_waiver_renewals": 2,           # how often a chat waiver on one issue and rule may be renewed
        "leader_check_every": "15s",        # PostgreSQL store: how often replicas check who runs the schedule
        "admins": [],                       # Slack user ids who may act on any issue from Slack
        "webhook_path": None,               # e.g. /jira/webhook: accept Jira issue webhooks there (off: None)
        "webhook_debounce": "20s",          # an issue is checked once its events have been quiet this long
        "webhook_max_bytes": 1048576,       # larger webhook bodies are refused (413)
        "dashboard_path": "/dashboard",     # the dashboard, read-only on the health port; false: not served
        "dashboard_auth": "none",           # none | basic (GOVBOT_DASHBOARD_USER/_PASSWORD) | token (GOVBOT_DASHBOARD_TOKEN)
    },
    "logging": {"level": "info", "format": "auto"},  # format: auto (JSON unless a terminal) | json | text
}

SECTION_SCHEMAS: dict[str, dict] = {
    "jira": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "url": {"type": ["string", "null"], "pattern": r"^https?://",
                    "description": "the site's base URL, like https://example.atlassian.net"},
            "deployment": {"enum": ["auto", "cloud", "datacenter"]},
            "projects": _string_list,
            "jql": {"type": ["string", "null"]},
            "page_size": {"type": ["integer", "null"], "minimum": 1, "maximum": 5000},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 16,
                            "description": "requests in flight at once while reading pages"},
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 20},
            "token_file": {"type": ["string", "null"]},
            "full_rescan_every": _duration,
            "incremental_overlap": _duration,
        },
    },
    "fields": {"type": "object", "additionalProperties": {
        "anyOf": [_string_list, {"type": "null"}]}},
    "placeholders": _string_list,
    "abandoned_resolutions": _string_list,
    "scan": {"type": "object", "additionalProperties": False,
             "properties": {"history_days": {"type": "integer", "minimum": 0, "maximum": 36600,
                                             "description": "days of closed work rules look at; 0: all"}}},
    "hierarchy": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "levels": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}, "types": _string_list,
                               "required": {"type": "boolean"},
                               "above": {"type": "string", "minLength": 1,
                                         "description": "for a new level: the level it sits directly above"},
                               "below": {"type": "string", "minLength": 1,
                                         "description": "for a new level: the level it sits directly below"}}}},
            "flow_items": {"type": "object", "additionalProperties": False,
                           "properties": {kind: _string_list for kind in ("feature", "defect", "risk", "debt")}},
            "not_work_items": _string_list,
            "remove_types": {**_string_list, "description": "types taken out of the defaults: levels, "
                                                            "flow items and not_work_items"},
            "jira_levels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "teams": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": False,
        "properties": {"projects": _string_list, "components": _string_list,
                       "channel": {"type": "string"}, "timezone": {"type": "string"},
                       "name": {"type": "string"}}}},
    "rules": {
        "type": "object", "additionalProperties": False,
        "properties": {"paths": _string_list, "enable": _string_list, "disable": _string_list,
                       "params": {"type": "object", "additionalProperties": {"type": "object"}},
                       "severity": {"type": "object", "additionalProperties": {
                           "enum": ["error", "warning", "info"]}}},
    },
    "tech_debt": {"type": "object", "additionalProperties": False,
                  "properties": {"label": {"type": "string", "minLength": 1}}},
    "owners": _string_list,
    "store": {"type": "object", "additionalProperties": False,
              "properties": {"url": {"type": ["string", "null"],
                                     "description": "a file path, sqlite:///path.db or postgresql+psycopg://user@host/db"},
                             "busy_timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
                             "audit_file": {"type": ["string", "null"]}}},
    "waivers": {"type": "object", "additionalProperties": False,
                "properties": {"file": {"type": ["string", "null"]},
                               "label_prefix": {"type": "string", "minLength": 1}}},
    "slack": {"type": "object", "additionalProperties": False,
              "properties": {
                  "api_url": {"type": ["string", "null"], "pattern": r"^https?://",
                              "description": "the Web API base, like https://slack.com/api/"},
                  "admin_channel": _channel, "org_channel": _channel, "default_channel": _channel,
                  "user_map_file": {"type": ["string", "null"]},
                  "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
                  "max_retries": {"type": "integer", "minimum": 0, "maximum": 20},
                  "seconds_between_posts": {"type": "number", "minimum": 0, "maximum": 60},
                  "resend_unconfirmed": {"type": "boolean"}}},
    "nudges": {"type": "object", "additionalProperties": False,
               "properties": {
                   "enabled": {"type": "boolean"},
                   "reminder_interval_days": {"type": "number", "exclusiveMinimum": 0},
                   "max_reminders": {"type": "integer", "minimum": 0, "maximum": 52},
                   "escalate_to": {"enum": ["channel", "digest"]},
                   "quiet_days": {"type": "array", "uniqueItems": True, "items": {
                       "enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}},
                   "quiet_hours": {"anyOf": [
                       {"type": "string", "pattern": r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$",
                        "description": 'a local time range like "19:00-07:00", or off'},
                       {"enum": [False, None, "", "off", "Off", "OFF"]}]},
                   "timezone": {"type": "string", "minLength": 1},
                   "min_severity": {"enum": ["error", "warning", "info"]},
                   "waiver_hint": {"type": ["string", "null"]},
                   "buttons": {"type": "boolean"},
                   "breaker": {"type": "object", "additionalProperties": False, "properties": {
                       "max_people": {"type": "integer", "minimum": 0},
                       "max_findings": {"type": "integer", "minimum": 0},
                       "relative_factor": {"type": "number", "minimum": 1},
                       "min_people": {"type": "integer", "minimum": 0},
                       "min_findings": {"type": "integer", "minimum": 0},
                       "history_runs": {"type": "integer", "minimum": 1, "maximum": 100}}}}},
    "comments": {"type": "object", "additionalProperties": False,
                 "properties": {"enabled": {"type": "boolean"}}},
    "digest": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "trend_weeks": {"type": "integer", "minimum": 2, "maximum": 104},
            "flow_window_days": {"type": "integer", "minimum": 1, "maximum": 3660},
            "loop_age_days": {"type": "array", "minItems": 1, "maxItems": 10,
                              "items": {"type": "integer", "minimum": 1}},
            "ffr_attention": {"type": "number", "minimum": 0, "maximum": 100},
            "slack_max_items": {"type": "integer", "minimum": 1, "maximum": 20},
            "dashboard_url": {"type": ["string", "null"], "pattern": r"^https?://",
                              "description": "where people open the dashboard"},
            "organisation": {"type": "string", "minLength": 1},
        },
    },
    "schedule": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "timezone": {"type": ["string", "null"], "description": "an IANA time zone like Europe/London"},
            **{job: {"anyOf": [{"type": "string", "minLength": 1}, {"const": False}],
                     "description": "a crontab line like '30 9 * * mon-fri', 'every 30m', or false"}
               for job in ("scan_and_nudge", "digest", "full_rescan")},
            "misfire_grace": _duration,
        },
    },
    "service": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "apply": {"type": "boolean"},
            "health_host": {"type": "string", "minLength": 1},
            "health_port": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 65535}, {"const": False}]},
            "shutdown_timeout": _duration,
            "chat": {"enum": ["auto", True, False]},
            "slash_command": {"type": "string", "pattern": r"^/[a-z0-9_-]{1,31}$",
                              "description": "a slash command like /govbot"},
            "max_waiver_days": {"type": "integer", "minimum": 1, "maximum": 3660},
            "max_waiver_renewals": {"type": "integer", "minimum": 0, "maximum": 100},
            "leader_check_every": _duration,
            "admins": {"type": "array", "uniqueItems": True,
                       "items": {"type": "string", "pattern": r"^[UW][A-Z0-9]{2,30}$",
                                 "description": "a Slack user id like U0123ABCD"}},
            "webhook_path": {"type": ["string", "null"], "pattern": r"^/(?!healthz$|metrics$)[A-Za-z0-9/_.-]{1,100}$",
                             "description": "a path like /jira/webhook (not /healthz or /metrics)"},
            "webhook_debounce": _duration,
            "webhook_max_bytes": {"type": "integer", "minimum": 1024, "maximum": 67108864},
            "dashboard_path": {"anyOf": [{"type": "string", "pattern": r"^(/[A-Za-z0-9_-]+)+$",
                                          "not": {"enum": ["/healthz", "/metrics"]}},
                                         {"const": False}],
                               "description": "a URL path like /dashboard, or false"},
            "dashboard_auth": {"enum": ["none", "basic", "token"]},
        },
    },
    "logging": {
        "type": "object", "additionalProperties": False,
        "properties": {"level": {"enum": ["debug", "info", "warning", "error"]},
                       "format": {"enum": ["auto", "json", "text"]}},
    },
}


def schema() -> dict:
    return {"type": "object", "additionalProperties": False, "properties": SECTION_SCHEMAS}


def _merge(defaults: Any, override: Any) -> Any:
    """User values over defaults; nested mappings merge, lists and scalars replace."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        merged = copy.deepcopy(defaults)
        for key, value in override.items():
            merged[key] = _merge(defaults.get(key), value) if key in defaults else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override) if override is not None else copy.deepcopy(defaults)


@dataclass
class Config:
    """Validated configuration. ``path`` is None when running on defaults only."""

    data: dict[str, Any]
    path: Path | None = None
    document: YamlDocument | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    # `--all-history`: this run looks at every issue, whatever scan.history_days and
    # closing-the-loop's horizon say (an audit).
    all_history: bool = False
    # Set only by ``load_config(..., partial=True)`` when the file has errors: ``load_rules`` reports them
    # together with the rule files' (one validation pass) and raises. ``data`` then holds only the sections
    # without errors (over the defaults); ``rules_unchecked`` says why the rule files cannot be checked.
    problems: list = field(default_factory=list)
    rules_unchecked: str | None = None

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name) or {}

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve_path(self, value: str | None) -> Path | None:
        """A path from config, relative to the config file's folder."""
        if not value:
            return None
        candidate = Path(os.path.expanduser(value))
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    # -- derived values used across the package ------------------------------
    @property
    def settings(self) -> Settings:
        """Every section as a typed value (``bot.settings``), built once; defaults from DEFAULTS only."""
        if not hasattr(self, "_settings"):
            self._settings = Settings.from_sections(
                lambda name: _merge(DEFAULTS.get(name), self.data.get(name) or {}))
        return self._settings

    @property
    def hierarchy(self) -> Hierarchy:
        if not hasattr(self, "_hierarchy"):
            self._hierarchy = Hierarchy.from_config(self.section("hierarchy"))
        return self._hierarchy

    @property
    def history_days(self) -> int | None:
        """Days of closed work rules look at (None: all, for `--all-history` or history_days 0)."""
        if self.all_history:
            return None
        days = self.settings.scan.history_days
        return int(days) if days else None

    def synonyms(self, name: str) -> list[str]:
        """``name`` followed by its configured synonyms (case-insensitive lookup)."""
        folded = name.strip().casefold()
        for logical, others in self.section("fields").items():
            names = [logical, *(others or [])]
            if folded in (n.casefold() for n in names):
                return [name] + [n for n in names if n.casefold() != folded]
        return [name]

    def team_for(self, project: str, components: tuple[str, ...] = ()) -> str:
        """The team owning an issue: by component first (more specific), then project."""
        teams = self.section("teams")
        folded_components = {c.casefold() for c in components}
        for team, spec in teams.items():
            if folded_components & {c.casefold() for c in spec.get("components", [])}:
                return team
        for team, spec in teams.items():
            if project.casefold() in (p.casefold() for p in spec.get("projects", [])):
                return team
        return project or "unassigned"

    def secret(self, name: str) -> str | None:
        """A secret from the environment (or ``<NAME>_FILE``); never from the YAML."""
        value = self.env.get(name)
        if value:
            return value.strip()
        file_name = self.env.get(f"{name}_FILE")
        if file_name:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ConfigError(f"cannot read {name}_FILE ({file_name}): {error.strerror}") from None
        return None

    def position(self, *path: Any) -> str:
        """``file:line`` of a config value, for messages about it."""
        if not self.document:
            return "defaults"
        line, _ = self.document.position(tuple(path))
        return f"{self.document.path}:{line}"


def load_config(path: str | Path | None = None, *, env: dict[str, str] | None = None,
                search: bool = True, partial: bool = False) -> Config:
    """Load and validate config. With no path, use ./govbot.yaml if present, else defaults.

    ``partial``: for a caller that goes on to ``load_rules`` (start-up validation): schema errors do not
    raise here but travel in ``Config.problems``, so the rule files are checked in the same pass.
    """
    environment = dict(os.environ) if env is None else env
    if path is None and search:
        for name in CONFIG_FILENAMES:
            if Path(name).is_file():
                path = name
                break
        else:
            env_path = environment.get("GOVBOT_CONFIG")
            path = env_path or None
    if path is None:
        return _secrets_registered(Config(_merge(DEFAULTS, {}), None, None, environment))
    try:
        text = read(path)
        # The same text that validated cleanly before (bot/yamlcache.py) is neither parsed nor validated again.
        cache_key = yamlcache.key("config", str(path), yamlcache.text_hash(text))
        cached = yamlcache.restore("config", cache_key, {str(path): text})
        document = cached[0][str(path)] if cached else parse(str(path), text)
    except DiagnosticError as error:
        raise ConfigError(str(error) + _unchecked_note(partial, path, "could not be read")) from None
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(document.diagnostic((), "config must be a mapping of sections "
                                                  "(jira:, teams:, rules: ...)").render()
                          + _unchecked_note(partial, path, "is not a mapping of sections"))
    secrets = _inline_secrets(data)
    if secrets:
        # Say it once per secret, and never echo the secret itself into a terminal or CI log. Nothing
        # else is checked: every other message would quote the file around the secret.
        masked = _mask_lines(document, [path for path, _, what in secrets if not what],
                             [secret for _, secret, _ in secrets])
        diagnostics = [masked.diagnostic(
            path, f"config: secrets must not be written in the config file ({_describe_path(path)}"
                  f"{' holds ' + what if what else ''})",
            hint="set it in the environment (for example JIRA_API_TOKEN or SLACK_BOT_TOKEN), "
                 "or name a file with <NAME>_FILE", key=not what) for path, _, what in secrets]
        raise ConfigError("\n".join(d.render() for d in diagnostics)
                          + _unchecked_note(partial, document.path, "holds a secret"))
    # One pass: the schema's problems, the time zones' and the hierarchy's together, not one after another.
    diagnostics = [] if document.validated else validate(document, schema(), data, what="config:")
    zones = _time_zone_problems(document, data)
    diagnostics += [diagnostic for _, diagnostic in zones]
    bad = (set() if document.validated else _bad_places(data)) | {place[:1] for place, _ in zones}
    clean = _clean_sections(data, bad)
    merged = _merge(DEFAULTS, clean)
    if isinstance(clean.get("hierarchy"), dict):
        # The hierarchy extends the defaults (bot.hierarchy.merge_hierarchy) rather than replacing them.
        problems = []
        merged["hierarchy"] = merge_hierarchy(DEFAULTS["hierarchy"], clean["hierarchy"], problems)
        if problems:
            bad.add(("hierarchy",))
            merged["hierarchy"] = copy.deepcopy(DEFAULTS["hierarchy"])
            diagnostics += [document.diagnostic(("hierarchy", *where), f"config: {message}", hint=hint)
                            for where, message, hint in problems]
    if diagnostics and not partial:
        raise ConfigError("\n".join(d.render() for d in diagnostics))
    config = Config(merged, Path(path), document, environment)
    if diagnostics:
        config.problems = diagnostics
        config.rules_unchecked = _rules_unchecked(bad, document.path)
    elif not document.validated:
        yamlcache.remember("config", cache_key, [document])
    return _secrets_registered(config)


# The sections rule files are checked against: with one of them broken, checking the rules would only
# report the break again in every rule that leans on it.
_RULES_NEED = {("rules",): "has errors in its `rules:` section",
               ("rules", "paths"): "has errors in rules.paths (which rule files to read is not known)",
               ("hierarchy",): "has errors in its `hierarchy:` section (rules name its levels)",
               ("fields",): "has errors in its `fields:` section (rules name its fields)"}


def _rules_unchecked(bad: set[tuple], where: str) -> str | None:
    reasons = [reason for place, reason in _RULES_NEED.items() if place in bad]
    return unchecked_note(where, reasons[0]) if reasons else None


def unchecked_note(where: Any, why: str) -> str:
    """The one line said instead of rule errors that a broken config would only cascade into."""
    return f"note: rule files were not checked: {where} {why}"


def _unchecked_note(partial: bool, where: Any, why: str) -> str:
    return "\n" + unchecked_note(where, why) if partial else ""


def _bad_places(data: dict) -> set[tuple]:
    """Where the schema finds errors: the section, or for ``rules:`` the key inside it. An unknown key
    is not a bad place: it is left out anyway."""
    import jsonschema

    whole = schema()
    validator = jsonschema.validators.validator_for(whole)(whole)
    places = set()
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        if not path or (error.validator == "additionalProperties" and path == ("rules",)):
            continue
        # Inside rules: the key, and for params and severity the rule id, so one bad entry
        # leaves the others checked.
        depth = 1 if path[0] != "rules" else (3 if path[1:2] in (("params",), ("severity",)) else 2)
        places.add(path[:depth])
    return places


def _clean_sections(data: dict, bad: set[tuple]) -> dict:
    """The file's known sections without errors (for ``rules:``, its keys without errors)."""
    clean = {}
    for name, value in data.items():
        if name not in SECTION_SCHEMAS or (name,) in bad:
            continue
        if name == "rules" and isinstance(value, dict):
            known = SECTION_SCHEMAS["rules"]["properties"]
            value = {key: ({rule: item[rule] for rule in item if ("rules", key, rule) not in bad}
                           if isinstance(item, dict) else item)
                     for key, item in value.items() if key in known and ("rules", key) not in bad}
        clean[name] = value
    return clean


def _secrets_registered(config: Config) -> Config:
    """Every secret this config can reach (environment, NAME_FILE, jira.token_file) is masked in
    every output from the moment the config is loaded (bot/redact.py)."""
    from bot.redact import read_secret_file, register_env_secrets

    register_env_secrets(config.env)
    # The raw section, not ``config.settings``: that is read once and cached, and callers may
    # still adjust the config after loading it.
    token_file = config.section("jira").get("token_file")
    if token_file:
        from bot.redact import register_secret

        register_secret(read_secret_file(config.resolve_path(token_file)))
    return config


def _time_zone_problems(document: YamlDocument, data: dict) -> list[tuple[tuple, Any]]:
    """Every time zone in the file is a real IANA name: said now, at its line, not when a nudge is due."""
    places: list[tuple[tuple, Any]] = []
    for section in ("nudges", "schedule"):
        if isinstance(data.get(section), dict) and isinstance(data[section].get("timezone"), str):
            places.append(((section, "timezone"), data[section]["timezone"]))
    teams = data.get("teams") if isinstance(data.get("teams"), dict) else {}
    for team, spec in teams.items():
        if isinstance(spec, dict) and isinstance(spec.get("timezone"), str):
            places.append((("teams", team, "timezone"), spec["timezone"]))
    problems = []
    for path, name in places:
        try:
            ZoneInfo(str(name))
            continue
        except (ZoneInfoNotFoundError, ValueError):
            pass
        close = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + "use an IANA name like Europe/London or America/New_York"
        problems.append((path, document.diagnostic(path, f"config: unknown time zone {name!r}", hint=hint)))
    return problems


_SECRET_KEYS = {"token", "api_token", "password", "pat", "bot_token", "app_token", "secret", "signing_secret"}


def secret_in(value: str) -> tuple[str, str] | None:
    """(what it looks like, the secret part) when ``value`` holds a secret by its shape: a token
    pasted into `slack.admin_channel` or a password inside `jira.url` is as much in git as one
    under `token:`. The shapes are the output filter's (bot/redact.py)."""
    from bot.redact import token_shape

    return token_shape(value)


def _inline_secrets(data: dict) -> list[tuple[tuple, Any, str]]:
    """(path, secret, what) of every secret in the file, by key name (``token:``) or by shape (``xoxb-...``,
    ``ATATT...``, ``https://user:password@...``): config files end up in git and ConfigMaps."""
    found = []
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if str(key).casefold() in _SECRET_KEYS and isinstance(child, (str, int)) and child:
                    found.append((path + (key,), str(child), ""))
                else:
                    stack.append((path + (key,), child))
        elif isinstance(value, list):
            stack.extend((path + (index,), child) for index, child in enumerate(value))
        elif isinstance(value, str):
            shape = secret_in(value)
            if shape:
                found.append((path, shape[1], shape[0]))
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _describe_path(path: tuple) -> str:
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in path).replace(".[", "[")


def _mask_lines(document: YamlDocument, paths: list[tuple], secrets: list[str] = ()) -> YamlDocument:
    """A copy of the document whose secret values read as ******** in excerpts."""
    text = document.text
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "********")
    lines = text.splitlines()
    for path in paths:
        line, col = document.position(path, key=True)
        if 1 <= line <= len(lines):
            text = lines[line - 1]
            colon = text.find(":", col - 1)
            if colon != -1:
                lines[line - 1] = text[:colon + 1] + " ********"
    return YamlDocument(document.path, "\n".join(lines), document.data,
                        document.value_marks, document.key_marks)

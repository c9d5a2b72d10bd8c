"""``govbot init``: write a commented starter ``govbot.yaml`` that loads as it is.

The starter names every section an operator is likely to touch, with the
defaults written out or commented, and says where secrets go (the
environment, never this file). It is checked with ``load_config`` before it
is written, so what ``init`` writes always loads.

``--from-jira`` reads the site's field list once (``/rest/api/2/field``,
through the same source code as scans) and writes the ids of the custom
fields behind each logical field into ``fields:``; fields the site lacks are
written commented out, so the defaults (description sections) still apply.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bot.config import Config, load_config
from bot.errors import ConfigError, GovbotError, UsageError

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

{fields}
{hierarchy}
# Active work: rules look at open issues and at issues closed within this many days, so
# years of history are never nudged or commented on (0: no window; `--all-history` on
# scan, check and preview lifts it for one run).
scan:
  history_days: 180
# abandoned_resolutions: [Won't Do, Duplicate, Not A Problem, Invalid, Obsolete]   # closed, not delivered

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
  {timezone}
  scan_and_nudge: "30 9 * * mon-fri"   # scan, then nudge owners privately (with --apply)
  digest: "0 9 * * mon"                # the weekly digest per team
  full_rescan: "0 2 * * *"             # read everything again overnight
  misfire_grace: 1h                    # a slot missed by less than this still runs

service:
  apply: false              # false: a dry run that only logs what it would send; true: send
  health_host: 127.0.0.1    # 0.0.0.0 in a container probed from outside (Kubernetes)
  health_port: 9464         # /healthz, /metrics, the dashboard and webhooks; false turns the port off
  shutdown_timeout: 2m      # on SIGTERM, how long a running job may take to finish
  chat: auto                # auto: answer /govbot and the nudges' buttons when both Slack tokens are set
  slash_command: /govbot
  max_waiver_days: 90       # the longest waiver `/govbot waive` (or a snooze button) may grant
  max_waiver_renewals: 2    # a chat waiver on one issue and rule is renewed at most this often
  # admins: [U0123ABCD]     # Slack ids who may act on any issue; others need edit permission in Jira
  dashboard_path: /dashboard  # the weekly dashboard on the health port; false: not served
  dashboard_auth: none      # anyone who reaches the port reads it; basic | token before exposing it
  # webhook_path: /jira/webhook   # Jira issue webhooks, signed with GOVBOT_WEBHOOK_SECRET (docs/deploy.md)

logging:
  level: info               # debug | info | warning | error
  format: auto              # auto: JSON lines unless on a terminal | json | text
"""


FIELDS_UNFILLED = """\
# Logical field -> the other names (or ids, like customfield_10050) it has on your site; a list
# replaces the default synonyms. `govbot init --from-jira` fills the ids from the site's field list.
fields: {}
#  Anticipated Outcome: [customfield_10050, Anticipated Outcomes, Expected Outcome, Outcome Hypothesis, Hypothesis]
"""


HIERARCHY_UNFILLED = """\
# Work hierarchy: what each issue type is. govbot reads Jira's own signals first (sub-task,
# hierarchyLevel, untranslatedName, the Epic type), so standard and localised types need
# nothing here. Entries ADD to the defaults (Theme > Initiative > Epic > Feature > Story >
# Sub-task); remove_types takes a default type out. `govbot init --from-jira` lists the site's types.
hierarchy: {}
#  levels:
#    - {name: story, types: [Deliverable]}                         # a custom type at story level
#    - {name: capability, types: [Capability], below: epic, required: false}   # a level of its own
#  flow_items: {feature: [Deliverable]}                            # so flow metrics can count it
#  not_work_items: [Milestone]                                     # like Release: not work
#  remove_types: [Task]     # the name no longer places Task (Jira's own signals, like hierarchyLevel, still do)
"""


def _yaml_string(value: str | None) -> str:
    if not value:
        return "null"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- YAML for text that came from Jira -------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'&+-]*")
_NOT_PLAIN = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def _quoted(text: str) -> str:
    """A double-quoted YAML string: every character that is not printable is escaped, so no
    name from Jira can end a comment or line, or reorder what a reader sees."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch not in "\u2028\u2029\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _flow_item(text: str) -> str:
    """One item of a YAML flow list: plain when that reads back as the same string, else quoted."""
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and "  " not in text \
            and text.casefold() not in _NOT_PLAIN:
        return text
    return _quoted(text)


# -- --from-jira ---------------------------------------------------------------------------------------
@dataclass
class FieldMatch:
    """One logical field and the site's custom fields found under its name or a synonym."""

    logical: str
    synonyms: list[str]
    found: list[Any] = field(default_factory=list)  # FieldInfo, in the order of the names tried

    @property
    def ids(self) -> list[str]:
        return [info.id for info in self.found]

    def names(self) -> list[str]:
        """What to write: the ids first, then the Jira names, then the remaining synonyms
        (still read as description sections and as fields on other sites)."""
        out: list[str] = []
        for name in [*self.ids, *(info.name.strip() for info in self.found), *self.synonyms]:
            if name and name.casefold() != self.logical.casefold() \
                    and name.casefold() not in {n.casefold() for n in out}:
                out.append(name)
        return out


@dataclass
class Discovery:
    """What `--from-jira` found on one site."""

    site: str
    url: str
    field_count: int
    matches: list[FieldMatch]
    epic_link: list[Any] = field(default_factory=list)
    parent_link: list[Any] = field(default_factory=list)
    # The site's issue types (/rest/api/2/issuetype), or None when they could not be read.
    issue_types: list[dict] | None = None

    @property
    def found(self) -> list[FieldMatch]:
        return [m for m in self.matches if m.found]

    @property
    def missing(self) -> list[FieldMatch]:
        return [m for m in self.matches if not m.found]


def match_fields(catalog, fields_section: dict[str, list[str] | None], *, site: str = "", url: str = ""
                 ) -> Discovery:
    """Each logical field's custom fields, by display name or synonym (case-insensitive)."""
    matches = []
    for logical, synonyms in fields_section.items():
        match = FieldMatch(logical, [s for s in synonyms or [] if isinstance(s, str)])
        seen: set[str] = set()
        for name in [logical, *match.synonyms]:
            for field_id in catalog.ids_for(name):
                info = catalog.get(field_id)
                if info is not None and info.custom and info.id not in seen:
                    seen.add(info.id)
                    match.found.append(info)
        matches.append(match)
    links = {"epic": catalog.epic_link_ids, "parent": catalog.parent_link_ids}
    return Discovery(site, url, len(catalog), matches,
                     epic_link=[catalog.get(i) for i in links["epic"]],
                     parent_link=[catalog.get(i) for i in links["parent"]])


def _source(config: Config, connection):
    from bot.sources.jira import JiraSource

    return JiraSource(config, connection)


def discover_fields(*, jira_url: str | None = None, env: dict[str, str] | None = None,
                    make_source: Callable | None = None) -> Discovery:
    """Read the field list of the Jira at ``jira_url`` (else $JIRA_URL) with the environment's
    credentials, and match it against the default logical fields. Errors are one message."""
    from bot.sources.jira import Connection

    environment = dict(os.environ if env is None else env)
    if jira_url:
        environment["JIRA_URL"] = jira_url  # the explicit option wins over the environment
    if not (environment.get("JIRA_URL") or "").strip():
        raise ConfigError("--from-jira: no Jira URL; nothing was written",
                          hint="set JIRA_URL in the environment or pass --jira-url")
    try:
        config = load_config(None, env=environment, search=False)
        connection = Connection.from_config(config)
        # A person is waiting at a terminal: quick answers beat patience (as in `govbot doctor`).
        connection = dataclasses.replace(connection, max_retries=min(connection.max_retries, 2))
        source = (make_source or _source)(config, connection)
        catalog = source.field_catalog()
    except GovbotError as error:
        wrapped = GovbotError(f"--from-jira: {error.message}; nothing was written", hint=error.hint)
        wrapped.exit_code = error.exit_code
        raise wrapped from None
    discovery = match_fields(catalog, config.section("fields"), site=source.site, url=connection.url)
    discovery.issue_types = read_issue_types(source)
    return discovery


def read_issue_types(source) -> list[dict] | None:
    """The site's issue types, for the hierarchy section; None when Jira will not say (the
    fields are what matter most: the starter is still written, with the commented example)."""
    transport = getattr(source, "transport", None)
    if transport is None:
        return None
    try:
        data = transport.get("/rest/api/2/issuetype", what="reading the issue types")
    except GovbotError:
        return None
    if not isinstance(data, list):
        return None
    return [item for item in data if isinstance(item, dict) and isinstance(item.get("name"), str)]


def hierarchy_block(discovery: Discovery | None) -> str:
    """The starter's ``hierarchy:`` section: the site's types under their detected level, or an example."""
    if discovery is None or not discovery.issue_types:
        return HIERARCHY_UNFILLED
    from bot.config import load_config
    from bot.hierarchy import IssueType, defaults, describe
    from bot.sources.normalize import _id, _int

    hierarchy = load_config(None, search=False, env={}).hierarchy
    epic_ids = {_id(t.get("id")) for t in discovery.issue_types if _int(t.get("hierarchyLevel")) == 1}
    by_level: dict[str, list[tuple[str, str]]] = {}
    flows: dict[str, list[str]] = {}
    not_work: list[str] = []
    unplaced: list[str] = []
    storyish: list[str] = []
    standard = defaults()
    seen: set[str] = set()
    for raw in discovery.issue_types:
        name = raw["name"].strip()
        if not name or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        untranslated = raw.get("untranslatedName") if isinstance(raw.get("untranslatedName"), str) else ""
        issue_type = IssueType(name, _id(raw.get("id")), untranslated if untranslated != name else "",
                               raw.get("subtask") if isinstance(raw.get("subtask"), bool) else None,
                               _int(raw.get("hierarchyLevel")))
        info = hierarchy.resolve(issue_type, epic_type=issue_type.id in epic_ids)
        if not info.work_item:
            not_work.append(name)
        elif info.level is None:
            unplaced.append(name)
        else:
            by_level.setdefault(info.level.name, []).append((name, describe(info)))
        if info.flow_item:
            flows.setdefault(info.flow_item, []).append(name)
        elif info.level is not None and info.level.name in ("story", "feature") \
                and not any(standard.is_mapped(n) for n in issue_type.names):
            storyish.append(name)  # a level but no flow item kind (a Task is none by design)
    site = _quoted(discovery.site)[1:-1]
    lines = [f"# Work hierarchy: the {len(seen)} issue types of {site} under the level govbot detects (Jira's",
             "# own signals first: sub-task, hierarchyLevel, untranslatedName; then the names). Entries ADD to",
             "# the defaults: move a type to change its level, remove_types takes a default type out.",
             "hierarchy:"]
    if by_level:
        lines.append("  levels:")
        for level in hierarchy.levels:
            entries = by_level.get(level.name)
            if entries:
                how = "; ".join(sorted({h for _, h in entries}))
                types = ", ".join(_flow_item(n) for n, _ in entries)
                lines.append(f"    - {{name: {level.name}, types: [{types}]}}  # {how}")
    if flows:
        lines.append("  flow_items:")
        for kind in ("feature", "defect", "risk", "debt"):
            if flows.get(kind):
                lines.append(f"    {kind}: [{', '.join(_flow_item(n) for n in flows[kind])}]")
    if not_work:
        lines.append(f"  not_work_items: [{', '.join(_flow_item(n) for n in not_work)}]")
    if storyish:
        lines.append(f"  # No flow item kind known for {', '.join(_flow_item(n) for n in storyish)}: say which are")
        lines.append("  # features (stories), defects, risks or debt under flow_items, so flow metrics count them.")
    if unplaced:
        lines.append(f"  # Placed by nothing (no Jira level, no name the map knows): "
                     f"{', '.join(_flow_item(n) for n in unplaced)}.")
        lines.append(f"  # Give each a level, e.g. - {{name: story, types: [{_flow_item(unplaced[0])}]}}")
    if not (by_level or flows or not_work):
        lines[-1] = "hierarchy: {}"
    return "\n".join(lines) + "\n"


def fields_block(discovery: Discovery | None) -> str:
    """The starter's ``fields:`` section: filled from a discovery, or a commented example."""
    if discovery is None:
        return FIELDS_UNFILLED
    site = _quoted(discovery.site)[1:-1]
    lines = [f"# Logical field -> the names it has on {site}: the field id first, read by `govbot init",
             f"# --from-jira` from the site's {discovery.field_count} fields. A list replaces the default synonyms.",
             "# Fields this site lacks are commented out: rules read description sections of those names instead."]
    entries = []
    for match in discovery.matches:
        names = "[" + ", ".join(_flow_item(n) for n in match.names()) + "]"
        entry = f"{_flow_item(match.logical)}: {names}"
        if match.found:
            where = ", ".join(f"{_quoted(info.name.strip())} ({_quoted(info.id)[1:-1]})" for info in match.found)
            entries.append(f"  {entry}  # Jira: {where}")
        else:
            entries.append(f"  # {entry}  # not a field on this site: rules read description sections "
                           f"of these names instead")
    lines.append("fields:" if discovery.found else "fields: {}")
    lines += entries
    links = [(label, infos) for label, infos in (("Epic Link", discovery.epic_link),
                                                  ("Parent Link", discovery.parent_link)) if infos]
    if links:
        found = "; ".join(f"{label} " + ", ".join(f"{_quoted(i.id)[1:-1]} ({_quoted(i.name.strip())})" for i in infos)
                          for label, infos in links)
        lines.append(f"# Hierarchy links found by type (Data Center; govbot reads them itself, nothing to set): "
                     f"{found}")
    return "\n".join(lines) + "\n"


def starter_config(*, jira_url: str | None = None, projects: tuple[str, ...] | list[str] = (),
                   timezone: str | None = None, discovery: Discovery | None = None) -> str:
    project_list = "[" + ", ".join(_yaml_string(p.strip()) for p in projects if p.strip()) + "]"
    # Without --timezone the key stays commented out: its default follows the teams' zones.
    zone = (f"timezone: {_yaml_string(timezone)}" if timezone
            else "# timezone: Europe/London   # default: the teams' zone if they all share one, else UTC")
    return STARTER.format(jira_url=_yaml_string(jira_url), projects=project_list, timezone=zone,
                          fields=fields_block(discovery), hierarchy=hierarchy_block(discovery))


def check_target(path: str | Path, *, force: bool = False) -> Path:
    """Refuse an existing file (without --force) or a missing folder, before any work."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; nothing was written", hint="use --force to replace it")
    if not target.parent.exists():
        raise UsageError(f"folder {target.parent} does not exist")
    return target


def write_starter(path: str | Path, *, force: bool = False, **values) -> Path:
    """Write the starter config to ``path`` after checking that it loads; refuse to overwrite."""
    target = check_target(path, force=force)
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

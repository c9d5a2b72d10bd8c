"""`govbot doctor`: can govbot read this Jira the way the config says, and use Slack?

Each step is one line: ok, warn (works, with a caveat) or fail (will not
work; says what to do). Later steps that depend on a failed one are skipped
rather than piling up errors with the same cause.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from bot.config import Config
from bot.errors import GovbotError, NetworkError
from bot.sources.http import JiraHTTPError
from bot.sources.fields import ALIASES, BASE_FIELDS, fallback, looks_like_id
from bot.sources.jira import Connection, JiraSource, fields_wanted
from bot.sources.jql import scope_jql

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MAX_PROJECTS_CHECKED = 20


@dataclass
class Step:
    name: str
    status: str
    detail: str
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def _failure(name: str, error: GovbotError) -> Step:
    return Step(name, FAIL, error.message, error.hint)


def run_doctor(config: Config, ruleset=None, *, make_source: Callable[[Config, Connection], JiraSource] | None = None
               ) -> list[Step]:
    """Every check, in order; stops early when the rest cannot mean anything."""
    steps: list[Step] = []
    try:
        connection = Connection.from_config(config)
    except GovbotError as error:
        return [_failure("config", error)]
    # Quick answers beat patience here: a person is waiting at a terminal.
    connection = dataclasses.replace(connection, max_retries=min(connection.max_retries, 2))
    source = (make_source or (lambda c, conn: JiraSource(c, conn)))(config, connection)
    steps.append(Step("config", OK, f"{source.site}, credentials from {connection.credentials_label}"))

    # 1. Reachable, and which kind of Jira.
    try:
        info = source.server_info()
        kind = "Jira Cloud" if source.deployment == "cloud" else "Jira Data Center"
        version = info.get("version")
        steps.append(Step("reachable", OK, f"{kind}" + (f" {version}" if version else "")
                          + (f" ({info['serverTitle']})" if info.get("serverTitle") else "")))
        reported = str(info.get("deploymentType") or "").casefold()
        forced = connection.deployment
        if forced != "auto" and reported and (reported == "cloud") != (forced == "cloud"):
            steps.append(Step("deployment", WARN, f"jira.deployment is {forced} but the site says {info['deploymentType']}",
                              "remove jira.deployment (auto-detect) or correct it"))
    except JiraHTTPError as error:
        if error.status not in (401, 403):
            return steps + [_failure("reachable", error)]
        steps.append(Step("reachable", OK, "answers (server info needs sign-in)"))
    except GovbotError as error:
        return steps + [_failure("reachable", error)]

    # 2. Credentials.
    try:
        me = source.transport.get("/rest/api/2/myself", what="signing in")
        who = me.get("displayName") or me.get("name") or me.get("accountId") or "an unnamed user"
        ident = me.get("accountId") or me.get("name")
        steps.append(Step("credentials", OK, f"signed in as {who}" + (f" ({ident})" if ident and ident != who else "")))
    except GovbotError as error:
        return steps + [_failure("credentials", error)]

    projects = [p for p in config.settings.jira.projects or [] if p]
    try:
        steps.extend(_permissions(source, projects))
        steps.extend(_projects(source, projects))
        steps.extend(_fields(source, config, ruleset))
        steps.append(_scope(source, config))
    except NetworkError as error:
        steps.append(_failure("network", error))
    return steps


def _permissions(source: JiraSource, projects: list[str]) -> list[Step]:
    steps = []
    targets = projects[:MAX_PROJECTS_CHECKED] or [None]
    for project in targets:
        params = {"permissions": "BROWSE_PROJECTS,ADD_COMMENTS"}
        if project:
            params["projectKey"] = project
        where = f" in {project}" if project else ""
        try:
            answer = source.transport.get("/rest/api/2/mypermissions", params, what="reading permissions")
        except JiraHTTPError as error:
            if error.status == 404 and project:
                continue  # the project step says it better
            steps.append(Step(f"permissions{where}", WARN, f"could not read permissions: {error.message}"))
            continue
        granted = {key: bool(value.get("havePermission")) for key, value in
                   (answer.get("permissions") or {}).items() if isinstance(value, dict)}
        if not granted.get("BROWSE_PROJECTS"):
            steps.append(Step(f"permissions{where}", FAIL, "no Browse Projects permission: issues cannot be read",
                              "ask a Jira admin to grant Browse Projects to this user"))
        elif not granted.get("ADD_COMMENTS"):
            steps.append(Step(f"permissions{where}", WARN, "can browse but not add comments",
                              "only needed if govbot should comment on issues (comments: in govbot.yaml)"))
        else:
            steps.append(Step(f"permissions{where}", OK, "can browse issues and add comments"))
    return steps


def _projects(source: JiraSource, projects: list[str]) -> list[Step]:
    steps = []
    for project in projects[:MAX_PROJECTS_CHECKED]:
        try:
            answer = source.transport.get(f"/rest/api/2/project/{project}", what=f"reading project {project}")
            steps.append(Step(f"project {project}", OK, str(answer.get("name") or project)))
        except JiraHTTPError as error:
            if error.status != 404:
                raise
            steps.append(Step(f"project {project}", FAIL, f"project {project} not found, or not visible to this user",
                              "check jira.projects in govbot.yaml (project keys, like PAY)"))
    return steps


def _fields(source: JiraSource, config: Config, ruleset) -> list[Step]:
    """Each field the rules read (grouped with its synonyms) and the id it maps to."""
    catalog = source.field_catalog()
    needed = {name.casefold(): name for name in fields_wanted(ruleset, config)}
    groups: list[tuple[str, list[str]]] = []
    for logical, synonyms in config.section("fields").items():
        names = [logical, *(synonyms or [])]
        if any(name.casefold() in needed for name in names):
            groups.append((logical, names))
            for name in names:
                needed.pop(name.casefold(), None)
    groups += [(name, [name]) for folded, name in sorted(needed.items())
               if folded not in BASE_FIELDS and folded not in ALIASES]
    steps = []
    for logical, names in groups:
        found = [(name, ids) for name in names for ids in [catalog.ids_for(name)] if ids]
        if not found:
            owners = [o for o in config.section("owners") if o.casefold() != logical.casefold()]
            hint = fallback(logical)
            if any(o.casefold() == logical.casefold() for o in config.section("owners")):
                hint += f"; nudges go to the next of owners: ({', '.join(owners)})"
            if not looks_like_id(logical):
                hint += "; if the site names the field differently, add that name under fields: in govbot.yaml"
            steps.append(Step(f"field {logical}", WARN, "no such field on this site", hint))
            continue
        name, ids = found[0]
        label = f"{name} -> {', '.join(ids)}" + ("" if name == logical else " (synonym)")
        if len(ids) > 1:
            steps.append(Step(f"field {logical}", WARN, f"{label}: several fields share this name",
                              "govbot reads all of them; rename the duplicates in Jira if they differ"))
        else:
            steps.append(Step(f"field {logical}", OK, label))
    if not source.is_cloud:
        for label, ids in (("Epic Link", catalog.epic_link_ids), ("Parent Link", catalog.parent_link_ids)):
            if ids:
                steps.append(Step(f"field {label}", OK, ", ".join(ids)))
            elif label == "Epic Link":
                steps.append(Step(f"field {label}", WARN, "not found: stories reach their epic only through parent",
                                  "normal without Jira Software; otherwise check the field's configuration"))
    return steps


def _scope(source: JiraSource, config: Config) -> Step:
    try:
        jql = scope_jql(config)
    except GovbotError as error:
        return _failure("scope", error)
    try:
        if source.is_cloud:
            answer = source.transport.post("/rest/api/3/search/approximate-count", {"jql": jql},
                                           what="counting the scope")
            count, about = answer.get("count"), "about "
        else:
            answer = source.transport.get("/rest/api/2/search", {"jql": jql, "maxResults": 0, "fields": "key"},
                                          what="counting the scope")
            count, about = answer.get("total"), ""
    except JiraHTTPError as error:
        detail = "; ".join(error.messages) or error.message
        return Step("scope", FAIL, f"Jira rejected the scope query {jql!r}: {detail}",
                    "check jira.projects and jira.jql in govbot.yaml")
    if not isinstance(count, int):
        return Step("scope", WARN, f"could not count the issues in scope ({jql})")
    if count == 0:
        return Step("scope", WARN, f"no issues match {jql}", "check jira.projects and jira.jql")
    return Step("scope", OK, f"{about}{count:,} issue{'' if count == 1 else 's'} match{'es' if count == 1 else ''} {jql}")


def problems(steps: list[Step]) -> int:
    return sum(1 for step in steps if step.status == FAIL)



# -- Slack -------------------------------------------------------------------------------------------

# The bot scopes govbot needs to send at all, and why (deploy/slack-app-manifest.yaml asks for them).
SLACK_SCOPES = {"chat:write": "post nudges, escalations and the digest",
                "im:write": "open the private conversation a nudge goes to",
                "users:read": "needed with users:read.email",
                "users:read.email": "find a Jira user's Slack account by e-mail"}
# What settles a post left in doubt by an interrupted run: reading back that one conversation.
HISTORY_SCOPES = {"im:history": "direct messages", "channels:history": "public team channels",
                  "groups:history": "private team channels"}


def slack_doctor(config: Config, *, client=None) -> list[Step]:
    """Slack: the token, its scopes, and how a post left in doubt by an interrupted run is settled."""
    from bot.deliver.slack_client import SlackClient, SlackError

    resend = config.settings.slack.resend_unconfirmed
    if client is None:
        if not config.secret("SLACK_BOT_TOKEN"):
            return [Step("slack", SKIP, "SLACK_BOT_TOKEN is not set: Slack was not checked "
                                        f"(in-doubt posts without history: {_fallback_mode(resend)})")]
        try:
            client = SlackClient.from_config(config, max_retries=1, max_wait_seconds=5)
        except GovbotError as error:
            return [_failure("slack", error)]
    try:
        identity = client.auth_test()
        scopes = client.scopes()
    except SlackError as error:
        hint = "check SLACK_BOT_TOKEN (and SLACK_API_URL)" if error.fatal else "is Slack reachable from here?"
        return [Step("slack", FAIL, f"Slack refused or did not answer auth.test: {error}", hint)]
    who = identity.get("user") or identity.get("user_id") or "the bot"
    steps = [Step("slack", OK, f"signed in as {who}" + (f" in {identity['team']}" if identity.get("team") else ""))]
    if scopes is None:
        steps.append(Step("slack scopes", WARN, "Slack did not list the token's scopes (no X-OAuth-Scopes header)",
                          "compare the app's scopes with deploy/slack-app-manifest.yaml"))
        return steps
    missing = [scope for scope in SLACK_SCOPES if scope not in scopes]
    if missing:
        steps.append(Step("slack scopes", FAIL, "missing " + "; ".join(f"{s} ({SLACK_SCOPES[s]})" for s in missing),
                          "add them to the Slack app (deploy/slack-app-manifest.yaml) and reinstall it"))
    else:
        steps.append(Step("slack scopes", OK, ", ".join(sorted(SLACK_SCOPES))))
    steps.append(in_doubt_mode(scopes, resend))
    return steps


def _fallback_mode(resend: bool) -> str:
    return ('resent once, marked "in case you missed this"' if resend else
            "counted as sent without proof (slack.resend_unconfirmed: false): a nudge may be lost")


def in_doubt_mode(scopes: set[str], resend: bool) -> Step:
    """Which in-doubt mode the site is in: proof from Slack's history, or the fallback where it is missing."""
    absent = [scope for scope in HISTORY_SCOPES if scope not in scopes]
    if not absent:
        return Step("in-doubt posts", OK, "proved from Slack's history (" + ", ".join(HISTORY_SCOPES) + "): a post "
                    "an interrupted run left in doubt is found by its metadata, never sent twice, never lost")
    where = ", ".join(f"{HISTORY_SCOPES[scope]} ({scope} missing)" for scope in absent)
    proved = [HISTORY_SCOPES[scope] for scope in HISTORY_SCOPES if scope in scopes]
    detail = (f"no proof for {where}: such posts are {_fallback_mode(resend)}"
              + (f"; proved from history for {', '.join(proved)}" if proved else ""))
    return Step("in-doubt posts", WARN, detail,
                "add " + ", ".join(absent) + " to the Slack app (deploy/slack-app-manifest.yaml) and reinstall it")

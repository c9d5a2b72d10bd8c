"""A small Jira double at the HTTP layer (``responses`` callbacks), Cloud or Data Center.

It speaks the REST shapes govbot uses, evaluates a JQL subset (AND/OR/NOT,
parentheses, =, !=, in, not in, >=, <=, >, <, ORDER BY), pages the way the real
servers do (Cloud ``nextPageToken``, omitted on the last page; Data Center
``startAt``/``total`` with a page cap and a 10,000-result window) and can
inject faults (429/503 with Retry-After, resets) on chosen requests.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

URL = "https://example.atlassian.net"
DC_URL = "https://jira.example.com"

EPIC_LINK = "customfield_10014"
PARENT_LINK = "customfield_10200"
OUTCOME = "customfield_10050"
ACTUAL = "customfield_10051"


def cloud_fields() -> list[dict]:
    return [
        *[{"id": i, "name": n, "custom": False, "schema": {"type": t, "system": i}, "clauseNames": [i]}
          for i, n, t in [("summary", "Summary", "string"), ("issuetype", "Issue Type", "issuetype"),
                          ("status", "Status", "status"), ("project", "Project", "project"),
                          ("labels", "Labels", "array"), ("components", "Components", "array"),
                          ("priority", "Priority", "priority"), ("parent", "Parent", "issuelink"),
                          ("assignee", "Assignee", "user"), ("reporter", "Reporter", "user"),
                          ("created", "Created", "datetime"), ("updated", "Updated", "datetime"),
                          ("resolutiondate", "Resolved", "datetime"), ("description", "Description", "string"),
                          ("statuscategorychangedate", "Status Category Changed", "datetime")]],
        {"id": OUTCOME, "name": "Anticipated Outcome", "custom": True, "clauseNames": ["cf[10050]", "Anticipated Outcome"],
         "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                    "customId": 10050}},
        {"id": ACTUAL, "name": "Actual Outcome", "custom": True, "clauseNames": ["cf[10051]", "Actual Outcome"],
         "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                    "customId": 10051}},
        {"id": "customfield_10060", "name": "Story Points", "custom": True, "clauseNames": ["cf[10060]"],
         "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}},
    ]


def dc_fields() -> list[dict]:
    fields = [f for f in cloud_fields() if f["id"] not in ("parent", "statuscategorychangedate")]
    fields.append({"id": "parent", "name": "Parent", "custom": False, "schema": {"type": "issuelink"},
                   "clauseNames": ["parent"]})
    # Localised names on purpose: the source must find these by schema type.
    fields.append({"id": EPIC_LINK, "name": "Lien d'epic", "custom": True, "clauseNames": ["cf[10014]", "Lien d'epic"],
                   "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10014}})
    fields.append({"id": PARENT_LINK, "name": "Lien parent", "custom": True, "clauseNames": ["cf[10200]"],
                   "schema": {"type": "any", "custom": "com.atlassian.jpo:jpo-custom-field-parent", "customId": 10200}})
    return fields


def adf(*blocks: tuple[str, str]) -> dict:
    """An ADF document from (kind, text) blocks; kind is "h2" or "p"."""
    content = []
    for kind, text in blocks:
        node = {"type": "text", "text": text}
        if kind.startswith("h"):
            content.append({"type": "heading", "attrs": {"level": int(kind[1:])}, "content": [node]})
        else:
            content.append({"type": "paragraph", "content": [node]})
    return {"type": "doc", "version": 1, "content": content}


_LEVELS = {"Initiative": 2, "Epic": 1, "Story": 0, "Task": 0, "Bug": 0, "Sub-task": -1, "Release": 0}


def cloud_issue_types() -> list[dict]:
    """/rest/api/2/issuetype as a localised Cloud site answers it (names in German)."""
    return [{"id": "10000", "name": "Epos", "untranslatedName": "Epic", "subtask": False, "hierarchyLevel": 1},
            {"id": "10001", "name": "Story", "untranslatedName": "Story", "subtask": False, "hierarchyLevel": 0},
            {"id": "10002", "name": "Aufgabe", "untranslatedName": "Task", "subtask": False, "hierarchyLevel": 0},
            {"id": "10004", "name": "Fehler", "untranslatedName": "Bug", "subtask": False, "hierarchyLevel": 0},
            {"id": "10003", "name": "Unteraufgabe", "untranslatedName": "Subtask", "subtask": True,
             "hierarchyLevel": -1},
            {"id": "10010", "name": "Deliverable", "untranslatedName": "Deliverable", "subtask": False,
             "hierarchyLevel": 0},
            {"id": "10011", "name": "Release", "untranslatedName": "Release", "subtask": False, "hierarchyLevel": 0}]


def dc_issue_types() -> list[dict]:
    """/rest/api/2/issuetype on Data Center: no levels, no untranslated names."""
    return [{"id": "10000", "name": "Epic", "subtask": False}, {"id": "10001", "name": "Story", "subtask": False},
            {"id": "5", "name": "Sub-task", "subtask": True}, {"id": "10300", "name": "Test Case", "subtask": False}]


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def cloud_issue(key: str, type_name: str = "Story", *, parent: str | None = None, summary: str | None = None,
                description: Any = None, outcome: Any = None, labels=(), status: str = "In Progress",
                category: str = "indeterminate", created: datetime | None = None,
                updated: datetime | None = None, issue_id: int | None = None, parent_type: str = "Epic",
                **extra) -> dict:
    created = created or datetime(2025, 1, 1, tzinfo=timezone.utc)
    number = int(key.rsplit("-", 1)[1])
    fields = {
        "summary": summary or f"{type_name} {key}",
        "issuetype": {"id": "1", "name": type_name, "subtask": type_name == "Sub-task",
                      "hierarchyLevel": _LEVELS.get(type_name, 0)},
        "status": {"name": status, "statusCategory": {"key": category, "name": status}},
        "project": {"key": key.rsplit("-", 1)[0], "name": key.rsplit("-", 1)[0]},
        "labels": list(labels), "components": [], "priority": {"name": "Medium"},
        "assignee": {"accountId": f"acc-{number % 3}", "displayName": f"Person {number % 3}"},
        "reporter": {"accountId": "acc-r", "displayName": "Reporter"},
        "created": _stamp(created), "updated": _stamp(updated or created), "resolutiondate": None,
        "description": description,
        OUTCOME: outcome,
    }
    if parent:
        fields["parent"] = {"id": "9" + parent.rsplit("-", 1)[1], "key": parent,
                            "fields": {"summary": f"parent {parent}",
                                       "issuetype": {"name": parent_type,
                                                     "hierarchyLevel": _LEVELS.get(parent_type, 1)},
                                       "status": {"name": "To Do", "statusCategory": {"key": "new"}}}}
    fields.update(extra)
    return {"id": str(issue_id or 10000 + number), "key": key, "self": f"{URL}/rest/api/3/issue/{10000 + number}",
            "fields": fields}


def dc_issue(key: str, type_name: str = "Story", *, epic: str | None = None, parent_link: str | None = None,
             parent: str | None = None, description: str | None = None, outcome: str | None = None,
             labels=(), created: datetime | None = None, updated: datetime | None = None,
             status: str = "In Progress", category: str = "indeterminate", **extra) -> dict:
    created = created or datetime(2025, 1, 1, tzinfo=timezone.utc)
    number = int(key.rsplit("-", 1)[1])
    fields = {
        "summary": f"{type_name} {key}",
        "issuetype": {"id": "1", "name": type_name, "subtask": type_name == "Sub-task"},
        "status": {"name": status, "statusCategory": {"key": category, "name": status}},
        "project": {"key": key.rsplit("-", 1)[0]},
        "labels": list(labels), "components": [], "priority": {"name": "Major"},
        "assignee": {"name": f"user{number % 3}", "key": f"JIRAUSER{number % 3}", "displayName": "Someone"},
        "reporter": {"name": "reporter", "displayName": "Reporter"},
        "created": _stamp(created), "updated": _stamp(updated or created), "resolutiondate": None,
        "description": description, OUTCOME: outcome, EPIC_LINK: epic, PARENT_LINK: None,
    }
    if parent_link:
        fields[PARENT_LINK] = {"data": {"key": parent_link}}
    if parent:
        fields["parent"] = {"key": parent, "fields": {"issuetype": {"name": "Story", "subtask": False}}}
    fields.update(extra)
    return {"id": str(10000 + number), "key": key, "self": f"{DC_URL}/rest/api/2/issue/{10000 + number}",
            "fields": fields}


# -- JQL subset ---------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|>=|<=|=|>|<|\(|\)|,)|(?P<word>[^\s=!<>(),"]+))')


class JQLError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise JQLError(f"Error in the JQL Query: unexpected character at position {position}.")
        position = match.end()
        if match.group("str"):
            out.append(("value", json.loads(match.group("str"))))
        elif match.group("op"):
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


@dataclass
class Query:
    where: Any
    order: list[tuple[str, bool]] = field(default_factory=list)


def parse_jql(text: str) -> Query:
    tokens = _tokens(text)
    position = 0

    def peek(offset=0):
        return tokens[position + offset] if position + offset < len(tokens) else (None, None)

    def take():
        nonlocal position
        if position >= len(tokens):
            raise JQLError("Error in the JQL Query: the query ended too early.")
        position += 1
        return tokens[position - 1]

    def word_is(token, *words):
        return token[0] == "word" and token[1].lower() in words

    def expr():
        node = term()
        while word_is(peek(), "or"):
            take()
            node = ("or", node, term())
        return node

    def term():
        node = factor()
        while word_is(peek(), "and"):
            take()
            node = ("and", node, factor())
        return node

    def factor():
        token = peek()
        if token == ("op", "("):
            take()
            node = expr()
            if take() != ("op", ")"):
                raise JQLError("Error in the JQL Query: expecting ')'.")
            return node
        if word_is(token, "not"):
            take()
            return ("not", factor())
        return clause()

    def value():
        token = take()
        if token[0] in ("word", "value"):
            return token[1]
        raise JQLError(f"Error in the JQL Query: expecting a value but got '{token[1]}'.")

    def clause():
        kind, name = take()
        if kind not in ("word", "value"):
            raise JQLError(f"Error in the JQL Query: expecting a field name but got '{name}'.")
        token = take()
        if word_is(token, "not") and word_is(peek(), "in"):
            take()
            operator = "not in"
        elif word_is(token, "in"):
            operator = "in"
        elif word_is(token, "is"):
            negate = word_is(peek(), "not")
            if negate:
                take()
            if not word_is(take(), "empty", "null"):
                raise JQLError("Error in the JQL Query: Expecting 'EMPTY' after 'IS'.")
            return ("clause", name, "is not empty" if negate else "is empty", [])
        elif token[0] == "op" and token[1] in ("=", "!=", ">=", "<=", ">", "<"):
            operator = token[1]
        else:
            raise JQLError(f"Error in the JQL Query: expecting an operator after '{name}'.")
        if operator in ("in", "not in"):
            if take() != ("op", "("):
                raise JQLError("Error in the JQL Query: expecting '('.")
            values = [value()]
            while peek() == ("op", ","):
                take()
                values.append(value())
            if take() != ("op", ")"):
                raise JQLError("Error in the JQL Query: expecting ')'.")
            return ("clause", name, operator, values)
        return ("clause", name, operator, [value()])

    where = None
    if tokens and not word_is(peek(), "order"):
        where = expr()
    order = []
    if word_is(peek(), "order"):
        take()
        if not word_is(take(), "by"):
            raise JQLError("Error in the JQL Query: expecting 'by'.")
        while position < len(tokens):
            _, name = take()
            ascending = True
            if word_is(peek(), "asc", "desc"):
                ascending = take()[1].lower() == "asc"
            order.append((name.lower(), ascending))
            if peek() == ("op", ","):
                take()
    if position != len(tokens):
        raise JQLError(f"Error in the JQL Query: unexpected '{tokens[position][1]}'.")
    return Query(where, order)


def _key_sort(key: str) -> tuple:
    project, number = key.rsplit("-", 1)
    return project, int(number)


_RELATIVE = re.compile(r"^([-+]?)((?:\d+[wdhm]\s*)+)$")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}


def relative_jql_date(text: str, now: datetime) -> datetime | None:
    """Like Jira: ``"-125m"``, ``"-1d 2h"`` count back from the server's clock (any user time zone)."""
    match = _RELATIVE.match(text.strip())
    if match is None:
        return None
    seconds = sum(int(amount) * _UNITS[unit] for amount, unit in re.findall(r"(\d+)([wdhm])", match.group(2)))
    return now + timedelta(seconds=-seconds if match.group(1) == "-" else seconds)


def _parse_jql_date(text: str, zone: str | None, now: datetime | None = None) -> datetime:
    """Like Jira: a JQL date is in the searching user's time zone; a relative one counts from now."""
    from zoneinfo import ZoneInfo

    relative = relative_jql_date(text, now or datetime.now(timezone.utc))
    if relative is not None:
        return relative
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=ZoneInfo(zone or "UTC"))
        except ValueError:
            continue
    raise JQLError(f"Date value '{text}' for field 'updated' is invalid.")


# -- the server ---------------------------------------------------------------------------------

@dataclass
class Fault:
    status: int | None = None          # an HTTP status to answer with
    headers: dict = field(default_factory=dict)
    exception: Exception | None = None  # or an exception (a reset)


class FakeJira:
    """Register with ``fake.install(rsps)``; inspect ``fake.calls`` afterwards."""

    def __init__(self, issues: list[dict], *, cloud: bool = True, page_cap: int | None = None,
                 window: int = 10_000, fields: list[dict] | None = None, time_zone: str | None = "UTC",
                 url: str | None = None, email: str = "ada@example.com", token: str = "s3cr3t-token"):
        self.cloud = cloud
        self.url = url or (URL if cloud else DC_URL)
        self.issues = {issue["key"]: issue for issue in issues}
        self.page_cap = page_cap or (100 if cloud else 1000)
        self.window = window
        self.fields = fields if fields is not None else (cloud_fields() if cloud else dc_fields())
        self.time_zone = time_zone
        self.now: datetime | None = None  # the server's clock for relative JQL dates (None: the real one)
        self.faults: dict[tuple[str, int], Fault] = {}
        self.counts: dict[str, int] = {}
        self.calls: list[dict] = []
        self.tokens: dict[str, int] = {}
        self.valid_auth = True
        self.permissions = {"BROWSE_PROJECTS": True, "ADD_COMMENTS": True}
        self.supports_order_by = True
        self.supports_bulkfetch = True
        self.bulkfetch_max = 1000  # 100: a site that keeps bulkfetch's older limit
        self.issue_types = cloud_issue_types() if cloud else dc_issue_types()

    # -- setup --------------------------------------------------------------------------------
    def fail(self, path: str, call_number: int, *, status: int | None = None, retry_after: str | None = None,
             exception: Exception | None = None) -> None:
        """Make the n-th call (1-based) to ``path`` fail once."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults[(path, call_number)] = Fault(status, headers, exception)

    def install(self, rsps: responses.RequestsMock) -> "FakeJira":
        pattern = re.compile(re.escape(self.url) + r"/rest/.*")
        for method in ("GET", "POST"):
            rsps.add_callback(method, pattern, callback=self._handle)
        return self

    def searches(self) -> list[dict]:
        return [c for c in self.calls if c["path"] in ("/rest/api/3/search/jql", "/rest/api/2/search")]

    def calls_to(self, path: str) -> list[dict]:
        return [c for c in self.calls if c["path"] == path]

    # -- dispatch -----------------------------------------------------------------------------
    def _handle(self, request: requests.PreparedRequest):
        parts = urlsplit(request.url)
        path = parts.path
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else {}
        self.counts[path] = self.counts.get(path, 0) + 1
        call = {"method": request.method, "path": path, "params": params, "body": body,
                "headers": dict(request.headers)}
        self.calls.append(call)
        fault = self.faults.pop((path, self.counts[path]), None)
        if fault is not None:
            if fault.exception is not None:
                raise fault.exception
            return fault.status, fault.headers, json.dumps({"errorMessages": ["slow down"]})
        if not self._authorised(request):
            return 401, {}, json.dumps({"errorMessages": ["You are not authenticated."]})
        try:
            status, payload = self._route(request.method, path, params, body)
        except JQLError as error:
            status, payload = 400, {"errorMessages": [str(error)], "errors": {}}
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    def _authorised(self, request) -> bool:
        header = request.headers.get("Authorization", "")
        return self.valid_auth and bool(header)

    def _route(self, method, path, params, body):
        if path == "/rest/api/2/serverInfo":
            return 200, {"baseUrl": self.url, "version": "1001.0.0" if self.cloud else "9.12.2",
                         "deploymentType": "Cloud" if self.cloud else "Server",
                         "serverTitle": "Example Jira"}
        if path == "/rest/api/2/field":
            return 200, self.fields
        if path == "/rest/api/2/issuetype":
            return 200, self.issue_types
        if path == "/rest/api/2/myself":
            me = {"displayName": "Ada Lovelace", "active": True}
            me.update({"accountId": "acc-ada"} if self.cloud else {"name": "ada", "key": "JIRAUSER1"})
            if self.time_zone:
                me["timeZone"] = self.time_zone
            return 200, me
        if path == "/rest/api/2/mypermissions":
            project = params.get("projectKey")
            if project and not any(i["key"].startswith(project + "-") for i in self.issues.values()):
                return 404, {"errorMessages": [f"No project could be found with key '{project}'."]}
            wanted = (params.get("permissions") or "").split(",")
            return 200, {"permissions": {p: {"key": p, "havePermission": self.permissions.get(p, False)}
                                         for p in wanted if p}}
        if path.startswith("/rest/api/2/project/"):
            key = path.rsplit("/", 1)[1]
            if any(i["key"].startswith(key + "-") for i in self.issues.values()):
                return 200, {"key": key, "name": key}
            return 404, {"errorMessages": [f"No project could be found with key '{key}'."], "errors": {}}
        if self.cloud and path == "/rest/api/3/search/jql":
            source = body if method == "POST" else params
            return self._cloud_search(source)
        if self.cloud and path in ("/rest/api/2/search", "/rest/api/3/search"):
            return 410, {"errorMessages": ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."]}
        if self.cloud and path == "/rest/api/3/issue/bulkfetch" and self.supports_bulkfetch:
            return self._bulkfetch(body)
        if self.cloud and path == "/rest/api/3/search/approximate-count":
            return 200, {"count": len(self._matching(body.get("jql", "")))}
        if not self.cloud and path == "/rest/api/2/search":
            return self._dc_search(body if method == "POST" else params)
        return 404, {"errorMessages": ["Not found"]}

    # -- search -------------------------------------------------------------------------------
    def _matching(self, jql: str) -> list[dict]:
        query = parse_jql(jql)
        if query.order and not self.supports_order_by:
            raise JQLError("Error in the JQL Query: ORDER BY is not supported here.")
        if not self.cloud:
            self._check_keys_exist(query.where)
        self._check_projects_exist(query.where)
        found = [i for i in self.issues.values() if query.where is None or self._eval(query.where, i)]
        found.sort(key=lambda i: _key_sort(i["key"]))
        for name, ascending in reversed(query.order):
            found.sort(key=lambda i: self._sort_value(i, name), reverse=not ascending)
        return found

    def _check_keys_exist(self, node) -> None:
        if node is None:
            return
        if node[0] in ("and", "or"):
            self._check_keys_exist(node[1])
            self._check_keys_exist(node[2])
        elif node[0] == "not":
            self._check_keys_exist(node[1])
        elif node[1].lower() in ("key", "issuekey"):
            for value in node[3]:
                if value.upper() not in self.issues:
                    raise JQLError(f"An issue with key '{value}' does not exist for field 'key'.")

    def _check_projects_exist(self, node) -> None:
        if node is None:
            return
        if node[0] in ("and", "or"):
            self._check_projects_exist(node[1])
            self._check_projects_exist(node[2])
        elif node[0] == "not":
            self._check_projects_exist(node[1])
        elif node[1].lower() == "project":
            known = {i["fields"]["project"]["key"].upper() for i in self.issues.values()}
            for value in node[3]:
                if value.upper() not in known:
                    raise JQLError(f"The value '{value}' does not exist for the field 'project'.")

    def _sort_value(self, issue, name):
        if name in ("key", "issuekey"):
            return _key_sort(issue["key"])
        return issue["fields"].get(name) or ""

    def _eval(self, node, issue) -> bool:
        kind = node[0]
        if kind == "and":
            return self._eval(node[1], issue) and self._eval(node[2], issue)
        if kind == "or":
            return self._eval(node[1], issue) or self._eval(node[2], issue)
        if kind == "not":
            return not self._eval(node[1], issue)
        _, name, operator, values = node
        if operator in ("is empty", "is not empty"):
            empty = self._empty(issue, name)
            return empty if operator == "is empty" else not empty
        actual = self._value(issue, name)
        if name.lower() in ("created", "updated"):
            moment = datetime.strptime(actual, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=timezone.utc)
            bound = _parse_jql_date(values[0], self.time_zone, self.now)
            return {">=": moment >= bound, ">": moment > bound, "<=": moment <= bound,
                    "<": moment < bound}.get(operator, False)
        wanted = {str(v).casefold() for v in values}
        present = actual is not None and str(actual).casefold() in wanted
        if operator in ("=", "in"):
            return present
        if operator in ("!=", "not in"):
            return not present
        raise JQLError(f"The operator '{operator}' is not supported by the '{name}' field.")

    def _empty(self, issue, name) -> bool:
        """``is empty``: no value at all (multi-valued fields: no item)."""
        lowered = name.lower()
        system = {"labels": "labels", "component": "components", "fixversion": "fixVersions",
                  "affectedversion": "versions"}
        if lowered in system:
            return not issue["fields"].get(system[lowered])
        return self._value(issue, name) in (None, "", [])

    def _value(self, issue, name):
        fields = issue["fields"]
        lowered = name.lower()
        if lowered == "project":
            return fields["project"]["key"]
        if lowered in ("key", "issuekey"):
            return issue["key"]
        if lowered == "id":
            return issue["id"]
        if lowered in ("type", "issuetype"):
            return fields["issuetype"]["name"]
        if lowered == "labels":
            return (fields.get("labels") or [None])[0]
        if lowered == "parent":
            parent = fields.get("parent")
            return parent["key"] if parent else None
        if lowered in ("created", "updated"):
            return fields[lowered]
        match = re.fullmatch(r"cf\[(\d+)\]", lowered)
        field_id = f"customfield_{match.group(1)}" if match else next(
            (f["id"] for f in self.fields if f["name"].lower() == lowered), None)
        if field_id is None:
            raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.")
        value = fields.get(field_id)
        if isinstance(value, dict):
            return (value.get("data") or value).get("key")
        return value

    def _project(self, issue: dict, wanted: str | None) -> dict:
        if not wanted:
            return issue
        if "*all" in wanted or "*navigable" in wanted:
            raise AssertionError("the source must never ask for *all")
        keep = {f.strip() for f in wanted.split(",") if f.strip()}
        projected = dict(issue)
        projected["fields"] = {k: v for k, v in issue["fields"].items() if k in keep}
        return projected

    def _cloud_search(self, source):
        found = self._matching(source.get("jql", ""))
        fields = source.get("fields")
        if isinstance(fields, list):
            fields = ",".join(fields)
        ids_only = fields in ("id", "key", "id,key", "key,id")
        cap = 5000 if ids_only else self.page_cap
        size = min(int(source.get("maxResults") or 50), cap)
        token = source.get("nextPageToken")
        start = 0
        if token:
            if token not in self.tokens:
                return 400, {"errorMessages": ["The provided next page token is invalid or expired."]}
            start = self.tokens[token]
        page = found[start:start + size]
        payload: dict[str, Any] = {"issues": [self._project(i, fields) for i in page]}
        if start + size < len(found):
            next_token = base64.b64encode(f"{source.get('jql')}|{start + size}".encode()).decode()
            self.tokens[next_token] = start + size
            payload["nextPageToken"] = next_token
            payload["isLast"] = False
        else:
            payload["isLast"] = True
        return 200, payload

    def _bulkfetch(self, body):
        keys = body.get("issueIdsOrKeys") or []
        if len(keys) > bulkfetch_limit(body.get("fields"), body.get("expand"), self.bulkfetch_max):
            return 400, {"errorMessages": ["Too many issues requested for these fields."]}
        fields = ",".join(body.get("fields") or [])
        issues, errors = [], []
        by_id = {i["id"]: i for i in self.issues.values()}
        for key in keys:
            issue = self.issues.get(str(key).upper()) or by_id.get(str(key))
            if issue is None:
                errors.append({"issueIdsOrKeys": [key], "status": 404,
                               "errorMessages": ["Issue does not exist or you do not have permission to see it."]})
            else:
                issues.append(self._project(issue, fields))
        return 200, {"expand": "", "issues": issues, "issueErrors": errors}

    def _dc_search(self, params):
        if isinstance(params.get("fields"), list):  # POST: the fields are a JSON list
            params = {**params, "fields": ",".join(params["fields"])}
        found = self._matching(params.get("jql", ""))
        start = int(params.get("startAt") or 0)
        size = min(int(params.get("maxResults") if params.get("maxResults") is not None else 50), self.page_cap)
        if size and start + size > self.window:
            return 400, {"errorMessages": [f"Result window is too large, from + size must be less than or "
                                           f"equal to: [{self.window}]"]}
        page = found[start:start + size]
        return 200, {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
                     "issues": [self._project(i, params.get("fields")) for i in page]}


# Fields with many values per issue: bulkfetch serves at most 100 issues a request when one is named.
MULTI_VALUED = {"comment", "worklog", "attachment", "issuelinks", "subtasks", "labels", "components",
                "fixVersions", "versions"}


def bulkfetch_limit(fields, expand, most: int = 1000) -> int:
    """Jira Cloud's bulkfetch: up to 1,000 issues when the request names at most 100 fields, none of
    them multi-valued, no wildcard and no heavy expand; 100 otherwise."""
    names = [f for f in (fields or []) if isinstance(f, str)]
    heavy = {"changelog", "editmeta", "operations", "renderedFields", "transitions", "versionedRepresentations"}
    expands = expand if isinstance(expand, list) else str(expand or "").split(",")
    efficient = (names and len(names) <= 100 and not any(f.startswith(("*", "-")) or f in MULTI_VALUED for f in names)
                 and not heavy & {e.strip() for e in expands})
    return most if efficient else 100


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# -- helpers for tests --------------------------------------------------------------------------

CLOUD_ENV = {"JIRA_URL": URL, "JIRA_EMAIL": "ada@example.com", "JIRA_API_TOKEN": "s3cr3t-token"}
DC_ENV = {"JIRA_URL": DC_URL, "JIRA_PAT": "s3cr3t-pat"}


def make_config(jira: dict | None = None, env: dict | None = None, extra: str = ""):
    """A validated Config from a govbot.yaml written in the (temporary) working directory.

    Requests go one at a time (``jira.concurrency: 1``) unless ``jira`` says otherwise,
    so tests that count calls or fail the n-th one see a fixed order; the parallel
    reads have their own tests (test_jira_parallel.py).
    """
    import yaml

    from bot.config import load_config

    jira = dict(jira or {"projects": ["PAY"]})
    jira.setdefault("concurrency", 1)
    text = yaml.safe_dump({"jira": jira}, sort_keys=False) + extra
    with open("govbot.yaml", "w", encoding="utf-8") as handle:
        handle.write(text)
    return load_config("govbot.yaml", env=dict(env if env is not None else CLOUD_ENV))


class Sleeps(list):
    """A stand-in for time.sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(config, *, sleeps: Sleeps | None = None, now: datetime | None = None, clock=None):
    import random

    from bot.sources.jira import JiraSource

    moment = now or datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    return JiraSource(config, sleep=sleeps if sleeps is not None else Sleeps(), rng=random.Random(7),
                      now=lambda: moment, clock=clock or (lambda: moment.timestamp()))


def mock() -> responses.RequestsMock:
    """A RequestsMock for a FakeJira: not every route has to be used by every test."""
    return responses.RequestsMock(assert_all_requests_are_fired=False)

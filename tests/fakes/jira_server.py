"""A loopback Jira (Cloud or Data Center): a real HTTP server on 127.0.0.1.

For acceptance-style tests, fault injection and benchmarks. It is written
independently of ``tests/sources/fakejira.py`` (which mocks at the ``requests``
layer): its own JQL subset, its own paging, real sockets, real resets, real
slowness. It serves a workspace from search-response pages, such as those
``benchmarks/generate.py`` writes.

What it speaks, like the real servers:

Cloud
    ``GET /rest/api/2/serverInfo`` (``deploymentType: Cloud``), ``/rest/api/2/field``,
    ``/rest/api/2/myself``; ``GET|POST /rest/api/{2,3}/search/jql`` with
    ``nextPageToken`` (v2 renders rich text as plain text, v3 as ADF); only the
    requested ``fields`` are returned (default ``id`` only); ``maxResults`` is
    capped at 5,000 for ids/keys only and at 100 once any field is asked for;
    ``POST /rest/api/3/issue/bulkfetch`` (100 keys at most, 1,000 when at most 100 fields
    are named, none of them multi-valued, no wildcard or heavy expand); the removed
    ``/rest/api/{2,3}/search`` answer 410 Gone.
Data Center
    ``deploymentType: Server``; ``GET|POST /rest/api/2/search`` with
    ``startAt``/``maxResults`` (capped at 1,000, the cap echoed back), ``total``,
    and the 10,000-result window.

JQL: ``AND``, ``OR``, ``NOT``, parentheses; ``=``, ``!=``, ``in``, ``not in``,
``>=``, ``>``, ``<=``, ``<``, ``is [not] empty`` on project, key, id, type,
status, labels, component, fixVersion, affectedVersion, parent, created, updated, resolved and custom fields (by
``cf[N]``, id or name); ``ORDER BY`` created, updated, key. Dates are read in
the user's time zone (``time_zone``, UTC by default); relative dates (``"-125m"``,
``"-1d 2h"``) count back from the server's clock, which ``set_clock_skew`` can move.

Latency (``latency=`` seconds, ``--latency``): every API answer waits this long
first, like a real site's 300 ms to 1 s per page; requests in flight at once
are counted (``max_in_flight``), so tests can see that reads overlap.

Faults (``Faults``): 429 with ``Retry-After`` every N requests, bursts of 503,
connections reset mid-body, slow answers, refused ("expired") page tokens, or a
script of faults by request number. Every answer is counted: requests, by path
and status, bytes sent.

In a test::

    with JiraEmulator(pages, flavour="cloud", faults=Faults(rate_limit_every=5)) as jira:
        ... JIRA_URL=jira.url ...
        assert jira.stats()["by_status"]["429"] > 0

As a separate process (benchmarks, so the server does not share the client's
interpreter)::

    python tests/fakes/jira_server.py --snapshot cloud-20k.json --flavour cloud

prints one JSON line ``{"url": ...}`` and serves until ``POST /__emulator/stop``,
until its standard input closes, or ``--lifetime`` seconds pass. The admin
paths under ``/__emulator/`` (``stats``, ``reset``, ``touch``, ``faults``,
``stop``) are never counted.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

CLOUD = "cloud"
DATACENTER = "datacenter"
CLOUD_ID_CAP = 5000
CLOUD_FIELDS_CAP = 100
DC_CAP = 1000
DC_WINDOW = 10_000
BULK_MAX = 100
BULK_EFFICIENT_MAX = 1000  # bulkfetch naming only a few single-valued fields
# Credentials a client of the emulator sends (it accepts any; these keep the tests alike).
CLIENT_ENV = {"JIRA_EMAIL": "bot@example.com", "JIRA_API_TOKEN": "t0ken"}
MULTI_VALUED = {"comment", "worklog", "attachment", "issuelinks", "subtasks", "labels", "components",
                "fixVersions", "versions"}
HEAVY_EXPANDS = {"changelog", "editmeta", "operations", "renderedFields", "transitions", "versionedRepresentations"}
DEFAULT_PAGE = 50
MAX_LIFETIME = 900.0  # seconds: a forgotten server stops by itself
MAX_SLOW = 30.0       # no injected delay is longer than this
ADMIN = "/__emulator/"

GONE = {"errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                          "A full migration guideline is available at "
                          "https://developer.atlassian.com/changelog/#CHANGE-2046"], "errors": {}}
EXPIRED = {"errorMessages": ["The provided next page token is invalid or expired."], "errors": {}}
ID_FIELDS = {"id", "key"}


# -- faults ---------------------------------------------------------------------------------------

@dataclass
class Faults:
    """What goes wrong, and how often. Request numbers count API requests from 1."""

    rate_limit_every: int = 0       # every Nth request: 429 with Retry-After
    retry_after: str = "1"
    unavailable_every: int = 0      # every Nth request starts a burst of 503s
    unavailable_burst: int = 1
    reset_every: int = 0            # every Nth request: the answer is cut off mid-body (TCP reset)
    slow_every: int = 0             # every Nth request: answered after slow_seconds
    slow_seconds: float = 0.0
    expire_token_every: int = 0     # every Nth page token presented is refused as expired
    # request number -> "429" | "503" | "500" | "reset" | "slow" | "expire" | "echo" (a 400 whose
    # error message repeats the request's Authorization header, as a debugging proxy does)
    script: dict[int, str] = field(default_factory=dict)
    # After this many requests to ``paths``, every further one answers outage_status (an outage).
    outage_after: int | None = None
    outage_status: str = "503"
    # Paths the periodic faults and the outage apply to (prefixes); empty: every API path.
    paths: tuple[str, ...] = ()
    max_faults: int = 1_000_000     # stop injecting after this many

    @classmethod
    def from_json(cls, data: dict) -> "Faults":
        data = dict(data or {})
        if "script" in data:
            data["script"] = {int(k): v for k, v in data["script"].items()}
        if "paths" in data:
            data["paths"] = tuple(data["paths"])
        return cls(**data)


# -- JQL ------------------------------------------------------------------------------------------

class JQLError(Exception):
    """Answered as 400 with Jira's errorMessages shape."""


_JQL_TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|=|>|<|~|\(|\)|,)"""
                        r"""|(?P<word>[^\s=!<>~(),"']+))""")
_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}


def _jql_tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _JQL_TOKEN.match(text, position)
        if match is None:
            raise JQLError(f"Error in the JQL Query: The character '{text[position]}' is a reserved JQL "
                           f"character. (line 1, character {position + 1})")
        position = match.end()
        if match.group("string") is not None:
            raw = match.group("string")
            tokens.append(("value", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            word = match.group("word")
            tokens.append(("keyword" if word.lower() in _KEYWORDS else "word", word))
    return tokens


@dataclass
class Query:
    where: Any                      # a tree of ("and"|"or", a, b), ("not", a), ("clause", field, op, values)
    order: list[tuple[str, bool]]   # (field, ascending)


def parse_jql(text: str) -> Query:
    tokens = _jql_tokens(text)
    index = 0

    def peek() -> tuple[str, str]:
        return tokens[index] if index < len(tokens) else ("end", "")

    def take() -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens):
            raise JQLError("Error in the JQL Query: Expecting either a value, list or function but got "
                           "the end of the query.")
        index += 1
        return tokens[index - 1]

    def keyword(token, *words) -> bool:
        return token[0] == "keyword" and token[1].lower() in words

    def expression():
        node = conjunction()
        while keyword(peek(), "or"):
            take()
            node = ("or", node, conjunction())
        return node

    def conjunction():
        node = unary()
        while keyword(peek(), "and"):
            take()
            node = ("and", node, unary())
        return node

    def unary():
        if keyword(peek(), "not"):
            take()
            return ("not", unary())
        if peek() == ("op", "("):
            take()
            node = expression()
            if take() != ("op", ")"):
                raise JQLError("Error in the JQL Query: Expecting ')'.")
            return node
        return clause()

    def value() -> str:
        kind, text_ = take()
        if kind in ("word", "value") or (kind == "keyword" and text_.lower() in ("empty", "null")):
            return text_
        raise JQLError(f"Error in the JQL Query: Expecting either a value, list or function but got '{text_}'.")

    def clause():
        kind, name = take()
        if kind not in ("word", "value"):
            raise JQLError(f"Error in the JQL Query: Expecting a field name but got '{name}'.")
        token = take()
        if keyword(token, "is"):
            negate = keyword(peek(), "not")
            if negate:
                take()
            if not keyword(take(), "empty", "null"):
                raise JQLError("Error in the JQL Query: Expecting 'EMPTY' after 'IS'.")
            return ("clause", name, "is not empty" if negate else "is empty", [])
        if keyword(token, "not"):
            if not keyword(take(), "in"):
                raise JQLError("Error in the JQL Query: Expecting 'IN' after 'NOT'.")
            operator = "not in"
        elif keyword(token, "in"):
            operator = "in"
        elif token[0] == "op" and token[1] in ("=", "!=", ">=", ">", "<=", "<", "~", "!~"):
            operator = token[1]
        else:
            raise JQLError(f"Error in the JQL Query: Expecting operator but got '{token[1]}'.")
        if operator in ("in", "not in"):
            if take() != ("op", "("):
                raise JQLError("Error in the JQL Query: Expecting '(' after IN.")
            values = [value()]
            while peek() == ("op", ","):
                take()
                values.append(value())
            if take() != ("op", ")"):
                raise JQLError("Error in the JQL Query: Expecting ')' to close the list.")
            return ("clause", name, operator, values)
        return ("clause", name, operator, [value()])

    where = None
    if index < len(tokens) and not keyword(peek(), "order"):
        where = expression()
    order: list[tuple[str, bool]] = []
    if keyword(peek(), "order"):
        take()
        if not keyword(take(), "by"):
            raise JQLError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
        while True:
            _, name = take()
            ascending = True
            if keyword(peek(), "asc", "desc"):
                ascending = take()[1].lower() == "asc"
            order.append((name.lower(), ascending))
            if peek() != ("op", ","):
                break
            take()
    if index != len(tokens):
        raise JQLError(f"Error in the JQL Query: Unexpected '{tokens[index][1]}'.")
    return Query(where, order)


def _named_keys(node) -> set[str] | None:
    """The only keys a where-clause can match (``key in (...)`` ANDed in), or None for any."""
    kind = node[0]
    if kind == "and":
        left, right = _named_keys(node[1]), _named_keys(node[2])
        return left if right is None else right if left is None else left & right
    if kind == "or":
        left, right = _named_keys(node[1]), _named_keys(node[2])
        return None if left is None or right is None else left | right
    if kind == "clause" and node[1].casefold() in ("key", "issuekey") and node[2] in ("=", "in"):
        return {str(value).upper() for value in node[3]}
    return None


def parse_jira_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_RELATIVE_DATE = re.compile(r"^([-+]?)((?:\d+[wdhm]\s*)+)$")
_DATE_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}


def _jql_date(text: str, zone, now: datetime | None = None) -> datetime:
    """A JQL date: absolute ones in the user's time zone, relative ones ("-125m") from the server's clock."""
    relative = _RELATIVE_DATE.match(text.strip())
    if relative is not None:
        seconds = sum(int(amount) * _DATE_UNITS[unit]
                      for amount, unit in re.findall(r"(\d+)([wdhm])", relative.group(2)))
        return (now or datetime.now(timezone.utc)) + timedelta(seconds=-seconds if relative.group(1) == "-"
                                                               else seconds)
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    raise JQLError(f"Date value '{text}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
                   f"'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'.")


# -- rich text for REST v2 on Cloud --------------------------------------------------------------

def adf_to_text(value: Any) -> Any:
    """What Cloud's v2 API shows for an ADF value: its text, a line per block."""
    if not (isinstance(value, dict) and value.get("type") == "doc"):
        return value
    lines: list[str] = []
    current: list[str] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if node == "\n":
            lines.append("".join(current))
            current = []
            continue
        if not isinstance(node, dict):
            continue
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            current.append(node["text"])
        elif isinstance((node.get("attrs") or {}).get("text"), str):
            current.append(node["attrs"]["text"])
        if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
            stack.append("\n")
        content = node.get("content")
        if isinstance(content, list):
            stack.extend(reversed(content))
    if current:
        lines.append("".join(current))
    return "\n".join(line for line in lines if line)


# -- the workspace served ------------------------------------------------------------------------

class RawJSON(str):
    """A field value given as JSON text, served as is (for values ``json.dumps`` cannot
    write, like ADF nested 100,000 levels deep)."""


class Store:
    """Issues, field names, cached JSON fragments and cached query results."""

    def __init__(self, pages: Iterable[dict], flavour: str, time_zone: timezone = timezone.utc,
                 strict_keys: bool = True):
        self.flavour = flavour
        self.zone = time_zone
        self.clock_skew = 0.0  # seconds the server's clock is ahead of this machine's
        self.strict_keys = strict_keys
        # A site that refuses a ``key in (...)`` list longer than this (0: any length). None is
        # documented; this is how a site that had one would answer.
        self.max_key_list = 0
        self.names: dict[str, str] = {}
        self.schema: dict[str, dict] = {}
        self.issues: list[dict] = []
        for page in pages:
            self.names.update(page.get("names") or {})
            self.schema.update(page.get("schema") or {})
            self.issues.extend(issue for issue in page.get("issues") or [] if isinstance(issue, dict))
        self.by_key = {issue["key"].upper(): issue for issue in self.issues}
        self.by_id = {str(issue.get("id")): issue for issue in self.issues}
        self.projects = {str(issue["fields"].get("project", {}).get("key", "")).upper() for issue in self.issues}
        self.lock = threading.RLock()
        self.generation = 0
        self._fragments: dict[tuple[str, int], dict[str, bytes]] = {}
        self._results: dict[tuple[str, int], list[dict]] = {}
        self._by_name = {name.casefold(): field_id for field_id, name in self.names.items()}
        for field_id in {f for issue in self.issues[:1000] for f in issue["fields"]}:
            self.names.setdefault(field_id, field_id)

    def now(self) -> datetime:
        """The server's clock (relative JQL dates count back from it)."""
        return datetime.fromtimestamp(time.time() + self.clock_skew, timezone.utc)

    # -- the field catalog ----------------------------------------------------------------------
    def field_catalog(self) -> list[dict]:
        catalog = []
        for field_id, name in sorted(self.names.items()):
            custom = field_id.startswith("customfield_")
            schema = dict(self.schema.get(field_id) or {})
            if not schema:
                schema = {"type": "any", "system": field_id} if not custom else {"type": "any"}
            clauses = [name] if not custom else [f"cf[{field_id.split('_', 1)[1]}]", name]
            catalog.append({"id": field_id, "key": field_id, "name": name, "custom": custom, "orderable": True,
                            "navigable": True, "searchable": True, "clauseNames": clauses, "schema": schema})
        return catalog

    # -- issue JSON -----------------------------------------------------------------------------
    def fragments(self, issue: dict, api: int) -> dict[str, bytes]:
        """Each field's JSON, encoded once (v2 on Cloud: rich text as plain text)."""
        cache_key = (issue["key"], api)
        found = self._fragments.get(cache_key)
        if found is None:
            plain = api == 2 and self.flavour == CLOUD
            found = {field_id: value.encode() if isinstance(value, RawJSON) else
                     json.dumps(adf_to_text(value) if plain else value, ensure_ascii=False,
                                separators=(",", ":")).encode()
                     for field_id, value in issue["fields"].items()}
            self._fragments[cache_key] = found
        return found

    def issue_json(self, issue: dict, wanted: Callable[[str], bool] | None, api: int) -> bytes:
        head = {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": str(issue.get("id", "")), "self": issue.get("self", ""), "key": issue["key"]}
        body = json.dumps(head, separators=(",", ":")).encode()[:-1]
        if wanted is None:
            return body + b"}"
        parts = [b'"' + field_id.encode() + b'":' + value
                 for field_id, value in self.fragments(issue, api).items() if wanted(field_id)]
        return body + b',"fields":{' + b",".join(parts) + b"}}"

    def warm(self) -> None:
        """Encode every field of every issue now, so no client pays for a cold cache
        (benchmarks compare clients that read one after the other)."""
        for issue in self.issues:
            for api in ((2, 3) if self.flavour == CLOUD else (2,)):
                self.fragments(issue, api)

    # -- mutation -------------------------------------------------------------------------------
    def touch(self, keys: Iterable[str], when: datetime) -> list[str]:
        """Edit these issues now: a new summary and ``updated``."""
        stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        done = []
        with self.lock:
            for key in keys:
                issue = self.by_key.get(str(key).upper())
                if issue is None:
                    continue
                issue["fields"]["updated"] = stamp
                summary = issue["fields"].get("summary") or ""
                issue["fields"]["summary"] = summary if summary.endswith(" (edited)") else summary + " (edited)"
                for api in (2, 3):
                    self._fragments.pop((issue["key"], api), None)
                    self.fragments(issue, api)  # re-encoded now, not on some client's clock
                done.append(issue["key"])
            self.generation += 1
            self._results.clear()
        return done

    # -- searching ------------------------------------------------------------------------------
    def search(self, jql: str) -> list[dict]:
        with self.lock:
            cache_key = (jql, self.generation)
            found = self._results.get(cache_key)
            if found is None:
                query = parse_jql(jql)
                self._validate(query.where)
                holds = self._compile(query.where) if query.where is not None else (lambda issue: True)
                # Keys named by the query are looked up (a real Jira's index does), not every issue scanned.
                named = _named_keys(query.where) if query.where is not None else None
                candidates = self.issues if named is None else \
                    [issue for key in named if (issue := self.by_key.get(key)) is not None]
                found = [issue for issue in candidates if holds(issue)]
                found.sort(key=lambda issue: _key_order(issue["key"]))
                for name, ascending in reversed(query.order):
                    found.sort(key=lambda issue, name=name: self._order_value(issue, name), reverse=not ascending)
                if len(self._results) > 64:
                    self._results.clear()
                self._results[cache_key] = found
            return found

    def _validate(self, node) -> None:
        if node is None:
            return
        if node[0] in ("and", "or"):
            self._validate(node[1])
            self._validate(node[2])
            return
        if node[0] == "not":
            self._validate(node[1])
            return
        _, name, operator, values = node
        folded = name.casefold()
        if folded == "project" and operator in ("=", "in"):
            for value in values:
                if value.upper() not in self.projects:
                    raise JQLError(f"The value '{value}' does not exist for the field 'project'.")
        if folded in ("key", "issuekey") and operator == "in" and 0 < self.max_key_list < len(values):
            raise JQLError(f"The list of values for the field 'key' is too long: {len(values)} values, "
                           f"at most {self.max_key_list}.")
        if folded in ("key", "issuekey") and operator in ("=", "in") and self.strict_keys:
            for value in values:
                if value.upper() not in self.by_key:
                    raise JQLError(f"An issue with key '{value}' does not exist for field 'key'.")
        self._field_value_getter(name)  # unknown fields are an error

    def _compile(self, node) -> Callable[[dict], bool]:
        """The where-clause as one predicate, its field getters resolved once per query."""
        kind = node[0]
        if kind in ("and", "or"):
            left, right = self._compile(node[1]), self._compile(node[2])
            return (lambda i: left(i) and right(i)) if kind == "and" else (lambda i: left(i) or right(i))
        if kind == "not":
            inner = self._compile(node[1])
            return lambda i: not inner(i)
        _, name, operator, values = node
        getter = self._field_value_getter(name)
        if operator == "is empty":
            return lambda i: getter(i) in (None, "", [])
        if operator == "is not empty":
            return lambda i: getter(i) not in (None, "", [])
        if name.casefold() in _DATE_FIELDS:
            bound = _jql_date(values[0], self.zone, self.now())
            compare = {">=": lambda a: a >= bound, ">": lambda a: a > bound, "<=": lambda a: a <= bound,
                       "<": lambda a: a < bound, "=": lambda a: a == bound, "!=": lambda a: a != bound}.get(operator)
            if compare is None:
                raise JQLError(f"The operator '{operator}' is not supported by the '{name}' field.")
            return lambda i: (lambda moment: moment is not None and compare(moment))(getter(i))
        if operator in ("~", "!~"):
            needle = values[0].casefold()
            if operator == "~":
                return lambda i: needle in str(getter(i) or "").casefold()
            return lambda i: needle not in str(getter(i) or "").casefold()
        wanted = {value.casefold() for value in values}

        def present(issue: dict) -> bool:
            actual = getter(issue)
            items = actual if isinstance(actual, list) else [actual]
            return any(item is not None and str(item).casefold() in wanted for item in items)

        if operator in ("=", "in"):
            return present
        if operator in ("!=", "not in"):
            return lambda i: not present(i)
        raise JQLError(f"The operator '{operator}' is not supported by the '{name}' field.")

    def _moment(self, issue: dict, field_id: str) -> datetime | None:
        """A date field, parsed once per issue (as a real Jira's index would have it)."""
        cache = issue.setdefault("_emulator_dates", {})
        raw = issue["fields"].get(field_id)
        cached = cache.get(field_id)
        if cached is None or cached[0] != raw:
            cached = cache[field_id] = (raw, parse_jira_time(raw))
        return cached[1]

    def _field_value_getter(self, name: str) -> Callable[[dict], Any]:
        folded = name.casefold()
        simple = {
            "project": lambda i: (i["fields"].get("project") or {}).get("key"),
            "key": lambda i: i["key"], "issuekey": lambda i: i["key"], "id": lambda i: str(i.get("id")),
            "type": lambda i: (i["fields"].get("issuetype") or {}).get("name"),
            "issuetype": lambda i: (i["fields"].get("issuetype") or {}).get("name"),
            "status": lambda i: (i["fields"].get("status") or {}).get("name"),
            "statuscategory": lambda i: ((i["fields"].get("status") or {}).get("statusCategory") or {}).get("name"),
            "labels": lambda i: i["fields"].get("labels") or [],
            "component": lambda i: _names(i["fields"].get("components")),
            "fixversion": lambda i: _names(i["fields"].get("fixVersions")),
            "affectedversion": lambda i: _names(i["fields"].get("versions")),
            "parent": lambda i: (i["fields"].get("parent") or {}).get("key"),
            "summary": lambda i: i["fields"].get("summary"),
            "text": lambda i: i["fields"].get("summary"),
            "created": lambda i: self._moment(i, "created"),
            "updated": lambda i: self._moment(i, "updated"),
            "resolved": lambda i: self._moment(i, "resolutiondate"),
            "resolutiondate": lambda i: self._moment(i, "resolutiondate"),
        }
        if folded in simple:
            return simple[folded]
        match = re.fullmatch(r"cf\[(\d+)\]", folded)
        field_id = f"customfield_{match.group(1)}" if match else (
            name if name in self.names else self._by_name.get(folded))
        if field_id is None or field_id not in self.names:
            raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.")
        return lambda issue: _plain_value(issue["fields"].get(field_id))

    def _order_value(self, issue: dict, name: str):
        if name in ("key", "issuekey"):
            return _key_order(issue["key"])
        if name in _DATE_FIELDS:
            field_id = "resolutiondate" if name == "resolved" else name
            moment = self._moment(issue, field_id)
            return moment.timestamp() if moment else float("-inf")
        raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.")


_DATE_FIELDS = {"created", "updated", "resolved", "resolutiondate"}


def _names(values: Any) -> list:
    """Components and versions by name (``component``, ``fixVersion`` and ``affectedVersion`` in JQL)."""
    return [v.get("name") for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        data = value.get("data") if isinstance(value.get("data"), dict) else value
        for key in ("key", "value", "name", "accountId"):
            if isinstance(data.get(key), str):
                return data[key]
        return None
    if isinstance(value, list):
        return [_plain_value(item) for item in value]
    return value


def _key_order(key: str) -> tuple:
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


def field_filter(requested: Any, default: str) -> tuple[Callable[[str], bool] | None, bool]:
    """(which fields to include, ids-only?) from a ``fields`` parameter (string or list)."""
    if requested is None or requested == "" or requested == []:
        requested = default
    names = [part.strip() for part in (requested.split(",") if isinstance(requested, str) else requested)
             if isinstance(part, str) and part.strip()]
    everything = any(name in ("*all", "*navigable") for name in names)
    excluded = {name[1:] for name in names if name.startswith("-")}
    included = {name for name in names if not name.startswith(("-", "*"))}
    ids_only = not everything and included <= ID_FIELDS
    if ids_only:
        return None, True
    if everything:
        return (lambda field_id: field_id not in excluded), False
    return (lambda field_id: field_id in included and field_id not in excluded), False


# -- HTTP -----------------------------------------------------------------------------------------

class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_path: Counter = Counter()
        self.by_status: Counter = Counter()
        self.faults: Counter = Counter()
        self.bytes_sent = 0
        self.body_bytes = 0
        self.issues_sent = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def to_json(self) -> dict:
        return {"requests": self.requests, "max_in_flight": self.max_in_flight, "by_path": dict(self.by_path),
                "by_status": {str(k): v for k, v in self.by_status.items()}, "faults": dict(self.faults),
                "bytes_sent": self.bytes_sent, "body_bytes": self.body_bytes, "issues_sent": self.issues_sent}


class _Answer(Exception):
    def __init__(self, status: int, payload: Any, headers: dict | None = None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


class JiraEmulator:
    """The server. ``start()``/``stop()`` or use it as a context manager."""

    def __init__(self, pages: Iterable[dict], *, flavour: str = CLOUD, faults: Faults | None = None,
                 time_zone: str = "UTC", window: int = DC_WINDOW, token_ttl: float = 600.0,
                 lifetime: float = MAX_LIFETIME, strict_keys: bool = True, require_auth: bool = True,
                 port: int = 0, record_keys: bool = False, latency: float = 0.0):
        if flavour not in (CLOUD, DATACENTER):
            raise ValueError(f"flavour must be cloud or datacenter, not {flavour!r}")
        self.flavour = flavour
        self.store = Store(pages, flavour, strict_keys=strict_keys)
        self.faults = faults or Faults()
        self._answer_keys = threading.local()
        self.set_time_zone(time_zone)
        self.window = window
        self.token_ttl = token_ttl
        self.lifetime = min(float(lifetime), MAX_LIFETIME)
        self.require_auth = require_auth
        self.latency = min(max(0.0, float(latency)), MAX_SLOW)
        self.stats_ = Stats()
        # Keys of the issues in answers delivered whole (not cut off by a reset), when asked.
        self.record_keys = record_keys
        self.keys_delivered: set[str] = set()
        self.tokens: dict[str, tuple[str, int, int, float]] = {}  # token -> (jql, offset, generation, issued)
        self._tokens_seen = 0
        self._burst_left = 0
        self._faults_made = 0
        self._path_hits = 0
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.stopped = threading.Event()

    def set_time_zone(self, name: str) -> None:
        """The API user's time zone (``/myself``), in which absolute JQL dates are read, like Jira."""
        from zoneinfo import ZoneInfo

        self.time_zone = name
        self.store.zone = ZoneInfo(name)
        self.store._results.clear()  # answers to date queries depend on it

    def set_clock_skew(self, seconds: float) -> None:
        """Put the server's clock ``seconds`` ahead of (or, negative, behind) this machine's."""
        self.store.clock_skew = float(seconds)
        self.store._results.clear()

    @classmethod
    def from_snapshot(cls, path: str, **options) -> "JiraEmulator":
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return cls(data if isinstance(data, list) else [data], **options)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "JiraEmulator":
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jira-emulator", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "JiraEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- for tests and benchmarks ---------------------------------------------------------------
    def stats(self) -> dict:
        with self.stats_.lock:
            return self.stats_.to_json()

    def reset_stats(self) -> None:
        with self.stats_.lock:
            self.stats_.reset()

    def touch(self, keys: Iterable[str] | None = None, *, fraction: float = 0.0, seed: int = 0,
              when: datetime | None = None) -> list[str]:
        """Edit ``keys`` (or a random ``fraction`` of all issues) as of ``when`` (now)."""
        if keys is None:
            count = max(1, round(len(self.store.issues) * fraction))
            keys = [issue["key"] for issue in random.Random(seed).sample(self.store.issues, count)]
        return self.store.touch(keys, when or datetime.now(timezone.utc))

    def set_faults(self, faults: Faults) -> None:
        """New faults, counted from the next request."""
        self.faults = faults
        self._faults_made = self._burst_left = self._path_hits = self._tokens_seen = 0

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # -- faults ---------------------------------------------------------------------------------
    def _fault_for(self, number: int, path: str, has_token: bool) -> str | None:
        faults = self.faults
        if number in faults.script:
            return faults.script[number]
        if self._faults_made >= faults.max_faults:
            return None
        if faults.paths and not path.startswith(faults.paths):
            return None
        self._path_hits += 1
        if faults.outage_after is not None and self._path_hits > faults.outage_after:
            return faults.outage_status
        if self._burst_left > 0:
            self._burst_left -= 1
            return "503"
        if faults.unavailable_every and number % faults.unavailable_every == 0:
            self._burst_left = max(0, faults.unavailable_burst - 1)
            return "503"
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            return "429"
        if faults.reset_every and number % faults.reset_every == 0:
            return "reset"
        if faults.slow_every and number % faults.slow_every == 0:
            return "slow"
        if has_token and faults.expire_token_every:
            self._tokens_seen += 1
            if self._tokens_seen % faults.expire_token_every == 0:
                return "expire"
        return None

    # -- routes ---------------------------------------------------------------------------------
    def route(self, method: str, path: str, params: dict, body: Any) -> tuple[int, Any, dict]:
        cloud = self.flavour == CLOUD
        if path == "/rest/api/2/serverInfo":
            return 200, {"baseUrl": self.url, "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
                         "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
                         "deploymentType": "Cloud" if cloud else "Server", "buildNumber": 100265,
                         "serverTitle": "Jira emulator"}, {}
        if path == "/rest/api/2/field":
            return 200, self.store.field_catalog(), {}
        if path == "/rest/api/2/myself":
            me = {"displayName": "Benchmark Bot", "active": True, "timeZone": self.time_zone}
            me.update({"accountId": "557058:emulator"} if cloud else {"name": "bench", "key": "JIRAUSER10000"})
            return 200, me, {}
        if cloud and path in ("/rest/api/3/search/jql", "/rest/api/2/search/jql"):
            source = body if method == "POST" and isinstance(body, dict) else params
            return self._cloud_search(source, api=3 if "/3/" in path else 2)
        if cloud and path in ("/rest/api/2/search", "/rest/api/3/search"):
            return 410, GONE, {}
        if cloud and path == "/rest/api/3/issue/bulkfetch" and method == "POST":
            return self._bulkfetch(body if isinstance(body, dict) else {})
        if cloud and path == "/rest/api/3/search/approximate-count" and method == "POST":
            return 200, {"count": len(self.store.search((body or {}).get("jql", "")))}, {}
        if not cloud and path == "/rest/api/2/search":
            source = body if method == "POST" and isinstance(body, dict) else params
            return self._dc_search(source)
        match = re.fullmatch(r"/rest/api/[23]/issue/([A-Za-z0-9_-]+)", path)
        if match and method == "GET":
            issue = self.store.by_key.get(match.group(1).upper()) or self.store.by_id.get(match.group(1))
            if issue is None:
                return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                             "errors": {}}, {}
            wanted, _ = field_filter(params.get("fields"), "*all")
            return 200, _Raw(self.store.issue_json(issue, wanted, 3 if "/3/" in path else 2)), {}
        return 404, {"errorMessages": ["null for uri: " + path]}, {}

    def _cloud_search(self, source: dict, api: int) -> tuple[int, Any, dict]:
        jql = str(source.get("jql") or "")
        token = source.get("nextPageToken")
        wanted, ids_only = field_filter(source.get("fields"), "id")
        cap = CLOUD_ID_CAP if ids_only else CLOUD_FIELDS_CAP
        try:
            size = int(source.get("maxResults") or DEFAULT_PAGE)
        except (TypeError, ValueError):
            return 400, {"errorMessages": ["maxResults must be a number"], "errors": {}}, {}
        size = max(1, min(size, cap))
        start = 0
        if token:
            entry = self.tokens.get(str(token))
            if entry is None or entry[0] != jql or time.monotonic() - entry[3] > self.token_ttl:
                return 400, EXPIRED, {}
            start = entry[1]
        found = self.store.search(jql)
        page = found[start:start + size]
        issues = [self.store.issue_json(issue, wanted, api) for issue in page]
        self._count_issues(page)
        tail: dict[str, Any] = {}
        if start + size < len(found):
            next_token = secrets.token_urlsafe(24)
            self.tokens[next_token] = (jql, start + size, self.store.generation, time.monotonic())
            tail["nextPageToken"] = next_token
            tail["isLast"] = False
        else:
            tail["isLast"] = True
        return 200, _Raw(b'{"issues":[' + b",".join(issues) + b"]," + json.dumps(tail).encode()[1:]), {}

    def _bulkfetch(self, body: dict) -> tuple[int, Any, dict]:
        keys = body.get("issueIdsOrKeys") or []
        served: list[dict] = []
        most = BULK_EFFICIENT_MAX if _efficient_bulkfetch(body) else BULK_MAX
        if not isinstance(keys, list) or len(keys) > most:
            return 400, {"errorMessages": [f"Up to {most} issues can be fetched at once with these fields."],
                         "errors": {}}, {}
        wanted, _ = field_filter(body.get("fields"), "*navigable")
        issues, errors = [], []
        for key in keys:
            issue = self.store.by_key.get(str(key).upper()) or self.store.by_id.get(str(key))
            if issue is None:
                errors.append({"issueIdsOrKeys": [key], "status": 404,
                               "errorMessages": ["Issue does not exist or you do not have permission to see it."]})
            else:
                issues.append(self.store.issue_json(issue, wanted, 3))
                served.append(issue)
        self._count_issues(served)
        return 200, _Raw(b'{"expand":"schema,names","issues":[' + b",".join(issues) + b'],"issueErrors":'
                         + json.dumps(errors).encode() + b"}"), {}

    def _dc_search(self, source: dict) -> tuple[int, Any, dict]:
        jql = str(source.get("jql") or "")
        try:
            start = max(0, int(source.get("startAt") or 0))
            asked = source.get("maxResults")
            size = DEFAULT_PAGE if asked in (None, "") else max(0, int(asked))
        except (TypeError, ValueError):
            return 400, {"errorMessages": ["startAt and maxResults must be numbers"], "errors": {}}, {}
        size = min(size, DC_CAP)
        wanted, _ = field_filter(source.get("fields"), "*navigable")
        found = self.store.search(jql)
        if start >= self.window and size:
            return 400, {"errorMessages": [f"Result window is too large: startAt + maxResults must not exceed "
                                           f"{self.window:,}. Narrow the query."], "errors": {}}, {}
        end = min(start + size, self.window)
        issues = [self.store.issue_json(issue, wanted, 2) for issue in found[start:end]]
        self._count_issues(found[start:end])
        head = json.dumps({"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found)})
        return 200, _Raw(head[:-1].encode() + b',"issues":[' + b",".join(issues) + b"]}"), {}

    def _count_issues(self, issues: list[dict]) -> None:
        with self.stats_.lock:
            self.stats_.issues_sent += len(issues)
        self._answer_keys.keys = [issue["key"] for issue in issues] if self.record_keys else []

    # -- admin (never counted) --------------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        action = path[len(ADMIN):]
        body = body if isinstance(body, dict) else {}
        if action == "stats":
            return 200, self.stats()
        if action == "reset" and method == "POST":
            self.reset_stats()
            return 200, {"ok": True}
        if action == "touch" and method == "POST":
            when = parse_jira_time(body.get("when")) if body.get("when") else None
            touched = self.touch(body.get("keys"), fraction=float(body.get("fraction") or 0),
                                 seed=int(body.get("seed") or 0), when=when)
            return 200, {"touched": touched}
        if action == "faults" and method == "POST":
            self.set_faults(Faults.from_json(body))
            return 200, {"faults": asdict(self.faults)}
        if action == "stop" and method == "POST":
            threading.Thread(target=self.stop, daemon=True).start()
            return 200, {"ok": True}
        return 404, {"error": f"no admin action {action!r}"}


def _efficient_bulkfetch(body: dict) -> bool:
    """Cloud serves up to 1,000 issues a bulkfetch when the request names at most 100 fields, none of
    them multi-valued, no wildcard or exclusion, and no heavy expand."""
    fields = body.get("fields")
    names = [f for f in fields if isinstance(f, str)] if isinstance(fields, list) else []
    expand = body.get("expand")
    expands = {e.strip() for e in (expand if isinstance(expand, list) else str(expand or "").split(","))}
    return (bool(names) and len(names) <= 100 and not expands & HEAVY_EXPANDS
            and not any(f.startswith(("*", "-")) or f in MULTI_VALUED for f in names))


class _Raw(bytes):
    """A body already encoded as JSON."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: JiraEmulator
    server_version = "JiraEmulator/1.0"

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        emulator = self.emulator
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            path = parts.path
            params = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            if path.startswith(ADMIN):
                status, payload = emulator.admin(method, path, body)
                self._send(status, payload, {}, count=False)
                return
            with emulator.stats_.lock:
                emulator.stats_.requests += 1
                number = emulator.stats_.requests
                emulator.stats_.by_path[path] += 1
                emulator.stats_.in_flight += 1
                emulator.stats_.max_in_flight = max(emulator.stats_.max_in_flight, emulator.stats_.in_flight)
            try:
                if emulator.latency:
                    time.sleep(emulator.latency)
                self._answer(emulator, method, path, params, body, number)
            finally:
                with emulator.stats_.lock:
                    emulator.stats_.in_flight -= 1
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True

    def _answer(self, emulator: JiraEmulator, method: str, path: str, params: dict, body: Any, number: int) -> None:
        has_token = bool(params.get("nextPageToken") or (isinstance(body, dict) and body.get("nextPageToken")))
        fault = emulator._fault_for(number, path, has_token)
        if fault is not None:
            emulator._faults_made += 1
            with emulator.stats_.lock:
                emulator.stats_.faults[fault] += 1
        if fault == "slow":
            time.sleep(min(emulator.faults.slow_seconds, MAX_SLOW))
        elif fault == "429":
            self._send(429, {"errorMessages": ["Rate limit exceeded."]},
                       {"Retry-After": emulator.faults.retry_after, "X-RateLimit-Reason": "jira-burst-based"})
            return
        elif fault in ("503", "500"):
            self._send(int(fault), {"errorMessages": ["Service unavailable."]},
                       {"Retry-After": emulator.faults.retry_after} if fault == "503" else {})
            return
        elif fault == "echo":
            self._send(400, {"errorMessages": [f"Bad request; headers were Authorization: "
                                               f"{self.headers.get('Authorization')}"], "errors": {}}, {})
            return
        elif fault == "expire" and has_token:
            self._send(400, EXPIRED, {})
            return
        if emulator.require_auth and not self.headers.get("Authorization"):
            self._send(401, {"errorMessages": ["You are not authenticated. Authentication required to perform "
                                               "this operation."]}, {})
            return
        emulator._answer_keys.keys = []
        try:
            status, payload, headers = emulator.route(method, path, params, body)
        except JQLError as error:
            status, payload, headers = 400, {"errorMessages": [str(error)], "errors": {}}, {}
        self._send(status, payload, headers, reset=fault == "reset")
        if fault != "reset" and status == 200 and emulator.record_keys:
            with emulator.stats_.lock:
                emulator.keys_delivered.update(emulator._answer_keys.keys)

    def _send(self, status: int, payload: Any, headers: dict, *, count: bool = True, reset: bool = False) -> None:
        body = bytes(payload) if isinstance(payload, _Raw) else json.dumps(payload, ensure_ascii=False).encode()
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                "Content-Type: application/json;charset=UTF-8", f"Content-Length: {len(body)}",
                "Server: JiraEmulator/1.0"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if count:
            with self.emulator.stats_.lock:
                self.emulator.stats_.by_status[status] += 1
        if reset:
            # Half the body, then a TCP reset: what a proxy restart looks like to a client.
            sent = head_bytes + body[:max(1, len(body) // 2)]
            self.wfile.write(sent)
            self.wfile.flush()
            if count:
                with self.emulator.stats_.lock:
                    self.emulator.stats_.bytes_sent += len(sent)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.wfile.write(head_bytes + body)
        self.wfile.flush()
        if count:
            with self.emulator.stats_.lock:
                self.emulator.stats_.bytes_sent += len(head_bytes) + len(body)
                self.emulator.stats_.body_bytes += len(body)


# -- as a process ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests/fakes/jira_server.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", required=True, help="a list of search-response pages (benchmarks/generate.py)")
    parser.add_argument("--flavour", choices=(CLOUD, DATACENTER), default=CLOUD)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=MAX_LIFETIME, help="stop after this many seconds")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every API answer waits first")
    parser.add_argument("--faults", default="{}", help="Faults as JSON, e.g. '{\"rate_limit_every\": 50}'")
    args = parser.parse_args(argv)
    emulator = JiraEmulator.from_snapshot(args.snapshot, flavour=args.flavour, port=args.port,
                                          lifetime=args.lifetime, faults=Faults.from_json(json.loads(args.faults)),
                                          latency=args.latency)
    emulator.store.warm()
    emulator.start()
    print(json.dumps({"url": emulator.url, "issues": len(emulator.store.issues)}), flush=True)

    def watch_stdin() -> None:  # the parent went away: stop
        try:
            sys.stdin.read()
        finally:
            emulator.stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    emulator.stopped.wait(args.lifetime + 5)
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

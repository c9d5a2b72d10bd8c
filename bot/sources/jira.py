"""Live Jira (Cloud and Data Center) -> ``Workspace``.

The source pages through search results itself, because the ``jira``
package's helpers do not fit 2026 Jira: Cloud removed ``/rest/api/*/search``
(use ``/rest/api/3/search/jql`` with ``nextPageToken``), and
``enhanced_search_issues`` returns None on Data Center. The package still
provides the authenticated ``requests`` session; ``Transport`` adds
timeouts, ``Retry-After`` and backoff.

What is read:
- the scope (``jira.projects`` and/or ``jira.jql``, or ``--jql``), all of it or
  only what changed since the last complete read (a cursor per scope);
- only the fields the rules need plus the hierarchy fields, never ``*all``;
- relatives across the scope boundary in bulk: missing parents and their
  ancestors, and, for on-demand checks and incremental scans, children; a rescan
  through a store takes those in scope from its issue cache (``issue_cache``),
  on Cloud in two round trips (``_read_changes_cloud``).

How the scope is read, a few requests at once (``jira.concurrency``, see
``pool.Pipeline``): on Data Center, the first page says how many issues match,
then the other pages of the 10,000-result window are fetched in parallel. On
Cloud, page tokens only come one at a time, so after a first page with the
fields (a small scope ends there) the rest are listed by id, 5,000 a page,
and their fields fetched with ``bulkfetch``, in parallel: 1,000 a request by
their single-valued fields, the multi-valued ones (labels, components) read
100 a request for only the issues that have any, and put back before the
normalizer sees the issue (100 a request with every field on a site that
refuses that; see ``_search_cloud_efficiently``). Either
way every issue is read once and a failed request is retried, then reported.

A fault that outlives the retries marks the workspace incomplete (what was
read stays usable) or, when nothing could be read, raises ``NetworkError``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from bot import __version__
from bot.config import Config
from bot.errors import ConfigError, JiraError, NetworkError, SourceError
from bot.model import Issue, bulk
from bot.sources.children import parents_needing_children, unsure_on_data_center
from bot.sources.cursors import CursorStore, cursor_key
from bot.sources.fields import FieldCatalog, FieldPlan, plan_fields
from bot.sources.http import JiraHTTPError, RetryPolicy, Transport, display_url
from bot.sources.issue_cache import CacheWrite, IssueCache, RawKeeper, cache_tag, keeps_cache
from bot.sources.jql import jql_and, jql_value, key_list, scope_jql
from bot.dates import parse_datetime, parse_duration
from bot.sources.normalize import Normalizer
from bot.sources.owners import LateOwners, deferrable
from bot.sources.pool import Pipeline
from bot.sources.snapshot import snapshot_fields
from bot.workspace import Workspace

# Data Center cannot page past this many results of one query.
DC_RESULT_WINDOW = 10_000
# Ask for the server's maximum; it answers with what it allows.
CLOUD_PAGE_REQUEST = 5000
CLOUD_ID_PAGE = 5000  # the Cloud search's cap when only ids are asked for
DC_PAGE_REQUEST = 1000
# Cloud bulkfetch takes up to 100 ids; DC ``key in (...)`` chunks stay the same
# size so a GET URL stays short.
BULK_CHUNK = 100
# Cloud bulkfetch serves 1,000 issues a request when it names only single-valued fields (at most 100
# of them); anything multi-valued keeps it at 100 (``_search_cloud_efficiently``).
EFFICIENT_BULK_CHUNK = 1000
EFFICIENT_MAX_FIELDS = 100
# The fields Jira counts as returning many values; custom fields of schema type "array" are too.
MULTI_VALUED = frozenset({"comment", "worklog", "attachment", "issuelinks", "subtasks", "labels", "components",
                          "fixVersions", "versions"})
# The JQL clause that finds issues with any value in a multi-valued system field (the others have none).
MULTI_VALUED_CLAUSES = {"labels": "labels", "components": "component", "fixVersions": "fixVersion",
                        "versions": "affectedVersion"}
CONFIRM_CHUNK = 250  # keys per keys-only search checking cached relatives (the URL stays a few KB)
CLOUD_CONFIRM_CHUNK = 1000  # the same, POSTed on Cloud (the JQL is in the body): a rescan's relatives in one request
OWNERS_CHUNK = 1000  # bulkfetch by single-valued (owner) fields only: 1,000 issues a request
MAX_ANCESTOR_DEPTH = 6
MAX_PAGES = 100_000
MAX_TOKEN_RESTARTS = 2  # a Cloud search whose page token expires starts over at most this often
CURSOR_VERSION = 1
SITE_VERSION = 1  # what a full read remembers about the site (``JiraSource._remember_site``)

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
_QUOTED_KEY = re.compile(r"'([A-Za-z][A-Za-z0-9_]*-\d+)'")

Progress = Callable[[str], None]
log = logging.getLogger("govbot.jira")


# -- connection ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Connection:
    """Where Jira is and how to sign in. ``token`` never appears in repr or messages."""

    url: str
    deployment: str = "auto"  # auto | cloud | datacenter
    auth: str = "basic"       # basic (email + API token) | bearer (personal access token)
    email: str | None = None
    token: str = field(default="", repr=False)
    timeout: float = 30
    max_retries: int = 5

    @property
    def credentials_label(self) -> str:
        return "JIRA_EMAIL + JIRA_API_TOKEN" if self.auth == "basic" else "JIRA_PAT (bearer token)"

    @classmethod
    def from_config(cls, config: Config) -> "Connection":
        section = config.settings.jira
        url = (config.env.get("JIRA_URL") or section.url or "").strip()
        if not url:
            raise ConfigError("no Jira URL configured",
                              hint="set JIRA_URL in the environment or jira.url in govbot.yaml")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"the Jira URL {display_url(url)!r} must start with https:// (or http://)",
                              hint="for example https://example.atlassian.net")
        if "@" in url.split("//", 1)[1].split("/", 1)[0]:
            raise ConfigError("the Jira URL must not carry a user name or password",
                              hint="use JIRA_EMAIL + JIRA_API_TOKEN or JIRA_PAT instead")
        deployment = section.deployment
        email = config.secret("JIRA_EMAIL")
        api_token = config.secret("JIRA_API_TOKEN")
        pat = config.secret("JIRA_PAT")
        from_file = _read_token_file(config, section.token_file)
        basic_ready = bool(email and (api_token or from_file))
        cloudish = deployment == "cloud" or (deployment == "auto" and _looks_like_cloud(url))
        if pat and (not basic_ready or not cloudish):
            auth, token = "bearer", pat
        elif basic_ready:
            auth, token = "basic", api_token or from_file
        elif email:
            raise ConfigError("JIRA_EMAIL is set but JIRA_API_TOKEN is not",
                              hint="create an API token at id.atlassian.com and set JIRA_API_TOKEN "
                                   "(or JIRA_API_TOKEN_FILE, or jira.token_file)")
        elif api_token or from_file:
            # A token without an email: a Data Center personal access token.
            auth, token = "bearer", api_token or from_file
        else:
            raise ConfigError("no Jira credentials found",
                              hint="set JIRA_EMAIL and JIRA_API_TOKEN (Jira Cloud) or JIRA_PAT "
                                   "(Data Center), or name a file with jira.token_file")
        return cls(url=url.rstrip("/"), deployment=deployment, auth=auth, email=email, token=token or "",
                   timeout=float(section.timeout_seconds), max_retries=int(section.max_retries))


def _read_token_file(config: Config, value: str | None) -> str | None:
    path = config.resolve_path(value)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise ConfigError(f"cannot read jira.token_file ({path}): {error.strerror}") from None


def _looks_like_cloud(url: str) -> bool:
    host = (re.sub(r"^https?://", "", url).split("/", 1)[0].split(":", 1)[0]).casefold()
    return host.endswith((".atlassian.net", ".jira.com", ".jira-dev.com"))


def make_session(connection: Connection) -> requests.Session:
    """An authenticated session from the ``jira`` package, with its own retries switched off."""
    from jira import JIRA

    auth = {"basic_auth": (connection.email, connection.token)} if connection.auth == "basic" \
        else {"token_auth": connection.token}
    client = JIRA(server=connection.url, get_server_info=False, max_retries=0, timeout=connection.timeout,
                  logging=False, options={"headers": {"User-Agent": f"govbot/{__version__}"}}, **auth)
    return client._session  # noqa: SLF001 - the package exposes its session only this way


# -- the source ---------------------------------------------------------------------------------

@dataclass
class SearchResult:
    total: int | None = None  # what Jira said the query matched (Data Center only)
    read: int = 0
    complete: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChangedSince:
    """A rescan's ``updated >=`` clause, and when it was written (``JiraSource._changed_since``)."""

    clause: str
    built: datetime
    margin: timedelta

    @property
    def before(self) -> str:
        """The issues not edited since the bound (what the cache may still hold as current)."""
        return self.clause.replace(">=", "<", 1)

    def late(self, now: datetime) -> bool:
        """Whether a request sent now could be evaluated past the bound's margin."""
        return now - self.built > self.margin


class JiraSource:
    """One Jira site: field discovery, paged search, bulk fetches, incremental reads."""

    def __init__(self, config: Config, connection: Connection | None = None, *,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, rng=None,
                 now: Callable[[], datetime] | None = None):
        self.config = config
        self.connection = connection or Connection.from_config(config)
        self.transport = Transport(
            session if session is not None else make_session(self.connection), self.connection.url,
            timeout=self.connection.timeout, policy=RetryPolicy(max_retries=self.connection.max_retries),
            sleep=sleep, clock=clock, rng=rng)
        self.page_size: int | None = config.settings.jira.page_size
        self.concurrency = int(config.settings.jira.concurrency)
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._deployment = None if self.connection.deployment == "auto" else self.connection.deployment
        self._server_info: dict | None = None
        self._catalog: FieldCatalog | None = None
        self._catalog_json: list | None = None  # the field list as the site sent it (remembered for rescans)
        self._timezone: tzinfo | None = None
        self._dc_page = self.page_size or DC_PAGE_REQUEST
        self._cloud_method = "GET"
        self._bulkfetch_available = True
        self._bulk_efficient = True  # 1,000 ids a bulkfetch of single-valued fields, until the site refuses
        self._efficient_lock = threading.Lock()
        self._dc_order = " ORDER BY created ASC"
        self.warned = False

    @classmethod
    def from_config(cls, config: Config, **kwargs) -> "JiraSource":
        return cls(config, **kwargs)

    @property
    def site(self) -> str:
        return display_url(self.connection.url)

    # -- what kind of Jira ----------------------------------------------------------------------
    def server_info(self) -> dict:
        if self._server_info is None:
            info = self.transport.get("/rest/api/2/serverInfo", what="reading the server info")
            self._server_info = info if isinstance(info, dict) else {}
        return self._server_info

    @property
    def deployment(self) -> str:
        """``cloud`` or ``datacenter``: from config, else ``serverInfo.deploymentType``."""
        if self._deployment is None:
            try:
                kind = str(self.server_info().get("deploymentType") or "").casefold()
            except JiraHTTPError as error:
                if error.status != 404:
                    raise
                kind = ""
            if kind == "cloud":
                self._deployment = "cloud"
            elif kind in ("server", "datacenter", "data center"):
                self._deployment = "datacenter"
            else:
                self._deployment = "cloud" if _looks_like_cloud(self.connection.url) else "datacenter"
        return self._deployment

    @property
    def is_cloud(self) -> bool:
        return self.deployment == "cloud"

    def field_catalog(self) -> FieldCatalog:
        """The site's fields, read once per source (so once per run)."""
        if self._catalog is None:
            data = self.transport.get("/rest/api/2/field", what="reading the field list")
            if not isinstance(data, list):
                raise SourceError(f"Jira at {self.site} answered /rest/api/2/field with something "
                                  f"that is not a field list")
            self._catalog = FieldCatalog.from_json(data)
            self._catalog_json = data
        return self._catalog

    def _set_up(self) -> None:
        """What every read asks first (the kind of site and the field list), side by side: one
        round trip instead of two.

        Errors surface as they would one at a time: the field list's first."""
        calls = []
        if self._catalog is None:
            calls.append(self.field_catalog)
        if self._deployment is None:
            calls.append(lambda: self.deployment)
        if self.concurrency < 2 or len(calls) < 2:
            return  # asked for when first needed, as before
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(calls), thread_name_prefix="govbot-jira") as pool:
            futures = [pool.submit(call) for call in calls]
        for future in futures:
            future.result()

    def field_plan(self, ruleset=None) -> FieldPlan:
        return plan_fields(self.field_catalog(), fields_wanted(ruleset, self.config), self.config)

    def user_timezone(self) -> tzinfo:
        """The API user's time zone: Jira reads dates in JQL in it."""
        if self._timezone is None:
            self._timezone = timezone.utc
            try:
                me = self.transport.get("/rest/api/2/myself", what="reading the user's time zone")
            except JiraHTTPError:
                me = {}
            name = me.get("timeZone") if isinstance(me, dict) else None
            if isinstance(name, str) and name:
                try:
                    self._timezone = ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    pass
        return self._timezone

    def jql_time(self, moment: datetime) -> str:
        """A JQL date literal (minute precision, rounded down) in the user's time zone."""
        local = moment.astimezone(self.user_timezone())
        return local.strftime("%Y-%m-%d %H:%M")

    # -- searching ------------------------------------------------------------------------------
    def search(self, jql: str, fields: list[str], on_page: Callable[[list[dict]], None], *,
               progress: Progress | None = None, what: str = "searching issues",
               parallel: bool = False, post: bool = False) -> SearchResult:
        """Every issue ``jql`` matches, page by page, each key handed to ``on_page`` once.

        ``parallel``: a search expected to span many pages (the scope) reads them
        ``concurrency`` at a time; short searches (100 keys) stay one request.
        ``post``: on Cloud, the query goes in a POST body (a long ``key in (...)``).
        """
        parallel = parallel and self.concurrency > 1
        if self.is_cloud:
            if parallel and self._bulkfetch_available and not set(fields) <= {"id", "key"}:
                return self._search_cloud_by_ids(jql, fields, on_page, progress, what)
            # A long key list (POSTed) is answered in one page when only keys are asked for.
            limit = CLOUD_ID_PAGE if post and set(fields) <= {"id", "key"} else None
            return self._search_cloud(jql, fields, on_page, progress, what, limit=limit, post=post)
        return self._search_datacenter(jql, fields, on_page, progress, what, parallel=parallel)

    def _search_cloud_by_ids(self, jql, fields, on_page, progress, what) -> SearchResult:
        """A first page with the fields; past it, ids 5,000 a page, then ``bulkfetch`` in parallel.

        Keys and ids already handed on are skipped, so nothing is read twice. Ids
        the search listed but ``bulkfetch`` neither returned nor called gone
        make the result incomplete.
        """
        result = SearchResult()
        seen: set[str] = set()
        known_ids: set[str] = set()
        first = self._cloud_search_page({"jql": jql, "fields": ",".join(fields),
                                         "maxResults": self.page_size or CLOUD_PAGE_REQUEST}, what)
        issues = _issues_of(first)
        known_ids.update(str(raw.get("id")) for raw in issues if raw.get("id") is not None)
        _hand_on(issues, seen, on_page, result, progress)
        if not isinstance(first.get("nextPageToken"), str) or first.get("isLast") is True:
            return result
        plan = self._efficient_plan(fields) if self._bulk_efficient else None
        if plan is not None and _mostly_multi_valued(issues, plan[1]):
            plan = None  # nearly every issue would be read twice: the split read would cost more requests
        if plan is not None and self._search_cloud_efficiently(jql, fields, plan, known_ids, seen, on_page,
                                                               progress, what, result):
            return result
        unexplained: list[str] = []

        def handle(answer: tuple[list[dict], list[str]]) -> None:
            issues, missing = answer
            unexplained.extend(missing)
            _hand_on(issues, seen, on_page, result, progress)

        with Pipeline(self.concurrency, handle) as pipeline:
            listing = self._list_ids(jql, known_ids, BULK_CHUNK,
                                     lambda ids: pipeline.submit(self._fetch_ids, ids, fields, what), what)
            pipeline.finish()
        _listing_and_gaps(result, listing, unexplained, what)
        return result

    def _list_ids(self, jql, known_ids: set[str], chunk: int, submit: Callable[[list[str]], None],
                  what) -> SearchResult:
        """The listing of the ids ``jql`` matches (5,000 a page), those not in ``known_ids`` handed to
        ``submit`` ``chunk`` at a time as the pages come (the reads overlap the listing), then the rest."""
        waiting: list[str] = []

        def listed(id_page: list[dict]) -> None:
            for raw in id_page:
                issue_id = str(raw.get("id") or "")
                if issue_id and issue_id not in known_ids:
                    known_ids.add(issue_id)
                    waiting.append(issue_id)
            while len(waiting) >= chunk:
                submit(waiting[:chunk])
                del waiting[:chunk]

        listing = self._search_cloud(jql, ["id"], listed, None, what, limit=CLOUD_ID_PAGE)
        if waiting:
            submit(list(waiting))
        return listing

    def _efficient_plan(self, fields: list[str]) -> tuple[list[str], list[str], list[str]] | None:
        """(single-valued fields, multi-valued fields, JQL clauses finding issues with any multi-valued
        value) for a 1,000-a-request bulkfetch; None when ``fields`` cannot be read that way (a multi-valued
        field no JQL clause can test, or more than 100 single-valued fields)."""
        catalog = self.field_catalog()
        single: list[str] = []
        multi: list[str] = []
        clauses: list[str] = []
        for field_id in fields:
            info = catalog.get(field_id)
            if field_id not in MULTI_VALUED and not (info is not None and info.schema.get("type") == "array"):
                single.append(field_id)
                continue
            multi.append(field_id)
            if field_id in MULTI_VALUED_CLAUSES:
                clauses.append(f"{MULTI_VALUED_CLAUSES[field_id]} is not EMPTY")
            elif re.fullmatch(r"customfield_\d+", field_id):
                clauses.append(f"{_clause_name(field_id)} is not EMPTY")
            else:
                return None  # comments, links, sub-tasks...: no clause says which issues have them
        if not single or len(single) > EFFICIENT_MAX_FIELDS:
            return None
        return single, multi, clauses

    def _search_cloud_efficiently(self, jql, fields, plan, known_ids: set[str], seen: set[str], on_page,
                                  progress, what, result: SearchResult) -> bool:
        """The by-ids read past the first page at 1,000 issues a bulkfetch; False (nothing handed on) when
        the site refuses the clause, and the caller reads as before (100 a request, every field).

        Bulkfetch serves 1,000 issues only when no field named returns many values, so the multi-valued
        fields (labels, components, array custom fields) are read apart, for the few issues that have
        any: an id-only search for them (5,000 a page), their values 100 a request, kept by id (small);
        then the single-valued fields of every listed id, 1,000 a request, each issue's multi-valued
        values put back into its raw fields before it is handed on, so the normalizer sees what the
        100-a-request read gives. An issue without any gets what Jira sends for an empty field. On a
        site that refuses 1,000 issues a request, the refused ids and every id listed after are read
        100 a request with every field, side by side in the same pool, each part in its request's place.
        """
        single, multi, clauses = plan
        with_values: list[str] = []
        if multi:
            def listed_with_values(id_page: list[dict]) -> None:
                with_values.extend(ident for raw in id_page
                                   if (ident := str(raw.get("id") or "")) and ident not in known_ids)

            try:
                listing = self._search_cloud(jql_and(jql, f"({' OR '.join(clauses)})"), ["id"], listed_with_values,
                                             None, what, limit=CLOUD_ID_PAGE)
            except JiraHTTPError as error:
                if error.status != 400:
                    raise
                self._refuse_efficient(what, error)
                return False
            if not listing.complete:
                return False  # not known which issues have values: the 100-a-request read finds out
        values_by_id: dict[str, dict] = {}
        unsure: set[str] = set()  # ids whose multi-valued values could not be read

        def got_values(answer: tuple[list[dict], list[str]]) -> None:
            issues, missing = answer
            for raw in issues:
                values = _dict(raw.get("fields"))
                values_by_id[str(raw.get("id"))] = {field_id: values.get(field_id) for field_id in multi}
            unsure.update(missing)

        with_values = list(dict.fromkeys(with_values))  # a listing that started over lists some twice
        if with_values:
            with Pipeline(self.concurrency, got_values) as pipeline:
                for chunk in _chunks(with_values, BULK_CHUNK):
                    pipeline.submit(self._fetch_ids, chunk, multi, what)
                pipeline.finish()
            unsure.update(ident for ident in with_values if ident not in values_by_id)  # gone meanwhile
        with_values.clear()  # the ids are not needed past here
        unexplained: list[str] = []

        def handle(answer: tuple[list[str], tuple[list[dict], list[str]] | None, bool]) -> None:
            ids, got, whole = answer
            if got is None:  # refused: every field 100 a request, side by side, in this answer's place
                pipeline.submit_next(self._fetch_whole, [(chunk, fields, what) for chunk in _chunks(ids, BULK_CHUNK)])
                return
            issues, missing = got
            unexplained.extend(missing)
            if not whole:
                merged = []
                for raw in issues:
                    ident = str(raw.get("id"))
                    if ident in unsure:
                        unexplained.append(ident)  # its labels (say) are not known: not judged on a guess
                        continue
                    values = raw.get("fields")
                    if not isinstance(values, dict):
                        values = raw["fields"] = {}
                    extra = values_by_id.pop(ident, None)
                    values.update(extra if extra is not None else _empty_values(multi))
                    merged.append(raw)
                issues = merged
            _hand_on(issues, seen, on_page, result, progress)

        def submit(ids: list[str]) -> None:
            if self._bulk_efficient and self._bulkfetch_available:
                pipeline.submit(self._fetch_single, ids, single, what)
            else:  # refused already: no request is spent finding that out again
                for chunk in _chunks(ids, BULK_CHUNK):
                    pipeline.submit(self._fetch_whole, chunk, fields, what)

        # An answer is 1,000 raw issues here: as many wait as requests are in flight, not twice that.
        with Pipeline(self.concurrency, handle, most=self.concurrency) as pipeline:
            listing = self._list_ids(jql, known_ids, EFFICIENT_BULK_CHUNK, submit, what)
            pipeline.finish()
        _listing_and_gaps(result, listing, unexplained, what)
        return True

    def _fetch_single(self, ids: list[str], single: list[str],
                      what: str) -> tuple[list[str], tuple[list[dict], list[str]] | None, bool]:
        """(ids, (issues, ids unexplained), False: the issues lack the multi-valued fields) for up to
        1,000 ids, their single-valued fields in one bulkfetch; (ids, None, False) when the site does
        not serve that, for the caller to read them 100 a request in the pool. Runs on a pool thread."""
        if self._bulk_efficient and self._bulkfetch_available:
            try:
                return ids, self._fetch_ids(ids, single, what, by_search=False), False
            except JiraHTTPError as error:
                if error.status in (404, 405):
                    pass  # no bulkfetch at all: the caller searches by id, 100 at a time, as before
                elif error.status != 400 or len(ids) <= BULK_CHUNK:
                    raise
                else:
                    self._refuse_efficient(what, error)
        return ids, None, False

    def _fetch_whole(self, ids: list[str], fields: list[str],
                     what: str) -> tuple[list[str], tuple[list[dict], list[str]], bool]:
        """(ids, (issues, ids unexplained), True: every field) for up to 100 ids; runs on a pool thread."""
        return ids, self._fetch_ids(ids, fields, what), True

    def _refuse_efficient(self, what: str, error: JiraHTTPError) -> None:
        """This site does not serve 1,000-issue bulkfetches: said once, then read 100 a request."""
        with self._efficient_lock:
            if not self._bulk_efficient:
                return
            self._bulk_efficient = False
        log.warning("%s: Jira refused a bulk read of 1,000 issues by their single-valued fields (%s); "
                    "reading 100 a request with every field instead", what,
                    "; ".join(error.messages) or error.status)

    def _fetch_ids(self, ids: list[str], fields: list[str], what: str, *,
                   by_search: bool = True) -> tuple[list[dict], list[str]]:
        """(issues, ids neither returned nor reported gone) for up to 100 ids (1,000 when ``fields`` are
        single-valued); runs on a pool thread."""
        if self._bulkfetch_available:
            try:
                page = _as_dict(self.transport.post("/rest/api/3/issue/bulkfetch",
                                                    {"issueIdsOrKeys": ids, "fields": fields}, what=what))
            except JiraHTTPError as error:
                if error.status not in (404, 405):
                    raise
                self._bulkfetch_available = False  # an older site: search by id instead
                if not by_search:
                    raise
            else:
                issues = _issues_of(page)
                gone = {str(item) for entry in page.get("issueErrors") or [] if isinstance(entry, dict)
                        for item in entry.get("issueIdsOrKeys") or []}
                returned = {str(raw.get("id")) for raw in issues} | {_key(raw) for raw in issues}
                return issues, [i for i in ids if i not in returned and i not in gone]
        found: list[dict] = []
        self._search_cloud(f"id in ({key_list(ids)})", fields, found.extend, None, what)
        return found, []  # a search by id simply omits issues that are gone

    def _search_cloud(self, jql, fields, on_page, progress, what, *, limit: int | None = None,
                      post: bool = False) -> SearchResult:
        result = SearchResult()
        seen: set[str] = set()
        token: str | None = None
        tokens_used: set[str] = set()
        empty_pages = 0
        restarts = 0
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"jql": jql, "fields": ",".join(fields),
                                      "maxResults": limit or self.page_size or CLOUD_PAGE_REQUEST}
            if token:
                params["nextPageToken"] = token
            try:
                page = self._cloud_search_page(params, what, post=post)
            except JiraHTTPError as error:
                # The first page proved the query good: a 400 now is a page token
                # that expired (a long pause, a retry storm). Start over; the keys
                # already handed on are skipped, so nothing is read twice.
                if error.status != 400 or not token:
                    raise
                if restarts >= MAX_TOKEN_RESTARTS:
                    result.complete = False
                    result.problems.append(f"{what}: Jira kept refusing its own page tokens "
                                           f"({'; '.join(error.messages) or error.message}); stopped after "
                                           f"{result.read:,} issues")
                    break
                restarts += 1
                log.warning("%s: page token refused (%s); reading the results again from the start",
                            what, "; ".join(error.messages) or error.status)
                token = None
                continue
            issues = _issues_of(page)
            _hand_on(issues, seen, on_page, result, progress)
            token = page.get("nextPageToken") if isinstance(page.get("nextPageToken"), str) else None
            if not token or page.get("isLast") is True:
                break
            empty_pages = 0 if issues else empty_pages + 1
            if token in tokens_used or empty_pages >= 3:
                result.complete = False
                result.problems.append(f"{what}: Jira kept answering with no new issues; stopped after "
                                       f"{result.read:,}")
                break
            tokens_used.add(token)
        return result

    def _cloud_search_page(self, params: dict, what: str, *, post: bool = False) -> dict:
        if self._cloud_method == "GET" and not post:
            try:
                return _as_dict(self.transport.get("/rest/api/3/search/jql", params, what=what))
            except JiraHTTPError as error:
                if error.status not in (404, 405, 414):
                    raise
                self._cloud_method = "POST"  # no GET here, or the query is too long for a URL
        body = dict(params)
        body["fields"] = [f for f in str(params["fields"]).split(",") if f]
        return _as_dict(self.transport.post("/rest/api/3/search/jql", body, what=what))

    @property
    def dc_page_cap(self) -> int:
        """Data Center's page size: what the server echoed as its cap, else what is asked for."""
        return self._dc_page

    def post_search_keys(self, keys: list[str], fields: list[str], what: str) -> tuple[list[dict], set[str]]:
        """Data Center: ``key in (...)`` by ``POST /rest/api/2/search`` (a thousand keys do not fit in a
        URL); returns (issues, keys Jira says do not exist). Runs on a pool thread."""
        remaining = list(keys)
        unknown: set[str] = set()
        found: list[dict] = []
        while remaining:
            body = {"jql": f"key in ({key_list(remaining)})", "startAt": len(found),
                    "maxResults": max(1, min(self._dc_page, len(remaining) - len(found))), "fields": list(fields)}
            try:
                page = _as_dict(self.transport.post("/rest/api/2/search", body, what=what))
            except JiraHTTPError as error:
                bad = {key.upper() for message in error.messages for key in _QUOTED_KEY.findall(message)}
                bad &= {key.upper() for key in remaining}
                if error.status != 400 or not bad or found:
                    raise
                unknown |= bad  # deleted since the scope was read
                remaining = [key for key in remaining if key.upper() not in bad]
                continue
            issues = _issues_of(page)
            found.extend(issues)
            total = page.get("total")
            if not issues or not isinstance(total, int) or len(found) >= total:
                break
        return found, unknown

    def _search_datacenter(self, jql, fields, on_page, progress, what, *, parallel: bool = False) -> SearchResult:
        """startAt paging; past 10,000 results, continue in windows of ``created``.

        Ordering by creation keeps offset paging steady while issues change
        (an edit does not move an issue), and lets the next window start at
        the last creation minute read; keys already seen are skipped. With
        ``parallel``, a window's first page says how many issues it holds and
        the rest of its pages are fetched ``concurrency`` at a time; a page that
        comes back short leaves the count below ``total``, which is reported.
        """
        result = SearchResult()
        fields = list(fields) if "created" in fields else [*fields, "created"]
        seen: set[str] = set()
        lower: str | None = None
        for _ in range(MAX_PAGES):
            clause = jql if lower is None else jql_and(jql, f'created >= "{lower}"')
            window = {"start": 0, "total": None, "latest": None}

            def handle(page: dict, size: int) -> list[dict]:
                issues = _issues_of(page)
                total = page.get("total") if isinstance(page.get("total"), int) else None
                window["total"] = total
                if result.total is None:
                    result.total = total
                echoed = page.get("maxResults")
                if isinstance(echoed, int) and 0 < echoed < size:
                    self._dc_page = echoed  # the server's cap; ask for it from now on
                for raw in issues:
                    created = parse_datetime(_dict(raw.get("fields")).get("created"))
                    if created is not None and (window["latest"] is None or created > window["latest"]):
                        window["latest"] = created
                window["start"] += len(issues)
                _hand_on(issues, seen, on_page, result, progress, total=result.total)
                return issues

            while True:
                start = window["start"]
                size = max(1, min(self._dc_page, DC_RESULT_WINDOW - start))
                issues = handle(self._dc_search_page(clause, start, size, fields, what), size)
                start, total = window["start"], window["total"]
                if not issues or (total is not None and start >= total) or start >= DC_RESULT_WINDOW:
                    break
                if parallel and total is not None:
                    # The pages left in this window are known now: fetch them side by side.
                    size = self._dc_page
                    with Pipeline(self.concurrency, lambda answer: handle(*answer)) as pipeline:
                        for offset in range(start, min(total, DC_RESULT_WINDOW), size):
                            length = max(1, min(size, DC_RESULT_WINDOW - offset))
                            pipeline.submit(self._dc_page_of, clause, offset, length, fields, what)
                        pipeline.finish()
                    break
            start, window_total, latest = window["start"], window["total"], window["latest"]
            more = window_total is not None and start >= DC_RESULT_WINDOW and window_total > start
            if not more:
                break
            if latest is None:
                result.complete = False
                result.problems.append(f"{what}: more than {DC_RESULT_WINDOW:,} results and no creation "
                                       f"dates to split them by; narrow jira.jql")
                break
            next_lower = self.jql_time(latest)
            if next_lower == lower:
                result.complete = False
                result.problems.append(
                    f"{what}: more than {DC_RESULT_WINDOW:,} issues were created in the minute of {lower}; "
                    f"Data Center cannot page past that many, so some were not read (narrow jira.jql)")
                break
            lower = next_lower
        if result.complete and result.total is not None and result.read < result.total:
            result.complete = False
            result.problems.append(f"{what}: Jira reported {result.total:,} issues but only "
                                   f"{result.read:,} could be read")
        return result

    def _dc_page_of(self, clause: str, start: int, size: int, fields: list[str], what: str) -> tuple[dict, int]:
        return self._dc_search_page(clause, start, size, fields, what), size

    def _dc_search_page(self, clause: str, start: int, size: int, fields: list[str], what: str) -> dict:
        params = {"jql": clause + self._dc_order, "startAt": start, "maxResults": size, "fields": ",".join(fields)}
        try:
            return _as_dict(self.transport.get("/rest/api/2/search", params, what=what))
        except JiraHTTPError as error:
            unknown_keys = any(_QUOTED_KEY.search(message) for message in error.messages)
            if error.status != 400 or not self._dc_order or unknown_keys:
                raise
        # A server that cannot sort by creation still pages; only splitting past
        # 10,000 results loses its footing, and the completeness check says so.
        params["jql"] = clause
        page = _as_dict(self.transport.get("/rest/api/2/search", params, what=what))
        self._dc_order = ""
        return page

    # -- bulk reads -----------------------------------------------------------------------------
    def fetch_keys(self, keys: Iterable[str], fields: list[str], on_page: Callable[[list[dict]], None],
                   *, what: str = "reading issues") -> set[str]:
        """Issues by key, 100 per request; returns the keys Jira did not return."""
        wanted = list(dict.fromkeys(k.upper() for k in keys if _KEY.match(k)))
        returned: set[str] = set()

        def collect(issues: list[dict]) -> None:
            returned.update(_key(raw) for raw in issues)
            on_page(issues)

        for chunk in _chunks(wanted, BULK_CHUNK):
            if self.is_cloud and self._bulkfetch_available:
                try:
                    self._bulkfetch(chunk, fields, collect, what)
                    continue
                except JiraHTTPError as error:
                    if error.status not in (404, 405):
                        raise
                    self._bulkfetch_available = False  # an older site: search by key instead
            self.search_keys("key in ({keys})", chunk, fields, collect, what=what)
        return {key for key in wanted if key not in returned}

    def _bulkfetch(self, keys: list[str], fields: list[str], on_page, what: str) -> None:
        page = _as_dict(self.transport.post("/rest/api/3/issue/bulkfetch",
                                            {"issueIdsOrKeys": keys, "fields": fields}, what=what))
        issues = _issues_of(page)
        if issues:
            on_page(issues)

    def search_keys(self, template: str, keys: list[str], fields: list[str], on_page, *,
                    within: str | None = None, what: str = "reading issues", post: bool = False) -> SearchResult:
        """A search over ``template`` filled with keys; keys Jira says do not exist are dropped."""
        remaining = list(keys)
        while remaining:
            clause = template.format(keys=key_list(remaining))
            jql = jql_and(within, clause) if within else clause
            try:
                return self.search(jql, fields, on_page, what=what, post=post)
            except JiraHTTPError as error:
                bad = {key.upper() for message in error.messages for key in _QUOTED_KEY.findall(message)}
                bad &= {key.upper() for key in remaining}
                if error.status != 400 or not bad:
                    raise
                remaining = [key for key in remaining if key.upper() not in bad]
        return SearchResult()

    def children_jql(self, parents: list[Issue]) -> str | None:
        """JQL for the children of ``parents``: ``parent`` on Cloud; on Data Center also
        Epic Link (for epics) and Parent Link (above epics)."""
        keys = [p.key for p in parents]
        if not keys:
            return None
        clauses = [f"parent in ({key_list(keys)})"]
        if not self.is_cloud:
            catalog = self.field_catalog()
            hierarchy = self.config.hierarchy
            epic_rank = hierarchy.rank("epic")
            epics = [p.key for p in parents if _rank(p, hierarchy) == epic_rank or p.jira_level == 1]
            above = [p.key for p in parents if epic_rank is not None and (_rank(p, hierarchy) or 0) > epic_rank]
            for field_id in catalog.epic_link_ids[:1]:
                if epics:
                    clauses.append(f"{_clause_name(field_id)} in ({key_list(epics)})")
            for field_id in catalog.parent_link_ids[:1]:
                if above:
                    clauses.append(f"{_clause_name(field_id)} in ({key_list(above)})")
        return " OR ".join(clauses)

    # -- whole reads ----------------------------------------------------------------------------
    def load(self, ruleset=None, *, jql: str | None = None, full: bool = False,
             cursor_store: CursorStore | None = None, progress: Progress | None = None,
             defer_owners: bool = False) -> Workspace:
        """The issues in scope (all, or those changed since the cursor) and their relatives.

        ``defer_owners``: leave out the owner fields only a finding's owner reads; the caller
        reads them for the issues with findings through ``workspace.late_owners``
        (``bot.runs.owners``), and the cursor is written only once they are read.
        """
        with bulk():  # tens of thousands of long-lived Issues: no cycle collection while they are built
            return self._load(ruleset, jql=jql, full=full, cursor_store=cursor_store, progress=progress,
                              defer_owners=defer_owners)

    def _load(self, ruleset, *, jql: str | None, full: bool, cursor_store: CursorStore | None,
              progress: Progress | None, defer_owners: bool = False) -> Workspace:
        started = self._now()
        scope = scope_jql(self.config, jql)
        key = cursor_key(self.connection.url, scope)
        cursor = cursor_store.get_cursor(key) if cursor_store is not None else None
        recalled = self._recall_site(cursor_store, cursor, full, started)
        if not recalled:
            self._set_up()
        plan = self.field_plan(ruleset)
        since = self._incremental_since(cursor, full, plan, started)
        if recalled and since is None:
            # A full read after all (the rules read other fields now...): ask the site afresh.
            # A field created since the last full read is seen from the next one.
            self._forget_site()
            recalled = False
            self._set_up()
            plan = self.field_plan(ruleset)
            since = self._incremental_since(cursor, full, plan, started)
        # Owner fields nothing else reads are read after the rules, for the issues with findings only
        # (bot/sources/owners.py): user objects were over 40% of the bytes of a full read. Not on a
        # rescan: its few hundred changed issues cost fewer bytes than the extra request's round trip.
        owners_later = deferrable(ruleset, self.config) if defer_owners else ()
        deferred = owners_later if since is None else ()
        reader = _Reader(self, plan, progress, ruleset, leave_out=deferred)
        workspace = reader.workspace
        changed_since = None if since is None else self._changed_since(since)
        cache, tag = self._open_cache(reader, cursor_store, cursor, key, plan, since)
        query = scope if changed_since is None else jql_and(scope, changed_since.clause)
        if progress:
            progress(f"reading {'changes since ' + since.isoformat(timespec='minutes') if since else 'all issues'}"
                     f" in scope from {self.site} ({self.deployment})")
        early: _Early | None = None
        try:
            if cache is not None and self.is_cloud and self.concurrency > 1:
                early = self._read_changes_cloud(reader, query, scope, cache, changed_since, owners_later, progress,
                                                 with_children=getattr(ruleset, "needs_children", True))
                result = early.result
            else:
                # Without the cache, a rescan reads a few hundred changes: on Cloud, listing their ids
                # first would cost a request more than paging them (Data Center pays nothing extra).
                result = self.search(query, reader.plan.ids, reader.add_issues, progress=progress,
                                     what="searching the scope", parallel=since is None or not self.is_cloud)
        except JiraHTTPError as error:
            if error.status != 400:
                raise
            detail = "; ".join(error.messages) or error.message
            raise JiraError(f"Jira rejected the scope query ({scope}): {detail}",
                            hint="check --jql" if jql is not None else
                            "check jira.projects and jira.jql in govbot.yaml") from None
        except NetworkError as error:
            if not workspace.issues:
                raise
            reader.incomplete(f"stopped after reading {len(workspace.issues):,} issues: {error.message}")
        else:
            if not result.complete:
                reader.incomplete(*result.problems)
        if ruleset is None or getattr(ruleset, "needs_relatives", True):
            try:
                if since is not None:
                    self._expand_changes(reader, scope, jql is None,
                                         with_children=getattr(ruleset, "needs_children", True),
                                         cache=cache, changed_since=changed_since, early=early)
                elif ruleset is not None and getattr(ruleset, "needs_children", False):
                    # Children outside the scope (another project), for rules that read children.
                    parents = parents_needing_children(workspace, ruleset.active, self.config)
                    self._load_children(reader, parents)
                    if not self.is_cloud:
                        workspace.children_unread |= unsure_on_data_center(parents)
                self._load_ancestors(reader)
            except NetworkError as error:
                reader.incomplete(f"could not read every parent or child: {error.message}")
        workspace = reader.finish()
        workspace.partial = since is not None  # changes only: whole-project facts cannot be judged
        workspace.whole_scope = since is None and jql is None
        # A search Jira evaluated later than the window's margin (retries, long waits) may have
        # started past the old bound: the next rescan starts where this one should have.
        next_since = (cursor or {}).get("since") if changed_since is not None and \
            changed_since.late(self._now()) else started.isoformat()

        def commit() -> None:
            value = {
                "version": CURSOR_VERSION, "site": self.site, "jql": scope,
                "since": next_since, "fields": _fields_hash(plan),
                "full_at": started.isoformat() if since is None else (cursor or {}).get("full_at"),
                "issues": len(workspace.issues),
            }
            if reader.keeper is not None:
                value["cache"] = tag
                cursor_store.save_read(key, value, self._cache_write(reader, full_read=since is None))
            else:
                cursor_store.set_cursor(key, value)
            if not recalled:
                self._remember_site(cursor_store, started)

        ready = commit if workspace.complete and cursor_store is not None else None
        if deferred:
            # The cursor moves only once the owners of the issues with findings are read too.
            workspace.late_owners = LateOwners(self, reader.normalizer, workspace, deferred, commit=ready)
        elif owners_later and reader.from_cache:
            # Relatives from the issue cache were kept by a full read that left the owners out: those
            # this rescan judges (in scope, so promoted) get their owners read as a full read's would.
            late = LateOwners(self, reader.normalizer, workspace, owners_later, commit=ready)
            late.done |= set(workspace.issues) - set(reader.from_cache)  # read with their owners just now
            late.done |= reader.owners_read  # cached, their owners read beside the confirmation
            workspace.late_owners = late
        elif ready is not None:
            ready()
        return workspace

    # -- what a rescan need not ask again ---------------------------------------------------------
    def _site_key(self) -> str:
        return "jira-site:" + hashlib.sha256(display_url(self.connection.url).encode()).hexdigest()[:24]

    def _remember_site(self, cursor_store: CursorStore, started: datetime) -> None:
        """The kind of site and its field list, for the rescans until the next full read (each
        rescan asked for both again). A rescan needs no time zone: its bound is a relative
        date (``_changed_since``)."""
        if self._catalog_json is None:
            return
        cursor_store.set_cursor(self._site_key(), {
            "version": SITE_VERSION, "at": started.isoformat(), "deployment": self.deployment,
            "fields": self._catalog_json})

    def _recall_site(self, cursor_store: CursorStore | None, cursor: dict | None, full: bool,
                     started: datetime) -> bool:
        """Use what the last full read remembered about the site, for a rescan before the next full read."""
        if cursor_store is None or full or not isinstance(cursor, dict):
            return False
        facts = cursor_store.get_cursor(self._site_key())
        if not isinstance(facts, dict) or facts.get("version") != SITE_VERSION \
                or facts.get("deployment") not in ("cloud", "datacenter") or not isinstance(facts.get("fields"), list):
            return False
        at = parse_datetime(facts.get("at"))
        if at is None or not timedelta(0) <= started - at < parse_duration(self.config.settings.jira.full_rescan_every):
            return False
        if self._deployment is None:
            self._deployment = facts["deployment"]
        self._catalog = FieldCatalog.from_json(facts["fields"])
        self._catalog_json = facts["fields"]
        return True

    def _forget_site(self) -> None:
        self._deployment = None if self.connection.deployment == "auto" else self.connection.deployment
        self._catalog = self._catalog_json = None

    def load_keys(self, keys: Iterable[str], ruleset=None, *, progress: Progress | None = None) -> Workspace:
        """Named issues (for ``govbot check``) with their parents, ancestors and children."""
        plan = self.field_plan(ruleset)
        reader = _Reader(self, plan, progress, ruleset)
        missing = self.fetch_keys(keys, plan.ids, reader.add_issues, what="reading the issues to check")
        for key in sorted(missing):
            reader.workspace.problems.append(f"{key}: not found, or not visible to this Jira user")
        if reader.workspace.issues and (ruleset is None or getattr(ruleset, "needs_relatives", True)):
            self._load_children(reader, list(reader.workspace.issues.values()))
            self._load_ancestors(reader)
        workspace = reader.finish()
        workspace.partial = True  # named issues only
        return workspace

    def _incremental_since(self, cursor: dict | None, full: bool, plan: FieldPlan,
                           started: datetime) -> datetime | None:
        """When to read changes from, or None for a full read."""
        if full or not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
            return None
        if cursor.get("fields") != _fields_hash(plan):
            return None  # the rules read other fields now: unchanged issues need them too
        section = self.config.settings.jira
        last_full = parse_datetime(cursor.get("full_at"))
        since = parse_datetime(cursor.get("since"))
        every = parse_duration(section.full_rescan_every)
        if last_full is None or since is None or started - last_full >= every:
            return None
        return since - parse_duration(section.incremental_overlap)

    def _changed_since(self, since: datetime) -> "ChangedSince":
        """The rescan's lower bound as a relative JQL date (``updated >= "-125m"``).

        Jira reads an absolute JQL date in the API user's time zone, which the user may
        change at any time (a rescan writing the old zone could miss hours of edits), and
        asking for it costs a request per rescan. A relative date is counted back from
        Jira's own clock whatever the zone; a constant clock difference between govbot and
        Jira cancels out (``since`` was taken on govbot's clock too), and a change of it
        within ``jira.incremental_overlap`` is covered by the overlap already in ``since``.
        The window is widened by the overlap once more (rounded up to whole minutes), so a
        request Jira evaluates up to that much later, after retries, still reaches back to
        ``since``; ``ChangedSince.late`` says when a read took longer than that.
        """
        margin = max(timedelta(minutes=1), parse_duration(self.config.settings.jira.incremental_overlap))
        built = self._now()
        minutes = math.ceil(max(timedelta(0), built - since + margin) / timedelta(minutes=1))
        return ChangedSince(f'updated >= "-{minutes}m"', built, margin)

    def _open_cache(self, reader: "_Reader", cursor_store, cursor: dict | None, key: str, plan: FieldPlan,
                    since: datetime | None) -> tuple[IssueCache | None, str | None]:
        """The store's issue cache for a rescan (None when it is absent or was written for other
        fields or configuration), and whether this read keeps its raw issues for the cache: a full
        read always (it replaces the cache), a rescan only on top of a cache it can trust."""
        if cursor_store is None or not keeps_cache(cursor_store):
            return None, None
        tag = cache_tag(_fields_hash(plan), self.config)
        cache = None
        if since is not None:
            if not (isinstance(cursor, dict) and cursor.get("cache") == tag):
                return None, tag
            cache = IssueCache(cursor_store, key)
        reader.keeper = RawKeeper()
        return cache, tag

    def _cache_write(self, reader: "_Reader", *, full_read: bool) -> CacheWrite:
        """The issues this read searched for, as the cache keeps them (their links as normalized)."""
        packed = reader.keeper.packed
        rows = [(key, issue.parent_key, issue.level, issue.updated, packed[key.upper()])
                for key, issue in reader.workspace.issues.items() if key.upper() in packed]
        written = {row[0].upper() for row in rows}
        # Searched but not kept (an issue the normalizer could not read): its old copy must go too.
        unread = {key for key in packed if key not in written}
        return CacheWrite(replace=full_read, rows=rows,
                          forget=(set(reader.cache_forget) | unread) - {row[0] for row in rows})

    def _expand_changes(self, reader: "_Reader", scope: str, projects_only: bool, *,
                        with_children: bool = True, cache: IssueCache | None = None,
                        changed_since: ChangedSince | None = None, early: "_Early | None" = None) -> None:
        """After an incremental read: re-evaluate the children of what changed (their
        ancestors changed) and, when rules read children, the parents too.

        Without rules that read children, a parent's verdict cannot depend on a
        changed child, so parents are read only as context and siblings not at all;
        issues at the lowest level (sub-tasks) cannot have children to look for.

        With the store's issue cache (``bot.sources.issue_cache``), relatives in scope come
        from it (``_relatives_from_cache``); without rules that read children, children in
        scope are all there is to find, so no children are searched for at all.
        """
        workspace = reader.workspace
        changed = list(workspace.issues.values())
        if not changed:
            return
        changed_keys = {issue.key for issue in changed}
        old_parents: set[str] = set()
        if cache is not None and changed_since is not None:
            old_parents = self._relatives_from_cache(reader, cache, changed, scope, changed_since,
                                                     with_children=with_children, early=early)
        parent_keys = {i.parent_key for i in changed if i.parent_key and i.parent_key not in workspace.issues}
        self._fetch_relatives(reader, parent_keys)
        parents = [workspace.relatives[k] for k in parent_keys | old_parents
                   if k in workspace.relatives and not workspace.relatives[k].stub] if with_children else []
        lowest = min((level.rank for level in self.config.hierarchy.levels), default=None)
        may_have_children = [issue for issue in changed
                             if not (issue.jira_level == -1 or (lowest is not None and issue.level
                                                                and self.config.hierarchy.rank(issue.level) == lowest))]
        if with_children or cache is None:
            self._load_children(reader, (changed if with_children else may_have_children) + parents)
        children = {k for k, issue in workspace.relatives.items()
                    if issue.parent_key in changed_keys and not issue.stub}
        promoted = self._in_scope(workspace, {p.key for p in parents} | children, scope, projects_only,
                                  known=reader.from_cache)
        for key in promoted:
            workspace.add(workspace.relatives[key])
        if with_children:
            grown = [workspace.issues[k] for k in promoted if k in children]
            self._load_children(reader, grown)

    def _relatives_from_cache(self, reader: "_Reader", cache: IssueCache, changed: list[Issue], scope: str,
                              changed_since: ChangedSince, *, with_children: bool,
                              early: "_Early | None" = None) -> set[str]:
        """Parents and ancestors of the edited issues, and their children in scope, from the cache.

        Only cached issues Jira confirms still in scope and not edited since the bound are used
        (one keys-only search per ``CONFIRM_CHUNK``); the rest are left to the live reads after
        this, and forgotten by the cache. With rules that read children, a child moved to another
        parent makes its old parent re-evaluated (its children changed): returns those parents.
        ``early``: what was confirmed beside the read of the changes (``_read_changes_cloud``);
        only what that guessed wrong (a new parent, say) is confirmed now.
        """
        changed_keys = {issue.key for issue in changed}
        depth = MAX_ANCESTOR_DEPTH + 1
        wanted = cache.ancestors({issue.parent_key for issue in changed}, changed_keys, depth)
        wanted |= cache.children_of(changed_keys) - changed_keys
        old_parents: set[str] = set()
        if with_children:
            cache.look_up(changed_keys)
            for issue in changed:
                old = cache.parent_of(issue.key)
                if old and old != issue.parent_key and old not in changed_keys and cache.cached(old):
                    old_parents.add(old)
            wanted |= cache.ancestors(old_parents, changed_keys, depth)
        if not wanted:
            return set()
        confirmed = set(early.confirmed) if early is not None else set()
        todo = wanted - early.asked if early is not None else wanted
        within = jql_and(scope, changed_since.before)

        def handle(answer: tuple[set[str], SearchResult]) -> None:
            found, result = answer
            confirmed.update(found)
            if not result.complete:
                reader.incomplete(*result.problems)

        # Side by side: a rescan's few hundred relatives cost one round trip, not one per chunk.
        with Pipeline(max(1, self.concurrency), handle) as pipeline:
            for chunk in _chunks(sorted(todo), self._confirm_size):
                pipeline.submit(self._confirm_chunk, chunk, within)
            pipeline.finish()
        confirmed &= wanted
        raws = cache.raws(confirmed)
        owners = early.owners if early is not None else {}
        for raw in raws:
            values = owners.get(_key(raw))
            if values is not None:
                # Put back as a read with the owners would have them (the cache keeps none).
                fields = raw.get("fields")
                if not isinstance(fields, dict):
                    fields = raw["fields"] = {}
                fields.update(values)
                reader.owners_read.add(_key(raw))
        reader.add_relatives(raws)
        reader.from_cache |= confirmed
        reader.cache_forget |= wanted - confirmed
        return old_parents & confirmed

    @property
    def _confirm_size(self) -> int:
        return CLOUD_CONFIRM_CHUNK if self.is_cloud else CONFIRM_CHUNK

    def _confirm_chunk(self, keys: list[str], within: str) -> tuple[set[str], SearchResult]:
        """Which of ``keys`` the query ``within`` holds (keys only); runs on a pool thread."""
        found: set[str] = set()
        result = self.search_keys("key in ({keys})", keys, ["key"], lambda issues: found.update(map(_key, issues)),
                                  within=within, what="checking the cached relatives", post=self.is_cloud)
        return found, result

    def _read_changes_cloud(self, reader: "_Reader", query: str, scope: str, cache: IssueCache,
                            changed_since: ChangedSince, owner_fields: tuple[str, ...],
                            progress: Progress | None, *, with_children: bool) -> "_Early":
        """A Cloud rescan's changes in two round trips, whatever their number: their ids (5,000 a
        page), then, side by side, their fields (``bulkfetch``, 100 a request), the confirmation of
        the cached relatives they are likely to need (those of the cached parents and children of
        the changed keys: ``_relatives_from_cache`` confirms any others after) and those relatives'
        owner fields when a full read left them out (1,000 a request; only those the rescan may judge
        again: the children, and the parents too when rules read children), so that no owner read
        waits for the rules. Paging the changes with their fields came one page of 100 at a time, and the
        confirmation and the owner read each waited for the one before.

        Ids listed but neither returned nor called gone make the read incomplete, as a full read's.
        """
        what = "searching the scope"
        result = SearchResult()
        early = _Early(result)
        listed: dict[str, str] = {}  # id -> key, in the search's order

        def on_ids(page: list[dict]) -> None:
            for raw in page:
                ident = str(raw.get("id") or "")
                if ident:
                    listed.setdefault(ident, _key(raw))

        listing = self._search_cloud(query, ["key"], on_ids, None, what, limit=CLOUD_ID_PAGE)
        if not listed:
            _listing_and_gaps(result, listing, [], what)
            return early
        keys = {key for key in listed.values() if key}
        cache.look_up(keys)
        ancestors = cache.ancestors({cache.parent_of(key) for key in keys}, keys, MAX_ANCESTOR_DEPTH + 1)
        children = cache.children_of(keys) - keys
        guess = ancestors | children
        seen: set[str] = set()
        unexplained: list[str] = []

        def handle(answer: tuple[str, Any]) -> None:
            kind, got = answer
            if kind == "issues":
                issues, missing = got
                unexplained.extend(missing)
                _hand_on(issues, seen, reader.add_issues, result, progress)
            elif kind == "confirmed":
                found, confirmation = got
                early.confirmed |= found
                if not confirmation.complete:
                    reader.incomplete(*confirmation.problems)
            elif got is not None:
                early.owners.update(got)

        within = jql_and(scope, changed_since.before)
        with Pipeline(self.concurrency, handle) as pipeline:
            for chunk in _chunks(list(listed), BULK_CHUNK):
                pipeline.submit(_tagged, "issues", self._fetch_ids, chunk, reader.plan.ids, what)
            for chunk in _chunks(sorted(guess), self._confirm_size):
                pipeline.submit(_tagged, "confirmed", self._confirm_chunk, chunk, within)
            judged = guess if with_children else children
            if owner_fields:
                for chunk in _chunks(sorted(judged), OWNERS_CHUNK):
                    pipeline.submit(_tagged, "owners", self._owners_early, chunk, list(owner_fields))
            pipeline.finish()
        early.asked = guess
        _listing_and_gaps(result, listing, unexplained, what)
        return early

    def _owners_early(self, keys: list[str], fields: list[str]) -> dict[str, dict] | None:
        """key -> owner fields of cached relatives, by one bulkfetch; None when it fails (the owners of
        the issues with findings are then read after the rules, as before). Runs on a pool thread."""
        try:
            issues, _ = self._fetch_ids(keys, fields, "reading the owners of cached relatives", by_search=False)
        except (JiraError, NetworkError):
            return None
        return {_key(raw): {name: _dict(raw.get("fields")).get(name) for name in fields}
                for raw in issues if isinstance(raw.get("fields"), dict)}

    def _in_scope(self, workspace: Workspace, keys: set[str], scope: str, projects_only: bool, *,
                  known: set[str] = frozenset()) -> set[str]:
        """Which of these already-read relatives the scope includes: ``known`` ones (confirmed in
        scope already), by project when the scope is only projects, else by asking Jira
        (``keys_in_scope``; a search left incomplete only leaves relatives out)."""
        found_known = keys & set(known)
        keys = keys - found_known
        if not keys:
            return found_known
        if projects_only and not self.config.settings.jira.jql:
            projects = {p.casefold() for p in self.config.settings.jira.projects or []}
            return found_known | {k for k in keys if workspace.relatives[k].project.casefold() in projects}
        found = keys_in_scope(self.config, keys, source=self, scope=scope, strict=False,
                              what="checking which relatives are in scope")
        return found_known | (found & keys)

    def _fetch_relatives(self, reader: "_Reader", keys: set[str]) -> None:
        wanted = {k for k in keys if k and (reader.workspace.get(k) is None or reader.workspace.get(k).stub)}
        wanted -= reader.attempted
        if not wanted:
            return
        reader.attempted |= wanted
        missing = self.fetch_keys(sorted(wanted), reader.plan.ids, reader.add_relatives,
                                  what="reading parents outside the scope")
        for key in sorted(missing):
            reader.note(f"{key}: parent not found, or not visible to this Jira user")

    def _load_ancestors(self, reader: "_Reader") -> None:
        """Missing parents, then their parents, up to a few levels, 100 keys per request."""
        workspace = reader.workspace
        for _ in range(MAX_ANCESTOR_DEPTH):
            everyone = list(workspace.issues.values()) + list(workspace.relatives.values())
            wanted = {i.parent_key for i in everyone if i.parent_key}
            wanted = {k for k in wanted if workspace.get(k) is None or workspace.get(k).stub} - reader.attempted
            if not wanted:
                return
            self._fetch_relatives(reader, wanted)

    def _load_children(self, reader: "_Reader", parents: list[Issue]) -> None:
        """Children of ``parents`` (any project) as relatives, in chunks of 100 parents."""
        todo = [p for p in parents if p.key not in reader.children_read]
        reader.children_read.update(p.key for p in todo)
        for chunk in _chunks(todo, BULK_CHUNK):
            jql = self.children_jql(chunk)
            if not jql:
                continue
            try:
                result = self.search(jql, reader.plan.ids, reader.add_relatives, what="reading children")
            except JiraHTTPError as error:
                if error.status != 400:
                    raise
                reader.note(f"could not list children ({'; '.join(error.messages) or error.message}); "
                            f"rules see only the children already read")
                reader.workspace.children_unread.update(p.key for p in chunk)  # checks on children: no verdict
                continue
            if not result.complete:
                reader.workspace.children_unread.update(p.key for p in chunk)
                reader.incomplete(*result.problems)


class _Reader:
    """Pages -> normalizer -> workspace, with the bookkeeping one read needs."""

    def __init__(self, source: JiraSource, plan: FieldPlan, progress: Progress | None, ruleset=None, *,
                 leave_out: tuple[str, ...] = ()):
        self.source = source
        # ``leave_out``: owner fields read later, for the issues with findings (bot/sources/owners.py).
        self.plan = dataclasses.replace(plan, ids=[i for i in plan.ids if i not in leave_out]) if leave_out else plan
        self.progress = progress
        # Issues keep only the fields something reads, exactly as from a snapshot (a live scan
        # of 20,000 issues kept every raw field: about 3x the memory).
        wanted = snapshot_fields(ruleset, source.config) if ruleset is not None else None
        self.normalizer = Normalizer(source.config, base_url=source.connection.url, wanted=wanted)
        catalog = source.field_catalog()
        self.normalizer.learn_fields(catalog.names(), catalog.schemas())
        self.workspace = self.normalizer.workspace
        self.workspace.source = f"jira:{source.site}"
        if not source.warned:
            # Said once per run, on the log (stderr for the CLI): a site that keeps
            # outcomes in description sections is configured, not broken.
            source.warned = True
            summary = plan.summary()
            if summary:
                log.warning("%s", summary)
        self.attempted: set[str] = set()
        self.children_read: set[str] = set()
        self.keeper: RawKeeper | None = None  # the search's raw issues, for the store's issue cache
        self.from_cache: set[str] = set()  # relatives taken from the cache (confirmed in scope and current)
        self.cache_forget: set[str] = set()  # cached keys Jira did not confirm
        self.owners_read: set[str] = set()  # cached relatives whose owner fields were read beside them

    def add_issues(self, issues: list[dict]) -> None:
        if self.keeper is not None:
            self.keeper.keep(issues)
        self.normalizer.add_page({"issues": issues})

    def add_relatives(self, issues: list[dict]) -> None:
        self.normalizer.add_page({"issues": issues}, relative=True)

    def note(self, message: str) -> None:
        if message not in self.workspace.problems and len(self.workspace.problems) < 200:
            self.workspace.problems.append(message)

    def incomplete(self, *messages: str) -> None:
        self.workspace.complete = False
        for message in messages:
            self.note(message)

    def finish(self) -> Workspace:
        unreadable, self.source.transport.unreadable = self.source.transport.unreadable, []
        for note in unreadable:
            # Not read, so not scanned: the scan says it is incomplete and resolves nothing there.
            self.normalizer.skip(note)
            self.incomplete(note)
        return self.normalizer.finish()


@dataclass
class _Early:
    """What a Cloud rescan read beside its changes (``JiraSource._read_changes_cloud``)."""

    result: SearchResult
    asked: set[str] = field(default_factory=set)  # cached relatives whose confirmation was asked for
    confirmed: set[str] = field(default_factory=set)
    owners: dict[str, dict] = field(default_factory=dict)  # key -> owner fields, for cached relatives


# -- helpers ------------------------------------------------------------------------------------

def _tagged(kind: str, fetch: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """``fetch``'s answer with what it answers (one pipeline carries several kinds of request)."""
    return kind, fetch(*args)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def fields_wanted(ruleset, config: Config) -> set[str]:
    """Field names the rules read; every configured logical field when there are no rules."""
    if ruleset is None:
        names: set[str] = set()
        for logical, synonyms in config.section("fields").items():
            names.update([logical, *(synonyms or [])])
        return names
    try:
        return set(ruleset.fields_needed(config))
    except TypeError:
        return set(ruleset.fields_needed())


def _fields_hash(plan: FieldPlan) -> str:
    return hashlib.sha256(",".join(sorted(plan.ids)).encode()).hexdigest()[:16]


def _clause_name(field_id: str) -> str:
    match = re.fullmatch(r"customfield_(\d+)", field_id)
    return f"cf[{match.group(1)}]" if match else jql_value(field_id)


def _rank(issue: Issue, hierarchy) -> int | None:
    return hierarchy.rank(issue.level)


def _as_dict(value: Any) -> dict:
    if not isinstance(value, dict):
        raise JiraError("Jira answered a search with something that is not a search result",
                        hint="check that JIRA_URL is the Jira base URL")
    return value


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _issues_of(page: dict) -> list[dict]:
    issues = page.get("issues")
    return [raw for raw in issues if isinstance(raw, dict)] if isinstance(issues, list) else []


def _key(raw: dict) -> str:
    key = raw.get("key")
    return key.upper() if isinstance(key, str) else ""


def _hand_on(issues: list[dict], seen: set[str], on_page, result: "SearchResult", progress, *,
             total: int | None = None) -> None:
    """Give ``on_page`` the issues of a page not handed on before, and say how many are read."""
    fresh = _fresh(issues, seen)
    if fresh:
        on_page(fresh)
    result.read = len(seen)
    if progress:
        of = f" of {total:,}" if total is not None else ""
        progress(f"read {result.read:,}{of} issues")


# The split read costs about W/100 + N/1000 requests for N issues of which W have a multi-valued value,
# against N/100 for the plain read: it pays while W/N stays under about 0.88. The first page (100 issues)
# is the sample, with some margin for a JQL order that groups issues.
MULTI_VALUED_SHARE_MAX = 0.8


def _mostly_multi_valued(sample: list[dict], multi: list[str]) -> bool:
    """Most issues of ``sample`` (raw, with every field) have a value in one of the ``multi`` fields (a
    site where components are required, say)."""
    if not sample or not multi:
        return False
    having = sum(1 for raw in sample if any(_dict(raw.get("fields")).get(field_id) for field_id in multi))
    return having > MULTI_VALUED_SHARE_MAX * len(sample)


def _empty_values(multi: list[str]) -> dict:
    """What Cloud sends for multi-valued fields an issue has no value in: [] for system fields, null
    for custom ones."""
    return {field_id: None if field_id.startswith("customfield_") else [] for field_id in multi}


def _listing_and_gaps(result: SearchResult, listing: SearchResult, unexplained: list[str], what: str) -> None:
    """An incomplete id listing, or listed ids bulkfetch neither returned nor called gone, make the
    read incomplete."""
    if not listing.complete:
        result.complete = False
        result.problems.extend(listing.problems)
    if unexplained:
        result.complete = False
        result.problems.append(f"{what}: {len(unexplained):,} issues the search listed could not be read "
                               f"(for example id {unexplained[0]})")


def _fresh(issues: list[dict], seen: set[str]) -> list[dict]:
    """Issues whose key has not been handed on yet (windows and retries can overlap)."""
    fresh = []
    for raw in issues:
        key = _key(raw) or f"#{id(raw)}"
        if key not in seen:
            seen.add(key)
            fresh.append(raw)
    return fresh


# -- entry points -------------------------------------------------------------------------------

def load_workspace_from_jira(config: Config, ruleset=None, *, jql: str | None = None, full: bool = False,
                             cursor_store: CursorStore | None = None, progress: Progress | None = None,
                             source: JiraSource | None = None, defer_owners: bool = False) -> Workspace:
    """The scan's workspace from live Jira (``govbot scan`` without --snapshot)."""
    source = source or JiraSource.from_config(config)
    return source.load(ruleset, jql=jql, full=full, cursor_store=cursor_store, progress=progress,
                       defer_owners=defer_owners)


def load_issues_from_jira(config: Config, keys: Iterable[str], ruleset=None, *,
                          progress: Progress | None = None, source: JiraSource | None = None) -> Workspace:
    """The named issues and their relatives from live Jira (``govbot check``)."""
    source = source or JiraSource.from_config(config)
    return source.load_keys(keys, ruleset, progress=progress)


def keys_in_scope(config: Config, keys: Iterable[str], *, source: JiraSource | None = None,
                  scope: str | None = None, strict: bool = True,
                  what: str = "checking the issue is in govbot's scope") -> set[str]:
    """Which of ``keys`` exist, are visible and fall inside ``scope`` (the configured scope, ``scope_jql``,
    unless named): searches that return keys only, 100 keys each, so nothing else about an issue outside
    the scope is read. ``strict``: a search Jira did not answer in full raises ``JiraError``; else the
    keys it did return are the answer."""
    wanted = sorted({key.upper() for key in keys})
    if not wanted:
        return set()
    source = source or JiraSource.from_config(config)
    within = scope if scope is not None else scope_jql(config)
    found: set[str] = set()
    for chunk in _chunks(wanted, BULK_CHUNK):
        result = source.search_keys("key in ({keys})", chunk, ["key"], lambda issues: found.update(map(_key, issues)),
                                    within=within, what=what)
        if strict and not result.complete:  # an unread page may hold any of them: no answer rather than a wrong one
            raise JiraError("Jira did not return every page of the scope check: "
                            + ("; ".join(result.problems) or "incomplete"))
    # A key Jira does not know is dropped by search_keys; a moved issue answers under its new key.
    return {key.upper() for key in found} & set(wanted)

"""One live Jira site (Cloud or Data Center): what kind it is, its fields, and the searches and
bulk reads everything else is built on (``JiraSource``).

The source pages through search results itself, because the ``jira``
package's helpers do not fit 2026 Jira: Cloud removed ``/rest/api/*/search``
(use ``/rest/api/3/search/jql`` with ``nextPageToken``), and
``enhanced_search_issues`` returns None on Data Center. The package still
provides the authenticated ``requests`` session (``connection``); ``Transport``
adds timeouts, ``Retry-After`` and backoff.

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
way every issue is read once and a failed request is retried, then reported
(``SearchResult.complete``).

Building a workspace from these reads is ``bot.sources.loading`` (``JiraSource.load``
and ``load_keys`` hand over to it), with ``reader`` and ``rescan``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from bot.config import Config
from bot.errors import JiraError, SourceError
from bot.model import Issue
from bot.sources import loading
# Connection and make_session: callers import them from here too.
from bot.sources.connection import Connection, looks_like_cloud, make_session
from bot.sources.cursors import CursorStore
from bot.sources.fields import FieldCatalog, FieldPlan, plan_fields
from bot.sources.http import JiraHTTPError, RetryPolicy, Transport, display_url
from bot.sources.jql import jql_and, jql_value, key_list, scope_jql
from bot.dates import parse_datetime
from bot.sources.pages import (BULK_CHUNK, CLOUD_ID_PAGE, SHORT_KEY_LIST, Progress, SearchResult, chunks,
                               dict_or_empty, hand_on, issue_key, listing_and_gaps)
from bot.sources.pool import Pipeline
from bot.workspace import Workspace

# Data Center cannot page past this many results of one query.
DC_RESULT_WINDOW = 10_000
# Ask for the server's maximum; it answers with what it allows.
CLOUD_PAGE_REQUEST = 5000
DC_PAGE_REQUEST = 1000
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
MAX_PAGES = 100_000
MAX_TOKEN_RESTARTS = 2  # a Cloud search whose page token expires starts over at most this often

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
_QUOTED_KEY = re.compile(r"'([A-Za-z][A-Za-z0-9_]*-\d+)'")

log = logging.getLogger("govbot.jira")


class JiraSource:
    """One Jira site: field discovery, paged search, bulk fetches; whole reads hand over to ``loading``."""

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
        self.now = now or (lambda: datetime.now(timezone.utc))
        self._deployment = None if self.connection.deployment == "auto" else self.connection.deployment
        self._server_info: dict | None = None
        self._catalog: FieldCatalog | None = None
        self._catalog_json: list | None = None  # the field list as the site sent it (remembered for rescans)
        self._timezone: tzinfo | None = None
        self._dc_page = self.page_size or DC_PAGE_REQUEST
        self._cloud_method = "GET"
        self._bulkfetch_available = True
        self._bulk_efficient = True  # 1,000 ids a bulkfetch of single-valued fields, until the site refuses
        self.long_key_lists = True  # lists of more than SHORT_KEY_LIST keys, until the site refuses one
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
                self._deployment = "cloud" if looks_like_cloud(self.connection.url) else "datacenter"
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

    # -- what a rescan remembers of the site (``bot.sources.rescan``) ------------------------------
    def site_facts(self) -> tuple[str, list] | None:
        """(the kind of site, its field list as the site sent it) once the field list was asked for."""
        if self._catalog_json is None:
            return None
        return self.deployment, self._catalog_json

    def adopt_site_facts(self, deployment: str, fields: list) -> None:
        """Take the kind of site (unless configured) and the field list from a memory of them: not asked again."""
        if self._deployment is None:
            self._deployment = deployment
        self._catalog = FieldCatalog.from_json(fields)
        self._catalog_json = fields

    def forget_site_facts(self) -> None:
        """Ask the site afresh: its kind (unless configured) and its field list."""
        self._deployment = None if self.connection.deployment == "auto" else self.connection.deployment
        self._catalog = self._catalog_json = None

    def set_up(self) -> None:
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
            return self.search_cloud(jql, fields, on_page, progress, what, limit=limit, post=post)
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
        hand_on(issues, seen, on_page, result, progress)
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
            hand_on(issues, seen, on_page, result, progress)

        with Pipeline(self.concurrency, handle) as pipeline:
            listing = self._list_ids(jql, known_ids, BULK_CHUNK,
                                     lambda ids: pipeline.submit(self.fetch_ids, ids, fields, what), what)
            pipeline.finish()
        listing_and_gaps(result, listing, unexplained, what)
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

        listing = self.search_cloud(jql, ["id"], listed, None, what, limit=CLOUD_ID_PAGE)
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
                listing = self.search_cloud(jql_and(jql, f"({' OR '.join(clauses)})"), ["id"], listed_with_values,
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
                values = dict_or_empty(raw.get("fields"))
                values_by_id[str(raw.get("id"))] = {field_id: values.get(field_id) for field_id in multi}
            unsure.update(missing)

        with_values = list(dict.fromkeys(with_values))  # a listing that started over lists some twice
        if with_values:
            with Pipeline(self.concurrency, got_values) as pipeline:
                for chunk in chunks(with_values, BULK_CHUNK):
                    pipeline.submit(self.fetch_ids, chunk, multi, what)
                pipeline.finish()
            unsure.update(ident for ident in with_values if ident not in values_by_id)  # gone meanwhile
        with_values.clear()  # the ids are not needed past here
        unexplained: list[str] = []

        def handle(answer: tuple[list[str], tuple[list[dict], list[str]] | None, bool]) -> None:
            ids, got, whole = answer
            if got is None:  # refused: every field 100 a request, side by side, in this answer's place
                pipeline.submit_next(self._fetch_whole, [(chunk, fields, what) for chunk in chunks(ids, BULK_CHUNK)])
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
            hand_on(issues, seen, on_page, result, progress)

        def submit(ids: list[str]) -> None:
            if self._bulk_efficient and self._bulkfetch_available:
                pipeline.submit(self._fetch_single, ids, single, what)
            else:  # refused already: no request is spent finding that out again
                for chunk in chunks(ids, BULK_CHUNK):
                    pipeline.submit(self._fetch_whole, chunk, fields, what)

        # An answer is 1,000 raw issues here: as many wait as requests are in flight, not twice that.
        with Pipeline(self.concurrency, handle, most=self.concurrency) as pipeline:
            listing = self._list_ids(jql, known_ids, EFFICIENT_BULK_CHUNK, submit, what)
            pipeline.finish()
        listing_and_gaps(result, listing, unexplained, what)
        return True

    def _fetch_single(self, ids: list[str], single: list[str],
                      what: str) -> tuple[list[str], tuple[list[dict], list[str]] | None, bool]:
        """(ids, (issues, ids unexplained), False: the issues lack the multi-valued fields) for up to
        1,000 ids, their single-valued fields in one bulkfetch; (ids, None, False) when the site does
        not serve that, for the caller to read them 100 a request in the pool. Runs on a pool thread."""
        if self._bulk_efficient and self._bulkfetch_available:
            try:
                return ids, self.fetch_ids(ids, single, what, by_search=False), False
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
        return ids, self.fetch_ids(ids, fields, what), True

    def _refuse_efficient(self, what: str, error: JiraHTTPError) -> None:
        """This site does not serve 1,000-issue bulkfetches: said once, then read 100 a request."""
        with self._efficient_lock:
            if not self._bulk_efficient:
                return
            self._bulk_efficient = False
        log.warning("%s: Jira refused a bulk read of 1,000 issues by their single-valued fields (%s); "
                    "reading 100 a request with every field instead", what,
                    "; ".join(error.messages) or error.status)

    def fetch_ids(self, ids: list[str], fields: list[str], what: str, *,
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
                returned = {str(raw.get("id")) for raw in issues} | {issue_key(raw) for raw in issues}
                return issues, [i for i in ids if i not in returned and i not in gone]
        found: list[dict] = []
        self.search_cloud(f"id in ({key_list(ids)})", fields, found.extend, None, what)
        return found, []  # a search by id simply omits issues that are gone

    def search_cloud(self, jql, fields, on_page, progress, what, *, limit: int | None = None,
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
            hand_on(issues, seen, on_page, result, progress)
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
                    created = parse_datetime(dict_or_empty(raw.get("fields")).get("created"))
                    if created is not None and (window["latest"] is None or created > window["latest"]):
                        window["latest"] = created
                window["start"] += len(issues)
                hand_on(issues, seen, on_page, result, progress, total=result.total)
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
            returned.update(issue_key(raw) for raw in issues)
            on_page(issues)

        for chunk in chunks(wanted, BULK_CHUNK):
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
        """A search over ``template`` filled with keys; keys Jira says do not exist are dropped.

        No limit on a JQL list of keys is documented, so a list longer than ``SHORT_KEY_LIST``
        (a rescan's 1,000-key confirmations) is a bet: a site that refuses it with a 400 naming
        no key gets the same search in shorter lists, and no long ones from this source again
        (``long_key_lists``).
        """
        remaining = list(keys)
        while remaining:
            clause = template.format(keys=key_list(remaining))
            jql = jql_and(within, clause) if within else clause
            try:
                return self.search(jql, fields, on_page, what=what, post=post)
            except JiraHTTPError as error:
                bad = {key.upper() for message in error.messages for key in _QUOTED_KEY.findall(message)}
                bad &= {key.upper() for key in remaining}
                if error.status == 400 and not bad and len(remaining) > SHORT_KEY_LIST:
                    return self._search_shorter_lists(template, remaining, fields, on_page, error,
                                                      within=within, what=what, post=post)
                if error.status != 400 or not bad:
                    raise
                remaining = [key for key in remaining if key.upper() not in bad]
        return SearchResult()

    def _search_shorter_lists(self, template: str, keys: list[str], fields: list[str], on_page,
                              refusal: JiraHTTPError, **options) -> SearchResult:
        if self.long_key_lists:
            self.long_key_lists = False
            log.info("Jira refused a search for %d keys at once (%s): asking %d at a time", len(keys),
                     "; ".join(refusal.messages) or refusal.message, SHORT_KEY_LIST)
        result = SearchResult()
        for part in chunks(keys, SHORT_KEY_LIST):
            answer = self.search_keys(template, part, fields, on_page, **options)
            result.read += answer.read
            result.complete = result.complete and answer.complete
            result.problems.extend(answer.problems)
        return result

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

    def keys_in_scope(self, keys: Iterable[str], *, scope: str | None = None, strict: bool = True,
                      what: str = "checking the issue is in govbot's scope") -> set[str]:
        """Which of ``keys`` exist, are visible and fall inside ``scope`` (the configured scope, ``scope_jql``,
        unless named): searches that return keys only, 100 keys each, so nothing else about an issue outside
        the scope is read. ``strict``: a search Jira did not answer in full raises ``JiraError``; else the
        keys it did return are the answer."""
        wanted = sorted({key.upper() for key in keys})
        if not wanted:
            return set()
        within = scope if scope is not None else scope_jql(self.config)
        found: set[str] = set()
        for chunk in chunks(wanted, BULK_CHUNK):
            result = self.search_keys("key in ({keys})", chunk, ["key"],
                                      lambda issues: found.update(map(issue_key, issues)), within=within, what=what)
            if strict and not result.complete:  # an unread page may hold any of them: no answer rather than a wrong one
                raise JiraError("Jira did not return every page of the scope check: "
                                + ("; ".join(result.problems) or "incomplete"))
        # A key Jira does not know is dropped by search_keys; a moved issue answers under its new key.
        return {key.upper() for key in found} & set(wanted)

    # -- whole reads (bot.sources.loading) ------------------------------------------------------
    def load(self, ruleset=None, *, jql: str | None = None, full: bool = False,
             cursor_store: CursorStore | None = None, progress: Progress | None = None,
             defer_owners: bool = False) -> Workspace:
        """The issues in scope (all, or those changed since the cursor) and their relatives:
        ``bot.sources.loading.load``, which says what ``defer_owners`` leaves out."""
        return loading.load(self, ruleset, jql=jql, full=full, cursor_store=cursor_store, progress=progress,
                            defer_owners=defer_owners)

    def load_keys(self, keys: Iterable[str], ruleset=None, *, progress: Progress | None = None) -> Workspace:
        """Named issues (for ``govbot check``) with their parents, ancestors and children."""
        return loading.load_keys(self, keys, ruleset, progress=progress)


# -- helpers ------------------------------------------------------------------------------------

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


def _issues_of(page: dict) -> list[dict]:
    issues = page.get("issues")
    return [raw for raw in issues if isinstance(raw, dict)] if isinstance(issues, list) else []


# The split read costs about W/100 + N/1000 requests for N issues of which W have a multi-valued value,
# against N/100 for the plain read: it pays while W/N stays under about 0.88. The first page (100 issues)
# is the sample, with some margin for a JQL order that groups issues.
MULTI_VALUED_SHARE_MAX = 0.8


def _mostly_multi_valued(sample: list[dict], multi: list[str]) -> bool:
    """Most issues of ``sample`` (raw, with every field) have a value in one of the ``multi`` fields (a
    site where components are required, say)."""
    if not sample or not multi:
        return False
    having = sum(1 for raw in sample if any(dict_or_empty(raw.get("fields")).get(field_id) for field_id in multi))
    return having > MULTI_VALUED_SHARE_MAX * len(sample)


def _empty_values(multi: list[str]) -> dict:
    """What Cloud sends for multi-valued fields an issue has no value in: [] for system fields, null
    for custom ones."""
    return {field_id: None if field_id.startswith("customfield_") else [] for field_id in multi}


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
    """``JiraSource.keys_in_scope`` on ``source``, else on a source for ``config`` (built only when there
    are keys to check), within the scope ``config`` names unless ``scope`` does."""
    wanted = sorted({key.upper() for key in keys})
    if not wanted:
        return set()
    source = source or JiraSource.from_config(config)
    within = scope if scope is not None else scope_jql(config)
    return source.keys_in_scope(wanted, scope=within, strict=strict, what=what)

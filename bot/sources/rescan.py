"""Incremental reads: a rescan reads only what changed since the last complete read, and what
it needs around that.

A cursor per scope (``bot.sources.cursors``) says when the last complete read
began; a rescan asks for ``updated >=`` a relative date reaching back past it
(``rescan_bound``), until ``jira.full_rescan_every`` asks for a full read again.
What the last full read learned about the site (its kind and field list) is
remembered beside the cursors, so a rescan does not ask again (``recall_site``).
Through a store, the relatives of the changes that are in scope come from its
issue cache (``bot.sources.issue_cache``) once Jira confirms them still in scope
and unedited; on Cloud the changes, those confirmations and the cached relatives'
owner fields are read side by side, in two round trips (``read_changes_cloud``).

The functions take the ``JiraSource`` to read from (``bot.sources.jira`` imports this
module through ``loading``, so this one does not import it back). They are the source's
own reads, kept apart for size: they read through its searches (``search_cloud``,
``fetch_ids``) and hand it the site facts it would otherwise ask for (``adopt_site_facts``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from bot.dates import parse_datetime, parse_duration
from bot.errors import JiraError, NetworkError
from bot.model import Issue
from bot.sources.cursors import CursorStore
from bot.sources.fields import FieldPlan
from bot.sources.http import display_url
from bot.sources.issue_cache import CacheWrite, IssueCache, RawKeeper, cache_tag, keeps_cache
from bot.sources.jql import jql_and
from bot.sources.pages import (BULK_CHUNK, CLOUD_ID_PAGE, SHORT_KEY_LIST, Progress, SearchResult, chunks,
                               dict_or_empty, hand_on, issue_key, listing_and_gaps)
from bot.sources.pool import Pipeline
from bot.sources.reader import MAX_ANCESTOR_DEPTH, Reader, fetch_relatives, in_scope, load_children

CLOUD_CONFIRM_CHUNK = 1000  # keys a confirmation POSTs on Cloud (the JQL is in the body): a rescan's relatives in one request
OWNERS_CHUNK = 1000  # bulkfetch by single-valued (owner) fields only: 1,000 issues a request
CURSOR_VERSION = 1
SITE_VERSION = 1  # what a full read remembers about the site (``remember_site``)


@dataclass(frozen=True)
class ChangedSince:
    """A rescan's ``updated >=`` clause, and when it was written (``rescan_bound``)."""

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


@dataclass
class Early:
    """What a Cloud rescan read beside its changes (``read_changes_cloud``)."""

    result: SearchResult
    asked: set[str] = field(default_factory=set)  # cached relatives whose confirmation was asked for
    confirmed: set[str] = field(default_factory=set)
    owners: dict[str, dict] = field(default_factory=dict)  # key -> owner fields, for cached relatives


def fields_hash(plan: FieldPlan) -> str:
    return hashlib.sha256(",".join(sorted(plan.ids)).encode()).hexdigest()[:16]


def incremental_since(source, cursor: dict | None, full: bool, plan: FieldPlan,
                      started: datetime) -> datetime | None:
    """When to read changes from, or None for a full read."""
    if full or not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
        return None
    if cursor.get("fields") != fields_hash(plan):
        return None  # the rules read other fields now: unchanged issues need them too
    section = source.config.settings.jira
    last_full = parse_datetime(cursor.get("full_at"))
    since = parse_datetime(cursor.get("since"))
    every = parse_duration(section.full_rescan_every)
    if last_full is None or since is None or started - last_full >= every:
        return None
    return since - parse_duration(section.incremental_overlap)


def rescan_bound(source, since: datetime) -> ChangedSince:
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
    margin = max(timedelta(minutes=1), parse_duration(source.config.settings.jira.incremental_overlap))
    built = source.now()
    minutes = math.ceil(max(timedelta(0), built - since + margin) / timedelta(minutes=1))
    return ChangedSince(f'updated >= "-{minutes}m"', built, margin)


# -- what a rescan need not ask again ---------------------------------------------------------

def _site_key(source) -> str:
    return "jira-site:" + hashlib.sha256(display_url(source.connection.url).encode()).hexdigest()[:24]


def remember_site(source, cursor_store: CursorStore, started: datetime) -> None:
    """The kind of site and its field list, for the rescans until the next full read (each
    rescan asked for both again). A rescan needs no time zone: its bound is a relative
    date (``rescan_bound``)."""
    facts = source.site_facts()
    if facts is None:
        return
    deployment, fields = facts
    cursor_store.set_cursor(_site_key(source), {
        "version": SITE_VERSION, "at": started.isoformat(), "deployment": deployment, "fields": fields})

def recall_site(source, cursor_store: CursorStore | None, cursor: dict | None, full: bool,
                started: datetime) -> bool:
    """Use what the last full read remembered about the site, for a rescan before the next full read."""
    if cursor_store is None or full or not isinstance(cursor, dict):
        return False
    facts = cursor_store.get_cursor(_site_key(source))
    if not isinstance(facts, dict) or facts.get("version") != SITE_VERSION \
            or facts.get("deployment") not in ("cloud", "datacenter") or not isinstance(facts.get("fields"), list):
        return False
    at = parse_datetime(facts.get("at"))
    if at is None or not timedelta(0) <= started - at < parse_duration(source.config.settings.jira.full_rescan_every):
        return False
    source.adopt_site_facts(facts["deployment"], facts["fields"])
    return True


def open_cache(source, reader: Reader, cursor_store, cursor: dict | None, key: str, plan: FieldPlan,
               since: datetime | None) -> tuple[IssueCache | None, str | None]:
    """The store's issue cache for a rescan (None when it is absent or was written for other
    fields or configuration), and whether this read keeps its raw issues for the cache: a full
    read always (it replaces the cache), a rescan only on top of a cache it can trust."""
    if cursor_store is None or not keeps_cache(cursor_store):
        return None, None
    tag = cache_tag(fields_hash(plan), source.config)
    cache = None
    if since is not None:
        if not (isinstance(cursor, dict) and cursor.get("cache") == tag):
            return None, tag
        cache = IssueCache(cursor_store, key)
    reader.keeper = RawKeeper()
    return cache, tag


def cache_write(source, reader: Reader, *, full_read: bool) -> CacheWrite:
    """The issues this read searched for, as the cache keeps them (their links as normalized)."""
    packed = reader.keeper.packed
    rows = [(key, issue.parent_key, issue.level, issue.updated, packed[key.upper()])
            for key, issue in reader.workspace.issues.items() if key.upper() in packed]
    written = {row[0].upper() for row in rows}
    # Searched but not kept (an issue the normalizer could not read): its old copy must go too.
    unread = {key for key in packed if key not in written}
    return CacheWrite(replace=full_read, rows=rows,
                      forget=(set(reader.cache_forget) | unread) - {row[0] for row in rows})


def expand_changes(source, reader: Reader, scope: str, projects_only: bool, *,
                   with_children: bool = True, cache: IssueCache | None = None,
                   changed_since: ChangedSince | None = None, early: Early | None = None) -> None:
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
        old_parents = _relatives_from_cache(source, reader, cache, changed, scope, changed_since,
                                            with_children=with_children, early=early)
    parent_keys = {i.parent_key for i in changed if i.parent_key and i.parent_key not in workspace.issues}
    fetch_relatives(source, reader, parent_keys)
    parents = [workspace.relatives[k] for k in parent_keys | old_parents
               if k in workspace.relatives and not workspace.relatives[k].stub] if with_children else []
    lowest = min((level.rank for level in source.config.hierarchy.levels), default=None)
    may_have_children = [issue for issue in changed
                         if not (issue.jira_level == -1 or (lowest is not None and issue.level
                                                            and source.config.hierarchy.rank(issue.level) == lowest))]
    if with_children or cache is None:
        load_children(source, reader, (changed if with_children else may_have_children) + parents)
    children = {k for k, issue in workspace.relatives.items()
                if issue.parent_key in changed_keys and not issue.stub}
    promoted = in_scope(source, workspace, {p.key for p in parents} | children, scope, projects_only,
                        known=reader.from_cache)
    for key in promoted:
        workspace.add(workspace.relatives[key])
    if with_children:
        grown = [workspace.issues[k] for k in promoted if k in children]
        load_children(source, reader, grown)


def _relatives_from_cache(source, reader: Reader, cache: IssueCache, changed: list[Issue], scope: str,
                          changed_since: ChangedSince, *, with_children: bool,
                          early: Early | None = None) -> set[str]:
    """Parents and ancestors of the edited issues, and their children in scope, from the cache.

    Only cached issues Jira confirms still in scope and not edited since the bound are used
    (keys-only searches, ``_confirm_size`` keys each); the rest are left to the live reads after
    this, and forgotten by the cache. With rules that read children, a child moved to another
    parent makes its old parent re-evaluated (its children changed): returns those parents.
    ``early``: what was confirmed beside the read of the changes (``read_changes_cloud``);
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
    with Pipeline(max(1, source.concurrency), handle) as pipeline:
        for chunk in chunks(sorted(todo), _confirm_size(source)):
            pipeline.submit(_confirm_chunk, source, chunk, within)
        pipeline.finish()
    confirmed &= wanted
    raws = cache.raws(confirmed)
    owners = early.owners if early is not None else {}
    for raw in raws:
        values = owners.get(issue_key(raw))
        if values is not None:
            # Put back as a read with the owners would have them (the cache keeps none).
            fields = raw.get("fields")
            if not isinstance(fields, dict):
                fields = raw["fields"] = {}
            fields.update(values)
            reader.owners_read.add(issue_key(raw))
    reader.add_relatives(raws)
    reader.from_cache |= confirmed
    reader.cache_forget |= wanted - confirmed
    return old_parents & confirmed


def _confirm_size(source) -> int:
    """Keys a confirmation asks for at once: long POSTed lists on Cloud, until the site refuses one."""
    return CLOUD_CONFIRM_CHUNK if source.is_cloud and source.long_key_lists else SHORT_KEY_LIST


def _confirm_chunk(source, keys: list[str], within: str) -> tuple[set[str], SearchResult]:
    """Which of ``keys`` the query ``within`` holds (keys only); runs on a pool thread."""
    found: set[str] = set()
    result = source.search_keys("key in ({keys})", keys, ["key"], lambda issues: found.update(map(issue_key, issues)),
                                within=within, what="checking the cached relatives", post=source.is_cloud)
    return found, result


def read_changes_cloud(source, reader: Reader, query: str, scope: str, cache: IssueCache,
                       changed_since: ChangedSince, owner_fields: tuple[str, ...],
                       progress: Progress | None, *, with_children: bool) -> Early:
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
    early = Early(result)
    listed: dict[str, str] = {}  # id -> key, in the search's order

    def on_ids(page: list[dict]) -> None:
        for raw in page:
            ident = str(raw.get("id") or "")
            if ident:
                listed.setdefault(ident, issue_key(raw))

    listing = source.search_cloud(query, ["key"], on_ids, None, what, limit=CLOUD_ID_PAGE)
    if not listed:
        listing_and_gaps(result, listing, [], what)
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
            hand_on(issues, seen, reader.add_issues, result, progress)
        elif kind == "confirmed":
            found, confirmation = got
            early.confirmed |= found
            if not confirmation.complete:
                reader.incomplete(*confirmation.problems)
        elif got is not None:
            early.owners.update(got)

    within = jql_and(scope, changed_since.before)
    with Pipeline(source.concurrency, handle) as pipeline:
        for chunk in chunks(list(listed), BULK_CHUNK):
            pipeline.submit(_tagged, "issues", source.fetch_ids, chunk, reader.plan.ids, what)
        for chunk in chunks(sorted(guess), _confirm_size(source)):
            pipeline.submit(_tagged, "confirmed", _confirm_chunk, source, chunk, within)
        judged = guess if with_children else children
        if owner_fields:
            for chunk in chunks(sorted(judged), OWNERS_CHUNK):
                pipeline.submit(_tagged, "owners", _owners_early, source, chunk, list(owner_fields))
        pipeline.finish()
    early.asked = guess
    listing_and_gaps(result, listing, unexplained, what)
    return early


def _owners_early(source, keys: list[str], fields: list[str]) -> dict[str, dict] | None:
    """key -> owner fields of cached relatives, by one bulkfetch; None when it fails (the owners of
    the issues with findings are then read after the rules, as before). Runs on a pool thread."""
    try:
        issues, _ = source.fetch_ids(keys, fields, "reading the owners of cached relatives", by_search=False)
    except (JiraError, NetworkError):
        return None
    return {issue_key(raw): {name: dict_or_empty(raw.get("fields")).get(name) for name in fields}
            for raw in issues if isinstance(raw.get("fields"), dict)}


def _tagged(kind: str, fetch: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """``fetch``'s answer with what it answers (one pipeline carries several kinds of request)."""
    return kind, fetch(*args)

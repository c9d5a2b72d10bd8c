"""Building a ``Workspace`` from live Jira: the scope, all of it or what changed, and its relatives
(``load``, behind ``JiraSource.load``); or named issues and theirs (``load_keys``, for ``govbot check``).

What is read:
- the scope (``jira.projects`` and/or ``jira.jql``, or ``--jql``), all of it or
  only what changed since the last complete read (a cursor per scope; ``rescan``);
- only the fields the rules need plus the hierarchy fields, never ``*all``;
- relatives across the scope boundary in bulk (``reader``): missing parents and
  their ancestors, and, for on-demand checks and incremental scans, children; a
  rescan through a store takes those in scope from its issue cache
  (``issue_cache``), on Cloud in two round trips (``rescan.read_changes_cloud``).

A fault that outlives the retries marks the workspace incomplete (what was
read stays usable) or, when nothing could be read, raises ``NetworkError``.
The cursor moves only after a complete read.

The functions take the ``JiraSource`` to read from: ``JiraSource.load`` and ``load_keys``
hand over to them, so ``bot.sources.jira`` imports this module and not the other way round.
They are the source's own reads, kept apart for size: they ask it for its clock
(``now``) and its set-up (``set_up``), and read the site through its searches.
"""

from __future__ import annotations

from typing import Iterable

from bot.errors import JiraError, NetworkError
from bot.model import bulk
from bot.sources.children import parents_needing_children, unsure_on_data_center
from bot.sources.cursors import CursorStore, cursor_key
from bot.sources.http import JiraHTTPError
from bot.sources.jql import jql_and, scope_jql
from bot.sources.owners import LateOwners, deferrable
from bot.sources.pages import Progress
from bot.sources.reader import Reader, load_ancestors, load_children
from bot.sources.rescan import (CURSOR_VERSION, Early, cache_write, expand_changes, fields_hash,
                                incremental_since, open_cache, read_changes_cloud, recall_site, remember_site,
                                rescan_bound)
from bot.workspace import Workspace


def load(source, ruleset=None, *, jql: str | None = None, full: bool = False,
         cursor_store: CursorStore | None = None, progress: Progress | None = None,
         defer_owners: bool = False) -> Workspace:
    """The issues in scope (all, or those changed since the cursor) and their relatives.

    ``defer_owners``: leave out the owner fields only a finding's owner reads; the caller
    reads them for the issues with findings through ``workspace.late_owners``
    (``bot.runs.owners``), and the cursor is written only once they are read.
    """
    with bulk():  # tens of thousands of long-lived Issues: no cycle collection while they are built
        return _load(source, ruleset, jql=jql, full=full, cursor_store=cursor_store, progress=progress,
                     defer_owners=defer_owners)


def load_keys(source, keys: Iterable[str], ruleset=None, *, progress: Progress | None = None) -> Workspace:
    """Named issues (for ``govbot check``) with their parents, ancestors and children."""
    plan = source.field_plan(ruleset)
    reader = Reader(source, plan, progress, ruleset)
    missing = source.fetch_keys(keys, plan.ids, reader.add_issues, what="reading the issues to check")
    for key in sorted(missing):
        reader.workspace.problems.append(f"{key}: not found, or not visible to this Jira user")
    if reader.workspace.issues and (ruleset is None or getattr(ruleset, "needs_relatives", True)):
        load_children(source, reader, list(reader.workspace.issues.values()))
        load_ancestors(source, reader)
    workspace = reader.finish()
    workspace.partial = True  # named issues only
    return workspace


def _load(source, ruleset, *, jql: str | None, full: bool, cursor_store: CursorStore | None,
          progress: Progress | None, defer_owners: bool = False) -> Workspace:
    started = source.now()
    scope = scope_jql(source.config, jql)
    key = cursor_key(source.connection.url, scope)
    cursor = cursor_store.get_cursor(key) if cursor_store is not None else None
    recalled = recall_site(source, cursor_store, cursor, full, started)
    if not recalled:
        source.set_up()
    plan = source.field_plan(ruleset)
    since = incremental_since(source, cursor, full, plan, started)
    if recalled and since is None:
        # A full read after all (the rules read other fields now...): ask the site afresh.
        # A field created since the last full read is seen from the next one.
        source.forget_site_facts()
        recalled = False
        source.set_up()
        plan = source.field_plan(ruleset)
        since = incremental_since(source, cursor, full, plan, started)
    # Owner fields nothing else reads are read after the rules, for the issues with findings only
    # (bot/sources/owners.py): user objects were over 40% of the bytes of a full read. Not on a
    # rescan: its few hundred changed issues cost fewer bytes than the extra request's round trip.
    owners_later = deferrable(ruleset, source.config) if defer_owners else ()
    deferred = owners_later if since is None else ()
    reader = Reader(source, plan, progress, ruleset, leave_out=deferred)
    workspace = reader.workspace
    changed_since = None if since is None else rescan_bound(source, since)
    cache, tag = open_cache(source, reader, cursor_store, cursor, key, plan, since)
    query = scope if changed_since is None else jql_and(scope, changed_since.clause)
    if progress:
        progress(f"reading {'changes since ' + since.isoformat(timespec='minutes') if since else 'all issues'}"
                 f" in scope from {source.site} ({source.deployment})")
    early: Early | None = None
    try:
        if cache is not None and source.is_cloud and source.concurrency > 1:
            early = read_changes_cloud(source, reader, query, scope, cache, changed_since, owners_later, progress,
                                       with_children=getattr(ruleset, "needs_children", True))
            result = early.result
        else:
            # Without the cache, a rescan reads a few hundred changes: on Cloud, listing their ids
            # first would cost a request more than paging them (Data Center pays nothing extra).
            result = source.search(query, reader.plan.ids, reader.add_issues, progress=progress,
                                   what="searching the scope", parallel=since is None or not source.is_cloud)
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
                expand_changes(source, reader, scope, jql is None,
                               with_children=getattr(ruleset, "needs_children", True),
                               cache=cache, changed_since=changed_since, early=early)
            elif ruleset is not None and getattr(ruleset, "needs_children", False):
                # Children outside the scope (another project), for rules that read children.
                parents = parents_needing_children(workspace, ruleset.active, source.config)
                load_children(source, reader, parents)
                if not source.is_cloud:
                    workspace.children_unread |= unsure_on_data_center(parents)
            load_ancestors(source, reader)
        except NetworkError as error:
            reader.incomplete(f"could not read every parent or child: {error.message}")
    workspace = reader.finish()
    workspace.partial = since is not None  # changes only: whole-project facts cannot be judged
    workspace.whole_scope = since is None and jql is None
    if cursor_store is not None:
        workspace.cursor_key = key
        if since is not None:
            workspace.known_projects = (cursor or {}).get("projects_at")  # bot/runs/batch.py keeps it
    # A search Jira evaluated later than the window's margin (retries, long waits) may have
    # started past the old bound: the next rescan starts where this one should have.
    next_since = (cursor or {}).get("since") if changed_since is not None and \
        changed_since.late(source.now()) else started.isoformat()

    def commit() -> None:
        value = {
            "version": CURSOR_VERSION, "site": source.site, "jql": scope,
            "since": next_since, "fields": fields_hash(plan),
            "full_at": started.isoformat() if since is None else (cursor or {}).get("full_at"),
            "issues": len(workspace.issues),
        }
        if since is not None and isinstance((cursor or {}).get("projects_at"), dict):
            value["projects_at"] = cursor["projects_at"]  # until the run's rules add what they saw
        if reader.keeper is not None:
            value["cache"] = tag
            cursor_store.save_read(key, value, cache_write(source, reader, full_read=since is None))
        else:
            cursor_store.set_cursor(key, value)
        if not recalled:
            remember_site(source, cursor_store, started)

    ready = commit if workspace.complete and cursor_store is not None else None
    if deferred:
        # The cursor moves only once the owners of the issues with findings are read too.
        workspace.late_owners = LateOwners(source, reader.normalizer, workspace, deferred, commit=ready)
    elif owners_later and reader.from_cache:
        # Relatives from the issue cache were kept by a full read that left the owners out: those
        # this rescan judges (in scope, so promoted) get their owners read as a full read's would.
        late = LateOwners(source, reader.normalizer, workspace, owners_later, commit=ready)
        late.done |= set(workspace.issues) - set(reader.from_cache)  # read with their owners just now
        late.done |= reader.owners_read  # cached, their owners read beside the confirmation
        workspace.late_owners = late
    elif ready is not None:
        ready()
    return workspace

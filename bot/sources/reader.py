"""One read's workspace: Jira's pages through the normalizer into a ``Workspace`` (``Reader``),
and the relatives read around what the search found.

Relatives are read across the scope boundary in bulk, 100 keys a request: missing
parents and their ancestors (up to ``MAX_ANCESTOR_DEPTH`` levels) and, for
on-demand checks and incremental scans, children (``parent in (...)``, and on
Data Center Epic Link and Parent Link too). ``in_scope`` says which relatives the
scope holds (a rescan promotes those to issues the rules judge).

The functions take the ``JiraSource`` to read from (``bot.sources.jira`` imports this
module through ``loading``, so this one does not import it back).
"""

from __future__ import annotations

import dataclasses
import logging

from bot.model import Issue
from bot.sources.fields import FieldPlan
from bot.sources.http import JiraHTTPError
from bot.sources.issue_cache import RawKeeper
from bot.sources.normalize import Normalizer
from bot.sources.pages import BULK_CHUNK, Progress, chunks
from bot.sources.snapshot import snapshot_fields
from bot.workspace import Workspace

MAX_ANCESTOR_DEPTH = 6

log = logging.getLogger("govbot.jira")


class Reader:
    """Pages -> normalizer -> workspace, with the bookkeeping one read needs."""

    def __init__(self, source, plan: FieldPlan, progress: Progress | None, ruleset=None, *,
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


def fetch_relatives(source, reader: Reader, keys: set[str]) -> None:
    wanted = {k for k in keys if k and (reader.workspace.get(k) is None or reader.workspace.get(k).stub)}
    wanted -= reader.attempted
    if not wanted:
        return
    reader.attempted |= wanted
    missing = source.fetch_keys(sorted(wanted), reader.plan.ids, reader.add_relatives,
                                what="reading parents outside the scope")
    for key in sorted(missing):
        reader.note(f"{key}: parent not found, or not visible to this Jira user")


def load_ancestors(source, reader: Reader) -> None:
    """Missing parents, then their parents, up to a few levels, 100 keys per request."""
    workspace = reader.workspace
    for _ in range(MAX_ANCESTOR_DEPTH):
        everyone = list(workspace.issues.values()) + list(workspace.relatives.values())
        wanted = {i.parent_key for i in everyone if i.parent_key}
        wanted = {k for k in wanted if workspace.get(k) is None or workspace.get(k).stub} - reader.attempted
        if not wanted:
            return
        fetch_relatives(source, reader, wanted)


def load_children(source, reader: Reader, parents: list[Issue]) -> None:
    """Children of ``parents`` (any project) as relatives, in chunks of 100 parents."""
    todo = [p for p in parents if p.key not in reader.children_read]
    reader.children_read.update(p.key for p in todo)
    for chunk in chunks(todo, BULK_CHUNK):
        jql = source.children_jql(chunk)
        if not jql:
            continue
        try:
            result = source.search(jql, reader.plan.ids, reader.add_relatives, what="reading children")
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


def in_scope(source, workspace: Workspace, keys: set[str], scope: str, projects_only: bool, *,
             known: set[str] = frozenset()) -> set[str]:
    """Which of these already-read relatives the scope includes: ``known`` ones (confirmed in
    scope already), by project when the scope is only projects, else by asking Jira
    (``keys_in_scope``; a search left incomplete only leaves relatives out)."""
    found_known = keys & set(known)
    keys = keys - found_known
    if not keys:
        return found_known
    if projects_only and not source.config.settings.jira.jql:
        projects = {p.casefold() for p in source.config.settings.jira.projects or []}
        return found_known | {k for k in keys if workspace.relatives[k].project.casefold() in projects}
    found = source.keys_in_scope(keys, scope=scope, strict=False, what="checking which relatives are in scope")
    return found_known | (found & keys)

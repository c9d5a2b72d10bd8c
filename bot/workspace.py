"""The set of issues one scan looks at, with their parent/child graph.

``issues`` are the issues in scope: rules evaluate them and only they can have
findings resolved. ``relatives`` are parents and children fetched (or known
from an embedded ``parent`` object) only so rules can see across the scope
boundary; they are never evaluated themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from bot.model import Issue


@dataclass
class Workspace:
    issues: dict[str, Issue] = field(default_factory=dict)
    relatives: dict[str, Issue] = field(default_factory=dict)
    # False when the source could not read everything in scope (a fault mid-scan);
    # the store must then not resolve findings on issues it did not read.
    complete: bool = True
    problems: list[str] = field(default_factory=list)  # issues skipped as malformed, etc.
    source: str = ""  # "snapshot:<path>", "jira:<url>", "demo"
    skipped: int = 0
    # What the reader worked out about the data, said once in the summary (an Epic Link
    # field inferred from its values, custom fields without names...).
    notes: list[str] = field(default_factory=list)
    # True when only part of the scope was read (changes since the last run, or named
    # issues): facts about whole projects cannot be judged from it.
    partial: bool = False
    # True when this is a read of the whole configured scope from live Jira (not --jql, not changes
    # only, not named issues): an issue it does not return may be gone from Jira or from the scope,
    # which bot.runs.gone then asks Jira to confirm. Snapshots never claim it.
    whole_scope: bool = False
    # Fields a snapshot's export never asked for, so checks that read them give no verdict: "description",
    # and "parent" (no parent, Agile epic, Epic Link or unnamed custom field: no link to a parent could
    # have been saved; bot/sources/normalize.py links_exported). Never set by a live read: govbot asks
    # Jira for what its rules read.
    unexported: set[str] = field(default_factory=set)
    # On a partial read (changes only): level -> the projects that had work at that level (or rolled up
    # to it) as of the last whole read and the changes since, kept with the read's cursor (``cursor_key``),
    # so "does this project use epics?" is answered for the issues a rescan judges. None: not known.
    known_projects: dict[str, list[str]] | None = None
    cursor_key: str | None = None
    # Issues whose children the reader could not list: checks on children give no verdict on them.
    children_unread: set[str] = field(default_factory=set)
    # A live read that left the owner fields out (bot/sources/owners.py ``LateOwners``): they are read
    # for the issues with findings once the rules have run (bot/runs/owners.py). None: nothing left out.
    late_owners: Any = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues.values())

    def __len__(self) -> int:
        return len(self.issues)

    def get(self, key: str | None) -> Issue | None:
        if not key:
            return None
        return self.issues.get(key) or self.relatives.get(key)

    def add(self, issue: Issue, *, relative: bool = False) -> None:
        if relative:
            if issue.key not in self.issues:
                existing = self.relatives.get(issue.key)
                # A full relative beats a stub made from an embedded parent object.
                if existing is None or len(existing.fields) <= len(issue.fields):
                    self.relatives[issue.key] = issue
        else:
            self.issues[issue.key] = issue
            self.relatives.pop(issue.key, None)

    def link(self) -> None:
        """Fill ``children`` from every known issue's ``parent_key``."""
        everyone = list(self.issues.values()) + list(self.relatives.values())
        for issue in everyone:
            issue.children = []
        for issue in everyone:
            parent = self.get(issue.parent_key)
            if parent is not None and issue.key not in parent.children:
                parent.children.append(issue.key)

    def parent(self, issue: Issue) -> Issue | None:
        return self.get(issue.parent_key)

    def children(self, issue: Issue) -> list[Issue]:
        return [child for key in issue.children if (child := self.get(key)) is not None]

    def ancestors(self, issue: Issue, limit: int = 20) -> Iterable[Issue]:
        """Parent, grandparent... bounded, so a cycle in bad data cannot loop forever."""
        seen = {issue.key}
        current = self.parent(issue)
        while current is not None and current.key not in seen and len(seen) <= limit:
            yield current
            seen.add(current.key)
            current = self.parent(current)

    def missing_parents(self) -> set[str]:
        """Parent keys named by scanned issues that no known issue provides in full."""
        wanted = set()
        for issue in self.issues.values():
            if issue.parent_key and issue.parent_key not in self.issues:
                relative = self.relatives.get(issue.parent_key)
                if relative is None or getattr(relative, "stub", False):
                    wanted.add(issue.parent_key)
        return wanted

"""What a snapshot's pages say about the export they came from: which fields it never asked
Jira for, and whether its searches were saved whole.

A search answer as Jira sends it carries its paging (``PAGING_KEYS``) and every field it
was asked for, null when empty. So a field no issue carries was never asked for, and a
``total`` larger than the issues saved means pages are missing. ``bot.sources.snapshot``
feeds each page to an ``Extent`` and calls ``mark`` once at the end.
"""

from __future__ import annotations

from bot.sources.normalize import Normalizer
from bot.workspace import Workspace

# What every search answer carries besides its issues (Data Center and /rest/api/2/search: startAt,
# maxResults, total; Cloud /rest/api/3/search/jql: isLast, nextPageToken; the Agile API: both kinds).
PAGING_KEYS = ("startAt", "maxResults", "total", "isLast", "nextPageToken")


class Extent:
    """What a snapshot's pages say about the searches they came from: whether any matched more than
    its pages hold, and whether they are Jira's answers as sent (``as_sent``: they carry its paging).

    A file may hold several searches, one after another: an offset-paged one starts again at
    ``startAt: 0``, a cursor-paged one after a page that ``isLast``. Each is held to its own
    ``total`` (the largest its pages give) or, cursor-paged, to its last page's ``isLast``."""

    def __init__(self):
        self.as_sent = False
        self.searches = 0
        self.short: list[tuple[int, int | None]] = []  # (issues held, issues matched or None) per short search
        self._pages = self._unkeyed = self._total = 0
        self._keys: set = set()
        self._more = self._last = False

    def add(self, meta: dict, keys: set, unkeyed: int) -> None:
        """One page, with the ``keys`` of the issues that came before its closing brace and the number
        of those that had none (unreadable): a key repeated by another page is held once."""
        if not self.as_sent:
            self.as_sent = any(key in meta for key in PAGING_KEYS)
        start = meta.get("startAt")
        if self._pages and ((start.__class__ is int and start == 0) or self._last):
            self._close()
        self._pages += 1
        self._keys |= keys
        self._unkeyed += unkeyed
        total = meta.get("total")
        if total.__class__ is int and total > self._total:
            self._total = total
        token = meta.get("nextPageToken")
        self._last = meta.get("isLast") is True
        self._more = meta.get("isLast") is False or (isinstance(token, str) and bool(token.strip()))

    def _close(self) -> None:
        self.searches += 1
        held = len(self._keys) + self._unkeyed
        if self._total > held:
            self.short.append((held, self._total))
        elif self._more:
            self.short.append((held, None))
        self._pages = self._unkeyed = self._total = 0
        self._keys = set()
        self._more = self._last = False

    def missing(self) -> str | None:
        """What the pages say is left out, for the note; None when nothing is."""
        if self._pages:
            self._close()
        if not self.short:
            return None
        if self.searches == 1:
            held, total = self.short[0]
            return (f"{held:,} of the {total:,} issues its search matched (the pages' total)" if total is not None
                    else "only the first pages of its search (the last one says more follow)")
        return f"only part of {len(self.short)} of its {self.searches} searches (their pages say more matched)"

    def mark(self, workspace: Workspace, normalizer: Normalizer) -> None:
        """Say on ``workspace`` what the export left out: fields never asked for (``unexported``) and
        pages not saved (``partial``, with a note). Call once, after the last page."""
        if workspace.issues and self.as_sent:
            # Jira's answer carries every field asked for, null when empty: a field on no issue was not
            # asked for. (A bare {"issues": [...]}, written by hand or by a script that drops nulls,
            # says nothing.)
            if not normalizer.descriptions_exported():
                workspace.unexported.add("description")
            if not normalizer.links_exported():
                workspace.unexported.add("parent")
        missing = self.missing()
        if missing:
            # A search saved without its later pages: the issues read are judged, facts about whole
            # projects are not (``Workspace.partial``), as on any read of part of the scope.
            workspace.partial = True
            workspace.notes.append(f"the snapshot holds {missing}: facts about whole projects (site-setup "
                                   f"rules, whether a project uses epics) were not judged; save every page "
                                   f"of the search")


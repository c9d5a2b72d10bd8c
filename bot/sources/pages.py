"""What the reads of live Jira share: what a search reports (``SearchResult``), the request sizes
more than one module asks for, and handing each page's issues on once.

The search primitives (``bot.sources.jira``) and the workspace reads built on them
(``bot.sources.loading``, ``reader``, ``rescan``) both use these; they live apart
so that neither imports the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

CLOUD_ID_PAGE = 5000  # the Cloud search's cap when only ids are asked for
# Cloud bulkfetch takes up to 100 ids; DC ``key in (...)`` chunks stay the same
# size so a GET URL stays short.
BULK_CHUNK = 100
# Keys in one JQL list that any site takes (a GET URL stays a few KB); longer lists are asked for
# only where they save requests, and a site that refuses one gets these (``JiraSource.search_keys``).
SHORT_KEY_LIST = 250

Progress = Callable[[str], None]  # told what a long read has done so far ("read 5,000 issues")


@dataclass
class SearchResult:
    total: int | None = None  # what Jira said the query matched (Data Center only)
    read: int = 0
    complete: bool = True
    problems: list[str] = field(default_factory=list)


def chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def dict_or_empty(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def issue_key(raw: dict) -> str:
    key = raw.get("key")
    return key.upper() if isinstance(key, str) else ""


def hand_on(issues: list[dict], seen: set[str], on_page, result: SearchResult, progress, *,
            total: int | None = None) -> None:
    """Give ``on_page`` the issues of a page not handed on before, and say how many are read."""
    fresh = _fresh(issues, seen)
    if fresh:
        on_page(fresh)
    result.read = len(seen)
    if progress:
        of = f" of {total:,}" if total is not None else ""
        progress(f"read {result.read:,}{of} issues")


def listing_and_gaps(result: SearchResult, listing: SearchResult, unexplained: list[str], what: str) -> None:
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
        key = issue_key(raw) or f"#{id(raw)}"
        if key not in seen:
            seen.add(key)
            fresh.append(raw)
    return fresh

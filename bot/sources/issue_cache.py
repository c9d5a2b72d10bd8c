"""What a rescan knows of the scope without asking Jira: the issue cache kept beside the cursor.

A complete read through a store that keeps it (``bot.store.issue_cache``) writes, for every
issue in scope, its key, parent key, level, ``updated`` and its raw fields as read (nulls dropped,
users cut to what the normalizer reads, compressed), in the same transaction as the cursor. A
full read replaces the lot; a rescan rewrites the issues it read.

A rescan then takes the parents, ancestors and children of the edited issues from the cache
instead of reading them again. That is safe for an issue in scope that was not edited since
the cache was written: an edit would have put it in the rescan's own search. Whether a cached
issue is still in scope and unedited is asked in one keys-only search
(``(scope) AND updated < bound AND key in (...)``); anything else (out of scope, deleted,
edited out of the scope, never cached) is read live, as without a cache.

The cache is used only when the cursor says it was written with it, for the same fields and
the same configuration of hierarchy and fields (``cache_tag``); otherwise the rescan reads
relatives live and leaves the cache to the next full read.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Protocol

from bot.config import Config

CACHE_VERSION = 1
# The normalizer reads only these of a user object (``Normalizer._user``/``_slim``): the avatar
# links and time zone Jira sends with every user are not kept.
USER_KEYS = ("accountId", "name", "key", "displayName", "emailAddress")


class IssueCacheStore(Protocol):
    """A cursor store that also keeps the issue cache (``bot.store.Store``, ``DeferredCursors``)."""

    def cached_links(self, scope: str, keys: Iterable[str] = (), *,
                     parents: Iterable[str] = ()) -> dict[str, tuple[str | None, str | None]]: ...

    def cached_raws(self, scope: str, keys: Iterable[str]) -> dict[str, bytes]: ...

    def save_read(self, scope: str, cursor: dict, cache: "CacheWrite | None") -> None: ...


def keeps_cache(cursor_store: Any) -> bool:
    return all(callable(getattr(cursor_store, name, None))
               for name in ("cached_links", "cached_raws", "save_read"))


def cache_tag(fields_hash: str, config: Config) -> str:
    """What a cache was written for: the fields read, and the configuration that decides parent
    keys and levels. A cache with another tag is not used."""
    facts = json.dumps([CACHE_VERSION, fields_hash, config.section("hierarchy"), config.section("fields")],
                       sort_keys=True, default=str)
    return hashlib.sha256(facts.encode()).hexdigest()[:16]


# -- raw issues, packed ----------------------------------------------------------------------

def _slim(value: Any) -> Any:
    if isinstance(value, dict) and ("accountId" in value or ("key" in value and "displayName" in value)):
        return {name: value[name] for name in USER_KEYS if name in value}
    return value


def pack(raw: dict) -> bytes:
    """One raw issue as the cache keeps it: id, key and the fields read, without nulls."""
    fields = raw.get("fields") if isinstance(raw.get("fields"), dict) else {}
    slim = {"id": raw.get("id"), "key": raw.get("key"),
            "fields": {name: _slim(value) for name, value in fields.items() if value is not None}}
    return zlib.compress(json.dumps(slim, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def unpack(blob: bytes) -> dict:
    return json.loads(zlib.decompress(blob))


class RawKeeper:
    """The packed raw issues of one read's own search, by key, for the cache written after it."""

    def __init__(self) -> None:
        self.packed: dict[str, bytes] = {}

    def keep(self, issues: list[dict]) -> None:
        for raw in issues:
            key = raw.get("key")
            if isinstance(key, str):
                self.packed[key.upper()] = pack(raw)


@dataclass
class CacheWrite:
    """What a complete read writes to the cache, with its cursor."""

    replace: bool  # a full read: the cache becomes exactly ``rows``
    rows: list[tuple[str, str | None, str | None, datetime | None, bytes]]  # key, parent, level, updated, raw
    forget: set[str] = field(default_factory=set)  # cached keys no longer in scope (or gone)


class IssueCache:
    """The scope's cache as one rescan sees it: links looked up as needed (a few small queries,
    not the whole scope), raw issues on demand."""

    def __init__(self, store: IssueCacheStore, scope: str):
        self.store = store
        self.scope = scope
        self.links: dict[str, tuple[str | None, str | None]] = {}  # key -> (parent key, level), as looked up
        self._absent: set[str] = set()

    def look_up(self, keys: Iterable[str]) -> None:
        """Look up the links of ``keys`` not looked up yet, in one query (``parent_of`` asks one at a time)."""
        todo = sorted({k for k in keys if k and k not in self.links and k not in self._absent})
        if todo:
            found = self.store.cached_links(self.scope, todo)
            self.links.update(found)
            self._absent.update(k for k in todo if k not in found)

    def cached(self, key: str) -> bool:
        self.look_up([key])
        return key in self.links

    def parent_of(self, key: str) -> str | None:
        self.look_up([key])
        entry = self.links.get(key)
        return entry[0] if entry else None

    def children_of(self, keys: Iterable[str]) -> set[str]:
        found = self.store.cached_links(self.scope, parents=sorted(set(keys)))
        self.links.update(found)
        return set(found)

    def ancestors(self, starts: Iterable[str | None], stop: set[str], depth: int) -> set[str]:
        """The cached issues among ``starts`` and their cached ancestors, up to ``depth`` levels,
        not climbing past keys in ``stop``: one lookup per level."""
        found: set[str] = set()
        level = {key for key in starts if key and key not in stop}
        for _ in range(depth):
            self.look_up(level)
            level = {key for key in level if key in self.links and key not in found}
            if not level:
                break
            found |= level
            level = {self.links[key][0] for key in level} - stop - found - {None}
        return found

    def raws(self, keys: Iterable[str]) -> list[dict]:
        packed = self.store.cached_raws(self.scope, sorted(set(keys)))
        return [unpack(packed[key]) for key in sorted(packed)]

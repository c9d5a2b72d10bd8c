"""Owner fields read after the rules, for the issues that have findings only.

On a full read, ``assignee`` and ``reporter`` were over 40% of govbot's bytes
on Cloud (a user object carries four avatar URLs, its account type, time zone
and links), yet nothing but a finding's owner reads them, and a few issues in
a hundred have findings. So a live scan leaves them out of the scope read
unless a rule's check, scope or message, or a configured logical field (the
digest reads those), reads them (``deferrable``), and ``LateOwners`` reads
them once the rules have run, for the issues ``bot.runs.owners`` names:

- Data Center: ``POST /rest/api/2/search`` with ``key in (...)`` in the body,
  as many keys a request as the server's page cap (the scope read learned it;
  1,000 by default), fields = the owner fields only;
- Cloud: ``POST /rest/api/3/issue/bulkfetch`` by issue id, 1,000 ids a request
  (Jira allows 1,000 when only single-valued fields are named; a site that
  refuses gets 100), a few requests at once through ``pool.Pipeline``.

An issue is matched by id first (a moved issue answers under its new key).
What Jira says is gone (Cloud ``issueErrors``, Data Center unknown keys or
keys the search no longer returns) is ``gone``; what could not be read
(a failed request after its retries, an answer that cannot be decoded, ids
Cloud neither returned nor called gone) is ``unread``. The incremental
cursor is written only once every owner asked for is read (``commit``), so
a rescan after a failed owner read reads those issues again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from bot.errors import JiraError, NetworkError
from bot.model import Issue
from bot.sources.pool import Pipeline
from bot.workspace import Workspace

# The owner fields a scope read may leave for later (the Issue attributes ``Issue.user`` reads).
OWNER_FIELDS = ("assignee", "reporter")
CLOUD_CHUNK = 1000  # bulkfetch: up to 1,000 issues when only single-valued fields are named
CLOUD_SMALL_CHUNK = 100  # bulkfetch's limit otherwise
WHAT = "reading the owners of issues with findings"


def deferrable(ruleset, config) -> tuple[str, ...]:
    """The owner fields only a finding's owner reads: no evaluated rule's check, scope or message reads
    them and no configured logical field (the digest reads those) is one of them. Empty without rules."""
    if ruleset is None or not hasattr(ruleset, "rules"):
        return ()
    read: set[str] = set()
    for rule in ruleset.rules:
        if not (rule.enabled or rule.metric):  # metric-only rules are evaluated too
            continue
        for name in rule.fields():
            read.update(n.casefold() for n in config.synonyms(name))
    for logical, synonyms in config.section("fields").items():
        read.update(n.casefold() for n in [logical, *(synonyms or [])])
    return tuple(name for name in OWNER_FIELDS if name not in read)


@dataclass
class OwnerAnswer:
    """What one ``LateOwners.read`` could not give: keys not read (a fault) and keys Jira no longer has."""

    unread: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    problem: str | None = None


class LateOwners:
    """Reads the deferred owner fields of chosen issues into the workspace (see the module doc)."""

    def __init__(self, source, normalizer, workspace: Workspace, fields: tuple[str, ...],
                 commit: Callable[[], None] | None = None):
        self.source = source  # bot.sources.jira.JiraSource (not imported: it imports this module)
        self.normalizer = normalizer
        self.workspace = workspace
        self.fields = tuple(fields)
        self.done: set[str] = set()  # keys whose owners are read (or known gone): never asked twice
        self._commit = commit
        self._cloud_chunk = CLOUD_CHUNK
        self.requests = 0

    def read(self, keys: Iterable[str]) -> OwnerAnswer:
        """Read the owner fields of ``keys`` (issues in scope); commits the cursor once all are read."""
        issues = self.workspace.issues
        wanted = sorted({key for key in keys if key in issues} - self.done)
        answer = OwnerAnswer()
        if wanted:
            answer = self._read([issues[key] for key in wanted])
        if not answer.unread and self._commit is not None and self.workspace.complete:
            commit, self._commit = self._commit, None
            commit()
        return answer

    def _read(self, issues: list[Issue]) -> OwnerAnswer:
        source, fields = self.source, list(self.fields)
        by_ref = {}  # what Jira may answer with (id, key) -> the workspace's key
        for issue in issues:
            by_ref[issue.key.upper()] = issue.key
            if issue.id:
                by_ref[issue.id] = issue.key
        asked = {issue.key for issue in issues}
        returned: set[str] = set()
        answer = OwnerAnswer()
        unreadable = len(source.transport.unreadable)

        def apply(raws: list[dict]) -> None:
            for raw in raws:
                key = by_ref.get(str(raw.get("id") or "")) or by_ref.get(str(raw.get("key") or "").upper())
                values = raw.get("fields")
                if key is None or not isinstance(values, dict):
                    continue
                self.normalizer.fill_users(self.workspace.issues[key],
                                           {name: values.get(name) for name in self.fields})
                returned.add(key)

        def handle(result: tuple[list[dict], set[str], set[str]]) -> None:
            raws, gone, unread = result
            apply(raws)
            answer.gone.update(by_ref.get(ref, ref) for ref in gone)
            answer.unread.update(by_ref.get(ref, ref) for ref in unread)

        try:
            with Pipeline(source.concurrency, handle) as pipeline:
                if source.is_cloud:
                    refs = [issue.id or issue.key for issue in issues]
                    for start in range(0, len(refs), self._cloud_chunk):
                        pipeline.submit(self._cloud, refs[start:start + self._cloud_chunk], fields)
                else:
                    keys = [issue.key for issue in issues]
                    size = max(1, source.dc_page_cap)
                    for start in range(0, len(keys), size):
                        pipeline.submit(self._datacenter, keys[start:start + size], fields)
                pipeline.finish()
        except (JiraError, NetworkError) as error:
            answer.problem = error.message
        answer.gone -= returned
        missing = asked - returned - answer.gone - answer.unread
        if answer.problem is not None:
            answer.unread |= missing  # not reached, or cut short: not known to be gone
        else:
            answer.gone |= missing  # Data Center: a complete search that no longer returns the key
        notes = source.transport.unreadable[unreadable:]
        if notes:
            # An answer held an issue that could not be decoded: what is missing may be it, not gone.
            del source.transport.unreadable[unreadable:]
            answer.unread |= answer.gone
            answer.gone = set()
            answer.problem = answer.problem or notes[0]
        answer.gone -= answer.unread
        self.done |= (returned | answer.gone)
        return answer

    def _cloud(self, refs: list[str], fields: list[str]) -> tuple[list[dict], set[str], set[str]]:
        """(issues, refs reported gone, refs neither) for one bulkfetch; runs on a pool thread."""
        try:
            raws, unexplained = self.source.fetch_ids(refs, fields, WHAT)
        except JiraError as error:
            # A site that keeps bulkfetch's older limit of 100 a request refuses more with a 400.
            if getattr(error, "status", None) != 400 or len(refs) <= CLOUD_SMALL_CHUNK:
                raise
            self._cloud_chunk = CLOUD_SMALL_CHUNK
            raws, unexplained = [], []
            for start in range(0, len(refs), CLOUD_SMALL_CHUNK):
                more, missing = self.source.fetch_ids(refs[start:start + CLOUD_SMALL_CHUNK], fields, WHAT)
                raws += more
                unexplained += missing
        returned = {str(raw.get("id")) for raw in raws} | {str(raw.get("key") or "").upper() for raw in raws}
        unread = set(unexplained)
        gone = {ref for ref in refs if ref not in returned and ref.upper() not in returned and ref not in unread}
        return raws, gone, unread

    def _datacenter(self, keys: list[str], fields: list[str]) -> tuple[list[dict], set[str], set[str]]:
        raws, unknown = self.source.post_search_keys(keys, fields, WHAT)
        return raws, unknown, set()

"""Issues gone from Jira: open findings of issues that a whole read of the scope no longer returns.

A deleted issue is never read again, so nothing would ever resolve its findings and its
owner would be reminded about it for good. A read of the *whole configured scope* from
live Jira (``Workspace.whole_scope``, complete) is the evidence that starts the question,
never the answer by itself: a page lost without an error, or an issue skipped as malformed,
also leaves an issue out. So the issues with open findings that the read did not return
are put to Jira in one key-only search of the scope (``key in (...)``, 100 keys a request):
a key it does not return is deleted, no longer visible, or moved out of the scope (a moved
issue answers under its new key, which the read saw on its own). Only those are resolved.

Never on a partial or failed read (changes only, named issues, ``--jql``, a fault), never
when the confirming search fails, and never from a snapshot: a snapshot does not say that
it holds the whole scope, so a key missing from it proves nothing.
"""

from __future__ import annotations

import logging

from bot.errors import GovbotError

log = logging.getLogger("govbot.runs")


def gone_issues(batch, store) -> set[str]:
    """The issues with open findings in ``store`` that Jira confirms are no longer in the scope."""
    workspace = batch.workspace
    if not (workspace.whole_scope and workspace.complete and not workspace.partial and batch.keys is None):
        return set()
    read = set(workspace.issues)
    candidates = sorted({state.issue for state in store.finding_states(open_only=True).values()} - read)
    if not candidates:
        return set()
    from bot.sources.jira import keys_in_scope

    try:
        still = keys_in_scope(batch.config, candidates)
    except GovbotError as error:
        batch.notes.append(f"could not ask Jira whether {len(candidates)} issue(s) with open findings that this "
                           f"read did not return are gone ({error.message}); their findings stay open")
        return set()
    gone = set(candidates) - still
    if gone:
        log.info("%d issue(s) with open findings are no longer in Jira or in the scope: %s", len(gone),
                 ", ".join(sorted(gone)[:20]) + (" ..." if len(gone) > 20 else ""))
    return gone

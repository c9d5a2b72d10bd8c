"""Whether an issue is one govbot watches: inside the configured scope, and there.

Chat answers and acts (``/govbot check``, ``/govbot waive``) only on such
issues. Whatever the bot's Jira account can read beyond that (another
project, an issue the scope's JQL leaves out) is not for a chat user to see
through govbot, and a waiver on an issue that does not exist is a mistake.

The project part (``jira.projects``) is decided from the key alone, before
anything is read; a scope with a base query (``jira.jql``) is asked of Jira
with one key-only search. A snapshot or the demo is its own scope: the issues
it holds in scope (not the relatives it carries as context).
"""

from __future__ import annotations

from typing import Any, Callable

from bot.runs.inputs import Inputs, Read, load_workspace

IN_SCOPE = "in-scope"
OUT_OF_SCOPE = "out-of-scope"   # the issue may exist, but govbot does not watch it
NOT_FOUND = "not-found"          # a snapshot or the demo does not hold it at all


def project_in_scope(config, key: str) -> bool:
    projects = {str(p).casefold() for p in config.settings.jira.projects or [] if p}
    return not projects or key.split("-", 1)[0].casefold() in projects


def issue_scope(inputs: Inputs, key: str, *, snapshot: str | None = None,
                workspace_loader: Callable[[], Any] | None = None) -> str:
    """IN_SCOPE, OUT_OF_SCOPE or NOT_FOUND for ``key`` (upper case). On live Jira an issue that does
    not exist and one outside the scope look the same (OUT_OF_SCOPE): Jira cannot tell them apart
    without reading outside the scope."""
    if not project_in_scope(inputs.config, key):
        return OUT_OF_SCOPE
    kind = Read(snapshot=snapshot).source_kind(inputs)
    if kind in ("snapshot", "demo"):
        workspace = workspace_loader() if workspace_loader is not None else load_workspace(inputs, snapshot=snapshot)
        issue = workspace.issues.get(key)
        if issue is not None and not issue.stub:
            return IN_SCOPE
        return OUT_OF_SCOPE if key in workspace.relatives else NOT_FOUND
    from bot.sources.jira import keys_in_scope

    return IN_SCOPE if key in keys_in_scope(inputs.config, [key]) else OUT_OF_SCOPE

"""Which issues of a full live read need their children listed, for rules that read children.

A full read has every child inside the scope already; children elsewhere (another
project, outside ``jira.jql``) are not, and a rule like "epic with no child issues"
must not fire on an epic whose stories live in another project. So, only when an
enabled rule reads children, the reader lists the children of the issues such a rule
may judge, in bulk: one JQL per 100 parents (``parent in (...)`` on Cloud, Epic Link
and Parent Link too on Data Center), each paged at the server's maximum.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Iterable

from bot.config import Config
from bot.engine.context import Context
from bot.model import Issue
from bot.workspace import Workspace


def parents_needing_children(workspace: Workspace, rules: Iterable, config: Config) -> list[Issue]:
    """The issues in scope that a rule reading children may judge.

    Levels are not final until the read is finished (Data Center learns the Epic type from
    the data), so a scope's ``levels`` and ``min_level`` are left out here: this errs on
    listing too many parents, never too few; so is the active-work window (a scan's ``--now``
    may differ from today). Sub-tasks have no children to list.
    """
    scopes = [dataclasses.replace(rule.scope, levels=[], min_level=None)
              for rule in rules if rule.enabled and rule.needs_children]
    if not scopes:
        return []
    context = Context(workspace, config, datetime.now(timezone.utc))
    out = []
    for issue in workspace.issues.values():
        if issue.jira_level == -1 or (issue.issue_type is not None and issue.issue_type.subtask is True):
            continue
        if any(scope.matches(issue, config.hierarchy, context, window=False) for scope in scopes):
            out.append(issue)
    return out


def unsure_on_data_center(parents: list[Issue]) -> set[str]:
    """Parents whose type nothing placed yet: Data Center's Epic type may be learned only when
    the read is finished, after their Epic Link children were asked for. Their children are
    treated as not listed (no verdict) rather than risk "no child issues" on an epic."""
    return {issue.key for issue in parents if issue.level is None}

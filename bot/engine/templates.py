"""Rule messages: Jinja2 templates in a sandbox.

Rule files are user-authored, so templates run in Jinja's immutable sandbox
with strict undefined variables and see only a read-only view of the issue.
Messages are plain text: each output channel (terminal, Slack, Jira, HTML)
escapes them for itself.

Rendering is bounded in what it builds (the limits below) and in time: every
loop step, call, filter, attribute and output chunk checks the clock of
``budget``, so a template stops within one step of its deadline.
"""

from __future__ import annotations

import time
from typing import Any

from bot.engine import budget
from bot.escape import valid_text

MAX_MESSAGE_CHARS = 1000
MAX_RENDER_CHARS = 4 * MAX_MESSAGE_CHARS  # rendering stops here; the message is cut anyway
# What a template reads of the issue: text is cut here (with an ellipsis), so a long field
# renders, cut, instead of tripping sandbox.MAX_SEQUENCE; lists keep their first items.
MAX_VIEW_CHARS = 2 * MAX_MESSAGE_CHARS
MAX_VIEW_ITEMS = 1000
# The Jinja environment and its bounds are bot/engine/sandbox.py, imported when a template is
# compiled: a scan whose rules the cache vouches for, and that finds nothing, never loads Jinja.


def _cut(value: str) -> str:
    return value if len(value) <= MAX_VIEW_CHARS else value[:MAX_VIEW_CHARS - 1] + "…"


def _kind(issue) -> str:
    level, type_name = issue.level or "", issue.type or ""
    if not level or not type_name or type_name.casefold() == level.casefold():
        return _cut(level or type_name)
    return _cut(f"{type_name}, {level} level")


class IssueView:
    """What a message template may read about an issue."""

    __slots__ = ("_issue", "_context")

    def __init__(self, issue, context=None):
        self._issue = issue
        self._context = context

    # Text is cut at MAX_VIEW_CHARS: a 50,000-character field renders, cut, rather than
    # failing the size bounds and losing the finding.
    key = property(lambda self: _cut(self._issue.key))
    summary = property(lambda self: _cut(self._issue.summary))
    type = property(lambda self: _cut(self._issue.type))
    level = property(lambda self: _cut(self._issue.level or ""))
    status = property(lambda self: _cut(self._issue.status))
    status_category = property(lambda self: self._issue.status_category)
    labels = property(lambda self: [_cut(label) for label in self._issue.labels[:MAX_VIEW_ITEMS]])
    components = property(lambda self: [_cut(name) for name in self._issue.components[:MAX_VIEW_ITEMS]])
    project = property(lambda self: _cut(self._issue.project))
    priority = property(lambda self: _cut(self._issue.priority or ""))
    team = property(lambda self: _cut(self._issue.team or ""))
    url = property(lambda self: _cut(self._issue.url or ""))
    parent = property(lambda self: _cut(self._issue.parent_key or ""))
    assignee = property(lambda self: _cut(self._issue.assignee.display_name or "") if self._issue.assignee else "")

    @property
    def parent_level(self) -> str:
        if self._context is None:
            return ""
        parent = self._context.workspace.parent(self._issue)
        return _cut(parent.level or parent.type) if parent else ""

    @property
    def kind(self) -> str:
        """The level, with the type when they differ: "story", but "Bug, story level"."""
        return _kind(self._issue)

    @property
    def parent_kind(self) -> str:
        if self._context is None:
            return ""
        parent = self._context.workspace.parent(self._issue)
        return _kind(parent) if parent else ""

    @property
    def resolved(self) -> str:
        return self._issue.resolved.date().isoformat() if self._issue.resolved else ""

    @property
    def days_since_resolved(self) -> int | str:
        if self._issue.resolved is None or self._context is None:
            return ""
        return (self._context.now - self._issue.resolved).days

    def field(self, name: str) -> str:
        if self._context is not None:
            return _cut(self._context.lookup(self._issue, str(name))[0])
        return _cut(self._issue.text(str(name)))

    def section(self, name: str) -> str:
        return _cut(self._issue.section(str(name)) or "")




_FIELDS_READ: dict[str, frozenset[str]] = {}


def remember_fields_read(source: str, names) -> None:
    """What ``fields_read(source)`` found on an earlier run (bot/yamlcache.py), so it need not parse again."""
    _FIELDS_READ[str(source)] = frozenset(str(name) for name in names)


def fields_read(source: str) -> frozenset[str]:
    """Field names a message template reads (``issue.field('Name')`` with a literal
    name, ``issue.priority``...), so sources fetch them even when no check reads them."""
    if source not in _FIELDS_READ:
        _FIELDS_READ[source] = frozenset(_fields_read(source))
    return _FIELDS_READ[source]


def _fields_read(source: str) -> set[str]:
    from bot.engine import sandbox

    return sandbox.fields_read(source)


def compile_template(source: str):
    """Compile a message template; raises TemplateSyntaxError (also for what messages may not use)."""
    from bot.engine import sandbox

    return sandbox.compile_template(source)


class LazyTemplate:
    """A message template that compiled and trial-rendered on an earlier run (the rule pack's cache entry,
    bot/yamlcache.py): compiled when a finding first needs it, not for every rule at start-up."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str):
        self.source = source
        self._compiled = None

    def generate(self, *args, **kwargs):
        if self._compiled is None:
            self._compiled = compile_template(self.source)
        return self._compiled.generate(*args, **kwargs)


def render(template, *, issue, rule, evidence: str, params: dict[str, Any], context) -> str:
    """The message, in at most ``budget.TEMPLATE_SECONDS`` (``budget.OverBudget`` past it).

    In a scan whose messages have used the run's budget, the rule's title instead.
    """
    run = budget.current_run()
    if run is not None and not run.messages_allowed():
        run.plain_messages += 1
        return " ".join(str(getattr(rule, "title", "") or getattr(rule, "id", "")).split())
    started = time.monotonic()
    chunks: list[str] = []
    size = 0
    try:
        with budget.deadline(budget.TEMPLATE_SECONDS):
            for chunk in template.generate(issue=IssueView(issue, context), rule=rule, evidence=evidence,
                                           params=params, now=context.now.date().isoformat() if context else ""):
                budget.check()
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_RENDER_CHARS:
                    break  # the message is cut below anyway: stop a runaway loop from writing more
    finally:
        if run is not None:
            run.spent_on_message(time.monotonic() - started, min(size, MAX_MESSAGE_CHARS))
    text = valid_text(" ".join("".join(chunks).split()))
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


def __getattr__(name: str) -> Any:
    """``ENVIRONMENT``, ``TemplateSyntaxError``, ``SecurityError``: from the sandbox, imported on first use."""
    if name in ("ENVIRONMENT", "TemplateSyntaxError", "SecurityError"):
        from bot.engine import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["IssueView", "LazyTemplate", "compile_template", "render"]

"""Rule messages: Jinja2 templates in a sandbox.

Rule files are user-authored, so templates run in Jinja's immutable sandbox
with strict undefined variables and see only a read-only view of the issue.
Messages are plain text: each output channel (terminal, Slack, Jira, HTML)
escapes them for itself.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_MESSAGE_CHARS = 1000

ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                            trim_blocks=True, lstrip_blocks=True)


class IssueView:
    """What a message template may read about an issue."""

    __slots__ = ("_issue", "_context")

    def __init__(self, issue, context=None):
        self._issue = issue
        self._context = context

    key = property(lambda self: self._issue.key)
    summary = property(lambda self: self._issue.summary)
    type = property(lambda self: self._issue.type)
    level = property(lambda self: self._issue.level or "")
    status = property(lambda self: self._issue.status)
    status_category = property(lambda self: self._issue.status_category)
    labels = property(lambda self: list(self._issue.labels))
    components = property(lambda self: list(self._issue.components))
    project = property(lambda self: self._issue.project)
    priority = property(lambda self: self._issue.priority or "")
    team = property(lambda self: self._issue.team or "")
    url = property(lambda self: self._issue.url or "")
    parent = property(lambda self: self._issue.parent_key or "")
    assignee = property(lambda self: (self._issue.assignee.display_name or "") if self._issue.assignee else "")

    @property
    def parent_level(self) -> str:
        if self._context is None:
            return ""
        parent = self._context.workspace.parent(self._issue)
        return (parent.level or parent.type) if parent else ""

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
            return self._context.lookup(self._issue, str(name))[0]
        return self._issue.text(str(name))

    def section(self, name: str) -> str:
        return self._issue.section(str(name)) or ""


def compile_template(source: str):
    """Compile a message template; raises TemplateSyntaxError."""
    return ENVIRONMENT.from_string(source)


def render(template, *, issue, rule, evidence: str, params: dict[str, Any], context) -> str:
    text = template.render(issue=IssueView(issue, context), rule=rule, evidence=evidence,
                           params=params, now=context.now.date().isoformat() if context else "")
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


__all__ = ["IssueView", "compile_template", "render", "TemplateSyntaxError"]

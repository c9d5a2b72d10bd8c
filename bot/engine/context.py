"""What a check may look at besides the issue: the workspace, config and the date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Config
from bot.model import Issue
from bot.workspace import Workspace


@dataclass
class Context:
    workspace: Workspace
    config: Config
    now: datetime
    _placeholders: frozenset | None = field(default=None, repr=False)

    @property
    def placeholders(self) -> frozenset:
        """Configured placeholders, normalised once per run."""
        if self._placeholders is None:
            from bot.text import normalise_for_compare

            self._placeholders = frozenset(normalise_for_compare(p) for p in self.config.section("placeholders"))
        return self._placeholders

    def lookup(self, issue: Issue, name: str, sources: tuple[str, ...] = ("field", "section")) -> tuple[str, str]:
        """(text, where) for a logical field: the Jira field or a description section.

        Any configured synonym counts. A field holding real text wins; an empty
        field falls back to a section of the same name, because sites record
        outcomes in either place, sometimes both.
        """
        names = self.config.synonyms(name)
        if "field" in sources:
            for candidate in names:
                value = issue.text(candidate)
                if value.strip():
                    return value.strip(), f"field {candidate}"
        if "section" in sources:
            for candidate in names:
                value = issue.section(candidate)
                if value and value.strip():
                    return value.strip(), f"section {candidate}"
        return "", ""

    def hierarchy_rank(self, issue: Issue | None) -> int | None:
        if issue is None:
            return None
        return self.config.hierarchy.rank(issue.level)

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
        fallback = ("", "")
        if "field" in sources:
            for candidate in names:
                value = issue.text(candidate).strip()
                if value:
                    if not self.is_placeholder(value):
                        return value, f"field {candidate}"
                    fallback = fallback if fallback[0] else (value, f"field {candidate}")
        if "section" in sources:
            for candidate in names:
                value = (issue.section(candidate) or "").strip()
                if value:
                    if not self.is_placeholder(value):
                        return value, f"section {candidate}"
                    fallback = fallback if fallback[0] else (value, f"section {candidate}")
        # Only placeholders anywhere: hand back the first, so checks can say so.
        return fallback

    def is_placeholder(self, value: str) -> bool:
        from bot.text import normalise_for_compare

        folded = normalise_for_compare(value)
        return folded in self.placeholders or not any(ch.isalnum() for ch in folded)

    def hierarchy_rank(self, issue: Issue | None) -> int | None:
        if issue is None:
            return None
        return self.config.hierarchy.rank(issue.level)

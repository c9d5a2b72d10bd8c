"""Rule health from the findings lifecycle: per rule, what it found, what got fixed, what got waived.

Read only. A site uses it (``govbot rules stats``) to retire rules nobody needs: a
rule that never fired, or one whose every finding is waived. It counts findings,
never people: nothing here names an owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.store.database import Database, _guarded
from bot.store.schema import findings


@dataclass
class Week:
    start: datetime
    new: int = 0      # first seen this week
    fixed: int = 0    # resolved this week
    open: int = 0     # open at the end of the week (not waived)
    waived: int = 0   # open and waived at the end of the week (by today's waiver state)


@dataclass
class RuleHealth:
    rule: str
    ever: int = 0     # findings the store has ever held for the rule
    open: int = 0     # open now, not waived
    waived: int = 0   # open now, waived
    fixed: int = 0    # resolved within the weeks shown
    weeks: list[Week] = field(default_factory=list)

    @property
    def always_waived(self) -> bool:
        """Every finding it has open is waived, and it has some: is the rule wanted?"""
        return self.waived > 0 and self.open == 0

    def to_json(self) -> dict:
        return {"rule": self.rule, "ever": self.ever, "open": self.open, "waived": self.waived, "fixed": self.fixed,
                "always_waived": self.always_waived,
                "weeks": [{"start": w.start.date().isoformat(), "new": w.new, "fixed": w.fixed, "open": w.open,
                           "waived": w.waived} for w in self.weeks]}


class RuleHealthStore(Database):
    """Per-rule counts over recent weeks, from the findings table."""

    @_guarded
    def rule_health(self, now: datetime, weeks: int = 4) -> dict[str, RuleHealth]:
        """Each rule with findings in the store, with ``weeks`` weekly rows ending at ``now``."""
        starts = [now - timedelta(weeks=weeks - index) for index in range(weeks)]
        window = starts[0] if starts else now
        out: dict[str, RuleHealth] = {}
        with self.transaction() as connection:
            rows = connection.execute(sa.select(findings.c.rule, findings.c.first_seen, findings.c.resolved_at,
                                                findings.c.waived, findings.c.resolved_as))
            for row in rows:
                health = out.get(row.rule)
                if health is None:
                    health = out[row.rule] = RuleHealth(row.rule, weeks=[Week(start) for start in starts])
                health.ever += 1
                if row.resolved_at is None:
                    if row.waived:
                        health.waived += 1
                    else:
                        health.open += 1
                elif window < row.resolved_at <= now and row.resolved_as is None:
                    health.fixed += 1  # an issue deleted (resolved_as "gone") was not fixed
                for week in health.weeks:
                    # Weeks are (start, end]: the last one ends at ``now`` and includes it, so a finding
                    # recorded by a run at ``now`` (a `--now` digest, then `rules stats --now`) counts.
                    end = week.start + timedelta(weeks=1)
                    if week.start < row.first_seen <= end:
                        week.new += 1
                    if row.resolved_at is not None and week.start < row.resolved_at <= end \
                            and row.resolved_as is None:
                        week.fixed += 1
                    if row.first_seen <= end and (row.resolved_at is None or row.resolved_at > end):
                        if row.waived:
                            week.waived += 1
                        else:
                            week.open += 1
        return out

"""Snoozes: waivers given from chat, kept with who, why and until when."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from bot.store.database import Database, _guarded
from bot.store.schema import waivers
from bot.store.values import Snooze


class SnoozeStore(Database):
    """Snoozes: waivers given from chat, kept with who, why and until when."""

    # -- waivers and snoozes ------------------------------------------------------------------------
    @_guarded
    def add_snooze(self, issue: str, rule: str, *, reason: str, until: date | None, now: datetime,
                   by: str | None = None) -> int:
        """A waiver kept in the store (from chat or the CLI): suppresses ``rule`` on ``issue``."""
        if not reason or not reason.strip():
            raise ValueError("a snooze needs a reason")
        with self.transaction() as connection:
            return connection.execute(waivers.insert().values(
                issue=issue, rule=rule, source="snooze", by=by, reason=reason.strip(), until=until,
                created_at=now)).inserted_primary_key[0]

    @_guarded
    def revoke_snooze(self, snooze_id: int, now: datetime) -> bool:
        with self.transaction() as connection:
            return connection.execute(waivers.update().where(waivers.c.id == snooze_id,
                                                             waivers.c.revoked_at.is_(None))
                                      .values(revoked_at=now)).rowcount == 1

    @_guarded
    def snoozes(self, *, active_on: date | None = None) -> list[Snooze]:
        with self.transaction() as connection:
            query = sa.select(waivers).where(waivers.c.source == "snooze", waivers.c.revoked_at.is_(None))
            if active_on is not None:
                query = query.where(sa.or_(waivers.c.until.is_(None), waivers.c.until >= active_on))
            return [Snooze(row.id, row.issue, row.rule, row.by, row.reason, row.until, row.created_at)
                    for row in connection.execute(query.order_by(waivers.c.id))]

    @_guarded
    def snooze_history(self, issue: str, rule: str) -> list[Snooze]:
        """Every snooze ever given on ``issue`` and ``rule``, ended or not, oldest first (the renewal cap)."""
        with self.transaction() as connection:
            query = (sa.select(waivers).where(waivers.c.source == "snooze", waivers.c.issue == issue,
                                              waivers.c.rule == rule).order_by(waivers.c.id))
            return [Snooze(row.id, row.issue, row.rule, row.by, row.reason, row.until, row.created_at)
                    for row in connection.execute(query)]

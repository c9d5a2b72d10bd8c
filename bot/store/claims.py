"""Done once across replicas: the first process to claim a key does the work, every later claim is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.database import Database, _dialect_insert, _guarded
from bot.store.schema import once_claims

# How long a claim is kept. Slack retries a view submission within seconds; a month is far beyond
# any redelivery, and keeps the table small.
KEEP = timedelta(days=30)


class ClaimStore(Database):
    """Keys claimed once (``claim_once``), so two replicas sharing the store never both act on one event."""

    @_guarded
    def claim_once(self, key: str, now: datetime) -> bool:
        """Claim ``key`` in one transaction; False when it was claimed before (by this process or another)."""
        with self.transaction() as connection:
            connection.execute(once_claims.delete().where(once_claims.c.claimed_at < now - KEEP))
            insert = _dialect_insert(self.dialect, once_claims).values(key=key, claimed_at=now)
            result = connection.execute(insert.on_conflict_do_nothing(index_elements=["key"])
                                        .returning(once_claims.c.key))
            return result.first() is not None

"""The outbox's table: queue a delivery, claim it, finish it; exactly-once lives in bot.deliver.outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from bot.store.database import Database, _dialect_insert, _guarded
from bot.store.schema import deliveries
from bot.store.values import DELIVERY_STATUSES, Delivery, _delivery


class OutboxStore(Database):
    """The outbox's table: queue a delivery, claim it, finish it; exactly-once lives in bot.deliver.outbox."""

    # -- outbox -------------------------------------------------------------------------------------
    @_guarded
    def enqueue(self, *, dedupe_key: str, kind: str, recipient: str, payload: dict,
                fingerprints: list[str], now: datetime, person: str | None = None,
                channel: str | None = None, run_id: int | None = None) -> bool:
        """Record a message before it is sent. False when this dedupe key was queued before."""
        values = dict(dedupe_key=dedupe_key, kind=kind, recipient=recipient, payload=payload,
                      fingerprints=list(fingerprints), person=person, channel=channel, status="queued",
                      attempts=0, run_id=run_id, created_at=now)
        with self.transaction() as connection:
            insert = _dialect_insert(self.dialect, deliveries).values(**values)
            result = connection.execute(insert.on_conflict_do_nothing(index_elements=["dedupe_key"])
                                        .returning(deliveries.c.id))
            return result.first() is not None

    @_guarded
    def deliveries(self, *, status: str | Iterable[str] | None = None, kinds: Iterable[str] | None = None,
                   limit: int | None = None) -> list[Delivery]:
        with self.transaction() as connection:
            query = sa.select(deliveries).order_by(deliveries.c.id)
            if status is not None:
                statuses = [status] if isinstance(status, str) else list(status)
                query = query.where(deliveries.c.status.in_(statuses))
            if kinds is not None:
                query = query.where(deliveries.c.kind.in_(list(kinds)))
            if limit:
                query = query.limit(limit)
            return [_delivery(row) for row in connection.execute(query)]

    @_guarded
    def delivery(self, dedupe_key: str) -> Delivery | None:
        with self.transaction() as connection:
            row = connection.execute(sa.select(deliveries).where(deliveries.c.dedupe_key == dedupe_key)).first()
            return _delivery(row) if row else None

    @_guarded
    def claim(self, delivery_id: int, now: datetime, *, from_status: str = "queued") -> bool:
        """Mark a delivery as being sent (committed before the network call). False if someone else has it."""
        with self.transaction() as connection:
            result = connection.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == from_status)
                .values(status="sending", attempts=deliveries.c.attempts + 1, claimed_at=now))
            return result.rowcount == 1

    @_guarded
    def release(self, delivery_id: int, *, error: str | None = None) -> bool:
        """Undo a claim whose send certainly did not reach the other side (a 429, a refused connection).

        Committed before any wait, so a run killed while it waits leaves the message
        plainly queued, never in doubt.
        """
        with self.transaction() as connection:
            return connection.execute(
                deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == "sending")
                .values(status="queued", last_error=error)).rowcount == 1

    @_guarded
    def requeue(self, delivery_id: int, *, payload: dict | None = None, error: str | None = None) -> None:
        """Put a message back in the queue (an in-doubt post settled as "send it"), optionally re-worded."""
        values: dict[str, Any] = {"status": "queued", "last_error": error}
        if payload is not None:
            values["payload"] = payload
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

    @_guarded
    def supersede(self, delivery_ids: Iterable[int], into: str, now: datetime) -> list[int]:
        """Mark queued messages as merged into the message ``into`` (a dedupe key); returns the ids merged."""
        merged = []
        with self.transaction() as connection:
            for delivery_id in delivery_ids:
                done = connection.execute(
                    deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == "queued")
                    .values(status="merged", last_error=f"merged into {into}")).rowcount
                if done:
                    merged.append(delivery_id)
        return merged

    @_guarded
    def set_delivery_channel(self, delivery_id: int, channel: str) -> None:
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(channel=channel))

    @_guarded
    def finish_delivery(self, delivery_id: int, status: str, now: datetime, *, external_id: str | None = None,
                        error: str | None = None, channel: str | None = None) -> None:
        if status not in DELIVERY_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}")
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = now
        if external_id is not None:
            values["external_id"] = external_id
        if channel is not None:
            values["channel"] = channel
        with self.transaction() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

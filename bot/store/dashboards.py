"""Each week's dashboard, kept so the service can serve the latest week and the archive."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from bot.store.database import Database, _guarded, _upsert
from bot.store.schema import dashboards


class DashboardStore(Database):
    """Each week's dashboard payload (``bot.digest.archive``), one row per week, the latest run's."""

    @_guarded
    def record_dashboard(self, week_start: date, payload: dict, now: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, dashboards,
                    {"week_start": week_start, "payload": payload, "updated_at": now}, ["week_start"])

    @_guarded
    def dashboard_weeks(self) -> list[tuple[date, datetime]]:
        """Every stored week with when it was last written, oldest first."""
        with self.transaction() as connection:
            rows = connection.execute(sa.select(dashboards.c.week_start, dashboards.c.updated_at)
                                      .order_by(dashboards.c.week_start)).all()
            return [(row.week_start, row.updated_at) for row in rows]

    @_guarded
    def dashboard(self, week_start: date) -> dict | None:
        with self.transaction() as connection:
            return connection.execute(sa.select(dashboards.c.payload)
                                      .where(dashboards.c.week_start == week_start)).scalar()

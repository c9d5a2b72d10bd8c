"""Runs and weekly digest figures: what trends and the circuit breaker read."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from bot.store.database import Database, _guarded, _upsert
from bot.store.schema import cursors, digest_history_table, scan_runs

# Each service job's last success, kept beside the read cursors (one small row per job),
# so /metrics reports it across restarts instead of 0 after every deploy.
JOB_SUCCESS = "job-success:"


class HistoryStore(Database):
    """Runs and weekly digest figures: what trends and the circuit breaker read."""

    # -- runs ---------------------------------------------------------------------------------------
    @_guarded
    def start_run(self, kind: str, now: datetime, *, source: str = "") -> int:
        with self.transaction() as connection:
            return connection.execute(scan_runs.insert().values(
                kind=kind, source=source, started=now, complete=True, counts={})).inserted_primary_key[0]

    @_guarded
    def finish_run(self, run_id: int, now: datetime, counts: dict, *, complete: bool = True) -> None:
        with self.transaction() as connection:
            connection.execute(scan_runs.update().where(scan_runs.c.id == run_id)
                               .values(finished=now, counts=counts, complete=complete))

    @_guarded
    def recent_runs(self, kind: str, limit: int = 10) -> list[dict]:
        """The latest finished runs of one kind, newest first, as dicts with their counts."""
        with self.transaction() as connection:
            rows = connection.execute(
                sa.select(scan_runs).where(scan_runs.c.kind == kind, scan_runs.c.finished.is_not(None))
                .order_by(scan_runs.c.id.desc()).limit(limit))
            return [{"id": row.id, "started": row.started, "finished": row.finished, "complete": row.complete,
                     "source": row.source, "counts": row.counts or {}} for row in rows]

    # -- service jobs -------------------------------------------------------------------------------
    @_guarded
    def record_job_success(self, job: str, when: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, cursors,
                    {"scope": JOB_SUCCESS + job, "value": {"at": when.isoformat()}, "updated_at": when}, ["scope"])

    @_guarded
    def job_successes(self) -> dict[str, datetime]:
        """When each service job last succeeded, as recorded by ``record_job_success``."""
        with self.transaction() as connection:
            rows = connection.execute(sa.select(cursors.c.scope, cursors.c.value)
                                      .where(cursors.c.scope.like(JOB_SUCCESS + "%"))).all()
        out = {}
        for row in rows:
            try:
                out[row.scope[len(JOB_SUCCESS):]] = datetime.fromisoformat((row.value or {})["at"])
            except (KeyError, TypeError, ValueError):
                continue  # a row this version cannot read: the metric starts at 0, as before
        return out

    # -- digest history -----------------------------------------------------------------------------
    @_guarded
    def record_digest(self, team: str, week_start: date, figures: dict) -> None:
        now = datetime.now(timezone.utc)
        with self.transaction() as connection:
            _upsert(connection, self.dialect, digest_history_table,
                    {"team": team, "week_start": week_start, "figures": figures, "updated_at": now},
                    ["team", "week_start"])

    @_guarded
    def digest_history(self, team: str, until: date, weeks: int) -> list[tuple[date, dict]]:
        """Up to ``weeks`` recorded weeks for ``team`` starting on or before ``until``, oldest first."""
        with self.transaction() as connection:
            rows = connection.execute(
                sa.select(digest_history_table.c.week_start, digest_history_table.c.figures)
                .where(digest_history_table.c.team == team, digest_history_table.c.week_start <= until,
                       digest_history_table.c.week_start > until - timedelta(weeks=weeks))
                .order_by(digest_history_table.c.week_start.desc()).limit(weeks)).all()
            return [(row.week_start, row.figures) for row in reversed(rows)]

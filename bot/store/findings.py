"""The findings lifecycle: record a scan, read finding states, mark nudges and escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from bot.store.database import Database, _chunks, _guarded, _select_in
from bot.store.schema import findings, scan_runs
from bot.store.values import FindingState, RecordSummary, _finding_state


# findings.resolved_as of a finding whose issue is no longer in Jira or in the scope: not fixed, gone.
GONE = "gone"


class FindingsStore(Database):
    """The findings lifecycle: record a scan, read finding states, mark nudges and escalations."""

    # -- findings lifecycle -----------------------------------------------------------------------
    @_guarded
    def record_scan(self, result, now: datetime, *, source: str | None = None) -> RecordSummary:
        """Update the findings lifecycle from one scan, in one transaction.

        New findings are inserted, returning ones reopened, and open findings
        that did not fire again are resolved - but only for issues this scan
        actually read and rules it actually evaluated, so a partial read or a
        ``--rule`` subset never resolves what it did not look at. Every open
        finding of an issue in ``result.gone`` (Jira confirmed it is no longer
        in the scope, ``bot.runs.gone``) resolves, whatever its rule.
        """
        current = {}
        for finding in result.findings:
            current.setdefault(finding.fingerprint, finding)
        read_issues = set(getattr(result, "read_keys", None) or result.workspace.issues)
        keys = getattr(result, "keys", None)
        if keys is not None:
            read_issues &= set(keys)
        evaluated_rules = _evaluated_rules(result)
        failed = _failed_pairs(result)
        gone = set(getattr(result, "gone", None) or ())
        workspace = result.workspace
        with self.transaction() as connection:
            run_id = connection.execute(scan_runs.insert().values(
                kind="scan", source=source or getattr(workspace, "source", "") or "", started=now,
                complete=bool(getattr(workspace, "complete", True)), counts={})).inserted_primary_key[0]
            summary = RecordSummary(run_id)
            existing = {row.fingerprint: row for row in _select_in(
                connection, findings, findings.c.fingerprint, list(current))}
            inserts, updates = [], []
            for fingerprint_value, finding in current.items():
                values = _finding_values(finding, now)
                row = existing.get(fingerprint_value)
                if row is None:
                    summary.new.append(fingerprint_value)
                    if finding.waived:
                        summary.waiver_started.append(fingerprint_value)
                    inserts.append({**values, "fingerprint": fingerprint_value, "first_seen": now,
                                    "resolved_at": None, "resolved_as": None, "reopened": 0, "nudge_count": 0,
                                    "last_nudged_at": None, "escalated_at": None})
                    continue
                change = {**values, "b_fingerprint": fingerprint_value, "resolved_at": None, "resolved_as": None,
                          "reopened": row.reopened, "nudge_count": row.nudge_count,
                          "escalated_at": row.escalated_at}
                if row.resolved_at is not None:
                    # The violation came back: a fresh start for nudges.
                    summary.reopened.append(fingerprint_value)
                    change.update(reopened=row.reopened + 1, nudge_count=0, escalated_at=None)
                else:
                    summary.still_open.append(fingerprint_value)
                if finding.waived and not row.waived:
                    summary.waiver_started.append(fingerprint_value)
                elif row.waived and not finding.waived:
                    summary.waiver_ended.append(fingerprint_value)
                updates.append(change)
            if inserts:
                connection.execute(findings.insert(), inserts)
            if updates:
                # executemany: keys named like columns become the SET clause.
                connection.execute(findings.update().where(
                    findings.c.fingerprint == sa.bindparam("b_fingerprint")), updates)
            resolvable, vanished = [], []
            for row in connection.execute(sa.select(findings.c.fingerprint, findings.c.rule, findings.c.issue)
                                          .where(findings.c.resolved_at.is_(None))):
                if row.fingerprint in current:
                    continue
                if row.issue in gone:
                    vanished.append(row.fingerprint)
                elif (row.issue in read_issues and (evaluated_rules is None or row.rule in evaluated_rules)
                        and (row.rule, row.issue) not in failed):
                    resolvable.append(row.fingerprint)
            for chunk in _chunks(resolvable):
                connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                   .values(resolved_at=now, resolved_as=None))
            for chunk in _chunks(vanished):
                connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                   .values(resolved_at=now, resolved_as=GONE))
            summary.resolved = resolvable + vanished
            counts = {**summary.counts(), "issues_read": len(read_issues), "findings": len(current)}
            connection.execute(scan_runs.update().where(scan_runs.c.id == run_id)
                               .values(finished=now, counts=counts))
        return summary

    @_guarded
    def finding_states(self, fingerprints: Iterable[str] | None = None, *,
                       open_only: bool = False) -> dict[str, FindingState]:
        with self.transaction() as connection:
            if fingerprints is None:
                query = sa.select(findings)
                if open_only:
                    query = query.where(findings.c.resolved_at.is_(None))
                rows = connection.execute(query)
            else:
                rows = _select_in(connection, findings, findings.c.fingerprint, list(fingerprints))
            return {row.fingerprint: _finding_state(row) for row in rows
                    if not open_only or row.resolved_at is None}

    @_guarded
    def mark_nudged(self, marks: Iterable[tuple[str, int]], now: datetime) -> None:
        """Record that findings were (committed to be) nudged: (fingerprint, nudge number)."""
        rows = [{"b_fingerprint": fp, "nudge_count": number + 1, "last_nudged_at": now} for fp, number in marks]
        if not rows:
            return
        with self.transaction() as connection:
            connection.execute(findings.update().where(findings.c.fingerprint == sa.bindparam("b_fingerprint")),
                               rows)

    @_guarded
    def nudge_delivered(self, fingerprints: Iterable[str], now: datetime) -> None:
        """A nudge about these findings reached Slack now: the next reminder counts from here, not from
        when it was queued (a message that waited out an outage is not followed by a reminder at once)."""
        with self.transaction() as connection:
            for chunk in _chunks(list(fingerprints)):
                connection.execute(findings.update().where(
                    findings.c.fingerprint.in_(chunk), findings.c.nudge_count > 0,
                    sa.or_(findings.c.last_nudged_at.is_(None), findings.c.last_nudged_at < now))
                    .values(last_nudged_at=now))

    @_guarded
    def resolve_issue(self, issue: str, now: datetime) -> list[str]:
        """Resolve every open finding of an issue Jira says is gone (deleted); their fingerprints."""
        with self.transaction() as connection:
            rows = [row.fingerprint for row in connection.execute(
                sa.select(findings.c.fingerprint).where(findings.c.issue == issue, findings.c.resolved_at.is_(None)))]
            if rows:
                for chunk in _chunks(rows):
                    connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                       .values(resolved_at=now, resolved_as=GONE))
        return rows

    @_guarded
    def mark_escalated(self, fingerprints: Iterable[str], now: datetime) -> None:
        with self.transaction() as connection:
            for chunk in _chunks(list(fingerprints)):
                connection.execute(findings.update().where(findings.c.fingerprint.in_(chunk))
                                   .values(escalated_at=now))


def _evaluated_rules(result) -> set[str] | None:
    ruleset = getattr(result, "ruleset", None)
    if ruleset is None:
        return None
    active = getattr(ruleset, "active", None)
    rules = active if active is not None else getattr(ruleset, "rules", None)
    if rules is None:
        return None
    return {rule.id for rule in rules}


def _failed_pairs(result) -> set[tuple[str, str]]:
    """(rule, issue) pairs the engine could not evaluate: never resolved on their account."""
    pairs = {(failure.rule, failure.issue) for failure in getattr(result, "failures", None) or []}
    for more in ("unjudged", "skipped"):
        pairs |= {tuple(pair) for pair in getattr(result, more, None) or []}
    return pairs


def _finding_values(finding, now: datetime) -> dict[str, Any]:
    owner = finding.owner
    return {
        "rule": finding.rule, "issue": finding.issue, "team": finding.team,
        "severity": getattr(finding.severity, "value", str(finding.severity)),
        "title": finding.title or "", "message": finding.message or "", "summary": finding.summary or "",
        "evidence": finding.evidence or "", "url": finding.url,
        "owner_id": owner.id if owner else None, "owner": owner.to_json() if owner else None,
        "last_seen": now, "waived": bool(finding.waived), "waiver_reason": finding.waiver_reason,
    }

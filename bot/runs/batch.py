"""One run's batch: read, evaluate, waive, record, in one place.

Every run, whatever starts it (a command, a scheduled job, a chat command), is
the same two moves::

    with open_batch(inputs, now, read=..., store=..., record=...) as batch:
        consumer(batch)          # render | deliver | digest | answer in chat

``open_batch`` reads the issues (source), evaluates the rules (engine),
applies every waiver once (labels, the waiver file, snoozes from chat), and,
when the run may write, records the findings lifecycle in the store. The
record's transaction stays open while the ``with`` block runs, so a consumer
that queues messages does it atomically with the record (and a dry run's
store rolls both back). ``build_batch`` is the same for consumers that need
no transaction. Consumers never evaluate rules, apply waivers or record scans
on their own.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from bot import ffr
from bot.engine import coverage
from bot.engine.evaluate import Evaluation, Failure, Verdict, evaluate
from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, GovbotError
from bot.model import Finding, Severity
from bot.runs.inputs import Inputs, Read, read_workspace
from bot.runs.owners import complete_owners
from bot.waivers import WaiverReport, apply_waivers
from bot.workspace import Workspace

# How a run may write the findings lifecycle.
ALWAYS = "always"          # nudges, the nightly rescan: partial reads are safe (only what was read resolves)
IF_CURRENT = "if-current"  # the digest: only a complete read, and never older than the latest recorded scan


@dataclass
class Batch:
    """A run's findings with their waiver state, and everything a consumer needs to know about them."""

    inputs: Inputs
    now: datetime
    workspace: Workspace
    evaluation: Evaluation
    keys: list[str] | None = None          # the issues asked for (check); None: everything read
    waivers: WaiverReport = field(default_factory=WaiverReport)
    carried: list[Finding] = field(default_factory=list)  # open findings kept from the store (see ``carry``)
    gone: set[str] = field(default_factory=set)  # issues Jira no longer has in scope: their findings resolve
    record: Any = None                     # bot.store.RecordSummary when the lifecycle was recorded
    notes: list[str] = field(default_factory=list)         # worth a line in the summary

    # -- what was read and judged ----------------------------------------------------------
    @property
    def config(self):
        return self.inputs.config

    @property
    def ruleset(self):
        return self.inputs.ruleset

    @property
    def findings(self) -> list[Finding]:
        return self.evaluation.findings

    @property
    def verdicts(self) -> list[Verdict]:
        return self.evaluation.verdicts

    @property
    def failures(self) -> list[Failure]:
        return self.evaluation.failures

    @property
    def unjudged(self) -> list[tuple[str, str]]:
        """(rule, issue) pairs this read could not judge: never resolved on its account."""
        return self.evaluation.unjudged

    @property
    def unjudged_because(self) -> dict[str, dict[str, int]]:
        """Why some of ``unjudged`` could not be judged, where a check said: the summary's line -> rule -> count."""
        return self.evaluation.unjudged_because

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(rule, issue) pairs skipped for taking too long: never resolved on this run's account."""
        return self.evaluation.skipped

    @property
    def read_keys(self) -> set[str]:
        """Issues actually read by this run: only their findings may be resolved."""
        keys = set(self.workspace.issues)
        return keys & {key.upper() for key in self.keys} if self.keys is not None else keys

    @property
    def evaluated_rules(self) -> list:
        """The reporting rules evaluated in this run (a rule's findings resolve only if it ran)."""
        return list(self.ruleset.active)

    @property
    def incomplete_reasons(self) -> list[str]:
        """Why this run cannot vouch for a clean tracker; empty when it can."""
        reasons = []
        if not self.workspace.complete:
            reasons.append("not every issue in scope could be read")
        if not self.evaluated_rules:
            reasons.append("no rule was evaluated (the rule set is empty or every rule is disabled)")
        if self.evaluation.skipped:
            reasons.append("some rules were skipped on some issues for taking too long (see the problems)")
        if not self.workspace.issues and self.workspace.skipped:
            reasons.append("no issue could be read: " + ("the only one was" if self.workspace.skipped == 1
                                                             else f"all {self.workspace.skipped} were")
                           + " malformed and skipped")
        return reasons

    @property
    def complete(self) -> bool:
        return not self.incomplete_reasons

    @property
    def problems(self) -> list[str]:
        """What the source skipped and the engine failed on, for the JSON ``problems``."""
        return (self.workspace.problems + [failure.describe() for failure in self.failures]
                + self.evaluation.time_limits + self.notes)

    def exit_code(self, fail_on: str) -> int:
        return exit_code_for(self.findings, fail_on, self.complete)

    def open_findings(self, threshold: Severity | None = None) -> list[Finding]:
        return [f for f in self.findings if not f.waived and (threshold is None or f.severity.rank >= threshold.rank)]

    @functools.cached_property
    def feature_factory_ratio(self) -> dict[str, Any]:
        return ffr.feature_factory_ratio(self.verdicts, self.evaluation.rules, self.workspace)

    # -- for people and machines ------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        by_rule: dict[str, int] = {}
        by_severity = {severity.value: 0 for severity in Severity}
        waived = 0
        for finding in self.findings:
            if finding.waived:
                waived += 1
                continue
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
            by_severity[finding.severity.value] += 1
        summary = {
            "issues_scanned": len(self.read_keys),
            "findings": sum(by_rule.values()),
            "waived": waived,
            "by_rule": dict(sorted(by_rule.items())),
            "by_severity": by_severity,
            "feature_factory_ratio": self.feature_factory_ratio,
            "rules_evaluated": [rule.id for rule in self.evaluated_rules],
            "complete": self.complete,
            "skipped_issues": self.workspace.skipped,
            "source": self.workspace.source,
            "now": self.now.date().isoformat(),
            **self.coverage_summary,
        }
        if self.incomplete_reasons:
            summary["incomplete"] = self.incomplete_reasons
        return summary

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"findings": [f.to_json() for f in self.findings], "summary": self.summary()}
        if self.problems:
            data["problems"] = self.problems
        data["notes"] = self.coverage_notes  # always there, empty when there is nothing to say
        return data

    @functools.cached_property
    def coverage_summary(self) -> dict[str, Any]:
        """``coverage.summary``, worked out once: the summary and its notes both read it (passes over every issue)."""
        return coverage.summary(self)

    @property
    def waiver_notes(self) -> list[str]:
        """A line for each waiver in the file that names no rule of this run: a typo waives nothing."""
        from bot.waivers import unknown_rule_notes

        return unknown_rule_notes(self.waivers.unused, [rule.id for rule in self.ruleset.rules])

    @functools.cached_property
    def coverage_notes(self) -> list[str]:
        """What the rules left out or could not judge, and how to fix the input (said once, in the summary)."""
        return coverage.notes(self, self.coverage_summary)


def exit_code_for(findings: Iterable[Finding], fail_on: str, complete: bool = True) -> int:
    """0 clean, 1 an unwaived finding at or above ``fail_on``, 4 clean but not everything was read or judged."""
    failing = False
    if fail_on != "never":
        threshold = Severity.parse(fail_on)
        failing = any(not f.waived and f.severity.rank >= threshold.rank for f in findings)
    if failing:
        return EXIT_FINDINGS
    # Clean only as far as we could see: say so rather than claim a clean tracker.
    return EXIT_CLEAN if complete else EXIT_INCOMPLETE


@contextlib.contextmanager
def open_batch(inputs: Inputs, now: datetime, *, read: Read | None = None, store=None,
               record: str | None = None, carry: bool = False,
               open_store: Callable[..., Any] | None = None,
               before_record: Callable[[Batch], None] | None = None, dry_run: bool = False,
               evaluation: Evaluation | None = None) -> Iterator[Batch]:
    """Read, evaluate, waive and (with ``record``) record; the record's transaction is open inside.

    ``store``: the run's store (waivers from chat, the lifecycle). Without one,
    chat waivers are read from the configured store opened read-only
    (``open_store``), and a store that cannot be opened costs only those
    waivers, with a note. ``carry``: include the open findings of issues this
    run did not read (an incremental read), so they stay due for reminders.
    ``before_record(batch)`` is called once the batch is built and before
    anything is written: delivery makes its network calls there, and the
    service stops a job there when it is shutting down. ``dry_run``: the
    record is rolled back when the ``with`` block ends (the store may be a
    real one). ``evaluation``: findings already evaluated (replayed by tests
    and tools); the rules are not run again.
    """
    read = read or Read()
    workspace = read_workspace(inputs, read)
    wanted = {key.upper() for key in read.keys} if read.keys is not None else None
    ruleset = inputs.ruleset
    replayed = evaluation is not None
    if evaluation is None:
        evaluation = evaluate(workspace, ruleset.active, inputs.config, now,
                              metric_only=[rule for rule in ruleset.rules if rule.metric],
                              keys=wanted, progress=read.progress)
    # A live read leaves owner fields out; they are read now for the issues with findings, before
    # anything is waived, recorded or sent (bot/runs/owners.py).
    complete_owners(workspace, evaluation, inputs.config)
    if not replayed:
        _keep_project_facts(workspace, evaluation, read.cursors)
    batch = Batch(inputs, now, workspace, evaluation, keys=read.keys)
    if record is not None and store is not None:
        from bot.runs.gone import gone_issues

        batch.gone = gone_issues(batch, store)  # before carrying: nobody is reminded about a deleted issue
    if carry and store is not None:
        batch.carried = _carried(batch, store)
    _waive(batch, store, open_store)
    if before_record is not None:
        before_record(batch)
    if record is None or store is None or not _may_record(batch, store, record):
        yield batch
        return
    with store.writing(rollback=dry_run):
        batch.record = store.record_scan(batch, now)
        yield batch


def checkpoint_hook(checkpoint: Callable[[], None] | None) -> Callable[[Batch], None] | None:
    """A ``before_record`` that only stops the run there if the service is shutting down."""
    return None if checkpoint is None else (lambda _batch: checkpoint())


def build_batch(inputs: Inputs, now: datetime, **options) -> Batch:
    """``open_batch`` for a consumer that needs no open transaction."""
    with open_batch(inputs, now, **options) as batch:
        return batch


def _keep_project_facts(workspace: Workspace, evaluation: Evaluation, cursors) -> None:
    """Which projects use which levels, kept with the read's cursor for the rescans that follow.

    A rescan reads only what changed, so "does this project use epics?" has no answer in it;
    without one, "story rolls up to no epic" was never judged on a rescan, and a dry run (a
    whole read) and ``--apply`` (a rescan) disagreed. A whole read replaces the facts, a
    rescan adds what it saw. Written to the cursor the read just set (committed with it)."""
    key = workspace.cursor_key
    if cursors is None or key is None or not workspace.complete:
        return
    cursor = cursors.get_cursor(key)
    if not isinstance(cursor, dict):
        return
    if workspace.partial:
        # Only add to what a whole read found: a rescan's few issues showing no epic says nothing
        # about the project, so a level no whole read answered stays unknown (no verdict).
        facts = dict(workspace.known_projects or {})
        for level, projects in evaluation.projects_at.items():
            if isinstance(facts.get(level), list):
                facts[level] = sorted(set(facts[level]) | set(projects))
    else:
        facts = {level: sorted(projects) for level, projects in evaluation.projects_at.items()}
    if facts == cursor.get("projects_at"):
        return
    update = getattr(cursors, "update_cursor", None)  # a run's deferred cursors keep the cache saved with it
    if update is not None:
        update(key, {"projects_at": facts})
    else:
        cursors.set_cursor(key, {**cursor, "projects_at": facts})


def _may_record(batch: Batch, store, record: str) -> bool:
    if record == ALWAYS:
        return True
    if record != IF_CURRENT:
        raise ValueError(f"unknown record policy {record!r}")
    if not batch.complete:
        return False
    latest = store.recent_runs("scan", limit=1)
    # A digest regenerated for a past week must not rewrite the lifecycle.
    return not latest or latest[0]["started"] <= batch.now


def _waive(batch: Batch, store, open_store: Callable[..., Any] | None) -> None:
    """Every waiver source, once, over this run's findings and the carried ones: the one place waivers apply.

    Without the run's store, chat waivers come from the configured store opened
    read-only; a store that cannot be opened costs only those waivers, with a note.
    """
    findings = batch.findings + batch.carried
    if not findings:
        return
    readonly = None
    if store is None and open_store is None:
        from bot.store.location import missing_sqlite_file, store_url

        # No store file yet means no chat waivers; opening one would only import SQLAlchemy to find that out.
        if not missing_sqlite_file(store_url(batch.config)):
            from bot.store import open_store as open_configured

            open_store = functools.partial(open_configured, batch.config)
    if store is None and open_store is not None:
        try:
            store = readonly = open_store(dry_run=True)
        except GovbotError as error:
            batch.notes.append(f"waivers from chat could not be read ({error.message}); they are not shown")
    try:
        batch.waivers = apply_waivers(findings, batch.config, batch.now, workspace=batch.workspace, store=store)
    finally:
        if readonly is not None:
            readonly.close()


def _carried(batch: Batch, store) -> list[Finding]:
    """Open findings from earlier runs on issues this run did not read, as Findings.

    An incremental or partial read only sees changed issues; their unchanged
    neighbours still have open findings that may be due for a reminder. A
    label waiver seen when the finding was recorded still holds (the issue was
    not re-read, so its labels are as they were); every other waiver is
    applied afresh with this run's.
    """
    read = batch.read_keys
    active = {rule.id for rule in batch.evaluated_rules}
    carried = []
    for state in store.finding_states(open_only=True).values():
        if state.issue in read or state.issue in batch.gone or state.rule not in active:
            continue
        finding = state.as_finding()
        if not (finding.waiver_reason or "").startswith("label "):
            finding.waived, finding.waiver_reason = False, None
        carried.append(finding)
    return carried


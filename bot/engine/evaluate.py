"""Apply a rule set to a workspace: every (rule, issue) pair in scope gets a verdict.

The pure core of every run (scan, check, nudge, digest, the service): it reads
nothing, writes nothing and waives nothing. Waivers, recording and delivery
happen downstream, in ``bot.runs.batch``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from bot.config import Config
from bot.engine import site_setup, templates
from bot.engine.budget import RuleSkipped, RunBudget
from bot.engine.context import Context, Unjudged
from bot.engine.rule import Rule, kind_of
from bot.lifecycle import is_active
from bot.model import Finding, Issue, bulk
from bot.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(slots=True)  # one per (rule, issue in scope): a million at 200,000 issues
class Verdict:
    rule: str
    issue: str
    fired: bool
    finding: Finding | None = None


@dataclass(frozen=True)
class Failure:
    """A (rule, issue) pair the engine could not judge, and why: never resolved on its account."""

    rule: str
    issue: str
    reason: str

    def describe(self) -> str:
        return f"{self.issue}: rule {self.rule} could not be evaluated ({self.reason})"


@dataclass
class Evaluation:
    """What the rules said about a workspace.

    ``findings`` are the findings of the rules that report (enabled ones);
    ``verdicts`` cover every rule evaluated, including rules evaluated only
    because a metric is defined by them (``metric_only``), whose findings are
    kept on their verdicts and nowhere else.
    """

    findings: list[Finding] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # (rule, issue) pairs with no verdict because the read cannot say (a fact about a whole
    # project on a partial read): not a problem to report, but nothing is resolved on them.
    unjudged: list[tuple[str, str]] = field(default_factory=list)
    # Why some of them were not judged, when a check said (``Unjudged.because``): the line -> rule -> count.
    unjudged_because: dict[str, dict[str, int]] = field(default_factory=dict)
    # level -> projects seen to use it (Context.project_uses), for the levels the checks asked about.
    projects_at: dict[str, set[str]] = field(default_factory=dict)
    # (rule, issue) pairs skipped for running out of time (bot.engine.budget): the run is
    # incomplete, nothing is resolved on them, and ``time_limits`` says so in one line per rule.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    time_limits: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)  # every rule evaluated, reporting or not


def owner_of(rule: Rule, issue: Issue, config: Config, context: Context | None = None):
    """(user, role): the first of the rule's owner fields that names someone."""
    synonyms = context.synonyms if context is not None else config.synonyms
    for name in rule.owner:
        for candidate in synonyms(name):
            user = issue.user(candidate)
            if user is not None:
                return user, candidate
    return None, None


def evaluate_rule(rule: Rule, issue: Issue, context: Context) -> Finding | None:
    match = rule.condition.evaluate(issue, context)
    if match is None:
        return None
    owner, role = owner_of(rule, issue, context.config, context)
    message = templates.render(rule.message, issue=issue, rule=rule, evidence=match.evidence,
                               params=rule.params, context=context)
    return Finding(rule=rule.id, issue=issue.key, severity=rule.severity, message=message, title=rule.title,
                   evidence=match.evidence, team=issue.team, owner=owner, owner_role=role, url=issue.url,
                   summary=issue.summary, subjects=match.subjects)


def _projects_at(context: Context, rules: list[Rule]) -> dict[str, set[str]]:
    """level -> the projects seen to use it, for every level a ``project-uses-level`` check names: asked
    of the whole read even where no issue needed the answer, so a rescan can take it from the cursor.
    A partial read gives only what its checks asked (``Workspace.known_projects`` holds the rest)."""
    if not context.workspace.partial:
        for rule in rules:
            for check in rule.condition.checks():
                if check.kind == "project-uses-level":
                    context.project_uses("", check.params["level"])
    return context.projects_seen()


def evaluate(workspace: Workspace, rules: Iterable[Rule], config: Config, now: datetime, *,
             metric_only: Iterable[Rule] = (), keys: set[str] | None = None,
             progress: Callable[[int], None] | None = None) -> Evaluation:
    """Evaluate ``rules`` (and ``metric_only`` rules, for their verdicts) on every issue in scope.

    ``keys`` narrows the evaluation to those issues (a check of a few issues).
    One rule failing on one odd issue is a ``Failure``, never a crash.
    """
    reporting = list(rules)
    silent = [rule for rule in metric_only if rule not in reporting]
    with bulk():
        return _evaluate(workspace, reporting, silent, config, now, keys, progress)


def _evaluate(workspace: Workspace, reporting: list[Rule], silent: list[Rule], config: Config, now: datetime,
              keys: set[str] | None, progress: Callable[[int], None] | None) -> Evaluation:
    context = Context(workspace, config, now)
    evaluation = Evaluation(rules=reporting + silent)
    hierarchy = config.hierarchy
    budget = RunBudget()  # time limits per rule and issue, and for the run's messages
    rules = [(rule, True) for rule in reporting] + [(rule, False) for rule in silent]
    # Rules by the kind of issue they may apply to (level, type, status...): a scan has a few
    # hundred kinds and tens of thousands of issues, so most scope tests run once per kind.
    # With each kind, the rules known to hold for no issue of it (``quiet``, by id): rules made only
    # of ``kind_only`` checks (the type's) are evaluated once per kind instead of once per issue.
    by_kind: dict[tuple, tuple[list[tuple[Rule, bool, bool, int | None, bool]], set[int]]] = {}
    # Each rule's active-work horizon (``Scope.in_window``), read once: an open issue is in
    # every window, and a closed one is dated once per distinct horizon, not once per rule.
    horizons = {id(rule): rule.scope.window_days(context) for rule, _ in rules}
    now = context.now
    for count, issue in enumerate(workspace.issues.values(), 1):
        if keys is not None and issue.key not in keys:
            continue
        kind = kind_of(issue)
        known = by_kind.get(kind)
        if known is None:
            known = by_kind[kind] = ([(rule, reports, rule.scope.checks_rest, horizons[id(rule)], rule.kind_decided)
                                      for rule, reports in rules
                                      if rule.applies_to_kind(issue, hierarchy, context)], set())
        candidates, quiet = known
        closed = issue.is_closed()
        windows: dict[int, bool] = {}
        for rule, reports, checks_rest, horizon, decided in candidates:
            if checks_rest and not rule.scope.matches_rest(issue, context, window=False):
                continue
            if closed and horizon is not None:
                active = windows.get(horizon)
                if active is None:
                    active = windows[horizon] = is_active(issue, now, horizon)
                if not active:
                    continue
            if decided and id(rule) in quiet and not budget.dropped(rule.id):
                evaluation.verdicts.append(Verdict(rule.id, issue.key, False))
                continue
            try:
                finding = budget.evaluate(evaluate_rule, rule, issue, context)
            except RuleSkipped:
                continue  # counted by the budget (``skipped``)
            except Unjudged as why:
                evaluation.unjudged.append((rule.id, issue.key))
                if why.because:
                    counts = evaluation.unjudged_because.setdefault(why.because, {})
                    counts[rule.id] = counts.get(rule.id, 0) + 1
                continue
            except Exception as error:  # noqa: BLE001 - one odd issue must not stop the scan
                evaluation.failures.append(Failure(rule.id, issue.key, f"{type(error).__name__}: {error}"))
                log.debug("rule %s failed on %s", rule.id, issue.key, exc_info=True)
                continue
            if finding is None:
                if decided:
                    quiet.add(id(rule))
            elif reports:
                evaluation.findings.append(finding)
            evaluation.verdicts.append(Verdict(rule.id, issue.key, finding is not None, finding))
        if progress is not None and count % 500 == 0:
            progress(count)
    evaluation.skipped, evaluation.time_limits = budget.skipped, budget.problems()
    evaluation.projects_at = _projects_at(context, reporting + silent)
    site_setup.aggregate(evaluation, reporting, context)
    return evaluation

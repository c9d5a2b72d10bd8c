"""Apply a rule set to a workspace: every (rule, issue) pair gets a verdict.

This is the pure core every command shares (scan, check, nudge, digest,
service): it reads nothing and writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from bot import metrics
from bot.config import Config
from bot.engine import templates
from bot.engine.budget import RuleSkipped, RunBudget
from bot.engine.context import Context
from bot.engine.loader import RuleSet
from bot.engine.rule import Rule
from bot.model import Finding, Issue, Severity, bulk

log = logging.getLogger(__name__)


@dataclass(slots=True)  # one per (rule, issue in scope): a million at 200,000 issues
class Verdict:
    rule: str
    issue: str
    fired: bool
    finding: Finding | None = None


@dataclass
class ScanResult:
    workspace: Any
    ruleset: RuleSet
    config: Config
    now: datetime
    findings: list[Finding] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (rule, issue) pairs with no verdict: the rule failed or ran out of time there (never resolved on
    # their account); ``skipped`` holds the latter, which make the run incomplete, and ``time_limits``
    # says so in one line per rule (also in ``problems``).
    failures: set[tuple[str, str]] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    time_limits: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.workspace.complete and not self.skipped

    @property
    def read_keys(self) -> set[str]:
        """Issues actually read by this scan: only their findings may be resolved."""
        return set(self.workspace.issues)

    def open_findings(self, threshold: Severity | None = None) -> list[Finding]:
        return [f for f in self.findings if not f.waived and (threshold is None or f.severity.rank >= threshold.rank)]

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
        return {
            "issues_scanned": len(self.workspace.issues),
            "findings": sum(by_rule.values()),
            "waived": waived,
            "by_rule": dict(sorted(by_rule.items())),
            "by_severity": by_severity,
            "feature_factory_ratio": metrics.feature_factory_ratio(self),
            "rules_evaluated": [rule.id for rule in self.ruleset.active],
            "complete": self.complete,
            "skipped_issues": self.workspace.skipped,
            "source": self.workspace.source,
            "now": self.now.date().isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"findings": [f.to_json() for f in self.findings], "summary": self.summary()}
        problems = self.workspace.problems + self.problems
        if problems:
            data["problems"] = problems
        return data


def owner_of(rule: Rule, issue: Issue, config: Config):
    """(user, role): the first of the rule's owner fields that names someone."""
    for name in rule.owner:
        for candidate in config.synonyms(name):
            user = issue.user(candidate)
            if user is not None:
                return user, candidate
    return None, None


def evaluate_rule(rule: Rule, issue: Issue, context: Context) -> Finding | None:
    match = rule.condition.evaluate(issue, context)
    if match is None:
        return None
    owner, role = owner_of(rule, issue, context.config)
    message = templates.render(rule.message, issue=issue, rule=rule, evidence=match.evidence,
                               params=rule.params, context=context)
    return Finding(rule=rule.id, issue=issue.key, severity=rule.severity, message=message, title=rule.title,
                   evidence=match.evidence, team=issue.team, owner=owner, owner_role=role, url=issue.url,
                   summary=issue.summary)


def scan(workspace, ruleset: RuleSet, config: Config, now: datetime, *,
         keys: set[str] | None = None, progress: Callable[[int], None] | None = None) -> ScanResult:
    """Evaluate every active rule on every issue in scope (or only ``keys``)."""
    with bulk():
        return _scan(workspace, ruleset, config, now, keys, progress)


def _scan(workspace, ruleset: RuleSet, config: Config, now: datetime, keys: set[str] | None,
          progress: Callable[[int], None] | None) -> ScanResult:
    context = Context(workspace, config, now)
    result = ScanResult(workspace, ruleset, config, now)
    hierarchy = config.hierarchy
    prefix = config.section("waivers").get("label_prefix", "govbot-waive-").casefold()
    rules = ruleset.active
    budget = RunBudget()  # time limits per rule and issue, and for the run's messages
    for count, issue in enumerate(workspace.issues.values(), 1):
        if keys is not None and issue.key not in keys:
            continue
        labels = {label.casefold() for label in issue.labels}
        for rule in rules:
            if not rule.applies_to(issue, hierarchy):
                continue
            try:
                finding = budget.evaluate(evaluate_rule, rule, issue, context)
            except RuleSkipped:
                result.failures.add((rule.id, issue.key))
                continue
            except Exception as error:  # noqa: BLE001 - one odd issue must not stop the scan
                result.problems.append(f"{issue.key}: rule {rule.id} could not be evaluated "
                                       f"({type(error).__name__}: {error})")
                result.failures.add((rule.id, issue.key))
                log.debug("rule %s failed on %s", rule.id, issue.key, exc_info=True)
                continue
            if finding is not None:
                waiver_label = f"{prefix}{rule.id}"
                if waiver_label in labels:
                    finding.waived = True
                    finding.waiver_reason = f"label {waiver_label}"
                result.findings.append(finding)
            result.verdicts.append(Verdict(rule.id, issue.key, finding is not None, finding))
        if progress is not None and count % 500 == 0:
            progress(count)
    result.skipped, result.time_limits = budget.skipped, budget.problems()
    result.problems.extend(result.time_limits)
    return result

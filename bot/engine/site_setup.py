"""Site-setup findings: one per project and what was seen, for the admins.

A rule with ``audience: admin`` (an unmapped issue type, a project with no
epics) is about how the site is set up, not about one issue's owner. The
engine evaluates it per issue like any rule, then this module folds its
findings into one per (rule, project, evidence): its fingerprint is the
project's, it names every affected issue (``Finding.issues``, the first also
as ``Finding.issue``) and its message is rendered once for the group. Its template reads ``params.count``, ``params.examples`` (the first
few keys), ``params.more`` and ``params.issues``.

Delivery sends these to ``slack.admin_channel`` only: never to an issue's
owner, never as a Jira comment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.engine import templates
from bot.model import Finding

MAX_EXAMPLES = 3
MAX_LINKED_KEYS = 50
# What a site-setup template may read about its group; these samples let the loader
# trial-render the template and per-issue evaluation render it before grouping.
GROUP_PARAMS: dict[str, Any] = {"count": 1, "examples": "EX-1", "more": 0, "issues": ["EX-1"]}


def aggregate(result, active, context) -> None:
    """Replace the per-issue findings of site-setup rules in ``result`` (an ``Evaluation``) with one per group."""
    hold_on_partial_read(result, active, context)
    rules = {rule.id: rule for rule in active if rule.site_setup}
    if not rules or not result.findings:
        return
    groups: dict[tuple[str, str, str], list] = {}
    order: list[Any] = []
    for finding in result.findings:
        rule = rules.get(finding.rule)
        if rule is None:
            order.append(finding)
            continue
        issue = context.workspace.get(finding.issue)
        project = issue.project if issue is not None else finding.issue.rsplit("-", 1)[0]
        key = (finding.rule, project, finding.evidence)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((finding, issue))
    grouped: dict[int, Finding] = {}
    findings: list[Finding] = []
    for entry in order:
        if isinstance(entry, Finding):
            findings.append(entry)
            continue
        members = groups[entry]
        finding = _group(rules[entry[0]], entry[1], entry[2], members, context)
        findings.append(finding)
        for member, _ in members:
            grouped[id(member)] = finding
    result.findings = findings
    for verdict in result.verdicts:
        if verdict.finding is not None and id(verdict.finding) in grouped:
            verdict.finding = grouped[id(verdict.finding)]


def _group(rule, project: str, evidence: str, members: list, context) -> Finding:
    unwaived = [(finding, issue) for finding, issue in members if not finding.waived]
    shown = unwaived or members
    keys = sorted((finding.issue for finding, _ in shown), key=_natural)
    first_finding, first_issue = min(shown, key=lambda pair: _natural(pair[0].issue))
    params = {**rule.params, "count": len(keys), "examples": ", ".join(keys[:MAX_EXAMPLES]),
              "more": max(0, len(keys) - MAX_EXAMPLES), "issues": keys}
    message = templates.render(rule.message, issue=first_issue, rule=rule, evidence=evidence, params=params,
                               context=context) if first_issue is not None else first_finding.message
    return Finding(rule=rule.id, issue=keys[0], severity=rule.severity, message=message, title=rule.title,
                   evidence=evidence, team=first_finding.team, owner=None, owner_role=None,
                   url=first_finding.url if len(keys) == 1 else _link(first_finding.url, project, keys),
                   summary=first_finding.summary if len(keys) == 1 else f"{len(keys)} issues in {project}",
                   waived=not unwaived,
                   waiver_reason=None if unwaived else first_finding.waiver_reason,
                   issues=keys, audience="admin", project=project)


def _link(url: str | None, project: str, keys: list[str]) -> str | None:
    """A Jira search listing the affected issues (their project page when there are many)."""
    if not url or "/browse/" not in url:
        return None
    base = url.split("/browse/", 1)[0]
    if len(keys) > MAX_LINKED_KEYS:
        return f"{base}/browse/{quote(project)}"
    return f"{base}/issues/?jql={quote('key in (' + ', '.join(keys) + ')')}"


def _natural(key: str) -> tuple:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (key, 0)


def hold_on_partial_read(result, active, context) -> None:
    """A partial read (changes only, named issues) runs no site-setup rule: they need whole
    projects. Every such (rule, issue read) pair is unjudged, so no stored site-setup finding
    is resolved on this read's account."""
    if not getattr(context.workspace, "partial", False):
        return
    for rule in active:
        if rule.site_setup:
            result.unjudged.extend((rule.id, key) for key in context.workspace.issues)


__all__ = ["GROUP_PARAMS", "aggregate", "hold_on_partial_read"]

"""The weekly digest's figures, per team and for the whole organisation.

Everything is computed from one run's batch plus what the store remembers
(earlier weeks' figures, when findings appeared and were fixed); nothing here
reads Jira, judges an issue or writes anywhere. What a register or a metric
means comes from the rules that carry it (``register:`` and ``metric:`` in
their YAML): the unclosed loops are the findings of the ``unclosed-loops``
rule, the debt register lists the open issues in the scope of the
``tech-debt-agreements`` rules, flagged by which of them fired. Figures describe teams and the system, never
people: nothing counts or ranks individuals, and an item names its owner only
in its own team's digest (the organisation's digest drops owners).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Protocol

from bot.config import Config
from bot.engine.context import Context
from bot.hierarchy import FLOW_ITEMS
from bot.model import Finding, Issue
from bot.digest.realization import FlowTime, Realization, flow_load, flow_time, realization
from bot.prose import plural

ORGANISATION = "*"  # the history key of the organisation-wide digest
UNASSIGNED = "unassigned"
LOOPS = "unclosed-loops"
AGREEMENTS = "tech-debt-agreements"
# The parts of a technical debt agreement, as the register shows them (logical field names).
AGREEMENT_PARTS = {"reason": "Reason", "impact": "Impact", "timeline or trigger": "Timeline"}


class History(Protocol):
    """What the digest needs from the state store to keep trends across runs."""

    def record_digest(self, team: str, week_start: date, figures: dict) -> None: ...

    def digest_history(self, team: str, until: date, weeks: int) -> list[tuple[date, dict]]: ...


@dataclass(frozen=True)
class Change:
    """A finding as the store's lifecycle knows it (it may be gone from the scan)."""

    rule: str
    issue: str
    team: str | None = None
    title: str = ""
    fingerprint: str = ""
    summary: str = ""  # as the store last saw it: a fixed finding's issue may be gone from the scan
    url: str | None = None


@dataclass
class WeekChanges:
    """What the findings lifecycle says about the week: findings new and fixed in
    it, and those still open after every reminder (escalated by the nudges)."""

    new: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    escalated: list[Change] = field(default_factory=list)


def week_changes(states: Iterable[Any], since: datetime, until: datetime) -> WeekChanges | None:
    """New and fixed findings in ``(since, until]``, and the open escalated ones, from
    the store's findings lifecycle (``bot.store.FindingState`` values).

    None when the store saw no finding before ``since``: on a first run every
    finding would look new, and the digest must say "not tracked yet" instead.
    """
    states = list(states)
    if not any(state.first_seen <= since for state in states):
        return None
    changes = WeekChanges()
    for state in states:
        change = Change(state.rule, state.issue, state.team, state.title or "", state.fingerprint,
                        state.summary or "", state.url)
        if since < state.first_seen <= until:
            changes.new.append(change)
        if state.resolved_at is not None and since < state.resolved_at <= until \
                and getattr(state, "resolved_as", None) is None:
            changes.fixed.append(change)  # not an issue deleted or moved out of scope ("gone"): nobody fixed it
        if state.resolved_at is None and state.escalated_at is not None and not state.waived:
            changes.escalated.append(change)
    return changes


@dataclass
class RuleLine:
    rule: str
    title: str = ""
    open: int = 0
    waived: int = 0
    new: int = 0
    fixed: int = 0


@dataclass
class Loop:
    """A delivered epic or initiative whose actual outcome is not recorded yet."""

    key: str
    summary: str
    url: str | None
    team: str
    resolved: date | None
    age_days: int | None
    band: str
    owner: str | None = None


@dataclass
class FindingItem:
    """One finding listed by issue: escalated after every reminder, or waived."""

    key: str
    summary: str
    url: str | None
    team: str
    rule: str
    title: str
    note: str = ""  # the waiver's reason, shown only in the team's own digest


@dataclass
class Agreement:
    """One open technical debt agreement, as teams review it at grooming."""

    key: str
    summary: str
    url: str | None
    team: str
    status: str
    reason: str
    impact: str
    timeline: str
    overdue: bool
    owner: str | None = None
    undocumented: list[str] = field(default_factory=list)  # the parts the register's rule found missing


@dataclass
class Flow:
    """Delivered flow items in the window, by kind (feature, defect, risk, debt)."""

    counts: dict[str, int]
    window_days: int
    unclassified: int = 0  # delivered items of custom types that map to no flow item

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, kind: str) -> float | None:
        return round(100 * self.counts.get(kind, 0) / self.total, 1) if self.total else None


@dataclass(frozen=True)
class TrendPoint:
    """One week of a trend. A week with no stored digest is kept (``recorded`` false) so a
    trend is drawn on a time axis with its gaps, never with missing weeks squeezed out."""

    week_start: date
    ffr: float | None
    recorded: bool = True
    flow: dict[str, int] | None = None  # delivered flow items by kind, when that week stored them


@dataclass
class TeamLine:
    """A team's headline figures, for the organisation's overview."""

    team: str
    name: str
    issues: int
    ffr: float | None
    open_findings: int
    loops: int
    overdue: int
    trend: list[TrendPoint] = field(default_factory=list)  # the team's FFR by week, this week included
    ffr_change: float | None = None  # points since the latest earlier week with a ratio


@dataclass
class Digest:
    team: str  # the team's key, or ORGANISATION
    name: str
    week_start: date
    now: datetime
    issues: int
    ffr: float | None
    ffr_missing: int
    ffr_scope: int
    trend: list[TrendPoint]  # earlier weeks from history, oldest first; this week excluded
    rules: list[RuleLine]
    changes_tracked: bool
    loops: list[Loop]
    loop_bands: list[tuple[str, int]]
    agreements: list[Agreement]
    flow: Flow
    escalated: list[FindingItem] = field(default_factory=list)  # open after every reminder
    waived_items: list[FindingItem] = field(default_factory=list)
    # The lists behind the counts (bot.digest.lists): open, new and fixed findings, and the
    # epics and initiatives the FFR counts as without an anticipated outcome.
    open_items: list[FindingItem] = field(default_factory=list)
    new_items: list[FindingItem] = field(default_factory=list)
    fixed_items: list[FindingItem] = field(default_factory=list)
    ffr_items: list[FindingItem] = field(default_factory=list)
    # Beside the FFR (bot.digest.realization): what came of delivered work, and how work flows.
    realization: Realization = field(default_factory=Realization)
    flow_load: dict[str, int] = field(default_factory=dict)
    flow_time: FlowTime = field(default_factory=lambda: FlowTime(0))
    look_first: str = ""
    channel: str | None = None
    teams: list[TeamLine] = field(default_factory=list)  # organisation digest only

    @property
    def is_organisation(self) -> bool:
        return self.team == ORGANISATION

    @property
    def open_findings(self) -> int:
        return sum(line.open for line in self.rules)

    @property
    def waived(self) -> int:
        return sum(line.waived for line in self.rules)

    @property
    def new(self) -> int:
        return sum(line.new for line in self.rules)

    @property
    def fixed(self) -> int:
        return sum(line.fixed for line in self.rules)

    @property
    def overdue(self) -> int:
        return sum(agreement.overdue for agreement in self.agreements)

    @property
    def has_history(self) -> bool:
        return bool(self.trend)

    @property
    def previous_ffr(self) -> float | None:
        """The FFR of the latest earlier week that had one."""
        for point in reversed(self.trend):
            if point.ffr is not None:
                return point.ffr
        return None

    @property
    def ffr_change(self) -> float | None:
        if self.ffr is None or self.previous_ffr is None:
            return None
        return round(self.ffr - self.previous_ffr, 1)

    @property
    def trend_with_now(self) -> list[TrendPoint]:
        return [*self.trend, TrendPoint(self.week_start, self.ffr, flow=dict(self.flow.counts))]

    def figures(self) -> dict[str, Any]:
        """The numbers the store keeps per team and week, for trends."""
        return {
            "issues": self.issues,
            "ffr": self.ffr,
            "ffr_missing": self.ffr_missing,
            "ffr_scope": self.ffr_scope,
            "open_findings": self.open_findings,
            "new": self.new if self.changes_tracked else None,
            "fixed": self.fixed if self.changes_tracked else None,
            "waived": self.waived,
            "unclosed_loops": len(self.loops),
            "debt_agreements": len(self.agreements),
            "debt_overdue": self.overdue,
            "escalated": len(self.escalated),
            "flow": dict(self.flow.counts),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "team": None if self.is_organisation else self.team,
            "name": self.name,
            "issues": self.issues,
            "feature_factory_ratio": self.ffr,
            "ffr_missing": self.ffr_missing,
            "ffr_scope": self.ffr_scope,
            "ffr_trend": _trend_json(self.trend_with_now),
            "flow_trend": [{"week_start": p.week_start.isoformat(), "recorded": p.recorded, "delivered": p.flow}
                           for p in self.trend_with_now],
            "history": self.has_history,
            "findings": {
                "open": self.open_findings, "waived": self.waived,
                "new": self.new if self.changes_tracked else None,
                "fixed": self.fixed if self.changes_tracked else None,
                "by_rule": [dataclasses.asdict(line) for line in self.rules],
            },
            "escalated": [_item_json(item) for item in self.escalated],
            "waived": [_item_json(item) for item in self.waived_items],
            "unclosed_loops": {
                "count": len(self.loops),
                "by_age": dict(self.loop_bands),
                "items": [_item_json(loop) for loop in self.loops],
            },
            "tech_debt_agreements": {
                "open": len(self.agreements), "overdue": self.overdue,
                "items": [{**_item_json(a), "undocumented": a.undocumented} for a in self.agreements],
            },
            "flow_distribution": {
                "window_days": self.flow.window_days, "delivered": self.flow.total,
                "counts": dict(self.flow.counts),
                "shares": {kind: self.flow.share(kind) for kind in FLOW_ITEMS},
                "unclassified": self.flow.unclassified,
            },
            "realization": {
                "delivered": self.realization.delivered, "closed": self.realization.closed,
                "loop_closure_rate": self.realization.closure_rate, "waiting_in_grace": self.realization.waiting,
                "median_days_to_actual_outcome": self.realization.median_days,
                "days_measured": len(self.realization.days_to_outcome),
                "closed_unmeasured": self.realization.closed_unmeasured,
                "met": self.realization.met, "missed": self.realization.missed, "unclear": self.realization.unclear,
            },
            "flow_load": dict(self.flow_load),
            "flow_time": {"window_days": self.flow_time.window_days, "resolved": self.flow_time.count,
                          "median_days": self.flow_time.median, "p85_days": self.flow_time.p85},
            "look_first": self.look_first,
            **({"teams": [_team_json(line) for line in self.teams]} if self.is_organisation else {}),
        }


def _trend_json(points: list[TrendPoint]) -> list[dict[str, Any]]:
    return [{"week_start": p.week_start.isoformat(), "ffr": p.ffr, "recorded": p.recorded} for p in points]


def _team_json(line: TeamLine) -> dict[str, Any]:
    return {**dataclasses.asdict(line), "trend": _trend_json(line.trend)}


def _item_json(item: Loop | Agreement | FindingItem) -> dict[str, Any]:
    data = dataclasses.asdict(item)
    if isinstance(data.get("resolved"), date):
        data["resolved"] = data["resolved"].isoformat()
    for optional in ("owner", "note"):
        if not data.get(optional):
            data.pop(optional, None)
    return data


@dataclass
class Digests:
    """Every team's digest for one week, then the organisation's."""

    week_start: date
    now: datetime
    teams: list[Digest]
    organisation: Digest

    def __iter__(self) -> Iterator[Digest]:
        yield from self.teams
        yield self.organisation

    @property
    def team_names(self) -> dict[str, str]:
        return {digest.team: digest.name for digest in self.teams}

    def to_json(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "week_end": self.now.isoformat(),
            "organisation": self.organisation.to_json(),
            "teams": {digest.team: digest.to_json() for digest in self.teams},
        }

    def record(self, history: History) -> None:
        """Store this week's figures so later digests can draw the trend."""
        for digest in self:
            history.record_digest(digest.team, self.week_start, digest.figures())


def week_start_of(now: datetime) -> date:
    """The Monday of ``now``'s ISO week: the key a week's figures are stored under."""
    today = now.date()
    return today - timedelta(days=today.weekday())


def build_digests(batch: Any, config: Config, now: datetime, *,
                  history: History | None = None, changes: WeekChanges | None = None,
                  lifecycle: Iterable[Any] = ()) -> Digests:
    """Every team's digest and the organisation's, for the week ending ``now``.

    ``batch`` is a ``bot.runs.batch.Batch``.
    Without ``history`` there is no trend; without ``changes`` new/fixed are
    reported as not tracked rather than guessed. ``lifecycle`` (the store's
    ``FindingState`` values) says when each unclosed loop was closed.
    """
    now = now.astimezone(timezone.utc)  # weeks and "as of" times are UTC
    settings = config.settings.digest
    workspace = batch.workspace
    context = Context(workspace, config, now)
    ratio = batch.feature_factory_ratio  # the engine's own figure, so digest and scan agree

    def team_of_issue(key: str) -> str:
        issue = workspace.get(key)
        return (issue.team if issue and issue.team else None) or UNASSIGNED

    def team_of(finding: Finding) -> str:
        return finding.team or team_of_issue(finding.issue)

    loop_rules = _register_rules(batch, LOOPS)
    loop_scope = {verdict.issue for verdict in batch.verdicts if verdict.rule in loop_rules}
    grace = next((rule.params.get("grace_days") for rule in batch.evaluated_rules
                  if rule.id in loop_rules and isinstance(rule.params.get("grace_days"), int)), None)
    closed_at: dict[str, datetime] = {}
    for state in lifecycle:
        if state.rule in loop_rules and state.resolved_at is not None:
            closed_at[state.issue] = max(state.resolved_at, closed_at.get(state.issue, state.resolved_at))
    loops = [_loop(workspace.get(f.issue), f, team_of(f), now, settings.loop_age_days)
             for f in batch.findings if f.rule in loop_rules and not f.waived]
    loops.sort(key=lambda loop: (-(loop.age_days or 0), loop.key))
    agreements = _agreements(batch, context)
    agreements.sort(key=lambda a: (not a.overdue, not a.undocumented, _key_order(a.key)))
    escalated_prints = {change.fingerprint for change in changes.escalated} if changes else set()

    def item(finding: Finding, note: str = "") -> FindingItem:
        return FindingItem(finding.issue, finding.summary, finding.url, team_of(finding), finding.rule,
                           finding.title, note)

    escalated = [item(f) for f in batch.findings if not f.waived and f.fingerprint in escalated_prints]
    waived = [item(f, f.waiver_reason or "") for f in batch.findings if f.waived]
    open_items = [item(f) for f in batch.findings if not f.waived]
    ffr_rule = ratio.get("rule")
    ffr_items = [item(f) for f in batch.findings if f.rule == ffr_rule]  # fired, waived or not (bot.ffr)

    def changed(change: Change) -> FindingItem:
        issue = workspace.get(change.issue)
        return FindingItem(change.issue, (issue.summary if issue else "") or change.summary,
                           (issue.url if issue else None) or change.url,
                           change.team or team_of_issue(change.issue), change.rule, change.title)

    issues_by_team: dict[str, list[Issue]] = {}
    for issue in workspace:
        issues_by_team.setdefault(issue.team or UNASSIGNED, []).append(issue)
    findings_by_team: dict[str, list[Finding]] = {}
    for finding in batch.findings:
        findings_by_team.setdefault(team_of(finding), []).append(finding)
    teams_config = config.section("teams")
    week_start = week_start_of(now)

    def make(team: str | None, name: str, issues: list[Issue], findings: list[Finding],
             week_changes: WeekChanges | None, channel: str | None) -> Digest:
        key = team or ORGANISATION
        in_team = (lambda t: True) if team is None else (lambda t: t == team)
        counts = ratio.get("counts") or {}
        if team is not None:
            counts = (counts.get("by_team") or {}).get(team) or {}
        digest = Digest(
            team=key, name=name, week_start=week_start, now=now,
            issues=len(issues),
            ffr=ratio["overall"] if team is None else ratio["by_team"].get(team),
            ffr_missing=counts.get("without_outcome", 0), ffr_scope=counts.get("total", 0),
            trend=_trend(history, key, week_start, settings.trend_weeks),
            rules=_rule_lines(findings, week_changes),
            changes_tracked=week_changes is not None,
            loops=[loop for loop in loops if in_team(loop.team)],
            loop_bands=[],
            agreements=[a for a in agreements if in_team(a.team)],
            flow=_flow(issues, now, settings.flow_window_days),
            realization=realization(issues, loop_scope, context, closed_at, now, grace),
            flow_load=flow_load(issues),
            flow_time=flow_time(issues, now, settings.flow_window_days),
            escalated=[i for i in escalated if in_team(i.team)],
            waived_items=[i for i in waived if in_team(i.team)],
            open_items=[i for i in open_items if in_team(i.team)],
            new_items=[changed(c) for c in (week_changes.new if week_changes else [])],
            fixed_items=[changed(c) for c in (week_changes.fixed if week_changes else [])],
            ffr_items=[i for i in ffr_items if in_team(i.team)],
            channel=channel,
        )
        digest.loop_bands = _bands(digest.loops, settings.loop_age_days)
        if team is None:
            # Owners are named only inside their own team's digest.
            digest.loops = [dataclasses.replace(loop, owner=None) for loop in digest.loops]
            digest.agreements = [dataclasses.replace(a, owner=None) for a in digest.agreements]
            digest.waived_items = [dataclasses.replace(i, note="") for i in digest.waived_items]
        digest.look_first = look_first(digest, settings)
        return digest

    def changes_for(team: str) -> WeekChanges | None:
        if changes is None:
            return None
        pick = lambda items: [c for c in items if (c.team or team_of_issue(c.issue)) == team]  # noqa: E731
        return WeekChanges(pick(changes.new), pick(changes.fixed))

    team_digests = []
    for team in sorted(set(teams_config) | set(issues_by_team) | set(findings_by_team), key=str.casefold):
        spec = teams_config.get(team) or {}
        team_digests.append(make(team, spec.get("name") or team, issues_by_team.get(team, []),
                                 findings_by_team.get(team, []), changes_for(team),
                                 spec.get("channel") or config.settings.slack.default_channel))
    organisation = make(None, settings.organisation, list(workspace), list(batch.findings),
                        changes, config.settings.slack.org_channel)
    organisation.teams = [TeamLine(d.team, d.name, d.issues, d.ffr, d.open_findings, len(d.loops), d.overdue,
                                   d.trend_with_now, d.ffr_change) for d in team_digests]
    return Digests(week_start, now, team_digests, organisation)


def _trend(history: History | None, team: str, week_start: date, weeks: int) -> list[TrendPoint]:
    """The ``weeks - 1`` weeks before ``week_start``, from the first one stored on: one point per
    calendar week, a week without a stored digest kept as a gap (``recorded`` false)."""
    if history is None:
        return []
    rows = history.digest_history(team, until=week_start - timedelta(days=1), weeks=weeks - 1)
    first = week_start - timedelta(weeks=weeks - 1)
    points = {week: figures for week, figures in rows if first <= week < week_start}
    if not points:
        return []
    out, week = [], min(points)
    while week < week_start:
        if week in points:
            flow = points[week].get("flow")
            out.append(TrendPoint(week, points[week].get("ffr"),
                                  flow={k: int(v) for k, v in flow.items()} if isinstance(flow, dict) else None))
        else:
            out.append(TrendPoint(week, None, recorded=False))
        week += timedelta(weeks=1)
    return out


def _rule_lines(findings: Iterable[Finding], changes: WeekChanges | None) -> list[RuleLine]:
    lines: dict[str, RuleLine] = {}

    def line(rule: str, title: str) -> RuleLine:
        entry = lines.setdefault(rule, RuleLine(rule, title))
        entry.title = entry.title or title
        return entry

    for finding in findings:
        entry = line(finding.rule, finding.title)
        if finding.waived:
            entry.waived += 1
        else:
            entry.open += 1
    for change in (changes.new if changes else []):
        line(change.rule, change.title).new += 1
    for change in (changes.fixed if changes else []):
        line(change.rule, change.title).fixed += 1
    return sorted(lines.values(), key=lambda l: (-l.open, -l.waived, -l.fixed, l.rule))


def _owner_name(finding: Finding | None) -> str | None:
    owner = finding.owner if finding else None
    return owner.display_name if owner and owner.display_name else None


def _band(age_days: int | None, bounds: list[int]) -> str:
    if age_days is None:
        return "unknown age"
    bounds = sorted(bounds)
    if age_days < bounds[0]:
        return f"under {bounds[0]} days"
    for low, high in zip(bounds, bounds[1:]):
        if age_days < high:
            return f"{low}-{high - 1} days"
    return f"{bounds[-1]}+ days"


def _bands(loops: list[Loop], bounds: list[int]) -> list[tuple[str, int]]:
    """Loop counts per age band, oldest band first, every band shown even when empty."""
    bounds = sorted(bounds)
    names = [_band(0, bounds)] + [_band(b, bounds) for b in bounds]
    counts = {name: 0 for name in names}
    for loop in loops:
        counts[loop.band] = counts.get(loop.band, 0) + 1
    return list(reversed(list(counts.items())))


def _loop(issue: Issue | None, finding: Finding, team: str, now: datetime, bounds: list[int]) -> Loop:
    resolved = issue.resolved if issue else None
    age = max(0, (now - resolved).days) if resolved else None
    return Loop(key=finding.issue, summary=(issue.summary if issue else finding.summary),
                url=(issue.url if issue else None) or finding.url, team=team,
                resolved=resolved.date() if resolved else None, age_days=age,
                band=_band(age, bounds), owner=_owner_name(finding))


def _register_rules(batch: Any, name: str, flag: str | None = None) -> set[str]:
    """Ids of the evaluated rules that fill the register ``name`` (with ``flag``, if given)."""
    return {rule.id for rule in batch.evaluated_rules
            if rule.register is not None and rule.register.name == name
            and (flag is None or rule.register.flag == flag)}


def _agreements(batch: Any, context: Context) -> list[Agreement]:
    """The open issues in the scope of the register's rules, flagged by the findings of those rules.

    Membership is the rules' scope (every issue they gave a verdict on), so the
    register and the rules cannot disagree on what an agreement is; an
    agreement is undocumented exactly where the rule flagged ``undocumented``
    fired, and in the parts its finding names.
    """
    members = _register_rules(batch, AGREEMENTS)
    if not members:
        return []
    undocumented_rules = _register_rules(batch, AGREEMENTS, "undocumented")
    overdue_rules = _register_rules(batch, AGREEMENTS, "overdue")
    keys: dict[str, None] = {}
    findings: dict[str, list[Finding]] = {}
    for verdict in batch.verdicts:
        if verdict.rule in members:
            keys.setdefault(verdict.issue)
            if verdict.finding is not None:
                findings.setdefault(verdict.issue, []).append(verdict.finding)
    out = []
    for key in keys:
        issue = context.workspace.get(key)
        if issue is None or issue.is_done():
            continue
        mine = findings.get(key, [])
        overdue = next((f for f in mine if f.rule in overdue_rules), None)
        incomplete = [f for f in mine if f.rule in undocumented_rules]
        missing = {subject.casefold() for f in incomplete for subject in f.subjects}
        parts = {label: ("" if name.casefold() in missing else context.lookup(issue, name)[0])
                 for label, name in AGREEMENT_PARTS.items()}
        undocumented = [label for label, name in AGREEMENT_PARTS.items() if name.casefold() in missing]
        if incomplete and not undocumented:
            # The rule fired on parts the register does not show by name: say so, never hide it.
            undocumented = sorted(missing) or ["details"]
        owned = overdue or next((f for f in mine if f.owner), None)
        out.append(Agreement(
            key=issue.key, summary=issue.summary, url=issue.url, team=issue.team or UNASSIGNED,
            status=issue.status, reason=parts["reason"], impact=parts["impact"],
            timeline=parts["timeline or trigger"], overdue=overdue is not None, owner=_owner_name(owned),
            undocumented=undocumented))
    return out


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (key, 0)


def _flow(issues: Iterable[Issue], now: datetime, window_days: int) -> Flow:
    since = now - timedelta(days=window_days)
    counts = {kind: 0 for kind in FLOW_ITEMS}
    unclassified = 0
    for issue in issues:
        if not (issue.is_done() and issue.resolved and since <= issue.resolved <= now):
            continue
        if issue.flow_item in counts:
            counts[issue.flow_item] += 1
        elif not issue.type_mapped:
            unclassified += 1
    return Flow(counts, window_days, unclassified)


def look_first(digest: Digest, settings) -> str:
    """One question for the team: the most useful place to start this week."""
    if digest.issues == 0:
        return ("This team has no issues in the scanned projects: is its work tracked "
                "in a project govbot does not scan yet?")
    if digest.overdue:
        them = "it" if digest.overdue == 1 else "them"
        return (f"{plural(digest.overdue, 'tech-debt agreement')} passed "
                f"{'its' if digest.overdue == 1 else 'their'} timeline: can the next grooming session "
                f"decide to pay down, re-plan or close {them}?")
    if digest.escalated:
        count = len(digest.escalated)
        return (f"{plural(count, 'finding')} {'is' if count == 1 else 'are'} still open after every "
                "reminder, so govbot has stopped asking: what is in the way?")
    if digest.loops and (digest.loops[0].age_days or 0) >= max(settings.loop_age_days):
        oldest = digest.loops[0]
        return (f"{oldest.key} was delivered {oldest.age_days} days ago: what happened to the measure "
                "its anticipated outcome named?")
    if digest.ffr is not None and digest.ffr >= settings.ffr_attention and digest.ffr_missing:
        return (f"{plural(digest.ffr_missing, 'epic or initiative', 'epics or initiatives')} "
                f"{'has' if digest.ffr_missing == 1 else 'have'} no anticipated outcome yet: "
                "what do we hope each will change for customers, the business or the platform?")
    if digest.loops:
        return (f"{plural(len(digest.loops), 'delivered epic')} still "
                f"{'waits' if len(digest.loops) == 1 else 'wait'} for an actual outcome: "
                "has the data arrived to close the loop?")
    flow = digest.flow
    if flow.total >= 5 and flow.counts["feature"] == flow.total:
        return (f"Every item delivered in the last {flow.window_days} days was a feature: "
                "are debt and risk building up where nobody is looking?")
    if digest.open_findings:
        return (f"The most frequent open finding is {digest.rules[0].rule}: is there a habit or a "
                "template that would prevent it?")
    return "Nothing stands out this week: is there an outcome worth sharing at the next review?"

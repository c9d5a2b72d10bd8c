"""Synthetic Jira workspaces, shaped exactly like Jira's search responses.

One core serves two callers: ``bot/demo/build.py`` writes the bundled demo
workspace from hand-placed scenarios, and ``benchmarks/generate.py`` writes
random workloads of any size. Both describe issues as ``Spec`` objects and
render them either as Jira Cloud JSON (REST v3 ``/search/jql`` pages: ADF
text, ``parent`` objects, ``issuetype.hierarchyLevel``) or as Data Center JSON
(REST v2 ``/search`` pages: wiki markup, Epic Link and Parent Link fields).

Every spec also knows which default rules it is meant to trip
(``expected_rules``): the generator's own account of what it seeded, so a
scan of the output can be checked against it. The rule semantics it assumes
are written out in ``bot/demo/README.md``.

Standard library only and deterministic for a seed. Generation streams: a
200,000-issue workload holds one family of issues at a time, not the lot.
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Iterator, Sequence, TextIO

UTC = timezone.utc
CLOUD = "cloud"
DATACENTER = "datacenter"
FLAVOURS = (CLOUD, DATACENTER)

DEMO_NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday
CLOUD_SITE = "https://govbot-demo.atlassian.net"
DATACENTER_SITE = "https://jira.example.com"
TECH_DEBT_LABEL = "tech-debt-agreement"
GRACE_DAYS = 30

# The default rule pack's ids, in the order reports list them.
ANTICIPATED_MISSING = "anticipated-outcome-missing"
ANTICIPATED_UNMEASURABLE = "anticipated-outcome-unmeasurable"
ACTUAL_MISSING = "closing-the-loop-actual-outcome-missing"
AGREEMENT_INCOMPLETE = "tech-debt-agreement-incomplete"
AGREEMENT_OVERDUE = "tech-debt-agreement-overdue"
AGREEMENT_BELOW_EPIC = "tech-debt-agreement-below-epic"
NOT_A_WORK_ITEM = "work-hierarchy-not-a-work-item"
INVERTED = "work-hierarchy-inverted"
SKIPPED_LEVEL = "work-hierarchy-skipped-level"
STORY_WITHOUT_EPIC = "work-hierarchy-story-without-epic"
UNMAPPED_TYPE = "work-hierarchy-unmapped-type"
RULES = (ANTICIPATED_MISSING, ANTICIPATED_UNMEASURABLE, ACTUAL_MISSING, AGREEMENT_INCOMPLETE,
         AGREEMENT_OVERDUE, AGREEMENT_BELOW_EPIC, NOT_A_WORK_ITEM, INVERTED, SKIPPED_LEVEL,
         STORY_WITHOUT_EPIC, UNMAPPED_TYPE)

# ---------------------------------------------------------------------------
# The default hierarchy map (a copy of bot.config.DEFAULTS["hierarchy"], kept
# here so this module stays standard-library only and importable anywhere).
# ---------------------------------------------------------------------------
LEVEL_RANK = {"theme": 6, "initiative": 5, "epic": 4, "feature": 3, "story": 2, "sub-task": 1}
OPTIONAL_LEVELS = {"theme", "feature"}
TYPE_LEVEL = {
    "theme": "theme", "initiative": "initiative", "epic": "epic", "feature": "feature",
    **{name: "story" for name in ("story", "user story", "bug", "defect", "task", "spike", "improvement",
                                  "technical debt", "tech debt", "risk")},
    **{name: "sub-task" for name in ("sub-task", "subtask", "technical task")},
}
FLOW_TYPES = {"story", "user story", "feature", "improvement", "bug", "defect", "incident", "risk",
              "vulnerability", "security", "compliance", "technical debt", "tech debt", "debt"}
NOT_WORK_ITEMS = {"release"}
JIRA_LEVELS = {-1: "sub-task", 0: "story", 1: "epic", 2: "initiative", 3: "theme"}
FEATURE_FLOW_TYPES = {"story", "user story", "feature", "improvement"}
OUTCOME_LEVELS = ("theme", "initiative", "epic")
LOOP_LEVELS = OUTCOME_LEVELS  # "epic and above", like the anticipated-outcome rules
BELOW_EPIC = ("feature", "story", "sub-task")


@dataclass(frozen=True)
class IssueType:
    name: str
    id: str
    hierarchy_level: int  # Jira Cloud's number; Data Center does not send it
    subtask: bool
    description: str


ISSUE_TYPES = {t.name: t for t in (
    IssueType("Theme", "10010", 3, False, "A strategic theme that groups initiatives."),
    IssueType("Initiative", "10009", 2, False, "A large body of work that groups epics."),
    IssueType("Epic", "10000", 1, False, "A big user story that needs to be broken down."),
    IssueType("Feature", "10008", 0, False, "A feature delivered by a few stories."),
    IssueType("Story", "10001", 0, False, "Functionality or a feature expressed as a user goal."),
    IssueType("Task", "10002", 0, False, "A small, distinct piece of work."),
    IssueType("Bug", "10004", 0, False, "A problem or error."),
    IssueType("Spike", "10014", 0, False, "Time-boxed research."),
    IssueType("Sub-task", "10003", -1, True, "A small piece of work that's part of a larger task."),
    IssueType("Release", "10011", 0, False, "A scheduled deployment."),
    IssueType("Deliverable", "10012", 0, False, "Something handed over to a customer."),
    IssueType("Work Package", "10013", 0, False, "A contractual unit of work."),
)}


def level_of(issue_type: IssueType, flavour: str) -> str | None:
    """The hierarchy level the default map gives a type (None: no level)."""
    folded = issue_type.name.casefold()
    if folded in NOT_WORK_ITEMS:
        return None
    if folded in TYPE_LEVEL:
        return TYPE_LEVEL[folded]
    if flavour == CLOUD:
        return JIRA_LEVELS.get(issue_type.hierarchy_level)
    return "sub-task" if issue_type.subtask else None


def is_mapped(issue_type: IssueType) -> bool:
    folded = issue_type.name.casefold()
    return folded in TYPE_LEVEL or folded in NOT_WORK_ITEMS or folded in FLOW_TYPES


@dataclass(frozen=True)
class Status:
    name: str
    id: str
    category: str  # new | indeterminate | done


STATUSES = {s.name: s for s in (
    Status("Backlog", "10000", "new"), Status("To Do", "10001", "new"),
    Status("In Progress", "3", "indeterminate"), Status("In Review", "10002", "indeterminate"),
    Status("Done", "10003", "done"), Status("Closed", "6", "done"),
)}
CATEGORIES = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
              "done": (3, "Done", "green")}
STATUS_BY_CATEGORY = {"new": ("To Do", "Backlog"), "indeterminate": ("In Progress", "In Review"),
                      "done": ("Done", "Closed")}
PRIORITIES = (("Highest", "1"), ("High", "2"), ("Medium", "3"), ("Low", "4"), ("Lowest", "5"))

# Field ids. Both flavours use 10050-10052 for the outcome fields; the rest
# differ the way they differ between real Cloud and Data Center sites.
ANTICIPATED_FIELD = "customfield_10050"
ACTUAL_FIELD = "customfield_10051"
OWNER_FIELD = "customfield_10052"
CLOUD_CUSTOM = {
    ANTICIPATED_FIELD: "Anticipated Outcome", ACTUAL_FIELD: "Actual Outcome", OWNER_FIELD: "Outcome Owner",
    "customfield_10001": "Team", "customfield_10016": "Story point estimate", "customfield_10015": "Start date",
}
DC_EPIC_LINK = "customfield_10100"
DC_EPIC_NAME = "customfield_10101"
DC_PARENT_LINK = "customfield_10200"
DC_CUSTOM = {
    ANTICIPATED_FIELD: "Anticipated Outcome", ACTUAL_FIELD: "Actual Outcome", OWNER_FIELD: "Outcome Owner",
    DC_EPIC_LINK: "Epic Link", DC_EPIC_NAME: "Epic Name", DC_PARENT_LINK: "Parent Link",
    "customfield_10300": "Team", "customfield_10106": "Story Points",
}
SYSTEM_NAMES = {
    "summary": "Summary", "issuetype": "Issue Type", "parent": "Parent", "project": "Project",
    "status": "Status", "statuscategorychangedate": "Status Category Changed", "priority": "Priority",
    "labels": "Labels", "components": "Components", "assignee": "Assignee", "reporter": "Reporter",
    "created": "Created", "updated": "Updated", "resolutiondate": "Resolved", "resolution": "Resolution",
    "description": "Description", "duedate": "Due date", "fixVersions": "Fix versions",
}


# ---------------------------------------------------------------------------
# What an issue is made of
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    display_name: str
    username: str
    account_id: str
    email: str | None  # None: hidden by the user's privacy settings (Cloud)
    timezone: str
    key: str  # Data Center user key


@dataclass(frozen=True)
class Project:
    key: str
    name: str
    id: str
    timezone: str
    components: tuple[str, ...]
    things: tuple[str, ...]  # product nouns for summaries; no digits (vague outcomes use them)
    people: tuple[Person, ...]  # [0] product manager, [1] tech lead, then engineers
    outcome_in_field: float = 0.6  # share of outcomes kept in the custom field vs the description
    uses_features: bool = False
    team_field: bool = True  # whether the site's Team field is filled in

    @property
    def product_manager(self) -> Person:
        return self.people[0]

    @property
    def tech_lead(self) -> Person:
        return self.people[1]


@dataclass(slots=True)
class Text:
    """An outcome-like value and where it is recorded.

    kind: measurable | vague | placeholder | empty | copy (of the summary) |
    absent for anticipated outcomes; recorded | placeholder | empty | absent for
    actual outcomes. where: field | heading | label | synonym (an "Expected
    Outcome" heading) | panel (a heading inside an ADF info panel) | none.
    """

    kind: str
    text: str = ""
    where: str = "field"


@dataclass(slots=True)
class Agreement:
    """A tech-debt agreement's sections. None: section absent; "": heading left empty."""

    reason: str | None
    impact: str | None
    timeline: str | None  # the words; ``due`` is appended (or an ADF date node on Cloud)
    due: date | None = None
    timeline_name: str = "Timeline"  # or "Trigger"
    style: str = "heading"  # heading | label
    interest: str | None = None
    date_node: bool = False

    @property
    def complete(self) -> bool:
        return bool(self.reason and self.impact and self.timeline)


@dataclass(slots=True, eq=False)
class Spec:
    key: str
    id: str
    project: Project
    type: IssueType
    summary: str
    status: Status
    created: datetime
    updated: datetime
    resolved: datetime | None = None
    parent: "Spec | None" = None
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    priority: tuple[str, str] = ("Medium", "3")
    assignee: Person | None = None
    reporter: Person | None = None
    owner: Person | None = None
    outcome: Text | None = None
    actual: Text | None = None
    agreement: Agreement | None = None
    head: list = field(default_factory=list)  # description blocks before the outcome section
    tail: list = field(default_factory=list)  # description blocks after it
    points: float | None = None
    dc_link: str = "object"  # Data Center Parent Link shape: object | key
    note: str = ""  # why this issue is here (demo README); never rendered

    @property
    def done(self) -> bool:
        return self.status.category == "done"


# ---------------------------------------------------------------------------
# The generator's account of what it seeded
# ---------------------------------------------------------------------------
MISSING_KINDS = {"placeholder", "empty", "copy", "absent"}


def expected_rules(spec: Spec, flavour: str, now: datetime) -> list[str]:
    """The default rules this issue is built to trip, in ``RULES`` order."""
    fired: set[str] = set()
    level = level_of(spec.type, flavour)
    if level in OUTCOME_LEVELS:
        kind = spec.outcome.kind if spec.outcome else "absent"
        if kind in MISSING_KINDS:
            fired.add(ANTICIPATED_MISSING)
        elif kind == "vague":
            fired.add(ANTICIPATED_UNMEASURABLE)
    if (level in LOOP_LEVELS and spec.done and spec.resolved is not None
            and now - spec.resolved > timedelta(days=GRACE_DAYS)
            and (spec.actual is None or spec.actual.kind != "recorded")):
        fired.add(ACTUAL_MISSING)
    if TECH_DEBT_LABEL in spec.labels:
        if level == "epic":
            agreement = spec.agreement
            if agreement is None or not agreement.complete:
                fired.add(AGREEMENT_INCOMPLETE)
            if agreement and agreement.due and agreement.due < now.date() and not spec.done:
                fired.add(AGREEMENT_OVERDUE)
        elif level in BELOW_EPIC:
            fired.add(AGREEMENT_BELOW_EPIC)
    if spec.type.name.casefold() in NOT_WORK_ITEMS:
        fired.add(NOT_A_WORK_ITEM)
    parent_level = level_of(spec.parent.type, flavour) if spec.parent else None
    if level and parent_level:
        if LEVEL_RANK[level] >= LEVEL_RANK[parent_level]:
            fired.add(INVERTED)
        elif any(LEVEL_RANK[level] < rank < LEVEL_RANK[parent_level] and name not in OPTIONAL_LEVELS
                 for name, rank in LEVEL_RANK.items()):
            fired.add(SKIPPED_LEVEL)
    if level in ("story", "feature") and spec.type.name.casefold() in FEATURE_FLOW_TYPES:
        # Orphan = nothing at epic level or above anywhere up the chain. A story
        # right under an initiative is the skipped-level rule's finding, and an
        # ancestor with no known level (a Release) leaves no verdict.
        ancestor, steps, verdict = spec.parent, 0, True
        while ancestor is not None and steps < 20:
            ancestor_level = level_of(ancestor.type, flavour)
            if ancestor_level is None or LEVEL_RANK[ancestor_level] >= LEVEL_RANK["epic"]:
                verdict = False
                break
            ancestor, steps = ancestor.parent, steps + 1
        if verdict:
            fired.add(STORY_WITHOUT_EPIC)
    if not is_mapped(spec.type):
        fired.add(UNMAPPED_TYPE)
    return [rule for rule in RULES if rule in fired]


class Tally:
    """Findings per rule and the Feature Factory Ratio, from ``expected_rules``."""

    def __init__(self, flavour: str, now: datetime):
        self.flavour, self.now = flavour, now
        self.by_rule = {rule: 0 for rule in RULES}
        self.examples: dict[str, list[str]] = {rule: [] for rule in RULES}
        self.issues: dict[str, list[str]] = {}
        self.scanned = 0
        self.levels: dict[str, int] = {}
        self.top: dict[str, list[int]] = {}  # project -> [without outcome, all]

    def add(self, spec: Spec, keep_clean: bool = True) -> list[str]:
        fired = expected_rules(spec, self.flavour, self.now)
        self.scanned += 1
        level = level_of(spec.type, self.flavour) or ("not a work item" if spec.type.name == "Release" else "unmapped")
        self.levels[spec.type.name] = self.levels.get(spec.type.name, 0) + 1
        if fired or keep_clean:
            self.issues[spec.key] = fired
        for rule in fired:
            self.by_rule[rule] += 1
            self.examples[rule].append(spec.key)
        if level in OUTCOME_LEVELS:
            counts = self.top.setdefault(spec.project.key, [0, 0])
            counts[0] += ANTICIPATED_MISSING in fired
            counts[1] += 1
        return fired

    def feature_factory_ratio(self) -> dict[str, Any]:
        missing = sum(c[0] for c in self.top.values())
        total = sum(c[1] for c in self.top.values())
        return {
            "overall": _percent(missing, total),
            "by_project": {key: _percent(*counts) for key, counts in sorted(self.top.items())},
            "counts": {"overall": [missing, total], **{key: counts for key, counts in sorted(self.top.items())}},
        }


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


# ---------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------
FIRST_NAMES = ("Amara", "Ben", "Chen", "Dara", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya",
               "Liam", "Maya", "Nikolai", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tamar", "Uma", "Victor",
               "Wen", "Ximena", "Yusuf", "Zoe", "Aino", "Bruno", "Carmen", "Dmitri", "Esi", "Fatima")
LAST_NAMES = ("Okafor", "Lindqvist", "Zhang", "Murphy", "Yilmaz", "Haddad", "Osei", "Tanaka", "Moreau",
              "Becker", "Iyer", "Walsh", "Costa", "Petrov", "Adeyemi", "Sharma", "Dubois", "Alvarez",
              "Nilsson", "Cohen", "Rao", "Novak", "Li", "Garcia", "Demir", "Fischer", "Kowalski", "Mensah")


@dataclass(frozen=True)
class Domain:
    key: str
    name: str
    timezone: str
    components: tuple[str, ...]
    things: tuple[str, ...]
    users: str  # who the product serves, for story text
    uses_features: bool = False


DOMAINS = (
    Domain("PAY", "Payments", "Europe/London", ("Checkout", "Payouts", "Risk"),
           ("saved cards", "refunds", "payouts", "chargebacks", "strong customer authentication",
            "invoices", "currency display", "fraud rules", "recurring billing", "split payments",
            "receipts", "the merchant portal", "bank transfers", "card tokenisation"), "merchant"),
    Domain("MOB", "Mobile", "America/New_York", ("iOS", "Android", "Design system"),
           ("push notifications", "dark mode", "offline mode", "biometric login", "card freeze",
            "app onboarding", "in-app chat", "home screen widgets", "accessibility", "app start-up",
            "the settings screen", "deep links", "the transaction list"), "customer", uses_features=True),
    Domain("PLAT", "Platform", "Europe/Berlin", ("Kubernetes", "CI", "Observability"),
           ("the Kubernetes upgrade", "the service mesh", "CI pipelines", "secrets rotation",
            "observability", "database failover", "the API gateway", "feature flags",
            "cost dashboards", "log retention", "the build cache", "service templates"), "engineer"),
    Domain("DATA", "Data", "Asia/Kolkata", ("Pipelines", "Warehouse", "ML"),
           ("the event pipeline", "the data warehouse", "the churn model", "the experiment platform",
            "GDPR deletion", "the metrics layer", "dbt models", "streaming ingestion", "the data catalogue",
            "demand forecasting"), "analyst", uses_features=True),
    Domain("SRCH", "Search", "Europe/Amsterdam", ("Indexing", "Ranking"),
           ("search suggestions", "the ranking model", "index rebuilds", "typo tolerance", "search filters",
            "synonym lists"), "shopper"),
    Domain("GROW", "Growth", "America/Los_Angeles", ("Acquisition", "Lifecycle"),
           ("referrals", "the welcome journey", "lifecycle emails", "landing pages", "promo codes",
            "the upgrade prompt"), "visitor"),
    Domain("IDN", "Identity", "Europe/Dublin", ("Auth", "Accounts"),
           ("single sign-on", "passkeys", "account recovery", "session management", "user roles",
            "the login page"), "user", uses_features=True),
    Domain("SUP", "Support", "Australia/Sydney", ("Help centre", "Tooling"),
           ("the help centre", "agent macros", "ticket routing", "the chatbot", "satisfaction surveys",
            "the agent console"), "support agent"),
)

THEME_SUMMARIES = ("Grow in Europe", "Reliable by default", "Trustworthy data", "Mobile first",
                   "Self-service everything", "Lower cost to serve")
INITIATIVE_TEMPLATES = ("Make {thing} self-service", "Scale {thing} for next year", "Grow adoption of {thing}",
                        "Modernise {thing}", "Expand {thing} to new markets", "Make {thing} effortless")
EPIC_TEMPLATES = ("Launch {thing}", "Rebuild {thing}", "Simplify {thing}", "Redesign {thing}",
                  "Automate {thing}", "Harden {thing}", "Extend {thing}", "Migrate {thing}")
FEATURE_TEMPLATES = ("{Thing} for new {users}s", "{Thing} power tools", "{Thing} essentials")
STORY_TEMPLATES = ("Show {thing} status on the account page", "Add a settings toggle for {thing}",
                   "Log {thing} events to the audit trail", "Handle provider timeouts in {thing}",
                   "Validate the {thing} form", "Add an API endpoint for {thing}", "Let {users}s export {thing}",
                   "Send a confirmation email for {thing}", "Add tracing to {thing}", "Empty state for {thing}")
BUG_TEMPLATES = ("{Thing} fails when the session expires", "Crash opening {thing} on older devices",
                 "Wrong currency symbol in {thing}", "Duplicate events from {thing}",
                 "{Thing} ignores the user's locale", "Spinner never stops in {thing}")
TASK_TEMPLATES = ("Update the runbook for {thing}", "Upgrade the client library used by {thing}",
                  "Remove the old feature flag for {thing}", "Rotate credentials used by {thing}")
SPIKE_TEMPLATES = ("Spike: options for {thing}", "Spike: vendor comparison for {thing}")
SUBTASK_SUMMARIES = ("Backend changes", "Frontend changes", "Unit tests", "Update API docs", "QA on staging",
                     "Code review fixes", "Database migration", "Analytics events", "Copy review")

MEASURABLE_TEMPLATES = (
    "Raise {thing} completion from {a}% to {b}% within {days} days of launch.",
    "Cut support contacts about {thing} by {pct}% by {quarter}, saving about {hours} agent hours a month.",
    "{pct}% of active {users}s use {thing} at least once a month by {quarter}, lifting 90-day retention by {small}%.",
    "Reduce p95 latency of {thing} from {ms_a} ms to {ms_b} ms for {share}% of requests by {when}.",
    "Grow monthly revenue from {thing} by {k}k EUR by {quarter}.",
    "Halve time-to-first-value for {thing}: from {a} minutes to {half} minutes for new {users}s by {when}.",
)
DEBT_MEASURABLE_TEMPLATES = (
    "Halve incidents caused by {thing} (from {n1} to {n2} a quarter) by {quarter}.",
    "Cut lead time for changes touching {thing} from {a} days to {b2} days by {when}.",
    "Serve {share}% of traffic through the new {thing} path by {when}, removing a single point of failure.",
)
VAGUE_TEMPLATES = (  # no digits, no measure words: these must read as unmeasurable
    "Make {thing} better for our {users}s.",
    "Improve the overall experience of {thing}.",
    "Our {users}s should be happier with {thing}.",
    "Modernise {thing} and make it more robust.",
    "A cleaner, more delightful {thing}.",
    "Bring {thing} in line with the new product strategy.",
)
# Words that name a measure (the engine's lacks-measure check counts them); a
# vague outcome must contain none of them, nor any digit.
MEASURE_WORDS = re.compile(
    r"\d|%|\b(percent|percentage|kpi|okr|metric|nps|csat|rate|ratio|conversion|retention|churn|latency|"
    r"uptime|availability|revenue|cost|mttr|lead time|cycle time|throughput|baseline|target|double|halve|"
    r"half|faster|slower|fewer)\b", re.IGNORECASE)
PLACEHOLDERS = ("TBD", "n/a", "-", "TODO", "TBC", "tbd", "N/A", "to do")
ACTUAL_TEMPLATES = (
    "Completion went from {a}% to {b}% in the {weeks} weeks after launch (target was {c}%). Keeping it.",
    "Support contacts fell {pct}% against a {c}% target; the remaining gap is in the error copy.",
    "Adoption reached {pct}% of active {users}s; retention moved {small}% in the first quarter.",
    "Latency target met: p95 is now {ms_b} ms. Incidents in the area dropped from {n1} to {n2}.",
)
REASONS = ("Hard launch date for the partner go-live; we shipped without {shortcut}.",
           "Experiment: we wanted real usage of {thing} before investing properly, so we skipped {shortcut}.",
           "The vendor contract ended early and forced a quick swap with no time for {shortcut}.",
           "Regulatory deadline; {shortcut} was cut to make the date.")
SHORTCUTS = ("retries", "idempotency keys", "integration tests", "a proper data model", "caching",
             "automated rollback", "schema validation", "load testing")
IMPACTS = ("Every change to {thing} needs a manual regression pass of about half a day.",
           "It will not scale past current traffic; a spike risks timeouts for {users}s.",
           "Duplicate logic in two services doubles the effort of every bug fix in {thing}.",
           "On-call gets paged for {thing} failures that retries would absorb.")
TIMELINE_WORDS = ("Pay down by", "Pay down in the first sprint after", "Schedule the fix before")
TRIGGERS = ("When traffic to {thing} doubles, or before the next vendor renewal.",
            "Before any new market launch that depends on {thing}.",
            "As soon as a second team needs {thing}.")
CONTEXT_TEMPLATES = (
    "{Users}s keep asking for {thing}; it is the most requested change in the last two research rounds.",
    "Today {thing} is handled by hand and by a handful of scripts nobody owns.",
    "Competitors already offer {thing} and sales calls mention it every week.",
    "{Thing} is the main source of pages for the on-call rota.",
)
SCOPE_ITEMS = ("Discovery interviews with {users}s", "Design and copy for {thing}", "Backend API changes",
               "Rollout behind a feature flag", "Dashboards and alerts", "Migration of existing data",
               "Help-centre article")
CRITERIA = ("Works on every supported browser and app version", "Errors are shown in plain language",
            "Events are tracked in the analytics layer", "Covered by automated tests",
            "Feature flag can switch it off", "Accessible with a screen reader")


def _fill(template: str, rng: random.Random, thing: str, users: str, now: datetime) -> str:
    year = now.year + rng.choice((0, 1))
    future = (now + timedelta(days=rng.randint(45, 300))).date()
    a = rng.randint(35, 70)
    values = {
        "thing": thing, "Thing": thing[:1].upper() + thing[1:], "users": users, "Users": users.capitalize(),
        "a": a, "b": a + rng.randint(5, 25), "c": a + rng.randint(8, 28), "b2": max(1, a // 10),
        "half": max(1, a // 2), "days": rng.choice((7, 14, 30, 60)), "pct": rng.choice((10, 15, 20, 25, 30, 40)),
        "small": rng.choice((2, 3, 5, 8)), "hours": rng.choice((40, 80, 120, 200)),
        "quarter": f"Q{rng.randint(1, 4)} {year}", "when": future.isoformat(), "weeks": rng.randint(3, 10),
        "ms_a": rng.choice((800, 1200, 1500, 2000)), "ms_b": rng.choice((250, 300, 400)),
        "share": rng.choice((95, 99)), "k": rng.choice((20, 50, 120, 300)), "n1": rng.randint(8, 20),
        "n2": rng.randint(1, 4), "shortcut": rng.choice(SHORTCUTS),
    }
    return template.format(**values)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------
# Building specs
# ---------------------------------------------------------------------------
def make_people(rng: random.Random, count: int, timezone_name: str, offset: int, *,
                hidden_email_share: float = 0.3, domain: str = "example.com") -> tuple[Person, ...]:
    people = []
    for index in range(count):
        number = offset + index
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = LAST_NAMES[(number * 7 + number // len(FIRST_NAMES)) % len(LAST_NAMES)]
        username = f"{first}.{last}".lower() + (str(number // 200) if number >= 200 else "")
        account = f"712020:{uuid.UUID(int=rng.getrandbits(128))}"
        email = None if rng.random() < hidden_email_share else f"{username}@{domain}"
        people.append(Person(f"{first} {last}", username, account, email, timezone_name, f"JIRAUSER{10100 + number}"))
    return tuple(people)


def make_projects(count: int, rng: random.Random) -> list[Project]:
    """``count`` projects cycling through the domains (PAY, MOB, PLAT, DATA, SRCH...)."""
    projects = []
    for index in range(count):
        domain = DOMAINS[index % len(DOMAINS)]
        round_ = index // len(DOMAINS)
        key = domain.key + ("" if round_ == 0 else _letters(round_))
        name = domain.name + ("" if round_ == 0 else f" {_letters(round_)}")
        people = make_people(rng, 6, domain.timezone, index * 6)
        projects.append(Project(key, name, str(10000 + index), domain.timezone, domain.components,
                                domain.things, people, outcome_in_field=rng.choice((0.2, 0.5, 0.8)),
                                uses_features=domain.uses_features, team_field=index % 3 != 2))
    return projects


def _letters(number: int) -> str:
    text = ""
    while number > 0:
        number, digit = divmod(number - 1, 26)
        text = chr(ord("A") + digit) + text
    return text


_DOMAIN_BY_KEY = {d.key: d for d in DOMAINS}


def _users(project: Project) -> str:
    for domain in DOMAINS:
        if project.things == domain.things:
            return domain.users
    return "customer"


class Builder:
    """Makes ``Spec`` objects with ids, keys and consistent dates, and renders them."""

    def __init__(self, flavour: str, *, seed: int = 0, now: datetime = DEMO_NOW, site: str | None = None):
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}, not {flavour!r}")
        self.flavour = flavour
        self.rng = random.Random(seed)
        self.now = now
        self.site = (site or (CLOUD_SITE if flavour == CLOUD else DATACENTER_SITE)).rstrip("/")
        self.api = "3" if flavour == CLOUD else "2"
        self._next_id = 10000
        self._counters: dict[str, int] = {}
        self._static: dict[Any, Any] = {}

    # -- spec construction ---------------------------------------------------
    def safe_resolved_age(self) -> int:
        """Days since resolution, kept clear of the 30-day grace boundary."""
        rng = self.rng
        return rng.randint(2, 26) if rng.random() < 0.25 else rng.randint(35, 400)

    def make(self, project: Project, type_name: str, summary: str, *, parent: Spec | None = None,
             status: str | None = None, category: str | None = None, age: int | None = None,
             resolved_ago: int | None = None, outcome: Text | None = None, actual: Text | None = None,
             agreement: Agreement | None = None, labels: Sequence[str] = (), head: list | None = None,
             tail: list | None = None, owner: Person | None | bool = True, assignee: Person | None | bool = True,
             priority: str | None = None, points: float | None | bool = True, dc_link: str | None = None,
             note: str = "") -> Spec:
        rng = self.rng
        issue_type = ISSUE_TYPES[type_name]
        if status is None:
            if category is None:
                category = "done" if resolved_ago is not None else "new"
            status = rng.choice(STATUS_BY_CATEGORY[category])
        status_obj = STATUSES[status]
        resolved = None
        if status_obj.category == "done":
            if resolved_ago is None:
                resolved_ago = self.safe_resolved_age()
            resolved = self._stamp(resolved_ago)
        earliest = (resolved_ago or 0) + 3
        if age is None:
            age = earliest + rng.randint(5, 180)
        created = self._stamp(max(age, earliest))
        if resolved is not None:
            updated = min(self.now, resolved + timedelta(hours=rng.randint(0, 72), minutes=rng.randint(0, 59)))
        else:
            span = max(1, int((self.now - created).total_seconds() // 60) - 60)
            updated = created + timedelta(minutes=rng.randint(span // 2, span))
        self._next_id += 1
        count = self._counters.get(project.key, 0) + 1
        self._counters[project.key] = count
        people = project.people
        level = level_of(issue_type, self.flavour)
        if owner is True:
            owner = (project.tech_lead if TECH_DEBT_LABEL in labels else project.product_manager) \
                if level in OUTCOME_LEVELS and rng.random() < 0.85 else None
        if assignee is True:
            assignee = rng.choice(people[1:]) if rng.random() < 0.9 else None
        if points is True:
            points = rng.choice((1, 2, 3, 5, 8)) if level == "story" else None
        if outcome is not None and outcome.kind == "copy":
            outcome.text = summary
        if priority is None:
            priority = rng.choices(("High", "Medium", "Low", "Highest"), (25, 55, 15, 5))[0]
        spec = Spec(
            key=f"{project.key}-{count}", id=str(self._next_id), project=project, type=issue_type,
            summary=summary, status=status_obj, created=created, updated=updated, resolved=resolved,
            parent=parent, labels=list(labels),
            components=[rng.choice(project.components)] if rng.random() < 0.7 else [],
            priority=next(p for p in PRIORITIES if p[0] == priority), assignee=assignee or None,
            reporter=rng.choice(people[:2]) if level in OUTCOME_LEVELS else rng.choice(people),
            owner=owner or None, outcome=outcome, actual=actual, agreement=agreement,
            head=head if head is not None else self.default_head(project, issue_type, summary),
            tail=tail if tail is not None else self.default_tail(project, issue_type),
            points=points, dc_link=dc_link or ("object" if rng.random() < 0.7 else "key"), note=note)
        return spec

    def _stamp(self, days_ago: int) -> datetime:
        day = (self.now - timedelta(days=days_ago)).date()
        moment = datetime.combine(day, time(self.rng.randint(7, 18), self.rng.randrange(0, 60, 5)), tzinfo=UTC)
        return min(moment, self.now)

    # -- words ---------------------------------------------------------------
    def thing(self, project: Project) -> str:
        return self.rng.choice(project.things)

    def summary(self, project: Project, type_name: str, thing: str | None = None) -> str:
        rng = self.rng
        thing = thing or self.thing(project)
        users = _users(project)
        templates = {
            "Theme": THEME_SUMMARIES, "Initiative": INITIATIVE_TEMPLATES, "Epic": EPIC_TEMPLATES,
            "Feature": FEATURE_TEMPLATES, "Bug": BUG_TEMPLATES, "Task": TASK_TEMPLATES, "Spike": SPIKE_TEMPLATES,
            "Sub-task": SUBTASK_SUMMARIES,
        }.get(type_name, STORY_TEMPLATES)
        return _cap(rng.choice(templates).format(thing=thing, Thing=_cap(thing), users=users))

    def measurable(self, project: Project, thing: str | None = None, *, debt: bool = False,
                   where: str = "field") -> Text:
        templates = DEBT_MEASURABLE_TEMPLATES if debt else MEASURABLE_TEMPLATES
        return Text("measurable", _fill(self.rng.choice(templates), self.rng, thing or self.thing(project),
                                        _users(project), self.now), where)

    def vague(self, project: Project, thing: str | None = None, *, where: str = "field") -> Text:
        if thing is None or MEASURE_WORDS.search(thing):
            thing = self.rng.choice([t for t in project.things if not MEASURE_WORDS.search(t)])
        text = _fill(self.rng.choice(VAGUE_TEMPLATES), self.rng, thing, _users(project), self.now)
        assert not MEASURE_WORDS.search(text), text
        return Text("vague", text, where)

    def placeholder(self, where: str = "field") -> Text:
        return Text("placeholder", self.rng.choice(PLACEHOLDERS), where)

    def recorded(self, project: Project, where: str = "field") -> Text:
        return Text("recorded", _fill(self.rng.choice(ACTUAL_TEMPLATES), self.rng, self.thing(project),
                                      _users(project), self.now), where)

    def where(self, project: Project) -> str:
        rng = self.rng
        if rng.random() < project.outcome_in_field:
            return "field"
        return rng.choices(("heading", "label", "synonym", "panel"), (50, 30, 8, 12))[0]

    def agreement(self, project: Project, thing: str, *, missing: Sequence[str] = (), due: date | None = None,
                  trigger: bool = False, style: str | None = None) -> Agreement:
        rng = self.rng
        users = _users(project)
        reason = _fill(rng.choice(REASONS), rng, thing, users, self.now)
        impact = _fill(rng.choice(IMPACTS), rng, thing, users, self.now)
        if trigger:
            timeline, name = _fill(rng.choice(TRIGGERS), rng, thing, users, self.now), "Trigger"
            due = None
        else:
            timeline, name = rng.choice(TIMELINE_WORDS), "Timeline"
            due = due or (self.now + timedelta(days=rng.randint(40, 300))).date()
        style = style or rng.choice(("heading", "label"))
        values = {"reason": reason, "impact": impact, "timeline": timeline}
        for item in missing:
            # A blank "*Timeline:*" line reads as a bold heading in wiki markup and would
            # swallow the next label line, so only heading-style agreements leave one empty.
            values[item] = "" if style == "heading" and rng.random() < 0.4 else None
        if values["timeline"] is None or values["timeline"] == "":
            due = None
        return Agreement(values["reason"], values["impact"], values["timeline"], due, name, style,
                         interest=rng.choice((None, "high", "medium", "low")),
                         date_node=self.flavour == CLOUD and due is not None and rng.random() < 0.4)

    def default_head(self, project: Project, issue_type: IssueType, summary: str) -> list:
        rng = self.rng
        level = TYPE_LEVEL.get(issue_type.name.casefold())
        thing = self.thing(project)
        users = _users(project)
        if level in OUTCOME_LEVELS:
            return [("h", "Context", 2), ("p", _fill(rng.choice(CONTEXT_TEMPLATES), rng, thing, users, self.now))]
        if issue_type.name == "Bug":
            return [("h", "Steps to reproduce", 3),
                    ("ol", [f"Open {thing} as a {users}", "Let the session sit idle for a while", "Retry the action"]),
                    ("h", "What happens", 3), ("p", "An error banner appears and the change is lost."),
                    ("code", "ERROR request failed status=502 upstream=timeout")]
        if issue_type.name == "Sub-task":
            return [("p", "Part of the parent story; see the acceptance criteria there.")] if rng.random() < 0.5 else []
        if issue_type.name in ("Story", "Feature"):
            return [("mention", f"As a {users}, I want {thing} to just work so that I can get on with my day. Ask ",
                     rng.choice(project.people), " for the designs.")]
        return [("p", f"Housekeeping for {thing}.")] if rng.random() < 0.7 else []

    def default_tail(self, project: Project, issue_type: IssueType) -> list:
        rng = self.rng
        level = TYPE_LEVEL.get(issue_type.name.casefold())
        thing = self.thing(project)
        users = _users(project)
        if level in OUTCOME_LEVELS:
            return [("h", "Scope", 2), ("ul", [_fill(item, rng, thing, users, self.now)
                                               for item in rng.sample(SCOPE_ITEMS, 3)])]
        if issue_type.name in ("Story", "Feature"):
            return [("h", "Acceptance criteria", 3), ("ul", rng.sample(CRITERIA, 3))]
        return []

    # -- rendering -----------------------------------------------------------
    def description_blocks(self, spec: Spec) -> list:
        """head, then outcome section, tail, actual-outcome section, agreement sections.

        A ``Name: text`` line's section runs to the next heading or label, so
        every label line here is followed by a heading, another label or the end.
        """
        blocks = list(spec.head)
        outcome = spec.outcome
        if outcome is not None and outcome.where != "field" and outcome.kind != "absent":
            name = "Expected Outcome" if outcome.where == "synonym" else "Anticipated Outcome"
            if outcome.kind == "empty" and outcome.where == "label" and not spec.tail:
                outcome = Text("empty", "", "heading")  # a blank label must end at a heading
            blocks += _section(name, outcome, self.flavour)
        blocks += spec.tail
        actual = spec.actual
        if actual is not None and actual.where != "field" and actual.kind != "absent":
            blocks += _section("Actual Outcome", actual, self.flavour)
        agreement = spec.agreement
        if agreement is not None:
            blocks.append(("h", "Technical debt agreement", 2))
            items = [("Reason", agreement.reason), ("Impact", agreement.impact),
                     (agreement.timeline_name, agreement.timeline)]
            for name, value in items:
                if value is None:
                    continue
                due = agreement.due if name == agreement.timeline_name else None
                if agreement.style == "heading":
                    blocks.append(("h", name, 3))
                    if value:
                        blocks.append(_with_date(None, value, due, agreement.date_node))
                else:
                    blocks.append(_with_date(name, value, due, agreement.date_node))
            if agreement.interest:
                if agreement.style == "heading":
                    blocks += [("h", "Interest rate", 3), ("p", agreement.interest)]
                else:
                    blocks.append(("label", "Interest rate", agreement.interest))
        return blocks

    def render(self, spec: Spec) -> dict:
        return self._cloud(spec) if self.flavour == CLOUD else self._datacenter(spec)

    def names(self) -> dict[str, str]:
        custom = CLOUD_CUSTOM if self.flavour == CLOUD else DC_CUSTOM
        return {**SYSTEM_NAMES, **custom}

    def schema(self) -> dict[str, dict]:
        """Data Center's ``expand=schema`` map for the custom fields (Cloud pages carry names only)."""
        def custom(kind: str, custom_type: str, number: str) -> dict:
            return {"type": kind, "custom": custom_type, "customId": int(number)}
        return {
            ANTICIPATED_FIELD: custom("string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea", "10050"),
            ACTUAL_FIELD: custom("string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea", "10051"),
            OWNER_FIELD: custom("user", "com.atlassian.jira.plugin.system.customfieldtypes:userpicker", "10052"),
            DC_EPIC_LINK: custom("any", "com.pyxis.greenhopper.jira:gh-epic-link", "10100"),
            DC_EPIC_NAME: custom("string", "com.pyxis.greenhopper.jira:gh-epic-label", "10101"),
            DC_PARENT_LINK: custom("any", "com.atlassian.jpo:jpo-custom-field-parent", "10200"),
            "customfield_10300": custom("option", "com.atlassian.jira.plugin.system.customfieldtypes:select", "10300"),
            "customfield_10106": custom("number", "com.atlassian.jira.plugin.system.customfieldtypes:float", "10106"),
        }

    def _issue_url(self, issue_id: str) -> str:
        return f"{self.site}/rest/api/{self.api}/issue/{issue_id}"

    def _type(self, issue_type: IssueType) -> dict:
        cached = self._static.get(("type", issue_type.name))
        if cached is None:
            cached = {"self": f"{self.site}/rest/api/{self.api}/issuetype/{issue_type.id}", "id": issue_type.id,
                      "description": issue_type.description,
                      "iconUrl": f"{self.site}/images/icons/issuetypes/{issue_type.name.lower().replace(' ', '')}.svg",
                      "name": issue_type.name, "subtask": issue_type.subtask}
            if self.flavour == CLOUD:
                cached["avatarId"] = 10300 + int(issue_type.id) % 100
                cached["hierarchyLevel"] = issue_type.hierarchy_level
            self._static[("type", issue_type.name)] = cached
        return cached

    def _status(self, status: Status) -> dict:
        cached = self._static.get(("status", status.name))
        if cached is None:
            number, name, colour = CATEGORIES[status.category]
            cached = {"self": f"{self.site}/rest/api/{self.api}/status/{status.id}", "description": "",
                      "iconUrl": f"{self.site}/images/icons/statuses/generic.png", "name": status.name,
                      "id": status.id,
                      "statusCategory": {"self": f"{self.site}/rest/api/{self.api}/statuscategory/{number}",
                                         "id": number, "key": status.category, "colorName": colour, "name": name}}
            self._static[("status", status.name)] = cached
        return cached

    def _priority(self, priority: tuple[str, str]) -> dict:
        name, number = priority
        return {"self": f"{self.site}/rest/api/{self.api}/priority/{number}",
                "iconUrl": f"{self.site}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": number}

    def _project(self, project: Project) -> dict:
        cached = self._static.get(("project", project.key))
        if cached is None:
            cached = {"self": f"{self.site}/rest/api/{self.api}/project/{project.id}", "id": project.id,
                      "key": project.key, "name": project.name, "projectTypeKey": "software"}
            if self.flavour == CLOUD:
                cached["simplified"] = False
            self._static[("project", project.key)] = cached
        return cached

    def _user(self, person: Person | None) -> dict | None:
        if person is None:
            return None
        if self.flavour == CLOUD:
            user = {"self": f"{self.site}/rest/api/3/user?accountId={person.account_id}",
                    "accountId": person.account_id}
            if person.email:
                user["emailAddress"] = person.email
            user.update({"displayName": person.display_name, "active": True, "timeZone": person.timezone,
                         "accountType": "atlassian"})
            return user
        return {"self": f"{self.site}/rest/api/2/user?username={person.username}", "name": person.username,
                "key": person.key, "emailAddress": person.email or f"{person.username}@example.com",
                "displayName": person.display_name, "active": True, "timeZone": person.timezone}

    def _components(self, spec: Spec) -> list[dict]:
        return [{"self": f"{self.site}/rest/api/{self.api}/component/{10500 + spec.project.components.index(name)}",
                 "id": str(10500 + spec.project.components.index(name)), "name": name}
                for name in spec.components]

    def _resolution(self, spec: Spec) -> dict | None:
        if not spec.done:
            return None
        return {"self": f"{self.site}/rest/api/{self.api}/resolution/10000", "id": "10000",
                "description": "Work has been completed on this issue.", "name": "Done"}

    def _common(self, spec: Spec) -> dict:
        return {
            "summary": spec.summary,
            "issuetype": self._type(spec.type),
            "project": self._project(spec.project),
            "status": self._status(spec.status),
            "priority": self._priority(spec.priority),
            "labels": list(spec.labels),
            "components": self._components(spec),
            "assignee": self._user(spec.assignee),
            "reporter": self._user(spec.reporter),
            "created": jira_time(spec.created),
            "updated": jira_time(spec.updated),
            "resolutiondate": jira_time(spec.resolved) if spec.resolved else None,
            "resolution": self._resolution(spec),
            "duedate": None,
            "fixVersions": [],
        }

    def _parent_object(self, parent: Spec) -> dict:
        return {"id": parent.id, "key": parent.key, "self": self._issue_url(parent.id),
                "fields": {"summary": parent.summary, "status": self._status(parent.status),
                           "priority": self._priority(parent.priority), "issuetype": self._type(parent.type)}}

    def _cloud(self, spec: Spec) -> dict:
        fields = self._common(spec)
        fields["statuscategorychangedate"] = jira_time(spec.resolved or spec.updated)
        if spec.parent is not None:
            fields["parent"] = self._parent_object(spec.parent)
        blocks = self.description_blocks(spec)
        fields["description"] = to_adf(blocks) if blocks else None
        fields[ANTICIPATED_FIELD] = _field_value(spec.outcome, CLOUD, self.rng)
        fields[ACTUAL_FIELD] = _field_value(spec.actual, CLOUD, self.rng)
        fields[OWNER_FIELD] = self._user(spec.owner)
        fields["customfield_10001"] = ({"id": str(uuid.UUID(int=int(spec.project.id) * 7919)),
                                        "name": spec.project.name, "title": spec.project.name,
                                        "isVisible": True, "isVerified": False, "isShared": True}
                                       if spec.project.team_field else None)
        fields["customfield_10016"] = spec.points
        fields["customfield_10015"] = spec.created.date().isoformat() if spec.type.hierarchy_level >= 1 else None
        return {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": spec.id, "self": self._issue_url(spec.id), "key": spec.key, "fields": fields}

    def _datacenter(self, spec: Spec) -> dict:
        fields = self._common(spec)
        blocks = self.description_blocks(spec)
        fields["description"] = to_wiki(blocks) if blocks else None
        fields[ANTICIPATED_FIELD] = _field_value(spec.outcome, DATACENTER, self.rng)
        fields[ACTUAL_FIELD] = _field_value(spec.actual, DATACENTER, self.rng)
        fields[OWNER_FIELD] = self._user(spec.owner)
        fields[DC_EPIC_LINK] = None
        fields[DC_PARENT_LINK] = None
        fields[DC_EPIC_NAME] = spec.summary if spec.type.name == "Epic" else None
        fields["customfield_10300"] = ({"self": f"{self.site}/rest/api/2/customFieldOption/{spec.project.id}",
                                        "value": spec.project.name, "id": spec.project.id, "disabled": False}
                                       if spec.project.team_field else None)
        fields["customfield_10106"] = spec.points
        parent = spec.parent
        if parent is not None:
            level = level_of(spec.type, DATACENTER)
            if spec.type.subtask:
                fields["parent"] = self._parent_object(parent)
            elif parent.type.name == "Epic" and level not in ("epic", "initiative", "theme"):
                fields[DC_EPIC_LINK] = parent.key
            elif spec.dc_link == "key":
                fields[DC_PARENT_LINK] = parent.key
            else:
                fields[DC_PARENT_LINK] = {"hasEpicLinkFieldDependency": False, "showField": True,
                                          "data": {"id": int(parent.id), "keyNum": int(parent.key.rsplit("-", 1)[1]),
                                                   "key": parent.key, "summary": parent.summary,
                                                   "projectId": int(parent.project.id),
                                                   "issueTypeId": int(parent.type.id)}}
        return {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": spec.id, "self": self._issue_url(spec.id), "key": spec.key, "fields": fields}

    # -- pages -----------------------------------------------------------------
    def pages(self, specs: Iterable[Spec], page_size: int = 100, *, total: int | None = None,
              seed: int = 0) -> Iterator[dict]:
        """Search-response pages for ``specs``, rendered one page at a time."""
        if page_size < 1:
            raise ValueError("page size must be at least 1")
        names = self.names()
        if self.flavour == DATACENTER:
            if total is None:
                specs = list(specs)
                total = len(specs)
            schema = self.schema()
            start = 0
            batch: list[dict] = []
            for spec in specs:
                batch.append(self.render(spec))
                if len(batch) == page_size:
                    yield {"expand": "names,schema", "startAt": start, "maxResults": page_size, "total": total,
                           "issues": batch, "names": names, "schema": schema}
                    start += len(batch)
                    batch = []
            if batch or start == 0:
                yield {"expand": "names,schema", "startAt": start, "maxResults": page_size, "total": total,
                       "issues": batch, "names": names, "schema": schema}
            return
        pending: list[dict] | None = None
        batch = []
        number = 0
        for spec in specs:
            batch.append(self.render(spec))
            if len(batch) == page_size:
                if pending is not None:
                    number += 1
                    yield _cloud_page(pending, names, number, seed)
                pending, batch = batch, []
        if batch:
            if pending is not None:
                number += 1
                yield _cloud_page(pending, names, number, seed)
            pending = batch
        yield _cloud_page(pending or [], names, None, seed)


def _cloud_page(issues: list[dict], names: dict, number: int | None, seed: int) -> dict:
    page: dict[str, Any] = {"issues": issues, "names": names}
    if number is None:
        page["isLast"] = True
    else:
        token = base64.urlsafe_b64encode(f"govbot-synth:{seed}:{number * 100}".encode()).decode().rstrip("=")
        page["nextPageToken"] = token
        page["isLast"] = False
    return page


def jira_time(moment: datetime) -> str:
    """Jira's timestamp format: 2026-03-02T10:15:00.000+0000."""
    text = moment.isoformat(timespec="milliseconds")  # ...000+00:00, far faster than strftime
    return text[:-3] + text[-2:]


def _section(name: str, value: Text, flavour: str) -> list:
    """Description blocks recording an outcome under ``name`` in ``value.where`` style."""
    text = value.text if value.kind != "empty" else ""
    if value.where == "label":
        return [("label", name, text)]
    blocks = [("h", name, 2)]
    if text:
        blocks.append(("p", text))
    if value.where == "panel" and flavour == CLOUD:
        return [("panel", blocks)]
    return blocks


def _with_date(label: str | None, words: str, due: date | None, node: bool) -> tuple:
    if due is None:
        return ("label", label, words) if label else ("p", words)
    if node:
        return ("datep", label, words, due)
    text = f"{words} {due.isoformat()}"
    return ("label", label, text) if label else ("p", text)


def _field_value(value: Text | None, flavour: str, rng: random.Random) -> Any:
    """A rich-text custom field: ADF on Cloud, a wiki string on Data Center."""
    if value is None or value.where != "field" or value.kind == "absent":
        return None
    if value.kind == "empty":
        choice = rng.random()
        if choice < 0.5:
            return None
        if flavour == CLOUD:
            return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]} \
                if choice < 0.8 else {"type": "doc", "version": 1, "content": []}
        return "" if choice < 0.8 else "   "
    if flavour == CLOUD:
        return to_adf([("p", value.text)])
    return value.text


# ---------------------------------------------------------------------------
# Blocks -> ADF (Cloud) or wiki markup (Data Center)
# ---------------------------------------------------------------------------
def _text_node(text: str, strong: bool = False) -> dict:
    node: dict[str, Any] = {"type": "text", "text": text}
    if strong:
        node["marks"] = [{"type": "strong"}]
    return node


def _paragraph(*nodes: dict) -> dict:
    return {"type": "paragraph", "content": [node for node in nodes if node.get("type") != "text" or node["text"]]}


def adf_nodes(blocks: Iterable[tuple]) -> list[dict]:
    nodes = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            nodes.append({"type": "heading", "attrs": {"level": block[2] if len(block) > 2 else 2},
                          "content": [_text_node(block[1])]})
        elif kind == "p":
            nodes.append(_paragraph(_text_node(block[1])))
        elif kind == "label":
            nodes.append(_paragraph(_text_node(f"{block[1]}:", strong=True),
                                    _text_node(f" {block[2]}" if block[2] else "")))
        elif kind == "datep":
            _, label, words, due = block
            stamp = int(datetime.combine(due, time(0), tzinfo=UTC).timestamp() * 1000)
            prefix = [_text_node(f"{label}:", strong=True), _text_node(" ")] if label else []
            nodes.append(_paragraph(*prefix, _text_node(f"{words} "),
                                    {"type": "date", "attrs": {"timestamp": str(stamp)}}))
        elif kind in ("ul", "ol"):
            nodes.append({"type": "bulletList" if kind == "ul" else "orderedList",
                          "content": [{"type": "listItem", "content": [_paragraph(_text_node(item))]}
                                      for item in block[1]]})
        elif kind == "code":
            nodes.append({"type": "codeBlock", "attrs": {"language": "text"}, "content": [_text_node(block[1])]})
        elif kind == "panel":
            nodes.append({"type": "panel", "attrs": {"panelType": "info"}, "content": adf_nodes(block[1])})
        elif kind == "mention":
            _, before, person, after = block
            nodes.append(_paragraph(_text_node(before),
                                    {"type": "mention", "attrs": {"id": person.account_id,
                                                                  "text": f"@{person.display_name}",
                                                                  "accessLevel": ""}},
                                    _text_node(after)))
        else:
            raise ValueError(f"unknown block {kind!r}")
    return nodes


def to_adf(blocks: Iterable[tuple]) -> dict:
    return {"type": "doc", "version": 1, "content": adf_nodes(blocks)}


def to_wiki(blocks: Iterable[tuple]) -> str:
    parts = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            parts.append(f"h{block[2] if len(block) > 2 else 2}. {block[1]}")
        elif kind == "p":
            parts.append(block[1])
        elif kind == "label":
            parts.append(f"*{block[1]}:* {block[2]}".rstrip())
        elif kind == "datep":
            _, label, words, due = block
            parts.append((f"*{label}:* " if label else "") + f"{words} {due.isoformat()}")
        elif kind in ("ul", "ol"):
            bullet = "*" if kind == "ul" else "#"
            parts.append("\n".join(f"{bullet} {item}" for item in block[1]))
        elif kind == "code":
            parts.append("{noformat}\n" + block[1] + "\n{noformat}")
        elif kind == "panel":
            parts.append("{panel}\n" + to_wiki(block[1]) + "\n{panel}")
        elif kind == "mention":
            _, before, person, after = block
            parts.append(f"{before}[~{person.username}]{after}")
        else:
            raise ValueError(f"unknown block {kind!r}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------
# Random workloads
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """How often each kind of issue and each violation appears in a random workload."""

    outcome_kinds: tuple[tuple[str, int], ...] = (("measurable", 56), ("vague", 14), ("placeholder", 8),
                                                  ("empty", 8), ("absent", 9), ("copy", 5))
    initiative_share: float = 0.75  # families rooted in an initiative (else an epic on its own)
    epic_done: float = 0.35
    epic_started: float = 0.35
    actual_recorded: float = 0.55
    agreement: float = 0.08
    agreement_incomplete: float = 0.25
    agreement_overdue: float = 0.25
    agreement_trigger: float = 0.2
    label_below_epic: float = 0.004
    release: float = 0.005
    unmapped: float = 0.008
    inverted: float = 0.004
    skipped: float = 0.006
    orphan: float = 0.03
    subtasks: float = 0.45
    epic_under_theme: float = 0.02


RANDOM_PROFILE = Profile()


class Workload:
    """A random, realistic workspace streamed family by family (initiative, its epics, their stories...)."""

    def __init__(self, builder: Builder, projects: Sequence[Project], profile: Profile = RANDOM_PROFILE):
        self.builder = builder
        self.rng = builder.rng
        self.projects = list(projects)
        self.profile = profile
        self.themes: dict[str, list[Spec]] = {}

    def specs(self, count: int) -> Iterator[Spec]:
        produced = 0
        while True:
            project = self.rng.choice(self.projects)
            for spec in self.family(project):
                if produced >= count:
                    return
                yield spec
                produced += 1

    def _outcome(self, project: Project, thing: str, debt: bool = False) -> Text:
        b = self.builder
        kind = self.rng.choices([k for k, _ in self.profile.outcome_kinds],
                                [w for _, w in self.profile.outcome_kinds])[0]
        where = b.where(project)
        if kind == "measurable":
            return b.measurable(project, thing, debt=debt, where=where)
        if kind == "vague":
            return b.vague(project, thing, where=where)
        if kind == "placeholder":
            return b.placeholder(where)
        return Text(kind, "", where if kind != "absent" else "none")

    def family(self, project: Project) -> Iterator[Spec]:
        b, rng, p = self.builder, self.rng, self.profile
        themes = self.themes.get(project.key)
        if themes is None:
            themes = []
            self.themes[project.key] = themes
            for _ in range(rng.choice((0, 1, 1, 2))):
                theme = b.make(project, "Theme", b.summary(project, "Theme"), category="indeterminate",
                               outcome=self._outcome(project, b.thing(project)))
                themes.append(theme)
                yield theme
        initiative = None
        if rng.random() < p.initiative_share:
            thing = b.thing(project)
            category = rng.choices(("new", "indeterminate", "done"), (25, 60, 15))[0]
            initiative = b.make(project, "Initiative", b.summary(project, "Initiative", thing),
                                parent=rng.choice(themes) if themes and rng.random() < 0.7 else None,
                                category=category, outcome=self._outcome(project, thing),
                                actual=self._actual(project) if category == "done" else None)
            yield initiative
            if rng.random() < p.skipped:  # a story hung straight under the initiative
                yield self._item(project, initiative, "Story")
        for _ in range(rng.randint(2, 5)):
            yield from self._epic(project, initiative, themes)
        for _ in range(rng.randint(0, 2)):
            if rng.random() < p.orphan * 10:
                yield self._item(project, None, rng.choice(("Story", "Story", "Bug", "Task")))

    def _actual(self, project: Project) -> Text | None:
        b, rng = self.builder, self.rng
        if rng.random() < self.profile.actual_recorded:
            return b.recorded(project, b.where(project))
        return rng.choice((None, b.placeholder(b.where(project)), Text("empty", "", b.where(project))))

    def _epic(self, project: Project, initiative: Spec | None, themes: list[Spec]) -> Iterator[Spec]:
        b, rng, p = self.builder, self.rng, self.profile
        thing = b.thing(project)
        roll = rng.random()
        category = "done" if roll < p.epic_done else "indeterminate" if roll < p.epic_done + p.epic_started else "new"
        if initiative is not None and initiative.done:
            category = "done"
        parent = initiative
        if parent is None and themes and rng.random() < p.epic_under_theme * 10:
            parent = rng.choice(themes)
        agreement = None
        labels: list[str] = []
        debt = rng.random() < p.agreement
        summary = b.summary(project, "Epic", thing)
        if debt:
            labels.append(TECH_DEBT_LABEL)
            summary = f"Tech debt: {thing}"
            roll = rng.random()
            if roll < p.agreement_incomplete:
                missing = rng.sample(("reason", "impact", "timeline"), rng.randint(1, 2))
                agreement = None if rng.random() < 0.15 else b.agreement(project, thing, missing=missing)
            elif roll < p.agreement_incomplete + p.agreement_overdue:
                past = (b.now - timedelta(days=rng.randint(5, 300))).date()
                agreement = b.agreement(project, thing, due=past)
            else:
                agreement = b.agreement(project, thing, trigger=rng.random() < p.agreement_trigger)
        resolved_ago = None
        if category == "done":
            resolved_ago = b.safe_resolved_age()
        epic = b.make(project, "Epic", summary, parent=parent, category=category, resolved_ago=resolved_ago,
                      outcome=self._outcome(project, thing, debt), labels=labels, agreement=agreement,
                      actual=self._actual(project) if category == "done" else None)
        yield epic
        child_category = {"done": "done", "indeterminate": None, "new": "new"}[category]
        containers = [epic]
        if project.uses_features and rng.random() < 0.4:
            for _ in range(rng.randint(1, 2)):
                feature = b.make(project, "Feature", b.summary(project, "Feature", thing), parent=epic,
                                 category=child_category or rng.choice(("new", "indeterminate", "done")))
                containers.append(feature)
                yield feature
        for _ in range(rng.randint(2, 9)):
            yield from self._story_family(project, rng.choice(containers), child_category)
        if rng.random() < p.inverted * 5:
            # An epic (or a story) hung under one of this epic's stories.
            yield from self._story_family(project, epic, child_category, invert=True)

    def _story_family(self, project: Project, parent: Spec, category: str | None,
                      invert: bool = False) -> Iterator[Spec]:
        b, rng, p = self.builder, self.rng, self.profile
        type_name = rng.choices(("Story", "Bug", "Task", "Spike"), (62, 20, 14, 4))[0]
        roll = rng.random()
        if roll < p.release:
            type_name = "Release"
        elif roll < p.release + p.unmapped:
            type_name = rng.choice(("Deliverable", "Work Package"))
        story = self._item(project, parent, type_name, category)
        yield story
        if invert:
            if rng.random() < 0.5:
                thing = b.thing(project)
                yield b.make(project, "Epic", b.summary(project, "Epic", thing), parent=story, category="new",
                             outcome=b.measurable(project, thing, where=b.where(project)))
            else:
                yield self._item(project, story, "Story", category)
            return
        if type_name in ("Story", "Task", "Bug") and rng.random() < p.subtasks:
            for _ in range(rng.randint(1, 4)):
                yield self._item(project, story, "Sub-task", category if story.done else None)

    def _item(self, project: Project, parent: Spec | None, type_name: str, category: str | None = None) -> Spec:
        b, rng = self.builder, self.rng
        labels = [TECH_DEBT_LABEL] if type_name != "Release" and rng.random() < self.profile.label_below_epic else []
        if type_name == "Release":
            summary = f"Release {b.now.year}.{rng.randint(1, 52)}"
        else:
            summary = b.summary(project, type_name)
        category = category or rng.choices(("new", "indeterminate", "done"), (35, 30, 35))[0]
        return b.make(project, type_name, summary, parent=parent, category=category, labels=labels)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------
def project_count_for(n_issues: int) -> int:
    return max(4, min(40, n_issues // 2500))


def workload(n_issues: int, flavour: str, seed: int, now: datetime = DEMO_NOW, *,
             projects: int | None = None) -> tuple[Builder, Iterator[Spec]]:
    """A builder and the stream of ``n_issues`` specs of a random workspace."""
    builder = Builder(flavour, seed=seed, now=now)
    chosen = make_projects(projects or project_count_for(n_issues), random.Random(seed ^ 0x5EED))
    return builder, Workload(builder, chosen).specs(n_issues)


def generate(n_issues: int, flavour: str = CLOUD, seed: int = 0, now: datetime = DEMO_NOW, *,
             page_size: int = 100) -> list[dict]:
    """A random workspace as a list of search-response pages (for tests and benchmarks).

    The pages are independent JSON-like objects (safe to mutate).
    """
    builder, specs = workload(n_issues, flavour, seed, now)
    pages = list(builder.pages(specs, page_size, total=n_issues, seed=seed))
    return json.loads(json.dumps(pages))


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_READABLE = json.JSONEncoder(ensure_ascii=False)


def write_pages(pages: Iterable[dict], out: TextIO, *, one_issue_per_line: bool = False) -> int:
    """Stream pages to ``out`` as one JSON list; returns the number of issues written."""
    count = 0
    out.write("[")
    for index, page in enumerate(pages):
        if index:
            out.write(",\n")
        issues = page["issues"]
        count += len(issues)
        rest = {k: v for k, v in page.items() if k != "issues"}
        if one_issue_per_line:
            out.write('{"issues": [\n')
            out.write(",\n".join(_READABLE.encode(issue) for issue in issues))
            tail = _READABLE.encode(rest)
            out.write("\n]" + (", " + tail[1:] if rest else "}"))
        else:
            out.write('{"issues":[')
            out.write(",".join(_COMPACT.encode(issue) for issue in issues))
            tail = _COMPACT.encode(rest)
            out.write("]" + ("," + tail[1:] if rest else "}"))
    out.write("]\n")
    return count

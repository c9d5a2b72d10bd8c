"""Who is nudged about what, and when: defaults that respect people.

- At most one Slack message per person per run, grouping all of that person's
  new or due findings.
- A finding is nudged when it is new, then reminded every ``interval`` (7 days)
  up to ``reminder_cap`` times (3); after that it escalates once to the team
  channel (or only to the digest), and the bot stops asking.
- Nothing is sent on quiet days (weekends) or in quiet hours, in the team's
  time zone (``teams.<name>.timezone``); those findings wait for the next run.
- A rule can opt out of nudges (``nudge: false``); waived findings never nudge.

This module decides; it sends nothing. The outbox records and delivers.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.deliver import slack as blocks
from bot.errors import ConfigError
from bot.model import Severity

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class NudgeSettings:
    enabled: bool = True
    interval: timedelta = timedelta(days=7)
    reminder_cap: int = 3
    escalate: str = "channel"  # channel | digest
    quiet_days: frozenset[int] = frozenset({5, 6})
    quiet_hours: tuple[time, time] | None = (time(19, 0), time(7, 0))
    timezone: str = "UTC"
    min_severity: Severity = Severity.INFO
    label_prefix: str = "govbot-waive-"
    waiver_hint: str | None = None

    @classmethod
    def from_config(cls, config) -> "NudgeSettings":
        section = config.section("nudges") or {}
        settings = cls()
        settings.enabled = bool(section.get("enabled", True))
        settings.interval = timedelta(days=float(section.get("reminder_interval_days", 7)))
        settings.reminder_cap = int(section.get("max_reminders", 3))
        settings.escalate = str(section.get("escalate_to", "channel"))
        settings.quiet_days = frozenset(DAY_NAMES.index(day.casefold()) for day in section.get(
            "quiet_days", ["saturday", "sunday"]))
        settings.quiet_hours = _parse_quiet_hours(section.get("quiet_hours", "19:00-07:00"),
                                                  config.position("nudges", "quiet_hours"))
        settings.timezone = str(section.get("timezone") or "UTC")
        settings.min_severity = Severity.parse(section.get("min_severity", "info"))
        settings.label_prefix = str((config.section("waivers") or {}).get("label_prefix") or "govbot-waive-")
        settings.waiver_hint = section.get("waiver_hint")
        return settings


def _parse_quiet_hours(value: Any, where: str) -> tuple[time, time] | None:
    if value in (None, "", False):
        return None
    try:
        start, end = str(value).split("-", 1)
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise ConfigError(f"{where}: nudges.quiet_hours {value!r} is not a time range",
                          hint='write it like "19:00-07:00" (local time in the team\'s time zone), or null') from None


def team_zone(config, team: str | None, settings: NudgeSettings) -> ZoneInfo:
    spec = (config.section("teams") or {}).get(team or "") or {}
    name = spec.get("timezone") or settings.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} for team {team or '(default)'}",
                          hint="use an IANA name like Europe/London or America/New_York") from None


def quiet_reason(config, team: str | None, settings: NudgeSettings, now: datetime) -> str | None:
    """Why now is a quiet time for ``team`` (in its own time zone), or None."""
    zone = team_zone(config, team, settings)
    local = now.astimezone(zone)
    if local.weekday() in settings.quiet_days:
        return f"quiet day ({DAY_NAMES[local.weekday()].title()} in {zone.key})"
    if settings.quiet_hours:
        start, end = settings.quiet_hours
        clock = local.time()
        inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
        if inside:
            return f"quiet hours ({local:%H:%M} in {zone.key})"
    return None


@dataclass(frozen=True)
class Due:
    kind: str     # first | reminder | escalate
    number: int   # how many nudges this finding has had before this one


def due(state, settings: NudgeSettings, now: datetime) -> Due | None:
    """Whether a finding with this stored state should be nudged now, and how."""
    if state is None or state.nudge_count == 0:
        return Due("first", 0)
    if state.escalated_at is not None:
        return None
    if state.last_nudged_at is not None and now - state.last_nudged_at < settings.interval:
        return None
    if state.nudge_count <= settings.reminder_cap:
        return Due("reminder", state.nudge_count)
    return Due("escalate", state.nudge_count)


@dataclass
class Outgoing:
    """One message the run intends to send; recorded in the outbox before sending."""

    kind: str                      # slack_dm | slack_channel | slack_alert | jira_comment
    recipient: str                 # Slack user id / channel / issue key
    dedupe_key: str
    payload: dict
    fingerprints: list[str]
    label: str                     # who, for people reading a dry run
    person: str | None = None      # Jira user id (DMs)
    nudges: list[tuple[str, int]] = field(default_factory=list)   # (fingerprint, nudge number) marked on enqueue
    escalations: list[str] = field(default_factory=list)          # fingerprints marked escalated on enqueue
    comment: tuple[str, str, str] | None = None                   # (issue, content hash, state) for Jira comments
    by_rule: dict[str, int] = field(default_factory=dict)
    breaker_exempt: bool = False

    @property
    def is_slack(self) -> bool:
        return self.kind.startswith("slack_")


@dataclass
class Plan:
    messages: list[Outgoing] = field(default_factory=list)
    deferred: list[tuple[Any, str]] = field(default_factory=list)      # (finding, why) - quiet time
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    undeliverable: list[tuple[Any, str]] = field(default_factory=list)  # (finding, why)
    unmapped: dict[str, dict] = field(default_factory=dict)             # Jira user id -> {name, why, findings}
    silent_escalations: list[str] = field(default_factory=list)         # escalated to the digest only

    @property
    def people(self) -> int:
        return len({m.person for m in self.messages if m.kind == "slack_dm"})

    @property
    def finding_count(self) -> int:
        return len({fp for m in self.messages if not m.breaker_exempt for fp in m.fingerprints})

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for message in self.messages:
            for rule, count in message.by_rule.items():
                counts[rule] += count
        return dict(counts)


def dedupe_key(kind: str, who: str, parts: list[str]) -> str:
    """Run-independent identity of a message: recipient + findings (+ reopen count) + nudge number."""
    digest = hashlib.sha256("\x1f".join([kind, who, *sorted(parts)]).encode("utf-8", "surrogatepass"))
    return f"{kind}:{digest.hexdigest()[:40]}"


def _sort_key(finding):
    return (-finding.severity.rank, finding.issue, finding.rule)


def plan_nudges(result, store, config, now: datetime, router, *, settings: NudgeSettings | None = None,
                extra: list | None = None) -> Plan:
    """Decide every Slack nudge of this run from the scan result and the stored state.

    ``extra``: open findings carried over from the store for issues this scan did not read.
    """
    settings = settings or NudgeSettings.from_config(config)
    plan = Plan()
    if not settings.enabled:
        plan.skipped["nudges disabled (nudges.enabled: false)"] += len(result.findings) + len(extra or [])
        return plan
    rules = {rule.id: rule for rule in getattr(result.ruleset, "rules", [])}
    unique: dict[str, Any] = {}
    for finding in list(result.findings) + list(extra or []):
        unique.setdefault(finding.fingerprint, finding)
    states = store.finding_states(list(unique))
    per_person: dict[str, list] = defaultdict(list)
    per_channel: dict[str, dict[str, list]] = defaultdict(lambda: {"unrouted": [], "escalated": []})
    admin_channel = (config.section("slack") or {}).get("admin_channel")
    for_admins: list = []
    quiet_cache: dict[str | None, str | None] = {}
    for fingerprint, finding in sorted(unique.items(), key=lambda pair: _sort_key(pair[1])):
        rule = rules.get(finding.rule)
        if finding.waived:
            plan.skipped["waived"] += 1
            continue
        if rule is not None and not getattr(rule, "nudge", True):
            plan.skipped["rule opted out of nudges"] += 1
            continue
        if finding.severity.rank < settings.min_severity.rank:
            plan.skipped[f"below nudges.min_severity ({settings.min_severity.value})"] += 1
            continue
        state = states.get(fingerprint)
        when = due(state, settings, now)
        if when is None:
            plan.skipped["not due yet" if state is None or state.escalated_at is None else "already escalated"] += 1
            continue
        if finding.team not in quiet_cache:
            quiet_cache[finding.team] = quiet_reason(config, finding.team, settings, now)
        quiet = quiet_cache[finding.team]
        if quiet:
            plan.deferred.append((finding, quiet))
            continue
        reopened = state.reopened if state is not None else 0
        if getattr(finding, "site_setup", False) or getattr(rule, "audience", "owner") == "admin":
            # Site setup (bot.engine.site_setup): the admins' to fix, never an issue owner's.
            if not admin_channel:
                plan.skipped["site-setup finding (set slack.admin_channel to receive these)"] += 1
            elif when.kind == "escalate":
                plan.silent_escalations.append(fingerprint)  # reminders spent: the scan and digest still list it
            else:
                for_admins.append((finding, rule, when, reopened))
            continue
        if when.kind == "escalate":
            channel = router.team_channel(finding.team)
            if settings.escalate == "channel" and channel:
                per_channel[channel]["escalated"].append((finding, rule, when, reopened))
            else:
                plan.silent_escalations.append(fingerprint)
            continue
        route = router.route(finding)
        if route.kind == "dm":
            per_person[route.person].append((finding, rule, when, reopened, route))
        elif route.kind == "channel":
            per_channel[route.target]["unrouted"].append((finding, rule, when, reopened))
            if finding.owner is not None and finding.owner.id in router.unmapped:
                entry = plan.unmapped.setdefault(finding.owner.id, {
                    "name": finding.owner.display_name or finding.owner.id,
                    "why": router.unmapped[finding.owner.id], "findings": 0})
                entry["findings"] += 1
        else:
            plan.undeliverable.append((finding, route.via))
            if finding.owner is not None and finding.owner.id in router.unmapped:
                entry = plan.unmapped.setdefault(finding.owner.id, {
                    "name": finding.owner.display_name or finding.owner.id,
                    "why": router.unmapped[finding.owner.id], "findings": 0})
                entry["findings"] += 1
            continue
    for person, entries in per_person.items():
        plan.messages.append(_dm(person, entries, settings))
    for channel, groups in per_channel.items():
        plan.messages.append(_channel(channel, groups, settings))
    if for_admins:
        plan.messages.append(_admins(admin_channel, for_admins, settings))
    return plan


def _admins(channel: str, entries: list, settings: NudgeSettings) -> Outgoing:
    """One admin-channel post with this run's new or due site-setup findings."""
    items = []
    for finding, rule, when, _ in entries:
        item = _item(finding, rule, when, settings)
        item.issue = getattr(finding, "project", None) or item.issue
        items.append(item)
    payload = blocks.site_setup_message(items)
    payload["issues"] = sorted({key for finding, *_ in entries for key in (finding.issues or [finding.issue])})
    parts = [f"{f.fingerprint}:{reopened}:{w.number}" for f, _, w, reopened in entries]
    return Outgoing(kind="slack_channel", recipient=channel, dedupe_key=dedupe_key("slack_channel", channel, parts),
                    payload=payload, fingerprints=[entry[0].fingerprint for entry in entries],
                    label=f"admin channel {channel}: site setup",
                    nudges=[(f.fingerprint, w.number) for f, _, w, _ in entries],
                    by_rule=_by_rule(entry[0] for entry in entries))


def _item(finding, rule, when: Due, settings: NudgeSettings) -> blocks.Item:
    return blocks.Item.from_finding(finding, rule, reminder=when.number if when.kind == "reminder" else 0,
                                    reminder_cap=settings.reminder_cap)


def _by_rule(findings) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for finding in findings:
        counts[finding.rule] += 1
    return dict(counts)


def _dm(person: str, entries: list, settings: NudgeSettings) -> Outgoing:
    route = entries[0][4]
    items = [_item(finding, rule, when, settings) for finding, rule, when, _, _ in entries]
    payload = blocks.nudge_message(items, label_prefix=settings.label_prefix,
                                   interval_days=int(settings.interval.total_seconds() // 86400),
                                   reminder_cap=settings.reminder_cap, waiver_hint=settings.waiver_hint)
    payload["issues"] = sorted({finding.issue for finding, *_ in entries})
    parts = [f"{finding.fingerprint}:{reopened}:{when.number}" for finding, _, when, reopened, _ in entries]
    owner = entries[0][0].owner
    name = (owner.display_name or owner.id) if owner else person
    target = route.target or f"email:{route.email}"
    return Outgoing(kind="slack_dm", recipient=target, dedupe_key=dedupe_key("slack_dm", person, parts),
                    payload=payload, fingerprints=[entry[0].fingerprint for entry in entries],
                    label=f"{name}: {route.label}", person=person,
                    nudges=[(entry[0].fingerprint, entry[2].number) for entry in entries],
                    by_rule=_by_rule(entry[0] for entry in entries))


def _channel(channel: str, groups: dict[str, list], settings: NudgeSettings) -> Outgoing:
    unrouted = groups["unrouted"]
    escalated = groups["escalated"]
    teams = sorted({entry[0].team or "unassigned" for entry in unrouted + escalated})
    payload = blocks.channel_message(", ".join(teams), label_prefix=settings.label_prefix,
                                     reminder_cap=settings.reminder_cap,
                                     unrouted=[_item(f, r, w, settings) for f, r, w, _ in unrouted],
                                     escalated=[_item(f, r, w, settings) for f, r, w, _ in escalated])
    payload["issues"] = sorted({entry[0].issue for entry in unrouted + escalated})
    parts = [f"{f.fingerprint}:{reopened}:{w.number}" for f, _, w, reopened in unrouted]
    parts += [f"{f.fingerprint}:{reopened}:escalate" for f, _, _, reopened in escalated]
    everything = [entry[0] for entry in unrouted + escalated]
    return Outgoing(kind="slack_channel", recipient=channel, dedupe_key=dedupe_key("slack_channel", channel, parts),
                    payload=payload, fingerprints=[f.fingerprint for f in everything],
                    label=f"channel {channel}: team {', '.join(teams)}",
                    nudges=[(f.fingerprint, w.number) for f, _, w, _ in unrouted],
                    escalations=[f.fingerprint for f, _, _, _ in escalated], by_rule=_by_rule(everything))


class DeliveryError(Exception):
    """A Slack or Jira call failed. The flags tell the outbox what to do with the message."""

    retryable = False   # the service is down or busy: keep the message queued for later
    in_doubt = False    # the request may have been delivered: reconcile, never blindly resend
    fatal = False       # every further call will fail too (credentials): stop the run

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}{': ' + detail if detail else ''}")
        self.code = code

"""Who is nudged about what, and when: defaults that respect people.

- At most one Slack message per person per run, grouping all of that person's
  new or due findings, and whatever an earlier run left queued for them.
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
    """The nudges section, in the forms the policy computes with (defaults: ``bot.config.DEFAULTS``)."""

    enabled: bool
    interval: timedelta
    reminder_cap: int
    escalate: str  # channel | digest
    quiet_days: frozenset[int]
    quiet_hours: tuple[time, time] | None
    timezone: str
    min_severity: Severity
    label_prefix: str
    waiver_hint: str | None
    buttons: bool = False

    @classmethod
    def default(cls) -> "NudgeSettings":
        from bot.config import load_config

        return cls.from_config(load_config(None, search=False))

    @classmethod
    def from_config(cls, config) -> "NudgeSettings":
        section = config.settings.nudges
        return cls(
            enabled=bool(section.enabled),
            interval=timedelta(days=float(section.reminder_interval_days)),
            reminder_cap=int(section.max_reminders),
            escalate=str(section.escalate_to),
            quiet_days=frozenset(DAY_NAMES.index(day.casefold()) for day in section.quiet_days),
            quiet_hours=_parse_quiet_hours(section.quiet_hours, config.position("nudges", "quiet_hours")),
            timezone=str(section.timezone),
            min_severity=Severity.parse(section.min_severity),
            label_prefix=config.settings.waivers.label_prefix,
            waiver_hint=section.waiver_hint,
            buttons=bool(section.buttons))


def _parse_quiet_hours(value: Any, where: str) -> tuple[time, time] | None:
    if value in (None, "", False) or (isinstance(value, str) and value.strip().casefold() == "off"):
        return None  # "off", as the docs say, or false / null
    try:
        start, end = str(value).split("-", 1)
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise ConfigError(f"{where}: nudges.quiet_hours {value!r} is not a time range",
                          hint='write it like "19:00-07:00" (local time in the team\'s time zone), or "off"') from None


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
    rules: dict[str, str] = field(default_factory=dict)   # fingerprint -> rule (the breaker's alert counts by it)
    breaker_exempt: bool = False
    supersedes: list[int] = field(default_factory=list)    # queued deliveries this message folds in (merged)
    carried_over: list[str] = field(default_factory=list)  # fingerprints from those: approved in an earlier run

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


@dataclass
class _Entry:
    """One finding in one message: how it is shown (first nudge, reminder n, escalation) and where from."""

    finding: Any
    rule: Any
    when: Due
    reopened: int
    group: str = "dm"           # dm | unrouted | escalated
    leftover: bool = False      # from a message an earlier run left queued

    @property
    def part(self) -> str:
        number = "escalate" if self.group == "escalated" else self.when.number
        return f"{self.finding.fingerprint}:{self.reopened}:{number}"


@dataclass
class _Bucket:
    """Everything one recipient (a person's DM, a channel) hears in this run."""

    route: Any = None
    entries: dict[str, _Entry] = field(default_factory=dict)
    supersedes: list = field(default_factory=list)   # earlier queued deliveries folded in
    repeat: bool = False                              # one of them was resent without proof


def _consider(finding, rule, state, settings: NudgeSettings, now: datetime, quiet) -> tuple[str, Any]:
    """("skip", why) | ("defer", why) | ("escalate", Due) | ("nudge", Due): the one decision per finding."""
    if finding.waived:
        return "skip", "waived"
    if rule is not None and not getattr(rule, "nudge", True):
        return "skip", "rule opted out of nudges"
    if finding.severity.rank < settings.min_severity.rank:
        return "skip", f"below nudges.min_severity ({settings.min_severity.value})"
    when = due(state, settings, now)
    if when is None:
        return "skip", "not due yet" if state is None or state.escalated_at is None else "already escalated"
    why = quiet(finding.team)
    if why:
        return "defer", why
    return ("escalate" if when.kind == "escalate" else "nudge"), when


def _quiet_lookup(config, settings: NudgeSettings, now: datetime):
    cache: dict[str | None, str | None] = {}

    def quiet(team: str | None) -> str | None:
        if team not in cache:
            cache[team] = quiet_reason(config, team, settings, now)
        return cache[team]

    return quiet


def findings_to_route(result, store, config, now: datetime, *, settings: NudgeSettings | None = None,
                      extra: list | None = None) -> list:
    """The findings this run may DM about, so their owners' Slack accounts can be looked up first.

    The same decisions as ``plan_nudges`` (so no lookup is made for a rule that opted
    out, a waived finding or one not due), taken on the state before this run's scan
    is recorded: a finding fixed earlier and back now counts as new.
    """
    settings = settings or NudgeSettings.from_config(config)
    if not settings.enabled:
        return []
    rules = {rule.id: rule for rule in getattr(result.ruleset, "rules", [])}
    unique: dict[str, Any] = {}
    for finding in list(result.findings) + list(extra or []):
        unique.setdefault(finding.fingerprint, finding)
    states = store.finding_states(list(unique))
    quiet = _quiet_lookup(config, settings, now)
    wanted = []
    for fingerprint, finding in unique.items():
        state = states.get(fingerprint)
        if state is not None and not state.open:
            state = None  # it reopens when this scan is recorded: a first nudge again
        rule = rules.get(finding.rule)
        if getattr(finding, "site_setup", False) or getattr(rule, "audience", "owner") == "admin":
            continue  # for the admin channel: no owner to look up
        verdict, _ = _consider(finding, rule, state, settings, now, quiet)
        if verdict == "nudge":
            wanted.append(finding)
    return wanted


def plan_nudges(result, store, config, now: datetime, router, *, settings: NudgeSettings | None = None,
                extra: list | None = None, leftovers: list | None = None) -> Plan:
    """Decide every Slack nudge of this run from the scan result and the stored state.

    ``extra``: open findings carried over from the store for issues this scan did not read.
    ``leftovers``: Slack nudges earlier runs left queued (a Slack outage, quiet time). A
    recipient who would hear twice in this run (a leftover and this run's news, or two
    leftovers) gets one message with all of it instead, which supersedes the leftovers.
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
    people: dict[str, _Bucket] = {}
    channels: dict[str, _Bucket] = {}
    quiet = _quiet_lookup(config, settings, now)
    admin_channel = config.settings.slack.admin_channel
    admins = _Bucket()
    for fingerprint, finding in sorted(unique.items(), key=lambda pair: _sort_key(pair[1])):
        rule = rules.get(finding.rule)
        state = states.get(fingerprint)
        verdict, detail = _consider(finding, rule, state, settings, now, quiet)
        if verdict == "skip":
            plan.skipped[detail] += 1
            continue
        if verdict == "defer":
            plan.deferred.append((finding, detail))
            continue
        reopened = state.reopened if state is not None else 0
        if getattr(finding, "site_setup", False) or getattr(rule, "audience", "owner") == "admin":
            # Site setup (bot.engine.site_setup): the admins' to fix, never an issue owner's.
            if not admin_channel:
                plan.skipped["site-setup finding (set slack.admin_channel to receive these)"] += 1
            elif verdict == "escalate":
                plan.silent_escalations.append(fingerprint)  # reminders spent: the scan and digest still list it
            else:
                admins.entries[fingerprint] = _Entry(finding, rule, detail, reopened, "admin")
            continue
        if verdict == "escalate":
            channel = router.team_channel(finding.team)
            if settings.escalate == "channel" and channel:
                bucket = channels.setdefault(channel, _Bucket())
                bucket.entries[fingerprint] = _Entry(finding, rule, detail, reopened, "escalated")
            else:
                plan.silent_escalations.append(fingerprint)
            continue
        route = router.route(finding)
        if route.kind == "dm":
            bucket = people.setdefault(route.person, _Bucket(route=route))
            bucket.entries[fingerprint] = _Entry(finding, rule, detail, reopened, "dm")
            continue
        if route.kind == "channel":
            bucket = channels.setdefault(route.target, _Bucket())
            bucket.entries[fingerprint] = _Entry(finding, rule, detail, reopened, "unrouted")
        else:
            plan.undeliverable.append((finding, route.via))
        if finding.owner is not None and finding.owner.id in router.unmapped:
            entry = plan.unmapped.setdefault(finding.owner.id, {
                "name": finding.owner.display_name or finding.owner.id,
                "why": router.unmapped[finding.owner.id], "findings": 0})
            entry["findings"] += 1
    _fold_leftovers(leftovers or [], people, channels, unique, store, rules)
    for person, bucket in people.items():
        plan.messages.append(_dm(person, bucket, settings))
    for channel, bucket in channels.items():
        plan.messages.append(_channel(channel, bucket, settings))
    if admins.entries:
        plan.messages.append(_admins(admin_channel, admins, settings))
    return plan


def _admins(channel: str, bucket: _Bucket, settings: NudgeSettings) -> Outgoing:
    """One admin-channel post with this run's new or due site-setup findings."""
    entries = _ordered(bucket)
    items = []
    for entry in entries:
        item = _item(entry, settings)
        item.issue = getattr(entry.finding, "project", None) or item.issue
        items.append(item)
    payload = blocks.site_setup_message(items)
    payload["issues"] = sorted({key for e in entries for key in (e.finding.issues or [e.finding.issue])})
    nudges, _ = _marks(entries)
    return Outgoing(kind="slack_channel", recipient=channel,
                    dedupe_key=dedupe_key("slack_channel", channel, [entry.part for entry in entries]),
                    payload=payload, fingerprints=[entry.finding.fingerprint for entry in entries],
                    label=f"admin channel {channel}: site setup", nudges=nudges,
                    by_rule=_by_rule(entry.finding for entry in entries),
                    rules=_rules(entry.finding for entry in entries))


def _fold_leftovers(leftovers: list, people: dict, channels: dict, unique: dict, store, rules: dict) -> None:
    """Merge queued leftovers into this run's message for the same recipient (see ``plan_nudges``)."""
    from bot.deliver.routing import Route

    by_recipient: dict[tuple[str, str], list] = defaultdict(list)
    for delivery in leftovers:
        if delivery.kind == "slack_dm" and delivery.person:
            by_recipient[("dm", delivery.person)].append(delivery)
        elif delivery.kind == "slack_channel":
            by_recipient[("channel", delivery.recipient)].append(delivery)
    for (kind, who), queued in by_recipient.items():
        buckets = people if kind == "dm" else channels
        if who not in buckets and len(queued) == 1:
            continue  # nothing else for them this run: it goes as it was queued
        fingerprints = [fp for delivery in queued for fp in delivery.fingerprints]
        states = store.finding_states(fingerprints)
        bucket = buckets.get(who)
        if bucket is None:
            route = Route("dm", queued[0].recipient, who, "queued earlier") if kind == "dm" else None
            bucket = buckets[who] = _Bucket(route=route)
        for delivery in queued:
            bucket.supersedes.append(delivery.id)
            bucket.repeat = bucket.repeat or bool((delivery.payload or {}).get("possible_repeat"))
            for entry in _leftover_entries(delivery, states, unique, rules):
                # The earlier message never reached them: its version of an item wins (a first
                # nudge stays a first nudge), and is marked nudged again now it is sent.
                bucket.entries[entry.finding.fingerprint] = entry
        if not bucket.entries:
            # Everything in them is fixed or waived since: nothing to say (the outbox cancels them).
            buckets.pop(who)


def _leftover_entries(delivery, states: dict, unique: dict, rules: dict) -> list[_Entry]:
    """The still-open items of a queued message, as they were planned."""
    recorded = {item[0]: item for item in (delivery.payload or {}).get("items") or [] if len(item) == 4}
    entries = []
    for fingerprint in delivery.fingerprints:
        state = states.get(fingerprint)
        finding = unique.get(fingerprint)
        if state is None or not state.open or state.waived or (finding is not None and finding.waived):
            continue  # fixed or waived since it was queued
        if finding is None:
            finding = state.as_finding()
        _, number, reopened, group = recorded.get(fingerprint) or (
            fingerprint, max(0, state.nudge_count - 1), state.reopened,
            "dm" if delivery.kind == "slack_dm" else ("escalated" if state.escalated_at else "unrouted"))
        kind = "escalate" if group == "escalated" else ("reminder" if number else "first")
        entries.append(_Entry(finding, rules.get(finding.rule), Due(kind, int(number)), int(reopened), group,
                              leftover=True))
    return entries



def _item(entry: _Entry, settings: NudgeSettings) -> blocks.Item:
    reminder = entry.when.number if entry.when.kind == "reminder" else 0
    return blocks.Item.from_finding(entry.finding, entry.rule, reminder=reminder, reminder_cap=settings.reminder_cap)


def _rules(findings) -> dict[str, str]:
    return {finding.fingerprint: finding.rule for finding in findings}


def _by_rule(findings) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for finding in findings:
        counts[finding.rule] += 1
    return dict(counts)


def _ordered(bucket: _Bucket) -> list[_Entry]:
    return sorted(bucket.entries.values(), key=lambda entry: _sort_key(entry.finding))


def _record(entries: list[_Entry]) -> dict[str, Any]:
    """What a queued message keeps about its items, so a later run can merge it: items, issues, teams."""
    return {"items": [[e.finding.fingerprint, e.when.number, e.reopened, e.group] for e in entries],
            "issues": sorted({e.finding.issue for e in entries}),
            "teams": sorted({e.finding.team or "" for e in entries})}


def _marks(entries: list[_Entry]) -> tuple[list[tuple[str, int]], list[str]]:
    nudges = [(e.finding.fingerprint, e.when.number) for e in entries if e.group != "escalated"]
    escalations = [e.finding.fingerprint for e in entries if e.group == "escalated"]
    return nudges, escalations


def _dm(person: str, bucket: _Bucket, settings: NudgeSettings) -> Outgoing:
    route = bucket.route
    entries = _ordered(bucket)
    payload = blocks.nudge_message([_item(entry, settings) for entry in entries], label_prefix=settings.label_prefix,
                                   interval_days=int(settings.interval.total_seconds() // 86400),
                                   reminder_cap=settings.reminder_cap, waiver_hint=settings.waiver_hint,
                                   actions=settings.buttons)
    if bucket.repeat:
        payload = blocks.mark_possible_repeat(payload, partial=any(not entry.leftover for entry in entries))
    payload.update(_record(entries))
    owner = entries[0].finding.owner
    name = (owner.display_name or owner.id) if owner else person
    target = route.target or f"email:{route.email}"
    nudges, _ = _marks(entries)
    label = f"{name}: {route.label}" + (" (with messages queued earlier)" if bucket.supersedes else "")
    return Outgoing(kind="slack_dm", recipient=target,
                    dedupe_key=dedupe_key("slack_dm", person, [entry.part for entry in entries]),
                    payload=payload, fingerprints=[entry.finding.fingerprint for entry in entries],
                    label=label, person=person, nudges=nudges,
                    by_rule=_by_rule(entry.finding for entry in entries),
                    rules=_rules(entry.finding for entry in entries), supersedes=list(bucket.supersedes),
                    carried_over=[e.finding.fingerprint for e in entries if e.leftover])


def _channel(channel: str, bucket: _Bucket, settings: NudgeSettings) -> Outgoing:
    entries = _ordered(bucket)
    unrouted = [entry for entry in entries if entry.group != "escalated"]
    escalated = [entry for entry in entries if entry.group == "escalated"]
    teams = sorted({entry.finding.team or "unassigned" for entry in entries})
    payload = blocks.channel_message(", ".join(teams), label_prefix=settings.label_prefix,
                                     reminder_cap=settings.reminder_cap, actions=settings.buttons,
                                     unrouted=[_item(entry, settings) for entry in unrouted],
                                     escalated=[_item(entry, settings) for entry in escalated])
    if bucket.repeat:
        payload = blocks.mark_possible_repeat(payload, partial=any(not entry.leftover for entry in entries))
    payload.update(_record(unrouted + escalated))
    nudges, escalations = _marks(entries)
    label = f"channel {channel}: team {', '.join(teams)}" + (" (with messages queued earlier)"
                                                              if bucket.supersedes else "")
    return Outgoing(kind="slack_channel", recipient=channel,
                    dedupe_key=dedupe_key("slack_channel", channel, [entry.part for entry in unrouted + escalated]),
                    payload=payload, fingerprints=[entry.finding.fingerprint for entry in unrouted + escalated],
                    label=label, nudges=nudges, escalations=escalations,
                    by_rule=_by_rule(entry.finding for entry in entries),
                    rules=_rules(entry.finding for entry in entries), supersedes=list(bucket.supersedes),
                    carried_over=[e.finding.fingerprint for e in entries if e.leftover])


class DeliveryError(Exception):
    """A Slack or Jira call failed. The flags tell the outbox what to do with the message."""

    retryable = False   # the service is down or busy: keep the message queued for later
    in_doubt = False    # the request may have been delivered: reconcile, never blindly resend
    fatal = False       # every further call will fail too (credentials): stop the run

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}{': ' + detail if detail else ''}")
        self.code = code

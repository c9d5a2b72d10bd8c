"""Checks on dates: age of a Jira date, and deadlines written in text."""

from __future__ import annotations

import calendar
import difflib
import re
from datetime import date, datetime, timedelta, timezone

from bot import lifecycle
from bot.engine.checks.values import _FIELD, _SOURCES
from bot.engine.registry import Check, Match, register
from bot.dates import WHEN_HINT, parse_datetime, parse_when, when_problem

# One date model for every date a rule names: Jira's system dates by any of their names,
# else a date field (system or custom) by display name or id, read by ``parse_datetime``.
_DELIVERED = ("resolved", "resolutiondate", "resolution date", "delivered")
SYSTEM_DATES: dict[str, str] = {
    "created": "created", "updated": "updated",
    **{name: "resolved" for name in _DELIVERED},
    "due": "duedate", "duedate": "duedate", "due date": "duedate",
    "status changed": "statuscategorychangedate", "status_changed": "statuscategorychangedate",
    "statuscategorychangedate": "statuscategorychangedate", "status category changed": "statuscategorychangedate",
}


def system_date(name: str) -> str | None:
    """The system date ``name`` means (created, updated, resolved, duedate, statuscategorychangedate)."""
    return SYSTEM_DATES.get(" ".join(str(name).split()).casefold())


def date_fields(name: str) -> set[str]:
    """The Jira fields read to tell the date ``name``."""
    system = system_date(name)
    if system == "resolved":
        return {"resolutiondate", "statuscategorychangedate", "updated", "status"}
    return {system or name}


def issue_date(issue, name: str, config=None) -> tuple[datetime | None, str]:
    """(the date, which date stood in for it) of the date ``name`` on ``issue``; a date field is
    also looked for under its synonyms from config (``fields: {Target Date: [customfield_10077]}``)."""
    system = system_date(name)
    if system == "created":
        return issue.created, ""
    if system == "updated":
        return issue.updated, ""
    if system == "resolved":
        # Some workflows reach Done without setting a resolution: the one definition
        # of the delivered date (bot.lifecycle) says what stands in for it.
        return lifecycle.delivered_on(issue)
    if system:
        raw = issue.fields.get(system)
        return (parse_datetime(raw) if isinstance(raw, str) else None), ""
    for candidate in (config.synonyms(name) if config is not None else [name]):
        raw = issue.raw(candidate)
        when = parse_datetime(raw) if isinstance(raw, str) else None
        if when is not None:
            return when, ""
    return None, ""


def date_problems(name: str) -> list[tuple[tuple, str, str | None]]:
    """A date name that is not a system date but is close to one (``creatd``) is a mistake: said now,
    not found later as a rule that never fires. Other names are date fields (live reads report a
    field the site does not have)."""
    if system_date(name):
        return []
    folded = " ".join(str(name).split()).casefold()
    close = difflib.get_close_matches(folded, sorted(SYSTEM_DATES), n=1, cutoff=0.75)
    if close:
        return [(("date",), f"unknown date {name!r}",
                 f"did you mean {close[0]!r}? dates: created, updated, resolved, due, status changed, "
                 f"or a date field's name")]
    return []


def date_config_problems(name: str, config) -> list[tuple[tuple, str, str | None]]:
    """A date field name close to, but not, a field the config names (``Target Dte`` beside
    ``fields: {Target Date: [...]}``) is a mistake: said now, not found later as a rule that never fires."""
    if system_date(name):
        return []
    known = {str(n) for logical, others in config.section("fields").items() for n in [logical, *(others or [])]}
    if str(name).casefold() in {n.casefold() for n in known}:
        return []
    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.8)
    if close:
        return [(("date",), f"unknown date field {name!r}", f"did you mean {close[0]!r} (named in govbot.yaml's fields:)?")]
    return []


@register
class OlderThan(Check):
    kind = "older-than"
    example = {"condition": {"older-than": {"date": "status changed", "days": 90}},
               "fires": {"type": "Epic", "status_changed": "120 days ago"},
               "ok": {"type": "Epic", "status_changed": "30 days ago"}}
    doc = ("Holds when a date is more than `days` days before the evaluation date. Quiet when the date is "
           "absent. Dates: `created`, `updated`, `resolved` (or `delivered`), `due`, `status changed` (when "
           "the status category last changed: how long an issue has been in progress), or any date field "
           "by name or id. `resolved` is the delivered date: the resolution date, else the date the status "
           "category changed to Done, else the last update; the evidence says which when it is not the "
           "resolution date.")
    schema = {"properties": {
        "date": {"type": "string", "minLength": 1,
                 "description": "created, updated, resolved (delivered), due, status changed, or a date field's name"},
        "days": {"type": "integer", "minimum": 0},
    }, "required": ["date", "days"]}

    def problems(self):
        return date_problems(self.params["date"])

    def config_problems(self, config):
        return date_config_problems(self.params["date"], config)

    def fields(self):
        return date_fields(self.params["date"])

    def evaluate(self, issue, context):
        when, source = issue_date(issue, self.params["date"], context.config)
        if when is None:
            return None
        age = (context.now - when).days
        # Evidence is the threshold crossed, not the age, so the fingerprint
        # stays the same from one day to the next.
        if age <= self.params["days"]:
            return None
        suffix = f" (by the {source})" if source and source != lifecycle.RESOLUTION_DATE else ""
        return Match(f"older than {self.params['days']} days{suffix}")


_MONTHS = {name.casefold(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.casefold(): number for number, name in enumerate(calendar.month_abbr) if name})
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_MONTH_YEAR = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{4})\b")
_QUARTER = re.compile(r"\b(?:Q([1-4])\s*[-/ ]?\s*(\d{4})|(\d{4})\s*[-/ ]?\s*Q([1-4]))\b", re.IGNORECASE)


def dates_in(value: str) -> list[date]:
    """Every date written in the text. A month or quarter means its last day."""
    found: list[date] = []

    def add(year: int, month: int, day: int | None) -> None:
        if not (1900 <= year <= 2200 and 1 <= month <= 12):
            return
        last = calendar.monthrange(year, month)[1]
        if day is None:
            day = last
        if 1 <= day <= last:
            found.append(date(year, month, day))

    text = value[:20_000]
    for match in _ISO.finditer(text):
        add(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    for match in _DAY_MONTH_YEAR.finditer(text):
        month = _MONTHS.get(match.group(2).casefold())
        if month:
            add(int(match.group(3)), month, int(match.group(1)))
    for match in _MONTH_DAY_YEAR.finditer(text):
        month = _MONTHS.get(match.group(1).casefold())
        if month:
            add(int(match.group(3)), month, int(match.group(2)))
    if not found:
        for match in _MONTH_YEAR.finditer(text):
            month = _MONTHS.get(match.group(1).casefold())
            if month:
                add(int(match.group(2)), month, None)
        for match in _QUARTER.finditer(text):
            quarter = int(match.group(1) or match.group(4))
            year = int(match.group(2) or match.group(3))
            add(year, quarter * 3, None)
    return found


@register
class DatePassed(Check):
    kind = "date-passed"
    example = {"condition": {"date-passed": {"field": "Target Date", "grace_days": 7}},
               "fires": {"type": "Epic", "fields": {"Target Date": "Deliver by Q1 2026"}},
               "ok": {"type": "Epic", "fields": {"Target Date": "2026-12-31"}}}
    doc = ("Holds when the field or section names a date (2026-03-31, 31 March 2026, March 2026, "
           "Q1 2026) and the latest date named is before the evaluation date, less any grace days.")
    shorthand = "field"
    schema = {"properties": {
        "field": _FIELD,
        "in": _SOURCES,
        "grace_days": {"type": "integer", "minimum": 0},
    }, "required": ["field"]}

    def fields(self):
        return {self.params["field"]}

    def evaluate(self, issue, context):
        sources = tuple(self.params.get("in", ("field", "section")))
        value = context.lookup(issue, self.params["field"], sources)[0]
        dates = dates_in(value)
        if not dates:
            return None
        deadline = max(dates)
        limit = (context.now.astimezone(timezone.utc).date()
                 - timedelta(days=self.params.get("grace_days", 0)))
        return Match(f"deadline {deadline.isoformat()}") if deadline < limit else None


_WHEN = {"type": "string", "minLength": 1,
         "description": "a date: 120 days ago, 2 weeks ago, in 14 days, today, or 2026-03-31 (relative dates count "
                        "from the evaluation date, `--now`)"}


@register
class DateIs(Check):
    kind = "date-is"
    example = {"condition": {"date-is": {"date": "due", "before": "today"}},
               "fires": {"type": "Story", "due": "3 days ago"},
               "ok": {"type": "Story", "due": "in 3 days"}}
    doc = ("Holds when a date (the same names as `older-than`: created, updated, resolved, due, status changed, "
           "or a date field) is before `before` and/or after `after`. Each bound is a relative date (`120 days "
           "ago`, `in 14 days`, `today`) or a calendar date (`2026-03-31`): `date-is: {date: due, before: today}` "
           "is a due date that has passed. Quiet when the date is absent.")
    schema = {"properties": {
        "date": OlderThan.schema["properties"]["date"],
        "before": _WHEN,
        "after": _WHEN,
    }, "required": ["date"]}

    def problems(self):
        out = date_problems(self.params["date"])
        if "before" not in self.params and "after" not in self.params:
            out.append(((), "date-is needs `before:`, `after:` or both", "for example {date: due, before: today}"))
        for bound in ("before", "after"):
            value = self.params.get(bound)
            problem = when_problem(value) if value is not None else None
            if problem:
                out.append(((bound,), problem, WHEN_HINT))
        return out

    def config_problems(self, config):
        return date_config_problems(self.params["date"], config)

    def fields(self):
        return date_fields(self.params["date"])

    def evaluate(self, issue, context):
        when, _ = issue_date(issue, self.params["date"], context.config)
        if when is None:
            return None
        before, after = self.params.get("before"), self.params.get("after")
        if before is not None and not when < parse_when(before, context.now):
            return None
        if after is not None and not when > parse_when(after, context.now):
            return None
        # Evidence names the bounds as written (stable from day to day), not the date.
        said = " and ".join(f"{name} {value}" for name, value in (("before", before), ("after", after)) if value)
        return Match(f"{self.params['date']} {said}")


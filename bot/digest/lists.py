"""The lists behind the dashboard's counts: every number on a page links to one.

Per digest (the organisation's or a team's): all open, new, fixed and waived
findings, the same per rule, the findings still open after every reminder,
the epics and initiatives the Feature Factory Ratio counts as without an
anticipated outcome, the unclosed loops, the tech-debt agreements and the
overdue ones. A list is paged (``PAGE_SIZE`` items a page) so it stays
readable at 500+ items, and each page carries an "open in Jira" link: a JQL
``key in (...)`` search for exactly the issues on it. Lists name no owner on
the organisation's pages (figures.build_digests already dropped them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from bot.digest import site
from bot.prose import plural
from bot.digest.figures import Digest, FindingItem

PAGE_SIZE = 100
STATES = ("open", "new", "fixed", "waived")
STATE_WORDS = {"open": "Open findings", "new": "New findings this week", "fixed": "Findings fixed this week",
               "waived": "Waived findings"}
STATE_DEFINITIONS = {
    "open": "Findings in this week's scan that no waiver covers.",
    "new": "Findings first seen in the seven days up to this digest.",
    "fixed": "Findings that stopped firing in the seven days up to this digest (the issue was fixed or left scope).",
    "waived": "Findings in this week's scan that a waiver (a snooze, a label or the waivers file) covers.",
}


@dataclass(frozen=True)
class Item:
    key: str
    summary: str
    url: str | None
    detail: str = ""  # the rule, the age, the waiver's reason: one line of context


@dataclass
class IssueList:
    what: str        # its kind and state, e.g. "findings-open", "rule-x-fixed", "loops"
    title: str
    definition: str
    items: list[Item]
    page_name: str   # the page (organisation or team) whose count leads here
    names: list[str] = field(default_factory=list)  # one file name per page, set by lists_for
    order: str = "by issue"  # how the items are sorted, as the page says it
    # The same items in other orders: (order, what) of sibling lists, linked from the page.
    orders: list[tuple[str, str]] = field(default_factory=list)

    @property
    def pages(self) -> list[list[Item]]:
        return [self.items[i:i + PAGE_SIZE] for i in range(0, len(self.items), PAGE_SIZE)] or [[]]

    @property
    def href(self) -> str:
        return self.names[0]


def _finding_item(finding: FindingItem, *, with_rule: bool = True, note: bool = False) -> Item:
    parts = [finding.title or finding.rule] if with_rule else []
    if note and finding.note:
        parts.append(finding.note)
    return Item(finding.key, finding.summary, finding.url, " · ".join(parts))


def _sorted(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda item: (_key_order(item.key), item.detail))


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (key, 0)


def lists_for(digest: Digest, page_name: str) -> dict[str, IssueList]:
    """Every non-empty list behind ``digest``'s counts, by ``what``; an empty count links nowhere."""
    by_state = {"open": digest.open_items, "new": digest.new_items, "fixed": digest.fixed_items,
                "waived": digest.waived_items}
    found: list[IssueList] = []
    for state in STATES:
        items = [_finding_item(f, note=state == "waived") for f in by_state[state]]
        by_issue = IssueList(f"findings-{state}", STATE_WORDS[state], STATE_DEFINITIONS[state],
                             _sorted(items), page_name)
        # A review walks through one rule at a time: the same list, grouped by rule.
        by_rule = IssueList(f"findings-{state}-by-rule", STATE_WORDS[state], STATE_DEFINITIONS[state],
                            sorted(items, key=lambda item: (item.detail, _key_order(item.key))), page_name,
                            order="by rule")
        by_issue.orders = by_rule.orders = [("by issue", by_issue.what), ("by rule", by_rule.what)]
        found += [by_issue, by_rule]
    for line in digest.rules:
        for state in STATES:
            items = [_finding_item(f, with_rule=False, note=state == "waived")
                     for f in by_state[state] if f.rule == line.rule]
            found.append(IssueList(f"rule-{line.rule}-{state}", f"{STATE_WORDS[state]}: {line.rule}",
                                   f"{STATE_DEFINITIONS[state]} Rule {line.rule}"
                                   + (f": {line.title}." if line.title else "."), _sorted(items), page_name))
    found.append(IssueList("escalated", "Still open after every reminder",
                           "Open findings the nudges have reminded the owner of as often as configured; "
                           "govbot has stopped asking.", _sorted([_finding_item(f) for f in digest.escalated]),
                           page_name))
    found.append(IssueList("ffr", "Epics and initiatives without an anticipated outcome",
                           "The issues the Feature Factory Ratio counts as without an anticipated outcome: "
                           "its rule fired on them, waived or not (a waiver does not make an outcome exist).",
                           _sorted([_finding_item(f, with_rule=False) for f in digest.ffr_items]), page_name))
    loops = [Item(loop.key, loop.summary, loop.url,
                  f"delivered {loop.resolved.isoformat()} · {plural(loop.age_days, 'day')} ago"
                  if loop.resolved and loop.age_days is not None else "delivery date unknown")
             for loop in digest.loops]
    oldest = IssueList("loops", "Unclosed loops",
                       "Delivered epics and initiatives whose actual outcome is not recorded yet.", loops, page_name,
                       order="oldest first")
    by_key = IssueList("loops-by-issue", oldest.title, oldest.definition, _sorted(loops), page_name)
    oldest.orders = by_key.orders = [("oldest first", "loops"), ("by issue", "loops-by-issue")]
    found += [oldest, by_key]
    for what, title, definition, only_overdue in (
            ("agreements", "Tech-debt agreements", "Open issues in the scope of the tech-debt agreement rules.",
             False),
            ("overdue", "Tech-debt agreements past their timeline",
             "Open tech-debt agreements whose timeline or trigger has passed.", True)):
        found.append(IssueList(what, title, definition,
                               [Item(a.key, a.summary, a.url, " · ".join(filter(None, [
                                   a.status, "overdue" if a.overdue else "",
                                   ("undocumented: " + ", ".join(a.undocumented)) if a.undocumented else ""])))
                                for a in digest.agreements if a.overdue or not only_overdue], page_name))
    out: dict[str, IssueList] = {}
    used: set[str] = set()
    for issue_list in found:
        if not issue_list.items:
            continue
        base = site.slug(issue_list.what)
        name, n = base, 2
        while name in used:  # two rule ids that slug alike ("a_b", "a-b") still get a page each
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        issue_list.names = [site.list_name(page_name, name, page) for page in range(1, len(issue_list.pages) + 1)]
        out[issue_list.what] = issue_list
    return out


_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")
_BROWSE = re.compile(r"^(https?://[^?#]+?)/browse/[^/?#]+$")


def jql_url(items: list[Item]) -> str | None:
    """A Jira search for exactly these issues, on the site their links point to; None without links."""
    bases = {match.group(1) for item in items if item.url and (match := _BROWSE.match(item.url))}
    if len(bases) != 1 or not items:
        return None  # no Jira links, or issues from several sites: no single search shows them all
    if not all(_KEY.match(item.key) for item in items):
        return None  # not Jira issue keys: JQL would not find them
    keys = ", ".join(item.key for item in items)
    return f"{bases.pop()}/issues/?jql={quote(f'key in ({keys}) ORDER BY key ASC', safe='')}"

"""The digest as Slack Block Kit messages: one per team channel, one for the organisation.

Built on the delivery package's Slack helpers, so escaping and limits work the
same as for nudges: Jira text is escaped and ``verbatim`` (a summary reading
``<!channel>`` pings nobody), sections stay under 3000 characters and messages
under 50 blocks, and long lists end with "and N more" linking to the dashboard.
Digest messages name no people: owners appear only on the team's own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject,
                                     PlainTextObject, SectionBlock)

from bot.deliver.policy import Outgoing, dedupe_key
from bot.deliver.slack import (MAX_BLOCKS, MAX_HEADER_CHARS, MAX_SECTION_CHARS, code, issue_link, one_line,
                               truncate)
from bot.escape import slack_escape, slack_plain, web_url
from bot.digest.figures import Agreement, Digest, Digests, FindingItem, Loop, RuleLine, TeamLine
from bot.prose import plural
from bot.dates import short_date
from bot.digest.render import FLOW_NAMES, ffr_change, percent
from bot.digest.site import page_names
from bot.digest.lists import lists_for
from bot.digest.site import published_url
from bot.hierarchy import FLOW_ITEMS

MAX_FIELD_CHARS = 2000
MAX_SUMMARY_CHARS = 120


@dataclass
class SlackMessage:
    team: str     # the digest's team key (metrics.ORGANISATION for the organisation)
    name: str     # the digest's display name
    channel: str
    payload: dict[str, Any]


def build_messages(digests: Digests, config) -> tuple[list[SlackMessage], list[str]]:
    """(messages, notes): a message per digest whose channel is configured; the notes
    say which digests have none."""
    settings = config.settings.digest
    base = published_url(config)
    links = dashboard_links(digests, base)
    pages = page_names(digests)
    messages, unsent = [], []
    for digest in digests:
        if not digest.channel:
            unsent.append(digest)
            continue
        payload = digest_payload(digest, links[digest.team], settings.slack_max_items,
                                 list_links(digest, pages[digest.team], base))
        messages.append(SlackMessage(digest.team, digest.name, digest.channel,
                                     {"channel": digest.channel, **payload,
                                      "unfurl_links": False, "unfurl_media": False}))
    return messages, _no_channel_notes(unsent)


def _no_channel_notes(digests: list[Digest]) -> list[str]:
    notes = [f"no Slack channel for the {d.name} digest (slack.org_channel is not set)"
             for d in digests if d.is_organisation]
    teams = [d.team for d in digests if not d.is_organisation]
    if teams:
        listed = ", ".join(teams[:8]) + (f" and {len(teams) - 8} more" if len(teams) > 8 else "")
        notes.append(f"no Slack channel for {plural(len(teams), 'team digest')} ({listed}); "
                     "set teams.<name>.channel (or slack.default_channel) to post them")
    return notes


def outgoing(messages: list[SlackMessage], week_start: date) -> list[Outgoing]:
    """The messages as outbox entries. One digest per channel, team and week: a rerun
    in the same week (or a regenerated past week) is never posted twice."""
    return [Outgoing(kind="slack_channel", recipient=message.channel,
                     dedupe_key=dedupe_key("slack_channel", message.channel,
                                           ["digest", message.team, week_start.isoformat()]),
                     payload=message.payload, fingerprints=[], label=f"the {message.name} digest to {message.channel}",
                     breaker_exempt=True)  # a handful of scheduled channel posts, not a nudge storm
            for message in messages]


def dashboard_links(digests: Digests, base_url: str | None) -> dict[str, str | None]:
    """Each digest's published dashboard page, when there is one (``site.published_url``)."""
    base = web_url(base_url)
    if not base:
        return {team: None for team in page_names(digests)}
    return {team: f"{base.rstrip('/')}/{page}".replace("|", "%7C") for team, page in page_names(digests).items()}


def list_links(digest: Digest, page: str, base_url: str | None) -> dict[str, str]:
    """Where each of the digest's lists is published (bot.digest.lists), by what it lists."""
    base = web_url(base_url)
    if not base:
        return {}
    return {what: f"{base.rstrip('/')}/{found.href}".replace("|", "%7C")
            for what, found in lists_for(digest, page).items()}


def digest_payload(digest: Digest, dashboard: str | None, max_items: int,
                   lists: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"text", "blocks"}`` for one digest; "and N more" leads to the full list when it is published."""
    title = f"Hygiene digest · {digest.name} · week of {short_date(digest.week_start)}"
    blocks: list = [HeaderBlock(text=PlainTextObject(text=truncate(title, MAX_HEADER_CHARS), emoji=False)),
                    _section(f"*Where to look first:* {slack_plain(digest.look_first)}")]
    if digest.issues == 0:
        blocks.append(_section("No issues in the scanned projects for this team this week."))
    else:
        blocks.append(SectionBlock(fields=[_field(name, value) for name, value in _headline(digest)]))
        blocks.append(DividerBlock())
        more = f"<{slack_escape(dashboard)}|on the dashboard>" if dashboard else "in the full digest"
        lists = lists or {}

        def more_in(what: str | None) -> str:
            return f"<{slack_escape(lists[what])}|in the full list>" if what in lists else more

        listings = [
            ("Open findings by rule", [_rule_line(line, digest.changes_tracked) for line in digest.rules], "rule",
             None),
            ("Still open after every reminder", [_finding_line(item) for item in digest.escalated], "finding",
             "escalated"),
            ("Tech-debt agreements, overdue first", [_agreement_line(a) for a in digest.agreements], "agreement",
             "agreements"),
            ("Unclosed loops, oldest first", [_loop_line(loop) for loop in digest.loops], "loop", "loops"),
            ("Teams", [_team_line(team) for team in digest.teams], "team", None),
        ]
        blocks += [_section(_fit(f"*{heading}*", lines, max_items, unit, more_in(what)))
                   for heading, lines, unit, what in listings if lines]
    blocks = blocks[:MAX_BLOCKS - 1] + [_footer(digest, dashboard)]
    return {"text": _fallback(digest), "blocks": [block.to_dict() for block in blocks]}


def _fallback(digest: Digest) -> str:
    """The notification text (also what screen readers and old clients show)."""
    if digest.issues == 0:
        return slack_plain(f"Hygiene digest for {digest.name}: no issues in the scanned projects.")
    return slack_plain(f"Hygiene digest for {digest.name}, week of {short_date(digest.week_start)}: "
                  f"FFR {percent(digest.ffr)}, {plural(digest.open_findings, 'open finding')}, "
                  f"{plural(len(digest.loops), 'unclosed loop')}, {plural(digest.overdue, 'overdue debt agreement')}.")


def _headline(digest: Digest) -> list[tuple[str, str]]:
    change = ffr_change(digest) or ("" if digest.has_history else "no history yet")
    ffr = percent(digest.ffr) + (f" ({digest.ffr_missing} of {digest.ffr_scope})" if digest.ffr_scope else "")
    findings = f"{digest.open_findings} open"
    if digest.changes_tracked:
        findings += f" · {digest.new} new · {digest.fixed} fixed"
    oldest = digest.loops[0].age_days if digest.loops else None
    flow = (" · ".join(f"{FLOW_NAMES[kind]} {percent(digest.flow.share(kind))}" for kind in FLOW_ITEMS)
            if digest.flow.total else "nothing delivered")
    return [
        ("Feature Factory Ratio", ffr + (f"\n{change}" if change else "")),
        ("Findings", f"{findings} · {digest.waived} waived"),
        ("Unclosed loops", str(len(digest.loops)) + (f" (oldest {oldest} days)" if oldest is not None else "")),
        ("Tech-debt agreements", f"{len(digest.agreements)} open · {digest.overdue} overdue"),
        (f"Flow, last {digest.flow.window_days} days", flow),
    ]


def _rule_line(line: RuleLine, tracked: bool) -> str:
    text = f"• {code(line.rule)} {line.open} open"
    if tracked and (line.new or line.fixed):
        text += f" ({line.new} new, {line.fixed} fixed)"
    return text + (f", {line.waived} waived" if line.waived else "")


def _agreement_line(agreement: Agreement) -> str:
    text = f"• {issue_link(agreement.url, agreement.key)} {slack_plain(one_line(agreement.summary, MAX_SUMMARY_CHARS))}"
    if agreement.overdue:
        text += " · *overdue*"
    if agreement.undocumented:
        text += f" · no {', '.join(agreement.undocumented)}"
    return text


def _finding_line(item: FindingItem) -> str:
    return (f"• {issue_link(item.url, item.key)} {slack_plain(one_line(item.summary, MAX_SUMMARY_CHARS))} · "
            f"{code(item.rule)}")


def _loop_line(loop: Loop) -> str:
    age = f"{loop.age_days} days" if loop.age_days is not None else "age unknown"
    return f"• {issue_link(loop.url, loop.key)} {slack_plain(one_line(loop.summary, MAX_SUMMARY_CHARS))} · {age}"


def _team_line(team: TeamLine) -> str:
    return (f"• {slack_plain(team.name)}: FFR {percent(team.ffr)} · {team.open_findings} open · "
            f"{plural(team.loops, 'unclosed loop')} · {team.overdue} overdue")


def _fit(heading: str, lines: list[str], max_items: int, unit: str, more: str) -> str:
    """The heading and as many lines as fit (at most ``max_items``), then "and N more"."""
    def tail(hidden: int) -> str:
        return f"\n…and {hidden} more {unit if hidden == 1 else unit + 's'} {more}" if hidden else ""

    shown: list[str] = []
    for line in lines[:max_items]:
        if len("\n".join([heading, *shown, line]) + tail(len(lines) - len(shown) - 1)) > MAX_SECTION_CHARS:
            break
        shown.append(line)
    return "\n".join([heading, *shown]) + tail(len(lines) - len(shown))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, MAX_SECTION_CHARS), verbatim=True))


def _field(name: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(f"*{name}*\n{slack_escape(value)}", MAX_FIELD_CHARS), verbatim=True)


def _footer(digest: Digest, dashboard: str | None) -> ContextBlock:
    whose = "the organisation's" if digest.is_organisation else "the team's"
    parts = [f"<{slack_escape(dashboard)}|Open the dashboard>"] if dashboard else []
    parts.append(f"Figures describe {whose} system of work, not individual performance.")
    return ContextBlock(elements=[MarkdownTextObject(text=" · ".join(parts), verbatim=True)])

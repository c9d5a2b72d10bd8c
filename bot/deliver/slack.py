"""Slack messages as Block Kit data, built with slack-sdk's block classes.

Everything that comes from Jira (summaries, keys, messages quoting field
values) is escaped before it goes into mrkdwn, and every text object is
``verbatim`` so Slack does no automatic parsing: a summary reading
``<!channel>`` or ``<https://evil|click here>`` shows as typed and can never
ping anyone or disguise a link. Messages are never sent with ``link_names`` or
``parse=full``. Block Kit limits are respected (50 blocks, 3000 characters per
section, 150 per header) by listing at most ``MAX_ITEMS`` items and saying
"and N more".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from slack_sdk.models.blocks import (ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject,
                                     PlainTextObject, SectionBlock)

from bot.deliver import buttons
from bot.deliver.questions import family_of, questions_for
from bot.escape import slack_escape, slack_plain, web_url

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_CHARS = 3000
MAX_FALLBACK_CHARS = 3000
MAX_ITEMS = 10  # item sections per message; the rest become "and N more"
MAX_FIX_CHARS = 400

# Said at the top of a message resent after an interruption that left no proof of whether
# the first one arrived (no Slack history to check): one possible duplicate, marked as such.
REPEAT_NOTE = (":repeat: *In case you missed this:* an interruption stopped me from checking whether "
               "this message reached you, so I'm sending it again. If you already have it, there's "
               "nothing new here.")
REPEAT_NOTE_PARTIAL = (":repeat: *In case you missed this:* an interruption stopped me from checking whether "
                       "my last message reached you, so some of these may be a repeat.")
REPEAT_PREFIX = "(in case you missed this) "


def truncate(text: str, limit: int) -> str:
    """Cut to ``limit`` characters with an ellipsis, never inside an ``&entity;``."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def one_line(text: Any, limit: int = 300) -> str:
    return truncate(re.sub(r"\s+", " ", str(text or "")).strip(), limit)


def issue_link(url: str | None, key: str) -> str:
    """``<url|KEY>`` for a URL that passes ``web_url``, else the escaped key alone."""
    label = slack_escape(key)
    checked = web_url(url)
    return f"*<{slack_escape(checked)}|{label}>*" if checked else f"*{label}*"


def code(text: str) -> str:
    """Inline code for ids we authored (rule ids, labels); backticks removed so it cannot break out."""
    return "`" + slack_escape(text).replace("`", "'") + "`"


@dataclass
class Item:
    """One finding as shown in a message."""

    rule: str
    issue: str
    summary: str
    title: str
    message: str
    url: str | None = None
    fix: str = ""
    reminder: int = 0        # 0: first nudge; n: reminder n
    reminder_cap: int = 0
    family: str = ""         # the rule's family: which questions help (bot/deliver/questions.py)
    fingerprint: str = ""    # the finding's id: what its buttons carry (bot/deliver/buttons.py)
    subjects: tuple[str, ...] = ()  # the fields the finding is about: which fix button it gets

    @classmethod
    def from_finding(cls, finding, rule=None, *, reminder: int = 0, reminder_cap: int = 0) -> "Item":
        docs = getattr(rule, "docs", None) or {}
        return cls(rule=finding.rule, issue=finding.issue, summary=finding.summary or "",
                   title=finding.title or getattr(rule, "title", "") or finding.rule,
                   message=finding.message or "", url=finding.url, fix=_first_paragraph(docs.get("fix", "")),
                   reminder=reminder, reminder_cap=reminder_cap, family=family_of(finding.rule, rule),
                   fingerprint=getattr(finding, "fingerprint", "") or "",
                   subjects=tuple(getattr(finding, "subjects", ()) or ()))


def _questions(items: list[Item]) -> list:
    """The questions of the families these items belong to (none for families govbot has no questions for)."""
    questions = questions_for(item.family or family_of(item.rule) for item in items)
    if not questions:
        return []
    return [_context(":bulb: Questions that help: " + " ".join(f"*{q}*" for q in questions))]


def _first_paragraph(text: str) -> str:
    text = str(text or "").strip()
    return text.split("\n\n", 1)[0].strip()


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=_md(truncate(text, MAX_SECTION_CHARS)), block_id=block_id)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(truncate(text, MAX_CONTEXT_CHARS))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, MAX_HEADER_CHARS), emoji=True))


def item_text(item: Item) -> str:
    """One finding: the issue link and summary, then what the rule found."""
    first = issue_link(item.url, item.issue)
    if item.summary:
        first += f" · {slack_plain(one_line(item.summary, 200))}"  # "~tmp~" is not struck through
    if item.reminder:
        first += f"  _(reminder {item.reminder} of {item.reminder_cap})_" if item.reminder_cap else "  _(reminder)_"
    return f"{first}\n{slack_plain(one_line(item.message, 600))}"


def rule_text(item: Item, *, label_prefix: str, show_waive: bool = True) -> str:
    """What a rule asks for and how to fix it, said once for all of its items."""
    lines = [f"*{slack_escape(one_line(item.title, 120))}*"]
    if item.fix:
        lines.append(f"_How to fix:_ {slack_escape(one_line(item.fix, MAX_FIX_CHARS))}")
    if show_waive:
        lines.append(f"_Doesn't apply here?_ Add the label {code(label_prefix + item.rule)} to the issue.")
    return "\n".join(lines)


def _item_actions(item: Item, *, not_mine: bool) -> dict | None:
    """The item's buttons, or None for an item without a finding id (nothing to act on)."""
    target = buttons.parse_value(f"{item.issue} {item.rule} {item.fingerprint}")
    if target is None:
        return None
    fix = buttons.fix_for(item.rule, item.family, item.subjects)
    return buttons.actions_block(target, fix=fix, url=web_url(item.url), not_mine=not_mine)


def _item_blocks(items: list[Item], label_prefix: str, show_waive: bool = True, actions: str | None = None) -> list:
    """Items grouped by rule (rule first, then its issues); at most MAX_ITEMS issues, then "and N more".

    ``actions``: "dm" or "channel" puts buttons under each item ("Not mine" only in a DM).
    """
    shown = items[:MAX_ITEMS]
    order: list[str] = []
    groups: dict[str, list[Item]] = {}
    for item in shown:
        if item.rule not in groups:
            order.append(item.rule)
            groups[item.rule] = []
        groups[item.rule].append(item)
    blocks: list = []
    for rule in order:
        blocks.append(_section(rule_text(groups[rule][0], label_prefix=label_prefix, show_waive=show_waive)))
        for item in groups[rule]:
            acts = _item_actions(item, not_mine=actions == "dm") if actions else None
            blocks.append(_section(item_text(item), buttons.item_block_id(item.fingerprint) if acts else None))
            if acts:
                blocks.append(acts)
    hidden = len(items) - len(shown)
    if hidden > 0:
        more = ", ".join(slack_escape(item.issue) for item in items[MAX_ITEMS:MAX_ITEMS + 20])
        if hidden > 20:
            more += ", …"
        blocks.append(_context(f"…and {hidden} more: {more}"))
    return blocks


def _fallback(lead: str, items: list[Item]) -> str:
    keys = [slack_escape(item.issue) for item in items]
    text = lead
    if keys:
        listed = ", ".join(keys[:15])
        if len(keys) > 15:
            listed += f" and {len(keys) - 15} more"
        text += ": " + listed
    return truncate(text, MAX_FALLBACK_CHARS)


def _finish(text: str, blocks: list) -> dict[str, Any]:
    data = [block if isinstance(block, dict) else block.to_dict() for block in blocks[:MAX_BLOCKS]]
    return {"text": text, "blocks": data}


def nudge_message(items: list[Item], *, label_prefix: str, interval_days: int, reminder_cap: int,
                  waiver_hint: str | None = None, actions: bool = False) -> dict[str, Any]:
    """The one private message a person gets in a run: all of their new or due items (``actions``: with buttons)."""
    count = len(items)
    noun = "item" if count == 1 else "items"
    all_reminders = all(item.reminder for item in items)
    if all_reminders:
        header = f"A gentle reminder about {count} Jira {noun}"
        intro = ("Hi :wave: these still need a quick update. If now isn't the right time, or an item "
                 "doesn't apply, that's fine: add the label shown with its rule and I'll stop asking.")
    else:
        header = f"{count} Jira {noun} could use your help"
        intro = ("Hi :wave: I'm govbot. I check that our work in Jira says *why* it matters, so everyone can see "
                 f"the outcome we're aiming for. You own the {noun} below; a short update from you makes "
                 "a real difference for the team.")
    blocks: list = [_header(header), _section(intro), DividerBlock()]
    blocks += _item_blocks(items, label_prefix, actions="dm" if actions else None)
    blocks.append(DividerBlock())
    blocks += _questions(items)
    how_often = (f"I remind you about an item at most {reminder_cap} "
                 f"time{'s' if reminder_cap != 1 else ''}, {interval_days} days apart, and send you at most "
                 "one message at a time." if reminder_cap else "I won't remind you about these.")
    footer = how_often
    if waiver_hint:
        footer += " " + slack_escape(waiver_hint)
    blocks.append(_context(footer))
    lead = (f"govbot: a reminder about {count} Jira {noun}" if all_reminders
            else f"govbot: {count} Jira {noun} could use your help")
    return _finish(_fallback(lead, items), blocks)


def channel_message(team: str, *, unrouted: list[Item], escalated: list[Item], label_prefix: str,
                    reminder_cap: int, actions: bool = False) -> dict[str, Any]:
    """One team-channel post: items nobody can be DMed about, and items past their reminders. No mentions."""
    blocks: list = [_header(f"Jira items for {one_line(team, 80)} that need someone's attention")]
    budget = MAX_ITEMS
    if unrouted:
        blocks.append(_section("These items have no owner I can reach on Slack. Could someone on the team pick "
                               "one up, or set an owner in Jira?"))
        blocks += _item_blocks(unrouted[:], label_prefix, actions="channel" if actions else None)
        budget = max(3, MAX_ITEMS - min(len(unrouted), MAX_ITEMS))
    if escalated:
        if unrouted:
            blocks.append(DividerBlock())
        blocks.append(_section(f"These items are still open after {reminder_cap} "
                               f"reminder{'s' if reminder_cap != 1 else ''} to their owner. Worth a look together "
                               "in your next planning or refinement session?"))
        blocks += _item_blocks(escalated[:budget] if len(escalated) > budget else escalated, label_prefix,
                               actions="channel" if actions else None)
        if len(escalated) > budget:
            blocks.append(_context(f"…and {len(escalated) - budget} more in this week's digest."))
    items = unrouted + escalated
    blocks += _questions(items)
    return _finish(_fallback(f"govbot: {len(items)} Jira item{'s' if len(items) != 1 else ''} for "
                             f"{slack_escape(one_line(team, 80))} need attention", items), blocks)


def not_mine_message(team: str, item: Item, *, who: str, label_prefix: str) -> dict[str, Any]:
    """One team-channel post: the person nudged about ``item`` says it is not theirs. No mentions."""
    blocks: list = [_section(f"{slack_escape(one_line(who, 80))} says this one isn't theirs. Could someone on "
                             f"{slack_escape(one_line(team or 'the team', 80))} pick it up, or set its owner in Jira?")]
    blocks += _item_blocks([item], label_prefix, actions="channel")
    return _finish(_fallback("govbot: a Jira item needs an owner", [item]), blocks)


def site_setup_message(items: list[Item]) -> dict[str, Any]:
    """One admin-channel post about how the site is set up (unmapped types, projects without
    epics): never sent to an issue's owner. No mentions, no waiver labels."""
    blocks: list = [_header("govbot: site setup to look at"),
                    _section("These concern how projects and issue types are set up, not any one issue's "
                             "owner, so nobody was nudged about them.")]
    blocks += _item_blocks(items, "", show_waive=False)
    return _finish(_fallback(f"govbot: {len(items)} site-setup finding{'s' if len(items) != 1 else ''}", items),
                   blocks)


def breaker_alert(*, reason: str, people: int, findings: int, by_rule: dict[str, int],
                  baseline: str) -> dict[str, Any]:
    """The single admin-channel alert when the circuit breaker holds a run's nudges."""
    lines = [f"This run would have sent messages to *{people}* "
             f"{'person' if people == 1 else 'people'} about *{findings}* "
             f"finding{'s' if findings != 1 else ''} ({slack_escape(reason)}; usual: {slack_escape(baseline)}).",
             "That is often a renamed Jira field or a broken rule, so *nothing was sent*."]
    top = sorted(by_rule.items(), key=lambda pair: (-pair[1], pair[0]))[:10]
    blocks: list = [_header("govbot held this run's nudges"), _section("\n".join(lines))]
    if top:
        blocks.append(_section("*Findings by rule*\n" + "\n".join(f"• {code(rule)}: {count}" for rule, count in top)))
    blocks.append(_context("Check with `govbot preview`, fix the cause, or if this volume is expected run "
                           "`govbot nudge --apply --override-breaker` once."))
    return _finish(truncate(f"govbot held this run's nudges: {people} people, {findings} findings "
                            f"({slack_escape(reason)})", MAX_FALLBACK_CHARS), blocks)


def mark_possible_repeat(payload: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The same message, saying at the top that it may be a repeat ("in case you missed this").

    ``partial``: only some of its items may have been sent before (a message merged with news).
    """
    if payload.get("possible_repeat"):
        return payload
    marked = dict(payload)
    blocks = list(payload.get("blocks") or [])
    at = 1 if blocks and blocks[0].get("type") == "header" else 0
    blocks.insert(at, _context(REPEAT_NOTE_PARTIAL if partial else REPEAT_NOTE).to_dict())
    marked["blocks"] = blocks[:MAX_BLOCKS]
    marked["text"] = truncate(REPEAT_PREFIX + str(payload.get("text") or ""), MAX_FALLBACK_CHARS)
    marked["possible_repeat"] = True
    return marked


def render_text(payload: dict[str, Any]) -> str:
    """A plain reading of a Block Kit payload, for dry runs and previews."""
    out: list[str] = []
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            out.append(f"# {block['text']['text']}")
        elif kind == "section":
            if block.get("text"):
                out.append(block["text"]["text"])
            out.extend(field["text"] for field in block.get("fields", []))
        elif kind == "context":
            out.append("  " + " ".join(element.get("text", "") for element in block.get("elements", [])))
        elif kind == "divider":
            out.append("---")
    return "\n".join(out)


def all_texts(payload: dict[str, Any]) -> Iterable[str]:
    """Every text string in a payload (for tests and safety checks)."""
    yield payload.get("text", "")

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    yield from walk(payload.get("blocks", []))

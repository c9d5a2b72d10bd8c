"""Jira text -> plain text, and description sections addressable by name.

Jira hands us three shapes of text: plain strings, wiki markup (Data Center and
REST v2) and Atlassian Document Format (Cloud REST v3, a JSON tree). Rules only
ever see plain text. Sections come from headings (ADF heading nodes, ``h2.``,
``## ``, a line that is only bold text) or from labels (a line ``Name: text``).

Issue text is untrusted and may be huge or absurdly nested, so every walk here
is iterative and bounded.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterable

# Bounds that keep hostile input cheap: text beyond these is cut, not parsed.
MAX_TEXT_CHARS = 1_000_000
MAX_ADF_NODES = 200_000
MAX_LINE_ATTR_CHARS = 10_000  # a mention's or a link card's text

_INLINE_ATTR_TEXT = {
    "mention": ("text",),
    "emoji": ("text", "shortName"),
    "status": ("text",),
    "inlineCard": ("url",),
    "blockCard": ("url",),
    "placeholder": ("text",),
}
# ADF nodes after which a line ends.
_LINE_NODES = {"paragraph", "heading", "codeBlock", "mediaSingle", "rule", "taskItem",
               "decisionItem", "tableCell", "tableHeader"}


class Line(tuple):
    """(text, is_heading) - a line of flattened text."""

    __slots__ = ()

    def __new__(cls, content: str, heading: bool = False):
        return super().__new__(cls, (content, heading))

    @property
    def content(self) -> str:
        return self[0]

    @property
    def heading(self) -> bool:
        return self[1]


class Lines(tuple):
    """A description already flattened to ``Line`` values: what an Issue keeps
    instead of the raw ADF tree or markup, so 200,000 issues fit in memory.
    ``lines_of``, ``to_text`` and ``sections`` read it exactly like the original."""

    __slots__ = ()


def compact(value: Any) -> Lines | None:
    """A description as ``Lines`` (None when it holds no text at all)."""
    if value is None or isinstance(value, Lines):
        return value
    lines = lines_of(value)
    if not any(line[0] for line in lines):
        return None
    return Lines(lines)


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc"


class _Close:
    """Marks, on the walk's stack, where a line-ending node's children end."""

    __slots__ = ("heading",)

    def __init__(self, heading: bool):
        self.heading = heading


_CLOSE_LINE = _Close(False)
_CLOSE_HEADING = _Close(True)


def adf_lines(doc: dict) -> list[Line]:
    """Flatten an ADF document into lines, marking heading lines."""
    lines: list[Line] = []
    current: list[str] = []
    chars = 0
    visited = 0
    # An explicit stack, so nesting depth never touches Python's stack.
    stack: list[Any] = [doc]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        if node.__class__ is _Close:
            joined = "".join(current).strip()
            current = []
            if "\n" not in joined:
                lines.append(Line(joined, heading=node.heading))
                continue
            for index, part in enumerate(joined.split("\n")):
                lines.append(Line(part.strip(), heading=node.heading and index == 0))
            continue
        visited += 1
        if visited > MAX_ADF_NODES or chars > MAX_TEXT_CHARS:
            break
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind == "text":
            piece = node.get("text")
            if isinstance(piece, str):
                if len(piece) > MAX_TEXT_CHARS - chars:
                    current.append(piece[:max(0, MAX_TEXT_CHARS - chars)])
                    chars = MAX_TEXT_CHARS + 1  # cut here: the walk stops at the next node
                    continue
                current.append(piece)
                chars += len(piece)
            continue
        if kind == "hardBreak":
            current.append("\n")
            continue
        if kind in _INLINE_ATTR_TEXT:
            attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
            for attr in _INLINE_ATTR_TEXT[kind]:
                if isinstance(attrs.get(attr), str):
                    current.append(attrs[attr][:MAX_LINE_ATTR_CHARS])
                    break
            continue
        if kind == "date":
            attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
            current.append(_adf_date(attrs.get("timestamp")))
            continue
        if kind in _LINE_NODES:
            push(_CLOSE_HEADING if kind == "heading" else _CLOSE_LINE)
        if kind == "listItem":
            current.append("- ")
        content = node.get("content")
        if isinstance(content, list):
            extend(reversed(content))
    if current:
        lines.append(Line("".join(current).strip()))
    return lines


def _adf_date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=timezone.utc).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


_WIKI_HEADING = re.compile(r"^\s*h[1-6]\.\s+(.*)$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(\*{1,2}|_{2})([^*_]{1,80}?)\1\s*:?\s*$")
_WIKI_LINK = re.compile(r"\[([^\[\]|]*)\|([^\[\]]*)\]")
_WIKI_BARE_LINK = re.compile(r"\[(https?://[^\[\]\s]+)\]")
_WIKI_MACRO = re.compile(r"\{(code|noformat|quote|panel|color)(:[^}]*)?\}")
_WIKI_SPECIAL = re.compile(r"[\[{*_+\-^~]")
_WIKI_EMPHASIS = re.compile(r"(?<![\w*])([*_+\-^~])(?=\S)([^*_\n]{0,200}?\S)\1(?![\w*])")


def markup_lines(value: str) -> list[Line]:
    """Lines of a wiki-markup, markdown or plain string, marking headings."""
    if len(value) > MAX_TEXT_CHARS:
        value = value[:MAX_TEXT_CHARS]
    lines = []
    for raw in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _WIKI_HEADING.match(raw) or _MD_HEADING.match(raw)
        if match:
            lines.append(Line(strip_wiki(match.group(1)).strip(), heading=True))
            continue
        bold = _BOLD_LINE.match(raw)
        if bold:
            # "*Timeline:*" alone on a line is a label whose text follows, not a
            # heading: a heading would swallow the next "Label:" line as its body.
            colon = bold.group(2).rstrip().endswith(":") or raw.rstrip().endswith(":")
            lines.append(Line(bold.group(2).strip().rstrip(":") + (":" if colon else ""), heading=not colon))
            continue
        lines.append(Line(strip_wiki(raw).strip()))
    return lines


def strip_wiki(value: str) -> str:
    """Remove the commonest wiki markup so rules compare words, not syntax."""
    if not _WIKI_SPECIAL.search(value):
        return value  # most lines: nothing to strip
    value = _WIKI_LINK.sub(lambda m: m.group(1) or m.group(2), value)
    value = _WIKI_BARE_LINK.sub(r"\1", value)
    value = _WIKI_MACRO.sub("", value)
    value = _WIKI_EMPHASIS.sub(r"\2", value)
    return value


def lines_of(value: Any) -> list[Line]:
    if value is None:
        return []
    if isinstance(value, Lines):
        return value  # type: ignore[return-value] - a tuple of Line, read-only
    if is_adf(value):
        return adf_lines(value)
    if isinstance(value, str):
        return markup_lines(value)
    return markup_lines(value_to_text(value))


def to_text(value: Any) -> str:
    """Plain text of a description-like value (ADF, wiki, markdown or plain)."""
    return "\n".join(line.content for line in lines_of(value)).strip()


def value_to_text(value: Any) -> str:
    """Plain text of any Jira field value: text, ADF, option, user, list, number."""
    if value is None:
        return ""
    if isinstance(value, str):
        return to_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        if is_adf(value):
            return to_text(value)
        for key in ("value", "name", "displayName", "key", "title"):
            inner = value.get(key)
            if isinstance(inner, (str, int, float)) and not isinstance(inner, bool):
                child = value.get("child")
                text = str(inner)
                if isinstance(child, dict) and child.get("value"):
                    text += f" - {child['value']}"
                return text
        return ""
    if isinstance(value, list):
        parts = [value_to_text(item) for item in value[:1000]]
        return ", ".join(part for part in parts if part)
    return str(value)


# A label line: "Anticipated Outcome: text", "*Reason:* text". Short, starts with a letter.
_LABEL = re.compile(r"^\s*[*_]{0,2}([A-Za-z][A-Za-z0-9 /&()'+-]{0,48}?)[*_]{0,2}\s*:[*_]{0,2}(?!//)\s*(.*)$")


def section_key(name: str) -> str:
    """Normalise a heading for lookup: case, spacing, trailing colon and markup ignored."""
    cleaned = re.sub(r"[*_]", "", name).strip().rstrip(":").strip()
    return re.sub(r"\s+", " ", cleaned).casefold()


def sections(value: Any) -> dict[str, str]:
    """Description sections by normalised name.

    A heading's section runs to the next heading and includes any label lines
    inside it. A label's section is the rest of its line plus the lines that
    follow, up to the next heading or label. When a name appears as both, the
    heading wins; when it repeats, the first non-empty text wins.
    """
    lines = lines_of(value)
    found: dict[str, str] = {}
    from_heading: set[str] = set()

    def record(name: str, body: Iterable[str], heading: bool) -> None:
        key = section_key(name)
        if not key:
            return
        content = "\n".join(body).strip()
        if key in found and found[key] and not (heading and key not in from_heading):
            return
        if key in from_heading and not heading:
            return
        found[key] = content
        if heading:
            from_heading.add(key)

    heading_name: str | None = None
    heading_body: list[str] = []
    label_name: str | None = None
    label_body: list[str] = []
    for line in lines:
        label = None if line.heading else _LABEL.match(line.content)
        if label and len(label.group(1).split()) > 6:
            label = None
        if line.heading or label:
            if label_name is not None:
                record(label_name, label_body, heading=False)
                label_name = None
        if line.heading:
            if heading_name is not None:
                record(heading_name, heading_body, heading=True)
            heading_name, heading_body = line.content, []
            continue
        if heading_name is not None:
            heading_body.append(line.content)
        if label:
            label_name, label_body = label.group(1), [label.group(2)]
        elif label_name is not None:
            label_body.append(line.content)
    if label_name is not None:
        record(label_name, label_body, heading=False)
    if heading_name is not None:
        record(heading_name, heading_body, heading=True)
    return found


_PLACEHOLDER_STRIP = re.compile(r"[\s.\-_*?!:/]+")


def normalise_for_compare(value: str) -> str:
    """Lower-case text with punctuation and spacing folded, for placeholder checks."""
    return _PLACEHOLDER_STRIP.sub(" ", value.casefold()).strip()

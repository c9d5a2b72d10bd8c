"""Jira text -> plain text, and description sections addressable by name.

Jira hands us three shapes of text: plain strings, wiki markup (Data Center and
REST v2) and Atlassian Document Format (Cloud REST v3, a JSON tree). Rules only
ever see plain text. Sections are found wherever a person writes them:

- headings (ADF heading nodes, ``h2.``, ``## ``, a line or paragraph that is
  only bold text);
- labels (a line ``Name: text``, ``*Name:* text``);
- titled blocks: wiki ``{panel:title=Name}`` and ``{expand:Name}``, ADF
  ``expand`` / ``nestedExpand`` titles (an ADF panel has no title, but scopes
  the heading inside it);
- tables, wiki or ADF: a row whose first cell names the section and whose other
  cells hold it (``||Name|text|``, ``|Name|text|``), or a header row naming each
  column (``||Name||Other||`` then ``|text|more|``).

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
MAX_TABLE_CELLS = 2_000       # cells of one table read as sections; the rest is plain text
MAX_LABEL_CHARS = 80          # a table cell longer than this names no section

# Kinds of flattened line. SECTION is a whole section that is not part of the text
# ("name\x1fbody"): the rows of a table whose columns are already sections.
TEXT, HEADING, OPEN, CLOSE, SECTION = 0, 1, 2, 3, 4

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
_SCOPE_NODES = {"panel", "expand", "nestedExpand", "layoutColumn", "bodiedExtension"}


class Line(tuple):
    """(text, kind) - a line of flattened text.

    ``kind`` is TEXT, HEADING (a section that runs to the next heading), OPEN
    (a titled block - panel, expand, table cell - whose section ends at the
    matching CLOSE; an empty title only scopes the headings inside), CLOSE, or
    SECTION (a section outside the text).
    """

    __slots__ = ()

    def __new__(cls, content: str, kind: int = TEXT):
        return tuple.__new__(cls, (content, kind))

    @property
    def content(self) -> str:
        return self[0]

    @property
    def kind(self) -> int:
        return self[1]

    @property
    def heading(self) -> bool:
        return self[1] == HEADING


class Lines(tuple):
    """A description already flattened to ``Line`` values: what an Issue keeps
    instead of the raw ADF tree or markup, so 200,000 issues fit in memory.
    ``lines_of``, ``to_text`` and ``sections`` read it exactly like the original."""

    __slots__ = ()


_END = Line("", CLOSE)
_BLANK = Line("")


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


# -- tables (shared by ADF and wiki) -----------------------------------------------------------

def table_lines(rows: list[list[tuple[bool, str]]]) -> list[Line]:
    """Lines of a table given as rows of (is_header, text) cells.

    A first row of header cells names the columns: each column becomes a titled
    block holding its cells. Otherwise a row of two or more cells whose first
    cell is short is a titled block (the first cell) holding the others.
    """
    lines: list[Line] = []
    rows = [row for row in rows if row]
    if not rows:
        return lines
    cells = sum(len(row) for row in rows)
    header = rows[0]
    if cells > MAX_TABLE_CELLS:
        for row in rows:
            lines.append(Line(" ".join(text for _, text in row if text)))
        return lines
    if len(rows) > 1 and all(is_header for is_header, _ in header) and any(text for _, text in header):
        for column, (_, title) in enumerate(header):
            values = [row[column][1] for row in rows[1:] if column < len(row) and row[column][1]]
            if _labellike(title):
                lines.append(Line(title, OPEN))
                lines.extend(Line(value) for value in values)
                lines.append(_END)
            else:
                lines.extend(Line(value) for value in [title, *values] if value)
        # ||Field||Value|| over |Anticipated Outcome|Lift 5%|: each row names a section too.
        for row in rows[1:]:
            rest = [text for _, text in row[1:] if text]
            if len(row) >= 2 and _labellike(row[0][1]) and "\x1f" not in row[0][1]:
                lines.append(Line(row[0][1] + "\x1f" + "\n".join(rest), SECTION))
        return lines
    for row in rows:
        first = row[0][1]
        rest = [text for _, text in row[1:] if text]
        if len(row) >= 2 and _labellike(first):
            lines.append(Line(first, OPEN))
            lines.extend(Line(part) for part in rest)
            lines.append(_END)
        else:
            lines.extend(Line(text) for _, text in row if text)
    return lines


def _labellike(value: str) -> bool:
    return bool(value) and len(value) <= MAX_LABEL_CHARS and "\n" not in value


# -- ADF ----------------------------------------------------------------------------------------

class _Close:
    """Marks, on the walk's stack, where a line-ending node's children end."""

    __slots__ = ("kind",)

    def __init__(self, kind: int):
        self.kind = kind


_CLOSE_LINE = _Close(TEXT)
_CLOSE_HEADING = _Close(HEADING)
_CLOSE_SCOPE = _Close(CLOSE)


class _Budget:
    __slots__ = ("nodes", "chars")

    def __init__(self) -> None:
        self.nodes = 0
        self.chars = 0

    @property
    def spent(self) -> bool:
        return self.nodes > MAX_ADF_NODES or self.chars > MAX_TEXT_CHARS


def adf_lines(doc: dict, budget: _Budget | None = None, _in_table: bool = False) -> list[Line]:
    """Flatten an ADF document into lines, marking headings and titled blocks."""
    budget = budget or _Budget()
    nodes, chars = budget.nodes, budget.chars  # locals in the loop; written back at the end
    lines: list[Line] = []
    current: list[str] = []
    # An explicit stack, so nesting depth never touches Python's stack.
    stack: list[Any] = [doc]
    pop, push, extend = stack.pop, stack.append, stack.extend

    def flush(kind: int) -> None:
        joined = "".join(current).strip()
        current.clear()
        if "\n" not in joined:
            lines.append(Line(joined, kind))
            return
        for index, part in enumerate(joined.split("\n")):
            lines.append(Line(part.strip(), kind if index == 0 else TEXT))

    while stack:
        node = pop()
        if node.__class__ is _Close:
            kind = node.kind
            if kind == CLOSE:
                if current:
                    flush(TEXT)
                lines.append(_END)
                continue
            joined = "".join(current).strip()
            if "\n" in joined:
                flush(kind)
                continue
            current.clear()
            lines.append(Line(joined, kind))
            continue
        nodes += 1
        if nodes > MAX_ADF_NODES or chars > MAX_TEXT_CHARS:
            break
        if node.__class__ is not dict:
            continue
        kind = node.get("type")
        if kind == "text":
            piece = node.get("text")
            if piece.__class__ is str:
                room = MAX_TEXT_CHARS - chars
                if len(piece) > room:
                    current.append(piece[:max(0, room)])
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
        content = node.get("content")
        if kind == "table" and isinstance(content, list) and not _in_table:
            if current:
                flush(TEXT)
            budget.nodes, budget.chars = nodes, chars
            lines.extend(table_lines(_adf_rows(content, budget)))
            nodes, chars = budget.nodes, budget.chars
            continue
        if kind in _SCOPE_NODES:
            if current:
                flush(TEXT)
            attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
            title = attrs.get("title") if isinstance(attrs.get("title"), str) else ""
            lines.append(Line(strip_wiki(title[:MAX_LINE_ATTR_CHARS]).strip(), OPEN))
            push(_CLOSE_SCOPE)
        elif kind == "paragraph" and _bold_only(content):
            # A paragraph that is only bold text is a heading, as a bold line is in wiki
            # markup - unless it ends with a colon: "*Timeline:*" is a label whose text follows.
            push(_CLOSE_LINE if _joined(content).rstrip().endswith(":") else _CLOSE_HEADING)
        elif kind in _LINE_NODES:
            push(_CLOSE_HEADING if kind == "heading" else _CLOSE_LINE)
        if kind == "listItem":
            current.append("- ")
        if isinstance(content, list):
            extend(reversed(content))
    if current:
        lines.append(Line("".join(current).strip()))
    budget.nodes, budget.chars = nodes, chars
    return lines


def _adf_rows(rows: list, budget: _Budget) -> list[list[tuple[bool, str]]]:
    """An ADF table's rows as (is_header, text) cells; each cell flattened with the same budget."""
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("content"), list):
            continue
        cells = []
        for cell in row["content"]:
            if not isinstance(cell, dict) or budget.spent:
                continue
            # A table inside a cell (hostile: ADF allows none) is read as plain text.
            inner = adf_lines({"type": "doc", "content": cell.get("content") if isinstance(
                cell.get("content"), list) else []}, budget, True)
            body = "\n".join(line.content for line in inner if line.kind in (TEXT, HEADING, OPEN) and line.content)
            cells.append((cell.get("type") == "tableHeader", body.strip()))
        out.append(cells)
    return out


def _bold_only(content: Any) -> bool:
    """True when a paragraph's content is text, all of it bold (spaces aside), and short."""
    if content.__class__ is not list or not content or len(content) > 20:
        return False
    first = content[0]
    if first.__class__ is not dict or not first.get("marks"):
        return False  # most paragraphs: plain text first
    seen = False
    for node in content:
        if not isinstance(node, dict) or node.get("type") != "text" or not isinstance(node.get("text"), str):
            return False
        if not node["text"].strip():
            continue
        marks = node.get("marks") if isinstance(node.get("marks"), list) else []
        if not any(isinstance(mark, dict) and mark.get("type") == "strong" for mark in marks):
            return False
        seen = True
    return seen and len(_joined(content)) <= MAX_LABEL_CHARS


def _joined(content: list) -> str:
    return "".join(node.get("text", "") for node in content if isinstance(node, dict)
                   and isinstance(node.get("text"), str))


def _adf_date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=timezone.utc).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


# -- wiki markup, markdown, plain ---------------------------------------------------------------

_WIKI_HEADING = re.compile(r"^\s*h[1-6]\.\s+(.*)$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
# A whole line in bold ("*Anticipated Outcome*"): a section title. Public so that writing a
# section back (bot/deliver/writeback.py) finds it exactly as the rules read it.
BOLD_LINE = re.compile(r"^\s*(\*{1,2}|_{2})([^*_]{1,80}?)\1\s*:?\s*$")
_WIKI_LINK = re.compile(r"\[([^\[\]|]*)\|([^\[\]]*)\]")
_WIKI_BARE_LINK = re.compile(r"\[(https?://[^\[\]\s]+)\]")
_WIKI_MACRO = re.compile(r"\{(code|noformat|quote|panel|expand|color)(:[^}]*)?\}")
_WIKI_SPECIAL = re.compile(r"[\[{*_+\-^~]")
_WIKI_EMPHASIS = re.compile(r"(?<![\w*])([*_+\-^~])(?=\S)([^*_\n]{0,200}?\S)\1(?![\w*])")
# Block macros that title a section: {panel:title=X|...}, {expand:X} / {expand:title=X}.
_BLOCK_MACRO = re.compile(r"\{(panel|expand)(?::([^{}\n]{0,500}))?\}", re.IGNORECASE)
_MD_SEPARATOR = re.compile(r"^\s*:?-{2,}:?\s*$")


def markup_lines(value: str) -> list[Line]:
    """Lines of a wiki-markup, markdown or plain string, marking headings and titled blocks."""
    if len(value) > MAX_TEXT_CHARS:
        value = value[:MAX_TEXT_CHARS]
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "{" in value and _BLOCK_MACRO.search(value):
        value = _split_block_macros(value)
    lines: list[Line] = []
    table: list[list[tuple[bool, str]]] = []
    for raw in value.split("\n"):
        if raw.startswith("\x00"):
            if table:
                lines.extend(table_lines(table))
                table = []
            lines.append(_END if raw == "\x00" else Line(raw[1:], OPEN))
            continue
        stripped = raw.strip()
        if stripped.startswith("|") and len(stripped) > 1:
            row = _wiki_row(stripped)
            if row is not None:
                if table and all(_MD_SEPARATOR.match(text) for _, text in row):
                    table[-1] = [(True, text) for _, text in table[-1]]  # markdown: the row above is a header
                else:
                    table.append([(header, strip_wiki(text).strip()) for header, text in row])
                continue
        if table:
            lines.extend(table_lines(table))
            table = []
        if not stripped:
            lines.append(_BLANK)
            continue
        if stripped[0] not in "h#*_":
            # Neither a heading (h2., ##) nor a bold line can start otherwise: most lines.
            lines.append(Line(strip_wiki(raw).strip()))
            continue
        match = _WIKI_HEADING.match(raw) or _MD_HEADING.match(raw)
        if match:
            lines.append(Line(strip_wiki(match.group(1)).strip(), HEADING))
            continue
        bold = BOLD_LINE.match(raw)
        if bold:
            # "*Timeline:*" alone on a line is a label whose text follows, not a
            # heading: a heading would swallow the next "Label:" line as its body.
            colon = bold.group(2).rstrip().endswith(":") or raw.rstrip().endswith(":")
            lines.append(Line(bold.group(2).strip().rstrip(":") + (":" if colon else ""),
                              TEXT if colon else HEADING))
            continue
        lines.append(Line(strip_wiki(raw).strip()))
    if table:
        lines.extend(table_lines(table))
    return lines


def _split_block_macros(value: str) -> str:
    """Put each {panel}/{expand} on a line of its own, marked: "\\x00Title" opens, "\\x00" closes.

    A bare ``{panel}`` closes the innermost open panel (or opens an untitled one).
    """
    out: list[str] = []
    position = 0
    open_blocks: list[str] = []
    value = value.replace("\x00", "")
    def text_before(segment: str) -> None:
        # The markers get lines of their own without adding blank lines around them.
        if out and out[-1].endswith("\n") and segment.startswith("\n"):
            segment = segment[1:]
        out.append(segment)
        if segment and not segment.endswith("\n"):
            out.append("\n")

    for match in _BLOCK_MACRO.finditer(value):
        text_before(value[position:match.start()])
        position = match.end()
        name, params = match.group(1).casefold(), match.group(2)
        if params is None and open_blocks and open_blocks[-1] == name:
            open_blocks.pop()
            out.append("\x00\n")
            continue
        open_blocks.append(name)
        out.append(f"\x00{_macro_title(name, params or '')}\n")
    text_before(value[position:])
    out.extend("\x00\n" for _ in open_blocks)  # blocks never closed end with the text
    return "".join(out).rstrip("\n")


def _macro_title(name: str, params: str) -> str:
    parts = params.split("|")
    for part in parts:
        key, _, rest = part.partition("=")
        if rest and key.strip().casefold() == "title":
            return strip_wiki(rest).strip()
    if name == "expand" and parts and "=" not in parts[0]:
        return strip_wiki(parts[0]).strip()
    return ""


def _wiki_row(line: str) -> list[tuple[bool, str]] | None:
    """Cells of a wiki or markdown table row (``||head||`` or ``|cell|``); None if not a row.

    Pipes inside ``[link|url]`` and ``{macro|x}`` do not split cells.
    """
    if len(line) > 20_000:
        return None
    cells: list[tuple[bool, str]] = []
    depth = 0
    start = 0
    header = False
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "|" and depth == 0:
            if index > start:
                cells.append((header, line[start:index].strip()))
            header = index + 1 < length and line[index + 1] == "|"
            index += 2 if header else 1
            start = index
            continue
        index += 1
    tail = line[start:].strip()
    if tail:
        cells.append((header, tail))
    return cells or None


def strip_wiki(value: str) -> str:
    """Remove the commonest wiki markup so rules compare words, not syntax."""
    if not _WIKI_SPECIAL.search(value):
        return value  # most lines: nothing to strip
    if "[" in value:  # links; what they leave may hold a macro, looked for next
        value = _WIKI_LINK.sub(lambda m: m.group(1) or m.group(2), value)
        value = _WIKI_BARE_LINK.sub(r"\1", value)
    if "{" in value:
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
    return "\n".join(line[0] for line in lines_of(value)
                     if line[1] < CLOSE and (line[0] or line[1] == TEXT)).strip()


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


# -- sections -----------------------------------------------------------------------------------

# A label line: "Anticipated Outcome: text", "*Reason:* text", "预期结果：文本". Short, starts
# with a letter of any script; a URL ("https://...") is not a label.
# "Label: value" on one line. Groups: 1 what comes before the label (space, bold marks), 2 the
# label, 3 the colon with its marks, 4 the value. Shared with bot/deliver/writeback.py.
LABEL_LINE = re.compile(r"^(\s*[*_]{0,2})([^\W\d_][\w /&()'+-]{0,48}?)([*_]{0,2}\s*[:\uff1a][*_]{0,2})(?!//)\s*(.*)$")


def dashed_label(description: str, name: str) -> str | None:
    """The rest of a line "Name - text" (or an en or em dash) in plain-text ``description``, if one starts so.

    Not a label line for ``sections``: "Phase one - onboarding" is a sentence, and taking every dash
    as a label would cut the section above it short. Asked only for a name nothing else found."""
    if not description or name.casefold() not in description.casefold():
        return None
    # Spaces and tabs only, never \s: a \s* at each line start would run across every blank line
    # that follows, and 20,000 of them in a description took seconds (Jira text is untrusted).
    pattern = re.compile(rf"^[ \t]*[*_]{{0,2}}{re.escape(name.strip())}[*_]{{0,2}}[ \t]+[-\u2013\u2014][ \t]+(\S.*)$",
                         re.IGNORECASE | re.MULTILINE)
    match = pattern.search(description)
    return match.group(1).strip() if match else None


def section_key(name: str) -> str:
    """Normalise a heading for lookup: case, spacing, trailing colon and markup ignored."""
    cleaned = re.sub(r"[*_]", "", name).strip().rstrip(":\uff1a").strip()
    return re.sub(r"\s+", " ", cleaned).casefold()


class _Frame:
    """One block being read: the description itself, or a titled panel, expand or table cell."""

    __slots__ = ("title", "body", "heading", "heading_body", "label", "label_body")

    def __init__(self, title: str | None):
        self.title = title
        self.body: list[str] = []
        self.heading: str | None = None
        self.heading_body: list[str] = []
        self.label: str | None = None
        self.label_body: list[str] = []


def sections(value: Any) -> dict[str, str]:
    """Description sections by normalised name.

    A heading's section runs to the next heading of the same block and
    includes any label lines inside it. A label's section is the rest of its
    line plus the lines that follow, up to the next heading, label or block
    boundary. A titled block (panel, expand, table cell) is a section of its
    own, ending with the block. When a name appears as a heading (or block
    title) and as a label, the heading wins; when it repeats, the first
    non-empty text wins.
    """
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

    def end_label(frame: _Frame) -> None:
        if frame.label is not None:
            record(frame.label, frame.label_body, heading=False)
            frame.label = None

    def end_heading(frame: _Frame) -> None:
        if frame.heading is not None:
            record(frame.heading, frame.heading_body, heading=True)
            frame.heading = None

    def add_text(content: str) -> None:
        for frame in stack:
            if frame.title:
                frame.body.append(content)
            if frame.heading is not None:
                frame.heading_body.append(content)

    stack = [_Frame(None)]
    for content, kind in lines_of(value):
        frame = stack[-1]
        if kind == SECTION:
            name, _, body = content.partition("\x1f")
            record(name, [body], heading=True)
            continue
        if kind == OPEN:
            end_label(frame)
            if content:
                add_text(content)
            stack.append(_Frame(content))
            continue
        if kind == CLOSE:
            if len(stack) > 1:
                end_label(frame)
                end_heading(frame)
                stack.pop()
                if frame.title:
                    record(frame.title, frame.body, heading=True)
            continue
        label = None if kind == HEADING else LABEL_LINE.match(content)
        if label and len(label.group(2).split()) > 6:
            label = None
        if kind == HEADING or label:
            end_label(frame)
        if kind == HEADING:
            end_heading(frame)
            for outer in stack[:-1]:  # a heading inside a block is text to the blocks around it
                if outer.heading is not None:
                    outer.heading_body.append(content)
            for outer in stack:
                if outer.title:
                    outer.body.append(content)
            frame.heading, frame.heading_body = content, []
            continue
        add_text(content)
        if label:
            frame.label, frame.label_body = label.group(2), [label.group(4)]
        elif frame.label is not None:
            frame.label_body.append(content)
    while stack:
        frame = stack.pop()
        end_label(frame)
        end_heading(frame)
        if frame.title:
            record(frame.title, frame.body, heading=True)
    return found


# -- placeholders -------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")
# Short values already folded: an issue's summary and outcome are folded again by every rule
# that asks whether they are placeholders (2 to 3 times per issue). Long text is not kept, so
# the memo stays small whatever the issues hold.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX_CHARS = 200
_FOLDED_MAX_ENTRIES = 4096


def normalise_for_compare(value: str) -> str:
    """Lower-case text with punctuation and spacing folded, for placeholder checks.

    Letters and digits of every script survive ("顧客満足度を上げる", "Снизить отток
    клиентов"); everything else becomes one space, so "N/A", "n.a." and "n a" compare equal.
    """
    folded = _FOLDED.get(value)
    if folded is None:
        folded = _NOT_WORD.sub(" ", value.casefold()).strip()
        if len(value) <= _FOLDED_MAX_CHARS:
            if len(_FOLDED) >= _FOLDED_MAX_ENTRIES:
                _FOLDED.clear()
            _FOLDED[value] = folded
    return folded


def placeholder_reason(value: str, placeholders: Iterable[str] | frozenset = (), *,
                       summary: str | None = None) -> str | None:
    """Why ``value`` does not count as written: 'empty', 'placeholder' or 'summary copy'; None if it does.

    The one definition of a placeholder: blank is empty; a configured placeholder
    (compared after ``normalise_for_compare``) or text with no letter or digit in any
    script ("-", "…", "???") is a placeholder; text equal to the summary is a copy.
    ``placeholders`` should already be normalised (``normalised_placeholders``).
    """
    if not value or not value.strip():
        return "empty"
    folded = normalise_for_compare(value)
    if not folded or folded in placeholders:
        return "placeholder"
    if summary and folded == normalise_for_compare(summary):
        return "summary copy"
    return None


def normalised_placeholders(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(normalise_for_compare(str(value)) for value in values if str(value).strip())

"""Writing one value into an issue's description section, leaving the rest as it was.

A section is found the way rules read them (``bot.text.sections``): a heading,
a bold line standing as a heading, or a ``Name: value`` label line, under any
of the logical field's synonyms. Only these forms at the top level of the
description are edited:

- a heading (or bold line): everything up to the next heading is the old value
  and is replaced by the new one;
- a label line: the text after ``Name:`` on that line is replaced; the lines
  after it stay (they may be prose that only happens to follow it);
- nothing found: a level-2 heading with the value is appended at the end.

The value is a person's text from Slack and goes in as text: ADF text nodes
without marks (Cloud, REST v3), or wiki markup with every special character
escaped (Data Center, REST v2), so it can never mention, link or format
anything. Everything else in the description, node for node or line for line,
is kept.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterable

from bot.escape import strip_controls, wiki_escape
from bot.text import BOLD_LINE, LABEL_LINE, section_key

REPLACED = "replaced"
APPENDED = "appended"

_WIKI_HEADING = re.compile(r"^\s*h([1-6])\.\s+(.*?)\s*$")


def clean_lines(text: Any) -> list[str]:
    """A person's text as lines: control characters dropped, trailing blank lines removed."""
    lines = [line.rstrip() for line in strip_controls(str(text or "")).replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


# -- ADF (Cloud) ------------------------------------------------------------------------------------

def adf_text(node: Any) -> str:
    """The plain text of an ADF node (text, mentions and hard breaks read as text)."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "inlineCard", "date"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or "")
    return "".join(adf_text(child) for child in node.get("content") or [])


def adf_paragraphs(text: Any) -> list[dict[str, Any]]:
    """The value as ADF paragraphs: a blank line starts a new paragraph, a newline is a hard break."""
    paragraphs, current = [], []
    for line in clean_lines(text) or [""]:
        if not line.strip():
            if current:
                paragraphs.append(current)
                current = []
            continue
        current.append(line)
    if current:
        paragraphs.append(current)
    out = []
    for lines in paragraphs or [[]]:
        content: list[dict[str, Any]] = []
        for index, line in enumerate(lines):
            if index:
                content.append({"type": "hardBreak"})
            content.append({"type": "text", "text": line})
        out.append({"type": "paragraph", "content": content})
    return out


def adf_document(text: Any) -> dict[str, Any]:
    """The value as a whole ADF document (a Cloud rich-text custom field)."""
    return {"type": "doc", "version": 1, "content": adf_paragraphs(text)}


def _bold_only(node: dict) -> bool:
    content = [child for child in node.get("content") or [] if isinstance(child, dict)]
    texts = [child for child in content if child.get("type") == "text" and str(child.get("text") or "").strip()]
    return bool(texts) and all(child.get("type") in ("text", "hardBreak") for child in content) and all(
        any(isinstance(mark, dict) and mark.get("type") == "strong" for mark in child.get("marks") or [])
        for child in texts)


def _adf_heading_name(node: Any) -> str | None:
    """The name a top-level node stands as a heading for, or None."""
    if not isinstance(node, dict):
        return None
    if node.get("type") == "heading":
        return adf_text(node)
    if node.get("type") == "paragraph" and _bold_only(node):
        return adf_text(node)
    return None


def set_adf_section(doc: Any, names: Iterable[str], heading: str, text: Any) -> tuple[dict[str, Any], str]:
    """(the new document, REPLACED or APPENDED). ``doc`` itself is never changed."""
    keys = {section_key(name) for name in names} | {section_key(heading)}
    if isinstance(doc, dict) and doc.get("type") == "doc" and isinstance(doc.get("content"), list):
        new = copy.deepcopy(doc)
    else:
        # No description yet (None), or a plain string some clients store: kept as a paragraph.
        new = {"type": "doc", "version": 1, "content": adf_paragraphs(doc) if isinstance(doc, str) and doc else []}
    content: list = new["content"]
    value = adf_paragraphs(text)
    for index, node in enumerate(content):
        name = _adf_heading_name(node)
        if name is not None and section_key(name) in keys:
            end = index + 1
            while end < len(content) and _adf_heading_name(content[end]) is None:
                end += 1
            content[index + 1:end] = value
            return new, REPLACED
    for index, node in enumerate(content):
        if isinstance(node, dict) and node.get("type") == "paragraph":
            match = LABEL_LINE.match(adf_text(node).split("\n", 1)[0])
            if match and section_key(match.group(2)) in keys:
                first = next((child for child in node.get("content") or [] if isinstance(child, dict)), {})
                label: dict[str, Any] = {"type": "text", "text": f"{match.group(2)}: "}
                if first.get("type") == "text" and first.get("marks"):
                    label["marks"] = first["marks"]  # a bold label stays bold
                joined: list[dict[str, Any]] = []
                for paragraph in value:
                    if joined:
                        joined += [{"type": "hardBreak"}, {"type": "hardBreak"}]
                    joined += paragraph["content"]
                content[index] = {**node, "content": [label] + joined}
                return new, REPLACED
    content.append({"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": heading}]})
    content.extend(value)
    return new, APPENDED


# -- wiki markup (Data Center) ----------------------------------------------------------------------

def wiki_lines(text: Any) -> list[str]:
    """The value as wiki markup lines with nothing left that Jira would render as markup."""
    return [wiki_escape(line) if line.strip() else "" for line in clean_lines(text)]


def wiki_text(text: Any) -> str:
    return "\n".join(wiki_lines(text))


def _wiki_heading_name(line: str) -> str | None:
    match = _WIKI_HEADING.match(line)
    if match:
        return match.group(2)
    match = BOLD_LINE.match(line)
    return match.group(2) if match else None


def set_wiki_section(body: Any, names: Iterable[str], heading: str, text: Any) -> tuple[str, str]:
    """(the new description, REPLACED or APPENDED)."""
    keys = {section_key(name) for name in names} | {section_key(heading)}
    source = str(body or "")
    newline = "\r\n" if "\r\n" in source else "\n"
    lines = source.split(newline) if source else []
    value = wiki_lines(text)
    for index, line in enumerate(lines):
        name = _wiki_heading_name(line)
        if name is not None and section_key(name) in keys:
            end = index + 1
            while end < len(lines) and _wiki_heading_name(lines[end]) is None:
                end += 1
            # Keep the blank line that separated the old value from the next heading.
            tail = [""] if end < len(lines) else []
            lines[index + 1:end] = value + tail
            return newline.join(lines), REPLACED
    for index, line in enumerate(lines):
        match = LABEL_LINE.match(line)
        if match and section_key(match.group(2)) in keys:
            first, *rest = value or [""]
            lines[index:index + 1] = [f"{match.group(1)}{match.group(2)}{match.group(3)} {first}".rstrip()] + rest
            return newline.join(lines), REPLACED
    while lines and not lines[-1].strip():
        lines.pop()
    added = ([""] if lines else []) + [f"h2. {wiki_escape(heading)}"] + value
    return newline.join(lines + added), APPENDED


def plain_line(text: Any, limit: int = 255) -> str:
    """The value for a single-line text field: one line, no controls, at most ``limit`` characters."""
    flat = " ".join(" ".join(clean_lines(text)).split())
    return flat[:limit]

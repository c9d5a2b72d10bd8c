"""Untrusted text (anything that came from Jira) made inert for where it is shown.

One function per destination, so every output escapes the same way:

- ``terminal_safe``: a terminal. Control characters (escape sequences, BEL,
  C1 controls), bidi controls (which reorder what a reader sees, as in
  "Trojan Source") and lone surrogates become U+FFFD, visibly;
  ``terminal_safe_json`` writes them as ``\\u`` escapes in JSON instead.
- ``markdown_escape``: one line of Markdown (a table cell, a list item). No
  HTML, links, images, emphasis, table breaks or @mentions.
- ``slack_escape``: Slack mrkdwn, where only ``&``, ``<`` and ``>`` are
  special; control characters are dropped.
- ``wiki_escape``: one line of Jira wiki markup (Data Center comments).
- ``web_url``: a URL checked once before it becomes a link in any of them.

And, before any of these, text made valid once where it enters (the JSON
decoders of snapshots and live Jira): ``valid_text`` / ``valid_json`` replace
lone surrogates (a legal JSON escape such as ``"\\ud800"`` that no UTF-8 output
can encode) and NUL (which PostgreSQL refuses) with U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

REPLACEMENT = "\ufffd"

# Bidi embeddings, overrides, isolates and marks: they let text display in another
# order than it is read. With them: C0 and C1 controls, DEL, the Unicode line and
# paragraph separators, and lone surrogates (which cannot even be encoded as UTF-8).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_OTHER = "\x7f-\x9f\u2028\u2029\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{_OTHER}{_BIDI}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHER}{_BIDI}]")
_UNSAFE_BUT_LAYOUT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER}{_BIDI}]")  # keeps tab and newline


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# A JSON escape that decodes to a lone surrogate (a high half not followed by a low
# one, or a low half not preceded by a high one) or to NUL: the only ways JSON text
# can carry a character that is not valid text. A pair (an emoji written by
# json.dumps) is not one. Searched in the raw text first, so the decoded value is
# walked only when one is there (rarely; an escaped backslash before "ud800" too).
_REPAIRABLE_ESCAPE = re.compile(r"\\u(?:[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                                r"|[dD][c-fC-F][0-9a-fA-F]{2}(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                                r"|0000)")
_INVALID = re.compile("[\x00\ud800-\udfff]")


def json_needs_repair(raw: str, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON text (or ``raw[start:end]``) has an escape that ``valid_json`` must repair."""
    return _REPAIRABLE_ESCAPE.search(raw, start, len(raw) if end is None else end) is not None


def valid_text(text: str) -> str:
    """``text`` with lone surrogates and NUL as U+FFFD (a surrogate pair written as two halves is joined)."""
    if not _INVALID.search(text):
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)


def valid_json(value: Any) -> Any:
    """A decoded JSON value with every string (keys too) made valid by ``valid_text``.

    Iterative, so a deeply nested value cannot exhaust Python's stack; containers
    are changed in place.
    """
    if isinstance(value, str):
        return valid_text(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if isinstance(item, str):
                    item = valid_text(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
                fixed = valid_text(key) if isinstance(key, str) else key
                if fixed is not key:
                    del node[key]
                node[fixed] = item
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = valid_text(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return value


def terminal_safe(text: Any, *, keep_newlines: bool = False) -> str:
    """Text fit for a terminal: every control or bidi character shown as U+FFFD.

    ``keep_newlines``: line breaks (``\\n``, ``\\r\\n``) stay line breaks, for
    callers that print several lines; a bare ``\\r`` is still replaced.
    """
    value = _text(text)
    if keep_newlines:
        return _UNSAFE_BUT_NEWLINE.sub(REPLACEMENT, value.replace("\r\n", "\n"))
    return _UNSAFE.sub(REPLACEMENT, value)


def terminal_safe_json(json_text: str) -> str:
    """JSON text with every control, bidi or surrogate character written as a ``\\uXXXX`` escape.

    The data stays exactly what it was (JSON readers decode the escapes); only
    the bytes that reach a terminal change. ``json.dumps`` already escapes the
    C0 controls inside strings, so the newlines left are its own indentation.
    """
    return _UNSAFE_BUT_NEWLINE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)


def strip_controls(text: Any) -> str:
    """Control and bidi characters removed; tabs and newlines kept (for markup that has its own escaping)."""
    return _UNSAFE_BUT_LAYOUT.sub("", _text(text))


# Backslash escapes valid in CommonMark and GitHub Markdown. ``&``, ``<`` and ``>``
# become entities instead: every renderer, old ones included, reads those as text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def markdown_escape(text: Any) -> str:
    """Jira text as one inert line of Markdown.

    Whitespace (newlines included) collapses to single spaces, control characters
    show as U+FFFD, HTML and entities are escaped, markup characters are
    backslash-escaped, and a zero-width space after every ``@`` keeps ``@here``
    from pinging anyone where the text is pasted.
    """
    flat = terminal_safe(" ".join(_text(text).split()))
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat).replace("@", "@\u200b")


def markdown_link(label: str, url: str | None) -> str:
    """``[label](<url>)`` when ``url`` passes ``web_url``, else ``label`` alone. ``label`` must be escaped already."""
    checked = web_url(url)
    return f"[{label}](<{checked}>)" if checked else label


def slack_escape(text: Any) -> str:
    """Untrusted text inert in Slack mrkdwn: ``&``, ``<``, ``>`` escaped, control characters dropped.

    Newlines and tabs are kept; with the escaping, ``<!channel>`` or
    ``<https://evil|click>`` show as typed and can never ping or disguise a link.
    """
    return strip_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack mrkdwn has no escape for its formatting characters: *bold*, ~strike~ and `code`
# apply wherever the characters sit at word edges. Their look-alikes read the same and
# format nothing. ``_`` is left alone: it formats only around whole words, and snake_case
# identifiers must stay copyable.
_SLACK_FORMATTING = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})


def slack_plain(text: Any) -> str:
    """Untrusted text shown as typed in Slack mrkdwn: ``slack_escape``, and no character of it
    turns bold, struck or code ("Remove ~tmp~ dirs" is not struck, "*Core*" not bold)."""
    return slack_escape(text).translate(_SLACK_FORMATTING)


# Always special in wiki markup; "-" and "?" only in "-strike-" and "??citation??" positions.
_WIKI_SPECIAL = re.compile(r"([\\*_+^~{}\[\]|!#])|(?<!\w)-|-(?!\w)|\?(?=\?)|(?<=\?)\?")


def wiki_escape(text: Any) -> str:
    """Jira wiki markup with no markup left in it: one line, control characters dropped, specials escaped."""
    flat = " ".join(strip_controls(text).split())
    return _WIKI_SPECIAL.sub(lambda match: "\\" + match.group(0), flat)


# Never in a link we make: quotes and angle brackets end attributes and autolinks, a
# backslash is read as a slash by browsers. Whitespace and controls are checked apart.
_URL_REFUSED = set("\"'<>`\\")
# Legal or tolerated in a URL, but markup in Markdown, Slack or wiki links: percent-encoded.
_URL_ENCODED = re.compile(r"[|()\[\]{}^]")


def web_url(url: Any) -> str | None:
    """``url`` if it is a plain http(s) address that is safe to link, else None.

    Refused: other schemes (``javascript:``, ``data:``...), no host, a user name
    or password before the host (a link that reads as one site and goes to
    another), whitespace, control or bidi characters, quotes, angle brackets,
    backslashes. Characters that are markup in a link (``| ( ) [ ] { } ^``)
    are percent-encoded after the host, so the result can go into a Markdown,
    Slack or wiki link as is (Slack still needs ``slack_escape`` for ``&``).
    """
    if not isinstance(url, str) or not url:
        return None
    if any(char in _URL_REFUSED or char.isspace() or not char.isprintable() for char in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if _URL_ENCODED.search(parts.netloc.replace("[", "").replace("]", "")):
        return None  # markup characters in the host: not a real site
    head = len(parts.scheme) + len("://") + len(parts.netloc)
    return url[:head] + _URL_ENCODED.sub(lambda match: f"%{ord(match.group()):02X}", url[head:])

"""Read a JSON snapshot saved from Jira's search APIs, one issue at a time.

Accepted shapes, exactly as Jira returns them:
- one response object: ``{"issues": [...], "names": {...}}`` (Cloud
  ``/rest/api/3/search/jql`` or Data Center ``/rest/api/2/search``);
- a list of such page objects, as saved by a script that pages through.

The file is streamed: the standard library's decoder builds one issue at a
time from a sliding window of text, and the normaliser keeps only what the
rules read. Memory holds the Issues, never the whole JSON tree, so a
200,000-issue snapshot scans in well under a gigabyte. Only the punctuation
between pages and between issues is handled here; every value is decoded by
``json``. An issue nested too deeply for the decoder (hostile ADF) costs that
one issue, skipped with a note, not the whole file.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from bot.config import Config
from bot.errors import SourceError
from bot.escape import json_needs_repair, valid_json
from bot.model import bulk
from bot.sources.extent import Extent
from bot.sources.normalize import Normalizer
from bot.workspace import Workspace

MAX_SNAPSHOT_BYTES = 2_000_000_000
CHUNK_CHARS = 1 << 22  # 4 Mi characters of text per read
# Read on before a value when less than this is left in the window: an issue cut off by the
# window's end fails to decode, and the decoder's error counts the lines of the whole window
# (milliseconds each, once per chunk) before the value is decoded again from its start.
REFILL_CHARS = 1 << 14
SHAPE_HINT = 'expected {"issues": [...]} or a list of such pages'
ISSUES_HINT = ('expected {"issues": [...], "names": {...}} as returned by '
               '/rest/api/3/search/jql or /rest/api/2/search')

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# Strings (complete, or a lone quote when cut off by the window's end) and
# structural characters: enough to step over a value the decoder cannot build.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]|"')


class _Truncated(Exception):
    """The value runs past the text read so far."""


class _Text:
    """A JSON file's text read in chunks, with the position of each decoded value."""

    def __init__(self, handle: BinaryIO, display: str):
        self.handle = handle
        self.display = display
        # utf-8-sig: editors on Windows write a byte-order mark. Bad bytes become
        # U+FFFD, as Jira text is never worth refusing a whole file over.
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0   # newlines in text already dropped from the window
        self.column_before = 0  # characters after the last dropped newline
        # Whether the window holds a JSON escape for a lone surrogate or NUL: only then is a
        # decoded value searched, and repaired, before anything else sees it.
        self.needs_repair = False

    # -- the window ------------------------------------------------------------------------------
    def fill(self, wanted: int = CHUNK_CHARS) -> bool:
        """Read about ``wanted`` more characters; False at the end of the file."""
        if self.eof:
            return False
        # The old window is let go of only once the new one is built: freed first, its
        # megabytes went back to the system and the next window's were faulted in afresh
        # (72,000 page faults instead of 25,000 at 50,000 issues; each chunk's read, decode
        # and join took three times as long).
        previous = self.buffer
        self._drop_consumed()
        raw = self.handle.read(max(wanted, 1 << 16))
        if raw:
            self.buffer += self.decoder.decode(raw)
        else:
            self.buffer += self.decoder.decode(b"", final=True)
            self.eof = True
        self.needs_repair = json_needs_repair(self.buffer, self.pos)
        del previous
        return True

    def _drop_consumed(self) -> None:
        if not self.pos:
            return
        # Counted in place: a copy of the dropped text would be megabytes made only to count it.
        newlines = self.buffer.count("\n", 0, self.pos)
        if newlines:
            self.lines_before += newlines
            self.column_before = self.pos - self.buffer.rfind("\n", 0, self.pos) - 1
        else:
            self.column_before += self.pos
        self.buffer = self.buffer[self.pos:]
        self.pos = 0

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file), not consumed."""
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.fill():
                return ""

    def take(self, expected: str, what: str) -> str:
        """Consume the next character, which must be one of ``expected``."""
        char = self.peek()
        if not char or char not in expected:
            raise self.invalid(f"Expecting {what}" if char else f"Expecting {what}, found the end of the file")
        self.pos += 1
        return char

    # -- values ----------------------------------------------------------------------------------
    def value(self) -> Any:
        """Decode the next JSON value. Raises RecursionError when it nests too deeply."""
        self.peek()
        if len(self.buffer) - self.pos < REFILL_CHARS and not self.eof:
            self.fill()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                if not self._maybe_truncated(error):
                    raise self.invalid(error.msg, error.pos) from None
                self.fill(max(CHUNK_CHARS, len(self.buffer) - self.pos))  # double the window
                continue
            if end >= len(self.buffer) and not self.eof and not isinstance(value, (dict, list, str)):
                # A number at the window's edge may go on in the next chunk.
                self.fill()
                continue
            if self.needs_repair and json_needs_repair(self.buffer, self.pos, end):
                value = valid_json(value)
            self.pos = end
            return value

    def _maybe_truncated(self, error: json.JSONDecodeError) -> bool:
        if self.eof:
            return False
        return error.pos >= len(self.buffer) - 64 or error.msg.startswith("Unterminated string")

    def skip(self) -> str | None:
        """Step over the next value without building it; returns its top-level ``key`` if seen."""
        self.peek()
        while True:
            try:
                return self._skip_in_window()
            except _Truncated:
                if not self.fill(max(CHUNK_CHARS, len(self.buffer) - self.pos)):
                    raise self.invalid("Unterminated value at the end of the file") from None

    def _skip_in_window(self) -> str | None:
        depth = 0
        key = None
        previous: list[str] = ["", ""]
        for match in _TOKENS.finditer(self.buffer, self.pos):
            token = match.group()
            if token == '"':
                raise _Truncated()
            if token in "[{":
                depth += 1
            elif token in "]}":
                depth -= 1
                if depth <= 0:
                    self.pos = match.end()
                    return key
            elif depth == 1 and key is None and token[0] == '"' and previous == ['"key"', ":"]:
                key = json.loads(token)
            previous = [previous[1], token]
            if depth == 0:  # a scalar: the decoder would not have failed on it
                self.pos = match.end()
                return None
        raise _Truncated()

    def invalid(self, message: str, pos: int | None = None) -> SourceError:
        """A SourceError naming line and column in the file."""
        pos = self.pos if pos is None else pos
        before = self.buffer[:pos]
        newlines = before.count("\n")
        line = self.lines_before + newlines + 1
        column = (pos - before.rfind("\n")) if newlines else self.column_before + pos + 1
        return SourceError(f"{self.display}:{line}:{column}: not valid JSON ({message})",
                           hint="a snapshot is the JSON body of a Jira search response")


# -- the structure of a snapshot ------------------------------------------------------------------

class Page:
    """A search-response page seen while streaming: everything but its issues."""

    def __init__(self, number: int):
        self.number = number
        self.meta: dict[str, Any] = {}
        self.has_issues = False


def stream(path: str | Path) -> Iterator[tuple[str, Any]]:
    """Events from a snapshot file, in file order:

    ``("issue", raw_dict_or_value)``, ``("unreadable", note)`` for an issue the
    decoder could not build, and ``("page", Page)`` after each page's closing
    brace (its ``names`` and ``schema`` are in ``Page.meta``).
    Raises SourceError when the file is not a snapshot.
    """
    display = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_SNAPSHOT_BYTES:
            raise SourceError(f"{display}: snapshot is {size:,} bytes; the limit is {MAX_SNAPSHOT_BYTES:,}")
        handle = open(path, "rb")
    except FileNotFoundError:
        raise SourceError(f"{display}: snapshot file not found") from None
    except IsADirectoryError:
        raise SourceError(f"{display}: is a directory, expected a JSON snapshot file") from None
    except PermissionError:
        raise SourceError(f"{display}: permission denied reading the snapshot") from None
    except OSError as error:
        raise SourceError(f"{display}: cannot read the snapshot ({error.strerror})") from None
    with handle:
        try:
            yield from _document(_Text(handle, display), display)
        except OSError as error:
            raise SourceError(f"{display}: cannot read the snapshot ({error.strerror})") from None


def _document(text: _Text, display: str) -> Iterator[tuple[str, Any]]:
    first = text.peek()
    if first == "[":
        text.take("[", "'['")
        number = 0
        if text.peek() == "]":
            text.take("]", "']'")
        else:
            while True:
                number += 1
                if text.peek() != "{":
                    _value_or_fail(text)
                    raise SourceError(f"{display}: not a Jira search response", hint=SHAPE_HINT)
                yield from _page(text, display, number, alone=False)
                if text.take(",]", "',' or ']'") == "]":
                    break
    elif first == "{":
        yield from _page(text, display, 1, alone=True)
    else:
        _value_or_fail(text)
        raise SourceError(f"{display}: not a Jira search response", hint=SHAPE_HINT)
    if text.peek():
        raise text.invalid("Extra data")


def _value_or_fail(text: _Text) -> Any:
    try:
        return text.value()
    except RecursionError:
        raise SourceError(f"{text.display}: JSON nested too deeply to read") from None


def _page(text: _Text, display: str, number: int, *, alone: bool) -> Iterator[tuple[str, Any]]:
    page = Page(number)
    text.take("{", "'{'")
    if text.peek() != "}":
        while True:
            if text.peek() != '"':
                raise text.invalid("Expecting property name enclosed in double quotes")
            key = text.value()
            text.take(":", "':' delimiter")
            if key == "issues" and text.peek() == "[" and not page.has_issues:
                page.has_issues = True
                yield from _issues(text, number)
            else:
                page.meta[key] = _value_or_fail(text)
            if text.take(",}", "',' or '}'") == "}":
                break
    else:
        text.take("}", "'}'")
    if not page.has_issues:
        raise _not_a_page(display, page.meta, number, alone=alone)
    yield "page", page


def _not_a_page(display: str, meta: dict, number: int, *, alone: bool) -> SourceError:
    """What a JSON object without an ``issues`` list is, said as precisely as its keys allow."""
    if "errorMessages" in meta or "errors" in meta:
        said = [str(text) for text in meta.get("errorMessages") or [] if text] if isinstance(
            meta.get("errorMessages"), list) else []
        errors = meta.get("errors")
        if isinstance(errors, dict):
            said += [f"{name}: {text}" for name, text in errors.items()]
        # Jira's words, on a terminal: one line, printable characters only.
        first = "".join(c for c in " ".join(said[0].split()) if c.isprintable())[:200] if said else "no message"
        return SourceError(f"{display}: a Jira error response, not search results: {first}",
                           hint="save the answer of a search that succeeded")
    if "key" in meta and "fields" in meta:
        what = "a single issue (as /rest/api/2/issue/KEY returns it)" if alone else "a list of issues"
        return SourceError(f"{display}: {what}, not a Jira search response",
                           hint='wrap the issues in a search response: {"issues": [...]}')
    where = "" if alone else f" (page {number})"
    return SourceError(f"{display}{where}: not a Jira search response: no \"issues\" list", hint=ISSUES_HINT)


def _issues(text: _Text, page_number: int) -> Iterator[tuple[str, Any]]:
    text.take("[", "'['")
    if text.peek() == "]":
        text.take("]", "']'")
        return
    position = 0
    while True:
        try:
            yield "issue", text.value()
        except (RecursionError, ValueError) as error:
            # Too deep for the decoder (hostile ADF), or a number too long to convert:
            # this issue is lost, the rest of the file is not. (The window still starts
            # at the issue: ``value`` moves on only after a success.)
            key = text.skip()
            where = key if isinstance(key, str) else f"item {position} of page {page_number}"
            why = ("nested too deeply to read (over ~1,000 levels)" if isinstance(error, RecursionError)
                   else f"holds a value that cannot be read ({str(error)[:80]})")
            yield "unreadable", f"{where}: {why}; skipped"
        position += 1
        if text.take(",]", "',' or ']'") == "]":
            return


# -- reading ----------------------------------------------------------------------------------------

def decode_page(content: bytes, display: str = "Jira's answer") -> tuple[dict, list[str]]:
    """One search response decoded like a snapshot page, for answers ``json`` cannot
    decode whole: issues that cannot be built are left out, with a note for each.
    Raises SourceError when the answer is not a search response at all."""
    page: dict = {}
    issues: list[Any] = []
    notes: list[str] = []
    for kind, value in _document(_Text(io.BytesIO(content), display), display):
        if kind == "issue":
            issues.append(value)
        elif kind == "unreadable":
            notes.append(value)
        elif not page:
            page = dict(value.meta)
    page["issues"] = issues
    return page, notes


def read_pages(path: str | Path) -> list[dict]:
    """The search-response pages in a snapshot file, whole; SourceError if it is not one.

    Holds everything in memory: for tests and small files. ``load_snapshot`` streams.
    """
    pages: list[dict] = []
    issues: list[Any] = []
    for kind, value in stream(path):
        if kind == "issue":
            issues.append(value)
        elif kind == "page":
            pages.append({**value.meta, "issues": issues})
            issues = []
    return pages


def pages_of(data: Any, display: str = "snapshot") -> list[dict]:
    """The pages of an already-decoded snapshot; SourceError if it is not one."""
    if isinstance(data, dict):
        pages = [data]
    elif isinstance(data, list) and all(isinstance(page, dict) for page in data):
        pages = data
    else:
        raise SourceError(f"{display}: not a Jira search response", hint=SHAPE_HINT)
    for index, page in enumerate(pages):
        if not isinstance(page.get("issues"), list):
            where = "" if len(pages) == 1 else f" (page {index + 1})"
            raise SourceError(f"{display}{where}: not a Jira search response: no \"issues\" list", hint=ISSUES_HINT)
    return pages


def load_snapshot(path: str | Path, config: Config, ruleset=None, *, fields: Iterable[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> Workspace:
    """The workspace in a snapshot file.

    With a ``ruleset`` (or explicit ``fields``), each Issue keeps only the fields
    the rules and the configured logical fields read; without, every field.
    """
    wanted = fields if fields is not None else (snapshot_fields(ruleset, config) if ruleset is not None else None)
    normalizer = Normalizer(config, wanted=wanted)
    position = unkeyed = 0
    keys: set = set()
    extent = Extent()
    with bulk():
        for kind, value in stream(path):
            if kind == "issue":
                normalizer.add(value, position)
                position += 1
                key = value.get("key") if isinstance(value, dict) else None
                if isinstance(key, str):
                    keys.add(key)
                else:
                    unkeyed += 1
                if progress is not None and position % 10_000 == 0:
                    progress(f"read {position:,} issues from {path}")
            elif kind == "page":
                # Names usually follow the issues on a page; issues read before their
                # fields were named are settled in ``finish``.
                normalizer.learn_fields(value.meta.get("names"), value.meta.get("schema"))
                extent.add(value.meta, keys, unkeyed)
                keys, unkeyed = set(), 0
            else:
                unkeyed += 1
                normalizer.skip(value)  # counted in workspace.skipped
        workspace = normalizer.finish()
    workspace.source = f"snapshot:{path}"
    extent.mark(workspace, normalizer)
    return workspace


def snapshot_fields(ruleset, config: Config) -> set[str]:
    """What an Issue read from a snapshot keeps: the rules' fields, every configured
    logical field and synonym (the digest reads those), and the owner fields."""
    names = set(ruleset.fields_needed(config))
    # What every rule's scope reads: the active-work window and abandoned resolutions (bot.lifecycle).
    names.update(("resolution", "resolutiondate", "statuscategorychangedate", "updated"))
    for logical, synonyms in config.section("fields").items():
        names.update([logical, *(synonyms or [])])
    for owner in config.section("owners"):
        names.update(config.synonyms(owner))
    return names

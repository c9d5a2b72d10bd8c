"""Regular expressions from rule files, matched in linear time (RE2).

Python's ``re`` backtracks: ``(a+)+$`` on a 41-character description, or
``.*x.*y`` on a megabyte, runs for minutes, and any Jira user could type that
text. RE2 (``google-re2``) never backtracks: a search costs time proportional
to the text, times a factor that grows with the pattern, which is why patterns
are also bounded in size. The price is a few constructs RE2 refuses: back-
references, lookahead and lookbehind, possessive quantifiers and atomic groups,
and repetition counts over 1,000. Each gets one clear validation error.

Differences a rule author may meet: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` match
ASCII only (use ``\\p{L}`` or ``\\p{Nd}`` for other scripts), and ``\\Z`` is
accepted as Python spells it (RE2 writes it ``\\z``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import re2

from bot.escape import valid_text

MAX_PATTERN_CHARS = 1000
# RE2's compiled size (a Unicode class like \p{L} is about 1,200). Matching slows
# with it when a text defeats RE2's DFA cache: measured at worst about 4 s per
# million characters at this size, 0.15 s for Jira's 32,767-character fields.
MAX_PROGRAM_SIZE = 2000

_OPTIONS_CACHE: dict[bool, "re2.Options"] = {}

# RE2's error text for what it refuses on purpose -> what to tell the rule author.
_REFUSED = (
    (re.compile(r"invalid escape sequence: \\[1-9]"),
     "backreferences (\\1, (?P=name)) are not supported"),
    (re.compile(r"invalid perl operator: \(\?<?[=!]"), "lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported"),
    (re.compile(r"invalid perl operator: \(\?>|bad repetition operator: (\*|\+|\?|\{[^}]*\})\+"),
     "possessive quantifiers and atomic groups are not supported (nor needed: RE2 never backtracks)"),
    (re.compile(r"invalid repetition size|bad repetition operator: \{"),
     "repetition counts over 1,000 (including nested ones, like (a{100}){100}) are not supported"),
    (re.compile(r"invalid named capture group|invalid perl operator: \(\?[a-zA-Z]*x"),
     "this group syntax is not supported (RE2 takes the flags i, m, s and U, and named groups as (?P<name>...))"),
)
HINT = ("govbot matches patterns with RE2, in linear time, so no text can stall a scan; "
        "see https://github.com/google/re2/wiki/Syntax")


class PatternError(ValueError):
    """A pattern govbot will not run: invalid, refused by RE2, or too large."""

    def __init__(self, message: str, hint: str = HINT):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Pattern:
    """A compiled user pattern."""

    source: str
    compiled: "re2._Regexp"

    def search(self, text: str) -> str | None:
        """The first match in ``text`` (its matched text), or None."""
        try:
            found = self.compiled.search(text)
        except UnicodeEncodeError:  # a lone surrogate that did not come through a source's repair
            found = self.compiled.search(valid_text(text))
        return found.group(0) if found is not None else None


def compile(pattern: str, *, case_sensitive: bool = False) -> Pattern:  # noqa: A001 - like re.compile
    """Compile a rule's pattern for RE2; PatternError says why one cannot run."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the pattern is {len(pattern):,} characters; the limit is {MAX_PATTERN_CHARS:,}",
                           hint="match a shorter, more specific phrase")
    translated = _python_spellings(pattern)
    try:
        compiled = re2.compile(translated, _options(case_sensitive))
    except re2.error as error:
        raise _explain(pattern, _message(error)) from None
    size = _program_size(compiled)
    if size is not None and size > MAX_PROGRAM_SIZE:
        raise PatternError(f"the pattern is too complex for linear-time matching (size {size:,}, "
                           f"limit {MAX_PROGRAM_SIZE:,})",
                           hint="use smaller repetition counts ({3,20} rather than {3,2000}) and fewer alternatives")
    return Pattern(pattern, compiled)


def _options(case_sensitive: bool):
    options = _OPTIONS_CACHE.get(case_sensitive)
    if options is None:
        options = re2.Options()
        options.log_errors = False  # errors are reported as rule diagnostics, not on stderr
        options.case_sensitive = case_sensitive
        _OPTIONS_CACHE[case_sensitive] = options
    return options


def _python_spellings(pattern: str) -> str:
    r"""``\Z`` (end of text in Python) as RE2 spells it, ``\z``; every other escape untouched."""
    if "\\Z" not in pattern:
        return pattern
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            out.append("\\z" if escaped == "Z" else char + escaped)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _message(error: Exception) -> str:
    detail = error.args[0] if error.args else str(error)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail)


def _explain(pattern: str, detail: str) -> PatternError:
    """An invalid pattern in Python's words (familiar, with a position); a refused one, why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarning for "[[" and the like
        try:
            re.compile(pattern)
        except re.error as error:
            return PatternError(f"invalid regular expression: {error}",
                                hint="check the escaping: in YAML, quote the pattern with single quotes so "
                                     "backslashes stay as written")
        except (RecursionError, OverflowError, MemoryError):
            return PatternError(f"invalid regular expression: {detail}")
    if "(?P=" in pattern and "(?P" in detail:  # RE2 names only "(?P" for "(?P=name)"
        detail = detail.replace("(?P", "(?P=")
        return PatternError(f"{_REFUSED[0][1]} ({detail})")
    for test, reason in _REFUSED:
        if test.search(detail):
            return PatternError(f"{reason} ({detail})")
    if "pattern too large" in detail:
        return PatternError(f"the pattern is too complex for linear-time matching ({detail})",
                            hint="use smaller repetition counts and fewer alternatives")
    return PatternError(f"not supported by the linear-time regex engine: {detail}")


def _program_size(compiled) -> int | None:
    inner = getattr(compiled, "_regexp", None)
    size = getattr(inner, "ProgramSize", None)
    return size() if callable(size) else None

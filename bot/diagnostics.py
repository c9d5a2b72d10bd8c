"""Compiler-style error messages: ``path:line:col``, the offending line, a marker, a hint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.escape import terminal_safe


@dataclass
class Diagnostic:
    path: str
    line: int  # 1-based; 0 when the problem is the whole file
    col: int
    message: str
    hint: str | None = None
    source: str | None = None
    span: int | None = None

    def render(self) -> str:
        snippet = self._snippet() if self.line > 0 else ""
        if self.line <= 0:
            out = f"{self.path}: error: {self.message}"
            return out + (f"\n  help: {self.hint}" if self.hint else "")
        out = [f"{self.path}:{self.line}:{self.col}: error: {self.message}"]
        if snippet:
            out.append(snippet)
        if self.hint:
            out.append(f"  help: {self.hint}")
        return "\n".join(out)

    def _snippet(self) -> str:
        if not self.source:
            return ""
        lines = self.source.splitlines()
        if self.line > len(lines) and lines:
            # The parser reports end-of-file problems one line past the end.
            self.line, self.col = len(lines), len(lines[-1]) + 1
        if not 1 <= self.line <= len(lines):
            return ""
        # A rule file is user-written but may hold pasted control characters:
        # never let them reach the terminal.
        text = terminal_safe(lines[self.line - 1].replace("\t", " "))
        if len(text) > 200:
            text = text[:200] + "..."
        gutter = str(self.line)
        pad = " " * len(gutter)
        col = max(1, min(self.col, len(text) + 1))
        span = self.span or _token_length(text, col - 1)
        return f"{pad} |\n{gutter} | {text}\n{pad} | {' ' * (col - 1)}{'^' * max(1, span)}"


_TOKEN = re.compile(r"[^\s:,\]\}]+")


def _token_length(text: str, start: int) -> int:
    match = _TOKEN.match(text, start)
    return len(match.group(0)) if match else 1

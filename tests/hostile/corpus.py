"""Hostile Jira text and the snapshots that carry it."""

from __future__ import annotations

import json
from pathlib import Path

# Everything someone could type into a Jira summary, type name, label or name to
# turn a report against its readers.
MENTIONS = ["<!channel>", "<!here|here>", "<!everyone>", "<@U0ADMIN>", "@here", "@channel", "@everyone"]
LINKS = ["<https://evil.example/login|click here to keep your account>", "[click](https://evil.example/login)",
         "![pixel](https://evil.example/track.png)", "<script>alert(1)</script>", "javascript:alert(1)"]
TERMINAL = ["\x1b[2J\x1b[31mRED\x1b[0m", "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", "\x07bell", "\r"]
BIDI = ["\u202egnp.exe", "\u2066isolate\u2069", "zero\u200bwidth", "\u200f"]
MARKUP = ["| forged | table | row |", "# heading", "*bold* _em_ `code`", "\n\nnew paragraph", "&amp;"]
PAYLOAD = " ".join(MENTIONS + LINKS + TERMINAL + BIDI + MARKUP)

CONTROL = {chr(c) for c in range(0x20) if chr(c) not in "\n"} | {"\x7f"}
BIDI_CONTROLS = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
                 "\u200e", "\u200f", "\u061c"}


def adf(*paragraphs: str, heading: str | None = None) -> dict:
    content = []
    if heading:
        content.append({"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": heading}]})
    content += [{"type": "paragraph", "content": [{"type": "text", "text": text}]} for text in paragraphs]
    return {"type": "doc", "version": 1, "content": content}


def issue(key: str, type_name: str = "Epic", *, summary: str = "An epic", description=None, labels=(),
          level: int | None = None, status: str = "In Progress", category: str = "indeterminate",
          self_url: str | None = None, **fields) -> dict:
    levels = {"Epic": 1, "Initiative": 2, "Story": 0, "Task": 0, "Sub-task": -1}
    issuetype = {"name": type_name, "hierarchyLevel": levels.get(type_name, 0) if level is None else level}
    return {"id": str(10000 + int(key.rsplit("-", 1)[1])), "key": key,
            "self": self_url or f"https://example.atlassian.net/rest/api/3/issue/{key}",
            "fields": {"summary": summary, "issuetype": issuetype, "project": {"key": key.rsplit("-", 1)[0]},
                       "status": {"name": status, "statusCategory": {"key": category}}, "labels": list(labels),
                       "description": description, "created": "2026-01-05T10:00:00.000+0000",
                       "updated": "2026-01-06T10:00:00.000+0000", **fields}}


def write_snapshot(path: Path, issues: list[dict], names: dict | None = None) -> Path:
    path.write_text(json.dumps([{"issues": issues, "names": names or {}}], ensure_ascii=False), encoding="utf-8")
    return path

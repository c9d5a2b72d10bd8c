"""Small helpers for English prose in messages, digests and reports."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """'1 loop', '2 loops'; ``many`` for irregular plurals."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"

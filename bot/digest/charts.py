"""Geometry for the dashboard's inline SVG charts, computed on the server.

Functions here return plain numbers and labels; the Jinja templates draw them,
so every piece of text in a chart passes through autoescape like the rest of
the page. Nothing is fetched or scripted: the page stays self-contained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.digest.figures import Flow, RuleLine, TrendPoint
from bot.hierarchy import FLOW_ITEMS


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    grid: list[tuple[float, str]]             # (y, label)
    lines: list[str]                          # SVG path data, one per unbroken run of weeks
    points: list[tuple[float, float, str, bool]]  # (x, y, tooltip, is_this_week)
    ticks: list[tuple[float, str]]            # (x, week label)
    latest: tuple[float, float, str] | None   # where to print this week's value


def trend_chart(points: list[TrendPoint], *, width: int = 480, height: int = 200) -> TrendChart:
    """An FFR line over weeks on a fixed 0-100% scale; weeks without a value break the line."""
    left, right, top, bottom = 48, 448, 14, 166
    count = len(points)
    step = (right - left) / (count - 1) if count > 1 else 0

    def x_of(index: int) -> float:
        return round(left + index * step if count > 1 else (left + right) / 2, 1)

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * max(0.0, min(100.0, value)) / 100, 1)

    lines, run, marks, ticks = [], [], [], []
    label_every = max(1, (count + 4) // 5)  # at most five week labels: readable on a phone
    for index, point in enumerate(points):
        x = x_of(index)
        if (count - 1 - index) % label_every == 0:
            ticks.append((x, _short_date(point.week_start)))
        if point.ffr is None:
            if len(run) > 1:
                lines.append(_path(run))
            run = []
            continue
        y = y_of(point.ffr)
        run.append((x, y))
        marks.append((x, y, f"Week of {point.week_start.isoformat()}: {point.ffr:g}%", index == count - 1))
    if len(run) > 1:
        lines.append(_path(run))
    last = points[-1] if points else None
    latest = (x_of(count - 1), y_of(last.ffr), f"{last.ffr:g}%") if last and last.ffr is not None else None
    grid = [(y_of(value), f"{value}%") for value in (0, 25, 50, 75, 100)]
    return TrendChart(width, height, left, right, top, bottom, grid, lines, marks, ticks, latest)


def _path(run: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:g},{y:g}" for i, (x, y) in enumerate(run))


def _short_date(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


@dataclass(frozen=True)
class Segment:
    kind: str
    x: float
    width: float
    count: int
    share: float | None


def flow_segments(flow: Flow) -> list[Segment]:
    """The flow distribution as one bar 100 units wide, a segment per kind (empty kinds kept)."""
    segments, x = [], 0.0
    for kind in FLOW_ITEMS:
        count = flow.counts.get(kind, 0)
        width = round(100 * count / flow.total, 2) if flow.total else 0.0
        segments.append(Segment(kind, round(x, 2), width, count, flow.share(kind)))
        x += width
    return segments


@dataclass(frozen=True)
class RuleBar:
    line: RuleLine
    open_width: float    # 0-100 units
    waived_width: float


def rule_bars(rules: list[RuleLine]) -> list[RuleBar]:
    """Open and waived findings per rule, on one scale shared by every row."""
    largest = max((line.open + line.waived for line in rules), default=0) or 1
    return [RuleBar(line, round(100 * line.open / largest, 2), round(100 * line.waived / largest, 2))
            for line in rules]

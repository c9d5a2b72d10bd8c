"""Geometry for the dashboard's inline SVG charts, computed on the server.

Functions here return plain numbers and labels; the Jinja templates draw them,
so every piece of text in a chart passes through autoescape like the rest of
the page. Nothing is fetched or scripted: the page stays self-contained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.dates import short_date
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
    low: float = 0.0                          # the axis' range, in percent
    high: float = 100.0
    gaps: list[tuple[float, str]] = ()        # (x, label) of weeks with no digest

    @property
    def scale(self) -> str:
        """The axis' range in words, so a fitted axis is never read as 0-100%."""
        return f"axis from {self.low:g}% to {self.high:g}%"


_STEPS = (1, 2, 2.5, 5, 10, 20, 25)


def fitted_axis(values: list[float]) -> tuple[float, float, float]:
    """(low, high, step): a range on round numbers, centred on the values with a margin, at most
    six steps tall, within 0-100%. A small change (18.5% -> 16.9%) fills a good part of the
    chart instead of lying flat at the bottom of a 0-100% scale."""
    if not values:
        return 0.0, 100.0, 25.0
    lo, hi = min(values), max(values)
    span = max(hi - lo, 4.0)  # a flat line still gets an axis a few points tall
    middle = (lo + hi) / 2
    bottom, top = middle - 0.6 * span, middle + 0.6 * span
    step = next((s for s in _STEPS if (top - bottom) / s <= 5), 25.0)
    low = max(0.0, step * math.floor(bottom / step))
    high = min(100.0, step * math.ceil(top / step))
    return float(low), float(high), float(step)


def trend_chart(points: list[TrendPoint], *, width: int = 480, height: int = 200) -> TrendChart:
    """The FFR over weeks: one slot per calendar week, so a week with no digest is a visible gap
    in the line; the y axis is fitted to the values and says its range."""
    left, right, top, bottom = 48, 448, 14, 166
    count = len(points)
    step = (right - left) / (count - 1) if count > 1 else 0
    low, high, tick = fitted_axis([p.ffr for p in points if p.ffr is not None])

    def x_of(index: int) -> float:
        return round(left + index * step if count > 1 else (left + right) / 2, 1)

    def y_of(value: float) -> float:
        share = (max(low, min(high, value)) - low) / (high - low)
        return round(bottom - (bottom - top) * share, 1)

    lines, run, marks, ticks, gaps = [], [], [], [], []
    label_every = max(1, (count + 4) // 5)  # at most five week labels: readable on a phone
    for index, point in enumerate(points):
        x = x_of(index)
        if (count - 1 - index) % label_every == 0:
            ticks.append((x, short_date(point.week_start)))
        if point.ffr is None:
            if not point.recorded:
                gaps.append((x, f"Week of {point.week_start.isoformat()}: no digest"))
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
    grid, value = [], low
    while value <= high + 1e-9:
        grid.append((y_of(value), f"{value:g}%"))
        value += tick
    return TrendChart(width, height, left, right, top, bottom, grid, lines, marks, ticks, latest, low, high, gaps)


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    lines: list[str]
    last: tuple[float, float] | None


def sparkline(points: list[TrendPoint], *, width: int = 96, height: int = 24) -> Sparkline | None:
    """A team's FFR by week for the overview's grid, on the team's own fitted axis; None with
    fewer than two weeks that have a ratio (nothing to draw a line between)."""
    values = [p.ffr for p in points if p.ffr is not None]
    if len(values) < 2:
        return None
    low, high, _ = fitted_axis(values)
    count = len(points)
    pad = 3

    def xy(index: int, value: float) -> tuple[float, float]:
        x = pad + index * (width - 2 * pad) / (count - 1)
        y = height - pad - (height - 2 * pad) * (value - low) / (high - low)
        return round(x, 1), round(y, 1)

    lines, run, last = [], [], None
    for index, point in enumerate(points):
        if point.ffr is None:
            if len(run) > 1:
                lines.append(_path(run))
            run = []
            continue
        last = xy(index, point.ffr)
        run.append(last)
    if len(run) > 1:
        lines.append(_path(run))
    return Sparkline(width, height, lines, last if points[-1].ffr is not None else None)


def _path(run: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:g},{y:g}" for i, (x, y) in enumerate(run))


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
class FlowWeek:
    label: str
    recorded: bool
    total: int
    segments: list[Segment]  # empty when the week stored no flow figures


def flow_weeks(points: list[TrendPoint], window_days: int) -> list[FlowWeek]:
    """The flow distribution week by week (each week's bar is 100% of what it delivered in its
    window), oldest first; a week with no digest, or none stored, keeps its row, empty."""
    out = []
    for point in points:
        if point.flow is None:
            out.append(FlowWeek(short_date(point.week_start), point.recorded, 0, []))
            continue
        flow = Flow({kind: int(point.flow.get(kind, 0)) for kind in FLOW_ITEMS}, window_days)
        out.append(FlowWeek(short_date(point.week_start), True, flow.total, flow_segments(flow)))
    return out


@dataclass(frozen=True)
class RuleBar:
    line: RuleLine
    open_width: float    # 0-100 units
    waived_width: float


def bar_scale(rules: list[RuleLine]) -> int:
    """The findings a full-width bar stands for: the most any rule has (open and waived)."""
    return max((line.open + line.waived for line in rules), default=0) or 1


def rule_bars(rules: list[RuleLine]) -> list[RuleBar]:
    """Open and waived findings per rule, on one scale shared by every row."""
    largest = bar_scale(rules)
    return [RuleBar(line, round(100 * line.open / largest, 2), round(100 * line.waived / largest, 2))
            for line in rules]

"""Trends honest in time: one slot per calendar week, gaps where no digest was stored,
an axis fitted to the values with its range said, a sparkline and delta per team, data tables."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.config import load_config
from bot.digest import charts, render
from bot.digest.figures import TrendPoint, build_digests

from .conftest import NOW, MemoryHistory, at


@pytest.fixture
def gappy(scan_site, site):
    """Digests stored for 2 Mar, 9 Mar and 23 Mar (16 Mar skipped); this week is 30 Mar."""
    history = MemoryHistory()
    for week, payments, overall in (("2026-03-02", 42.9, 55.6), ("2026-03-09", 28.6, 33.3),
                                    ("2026-03-23", 28.6, 33.3)):
        history.record_digest("payments", date.fromisoformat(week), {"ffr": payments})
        history.record_digest("*", date.fromisoformat(week), {"ffr": overall})
    return build_digests(scan_site(), load_config(site["config"]), at(NOW), history=history)


def test_json_trend_keeps_the_skipped_week_as_a_gap(gappy):
    trend = gappy.organisation.to_json()["ffr_trend"]
    assert [(p["week_start"], p["ffr"], p["recorded"]) for p in trend] == [
        ("2026-03-02", 55.6, True), ("2026-03-09", 33.3, True), ("2026-03-16", None, False),
        ("2026-03-23", 33.3, True), ("2026-03-30", 22.2, True)]
    payments = next(t for t in gappy.organisation.to_json()["teams"] if t["team"] == "payments")
    assert [p["recorded"] for p in payments["trend"]] == [True, True, False, True, True]


def test_html_trend_draws_the_gap_on_a_time_axis(gappy):
    html = render.render_html(gappy, gappy.organisation)
    chart = charts.trend_chart(gappy.organisation.trend_with_now)
    xs = [x for x, _y, _tip, _now in chart.points]
    step = (chart.right - chart.left) / 4
    assert xs == [round(chart.left + i * step, 1) for i in (0, 1, 3, 4)]  # no point for 16 Mar...
    assert len(chart.lines) == 2  # ...and the line breaks there
    assert '<line class="gap"' in html and "Week of 2026-03-16: no digest" in html
    assert "dashed lines mark weeks with no digest" in html
    assert re.search(r"<td>16 Mar 2026</td><td class=\"num\">no digest that week</td>", html)
    assert "16 Mar no digest" in render.render_markdown(gappy)


def test_the_axis_fits_the_values_and_says_so():
    assert charts.fitted_axis([18.5, 16.9]) == (15.0, 21.0, 1.0)
    assert charts.fitted_axis([0.0, 100.0]) == (0.0, 100.0, 25.0)
    assert charts.fitted_axis([11.5]) == (9.0, 14.0, 1.0)  # a flat line sits mid-chart
    assert charts.fitted_axis([55.6, 33.3, 22.2]) == (10.0, 60.0, 10.0)
    low, high, _ = charts.fitted_axis([100.0])
    assert low < 100 == high
    chart = charts.trend_chart([TrendPoint(date(2026, 3, 23), 18.5), TrendPoint(date(2026, 3, 30), 16.9)])
    assert chart.scale == "axis from 15% to 21%"
    # 18.5 -> 16.9 spans most of the chart's height instead of 1.6% of it.
    (_, y1, _, _), (_, y2, _, _) = chart.points
    assert (y2 - y1) / (chart.bottom - chart.top) >= 0.25
    assert [label for _y, label in chart.grid] == ["15%", "16%", "17%", "18%", "19%", "20%", "21%"]


def test_overview_shows_each_teams_sparkline_and_delta(gappy):
    index = render.render_html(gappy, gappy.organisation)
    payments = index[index.index('href="team-payments.html"'):]
    payments = payments[:payments.index("</dl>")]
    assert '<svg class="spark"' in payments and "▼ down 14.3 pts" in payments
    assert "Data table: Feature Factory Ratio by team and week" in index
    mobile = index[index.index('href="team-mobile.html"'):]
    assert '<svg class="spark"' not in mobile[:mobile.index("</dl>")]  # no ratio to draw


def test_every_chart_has_a_data_table(digests):
    html = render.render_html(digests, next(d for d in digests.teams if d.team == "payments"))
    # The FFR trend, the flow distribution and the flow by week; the rule bars sit in their own table.
    assert html.count('<details class="data">') == 3
    assert "<td>Features</td><td class=\"num\">2</td><td class=\"num\">50%</td>" in html


def test_flow_trend_by_week_with_its_gap(scan_site, site):
    history = MemoryHistory()
    history.record_digest("payments", date(2026, 3, 9), {"ffr": 28.6, "flow": {"feature": 3, "defect": 1}})
    history.record_digest("payments", date(2026, 3, 23), {"ffr": 28.6})  # stored before flow was kept
    digests = build_digests(scan_site(), load_config(site["config"]), at(NOW), history=history)
    payments = next(d for d in digests.teams if d.team == "payments")
    trend = payments.to_json()["flow_trend"]
    assert [(p["week_start"], p["recorded"], p["delivered"]) for p in trend] == [
        ("2026-03-09", True, {"feature": 3, "defect": 1}), ("2026-03-16", False, None), ("2026-03-23", True, None),
        ("2026-03-30", True, {"feature": 2, "defect": 1, "risk": 0, "debt": 1})]
    weeks = charts.flow_weeks(payments.trend_with_now, 90)
    assert [w.total for w in weeks] == [4, 0, 0, 4]
    assert [(s.kind, s.width) for s in weeks[0].segments if s.width] == [("feature", 75.0), ("defect", 25.0)]
    html = render.render_html(digests, payments)
    assert 'aria-label="Week of 9 Mar: Features 3, Defects 1, Risks 0, Debt 0"' in html
    assert "no digest that week" in html and "not stored that week" in html

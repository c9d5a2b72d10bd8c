"""Realization, flow load and flow time against values worked out by hand from the fixtures."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bot.config import load_config
from bot.digest import render
from bot.digest.figures import build_digests
from bot.digest.realization import percentile, verdict_as_written

from .conftest import ISSUES, NOW, OUTCOME, at, snapshot_data

LOOP_RULE = "closing-the-loop-actual-outcome-missing"
EXTRA = [
    ("PAY-20", "Epic", "done", "Faster refunds", f"{OUTCOME}\nActual Outcome: Target met: 16% more checkouts",
     "2026-02-01", None, [], None),
    ("PAY-21", "Epic", "done", "Wallets", f"{OUTCOME}\nActual Outcome: Missed, conversion stayed flat",
     "2026-01-15", None, [], None),
    ("PAY-22", "Epic", "done", "Coupons", OUTCOME, "2026-03-20", None, [], None),  # 11 days ago: in grace
    ("PAY-23", "Epic", "done", "Gift cards", "Actual Outcome: revenue up 2%", "2026-01-10", None, [], None),
    ("PAY-24", "Bug", "indeterminate", "Crash on pay", "", None, "PAY-2", [], None),
    ("PAY-25", "Risk", "new", "Vendor lock-in", "", None, "PAY-2", [], None),
]


def utc(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00").astimezone(timezone.utc)


@pytest.fixture
def figures(site):
    from bot.runs.inputs import load_inputs
    from bot.runs.scan import run_scan

    site["snapshot"].write_text(json.dumps(snapshot_data(ISSUES + EXTRA)), encoding="utf-8")
    inputs = load_inputs(str(site["config"]), snapshot=str(site["snapshot"]))
    batch = run_scan(inputs, at(NOW), snapshot=str(site["snapshot"]))
    # The store saw the loops of PAY-20 and PAY-21 close (their findings resolved) on these days.
    lifecycle = [SimpleNamespace(rule=LOOP_RULE, issue="PAY-20", resolved_at=utc("2026-03-20")),
                 SimpleNamespace(rule=LOOP_RULE, issue="PAY-21", resolved_at=utc("2026-03-01")),
                 SimpleNamespace(rule="other-rule", issue="PAY-23", resolved_at=utc("2026-03-02"))]
    digests = build_digests(batch, load_config(site["config"]), at(NOW), lifecycle=lifecycle)
    return {d.team: d for d in digests}


def test_loop_closure_days_and_verdicts_by_hand(figures):
    payments = figures["payments"].realization
    # Delivered in the rule's scope: PAY-5, PAY-6, PAY-20, PAY-21, PAY-22, PAY-23.
    assert payments.delivered == 6
    # Actual outcome recorded: PAY-20, PAY-21, PAY-23 -> 3 of 6.
    assert payments.closed == 3 and payments.closure_rate == 50.0
    assert payments.waiting == 1  # PAY-22, delivered 11 days ago, inside the 30-day grace period
    # 1 Feb -> 20 Mar = 47 days; 15 Jan -> 1 Mar = 45 days; median 46. PAY-23 closed unseen.
    assert sorted(payments.days_to_outcome) == [45, 47] and payments.median_days == 46.0
    assert payments.closed_unmeasured == 1
    # PAY-20 says "met", PAY-21 "Missed"; PAY-23 states no anticipated outcome, so it is not judged.
    assert (payments.met, payments.missed, payments.unclear) == (1, 1, 0)
    platform = figures["platform"].realization
    # PLAT-1: "builds under 10 minutes" -> "8 minutes": closed, but the words say neither met nor missed.
    assert (platform.delivered, platform.closed, platform.unclear, platform.median_days) == (1, 1, 1, None)
    organisation = figures["*"].realization
    assert (organisation.delivered, organisation.closed) == (7, 4)


def test_flow_load_and_flow_time_by_hand(figures):
    payments = figures["payments"]
    # Open flow items: PAY-14 (story), PAY-24 (bug), PAY-25 (risk).
    assert payments.flow_load == {"feature": 1, "defect": 1, "risk": 1, "debt": 0}
    # Created 1 Sep 2025 09:00, resolved at 12:00 in the last 90 days: PAY-12 (15 Feb) 167.1 days,
    # PAY-10 (1 Mar) 181.1, PAY-13 (10 Mar) 190.1, PAY-11 (20 Mar) 200.1. PAY-15 (Oct) is outside.
    assert sorted(payments.flow_time.days) == [167.1, 181.1, 190.1, 200.1]
    assert payments.flow_time.median == 185.6  # (181.1 + 190.1) / 2
    assert payments.flow_time.p85 == 200.1     # nearest rank: ceil(0.85 x 4) = the 4th
    assert figures["platform"].flow_time.days == [185.1]  # PLAT-3 (5 Mar); the unmapped chore is no flow item


def test_the_page_shows_each_figure_with_its_definition_and_no_person(figures):
    html = render.render_site(_digests(figures))
    team = html["team-payments.html"]
    section = team[team.index('id="realization"'):team.index('id="findings"')]
    assert "<b>50%</b> · 3 of 6 delivered epics and initiatives (1 still inside the 30-day grace period)" in section
    assert "<b>46 days</b> median · over 2 loops · 1 closed before govbot measured them" in section
    assert "<b>1</b> met · <b>1</b> missed · <b>0</b> unclear" in section
    assert "<b>185.6 days</b> median · <b>200.1 days</b> 85th percentile · 4 items" in section
    assert section.count('<p class="def">') == 5
    for name in ("Ana Lima", "Bo Chen"):
        assert name not in section
    data = figures["payments"].to_json()
    assert data["realization"]["loop_closure_rate"] == 50.0 and data["flow_time"]["p85_days"] == 200.1
    assert data["flow_load"] == {"feature": 1, "defect": 1, "risk": 1, "debt": 0}


def _digests(figures):
    from bot.digest.figures import Digests

    teams = [figures[t] for t in ("mobile", "payments", "platform")]
    return Digests(teams[0].week_start, teams[0].now, teams, figures["*"])


@pytest.mark.parametrize("text, verdict", [
    ("Target met: 16% more checkouts", "met"), ("Achieved 12% retention", "met"), ("exceeded the goal", "met"),
    ("Target not met (8%)", "missed"), ("We missed it", "missed"), ("fell short of 25%", "missed"),
    ("8 minutes", "unclear"), ("met in Q2, missed in Q3", "unclear"), ("Metrics pending", "unclear"),
    ("we were hit by outages", "unclear"),
])
def test_verdicts_come_only_from_the_teams_words(text, verdict):
    assert verdict_as_written(text) == verdict


def test_percentile_is_nearest_rank():
    assert percentile([], 85) is None
    assert percentile([5.0], 85) == 5.0
    assert percentile(list(map(float, range(1, 21))), 85) == 17.0  # ceil(0.85 x 20) = 17th

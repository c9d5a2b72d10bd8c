"""Digest figures: they agree with the scan, build trends from history, and never count people."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from bot.config import load_config
from bot.digest.figures import ORGANISATION, build_digests, week_changes, week_start_of

from .conftest import NOW, MemoryHistory, at


def by_team(digests):
    return {digest.team: digest for digest in digests}


def test_ffr_agrees_with_the_scan_summary(scan_site, site):
    result = scan_site()
    summary = result.summary()["feature_factory_ratio"]
    digests = build_digests(result, load_config(site["config"]), at(NOW))
    teams = by_team(digests)
    assert digests.organisation.ffr == summary["overall"] == 22.2
    assert (digests.organisation.ffr_missing, digests.organisation.ffr_scope) == (2, 9)
    for team, value in summary["by_team"].items():
        assert teams[team].ffr == value
        counts = summary["counts"]["by_team"][team]
        assert (teams[team].ffr_missing, teams[team].ffr_scope) == (counts["without_outcome"], counts["total"])
    assert digests.organisation.open_findings == result.summary()["findings"]


def test_a_team_with_no_issues_says_so(digests):
    mobile = by_team(digests)["mobile"]
    assert mobile.issues == 0 and mobile.ffr is None and not mobile.rules
    assert "no issues" in mobile.look_first


def test_week_key_is_the_monday_of_the_week():
    assert week_start_of(at("2026-03-31")) == date(2026, 3, 30)
    assert week_start_of(at("2026-03-30")) == date(2026, 3, 30)
    assert week_start_of(at("2026-04-05")) == date(2026, 3, 30)


def test_trend_comes_from_history_and_first_run_says_none(scan_site, site):
    config = load_config(site["config"])
    history = MemoryHistory()
    first = build_digests(scan_site("2026-03-10"), config, at("2026-03-10"), history=history)
    assert not first.organisation.has_history and first.organisation.trend == []
    first.record(history)
    for day in ("2026-03-17", "2026-03-24", "2026-03-31"):
        build_digests(scan_site(day), config, at(day), history=history).record(history)
    latest = build_digests(scan_site(NOW), config, at(NOW), history=history)
    weeks = [point.week_start.isoformat() for point in latest.organisation.trend_with_now]
    assert weeks == ["2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]
    assert latest.organisation.ffr_change == 0
    # Regenerating a past week sees only the weeks before it.
    past = build_digests(scan_site("2026-03-17"), config, at("2026-03-17"), history=history)
    assert [p.week_start.isoformat() for p in past.organisation.trend] == ["2026-03-09"]


def test_trend_is_limited_to_the_configured_weeks(scan_site, site):
    config = load_config(site["config"])
    history = MemoryHistory()
    for weeks_ago in range(1, 20):
        history.record_digest(ORGANISATION, date(2026, 3, 30) - timedelta(weeks=weeks_ago), {"ffr": 10.0})
    digests = build_digests(scan_site(), config, at(NOW), history=history)
    assert len(digests.organisation.trend_with_now) == config.section("digest")["trend_weeks"]


def test_findings_by_rule_new_fixed_and_waived(digests):
    payments = by_team(digests)["payments"]
    lines = {line.rule: line for line in payments.rules}
    assert lines["closing-the-loop-actual-outcome-missing"].open == 2
    assert lines["tech-debt-agreement-overdue"].new == 1
    assert lines["anticipated-outcome-missing"].fixed == 1
    assert (payments.new, payments.fixed, payments.waived) == (1, 1, 0)
    assert digests.organisation.fixed == 2  # PLAT-9 was fixed and is gone from the scan


def test_unclosed_loops_by_age(digests):
    payments = by_team(digests)["payments"]
    assert [(loop.key, loop.age_days) for loop in payments.loops] == [("PAY-5", 120), ("PAY-6", 49)]
    assert dict(payments.loop_bands) == {"90+ days": 1, "60-89 days": 0, "30-59 days": 1, "under 30 days": 0}


def test_register_lists_open_agreements_overdue_first(digests):
    register = by_team(digests)["payments"].agreements
    assert [(a.key, a.overdue) for a in register] == [("PAY-4", True), ("PAY-7", False)]
    assert register[0].timeline == "pay down by 2026-02-01"
    assert register[0].impact == "manual retries slow every release"
    assert register[1].undocumented == ["impact", "timeline or trigger"]


def test_flow_distribution_of_delivered_items(digests, scan_site, site):
    flow = by_team(digests)["payments"].flow
    assert flow.counts == {"feature": 2, "defect": 1, "risk": 0, "debt": 1}  # PAY-15 is older than 90 days
    assert flow.share("feature") == 50.0
    assert by_team(digests)["platform"].flow.unclassified == 1  # the custom "Chore" type
    config = load_config(site["config"])
    config.data["digest"]["flow_window_days"] = 365
    wider = build_digests(scan_site(), config, at(NOW))
    assert by_team(wider)["payments"].flow.counts["feature"] == 3


def test_owners_appear_only_in_their_own_team_digest(digests):
    payments = by_team(digests)["payments"]
    assert {loop.owner for loop in payments.loops} == {"Ana Lima", "Bo Chen"}
    organisation = json.dumps(digests.organisation.to_json())
    assert "Ana Lima" not in organisation and "Bo Chen" not in organisation
    assert "owner" not in organisation
    platform = json.dumps(by_team(digests)["platform"].to_json())
    assert "Ana Lima" not in platform


def test_where_to_look_first_is_a_question(digests):
    for digest in digests:
        assert digest.look_first.endswith("?"), digest.look_first


def test_week_changes_from_the_findings_lifecycle():
    now = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
    since = now - timedelta(days=7)

    def state(rule, first_seen, resolved_at=None, escalated_at=None, waived=False):
        return SimpleNamespace(rule=rule, issue="PAY-1", team="payments", title="", fingerprint=rule,
                               first_seen=first_seen, resolved_at=resolved_at, escalated_at=escalated_at,
                               waived=waived, summary="Grow checkout", url=None)

    old = now - timedelta(days=30)
    changes = week_changes([state("a", old), state("b", now - timedelta(days=2)),
                            state("c", old, now - timedelta(days=1)), state("d", old, old),
                            state("e", old, escalated_at=old), state("f", old, old, escalated_at=old),
                            state("g", old, escalated_at=old, waived=True)], since, now)
    assert [c.rule for c in changes.new] == ["b"]
    assert [c.rule for c in changes.fixed] == ["c"]
    assert [c.rule for c in changes.escalated] == ["e"]  # open and not waived
    # The store's first week: everything would look new, so it is not tracked yet.
    assert week_changes([state("b", now - timedelta(days=2))], since, now) is None


def test_escalated_and_waived_findings_are_listed_by_issue(digests):
    payments, platform = by_team(digests)["payments"], by_team(digests)["platform"]
    assert [(item.key, item.rule) for item in payments.escalated] == [
        ("PAY-5", "closing-the-loop-actual-outcome-missing")]
    assert [(item.key, item.note) for item in platform.waived_items] == [
        ("PLAT-5", "label govbot-waive-work-hierarchy-unmapped-type")]
    # The organisation sees that a finding is waived, not the waiver's wording (it may name someone).
    assert [(item.key, item.note) for item in digests.organisation.waived_items] == [("PLAT-5", "")]

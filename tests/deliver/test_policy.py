"""Nudge policy pieces: when a finding is due, quiet time, routing, the breaker's arithmetic."""

from __future__ import annotations

import dataclasses

from datetime import datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest

from bot.deliver.breaker import BreakerSettings, check
from bot.deliver.policy import NudgeSettings, due, quiet_reason
from bot.deliver.routing import Router, load_user_map
from bot.errors import ConfigError
from bot.model import User
from tests.deliver.conftest import NOW, finding, write_config


def state(count, last=None, escalated=None):
    return SimpleNamespace(nudge_count=count, last_nudged_at=last, escalated_at=escalated)


@pytest.mark.parametrize("stored, days_later, expected", [
    (None, 0, ("first", 0)),
    (state(0), 0, ("first", 0)),
    (state(1, NOW), 6.9, None),
    (state(1, NOW), 7, ("reminder", 1)),
    (state(3, NOW), 7, ("reminder", 3)),
    (state(4, NOW), 7, ("escalate", 4)),
    (state(4, NOW, escalated=NOW), 70, None),
])
def test_due(stored, days_later, expected):
    settings = dataclasses.replace(NudgeSettings.default(), interval=timedelta(days=7), reminder_cap=3)
    result = due(stored, settings, NOW + timedelta(days=days_later))
    assert (None if result is None else (result.kind, result.number)) == expected


def test_quiet_hours_cross_midnight_in_the_team_zone(tmp_path):
    config = write_config(tmp_path)
    settings = dataclasses.replace(NudgeSettings.default(), quiet_hours=(time(19, 0), time(7, 0)))
    at = lambda hour: datetime(2026, 3, 31, hour, 30, tzinfo=timezone.utc)  # noqa: E731
    # London is UTC+1 on 31 March 2026 (summer time).
    assert quiet_reason(config, "payments", settings, at(5)) == "quiet hours (06:30 in Europe/London)"
    assert quiet_reason(config, "payments", settings, at(6)) is None
    assert quiet_reason(config, "payments", settings, at(17)) is None
    assert quiet_reason(config, "payments", settings, at(18)).startswith("quiet hours (19:30")
    # New York is UTC-4: 12:30 UTC is 08:30 there.
    assert quiet_reason(config, "platform", settings, at(12)) is None
    assert quiet_reason(config, "platform", settings, at(10)).startswith("quiet hours (06:30")
    # Teams without a zone use nudges.timezone (UTC).
    assert quiet_reason(config, "unknown-team", settings, at(12)) is None
    sunday = datetime(2026, 4, 5, 12, 0, tzinfo=timezone.utc)
    assert quiet_reason(config, "payments", settings, sunday) == "quiet day (Sunday in Europe/London)"


def test_quiet_hours_can_be_switched_off_and_bad_zones_are_config_errors(tmp_path):
    config = write_config(tmp_path, {"nudges": {"quiet_hours": False, "quiet_days": []}})
    settings = NudgeSettings.from_config(config)
    assert settings.quiet_hours is None and settings.quiet_days == frozenset()
    assert quiet_reason(config, "payments", settings, datetime(2026, 4, 5, 2, tzinfo=timezone.utc)) is None
    # A bad zone is refused when the config is read, at its line (not later, when a nudge is due).
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+:\d+: error: config: unknown time zone 'Mars/Olympus'"):
        write_config(tmp_path, {"teams": {"payments": {"timezone": "Mars/Olympus"}}}, name="broken.yaml")


def test_routing_never_matches_display_names(tmp_path):
    config = write_config(tmp_path)
    lookups = []

    def lookup(email):
        lookups.append(email)
        return {"alice@example.com": "U0ALICE"}.get(email)

    router = Router(config, lookup=lookup, user_map={"alice example": "U0WRONG"}, now=NOW)
    nameless = User(account_id="acc-x", display_name="Alice Example")
    route = router.route(finding("PAY-1", nameless))
    assert route.kind == "channel" and route.target == "#payments"
    assert lookups == []
    assert router.route(finding("PAY-2", User(account_id="acc-a", email="alice@example.com"))).target == "U0ALICE"
    by_name = User(name="jsmith", display_name="J Smith")  # Data Center username
    router.user_map["jsmith"] = "U0JSMITH"
    assert router.route(finding("PAY-3", by_name)).target == "U0JSMITH"


def test_user_map_file_is_validated(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("acc-1: U0ABC\nacc-2: '@bob'\n")
    with pytest.raises(ConfigError) as error:
        load_user_map(path)
    assert "users.yaml:2" in str(error.value) and "Slack user id" in str(error.value)
    path.write_text("users:\n  ACC-1: U0ABC\n")
    assert load_user_map(path) == {"acc-1": "U0ABC"}


@pytest.mark.parametrize("people, findings, history, tripped", [
    (3, 5, [], False),
    (51, 60, [], True),                                   # absolute people limit
    (5, 201, [], True),                                   # absolute findings limit
    (12, 20, [{"counts": {"applied": True, "people": 3, "findings": 5}}], True),    # 4x the usual people
    (8, 20, [{"counts": {"applied": True, "people": 2, "findings": 5}}], False),    # below the floor
    (12, 20, [{"counts": {"applied": True, "held": True, "people": 3, "findings": 5}},
              {"counts": {"applied": True, "people": 10, "findings": 30}}], False),  # held runs are not "usual"
])
def test_breaker_arithmetic(people, findings, history, tripped):
    assert (check(people, findings, history, BreakerSettings.default()) is not None) is tripped

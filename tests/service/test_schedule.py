"""Schedules read from config, checked with injected time: no test waits for a clock."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.config import load_config
from bot.errors import ConfigError
from bot.service import JOBS, day_of_week_names, describe_schedule, load_settings, make_trigger

LONDON = ZoneInfo("Europe/London")


def settings_for(tmp_path, text: str):
    path = tmp_path / "govbot.yaml"
    path.write_text(text)
    return load_settings(load_config(path))


def fires_between(settings, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """Every (local time, job) the scheduler would fire in [start, end), in order, as a fake clock would see it."""
    events = []
    for name, job in settings.jobs.items():
        previous, now = None, start
        while True:
            fire = job.trigger.get_next_fire_time(previous, now)
            if fire is None or fire >= end:
                break
            events.append((fire.astimezone(settings.timezone), name))
            previous = now = fire
    return [(moment.strftime("%a %d %H:%M %Z"), name) for moment, name in sorted(events)]


def test_defaults_across_the_spring_dst_change_in_london(tmp_path):
    settings = settings_for(tmp_path, "schedule:\n  timezone: Europe/London\n")
    assert set(settings.jobs) == set(JOBS)
    # Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
    week = fires_between(settings, datetime(2026, 3, 27, 0, 0, tzinfo=LONDON), datetime(2026, 3, 31, 0, 0, tzinfo=LONDON))
    assert week == [
        ("Fri 27 02:00 GMT", "full-rescan"),
        ("Fri 27 09:30 GMT", "scan-and-nudge"),
        ("Sat 28 02:00 GMT", "full-rescan"),
        ("Sun 29 02:00 BST", "full-rescan"),
        ("Mon 30 02:00 BST", "full-rescan"),
        ("Mon 30 09:00 BST", "digest"),
        ("Mon 30 09:30 BST", "scan-and-nudge"),
    ]
    nudge = settings.jobs["scan-and-nudge"].next_times(datetime(2026, 3, 27, 12, 0, tzinfo=timezone.utc), 1)[0]
    assert nudge == datetime(2026, 3, 30, 8, 30, tzinfo=timezone.utc)  # 09:30 local is 08:30 UTC in summer


def test_a_slot_in_the_hour_that_repeats_in_autumn_fires_once(tmp_path):
    settings = settings_for(tmp_path, "schedule:\n  timezone: Europe/London\n  full_rescan: '30 1 * * *'\n"
                                      "  scan_and_nudge: false\n  digest: false\n")
    # Clocks go back at 02:00 BST on Sunday 25 October 2026: 01:30 happens twice.
    nights = fires_between(settings, datetime(2026, 10, 24, 0, 0, tzinfo=LONDON),
                           datetime(2026, 10, 27, 0, 0, tzinfo=LONDON))
    assert nights == [("Sat 24 01:30 BST", "full-rescan"), ("Sun 25 01:30 BST", "full-rescan"),
                      ("Mon 26 01:30 GMT", "full-rescan")]
    # Plain APScheduler 3 would have run it twice that night: the reason for WallClockCronTrigger.
    plain = CronTrigger(minute="30", hour="1", timezone=LONDON)
    first = plain.get_next_fire_time(None, datetime(2026, 10, 25, 0, 0, tzinfo=LONDON))
    second = plain.get_next_fire_time(first, first)
    assert first.replace(tzinfo=None) == second.replace(tzinfo=None)


def test_a_slot_in_the_hour_skipped_in_spring_still_fires_once(tmp_path):
    settings = settings_for(tmp_path, "schedule:\n  timezone: Europe/London\n  full_rescan: '30 1 * * *'\n"
                                      "  scan_and_nudge: false\n  digest: false\n")
    nights = fires_between(settings, datetime(2026, 3, 28, 12, 0, tzinfo=LONDON),
                           datetime(2026, 3, 30, 12, 0, tzinfo=LONDON))
    utc = [moment for moment in settings.jobs["full-rescan"].next_times(
        datetime(2026, 3, 28, 12, 0, tzinfo=LONDON), 2)]
    assert len(nights) == 2
    # 01:30 does not exist on the 29th: it runs once, just after the jump (01:30 UTC = 02:30 BST).
    assert utc[0] == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    assert utc[1] == datetime(2026, 3, 30, 0, 30, tzinfo=timezone.utc)


def test_the_schedule_zone_falls_back_to_the_teams_shared_zone(tmp_path):
    settings = settings_for(tmp_path, "teams:\n  a: {projects: [A], timezone: Europe/Berlin}\n"
                                      "  b: {projects: [B], timezone: Europe/Berlin}\n")
    assert settings.timezone.key == "Europe/Berlin"
    mixed = settings_for(tmp_path, "teams:\n  a: {projects: [A], timezone: Europe/Berlin}\n"
                                   "  b: {projects: [B], timezone: Asia/Kolkata}\n")
    assert mixed.timezone.key == "UTC"


def test_numbered_days_are_refused_with_the_names_to_use(tmp_path):
    with pytest.raises(ConfigError) as error:
        settings_for(tmp_path, "schedule:\n  scan_and_nudge: '30 9 * * 1-5'\n")
    text = str(error.value)
    assert text.startswith(f"{tmp_path / 'govbot.yaml'}:2:19: error:")
    assert "'30 9 * * mon-fri'" in text and "0 is Sunday" in text
    assert day_of_week_names("0,6") == "sun,sat" and day_of_week_names("*/2") is None
    assert day_of_week_names("mon-fri") is None


@pytest.mark.parametrize("text, message", [
    ("schedule:\n  timezone: Europe/Londn\n", "did you mean 'Europe/London'?"),
    ("schedule:\n  digest: '0 9 * mon'\n", "5 fields"),
    ("schedule:\n  digest: '0 25 * * mon'\n", "schedule.digest"),
    ("schedule:\n  digest: 'every soon'\n", "not a duration"),
    ("schedule:\n  digest: true\n", "schedule.digest must be text"),
    ("service:\n  health_port: 99999\n", "health_port"),
    ("schedule:\n  misfire_grace: 0s\n", "must be at least 1s"),
    ("service:\n  chat: maybe\n", "'maybe' is not allowed"),
    ("logging:\n  format: xml\n", "use one of: auto, json, text"),
])
def test_service_sections_are_checked_with_positions(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        settings_for(tmp_path, text)
    assert message in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "govbot.yaml") + ":")


def test_intervals_and_jobs_turned_off(tmp_path):
    settings = settings_for(tmp_path, "schedule:\n  scan_and_nudge: every 15m\n  digest: false\n")
    assert set(settings.jobs) == {"scan-and-nudge", "full-rescan"}
    start = datetime(2026, 3, 30, 9, 0, tzinfo=timezone.utc)
    times = settings.jobs["scan-and-nudge"].next_times(start, 2)
    assert times[1] - times[0] == (times[1] - times[0]).__class__(minutes=15)
    assert "digest          off" in describe_schedule(settings, start)


def test_make_trigger_uses_the_zone():
    trigger = make_trigger("0 9 * * mon", ZoneInfo("America/New_York"))
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert fire.astimezone(timezone.utc) == datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def test_defaults_need_no_config_file():
    settings = load_settings(load_config(None, search=False))
    assert settings.timezone.key == "UTC" and not settings.apply
    assert settings.health_host == "127.0.0.1" and settings.health_port == 9464
    assert settings.jobs["digest"].spec == "0 9 * * mon"

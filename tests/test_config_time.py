"""Time settings are checked when the config is read: a bad time zone at its line, quiet_hours: "off" as documented."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.deliver.policy import NudgeSettings
from bot.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "govbot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_team_time_zone_is_a_config_error_at_its_line(tmp_path):
    path = write(tmp_path, "teams:\n  payments:\n    projects: [PAY]\n    timezone: Mars/Olympus\n"
                           "  mobile: {projects: [MOB], timezone: Europe/Londn}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    text = str(raised.value)
    assert f"{path}:4:15: error: config: unknown time zone 'Mars/Olympus'" in text
    assert f"{path}:5:39: error: config: unknown time zone 'Europe/Londn'" in text
    assert "did you mean 'Europe/London'?" in text


@pytest.mark.parametrize("section", ["nudges", "schedule"])
def test_unknown_section_time_zones_are_config_errors(tmp_path, section):
    path = write(tmp_path, f"{section}:\n  timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"govbot.yaml:2:13: error: config: unknown time zone 'Mars/Olympus'"):
        load_config(path)


@pytest.mark.parametrize("value", ['"off"', "off", "'OFF'", "false", "''"])
def test_quiet_hours_off_switches_them_off(tmp_path, value):
    config = load_config(write(tmp_path, f"nudges:\n  quiet_hours: {value}\n"))
    assert NudgeSettings.from_config(config).quiet_hours is None


def test_quiet_hours_still_refuses_nonsense(tmp_path):
    with pytest.raises(ConfigError, match="quiet_hours"):
        load_config(write(tmp_path, 'nudges:\n  quiet_hours: "sometimes"\n'))


def test_a_bad_zone_is_reported_with_the_schema_errors_in_one_pass(tmp_path):
    path = write(tmp_path, "jira:\n  projetcs: [PAY]\nteams:\n  payments: {projects: [PAY], timezone: Mars/Olympus}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "unknown key 'projetcs'" in str(raised.value) and "unknown time zone 'Mars/Olympus'" in str(raised.value)

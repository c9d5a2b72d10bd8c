"""Typed settings: each config section read once, its defaults in one place (bot.config.DEFAULTS)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from bot.config import DEFAULTS, load_config
from bot.settings import SECTIONS, Settings

BOT = Path(__file__).resolve().parent.parent / "bot"


def test_every_typed_section_names_exactly_the_keys_of_its_defaults():
    def keys(cls):
        return {f.name for f in dataclasses.fields(cls)}

    for name, cls in SECTIONS.items():
        assert keys(cls) == set(DEFAULTS[name]), name


def test_the_nested_breaker_section_matches_its_defaults():
    from bot.settings import BreakerSection

    assert {f.name for f in dataclasses.fields(BreakerSection)} == set(DEFAULTS["nudges"]["breaker"])


def test_settings_carry_the_users_values_over_the_defaults(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("nudges: {max_reminders: 5, breaker: {max_people: 3}}\nwaivers: {label_prefix: skip-}\n")
    settings = load_config(path, env={}).settings
    assert isinstance(settings, Settings)
    assert settings.nudges.max_reminders == 5 and settings.nudges.reminder_interval_days == 7
    assert settings.nudges.breaker.max_people == 3 and settings.nudges.breaker.max_findings == 100
    assert settings.waivers.label_prefix == "skip-"


def test_no_module_restates_a_config_default():
    """`config.section("x").get("key", default)` would hide a second default; settings are read typed."""
    pattern = re.compile(r'section\("(' + "|".join(SECTIONS) + r')"\)')
    offenders = [f"{path.relative_to(BOT.parent)}:{number}"
                 for path in BOT.rglob("*.py") if path.name not in ("config.py", "settings.py")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders, "read these through config.settings instead: " + ", ".join(offenders)

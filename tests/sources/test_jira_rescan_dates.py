"""A rescan's lower bound is a relative JQL date: no time-zone request, and no edit missed when the
user's time zone changes or Jira's clock is off (the loopback emulator reads dates like Jira)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from bot.sources.cursors import MemoryCursorStore
from helpers import emulator_source
from tests.fakes.jira_server import JiraEmulator
from tools.synth import generate


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
@pytest.mark.parametrize("skew_minutes", [0, -9, 9, -45, 45])
def test_a_changed_time_zone_and_a_skewed_clock_miss_no_edit(flavour, skew_minutes, tmp_path):
    """Jira stamps edits with its own clock, ``skew_minutes`` off govbot's (a constant skew of any
    size cancels out; see ``bot.sources.rescan.rescan_bound``). The user moved 11 hours west after
    the full read: an absolute date written in the old zone (UTC) would start 11 hours late."""
    with JiraEmulator(generate(250, flavour, seed=5), flavour=flavour, lifetime=60) as emulator:
        emulator.set_clock_skew(skew_minutes * 60)
        store = MemoryCursorStore()
        source, rules, _config = emulator_source(emulator, tmp_path)
        assert len(source.load(rules, cursor_store=store).issues) == 250
        keys = sorted(emulator.store.by_key)
        edited = emulator.touch(random.Random(2).sample(keys, 12), when=emulator.store.now())
        emulator.set_time_zone("Pacific/Pago_Pago")
        emulator.reset_stats()
        source, rules, _config = emulator_source(emulator, tmp_path)
        changed = source.load(rules, cursor_store=store)
        assert changed.partial and set(edited) <= set(changed.issues)
        assert "/rest/api/2/myself" not in emulator.stats()["by_path"]


def test_a_skew_change_within_the_overlap_misses_no_edit(tmp_path):
    """Jira's clock jumps 9 minutes ahead between an edit and the rescan (jira.incremental_overlap
    is 10 minutes): the window still reaches back past the edit."""
    with JiraEmulator(generate(120, "cloud", seed=6), flavour="cloud", lifetime=60) as emulator:
        store = MemoryCursorStore()
        source, rules, _config = emulator_source(emulator, tmp_path)
        source.load(rules, cursor_store=store)
        edited = emulator.touch(sorted(emulator.store.by_key)[:5], when=emulator.store.now())
        emulator.set_clock_skew(9 * 60)
        source, rules, _config = emulator_source(emulator, tmp_path)
        assert set(edited) <= set(source.load(rules, cursor_store=store).issues)


def test_a_read_answered_later_than_the_margin_leaves_the_cursor_where_it_was(tmp_path):
    """The relative bound moves with Jira's clock: a search evaluated more than the overlap after the
    bound was written (long retries) may have started past the old cursor, so the cursor stays."""
    with JiraEmulator(generate(60, "cloud", seed=7), flavour="cloud", lifetime=60) as emulator:
        store = MemoryCursorStore()
        source, rules, _config = emulator_source(emulator, tmp_path)
        source.load(rules, cursor_store=store)
        (name, first), = [(k, v) for k, v in store.cursors.items() if k.startswith("jira:")]
        clock = iter([datetime.now(timezone.utc) + timedelta(minutes=minutes) for minutes in (1, 1, 30, 30, 30)])
        source, rules, _config = emulator_source(emulator, tmp_path, now=lambda: next(clock))
        source.load(rules, cursor_store=store)
        assert store.cursors[name]["since"] == first["since"]
        source, rules, _config = emulator_source(emulator, tmp_path)
        source.load(rules, cursor_store=store)
        assert store.cursors[name]["since"] > first["since"]  # on time: the cursor moves

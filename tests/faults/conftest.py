"""A loopback Jira with faults, and a govbot source pointed at it that never really sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.synth import generate
from tests.fakes.jira_server import Faults, JiraEmulator
from tests.sources.helpers import emulator_config, emulator_source

ISSUES = 320  # four Cloud pages of 100 (the emulator's cap once fields are asked for)


class Sleeps(list):
    """Stands in for time.sleep: records what the source would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


_PAGES: dict[str, list[dict]] = {}


def pages(flavour: str) -> list[dict]:
    """The same generated workspace for every test (fresh copies: the emulator may edit it)."""
    if flavour not in _PAGES:
        _PAGES[flavour] = generate(ISSUES, flavour, seed=11)
    import copy

    return copy.deepcopy(_PAGES[flavour])


def all_keys(flavour: str) -> set[str]:
    return {issue["key"] for page in pages(flavour) for issue in page["issues"]}


@pytest.fixture(params=["cloud", "datacenter"])
def flavour(request) -> str:
    return request.param


@pytest.fixture
def emulator_for():
    """emulator_for(flavour, faults=..., **options) -> a started JiraEmulator, stopped after the test."""
    started: list[JiraEmulator] = []

    def make(flavour: str, faults: Faults | None = None, **options) -> JiraEmulator:
        emulator = JiraEmulator(pages(flavour), flavour=flavour, faults=faults, record_keys=True, lifetime=120,
                                **options)
        started.append(emulator.start())
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


# What every fault test's govbot.yaml says: a stalled request gives up after 2 seconds (the default is 30).
FAULT_SETTINGS = {"timeout_seconds": 2, "max_retries": 5}


def write_config(emulator: JiraEmulator, **jira) -> Path:
    """./govbot.yaml for the emulator (the command line reads it from there)."""
    return emulator_config(emulator, Path("."), **{**FAULT_SETTINGS, **jira})


def source_for(emulator: JiraEmulator, sleeps: Sleeps | None = None, **jira):
    """(JiraSource, ruleset, config) for the emulator; sleeps are recorded, not slept."""
    return emulator_source(emulator, Path("."), sleep=sleeps if sleeps is not None else Sleeps(), seed=3,
                           **{**FAULT_SETTINGS, **jira})

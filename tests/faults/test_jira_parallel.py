"""Pages read a few at a time on real sockets: the same issues, in the same order, within the request budget.

Against the loopback emulator (its own JQL, paging and caps). Data Center
fetches the rest of a window side by side once the first page says how many
there are; Cloud lists ids 5,000 a page after its first page, then reads
their fields with bulkfetch, side by side (1,000 a request by the single-valued
fields, labels 100 a request for the issues that have any).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math

from bot.model import Issue
from tests.fakes import jira_server
from tests.faults.conftest import ISSUES, all_keys, source_for
from tests.fakes.jira_server import Faults


def read(emulator, **jira):
    source, ruleset, config = source_for(emulator, **jira)
    return source.load(ruleset), source


def test_parallel_and_one_at_a_time_read_the_same_issues_in_the_same_order(flavour, emulator_for, monkeypatch):
    if flavour == "cloud":
        # 320 issues fit one 1,000-issue bulkfetch, leaving nothing to overlap; a site that keeps bulkfetch
        # at 100 reads the other 220 in three requests side by side (the 1,000-issue read is compared
        # with that one below, in test_cloud_reads_at_1000_a_request_build_the_workspace_...).
        monkeypatch.setattr(jira_server, "BULK_EFFICIENT_MAX", 100)
    emulator = emulator_for(flavour, latency=0.25)  # wide enough to overlap on a loaded machine
    one, _ = read(emulator, concurrency=1, page_size=100)
    emulator.reset_stats()
    many, _ = read(emulator, concurrency=4, page_size=100)
    assert one.complete and many.complete
    assert list(many.issues) == list(one.issues) and set(many.issues) == all_keys(flavour)
    assert set(many.relatives) == set(one.relatives)
    # Cloud too: the 220 ids the 1,000-issue request was refused for are read 100 a request side by side.
    assert emulator.stats()["max_in_flight"] >= 2  # the reads did overlap


def test_data_center_reads_the_rest_of_the_window_in_parallel_within_the_page_budget(emulator_for):
    emulator = emulator_for("datacenter", latency=0.1)
    workspace, _ = read(emulator, concurrency=4, page_size=100)
    stats = emulator.stats()
    pages = math.ceil(ISSUES / 100)
    assert workspace.complete and len(workspace.issues) == ISSUES
    assert stats["by_path"]["/rest/api/2/search"] == pages  # each page once: no id list needed
    assert stats["requests"] <= pages + 3
    assert stats["max_in_flight"] >= 2


def test_cloud_lists_ids_then_bulk_reads_fields_within_the_page_budget(emulator_for):
    emulator = emulator_for("cloud", latency=0.02)
    workspace, _ = read(emulator, concurrency=4)
    stats = emulator.stats()
    pages = math.ceil(ISSUES / 100)
    assert workspace.complete and set(workspace.issues) == all_keys("cloud")
    # one page with fields, one page of the ids of issues with labels, one page of ids (5,000 fit); then
    # the labels of those 100 a request, and every other field of the other 220 issues in one request
    assert stats["by_path"]["/rest/api/3/search/jql"] == 3
    labelled = sum(1 for issue in list(workspace.issues.values())[100:] if issue.labels)
    assert 0 < labelled < ISSUES - 100
    assert stats["by_path"]["/rest/api/3/issue/bulkfetch"] == math.ceil(labelled / 100) + 1
    assert stats["issues_sent"] >= ISSUES
    assert stats["requests"] <= pages + 3


def picture(workspace) -> str:
    """Everything the workspace holds of each issue, in order, as text (field maps by name)."""
    def one(issue: Issue) -> dict:
        return {f.name: getattr(issue, f.name) for f in dataclasses.fields(Issue) if not f.name.startswith("_")}

    return json.dumps({"issues": [one(issue) for issue in workspace.issues.values()],
                       "relatives": [one(issue) for issue in workspace.relatives.values()],
                       "complete": workspace.complete, "problems": workspace.problems},
                      sort_keys=True, default=repr)


def test_cloud_reads_at_1000_a_request_build_the_workspace_the_100_a_request_read_builds(emulator_for,
                                                                                         monkeypatch, caplog):
    emulator = emulator_for("cloud")
    efficient, _ = read(emulator, concurrency=4)
    fewer = emulator.stats()["requests"]
    # The same site keeping bulkfetch at 100 issues: the 1,000-issue request is refused, then today's read.
    monkeypatch.setattr(jira_server, "BULK_EFFICIENT_MAX", 100)
    emulator.reset_stats()
    with caplog.at_level(logging.WARNING, logger="govbot.jira"):
        before, _ = read(emulator, concurrency=4)
    assert efficient.complete and before.complete
    labelled = [issue for issue in efficient.issues.values() if issue.labels]
    assert 0 < len(labelled) < len(efficient.issues)
    assert picture(efficient) == picture(before)
    assert fewer < emulator.stats()["requests"]
    assert sum("refused a bulk read of 1,000" in record.getMessage() for record in caplog.records) == 1


def test_parallel_reads_retry_a_failed_page_and_lose_nothing(flavour, emulator_for):
    faults = Faults(script={5: "503", 6: "reset", 7: "429"}, retry_after="0")
    emulator = emulator_for(flavour, faults)
    workspace, source = read(emulator, concurrency=4, page_size=100)
    assert workspace.complete and set(workspace.issues) == all_keys(flavour)
    assert set(workspace.issues) <= emulator.keys_delivered
    assert source.transport.retries >= 3


def test_a_page_that_keeps_failing_under_parallel_reads_makes_the_scan_incomplete(flavour, emulator_for):
    path = "/rest/api/3/issue/bulkfetch" if flavour == "cloud" else "/rest/api/2/search"
    emulator = emulator_for(flavour, Faults(outage_after=1, retry_after="0", paths=(path,)))
    workspace, _ = read(emulator, concurrency=4, page_size=100, max_retries=2)
    assert not workspace.complete
    assert 0 < len(workspace.issues) < ISSUES
    assert set(workspace.issues) <= emulator.keys_delivered  # nothing counts as read that was not delivered
    assert any("still failing" in problem for problem in workspace.problems), workspace.problems

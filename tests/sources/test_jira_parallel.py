"""Parallel reads at the requests layer: small scopes stay one request, fallbacks, what bulkfetch leaves out,
and one shared pause for every thread when Jira says to slow down."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import requests
import responses

from bot.sources.http import RateGate, RetryPolicy, Transport
from bot.sources.jira import load_workspace_from_jira
from bot.sources.pool import Pipeline
from fakejira import URL, FakeJira, Sleeps, cloud_issue, dc_issue, make_config, make_source, mock

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Rules:
    def __init__(self, fields=("Anticipated Outcome", "labels")):
        self._fields = set(fields)
        self.needs_relatives = True

    def fields_needed(self, config):
        return self._fields


def stories(count: int, *, cloud: bool = True) -> list[dict]:
    make = cloud_issue if cloud else dc_issue
    return [make(f"PAY-{n}", "Story") for n in range(1, count + 1)]


def scan(fake: FakeJira, **jira):
    config = make_config({"projects": ["PAY"], "concurrency": 4, **jira})
    return load_workspace_from_jira(config, Rules(), source=make_source(config))


def test_a_small_cloud_scope_is_still_one_request():
    with mock() as rsps:
        fake = FakeJira(stories(40)).install(rsps)
        workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 40
    assert len(fake.searches()) == 1 and not fake.calls_to("/rest/api/3/issue/bulkfetch")


def test_cloud_bulk_reads_by_id_with_only_the_needed_fields():
    with mock() as rsps:
        fake = FakeJira(stories(250)).install(rsps)
        workspace = scan(fake)
    assert workspace.complete and list(workspace.issues) == [f"PAY-{n}" for n in range(1, 251)]
    first, listing = fake.searches()
    assert listing["params"]["fields"] == "id" and listing["params"]["maxResults"] == "5000"
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    assert [len(call["body"]["issueIdsOrKeys"]) for call in bulk] == [100, 50]
    assert all(ident.isdigit() for call in bulk for ident in call["body"]["issueIdsOrKeys"])
    assert set(bulk[0]["body"]["fields"]) == set(first["params"]["fields"].split(","))


def test_a_site_without_bulkfetch_reads_the_listed_ids_by_search():
    with mock() as rsps:
        fake = FakeJira(stories(250)).install(rsps)
        fake.supports_bulkfetch = False
        workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 250
    by_id = [call for call in fake.searches() if call["params"]["jql"].startswith("id in (")]
    assert by_id and sum(call["params"]["jql"].count(",") + 1 for call in by_id) == 150


class ForgetfulJira(FakeJira):
    """Leaves one issue out of a bulkfetch answer without saying why (neither returned nor gone)."""

    def _bulkfetch(self, body):
        status, payload = super()._bulkfetch(body)
        payload["issues"] = [i for i in payload["issues"] if i["key"] != "PAY-180"]
        return status, payload


def test_an_issue_bulkfetch_leaves_out_unexplained_makes_the_read_incomplete():
    with mock() as rsps:
        fake = ForgetfulJira(stories(250)).install(rsps)
        workspace = scan(fake)
    assert not workspace.complete and "PAY-180" not in workspace.issues and len(workspace.issues) == 249
    assert any("could not be read" in problem for problem in workspace.problems)


class DeletingJira(FakeJira):
    """An issue deleted between the listing and the bulk read: bulkfetch reports it gone."""

    def _bulkfetch(self, body):
        self.issues.pop("PAY-180", None)
        return super()._bulkfetch(body)


def test_an_issue_deleted_meanwhile_is_gone_not_missing():
    with mock() as rsps:
        fake = DeletingJira(stories(250)).install(rsps)
        workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 249


def test_data_center_pages_after_the_first_are_fetched_once_each():
    with mock() as rsps:
        fake = FakeJira(stories(2500, cloud=False), cloud=False, url="https://jira.example.com").install(rsps)
        config = make_config({"projects": ["PAY"], "concurrency": 4},
                             env={"JIRA_URL": "https://jira.example.com", "JIRA_PAT": "s3cr3t-pat"})
        workspace = load_workspace_from_jira(config, Rules(), source=make_source(config))
    assert workspace.complete and len(workspace.issues) == 2500
    assert sorted(int(call["params"]["startAt"]) for call in fake.searches()) == [0, 1000, 2000]


# -- one pause for every thread -------------------------------------------------------------------

def test_a_retry_after_pauses_the_other_threads_but_not_twice_the_one_told():
    moment = [1000.0]
    sleeps = Sleeps()
    gate = RateGate(lambda: moment[0], sleeps, max_wait=300)
    gate.hold_until(1007.0, mine=True)
    gate.wait()  # the thread that was told sleeps in its own retry loop
    assert sleeps == []
    other = threading.Thread(target=gate.wait)
    other.start()
    other.join()
    assert sleeps == [7.0]


@responses.activate
def test_rate_limit_remaining_zero_holds_the_next_request_until_the_reset():
    reset = (NOW + timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    responses.get(f"{URL}/rest/api/2/myself", json={"displayName": "Ada"},
                  headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    responses.get(f"{URL}/rest/api/2/myself", json={"displayName": "Ada"})
    sleeps = Sleeps()
    transport = Transport(requests.Session(), URL, policy=RetryPolicy(max_retries=1), sleep=sleeps,
                          clock=lambda: NOW.timestamp(), rng=random.Random(1))
    transport.get("/rest/api/2/myself")
    assert sleeps == []
    transport.get("/rest/api/2/myself")
    assert sleeps == [12.0]


def test_the_pipeline_hands_answers_on_in_order_and_stops_at_a_failure():
    handed = []

    def fetch(n):
        if n == 6:
            raise RuntimeError("page 6 failed")
        return n

    with Pipeline(3, handed.append) as pipeline:
        try:
            for n in range(10):
                pipeline.submit(fetch, n)
            pipeline.finish()
        except RuntimeError as error:
            assert "page 6" in str(error)
        else:
            raise AssertionError("the failure was swallowed")
    assert handed == [0, 1, 2, 3, 4, 5]


def test_a_cloud_rescan_pages_its_changes_instead_of_listing_ids_first():
    from bot.sources.jira import MemoryCursorStore

    store = MemoryCursorStore()
    with mock() as rsps:
        fake = FakeJira(stories(400)).install(rsps)
        config = make_config({"projects": ["PAY"], "concurrency": 4})
        load_workspace_from_jira(config, Rules(), cursor_store=store, source=make_source(config, now=NOW))
        assert any(call["params"].get("fields") == "id" for call in fake.searches())  # the full read listed ids
        for n in range(1, 151):
            fake.issues[f"PAY-{n}"]["fields"]["updated"] = (NOW + timedelta(minutes=5)).strftime(
                "%Y-%m-%dT%H:%M:%S.000+0000")
        fake.calls.clear()
        later = NOW + timedelta(hours=1)
        fake.now = later  # Jira's clock, for the rescan's relative date
        changed = load_workspace_from_jira(config, Rules(), cursor_store=store, source=make_source(config, now=later))
    assert set(changed.issues) == {f"PAY-{n}" for n in range(1, 151)}
    scope = [call for call in fake.searches() if "updated >=" in call["params"]["jql"]]
    assert len(scope) == 2 and all(call["params"]["fields"] != "id" for call in scope)  # 100 + 50, no id list

"""Parallel reads at the requests layer: small scopes stay one request, fallbacks, what bulkfetch leaves out,
and one shared pause for every thread when Jira says to slow down."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
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
    """A full read of ``fake``, on mocked requests, four requests at once."""
    config = make_config({"projects": ["PAY"], "concurrency": 4, **jira})
    with mock() as rsps:
        fake.install(rsps)
        return load_workspace_from_jira(config, Rules(), source=make_source(config))


def test_a_small_cloud_scope_is_still_one_request():
    fake = FakeJira(stories(40))
    workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 40
    assert len(fake.searches()) == 1 and not fake.calls_to("/rest/api/3/issue/bulkfetch")


def labelled_stories(count: int) -> list[dict]:
    """Every seventh story has a label (multi-valued: bulkfetch reads it 100 issues a request)."""
    return [cloud_issue(f"PAY-{n}", "Story", labels=["tech-debt"] if n % 7 == 0 else []) for n in range(1, count + 1)]


def test_cloud_bulk_reads_single_valued_fields_1000_a_request_and_labels_only_where_there_are_any():
    fake = FakeJira(labelled_stories(250))
    workspace = scan(fake)
    assert workspace.complete and list(workspace.issues) == [f"PAY-{n}" for n in range(1, 251)]
    first, with_values, listing = fake.searches()
    needed = set(first["params"]["fields"].split(","))
    assert "labels" in needed
    assert with_values["params"]["fields"] == "id" and "(labels is not EMPTY)" in with_values["params"]["jql"]
    assert listing["params"]["fields"] == "id" and listing["params"]["maxResults"] == "5000"
    values, single = fake.calls_to("/rest/api/3/issue/bulkfetch")
    # Labels for the labelled issues past the first page only; every other field for all 150 at once.
    assert values["body"]["fields"] == ["labels"]
    assert len(values["body"]["issueIdsOrKeys"]) == len([n for n in range(101, 251) if n % 7 == 0])
    assert len(single["body"]["issueIdsOrKeys"]) == 150 and set(single["body"]["fields"]) == needed - {"labels"}
    assert all(ident.isdigit() for call in (values, single) for ident in call["body"]["issueIdsOrKeys"])
    assert [n for n in range(1, 251) if workspace.issues[f"PAY-{n}"].labels == ("tech-debt",)] == \
        [n for n in range(1, 251) if n % 7 == 0]


def labels_of(workspace) -> dict:
    return {key: (issue.labels, dict(sorted(issue.fields.items()))) for key, issue in workspace.issues.items()}


def test_a_site_that_keeps_bulkfetch_at_100_is_read_as_before_and_says_so_once(caplog):
    efficient = scan(FakeJira(labelled_stories(2250)))
    fake = FakeJira(labelled_stories(2250))
    fake.bulkfetch_max = 100
    with caplog.at_level("WARNING", logger="govbot.jira"):
        refused = scan(fake)
    assert refused.complete and labels_of(refused) == labels_of(efficient)
    assert list(refused.issues) == list(efficient.issues)  # the parts read again keep their place
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    whole = [len(call["body"]["issueIdsOrKeys"]) for call in bulk if "labels" in call["body"]["fields"]
             and len(call["body"]["fields"]) > 1]
    assert sum(whole) == 2150 and max(whole) == 100  # every issue past the first page, 100 a request
    assert sum("refused a bulk read of 1,000" in record.getMessage() for record in caplog.records) == 1


class ClauseRefusingJira(FakeJira):
    """A site whose search does not take ``is not EMPTY``: a 400, and the read goes on as before."""

    def _matching(self, jql):
        if "is not EMPTY" in jql:
            from fakejira import JQLError

            raise JQLError("Error in the JQL Query: Expecting an operator.")
        return super()._matching(jql)


def test_a_refused_clause_reads_100_a_request_with_every_field():
    fake = ClauseRefusingJira(labelled_stories(250))
    workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 250
    assert [n for n in range(1, 251) if workspace.issues[f"PAY-{n}"].labels] == [n for n in range(1, 251) if n % 7 == 0]
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    assert [len(call["body"]["issueIdsOrKeys"]) for call in bulk] == [100, 50]
    assert all("labels" in call["body"]["fields"] for call in bulk)


class ForgetfulJira(FakeJira):
    """Leaves ``forgets`` out of bulkfetch answers (only those for ``forgets_in``, when named) without saying why:
    neither returned nor reported gone."""

    forgets = "PAY-180"
    forgets_in: list[str] | None = None

    def _bulkfetch(self, body):
        status, payload = super()._bulkfetch(body)
        if self.forgets_in is None or body.get("fields") == self.forgets_in:
            payload["issues"] = [i for i in payload["issues"] if i["key"] != self.forgets]
        return status, payload


@pytest.mark.parametrize("issues, forgets, forgets_in", [
    (labelled_stories(250), "PAY-140", ["labels"]),  # its labels are not known: not judged on a guess
    (stories(250), "PAY-180", None),
], ids=["labels", "issue"])
def test_an_issue_bulkfetch_leaves_out_unexplained_is_not_judged_and_the_read_is_incomplete(issues, forgets,
                                                                                        forgets_in):
    fake = ForgetfulJira(issues)
    fake.forgets, fake.forgets_in = forgets, forgets_in
    workspace = scan(fake)
    assert not workspace.complete and forgets not in workspace.issues and len(workspace.issues) == 249
    assert any("could not be read" in problem for problem in workspace.problems)


def test_a_site_without_bulkfetch_reads_the_listed_ids_by_search():
    fake = FakeJira(stories(250))
    fake.supports_bulkfetch = False
    workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 250
    by_id = [call for call in fake.searches() if call["params"]["jql"].startswith("id in (")]
    assert by_id and sum(call["params"]["jql"].count(",") + 1 for call in by_id) == 150


class DeletingJira(FakeJira):
    """An issue deleted between the listing and the bulk read: bulkfetch reports it gone."""

    def _bulkfetch(self, body):
        self.issues.pop("PAY-180", None)
        return super()._bulkfetch(body)


def test_an_issue_deleted_meanwhile_is_gone_not_missing():
    fake = DeletingJira(stories(250))
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


def test_answers_read_again_in_parts_keep_their_place_within_the_workers():
    handed = []
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def fetch(n):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        threading.Event().wait(0.1)  # long enough that three workers meet even on a loaded machine
        with lock:
            in_flight[0] -= 1
        return n

    def handle(n):
        if n == 2:  # too big: read again as three parts, handed on before 3
            pipeline.submit_next(fetch, [(2.1,), (2.2,), (2.3,)])
        else:
            handed.append(n)

    for workers in (1, 3):
        handed.clear()
        with Pipeline(workers, handle) as pipeline:
            for n in range(6):
                pipeline.submit(fetch, n)
            pipeline.finish()
        assert handed == [0, 1, 2.1, 2.2, 2.3, 3, 4, 5]
    assert most[0] == 3


def test_a_cloud_rescan_pages_its_changes_instead_of_listing_ids_first():
    from bot.sources.cursors import MemoryCursorStore

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


def test_a_site_where_nearly_every_issue_has_labels_is_read_100_a_request_as_that_costs_fewer_requests():
    """Split, labels would be read for almost every issue 100 a request and every issue again 1,000 a
    request; the first page shows it, and the plain read is taken (no extra request spent on listings)."""
    issues = [cloud_issue(f"PAY-{n}", "Story", labels=["team-a"] if n % 10 else []) for n in range(1, 2251)]
    fake = FakeJira(issues)
    workspace = scan(fake)
    assert workspace.complete and len(workspace.issues) == 2250
    assert [n for n in range(1, 2251) if workspace.issues[f"PAY-{n}"].labels] == [n for n in range(1, 2251) if n % 10]
    assert not any("is not EMPTY" in search["params"]["jql"] for search in fake.searches())
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    assert sorted(len(call["body"]["issueIdsOrKeys"]) for call in bulk) == [50] + [100] * 21  # four at once: any order
    assert all("labels" in call["body"]["fields"] for call in bulk)
    assert len(fake.searches()) + len(bulk) <= 2250 // 100 + 3  # within pages + 3

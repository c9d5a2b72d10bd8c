"""Jira webhooks: signed, bounded, never replayed, coalesced; a new epic without an outcome gets its owner
one DM within seconds through the ordinary nudge path (quiet hours respected); unsigned gets 401."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from bot.service.webhooks import Debouncer, WebhookReceiver, parse_event
from tests.fakes.slack_server import FakeSlack
from tests.service.conftest import wait_for
from tests.sources.fakejira import CLOUD_ENV, FakeJira, adf, cloud_issue, make_config, mock

SECRET = "whsec-test-0123456789"
MONDAY_MORNING = datetime(2026, 3, 30, 10, 0, tzinfo=timezone.utc)
MONDAY_NIGHT = datetime(2026, 3, 30, 22, 0, tzinfo=timezone.utc)

ALICE_IN_JIRA = {"accountId": "acc-alice", "displayName": "Alice", "emailAddress": "alice@example.com",
                 "active": True}


def created_body(key: str = "PAY-12", *, stamp: float | None = None) -> dict:
    """``jira:issue_created`` as Jira Cloud sends it (trimmed to the parts that matter)."""
    return {"timestamp": int((stamp or time.time()) * 1000), "webhookEvent": "jira:issue_created",
            "issue_event_type_name": "issue_created",
            "user": {"accountId": "acc-alice", "displayName": "Alice", "active": True},
            "issue": {"id": "10012", "self": "https://example.atlassian.net/rest/api/2/10012", "key": key,
                      "fields": {"summary": "Checkout revamp", "issuetype": {"name": "Epic", "hierarchyLevel": 1},
                                 "status": {"name": "To Do", "statusCategory": {"key": "new"}}}}}


def updated_body(key: str = "PAY-12", *, to_done: bool = False) -> dict:
    body = created_body(key)
    body.update(webhookEvent="jira:issue_updated", issue_event_type_name="issue_generic",
                changelog={"id": "10100", "items": [
                    {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "3",
                     "fromString": "In Progress", "to": "10001", "toString": "Done"} if to_done else
                    {"field": "summary", "fieldtype": "jira", "fieldId": "summary", "fromString": "Checkout",
                     "toString": "Checkout revamp"}]})
    if to_done:
        body["issue"]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    return body


def sign(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# -- the receiver ----------------------------------------------------------------------------------------

def receive(receiver: WebhookReceiver, body: dict | bytes, headers: dict | None = None, *, signed: bool = True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = dict(headers or {})
    if signed:
        headers.setdefault("X-Hub-Signature", sign(raw))
    return receiver.handle(headers, len(raw), lambda n: raw[:n])


def test_only_signed_fresh_first_deliveries_of_issue_events_are_queued():
    queue = Debouncer(0)
    receiver = WebhookReceiver(SECRET, max_bytes=10_000, queue=queue)
    assert receive(receiver, created_body(), signed=False)[0] == 401
    assert receive(receiver, created_body(), {"X-Hub-Signature": "sha256=" + "0" * 64})[0] == 401
    assert receive(receiver, created_body(), {"X-Hub-Signature": sign(b"other")})[0] == 401
    assert receive(receiver, created_body(), {"X-Hub-Signature": "sha1=" + "0" * 40})[0] == 401
    assert receiver.handle({}, 20_000, lambda n: pytest.fail("an oversized body is never read"))[0] == 413
    assert receiver.handle({}, None, lambda n: b"")[0] == 411
    assert len(queue) == 0
    first = created_body()
    assert receive(receiver, first, {"X-Atlassian-Webhook-Identifier": "d-1"}) == (202, "queued PAY-12")
    assert receive(receiver, first, {"X-Atlassian-Webhook-Identifier": "d-1"})[0] == 409  # replayed
    update = updated_body()
    assert receive(receiver, update)[0] == 202
    assert receive(receiver, update)[0] == 409  # the same body again, without an identifier
    assert receive(receiver, created_body(stamp=time.time() - 3600))[0] == 409  # an old delivery
    assert receive(receiver, {"webhookEvent": "comment_created", "comment": {}})[0] == 202  # ignored
    assert receive(receiver, b"not json")[0] == 400
    assert receive(receiver, {"webhookEvent": "jira:issue_created", "issue": {"key": "<script>"}})[0] == 202
    assert queue.take_due() == ["PAY-12"]


def test_real_shapes_parse_to_the_issue_and_whether_it_moved_to_done():
    assert parse_event(created_body("pay-7")).key == "PAY-7"
    assert parse_event(created_body()).kind == "created"
    assert parse_event(updated_body(to_done=True)).done is True
    assert parse_event(updated_body()).done is False
    deleted = {**created_body(), "webhookEvent": "jira:issue_deleted"}
    assert parse_event(deleted).kind == "deleted"


def test_a_flood_is_coalesced_per_issue_and_bounded():
    now = [0.0]
    queue = Debouncer(10, max_pending=3, clock=lambda: now[0])
    for second in range(8):  # eight edits of one issue, a second apart
        now[0] = float(second)
        queue.add("PAY-1")
    assert queue.take_due() == []
    now[0] = 17.5
    assert queue.take_due() == ["PAY-1"]
    for key in ("A-1", "A-2", "A-3"):
        assert queue.add(key)
    assert not queue.add("A-4") and queue.dropped == 1  # the scheduled scan is the safety net
    now[0] = 100.0
    assert queue.take_due() == ["A-1", "A-2", "A-3"]
    # An issue edited without pause is still checked, at most MAX_WAIT_FACTOR quiet periods after the first.
    for second in range(0, 60):
        now[0] = 200.0 + second
        queue.add("B-1")
        if queue.take_due():
            break
    assert now[0] - 200.0 == 50.0


# -- govbot serve, end to end ------------------------------------------------------------------------------

def post(url: str, raw: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json",
                                                                             **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def serve():
    running = []

    def start(rsps, slack: FakeSlack, clock: datetime):
        from bot.engine import load_rules
        from bot.runs.inputs import Inputs
        from bot.service import Service, load_settings

        jira = FakeJira([cloud_issue("PAY-12", "Epic", summary="Checkout revamp", description=adf(("p", "Intro")),
                                     assignee=ALICE_IN_JIRA)]).install(rsps)
        env = {**CLOUD_ENV, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url,
               "GOVBOT_WEBHOOK_SECRET": SECRET}
        config = make_config({"projects": ["PAY"]}, env=env,
                             extra="service: {health_port: 0, webhook_path: /jira/webhook, webhook_debounce: 0s, "
                                   "chat: false}\nstore: {audit_file: audit.jsonl}\n")
        service = Service(Inputs(config, load_rules(None, config)), load_settings(config), apply=True,
                          clock=lambda: clock)
        service.start()
        running.append(service)
        service.fake_jira = jira
        return service, f"{service.health_server.url}/jira/webhook"

    yield start
    for service in running:
        service.stop(timeout=10)


def test_a_signed_issue_created_webhook_gets_the_owner_one_dm_within_seconds_and_unsigned_gets_401(serve):
    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        service, url = serve(rsps, slack, MONDAY_MORNING)
        raw = json.dumps(created_body()).encode()
        assert post(url, raw, {}) == 401
        assert post(url, raw, {"X-Hub-Signature": "sha256=" + "f" * 64}) == 401
        assert service.webhooks.runner.runs == 0
        started = time.monotonic()
        assert post(url, raw, {"X-Hub-Signature": sign(raw), "X-Atlassian-Webhook-Identifier": "d-1"}) == 202
        assert wait_for(lambda: slack.posts_to_user("U0ALICE"))
        assert time.monotonic() - started < 10
        dm = slack.posts_to_user("U0ALICE")
        assert len(dm) == 1 and "PAY-12" in json.dumps(dm[0]["blocks"])
        assert "Add the anticipated outcome" in json.dumps(dm[0]["blocks"])
        # Edits that follow (a burst, then a status change) do not make a second message.
        for number, body in enumerate([updated_body(), updated_body(to_done=True)]):
            raw = json.dumps(body).encode()
            assert post(url, raw, {"X-Hub-Signature": sign(raw), "X-Atlassian-Webhook-Identifier": f"u-{number}"}) \
                == 202
        assert wait_for(lambda: service.webhooks.runner.runs >= 2)
        time.sleep(0.3)
        assert len(slack.posts_to_user("U0ALICE")) == 1
        assert post(url.replace("/jira/webhook", "/healthz"), raw, {}) == 405


def test_quiet_hours_hold_an_event_driven_nudge_as_they_hold_a_scheduled_one(serve):
    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        service, url = serve(rsps, slack, MONDAY_NIGHT)
        raw = json.dumps(created_body()).encode()
        assert post(url, raw, {"X-Hub-Signature": sign(raw)}) == 202
        assert wait_for(lambda: service.webhooks.runner.runs >= 1)
        time.sleep(0.3)
        assert slack.posts_to_user("U0ALICE") == []


def test_webhooks_are_off_by_default_and_need_their_secret():
    from bot.errors import ConfigError
    from bot.engine import load_rules
    from bot.runs.inputs import Inputs
    from bot.service import Service, load_settings
    from bot.service.webhooks import start_webhooks

    config = make_config({"projects": ["PAY"]})
    service = Service(Inputs(config, load_rules(None, config)), load_settings(config))
    assert start_webhooks(service) is None
    config = make_config({"projects": ["PAY"]}, extra="service: {webhook_path: /jira/webhook}\n")
    service = Service(Inputs(config, load_rules(None, config)), load_settings(config))
    with pytest.raises(ConfigError, match="GOVBOT_WEBHOOK_SECRET"):
        start_webhooks(service)


def test_an_epic_moved_to_done_gets_its_owner_one_message_about_the_review_date(serve):
    from tests.sources.fakejira import OUTCOME

    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        service, url = serve(rsps, slack, MONDAY_MORNING)
        # PAY-12 is now a finished epic with a measurable anticipated outcome and no actual outcome yet.
        service.fake_jira.issues["PAY-12"]["fields"].update({
            OUTCOME: "Cut checkout abandonment from 35% to 20% by Q3",
            "status": {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}},
            "resolutiondate": "2026-03-30T09:55:00.000+0000", "resolution": {"name": "Done"}})
        for number in range(2):  # Jira sends the status change, then (say) a second edit that also says Done
            raw = json.dumps(updated_body(to_done=True) | {"timestamp": int(time.time() * 1000) + number}).encode()
            assert post(url, raw, {"X-Hub-Signature": sign(raw), "X-Atlassian-Webhook-Identifier": f"d-{number}"}) \
                == 202
            assert wait_for(lambda: service.webhooks.runner.runs >= number + 1)
        assert wait_for(lambda: slack.posts_to_user("U0ALICE"))
        time.sleep(0.3)
        dms = slack.posts_to_user("U0ALICE")
        assert len(dms) == 1
        shown = json.dumps(dms[0]["blocks"])
        assert "is done" in shown and "Set the review date" in shown and "Add the anticipated outcome" not in shown


def test_webhook_answers_are_counted_by_status(serve):
    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        service, url = serve(rsps, slack, MONDAY_NIGHT)
        raw = json.dumps(created_body()).encode()
        assert post(url, raw, {}) == 401
        assert post(url, raw, {"X-Hub-Signature": sign(raw)}) == 202
        text = service.metrics.render()
        assert 'govbot_webhooks_total{status="401"} 1' in text and 'govbot_webhooks_total{status="202"} 1' in text


def test_a_deleted_issue_has_its_open_findings_resolved_once_jira_agrees(serve):
    from bot.store import open_store

    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        service, url = serve(rsps, slack, MONDAY_NIGHT)  # at night: recorded, not sent
        raw = json.dumps(created_body()).encode()
        assert post(url, raw, {"X-Hub-Signature": sign(raw)}) == 202
        assert wait_for(lambda: service.webhooks.runner.runs >= 1)
        with open_store(service.config, dry_run=True) as store:
            assert any(state.open for state in store.finding_states().values() if state.issue == "PAY-12")
        deleted = {**created_body(), "webhookEvent": "jira:issue_deleted", "timestamp": int(time.time() * 1000) + 1}
        raw = json.dumps(deleted).encode()
        # Jira still has it (a forged or mistaken delete): nothing is resolved.
        assert post(url, raw, {"X-Hub-Signature": sign(raw), "X-Atlassian-Webhook-Identifier": "x-1"}) == 202
        assert wait_for(lambda: service.webhooks.runner.runs >= 2)
        with open_store(service.config, dry_run=True) as store:
            assert any(state.open for state in store.finding_states().values() if state.issue == "PAY-12")
        del service.fake_jira.issues["PAY-12"]
        assert post(url, raw, {"X-Hub-Signature": sign(raw), "X-Atlassian-Webhook-Identifier": "x-2"}) == 202
        assert wait_for(lambda: service.webhooks.runner.runs >= 3)
        with open_store(service.config, dry_run=True) as store:
            states = [state for state in store.finding_states().values() if state.issue == "PAY-12"]
        assert states and not any(state.open for state in states)
        assert {state.resolved_as for state in states} == {"gone"}  # not counted as fixed


def test_the_same_event_checked_by_both_replicas_sends_one_message():
    # Each replica remembers the deliveries it saw in memory only; Jira's retry of a delivery may reach
    # the other one (the load balancer picks). Both then check the issue: the shared store decides what
    # is sent (the nudge's state and the outbox's run-independent dedupe key), so the owner hears once.
    from bot.engine import load_rules
    from bot.runs.inputs import Inputs
    from bot.service import Service, load_settings
    from bot.service.webhooks import check_and_deliver
    from tests.sources.fakejira import OUTCOME

    with mock() as rsps, FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        jira = FakeJira([cloud_issue("PAY-12", "Epic", summary="Checkout revamp", description=adf(("p", "Intro")),
                                     assignee=ALICE_IN_JIRA)]).install(rsps)
        env = {**CLOUD_ENV, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url,
               "GOVBOT_WEBHOOK_SECRET": SECRET}
        config = make_config({"projects": ["PAY"]}, env=env, extra="store: {audit_file: audit.jsonl}\n")
        replicas = [Service(Inputs(config, load_rules(None, config)), load_settings(config), apply=True,
                            clock=lambda: MONDAY_MORNING) for _ in range(2)]
        for replica in replicas:
            check_and_deliver(replica, ["PAY-12"])
        assert len(slack.posts_to_user("U0ALICE")) == 1
        # The epic moves to Done; both replicas hear of it: one message about the review date.
        jira.issues["PAY-12"]["fields"].update({
            OUTCOME: "Cut checkout abandonment from 35% to 20% by Q3",
            "status": {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}},
            "resolutiondate": "2026-03-30T09:55:00.000+0000", "resolution": {"name": "Done"}})
        for replica in replicas:
            check_and_deliver(replica, ["PAY-12"], done={"PAY-12"})
        dms = slack.posts_to_user("U0ALICE")
        assert len(dms) == 2 and "Set the review date" in json.dumps(dms[1]["blocks"])


def test_issues_whose_check_finds_the_store_busy_are_checked_again_not_dropped():
    from bot.service.webhooks import WebhookRunner
    from bot.store import StoreBusy

    queue = Debouncer(0)
    calls = []

    def process(keys, done, deleted):
        calls.append((keys, done, deleted))
        if len(calls) == 1:
            raise StoreBusy("another govbot deliver run is in progress on state.db")

    queue.add("PAY-1", done=True)
    queue.add("PAY-2", deleted=True)
    runner = WebhookRunner(queue, process, tick=0.01).start()
    try:
        assert wait_for(lambda: len(calls) >= 2)
    finally:
        runner.stop()
    assert calls[0] == calls[1] == (["PAY-1", "PAY-2"], {"PAY-1"}, {"PAY-2"})
    assert runner.runs == 1 and len(queue) == 0

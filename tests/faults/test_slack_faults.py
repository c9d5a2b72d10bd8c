"""Slack failing under a nudge run: 429 storms, outages, refusals, answers cut short.

Every test runs real HTTP against the loopback fake Slack (``tests/fakes/slack_server.py``)
and never really sleeps: the client's ``sleep`` records what it would have waited.
Afterwards the ledger is checked the same way each time (``ledger``): no message
was posted twice (each carries its dedupe key as Slack metadata), every row the
store calls ``sent`` is in Slack, every row still ``queued`` is not, and a later
healthy run delivers what was left, once.
"""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.batches import run_delivery
from bot.deliver.slack_client import SlackClient
from bot.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_NETWORK
from bot.store import Store, store_url
from tests.deliver.conftest import ALICE, BOB, CAROL, DAVE_NO_EMAIL, NOW, SLACK_USERS, TOKEN, audit_events, finding, \
    result, write_config
from tests.fakes.slack_server import FakeSlack

EVERYONE = ["#payments", "U0ALICE", "U0BOB", "U0CAROL"]


class FaultySlack(FakeSlack):
    """The fake Slack, plus: channels that refuse posts, and answers cut halfway through the body."""

    def __post_init__(self):
        super().__post_init__()
        self.refuse: dict[str, str] = {}      # channel -> Slack error code for chat.postMessage
        self.cut: dict[str, set[int]] = {}    # method -> which calls (1-based) get half an answer

    def _api_chat_postMessage(self, params):
        channel = params.get("channel")
        if channel in self.refuse:
            return {"ok": False, "error": self.refuse[channel]}
        return super()._api_chat_postMessage(params)

    def _reply(self, request, status, body, headers=None):
        method = request.path.split("?", 1)[0][len("/api/"):]
        if len(self.calls_to(method)) in self.cut.get(method, ()):
            data = json.dumps(body).encode("utf-8")
            try:
                request.send_response(status)
                request.send_header("Content-Type", "application/json; charset=utf-8")
                request.send_header("Content-Length", str(len(data)))
                request.end_headers()
                request.wfile.write(data[: len(data) // 2])
                request.wfile.flush()
                request.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            request.close_connection = True
            return
        super()._reply(request, status, body, headers)


@pytest.fixture
def fake():
    with FaultySlack(token=TOKEN, users=dict(SLACK_USERS)) as slack:
        yield slack


def findings():
    """Three people with email (one DM each) and one owner Jira hides (the team channel)."""
    return [finding("PAY-1", ALICE), finding("PAY-2", ALICE), finding("PAY-3", BOB), finding("PAY-4", CAROL),
            finding("PAY-5", DAVE_NO_EMAIL)]


def client(fake: FakeSlack, sleeps: list, **options) -> SlackClient:
    settings = {"timeout": 5, "channel_interval": 0, "max_retries": 4}
    settings.update(options)
    return SlackClient(TOKEN, fake.api_url, sleep=sleeps.append, **settings)


def deliver(config, slack: SlackClient, *, now=NOW):
    store = Store(store_url(config))
    try:
        return run_delivery(config, result(findings()), now=now, apply=True, store=store, slack=slack,
                            include_comments=False)
    finally:
        store.close()


def recipients(*fakes: FakeSlack) -> list[str]:
    return sorted(f.dm_user(p["channel"]) or p["channel"] for f in fakes for p in f.posts())


def ledger(config, *fakes: FakeSlack) -> dict[str, str]:
    """Check store and Slack agree; returns dedupe key -> status. Fails on any message posted twice."""
    keys = [p["metadata"]["event_payload"]["key"] for f in fakes for p in f.posts() if p.get("metadata")]
    assert len(keys) == len(set(keys)), f"a message was posted twice: {keys}"
    store = Store(store_url(config))
    try:
        rows = {row.dedupe_key: row.status for row in store.deliveries()}
    finally:
        store.close()
    for key, status in rows.items():
        if status == "sent":
            assert key in keys, f"{key} is marked sent but Slack never got it"
        elif status in ("queued", "failed", "cancelled", "merged"):
            assert key not in keys, f"{key} reached Slack but is still {status}"
    return rows


def settle(config, fake, *fakes_before):
    """A healthy run (an hour later) delivers what was left; then every message is in Slack exactly once."""
    sleeps: list[float] = []
    report = deliver(config, client(fake, sleeps), now=NOW + timedelta(hours=1))
    assert report.exit_code == EXIT_CLEAN, report.to_json()
    rows = ledger(config, *fakes_before, fake)
    assert set(rows.values()) == {"sent"}, rows
    assert recipients(*fakes_before, fake) == EVERYONE
    again = deliver(config, client(fake, sleeps), now=NOW + timedelta(hours=2))
    assert again.plan.messages == [] and not again.flushed.sent
    assert recipients(*fakes_before, fake) == EVERYONE
    return report


# -- 429 -------------------------------------------------------------------------------------------------

def test_a_429_storm_on_every_method_waits_exactly_retry_after(tmp_path, fake):
    config = write_config(tmp_path)
    for method in ("users.lookupByEmail", "conversations.open", "chat.postMessage"):
        fake.fail(method, status=429, retry_after=7, times=3)
    sleeps: list[float] = []
    report = deliver(config, client(fake, sleeps))
    assert report.exit_code == EXIT_CLEAN, report.to_json()
    assert sleeps == [7.0] * 9  # each 429 waited its Retry-After once, never more, never real
    assert recipients(fake) == EVERYONE
    assert set(ledger(config, fake).values()) == {"sent"}


@pytest.mark.parametrize("retry_after", [1, 3600])
def test_a_429_storm_longer_than_the_retries_keeps_every_message_queued(tmp_path, fake, retry_after):
    config = write_config(tmp_path)
    fake.fail("chat.postMessage", status=429, retry_after=retry_after, times=1000)
    sleeps: list[float] = []
    report = deliver(config, client(fake, sleeps))
    assert report.exit_code == EXIT_NETWORK
    assert fake.posts() == []
    # Retry-After within bounds: waited max_retries times; past slack's max wait: gives up at once.
    assert sleeps == ([1.0] * 4 if retry_after == 1 else [])
    # Slack is down for this run after the first refusal: one attempt, not one per message.
    assert len(fake.calls_to("chat.postMessage")) == (5 if retry_after == 1 else 1)
    assert set(ledger(config, fake).values()) == {"queued"}
    fake.clear_faults()
    settle(config, fake)


# -- outages ---------------------------------------------------------------------------------------------

class StopsAfter(SlackClient):
    """Slack goes away completely (connections refused) after ``n`` successful posts."""

    def __init__(self, *args, fake: FakeSlack, n: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fake, self.n = fake, n

    def post_message(self, *args, **kwargs):
        answer = super().post_message(*args, **kwargs)
        if len(self.fake.posts()) == self.n:
            self.fake.stop()
        return answer


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_full_outage_mid_run_loses_nothing_and_sends_nothing_twice(tmp_path, fake, n):
    config = write_config(tmp_path)
    sleeps: list[float] = []
    slack = StopsAfter(TOKEN, fake.api_url, sleep=sleeps.append, timeout=5, channel_interval=0, max_retries=2,
                       fake=fake, n=n)
    report = deliver(config, slack)
    assert report.exit_code == EXIT_NETWORK
    assert len(fake.posts()) == n
    rows = ledger(config, fake)
    assert sorted(rows.values()) == ["queued"] * (4 - n) + ["sent"] * n
    assert len(report.flushed.pending) == 4 - n and report.flushed.unreachable
    assert sleeps and max(sleeps) <= 30  # backed off on the injected clock
    with FaultySlack(token=TOKEN, users=dict(SLACK_USERS)) as back:
        settle(config, back, fake)


def test_server_errors_on_every_post_leave_messages_in_doubt_then_settled_once(tmp_path, fake):
    config = write_config(tmp_path)
    fake.fail("chat.postMessage", status=503, times=1000)
    report = deliver(config, client(fake, []))
    assert report.exit_code == EXIT_NETWORK
    # The first 503 might have been posted: in doubt, never blindly resent; Slack is then down for the run.
    assert len(report.flushed.in_doubt) == 1 and len(report.flushed.pending) == 3
    assert sorted(ledger(config, fake).values()) == ["queued"] * 3 + ["sending"]
    fake.clear_faults()
    follow = settle(config, fake)
    assert len(follow.settled.resent) == 1  # Slack's history said it never arrived: sent now, once
    assert follow.settled.repeats == []      # proved absent, so not marked as a possible repeat


# -- ok: false -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived"])
def test_a_refused_channel_keeps_its_message_queued_and_exits_2(tmp_path, fake, code):
    config = write_config(tmp_path)
    fake.refuse["#payments"] = code
    report = deliver(config, client(fake, []))
    assert report.exit_code == EXIT_ERROR
    assert recipients(fake) == ["U0ALICE", "U0BOB", "U0CAROL"]  # the DMs still went
    [(entry, error)] = report.flushed.blocked
    assert entry.recipient == "#payments" and code in error
    assert ledger(config, fake)[entry.dedupe_key] == "queued"
    # Not fixed yet: still queued, still exit 2, nothing else posted.
    again = deliver(config, client(fake, []), now=NOW + timedelta(minutes=30))
    assert again.exit_code == EXIT_ERROR and recipients(fake) == ["U0ALICE", "U0BOB", "U0CAROL"]
    fake.refuse.clear()  # the admin invited the app / fixed the channel
    settle(config, fake)


def test_a_refused_dm_fails_alone_and_is_not_retried_forever(tmp_path, fake):
    """A DM channel Slack will not take (a deactivated user) is nobody's to fix: it fails, the rest go."""
    config = write_config(tmp_path)
    fake.refuse["D0ALICE"] = "channel_not_found"
    report = deliver(config, client(fake, []))
    assert not report.flushed.blocked and [e.recipient for e, _ in report.flushed.failed] == ["U0ALICE"]
    assert recipients(fake) == ["#payments", "U0BOB", "U0CAROL"]
    assert sorted(ledger(config, fake).values()) == ["failed", "sent", "sent", "sent"]


def test_invalid_auth_mid_run_stops_keeps_the_rest_queued_and_exits_2(tmp_path, fake):
    config = write_config(tmp_path)

    class RevokedAfterFirst(SlackClient):
        def post_message(self, *args, **kwargs):
            answer = super().post_message(*args, **kwargs)
            fake.token = "xoxb-rotated"  # the token was revoked under us
            revoked_at.append(len(fake.calls))
            return answer

    revoked_at: list[int] = []

    slack = RevokedAfterFirst(TOKEN, fake.api_url, sleep=[].append, timeout=5, channel_interval=0)
    report = deliver(config, slack)
    assert report.exit_code == EXIT_ERROR and report.flushed.fatal
    assert "invalid_auth" in report.flushed.fatal[0]
    assert len(fake.posts()) == 1
    assert sorted(ledger(config, fake).values()) == ["queued"] * 3 + ["sent"]
    # One invalid_auth stops Slack for the run: no hammering with a bad token.
    assert len(fake.calls) == revoked_at[0] + 1
    fake.token = TOKEN
    settle(config, fake)


# -- answers cut mid-body --------------------------------------------------------------------------------

def test_a_post_whose_answer_is_cut_is_in_doubt_then_confirmed_not_resent(tmp_path, fake):
    config = write_config(tmp_path)
    fake.cut["chat.postMessage"] = {2}  # Slack took the 2nd message, the answer died halfway
    report = deliver(config, client(fake, []))
    assert report.exit_code == EXIT_NETWORK
    assert len(report.flushed.in_doubt) == 1 and len(fake.posts()) == 2
    rows = ledger(config, fake)
    assert sorted(rows.values()) == ["queued", "queued", "sending", "sent"]
    fake.cut.clear()
    follow = settle(config, fake)
    # Found in history: confirmed, not resent; the other two simply went.
    assert len(follow.settled.sent) == 1 and not follow.settled.resent and len(follow.flushed.sent) == 2


@pytest.mark.parametrize("method", ["users.lookupByEmail", "conversations.open", "conversations.history"])
def test_cut_answers_to_safe_calls_are_retried(tmp_path, fake, method):
    config = write_config(tmp_path)
    if method == "conversations.history":
        fake.cut["chat.postMessage"] = {1}   # leaves one post in doubt, so the next run reads history
        deliver(config, client(fake, []))
        fake.cut = {method: {1, 2}}
        follow = settle(config, fake)
        assert len(follow.settled.sent) + len(follow.flushed.sent) == 4 and not follow.settled.resent
        return
    fake.cut[method] = {1, 2}
    sleeps: list[float] = []
    report = deliver(config, client(fake, sleeps))
    assert report.exit_code == EXIT_CLEAN, report.to_json()
    assert sleeps == [2, 4]  # two retries, backing off on the injected clock
    assert recipients(fake) == EVERYONE and set(ledger(config, fake).values()) == {"sent"}


# -- the command -----------------------------------------------------------------------------------------

def test_the_command_reports_each_fault_with_its_exit_code(tmp_path, fake, monkeypatch):
    from tests.deliver.test_nudge_cli import default_issues, snapshot
    from tests.deliver.test_nudge_cli import write_config as write_cli_config

    sleeps: list[float] = []
    original = SlackClient.from_config.__func__
    monkeypatch.setattr(SlackClient, "from_config",
                        classmethod(lambda cls, config, **kw: original(cls, config, sleep=sleeps.append, **kw)))
    write_cli_config(tmp_path)
    snap = str(snapshot(tmp_path, default_issues()))
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url}

    def nudge(now: str):
        return CliRunner().invoke(cli, ["nudge", "--apply", "--snapshot", snap, "--now", now, "--config",
                                        "govbot.yaml"], env=env, catch_exceptions=False)

    fake.fail("chat.postMessage", status=429, retry_after=5, times=100)
    storm = nudge("2026-03-31")
    assert storm.exit_code == 3 and "not sent now (will retry next run)" in storm.output
    assert storm.stderr.strip().splitlines() == [
        "govbot: Slack or Jira is unreachable (slack_dm to U0ALICE: rate_limited: Slack asked to wait 5s); "
        "4 messages wait for the next run"]
    assert "Traceback" not in storm.output and fake.posts() == [] and sleeps == [5.0]  # max_retries: 1
    fake.clear_faults()
    fake.refuse["#payments"] = "not_in_channel"
    refused = nudge("2026-03-31")
    assert refused.exit_code == 2, refused.output
    assert "kept queued, Slack refused the channel" in refused.output and "invite the govbot app" in refused.output
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("govbot: Slack refused #payments: not_in_channel") and "stays queued" in line
    fake.refuse.clear()
    fake.token = "xoxb-other"
    bad = nudge("2026-03-31")
    assert bad.exit_code == 2 and "refused govbot's credentials" in bad.output and "Traceback" not in bad.output
    fake.token = TOKEN
    done = nudge("2026-03-31")
    assert done.exit_code == 0, done.output
    assert recipients(fake) == EVERYONE
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts()]
    assert len(keys) == len(set(keys)) == 4


# -- one message per person, whatever is queued ------------------------------------------------------------

def posted_issues(post: dict) -> list[str]:
    import re

    from bot.deliver.slack import all_texts

    return sorted(set(re.findall(r"\|(PAY-\d+)>", "\n".join(all_texts(post)))))


def test_after_a_slack_outage_each_person_hears_once_per_run_with_everything(tmp_path, fake):
    """Run 1 queues (Slack rate-limits for an hour), run 2 an hour later adds news during the outage,
    run 3 a week later (Slack back, reminders due): one message per person, each item once."""
    config = write_config(tmp_path)
    fake.fail("chat.postMessage", status=429, retry_after=3600, times=1000)
    assert deliver(config, client(fake, [])).exit_code == EXIT_NETWORK
    news = findings() + [finding("PAY-6", ALICE), finding("PAY-7", BOB)]
    store = Store(store_url(config))
    try:
        second = run_delivery(config, result(news), now=NOW + timedelta(hours=1), apply=True, store=store,
                              slack=client(fake, []), include_comments=False)
    finally:
        store.close()
    assert second.exit_code == EXIT_NETWORK and fake.posts() == []
    # Alice's and Bob's news went into one message each with what was queued for them.
    assert sorted(m.person for m, ids in second.submitted.merged if ids) == ["acc-alice", "acc-bob"]
    fake.clear_faults()
    store = Store(store_url(config))
    try:
        third = run_delivery(config, result(news), now=NOW + timedelta(days=7), apply=True, store=store,
                             slack=client(fake, []), include_comments=False)
        statuses = sorted(row.status for row in store.deliveries())
    finally:
        store.close()
    assert third.exit_code == EXIT_CLEAN, third.to_json()
    assert sorted(recipients(fake)) == EVERYONE  # one message each, not one per run that queued it
    by_person = {fake.dm_user(p["channel"]) or p["channel"]: p for p in fake.posts()}
    assert posted_issues(by_person["U0ALICE"]) == ["PAY-1", "PAY-2", "PAY-6"]
    assert posted_issues(by_person["U0BOB"]) == ["PAY-3", "PAY-7"]
    # They never got the first nudge: a reminder would not make sense. It stays a first nudge.
    from bot.deliver.slack import all_texts
    assert "reminder" not in "\n".join(all_texts(by_person["U0ALICE"])).lower()
    assert statuses.count("merged") >= 2 and "queued" not in statuses and "sending" not in statuses
    merges = [e for e in audit_events(tmp_path) if e["event"] == "delivery.merged"]
    assert merges and all(e["merged"] and e["into"] for e in merges)
    ledger(config, fake)
    again = deliver(config, client(fake, []), now=NOW + timedelta(days=7, hours=1))
    assert again.plan.messages == [] and len(fake.posts()) == 4


def test_two_leftovers_for_one_person_go_as_one_message(tmp_path, fake):
    config = write_config(tmp_path)
    fake.fail("chat.postMessage", status=429, retry_after=3600, times=1000)
    store = Store(store_url(config))
    try:
        for hours, scan in ((0, [finding("PAY-1", ALICE)]), (1, [finding("PAY-1", ALICE), finding("PAY-2", ALICE)])):
            # Two runs queue a DM each for Alice; the second folds the first in already.
            run_delivery(config, result(scan), now=NOW + timedelta(hours=hours), apply=True, store=store,
                         slack=client(fake, []), include_comments=False)
        fake.clear_faults()
        report = run_delivery(config, result([finding("PAY-1", ALICE), finding("PAY-2", ALICE)]),
                              now=NOW + timedelta(hours=2), apply=True, store=store, slack=client(fake, []),
                              include_comments=False)
    finally:
        store.close()
    assert report.exit_code == EXIT_CLEAN
    [post] = fake.posts()
    assert posted_issues(post) == ["PAY-1", "PAY-2"]


def test_queued_leftovers_wait_for_the_end_of_quiet_days_and_hours(tmp_path, fake):
    """Queued on a Friday during an outage; Slack is back on Saturday: nothing goes until Monday."""
    from datetime import datetime, timezone

    config = write_config(tmp_path)
    friday = datetime(2026, 4, 3, 12, 0, tzinfo=timezone.utc)
    fake.fail("chat.postMessage", status=429, retry_after=3600, times=1000)
    assert deliver(config, client(fake, []), now=friday).exit_code == EXIT_NETWORK
    fake.clear_faults()
    saturday = datetime(2026, 4, 4, 10, 0, tzinfo=timezone.utc)  # 11:00 in London
    weekend = deliver(config, client(fake, []), now=saturday)
    assert fake.posts() == [] and weekend.exit_code == EXIT_CLEAN
    assert len(weekend.flushed.deferred) == 4
    assert all("quiet day (Saturday in Europe/London)" == why for _, why in weekend.flushed.deferred)
    late = deliver(config, client(fake, []), now=datetime(2026, 4, 6, 19, 30, tzinfo=timezone.utc))  # Mon 20:30
    assert fake.posts() == [] and late.flushed.deferred and "quiet hours" in late.flushed.deferred[0][1]
    monday = deliver(config, client(fake, []), now=datetime(2026, 4, 7, 8, 0, tzinfo=timezone.utc))  # Tue 09:00
    assert monday.exit_code == EXIT_CLEAN and recipients(fake) == EVERYONE


def test_a_dm_conversation_is_opened_once_per_person_not_every_run(tmp_path, fake):
    config = write_config(tmp_path)
    deliver(config, client(fake, []))
    deliver(config, client(fake, []), now=NOW + timedelta(days=7))  # the reminders
    assert len(fake.posts()) == 8
    assert sorted(call.params["users"] for call in fake.calls_to("conversations.open")) == [
        "U0ALICE", "U0BOB", "U0CAROL"]


def test_owners_of_rules_that_do_not_nudge_are_never_looked_up(tmp_path, fake):
    from bot.model import User

    config = write_config(tmp_path)
    erin = User(account_id="acc-erin", display_name="Erin Example", email="erin@example.com")
    scan = result(findings() + [finding("PAY-8", erin, rule_id="work-hierarchy-unmapped-type"),
                                finding("PAY-9", erin, waived=True)])
    deliver(config, client(fake, []))
    store = Store(store_url(config))
    try:
        run_delivery(config, scan, now=NOW + timedelta(hours=1), apply=True, store=store, slack=client(fake, []),
                     include_comments=False)
    finally:
        store.close()
    looked_up = [call.params["email"] for call in fake.calls_to("users.lookupByEmail")]
    assert "erin@example.com" not in looked_up and len(looked_up) == 3

"""Delivery runs against the fake Slack: the issue's Done-when list, in process."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.batches import run_delivery
from bot.deliver.slack import all_texts
from bot.deliver.slack_client import SlackClient
from bot.store import Store, store_url
from tests.deliver.conftest import (ALICE, BOB, CAROL, DAVE_NO_EMAIL, NOW, TOKEN, audit_events, finding, result,
                                    write_config)


def deliver(config, scan, *, now=NOW, slack=None, fake=None, apply=True, **kwargs):
    if slack is None and fake is not None:
        slack = SlackClient(TOKEN, fake.api_url, sleep=lambda s: None, timeout=5, channel_interval=0, max_retries=1)
    store = Store(store_url(config))
    try:
        return run_delivery(config, scan, now=now, apply=apply, store=store, slack=slack,
                            include_comments=False, **kwargs)
    finally:
        store.close()


def three_owners():
    return [finding("PAY-1", ALICE), finding("PAY-2", ALICE), finding("PAY-3", BOB),
            finding("PAY-4", CAROL), finding("PAY-5", ALICE, rule_id="tech-debt-agreement-incomplete")]


def test_first_run_nudges_each_owner_once_with_all_their_findings(tmp_path, fake_slack):
    config = write_config(tmp_path)
    report = deliver(config, result(three_owners()), fake=fake_slack)
    assert report.exit_code == 0
    posts = fake_slack.posts()
    assert sorted(fake_slack.dm_user(p["channel"]) for p in posts) == ["U0ALICE", "U0BOB", "U0CAROL"]
    alice = fake_slack.posts_to_user("U0ALICE")[0]
    text = "\n".join(all_texts(alice))
    for key in ("PAY-1", "PAY-2", "PAY-5"):
        assert key in text
    assert "PAY-3" not in text
    # Coaching tone, the issue link, how to fix and how to waive.
    assert "What are we hoping to achieve?" in text
    assert "<https://example.atlassian.net/browse/PAY-1|PAY-1>" in text
    assert "How to fix" in text and "govbot-waive-anticipated-outcome-missing" in text
    events = [e["event"] for e in audit_events(tmp_path)]
    assert events.count("delivery.sent") == 3 and events.count("delivery.queued") == 3


def test_immediate_second_run_sends_nothing(tmp_path, fake_slack):
    config = write_config(tmp_path)
    deliver(config, result(three_owners()), fake=fake_slack)
    before = len(fake_slack.posts())
    report = deliver(config, result(three_owners()), fake=fake_slack, now=NOW + timedelta(hours=1))
    assert len(fake_slack.posts()) == before
    assert report.plan.messages == [] and report.plan.skipped["not due yet"] == 5


def test_one_reminder_after_the_interval_then_capped_then_escalated(tmp_path, fake_slack):
    config = write_config(tmp_path, {"nudges": {"max_reminders": 2}})
    findings = [finding("PAY-1", ALICE), finding("PAY-2", ALICE)]
    deliver(config, result(findings), fake=fake_slack)
    deliver(config, result(findings), fake=fake_slack, now=NOW + timedelta(days=6))
    assert len(fake_slack.posts_to_user("U0ALICE")) == 1
    deliver(config, result(findings), fake=fake_slack, now=NOW + timedelta(days=7))
    posts = fake_slack.posts_to_user("U0ALICE")
    assert len(posts) == 2
    assert "reminder 1 of 2" in posts[1]["blocks"][3]["text"]["text"] + posts[1]["blocks"][4]["text"]["text"]
    deliver(config, result(findings), fake=fake_slack, now=NOW + timedelta(days=14))
    assert len(fake_slack.posts_to_user("U0ALICE")) == 3
    # The cap is reached: the next due time escalates to the team channel, without mentions.
    deliver(config, result(findings), fake=fake_slack, now=NOW + timedelta(days=21))
    assert len(fake_slack.posts_to_user("U0ALICE")) == 3
    channel_posts = [p for p in fake_slack.posts() if p["channel"] == "#payments"]
    assert len(channel_posts) == 1
    assert "still open after 2 reminders" in "\n".join(all_texts(channel_posts[0]))
    assert "U0ALICE" not in str(channel_posts[0]["blocks"])
    deliver(config, result(findings), fake=fake_slack, now=NOW + timedelta(days=60))
    assert len(fake_slack.posts()) == 4  # and then it stops asking


def test_hostile_summary_cannot_ping_or_mislead(tmp_path, fake_slack):
    config = write_config(tmp_path)
    hostile = "<!channel> urgent <!here|x> <@U0BOB> <https://evil.example|click here> & <#C123>"
    deliver(config, result([finding("PAY-1", ALICE, summary=hostile)]), fake=fake_slack)
    (post,) = fake_slack.posts()
    for text in all_texts(post):
        assert "<!" not in text and "<@" not in text and "<#" not in text
        assert "<https://evil" not in text
    assert "&lt;!channel&gt;" in "\n".join(all_texts(post))
    params = post["params"]
    assert "link_names" not in params and params.get("parse") in (None, "none")
    for block in post["blocks"]:
        for element in [block.get("text")] + block.get("elements", []):
            if element and element.get("type") == "mrkdwn":
                assert element.get("verbatim") is True


def test_unmapped_owner_goes_to_team_channel_without_mention_and_is_listed(tmp_path, fake_slack):
    config = write_config(tmp_path)
    report = deliver(config, result([finding("PAY-1", DAVE_NO_EMAIL), finding("PAY-2", None)]), fake=fake_slack)
    (post,) = fake_slack.posts()
    assert post["channel"] == "#payments"
    assert "<@" not in str(post["blocks"]) and "Dave" not in str(post["blocks"])
    assert report.plan.unmapped["acc-dave"]["findings"] == 1
    assert fake_slack.calls_to("users.lookupByEmail") == []  # no email: no lookup, never by display name


def test_user_map_file_wins_and_email_lookups_are_cached(tmp_path, fake_slack):
    (tmp_path / "users.yaml").write_text("acc-dave: U0DAVE\n")
    config = write_config(tmp_path, {"slack": {"user_map_file": "users.yaml"}})
    findings = [finding("PAY-1", DAVE_NO_EMAIL), finding("PAY-2", ALICE)]
    deliver(config, result(findings), fake=fake_slack)
    assert sorted(fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()) == ["U0ALICE", "U0DAVE"]
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
    deliver(config, result(findings + [finding("PAY-3", ALICE)]), fake=fake_slack, now=NOW + timedelta(days=1))
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1  # cached in the store


def test_rule_opt_out_and_waived_findings_never_nudge(tmp_path, fake_slack):
    config = write_config(tmp_path)
    findings = [finding("PAY-1", ALICE, rule_id="work-hierarchy-unmapped-type"),
                finding("PAY-2", ALICE, waived=True)]
    report = deliver(config, result(findings), fake=fake_slack)
    assert fake_slack.posts() == []
    assert report.plan.skipped == {"rule opted out of nudges": 1, "waived": 1}


def test_quiet_days_and_hours_in_the_team_time_zone(tmp_path, fake_slack):
    config = write_config(tmp_path)
    findings = [finding("PAY-1", ALICE, team="payments"), finding("PLAT-1", BOB, team="platform")]
    # 12:00 UTC on a Tuesday is 07:00... no: 08:00 in New York (EDT) - just outside quiet hours;
    # 11:30 UTC is 07:30 EDT: fine too. 23:30 UTC is 00:30 in London: quiet there, 19:30 in New York: quiet.
    late = NOW.replace(hour=21, minute=30)  # 22:30 London (quiet), 17:30 New York (working)
    report = deliver(config, result(findings), fake=fake_slack, now=late)
    assert [fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()] == ["U0BOB"]
    assert [(f.issue, why.split(" (")[0]) for f, why in report.plan.deferred] == [("PAY-1", "quiet hours")]
    saturday = NOW + timedelta(days=4)
    report = deliver(config, result(findings + [finding("PAY-9", CAROL)]), fake=fake_slack, now=saturday)
    assert len(fake_slack.posts()) == 1
    assert {why.split(" (")[0] for _, why in report.plan.deferred} == {"quiet day"}
    # Next working morning the deferred items go out.
    deliver(config, result(findings + [finding("PAY-9", CAROL)]), fake=fake_slack, now=NOW + timedelta(days=6))
    assert sorted(fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()) == ["U0ALICE", "U0BOB", "U0CAROL"]


def test_dry_run_sends_nothing_and_records_nothing(tmp_path, fake_slack):
    config = write_config(tmp_path)
    report = deliver(config, result(three_owners()), fake=fake_slack, apply=False)
    assert len(report.plan.messages) == 3
    # Owners are resolved as --apply would (read-only lookups), and nothing else is asked.
    assert {call.method for call in fake_slack.calls} == {"users.lookupByEmail"} and fake_slack.posts() == []
    store = Store(store_url(config))
    try:
        assert store.cached_slack_user("acc-alice") is None and store.deliveries() == []  # nothing recorded
    finally:
        store.close()
    report = deliver(config, result(three_owners()), fake=fake_slack)
    assert len(fake_slack.posts()) == 3  # the dry run did not use up the first nudges


def test_killed_mid_run_then_rerun_sends_each_message_exactly_once(tmp_path, fake_slack, monkeypatch):
    config = write_config(tmp_path)
    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    real_post = slack.post_message
    sent = []

    def dying_post(*args, **kwargs):
        if len(sent) == 1:
            raise KeyboardInterrupt("killed")  # the process dies after one message went out
        sent.append(args)
        return real_post(*args, **kwargs)

    monkeypatch.setattr(slack, "post_message", dying_post)
    with pytest.raises(KeyboardInterrupt):
        deliver(config, result(three_owners()), slack=slack)
    assert len(fake_slack.posts()) == 1
    report = deliver(config, result(three_owners()), fake=fake_slack, now=NOW + timedelta(minutes=5))
    users = sorted(fake_slack.dm_user(p["channel"]) for p in fake_slack.posts())
    assert users == ["U0ALICE", "U0BOB", "U0CAROL"]
    assert report.plan.messages == []  # nothing new planned: the rerun only finished the queue
    # Killed before its request went out: it was claimed only at the request, so it was plainly
    # queued, not in doubt, and simply went now.
    assert report.settled.resent == [] and len(report.flushed.sent) == 2


def test_in_doubt_message_that_arrived_is_not_sent_again(tmp_path, fake_slack):
    config = write_config(tmp_path)
    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    real_post = slack.post_message

    def post_then_die(*args, **kwargs):
        real_post(*args, **kwargs)
        raise KeyboardInterrupt("killed after Slack accepted it, before it was marked sent")

    slack.post_message = post_then_die
    with pytest.raises(KeyboardInterrupt):
        deliver(config, result([finding("PAY-1", ALICE)]), slack=slack)
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    assert len(fake_slack.posts()) == 1
    assert len(report.settled.sent) == 1  # confirmed through conversations.history metadata


@pytest.mark.parametrize("resend", [True, False])
def test_in_doubt_without_history_access_is_resent_once_marked_unless_told_not_to(tmp_path, fake_slack, resend):
    fake_slack.scopes.discard("im:history")  # the app was installed without the history scopes
    config = write_config(tmp_path, {"slack": {"resend_unconfirmed": resend}})
    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    real_post = slack.post_message

    def post_then_die(*args, **kwargs):
        real_post(*args, **kwargs)
        raise KeyboardInterrupt

    slack.post_message = post_then_die
    with pytest.raises(KeyboardInterrupt):
        deliver(config, result([finding("PAY-1", ALICE)]), slack=slack)
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    assert report.settled.history_problem == ["missing_scope (needs im:history)"]
    events = [e["event"] for e in audit_events(tmp_path)]
    if not resend:
        assert len(fake_slack.posts()) == 1 and len(report.settled.unconfirmed) == 1
        assert "delivery.unconfirmed" in events
        return
    # One possible duplicate that says so beats a silent loss.
    first, again = fake_slack.posts()
    assert len(report.settled.repeats) == 1 and report.exit_code == 0
    assert "In case you missed this" not in "\n".join(all_texts(first))
    assert "In case you missed this" in "\n".join(all_texts(again)) and again["text"].startswith("(in case")
    assert first["metadata"] == again["metadata"]
    assert "delivery.requeued" in events
    follow = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack, now=NOW + timedelta(hours=1))
    assert len(fake_slack.posts()) == 2 and follow.plan.messages == []  # once, not again and again


def test_slack_down_keeps_messages_queued_for_the_next_run(tmp_path, fake_slack):
    config = write_config(tmp_path)
    fake_slack.fail("chat.postMessage", status=500, times=10)
    report = deliver(config, result(three_owners()), fake=fake_slack)
    assert report.exit_code == 3
    assert fake_slack.posts() == []
    # The first post failed on Slack's side (in doubt, not retried); the rest were not tried.
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(report.flushed.pending) == 2 and len(report.flushed.in_doubt) == 1
    # The report's counts add up to what standard error says is waiting (3).
    from bot.render.nudge import render_nudge_report

    assert "still queued 2; in doubt 1 (checked before any resend);" in render_nudge_report(report)
    assert "3 messages wait for the next run" in report.problem()
    fake_slack.clear_faults()
    report = deliver(config, result(three_owners()), fake=fake_slack, now=NOW + timedelta(hours=1))
    assert report.exit_code == 0
    assert len(report.settled.resent) == 1  # Slack's history showed the one in doubt had not arrived
    assert report.settled.repeats == []     # proved absent: resent as it was, unmarked
    assert sorted(fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()) == ["U0ALICE", "U0BOB", "U0CAROL"]


@pytest.mark.parametrize("kind", ["dm", "channel"])
def test_a_post_slack_made_but_answered_with_a_server_error_is_sent_once(tmp_path, fake_slack, kind):
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    config = write_config(tmp_path)
    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    real_post = slack.web.chat_postMessage

    def posted_then_500(**kwargs):
        real_post(**kwargs)
        slack.web.chat_postMessage = real_post  # Slack is healthy again afterwards
        data = {"ok": False, "error": "internal_error"}
        raise SlackApiError("internal_error", SlackResponse(client=slack.web, http_verb="POST", api_url="",
                                                            req_args={}, data=data, headers={}, status_code=500))

    owner = ALICE if kind == "dm" else DAVE_NO_EMAIL
    before = []
    if kind == "channel":
        # A channel named #payments in config: its conversation id is learnt from the first post there.
        deliver(config, result([finding("PAY-9", owner)]), fake=fake_slack, now=NOW - timedelta(days=1))
        before = fake_slack.posts()
    slack.web.chat_postMessage = posted_then_500
    scan = result([finding("PAY-1", owner)] + ([finding("PAY-9", owner)] if before else []))
    report = deliver(config, scan, slack=slack)
    assert report.exit_code == 3 and len(fake_slack.posts()) == len(before) + 1  # never posted twice blindly
    report = deliver(config, scan, fake=fake_slack, now=NOW + timedelta(minutes=5))
    assert report.exit_code == 0 and len(fake_slack.posts()) == len(before) + 1
    assert len(report.settled.sent) == 1  # confirmed through conversations.history metadata
    [lookup] = fake_slack.calls_to("conversations.history")
    assert lookup.params["channel"] == ("D0ALICE" if kind == "dm" else "CPAYMENTS")  # an id, never a #name


def test_a_first_post_to_a_channel_known_only_by_name_is_resent_once_marked_when_in_doubt(tmp_path, fake_slack):
    """Slack's history needs a channel id; #payments has none yet before govbot first posts there."""
    config = write_config(tmp_path)
    fake_slack.fail("chat.postMessage", status=500)  # Slack took it, then answered with an error?
    scan = result([finding("PAY-1", DAVE_NO_EMAIL)])
    assert deliver(config, scan, fake=fake_slack).exit_code == 3
    report = deliver(config, scan, fake=fake_slack, now=NOW + timedelta(minutes=5))
    assert report.exit_code == 0 and len(report.settled.repeats) == 1
    [post] = fake_slack.posts()  # (the fake really had not posted it: the one post says it may be a repeat)
    assert post["text"].startswith("(in case you missed this)")


def test_slack_unreachable_is_exit_3_and_nothing_lost(tmp_path, fake_slack):
    config = write_config(tmp_path)
    deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)  # warms the email cache
    dead = SlackClient(TOKEN, "http://127.0.0.1:9/api/", sleep=lambda s: None, timeout=2, channel_interval=0,
                       max_retries=1)
    report = deliver(config, result([finding("PAY-1", ALICE), finding("PAY-2", ALICE)]), slack=dead,
                     now=NOW + timedelta(hours=1))
    assert report.exit_code == 3 and len(report.flushed.pending) == 1
    deliver(config, result([finding("PAY-1", ALICE), finding("PAY-2", ALICE)]), fake=fake_slack,
            now=NOW + timedelta(hours=2))
    assert len(fake_slack.posts()) == 2


def test_queued_message_whose_findings_were_fixed_is_cancelled(tmp_path, fake_slack):
    config = write_config(tmp_path)
    fake_slack.fail("chat.postMessage", status=503, times=10)
    deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    fake_slack.clear_faults()
    # Next run: PAY-1 was read and is fixed.
    report = deliver(config, result([], read=["PAY-1"]), fake=fake_slack, now=NOW + timedelta(hours=1))
    assert fake_slack.posts() == []
    assert len(report.flushed.cancelled) == 1
    store = Store(store_url(config))
    assert [d.status for d in store.deliveries()] == ["cancelled"]


def test_a_run_that_would_spam_trips_the_breaker(tmp_path, fake_slack):
    config = write_config(tmp_path, {"nudges": {"breaker": {"max_people": 5}}})
    fake_slack.users.update({f"user{n}@example.com": f"U0USER{n}" for n in range(8)})
    from bot.model import User

    people = [User(account_id=f"acc-{n}", email=f"user{n}@example.com") for n in range(8)]
    report = deliver(config, result([finding(f"PAY-{n}", person) for n, person in enumerate(people)]),
                     fake=fake_slack)
    assert report.held and report.exit_code == 1
    posts = fake_slack.posts()
    assert [p["channel"] for p in posts] == ["#govbot-admins"]
    assert "held" in posts[0]["text"] and "8 people" in posts[0]["text"]
    # Nothing was used up: an admin can let it through once.
    report = deliver(config, result([finding(f"PAY-{n}", person) for n, person in enumerate(people)]),
                     fake=fake_slack, override_breaker=True, now=NOW + timedelta(hours=1))
    assert not report.held and len(fake_slack.posts()) == 9
    assert "breaker.tripped" in [e["event"] for e in audit_events(tmp_path)]


def test_breaker_relative_to_recent_runs(tmp_path, fake_slack):
    config = write_config(tmp_path, {"nudges": {"breaker": {"min_people": 3, "min_findings": 3}}})
    fake_slack.users.update({f"user{n}@example.com": f"U0USER{n}" for n in range(20)})
    from bot.model import User

    people = [User(account_id=f"acc-{n}", email=f"user{n}@example.com") for n in range(20)]
    deliver(config, result([finding("PAY-0", people[0]), finding("PAY-1", people[1])]), fake=fake_slack)
    assert len(fake_slack.posts()) == 2
    # A renamed field: suddenly everyone's epics "violate" - far above the usual two.
    everything = [finding(f"PAY-{n}", person) for n, person in enumerate(people)]
    report = deliver(config, result(everything), fake=fake_slack, now=NOW + timedelta(days=1))
    assert report.held and "usual 2" in report.submitted.trip.reason
    assert len(fake_slack.posts()) == 3  # the two nudges and one alert
    # The alert is not repeated on every run of the same day.
    deliver(config, result(everything), fake=fake_slack, now=NOW + timedelta(days=1, hours=1))
    assert len(fake_slack.posts()) == 3


def test_resolved_findings_and_partial_reads(tmp_path, fake_slack):
    config = write_config(tmp_path)
    deliver(config, result([finding("PAY-1", ALICE), finding("PAY-2", ALICE)]), fake=fake_slack)
    # An incremental read saw only PAY-2 (fixed): PAY-1 stays open and is still reminded.
    report = deliver(config, result([], read=["PAY-2"]), fake=fake_slack, now=NOW + timedelta(days=7))
    assert report.record.resolved and len(report.record.resolved) == 1
    (reminder,) = fake_slack.posts()[1:]
    text = "\n".join(all_texts(reminder))
    assert "PAY-1" in text and "PAY-2" not in text and "reminder 1 of 3" in text


def test_reopened_finding_is_nudged_again(tmp_path, fake_slack):
    config = write_config(tmp_path)
    deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    deliver(config, result([], read=["PAY-1"]), fake=fake_slack, now=NOW + timedelta(days=1))
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack, now=NOW + timedelta(days=2))
    assert report.record.reopened
    assert len(fake_slack.posts()) == 2


def test_bad_token_is_a_clear_error_and_changes_nothing(tmp_path, fake_slack):
    from bot.errors import ConfigError

    config = write_config(tmp_path)
    bad = SlackClient("xoxb-wrong", fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    with pytest.raises(ConfigError, match="invalid_auth") as error:
        deliver(config, result([finding("PAY-1", ALICE)]), slack=bad)
    assert error.value.exit_code == 2
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    assert len(fake_slack.posts()) == 1 and report.exit_code == 0


def test_bad_token_while_sending_keeps_the_queue(tmp_path, fake_slack):
    (tmp_path / "users.yaml").write_text("acc-alice: U0ALICE\n")
    config = write_config(tmp_path, {"slack": {"user_map_file": "users.yaml"}})
    bad = SlackClient("xoxb-wrong", fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    report = deliver(config, result([finding("PAY-1", ALICE)]), slack=bad)
    assert report.exit_code == 2 and "invalid_auth" in report.flushed.fatal[0]
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack, now=NOW + timedelta(hours=1))
    assert len(fake_slack.posts()) == 1 and len(report.flushed.sent) == 1


def test_dm_falls_back_to_the_user_id_when_conversations_open_is_refused(tmp_path, fake_slack):
    fake_slack.fail("conversations.open", error="missing_scope")
    config = write_config(tmp_path)
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    assert report.exit_code == 0
    assert [p["channel"] for p in fake_slack.posts()] == ["U0ALICE"]


# -- the digest shares the outbox, not the nudges' timing ------------------------------------------------

def digest_messages():
    from bot.digest.slack import SlackMessage

    payload = {"channel": "#payments", "text": "Hygiene digest · Payments", "blocks": [],
               "unfurl_links": False, "unfurl_media": False}
    return [SlackMessage("payments", "Payments", "#payments", payload)]


def test_a_digest_run_sends_only_the_digest_not_nudges_left_queued(tmp_path, fake_slack):
    from bot.deliver.audit import NullAudit
    from bot.deliver.outbox import Outbox
    from bot.digest.post import send_digest_messages

    config = write_config(tmp_path)
    # A nudge run queued Alice's DM, but Slack was down; it must wait for the next nudge run
    # (which knows the quiet hours), not go out with Monday's digest.
    fake_slack.fail("chat.postMessage", status=429, retry_after=3600)
    report = deliver(config, result([finding("PAY-1", ALICE)]), fake=fake_slack)
    assert len(report.flushed.pending) == 1 and fake_slack.posts() == []

    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    store = Store(store_url(config))
    try:
        code = send_digest_messages(digest_messages(), store, config, week_start=NOW.date(), now=NOW, slack=slack)
        assert code == 0
        assert [post["channel"] for post in fake_slack.posts()] == ["#payments"]
        assert {d.kind: d.status for d in store.deliveries()} == {"slack_dm": "queued", "slack_digest": "sent"}

        # The next nudge run sends the DM.
        report = Outbox(store, audit=NullAudit(), dry_run=False, slack=slack).flush(NOW)
        assert [d.kind for d in report.sent] == ["slack_dm"]
        assert fake_slack.dm_user(fake_slack.posts()[-1]["channel"]) == "U0ALICE"
    finally:
        store.close()


def test_a_digest_post_in_doubt_is_reported_and_checked_before_it_is_sent_again(tmp_path, fake_slack):
    from bot.digest.post import send_digest_messages
    from bot.errors import EXIT_NETWORK

    config = write_config(tmp_path)
    slack = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
    store = Store(store_url(config))
    lines: list[str] = []
    try:
        fake_slack.fail("chat.postMessage", error="internal_error")
        code = send_digest_messages(digest_messages(), store, config, week_start=NOW.date(), now=NOW, slack=slack,
                                    say=lines.append)
        assert code == EXIT_NETWORK and any("unreachable" in line for line in lines)
        assert len(fake_slack.calls_to("chat.postMessage")) == 1
        code = send_digest_messages(digest_messages(), store, config, week_start=NOW.date(), now=NOW, slack=slack,
                                    say=lines.append)
        assert code == 0 and len(fake_slack.posts()) == 1
        assert fake_slack.calls_to("conversations.history")  # looked before posting again
    finally:
        store.close()


def test_an_incomplete_scan_sends_only_what_does_not_depend_on_unread_issues(tmp_path, fake_slack):
    from types import SimpleNamespace

    from bot.errors import EXIT_INCOMPLETE
    from tests.deliver.conftest import DEFAULT_RULES

    hierarchy = SimpleNamespace(**{**vars(DEFAULT_RULES[0]), "id": "work-hierarchy-story-without-epic",
                                   "comment": False, "needs_relatives": True})
    rules = DEFAULT_RULES + [hierarchy]
    config = write_config(tmp_path)
    # A first, complete run: PAY-9 (Bob) has an open finding in the store.
    deliver(config, result([finding("PAY-9", BOB)], rules=rules), fake=fake_slack, now=NOW - timedelta(days=7))
    assert len(fake_slack.posts()) == 1
    # Then Jira fails mid-scan: PAY-1 and PAY-2 were read whole, PAY-9 was not.
    partial = result([finding("PAY-1", ALICE), finding("PAY-2", CAROL, rule_id="work-hierarchy-story-without-epic")],
                     read=["PAY-1", "PAY-2"], rules=rules, complete=False)
    report = deliver(config, partial, fake=fake_slack)
    assert report.exit_code == EXIT_INCOMPLETE
    # Alice's finding needs only PAY-1: sent. Carol's needs PAY-2's parents (maybe unread): not sent.
    # Bob's reminder is due, but PAY-9 was not read this time (it may be fixed): not sent.
    assert [fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()[1:]] == ["U0ALICE"]
    assert "work-hierarchy-story-without-epic" in report.incomplete and "not read" in report.incomplete
    assert report.problem() == report.incomplete
    store = Store(store_url(config))
    try:
        states = {state.issue: state for state in store.finding_states().values()}
    finally:
        store.close()
    assert states["PAY-9"].open and states["PAY-9"].nudge_count == 1  # untouched: reminded when next read
    assert states["PAY-2"].nudge_count == 0
    # Jira is back: a complete read sends the rest (Carol's first nudge, Bob's reminder).
    complete = result([finding("PAY-1", ALICE), finding("PAY-2", CAROL, rule_id="work-hierarchy-story-without-epic"),
                       finding("PAY-9", BOB)], rules=rules)
    again = deliver(config, complete, fake=fake_slack, now=NOW + timedelta(hours=1))
    assert again.exit_code == 0
    assert sorted(fake_slack.dm_user(p["channel"]) for p in fake_slack.posts()[2:]) == ["U0BOB", "U0CAROL"]


def test_the_breakers_alert_counts_each_held_finding_once_per_rule():
    # As the alert's total counts them: a finding nudged on Slack and commented in Jira is one finding,
    # and one an earlier run let through (folded into this message, carried over) is not this run's news.
    from bot.deliver.outbox import _held_by_rule
    from bot.deliver.policy import Outgoing

    missing, debt = "anticipated-outcome-missing", "tech-debt-agreement-incomplete"
    dm = Outgoing(kind="slack_dm", recipient="U0ALICE", dedupe_key="d", payload={}, fingerprints=["f1", "f2", "f4"],
                  label="Alice", by_rule={missing: 3}, rules={"f1": missing, "f2": missing, "f4": missing},
                  carried_over=["f4"])
    both = Outgoing(kind="jira_comment", recipient="PAY-1", dedupe_key="c1", payload={}, fingerprints=["f1"],
                    label="PAY-1", by_rule={missing: 1}, rules={"f1": missing})
    only_commented = Outgoing(kind="jira_comment", recipient="PAY-3", dedupe_key="c3", payload={},
                              fingerprints=["f3"], label="PAY-3", by_rule={debt: 1}, rules={"f3": debt})
    held = [dm, both, only_commented]
    counts = _held_by_rule(held)
    assert counts == {missing: 2, debt: 1}
    total = len({fp for m in held for fp in m.fingerprints if fp not in set(m.carried_over)})
    assert sum(counts.values()) == total == 3

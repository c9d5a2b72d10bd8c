"""Block Kit messages: escaping, limits, coaching content; the Slack client's manners."""

from __future__ import annotations

import pytest

from bot.deliver import slack
from bot.deliver.slack import Item, all_texts, channel_message, issue_link, nudge_message
from bot.escape import slack_escape as escape
from bot.deliver.slack_client import (SlackAuthError, SlackClient, SlackError, SlackInDoubt, SlackUnavailable,
                                      api_url)
from tests.conftest import golden
from tests.deliver.conftest import TOKEN

GOLDEN = __import__("pathlib").Path(__file__).parent / "golden"


def item(n: int, *, summary: str = "", rule: str = "anticipated-outcome-missing", reminder: int = 0) -> Item:
    return Item(rule=rule, issue=f"PAY-{n}", summary=summary or f"Epic number {n}",
                title="Epic or initiative has no anticipated outcome",
                message=f'PAY-{n} has no anticipated outcome. What are we hoping to achieve?',
                url=f"https://example.atlassian.net/browse/PAY-{n}", fix="Write one or two sentences.",
                reminder=reminder, reminder_cap=3)


def test_escape_makes_control_sequences_inert():
    assert escape("<!channel> & <@U1> <https://x|y>") == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://x|y&gt;"
    assert escape(None) == ""


def test_issue_links_only_for_http_urls_and_cannot_be_broken_out_of():
    assert issue_link("https://j.example/browse/A-1", "A-1") == "*<https://j.example/browse/A-1|A-1>*"
    assert issue_link("javascript:alert(1)", "A-1") == "*A-1*"
    assert issue_link("https://j.example/a|b>c", "A-1") == "*A-1*"  # an angle bracket: not a URL we link
    assert issue_link("https://j.example/a|b?x=1&y=2", "A-1") == "*<https://j.example/a%7Cb?x=1&amp;y=2|A-1>*"
    assert issue_link(None, "<!here>") == "*&lt;!here&gt;*"


def test_nudge_message_golden():
    payload = nudge_message([item(1, summary="Checkout <!channel> revamp"), item(2, reminder=1),
                             item(3, rule="tech-debt-agreement-incomplete")],
                            label_prefix="govbot-waive-", interval_days=7, reminder_cap=3)
    golden(GOLDEN / "nudge_dm.txt", slack.render_text(payload) + "\n\nfallback: " + payload["text"] + "\n")


def test_many_findings_respect_block_kit_limits():
    huge = "x" * 5000
    items = [item(n, summary=huge) for n in range(120)]
    payload = nudge_message(items, label_prefix="govbot-waive-", interval_days=7, reminder_cap=3)
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    text = "\n".join(all_texts(payload))
    assert "and 110 more" in text
    assert len(payload["text"]) <= 3000 and "and 105 more" in payload["text"]


def test_long_team_name_header_and_channel_message_has_no_mentions():
    payload = channel_message("t" * 400, unrouted=[item(1, summary="<@U0BOSS> look")], escalated=[item(2)],
                              label_prefix="govbot-waive-", reminder_cap=3)
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    for text in all_texts(payload):
        assert "<@" not in text and "<!" not in text


def test_every_mrkdwn_text_is_verbatim():
    payload = nudge_message([item(1)], label_prefix="govbot-waive-", interval_days=7, reminder_cap=3)
    for block in payload["blocks"]:
        for element in [block.get("text")] + block.get("elements", []):
            if element and element["type"] == "mrkdwn":
                assert element["verbatim"] is True


# -- the client ----------------------------------------------------------------------------------------------

def test_api_url_normalisation():
    assert api_url(env={}) == "https://slack.com/api/"
    assert api_url(env={"SLACK_API_URL": "http://127.0.0.1:8080"}) == "http://127.0.0.1:8080/api/"
    assert api_url(env={"SLACK_API_URL": "http://127.0.0.1:8080/api"}) == "http://127.0.0.1:8080/api/"
    with pytest.raises(Exception, match="not an http"):
        api_url(env={"SLACK_API_URL": "slack.com"})


def test_rate_limit_retry_after_is_honoured(fake_slack, slack_client):
    fake_slack.fail("chat.postMessage", status=429, retry_after=7, times=2)
    channel, ts = slack_client.post_message("C1", "hi", [])
    assert slack_client.sleeps == [7, 7]
    assert ts and len(fake_slack.calls_to("chat.postMessage")) == 3


def test_rate_limit_too_long_leaves_it_for_later(fake_slack, slack_client):
    fake_slack.fail("chat.postMessage", status=429, retry_after=3600)
    with pytest.raises(SlackUnavailable) as error:
        slack_client.post_message("C1", "hi", [])
    assert error.value.retryable and not error.value.in_doubt


@pytest.mark.parametrize("status, error", [(500, None), (503, None), (200, "internal_error"), (200, "fatal_error"),
                                           (200, "service_unavailable")])
def test_a_post_that_failed_on_slacks_side_is_in_doubt_never_retried(fake_slack, slack_client, status, error):
    """Slack may have posted it before failing: one attempt, then the outbox checks before any resend."""
    fake_slack.fail("chat.postMessage", status=status, error=error)
    with pytest.raises(SlackInDoubt) as raised:
        slack_client.post_message("C1", "hi", [])
    assert raised.value.in_doubt and raised.value.retryable and not raised.value.fatal
    assert len(fake_slack.calls_to("chat.postMessage")) == 1 and slack_client.sleeps == []


def test_idempotent_calls_retry_server_errors_then_report(fake_slack, slack_client):
    fake_slack.fail("users.lookupByEmail", status=503, times=2)
    assert slack_client.lookup_user_by_email("alice@example.com") == "U0ALICE"
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 3
    channel, ts = slack_client.post_message("C1", "hi", [])
    fake_slack.fail("chat.update", error="internal_error")
    slack_client.update_message(channel, ts, "edited", [])
    assert len(fake_slack.calls_to("chat.update")) == 2
    fake_slack.fail("users.lookupByEmail", status=500, times=20)
    with pytest.raises(SlackUnavailable) as raised:
        slack_client.lookup_user_by_email("alice@example.com")
    assert not raised.value.in_doubt


def test_one_post_per_second_per_channel():
    now = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    client = SlackClient(TOKEN, "http://127.0.0.1:9/api/", sleep=sleep, clock=lambda: now[0])
    client._call = lambda method, idempotent, **kwargs: {"ok": True, "channel": kwargs["channel"], "ts": "1.0"}
    client.post_message("C1", "a", [])
    client.post_message("C2", "b", [])  # another channel: no wait
    now[0] += 0.25
    client.post_message("C1", "c", [])
    assert sleeps == [0.75]


def test_errors_are_sorted(fake_slack, slack_client):
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackError) as error:
        slack_client.post_message("C404", "hi", [])
    assert (error.value.code, error.value.retryable, error.value.fatal) == ("channel_not_found", False, False)
    bad = SlackClient("xoxb-wrong", fake_slack.api_url, sleep=lambda s: None)
    with pytest.raises(SlackAuthError) as error:
        bad.post_message("C1", "hi", [])
    assert error.value.fatal


def test_unreachable_slack_is_retryable_not_in_doubt():
    client = SlackClient(TOKEN, "http://127.0.0.1:9/api/", sleep=lambda s: None, max_retries=1, timeout=2)
    with pytest.raises(SlackUnavailable) as error:
        client.post_message("C1", "hi", [])
    assert not error.value.in_doubt


def test_lookup_and_history(fake_slack, slack_client):
    assert slack_client.lookup_user_by_email("ALICE@example.com") == "U0ALICE"
    assert slack_client.lookup_user_by_email("nobody@example.com") is None
    channel = slack_client.open_dm("U0ALICE")
    slack_client.post_message(channel, "hi", [], metadata={"event_type": "govbot_delivery",
                                                            "event_payload": {"key": "k1"}})
    assert slack_client.find_message(channel, 0, "govbot_delivery", "k1") is True
    assert slack_client.find_message(channel, 0, "govbot_delivery", "k2") is False
    fake_slack.unsupported.add("conversations.history")
    assert slack_client.find_message(channel, 0, "govbot_delivery", "k1") is None
    request = fake_slack.calls_to("chat.postMessage")[0]
    assert request.token == TOKEN and "link_names" not in request.params and "parse" not in request.params
    assert request.params["unfurl_links"] is False


def test_history_lookups_say_why_they_cannot_tell_and_raise_when_slack_is_down(fake_slack, slack_client):
    channel = slack_client.open_dm("U0ALICE")
    for n in range(3):
        slack_client.post_message(channel, f"hi {n}", [], metadata={"event_type": "govbot_delivery",
                                                                      "event_payload": {"outbox_id": n, "key": f"k{n}"}})
    # Paged like Slack (newest first): the oldest message is on the last page.
    original = slack_client.web.conversations_history
    slack_client.web.conversations_history = lambda **kw: original(**{**kw, "limit": 1})
    assert slack_client.find_message(channel, 0, "govbot_delivery", "k0") is True
    assert len(fake_slack.calls_to("conversations.history")) == 3
    slack_client.web.conversations_history = original
    assert slack_client.find_message("#payments", 0, "govbot_delivery", "k0") is None  # a name, not an id
    assert slack_client.history_problem == "channel_not_found"
    fake_slack.without_history()
    assert slack_client.find_message(channel, 0, "govbot_delivery", "k0") is None
    assert slack_client.history_problem == "missing_scope (needs im:history)"
    fake_slack.scopes.add("im:history")
    fake_slack.fail("conversations.history", status=503, times=10)
    with pytest.raises(SlackUnavailable):
        slack_client.find_message(channel, 0, "govbot_delivery", "k0")  # ask again next run, decide nothing


def test_scopes_come_from_slacks_x_oauth_scopes_header(fake_slack, slack_client):
    assert slack_client.scopes() == set(fake_slack.scopes)
    fake_slack.without_history()
    assert "im:history" not in slack_client.scopes()


def test_a_post_is_claimed_only_around_each_attempt_and_released_before_a_retry_after_wait(fake_slack):
    from bot.deliver.slack_client import Claim, ClaimLost

    events: list[str] = []

    class Recorder(Claim):
        def __init__(self, grant=True):
            self.grant = grant

        def take(self):
            events.append("take")
            return self.grant

        def release(self, why):
            events.append(f"release: {why}")

    client = SlackClient(TOKEN, fake_slack.api_url, sleep=lambda seconds: events.append(f"sleep {seconds:g}"),
                         channel_interval=0)
    fake_slack.fail("chat.postMessage", status=429, retry_after=7, times=2)
    client.post_message("C1", "hi", [], claim=Recorder())
    assert events == ["take", "release: rate limited: Slack asked to wait 7s", "sleep 7",
                      "take", "release: rate limited: Slack asked to wait 7s", "sleep 7", "take"]
    assert len(fake_slack.posts()) == 1
    with pytest.raises(ClaimLost):
        client.post_message("C1", "hi", [], claim=Recorder(grant=False))
    assert len(fake_slack.posts()) == 1  # someone else had it: not sent


def test_each_family_asks_its_own_questions_and_reminders_point_at_what_is_there():
    debt = nudge_message([item(1, rule="tech-debt-agreement-incomplete", reminder=1)], label_prefix="govbot-waive-",
                         interval_days=7, reminder_cap=3)
    text = "\n".join(all_texts(debt))
    assert "Why did we take this shortcut?" in text and "When, or on what trigger, will we pay it down?" in text
    assert "What are we hoping to achieve?*" not in text and "How will it affect" not in text
    # The reminder's way out is the label shown with each rule; there is no "reason (see below)".
    assert "see below" not in text and "add the label shown with its rule" in text
    assert "govbot-waive-tech-debt-agreement-incomplete" in text
    loop = nudge_message([item(2, rule="closing-the-loop-actual-outcome-missing")], label_prefix="govbot-waive-",
                         interval_days=7, reminder_cap=3)
    assert "What happened to the measure we named?" in "\n".join(all_texts(loop))
    custom = nudge_message([item(3, rule="site-custom-check")], label_prefix="govbot-waive-", interval_days=7,
                           reminder_cap=3)
    assert "Questions that help" not in "\n".join(all_texts(custom))  # no made-up questions for other rules


def test_a_possible_repeat_says_so_at_the_top_once():
    payload = nudge_message([item(1)], label_prefix="govbot-waive-", interval_days=7, reminder_cap=3)
    marked = slack.mark_possible_repeat(payload)
    assert marked["text"].startswith("(in case you missed this) ")
    assert marked["blocks"][0]["type"] == "header" and "In case you missed this" in marked["blocks"][1]["elements"][0]["text"]
    assert slack.mark_possible_repeat(marked) == marked and "possible_repeat" not in payload

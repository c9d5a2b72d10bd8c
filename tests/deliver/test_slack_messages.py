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

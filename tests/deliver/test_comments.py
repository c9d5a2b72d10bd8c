"""Jira comments against recorded HTTP (responses): one comment per issue, updated in place."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses

from bot.deliver.comments import (MARKER, CommentWriter, JiraCommentClient, adf_body, has_marker, wiki_body,
                                  wiki_escape, CommentItem)
from bot.deliver.run import run_delivery
from bot.store import Store, store_url
from tests.deliver.conftest import ALICE, NOW, finding, result, rule, write_config

DC = "https://jira.example.com"
CLOUD = "https://example.atlassian.net"
RULES = [rule("anticipated-outcome-missing", comment=True), rule("tech-debt-agreement-incomplete", comment=True),
         rule("work-hierarchy-inverted")]


def run(config, scan, *, base=DC, cloud=False, now=NOW, sleeps=None):
    store = Store(store_url(config))
    client = JiraCommentClient(base, cloud=cloud, sleep=(sleeps.append if sleeps is not None else lambda s: None),
                               max_retries=2)
    try:
        return run_delivery(config, scan, now=now, apply=True, store=store, comment_writer=CommentWriter(client, store),
                            include_slack=False)
    finally:
        store.close()


def comments_url(base, version, key, comment_id=None):
    url = f"{base}/rest/api/{version}/issue/{key}/comment"
    return f"{url}/{comment_id}" if comment_id else url


def body_of(call):
    return json.loads(call.request.body)["body"]


@responses.activate
def test_data_center_comment_is_created_once_updated_in_place_and_resolved(tmp_path):
    config = write_config(tmp_path)
    list_url = comments_url(DC, 2, "PAY-1")
    responses.get(list_url, json={"comments": [], "total": 0, "startAt": 0, "maxResults": 100})
    responses.post(list_url, json={"id": "10001"}, status=201)
    responses.put(comments_url(DC, 2, "PAY-1", "10001"), json={"id": "10001"})

    one = [finding("PAY-1", ALICE)]
    report = run(config, result(one, rules=RULES))
    assert report.exit_code == 0
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    body = body_of(posts[0])
    assert isinstance(body, str) and MARKER in body and "Epic has no outcome" in body

    # Unchanged: not a single request.
    before = len(responses.calls)
    run(config, result(one, rules=RULES), now=NOW + timedelta(days=1))
    assert len(responses.calls) == before

    # Another opted-in finding on the same issue: the same comment is edited.
    two = one + [finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")]
    run(config, result(two, rules=RULES), now=NOW + timedelta(days=2))
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 1 and "tech\\-debt" not in body_of(puts[0])
    assert body_of(puts[0]).count("\n* ") == 2

    # Findings from rules that did not opt in never touch the comment.
    run(config, result(two + [finding("PAY-1", ALICE, rule_id="work-hierarchy-inverted")], rules=RULES),
        now=NOW + timedelta(days=3))
    assert len([c for c in responses.calls if c.request.method == "PUT"]) == 1

    # All fixed: the comment says so, once.
    run(config, result([], read=["PAY-1"], rules=RULES), now=NOW + timedelta(days=4))
    run(config, result([], read=["PAY-1"], rules=RULES), now=NOW + timedelta(days=5))
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 2 and "pass now" in body_of(puts[1]) and MARKER in body_of(puts[1])
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1  # never a second comment


@responses.activate
def test_cloud_uses_adf_and_adopts_the_existing_bot_comment(tmp_path):
    config = write_config(tmp_path)
    existing = {"id": "777", "author": {"accountId": "bot"},
                "body": adf_body([CommentItem("r", "t", "m", "f")], resolved=False, label_prefix="govbot-waive-")}
    human = {"id": "776", "body": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "I will fix this next sprint"}]}]}}
    responses.get(comments_url(CLOUD, 3, "PAY-1"), json={"comments": [human, existing], "total": 2})
    responses.put(comments_url(CLOUD, 3, "PAY-1", "777"), json={"id": "777"})
    run(config, result([finding("PAY-1", ALICE)], rules=RULES), base=CLOUD, cloud=True)
    (put,) = [c for c in responses.calls if c.request.method == "PUT"]
    body = body_of(put)
    assert body["type"] == "doc" and body["version"] == 1 and has_marker(body)
    assert not [c for c in responses.calls if c.request.method == "POST"]
    assert Store(store_url(config)).comment_state("PAY-1").comment_id == "777"


@responses.activate
def test_a_deleted_bot_comment_is_replaced_not_duplicated(tmp_path):
    config = write_config(tmp_path)
    list_url = comments_url(DC, 2, "PAY-1")
    responses.get(list_url, json={"comments": [], "total": 0})
    responses.post(list_url, json={"id": "1"}, status=201)
    run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    responses.put(comments_url(DC, 2, "PAY-1", "1"), status=404, json={"errorMessages": ["gone"]})
    responses.post(list_url, json={"id": "2"}, status=201)
    run(config, result([finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")],
                       rules=RULES), now=NOW + timedelta(days=1))
    assert [c.request.method for c in responses.calls] == ["GET", "POST", "PUT", "GET", "POST"]
    assert Store(store_url(config)).comment_state("PAY-1").comment_id == "2"


@responses.activate
def test_rate_limits_are_honoured_and_an_outage_keeps_the_comment_queued(tmp_path):
    config = write_config(tmp_path)
    list_url = comments_url(DC, 2, "PAY-1")
    responses.get(list_url, status=429, headers={"Retry-After": "12"})
    responses.get(list_url, json={"comments": [], "total": 0})
    responses.post(list_url, body=requests.ConnectionError("connection reset"))
    sleeps = []
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES), sleeps=sleeps)
    assert 12.0 in sleeps
    assert report.exit_code == 3 and len(report.flushed.pending) == 1
    responses.replace(responses.POST, list_url, json={"id": "5"}, status=201)
    responses.replace(responses.GET, list_url, json={"comments": [], "total": 0})
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(hours=1))
    assert report.exit_code == 0 and [d.external_id for d in report.flushed.sent] == ["5"]


@responses.activate
def test_credentials_refused_is_fatal_and_keeps_the_queue(tmp_path):
    config = write_config(tmp_path)
    responses.get(comments_url(DC, 2, "PAY-1"), status=401)
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    assert report.exit_code == 2 and report.flushed.fatal


def test_wiki_markup_in_untrusted_text_is_escaped():
    hostile = "[~admin] {noformat}x{noformat} *bold* -strike- ??cite?? !http://x/i.png! |a|b| h1. Title\n* bullet"
    escaped = wiki_escape(hostile)
    for sequence in ("[~", "{noformat}", " *bold*", " -strike-", "??", " !http", " |a|"):
        assert sequence not in escaped
    assert "\n" not in escaped
    assert wiki_escape("PAY-12 costs 5-10 days?") == "PAY-12 costs 5-10 days?"
    body = wiki_body([CommentItem("r-x", hostile, hostile, "")], resolved=False, label_prefix="govbot-waive-")
    assert "[~admin]" not in body and MARKER in body


def test_adf_text_nodes_carry_untrusted_text_literally():
    body = adf_body([CommentItem("r-x", "[~admin]", "<!channel> *x*", "")], resolved=False,
                    label_prefix="govbot-waive-")
    texts = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text":
                assert node["text"]  # ADF rejects empty text nodes
                texts.append(node["text"])
                for mark in node.get("marks", []):
                    assert mark["type"] in ("strong", "em")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(body)
    assert "[~admin]" in texts and ": <!channel> *x*" in texts
    assert not any(n.get("type") == "mention" for n in body["content"])


@pytest.mark.parametrize("body, expected", [
    (f"hello {MARKER}", True), ("hello", False), ({"type": "doc", "content": []}, False), (None, False)])
def test_marker_detection(body, expected):
    assert has_marker(body) is expected


@responses.activate
def test_a_slack_only_flush_leaves_queued_comments_alone(tmp_path, fake_slack):
    """The digest flushes the same outbox without a Jira writer: comments are not its business."""
    from bot.deliver.audit import NullAudit
    from bot.deliver.outbox import Outbox
    from bot.deliver.slack_client import SlackClient

    config = write_config(tmp_path)
    responses.get(comments_url(DC, 2, "PAY-1"), body=requests.ConnectionError("down"))
    run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    store = Store(store_url(config))
    slack = SlackClient("xoxb-test-token", fake_slack.api_url, sleep=lambda s: None, channel_interval=0)
    report = Outbox(store, audit=NullAudit(), dry_run=False, slack=slack).flush(NOW)
    assert report.pending == [] and report.sent == []
    assert [d.status for d in store.deliveries()] == ["queued"]


@responses.activate
def test_auto_deployment_asks_server_info():
    responses.get(f"{DC}/rest/api/2/serverInfo", json={"deploymentType": "Server", "version": "9.12.0"})
    client = JiraCommentClient(DC, cloud=None)
    assert client.cloud is False and client.version == "2"
    responses.get("http://127.0.0.1:1/rest/api/2/serverInfo", json={"deploymentType": "Cloud"})
    assert JiraCommentClient("http://127.0.0.1:1", cloud=None).version == "3"

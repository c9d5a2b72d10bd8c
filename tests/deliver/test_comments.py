"""Jira comments against recorded HTTP (responses): one bot comment per issue, updated in place."""

from __future__ import annotations

import email.utils
import json
import random
import re
from datetime import timedelta

import pytest
import requests
import responses

from bot.deliver.comments import (MARKER, CommentItem, CommentWriter, JiraCommentClient, adf_body, has_marker,
                                  wiki_body)
from tests.batches import run_delivery
from bot.escape import wiki_escape
from bot.sources.jira import JiraSource
from bot.store import Store, store_url
from tests.deliver.conftest import ALICE, NOW, finding, result, rule, write_config

DC = "https://jira.example.com"
CLOUD = "https://example.atlassian.net"
PAT = "pat-secret-value"
RULES = [rule("anticipated-outcome-missing", comment=True), rule("tech-debt-agreement-incomplete", comment=True),
         rule("work-hierarchy-inverted")]


class FakeComments:
    """Jira's comment endpoints as ``responses`` callbacks: comments kept per issue, faults queued per call.

    ``fail(method, issue, answer, landed=False)``: the next such call answers ``answer``
    (a status code, or an exception for a connection that broke); with ``landed`` the
    call takes effect first, as when Jira did the work and the answer was lost.
    """

    def __init__(self, base: str = DC, *, cloud: bool = False):
        self.base = base
        self.version = 3 if cloud else 2
        self.me = {"accountId": "bot-account", "displayName": "govbot"} if cloud else \
            {"name": "govbot", "key": "govbot", "displayName": "govbot"}
        self.comments: dict[str, list[dict]] = {}
        self.faults: list[tuple[str, str, object, bool]] = []
        self.next_id = 1000
        api = f"{base}/rest/api/{self.version}"
        prefix = re.escape(f"{api}/issue/")
        responses.add_callback(responses.GET, f"{api}/myself", callback=self._myself)
        responses.add_callback(responses.GET, re.compile(prefix + r"([^/]+)/comment(\?.*)?$"), callback=self._list)
        responses.add_callback(responses.POST, re.compile(prefix + r"([^/]+)/comment$"), callback=self._create)
        responses.add_callback(responses.PUT, re.compile(prefix + r"([^/]+)/comment/([^/?]+)$"),
                               callback=self._update)

    def add(self, issue: str, body, *, author: dict | None = None) -> str:
        self.next_id += 1
        comment = {"id": str(self.next_id), "author": author or self.me, "body": body}
        self.comments.setdefault(issue, []).append(comment)
        return comment["id"]

    def fail(self, method: str, issue: str, answer, *, landed: bool = False) -> None:
        self.faults.append((method, issue, answer, landed))

    def calls(self, method: str | None = None) -> list:
        return [call for call in responses.calls if method is None or call.request.method == method]

    def _fault(self, method: str, issue: str):
        for index, (f_method, f_issue, answer, landed) in enumerate(self.faults):
            if f_method == method and f_issue == issue:
                del self.faults[index]
                return answer, landed
        return None, False

    @staticmethod
    def _issue(request) -> list[str]:
        return re.search(r"/issue/([^/]+)/comment/?([^/?]*)", request.url).groups()

    def _answer(self, fault, ok):
        if isinstance(fault, Exception):
            return 0, {}, fault
        if isinstance(fault, int):
            fault = (fault, {"Retry-After": "1"} if fault in (429, 503) else {})
        if isinstance(fault, tuple):
            return fault[0], fault[1], json.dumps({"errorMessages": [f"fault {fault[0]}"]})
        return ok

    def _myself(self, request):
        fault, _ = self._fault("GET", "myself")
        return self._answer(fault, (200, {}, json.dumps(self.me)))

    def _list(self, request):
        issue, _ = self._issue(request)
        fault, _ = self._fault("GET", issue)
        comments = self.comments.get(issue, [])
        return self._answer(fault, (200, {}, json.dumps({"comments": comments, "total": len(comments),
                                                          "startAt": 0, "maxResults": 100})))

    def _create(self, request):
        issue, _ = self._issue(request)
        fault, landed = self._fault("POST", issue)
        if fault is not None and not landed:
            return self._answer(fault, None)
        comment_id = self.add(issue, json.loads(request.body)["body"])
        return self._answer(fault, (201, {}, json.dumps({"id": comment_id})))

    def _update(self, request):
        issue, comment_id = self._issue(request)
        fault, _ = self._fault("PUT", issue)
        if fault is not None:
            return self._answer(fault, None)
        for comment in self.comments.get(issue, []):
            if comment["id"] == comment_id:
                if comment["author"] != self.me:
                    return 403, {}, json.dumps({"errorMessages": ["You do not have the permission to edit it"]})
                comment["body"] = json.loads(request.body)["body"]
                return 200, {}, json.dumps(comment)
        return 404, {}, json.dumps({"errorMessages": ["Can not find a comment for the id"]})


def jira_config(tmp_path, base: str = DC, **jira):
    cloud = base == CLOUD
    env = {"JIRA_URL": base, **({"JIRA_EMAIL": "govbot@example.com", "JIRA_API_TOKEN": PAT} if cloud
                                else {"JIRA_PAT": PAT})}
    return write_config(tmp_path, {"jira": {"deployment": "cloud" if cloud else "datacenter", "max_retries": 2,
                                            **jira}}, env=env)


def run(config, scan, *, now=NOW, sleeps=None, clock=None):
    store = Store(store_url(config))
    options = {"session": requests.Session(), "rng": random.Random(7),
               "sleep": sleeps.append if sleeps is not None else (lambda seconds: None)}
    if clock is not None:
        options["clock"] = clock
    client = JiraCommentClient.from_config(config, **options)
    try:
        return run_delivery(config, scan, now=now, apply=True, store=store, comment_writer=CommentWriter(client, store),
                            include_slack=False)
    finally:
        store.close()


def body_of(call):
    return json.loads(call.request.body)["body"]


def tracked(config, issue="PAY-1"):
    store = Store(store_url(config))
    try:
        return store.comment_state(issue).comment_id
    finally:
        store.close()


@responses.activate
def test_data_center_comment_is_created_once_updated_in_place_and_resolved(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)

    one = [finding("PAY-1", ALICE)]
    report = run(config, result(one, rules=RULES))
    assert report.exit_code == 0
    (post,) = jira.calls("POST")
    body = body_of(post)
    assert isinstance(body, str) and MARKER in body and "Epic has no outcome" in body

    # Unchanged: not a single request.
    before = len(responses.calls)
    run(config, result(one, rules=RULES), now=NOW + timedelta(days=1))
    assert len(responses.calls) == before

    # Another opted-in finding on the same issue: the same comment is edited.
    two = one + [finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")]
    run(config, result(two, rules=RULES), now=NOW + timedelta(days=2))
    (put,) = jira.calls("PUT")
    assert "tech\\-debt" not in body_of(put) and body_of(put).count("\n* ") == 2

    # Findings from rules that did not opt in never touch the comment.
    run(config, result(two + [finding("PAY-1", ALICE, rule_id="work-hierarchy-inverted")], rules=RULES),
        now=NOW + timedelta(days=3))
    assert len(jira.calls("PUT")) == 1

    # All fixed: the comment says so, once.
    run(config, result([], read=["PAY-1"], rules=RULES), now=NOW + timedelta(days=4))
    run(config, result([], read=["PAY-1"], rules=RULES), now=NOW + timedelta(days=5))
    puts = jira.calls("PUT")
    assert len(puts) == 2 and "pass now" in body_of(puts[1]) and MARKER in body_of(puts[1])
    assert len(jira.calls("POST")) == 1 and len(jira.comments["PAY-1"]) == 1  # never a second comment
    # Who govbot is, asked only when there are comments to tell apart, and once per run.
    assert len([c for c in responses.calls if c.request.url.endswith("/myself")]) == 2


@responses.activate
def test_a_comment_no_run_wrote_is_written_by_a_later_run_that_does_not_read_the_issue(tmp_path):
    # The first run recorded PAY-1's finding but wrote no comment (--no-comments here; a run held by the
    # circuit breaker is the same). The next runs read only what changed (PAY-2): PAY-1's comment comes
    # from its open finding in the store, once.
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    store = Store(store_url(config))
    try:
        run_delivery(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW, apply=True, store=store,
                     include_slack=False, include_comments=False)
    finally:
        store.close()
    assert jira.calls("POST") == []
    run(config, result([], read=["PAY-2"], rules=RULES), now=NOW + timedelta(hours=1))
    (post,) = jira.calls("POST")
    assert "Epic has no outcome" in body_of(post) and post.request.url.endswith("/issue/PAY-1/comment")
    before = len(responses.calls)
    run(config, result([], read=["PAY-3"], rules=RULES), now=NOW + timedelta(hours=2))
    assert len(responses.calls) == before  # written once: not again on every run that skips PAY-1


@responses.activate
def test_cloud_uses_adf_and_adopts_the_existing_bot_comment(tmp_path):
    config = jira_config(tmp_path, CLOUD)
    jira = FakeComments(CLOUD, cloud=True)
    jira.add("PAY-1", {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "I will fix this next sprint"}]}]},
        author={"accountId": "alice"})
    mine = jira.add("PAY-1", adf_body([CommentItem("r", "t", "m", "f")], resolved=False, label_prefix="govbot-waive-"))
    run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    (put,) = jira.calls("PUT")
    assert put.request.url.endswith(f"/rest/api/3/issue/PAY-1/comment/{mine}")
    body = body_of(put)
    assert body["type"] == "doc" and body["version"] == 1 and has_marker(body)
    assert not jira.calls("POST")
    assert tracked(config) == mine


@responses.activate
def test_a_person_quoting_the_bot_comment_is_never_edited(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    quote = wiki_body([CommentItem("r", "t", "m", "f")], resolved=False, label_prefix="govbot-waive-")
    theirs = jira.add("PAY-1", "{quote}" + quote + "{quote} Done, see the description.",
                      author={"name": "alice", "key": "alice"})
    # A store written by an older govbot that took the quote for its own comment.
    store = Store(store_url(config))
    store.plan_comment("PAY-1", "old-hash", "open", NOW - timedelta(days=3))
    store.comment_written("PAY-1", theirs, NOW - timedelta(days=3))
    store.close()

    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    assert report.exit_code == 0 and not report.flushed.failed
    assert not jira.calls("PUT")  # the person's comment is left alone
    (post,) = jira.calls("POST")
    mine = tracked(config)
    assert mine != theirs and jira.comments["PAY-1"][0]["body"].startswith("{quote}")

    # From now on the bot's own comment is the one it edits.
    run(config, result([finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")],
                       rules=RULES), now=NOW + timedelta(days=1))
    (put,) = jira.calls("PUT")
    assert put.request.url.endswith(f"/comment/{mine}") and len(jira.calls("POST")) == 1


@responses.activate
def test_a_refused_edit_or_read_fails_that_issue_only_never_the_run(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    existing = {key: jira.add(key, f"old text _{MARKER}_") for key in ("PAY-1", "PAY-2")}
    jira.fail("PUT", "PAY-1", 403)   # no "Edit Own Comments" here
    jira.fail("GET", "PAY-3", 403)   # the bot cannot browse this issue
    findings = [finding(key, ALICE) for key in ("PAY-1", "PAY-2", "PAY-3", "PAY-4")]
    report = run(config, result(findings, rules=RULES))

    assert not report.flushed.fatal and report.exit_code == 0
    failed = {entry.recipient: error for entry, error in report.flushed.failed}
    assert set(failed) == {"PAY-1", "PAY-3"}
    assert "not posting a second one" in failed["PAY-1"] and "403" in failed["PAY-3"]
    assert [call.request.url.rsplit("/issue/", 1)[1] for call in jira.calls("POST")] == ["PAY-4/comment"]
    assert [call.request.url.rsplit("/comment/", 1)[1] for call in jira.calls("PUT")] == \
        [existing["PAY-1"], existing["PAY-2"]]
    assert len(jira.comments["PAY-1"]) == 1  # never a second bot comment


@responses.activate
def test_a_deleted_bot_comment_is_replaced_not_duplicated(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    jira.comments["PAY-1"].clear()  # a person deleted it
    run(config, result([finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")],
                       rules=RULES), now=NOW + timedelta(days=1))
    assert len(jira.calls("POST")) == 2 and not jira.calls("PUT")
    assert tracked(config) == jira.comments["PAY-1"][0]["id"]

    # Deleted between listing and editing: the edit finds nothing, so the comment is written anew.
    jira.fail("PUT", "PAY-1", 404)
    run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(days=2))
    assert len(jira.calls("POST")) == 3


@responses.activate
@pytest.mark.parametrize("answer", [503, 502, requests.ConnectionError("connection reset by peer")])
def test_a_new_comment_that_may_have_landed_is_never_posted_twice(tmp_path, answer):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    jira.fail("POST", "PAY-1", answer, landed=True)  # Jira created it; the answer said otherwise
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    assert report.exit_code == 3 and len(report.flushed.in_doubt) == 1 and not report.flushed.sent
    assert len(jira.calls("POST")) == 1  # not retried blindly

    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(hours=1))
    assert report.exit_code == 0 and len(report.flushed.sent) == 1
    assert len(jira.calls("POST")) == 1 and len(jira.comments["PAY-1"]) == 1
    assert tracked(config) == jira.comments["PAY-1"][0]["id"]


@responses.activate
def test_a_new_comment_that_did_not_land_is_posted_by_the_next_run(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    jira.fail("POST", "PAY-1", 503)
    assert run(config, result([finding("PAY-1", ALICE)], rules=RULES)).exit_code == 3
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(hours=1))
    assert report.exit_code == 0 and len(jira.calls("POST")) == 2 and len(jira.comments["PAY-1"]) == 1


@responses.activate
def test_retry_after_in_both_forms_is_honoured_and_an_outage_keeps_the_comment_queued(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    clock = 1_800_000_000.0
    jira.fail("GET", "PAY-1", (503, {"Retry-After": email.utils.formatdate(clock + 30, usegmt=True)}))
    jira.fail("GET", "PAY-1", (429, {"Retry-After": "12"}))
    sleeps: list[float] = []
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES), sleeps=sleeps, clock=lambda: clock)
    assert sleeps == [30.0, 12.0] and report.exit_code == 0 and len(jira.calls("POST")) == 1

    # Jira down for longer than the retries: the comment stays queued, and the error names no secret.
    for _ in range(3):  # the first attempt and both retries
        jira.fail("GET", "PAY-1", 503)
    report = run(config, result([finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-"
                                                                                          "incomplete")],
                                rules=RULES), now=NOW + timedelta(days=1))
    assert report.exit_code == 3 and len(report.flushed.pending) == 1
    assert PAT not in json.dumps(report.to_json()) and all(PAT not in line for line in report.flushed.unreachable)
    report = run(config, result([finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-"
                                                                                          "incomplete")],
                                rules=RULES), now=NOW + timedelta(days=2))
    assert report.exit_code == 0 and len(jira.calls("PUT")) == 1


@responses.activate
def test_credentials_refused_is_fatal_and_keeps_the_queue(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    jira.fail("GET", "PAY-1", 401)
    report = run(config, result([finding("PAY-1", ALICE), finding("PAY-2", ALICE)], rules=RULES))
    assert report.exit_code == 2 and report.flushed.fatal
    assert PAT not in report.flushed.fatal[0] and len(report.flushed.pending) == 2 and not jira.calls("POST")


def test_wiki_markup_in_untrusted_text_is_escaped():  # more in tests/test_escape.py
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
def test_a_captcha_on_an_edit_is_a_credentials_failure_not_a_refused_comment(tmp_path):
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    mine = jira.add("PAY-1", f"old text _{MARKER}_")
    jira.fail("PUT", "PAY-1", (403, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE; login-url=x"}))
    report = run(config, result([finding("PAY-1", ALICE)], rules=RULES))
    assert report.exit_code == 2 and "CAPTCHA" in report.flushed.fatal[0]
    assert not jira.calls("POST") and [c["id"] for c in jira.comments["PAY-1"]] == [mine]


@responses.activate
def test_a_slack_only_flush_leaves_queued_comments_alone(tmp_path, fake_slack):
    """The digest flushes the same outbox without a Jira writer: comments are not its business."""
    from bot.deliver.audit import NullAudit
    from bot.deliver.outbox import Outbox
    from bot.deliver.slack_client import SlackClient

    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    for _ in range(3):
        jira.fail("GET", "PAY-1", requests.ConnectionError("down"))
    assert run(config, result([finding("PAY-1", ALICE)], rules=RULES)).exit_code == 3
    store = Store(store_url(config))
    slack = SlackClient("xoxb-test-token", fake_slack.api_url, sleep=lambda s: None, channel_interval=0)
    report = Outbox(store, audit=NullAudit(), dry_run=False, slack=slack).flush(NOW)
    assert report.pending == [] and report.sent == []
    assert [d.status for d in store.deliveries()] == ["queued"]
    store.close()


@responses.activate
@pytest.mark.parametrize("base, server_info, version", [
    (DC, {"status": 200, "json": {"deploymentType": "Server", "version": "9.12.0"}}, "2"),
    ("http://127.0.0.1:1", {"status": 200, "json": {"deploymentType": "Cloud"}}, "3"),
    (CLOUD, {"status": 404, "json": {"errorMessages": ["not here"]}}, "3"),  # the source falls back to the host
    (DC, {"status": 404, "json": {"errorMessages": ["not here"]}}, "2"),
])
def test_auto_deployment_is_the_source_detection(tmp_path, base, server_info, version):
    config = write_config(tmp_path, {"jira": {"deployment": "auto"}}, env={"JIRA_URL": base, "JIRA_PAT": PAT})
    responses.get(f"{base}/rest/api/2/serverInfo", **server_info)
    client = JiraCommentClient(JiraSource(config, session=requests.Session(), sleep=lambda seconds: None))
    assert client.version == version and client.version == version
    assert len(responses.calls) == 1  # asked once


@responses.activate
def test_the_comment_says_what_happened_waived_fixed_or_still_open(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    config = jira_config(tmp_path)
    jira = FakeComments(DC)
    both = [finding("PAY-1", ALICE), finding("PAY-1", ALICE, rule_id="tech-debt-agreement-incomplete")]
    run(config, result(both, rules=RULES))
    (post,) = jira.calls("POST")
    body = body_of(post)
    # Each family asks its own questions: the purpose of the epic, and the shortcut taken.
    assert "What are we hoping to achieve?" in body and "Why did we take this shortcut?" in body

    # The outcome check is waived; the tech-debt agreement was completed.
    waivers.write_text("waivers:\n  - issue: PAY-1\n    rule: anticipated-outcome-missing\n"
                       "    reason: Discovery spike; outcome after user research\n    until: 2026-12-10\n"
                       "    by: alice\n")
    config = write_config(tmp_path, {"jira": {"deployment": "datacenter", "max_retries": 2},
                                    "waivers": {"file": str(waivers)}},
                         env={"JIRA_URL": DC, "JIRA_PAT": PAT})
    run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(days=1))
    (put,) = jira.calls("PUT")
    body = body_of(put)
    assert "pass now" not in body, body  # nothing was fixed about the outcome: it is waived
    assert "waived until 2026-12-10 by alice: Discovery spike; outcome after user research" in body
    assert "Fixed:\n* (/) *Epic has no outcome*" in body  # the tech-debt finding's title, in this fixture
    assert "What are we hoping to achieve?" not in body  # nothing open to ask about

    # The same again: not a single request.
    before = len(responses.calls)
    run(config, result([finding("PAY-1", ALICE)], rules=RULES), now=NOW + timedelta(days=2))
    assert len(responses.calls) == before

    # The outcome is written after all: every check passes now, and the comment says so once.
    run(config, result([], read=["PAY-1"], rules=RULES), now=NOW + timedelta(days=3))
    puts = jira.calls("PUT")
    assert len(puts) == 2 and "pass now" in body_of(puts[1]) and "waived" not in body_of(puts[1])
    assert len(jira.comments["PAY-1"]) == 1


def test_waivers_are_described_with_who_until_when_and_why():
    from datetime import date

    from bot.deliver.comments import describe_waiver
    from bot.waivers import Waiver

    waived = finding("PAY-1", ALICE, waived=True)
    assert describe_waiver(waived, Waiver("PAY-1", "r", "spike", until=date(2026, 12, 10), by="alice",
                                          source="waivers.yaml:3")) == "waived until 2026-12-10 by alice: spike"
    assert describe_waiver(waived, Waiver("PAY-1", "r", "snoozed in chat", by="U0BOB", source="snooze #4")) == \
        "waived by U0BOB: snoozed in chat"
    assert describe_waiver(waived, Waiver("", "r", "label govbot-waive-r", source="label")).startswith(
        "waived by the label govbot-waive-r on this issue")

"""Fix it from Slack, end to end: Bolt in Socket Mode against a loopback Socket Mode server, the Slack Web
API against the loopback fake, Jira (Cloud and Data Center) at the HTTP layer.

Clicking "Add the anticipated outcome" on a real nudge and submitting the modal gives one Jira edit in
the right place (the custom field, or the description section), one ``chat.update`` showing the fix, a
resolved finding, a comment and an audit line; someone who may not edit the issue changes nothing.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

import pytest
from slack_sdk import WebClient

from bot.deliver import buttons
from bot.deliver.slack import Item, nudge_message
from bot.engine import load_rules
from bot.runs.batch import ALWAYS, open_batch
from bot.runs.inputs import Inputs
from bot.service.actions import build_actions
from bot.service.chat import ChatCommands, build_app
from bot.store import open_store
from tests.fakes.slack_server import FakeSlack
from tests.fakes.socket_mode import SocketModeServer
from tests.service.conftest import wait_for
from tests.sources.fakejira import (CLOUD_ENV, DC_ENV, OUTCOME, FakeJira, adf, cloud_fields, cloud_issue,
                                    dc_fields, dc_issue, make_config, mock)

NOW = datetime(2026, 3, 30, 8, 30, tzinfo=timezone.utc)
ALICE, BOB = "U0ALICE", "U0BOB"
OUTCOME_TEXT = "Cut checkout abandonment from 35% to 20% by Q3 <@U0BOSS> [~admin]"


class EditableJira(FakeJira):
    """FakeJira plus what an action needs: read one issue, edit it, comment, find users, check permissions."""

    def __init__(self, issues, *, users: list[dict], editors: set[str], **options):
        super().__init__(issues, **options)
        self.users = users
        self.editors = editors
        self.refuse: tuple[int, dict] | None = None

    def install(self, rsps):
        super().install(rsps)
        rsps.add_callback("PUT", re.compile(re.escape(self.url) + r"/rest/.*"), callback=self._handle)
        return self

    def _handle(self, request):
        status, headers, body = super()._handle(request)
        return (204, {}, "") if status == 204 else (status, headers, body)  # No Content means no body

    def edits(self) -> list[dict]:
        return [call for call in self.calls if call["method"] == "PUT"]

    def comments(self) -> list[dict]:
        return [call for call in self.calls if call["method"] == "POST" and call["path"].endswith("/comment")]

    def _route(self, method, path, params, body):
        api = "3" if self.cloud else "2"
        match = re.fullmatch(rf"/rest/api/{api}/issue/([A-Z]+-\d+)(/comment)?", path)
        if match:
            issue = self.issues.get(match.group(1))
            if issue is None:
                return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                             "errors": {}}
            if match.group(2) and method == "POST":
                return 201, {"id": "10100", "body": body.get("body")}
            if method == "GET":
                wanted = (params.get("fields") or "").split(",")
                return 200, {"key": issue["key"], "fields": {k: v for k, v in issue["fields"].items() if k in wanted}}
            if method == "PUT":
                if self.refuse:
                    return self.refuse
                known = {f["id"] for f in self.fields}
                errors = {f: f"Field '{f}' cannot be set. It is not on the appropriate screen, or unknown."
                          for f in body.get("fields", {}) if f not in known}
                if errors:
                    return 400, {"errorMessages": [], "errors": errors}
                description = body.get("fields", {}).get("description")
                if self.cloud and description is not None and not isinstance(description, dict):
                    return 400, {"errorMessages": [], "errors": {"description": "Operation value must be an "
                                                                               "Atlassian Document (see the ADF)."}}
                issue["fields"].update(body["fields"])
                return 204, None
        if path == f"/rest/api/{api}/user/search":
            wanted = (params.get("query") if self.cloud else params.get("username")) or ""
            return 200, [user for user in self.users if user["emailAddress"].casefold() == wanted.casefold()]
        if path == f"/rest/api/{api}/user/permission/search":
            assert params.get("permissions") == "EDIT_ISSUES" and params.get("issueKey")
            if params["issueKey"] not in self.issues:
                return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
            ident = params.get("accountId") if self.cloud else params.get("username")
            return 200, [user for user in self.users
                         if (user.get("accountId") if self.cloud else user.get("name")) == ident
                         and ident in self.editors]
        return super()._route(method, path, params, body)


def jira_users(cloud: bool) -> list[dict]:
    if cloud:
        return [{"accountId": "acc-alice", "emailAddress": "alice@example.com", "displayName": "Alice",
                 "active": True, "accountType": "atlassian"},
                {"accountId": "acc-bob", "emailAddress": "bob@example.com", "displayName": "Bob", "active": True,
                 "accountType": "atlassian"}]
    return [{"name": "alice", "key": "JIRAUSER5", "emailAddress": "alice@example.com", "active": True},
            {"name": "bob", "key": "JIRAUSER6", "emailAddress": "bob@example.com", "active": True}]


class World:
    """One site, one nudge posted to Alice, govbot's Bolt app connected over Socket Mode."""

    def __init__(self, rsps, *, cloud: bool, field: bool, description=None, extra: str = ""):
        fields = cloud_fields() if cloud else dc_fields()
        if not field:
            fields = [f for f in fields if f["id"] != OUTCOME]
        if cloud:
            epic = cloud_issue("PAY-12", "Epic", summary="Checkout revamp",
                               description=description if description is not None else adf(("p", "Intro")))
        else:
            epic = dc_issue("PAY-12", "Epic", summary="Checkout revamp",
                            description=description if description is not None else "Intro")
        if not field:
            epic["fields"].pop(OUTCOME, None)
        self.cloud = cloud
        self.jira = EditableJira([epic], cloud=cloud, fields=fields, users=jira_users(cloud),
                                 editors={"acc-alice", "alice"}).install(rsps)
        self.config = make_config({"projects": ["PAY"]}, env=CLOUD_ENV if cloud else DC_ENV,
                                  extra="store: {audit_file: audit.jsonl}\n" + extra)
        self.inputs = Inputs(self.config, load_rules(None, self.config))
        with open_store(self.config) as store:
            with open_batch(self.inputs, NOW, store=store, record=ALWAYS) as batch:
                self.finding = next(f for f in batch.findings if f.rule == "anticipated-outcome-missing")
        self.server = SocketModeServer().start()
        self.slack = FakeSlack(users={"alice@example.com": ALICE, "bob@example.com": BOB},
                               socket_url=self.server.url).start()
        self.web = WebClient(token=self.slack.token, base_url=self.slack.api_url)
        rule = self.inputs.ruleset.get(self.finding.rule)
        payload = nudge_message([Item.from_finding(self.finding, rule)], label_prefix="govbot-waive-",
                                interval_days=7, reminder_cap=3, actions=True)
        posted = self.web.chat_postMessage(channel=ALICE, text=payload["text"], blocks=payload["blocks"])
        self.channel, self.ts = posted["channel"], posted["ts"]
        self.blocks = payload["blocks"]

        def store_opener(*, dry_run: bool):
            return open_store(self.config, dry_run=dry_run)

        from bot.service.health import Metrics

        self.metrics = Metrics()
        self.actions = build_actions(self.inputs, config=self.config, web_client=self.web, open_store=store_opener,
                                     apply=True, max_days=90, admins=[], metrics=self.metrics)
        commands = ChatCommands(self.inputs, clock=lambda: NOW, open_store=store_opener,
                                access=self.actions.access)
        app = build_app(commands, token=self.slack.token, base_url=self.slack.api_url,
                        token_verification_enabled=False, actions=self.actions)
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.handler = SocketModeHandler(app, self.slack.app_token)
        self.handler.connect()
        assert self.server.wait_connected(10)

    def close(self) -> None:
        self.handler.close()
        self.actions.close()
        self.slack.stop()
        self.server.stop()

    # -- what a person does in Slack ------------------------------------------------------------------
    def button(self, label: str) -> dict:
        for block in self.blocks:
            for element in block.get("elements") or []:
                if block["type"] == "actions" and element["text"]["text"] == label:
                    return {**element, "block_id": block["block_id"]}
        raise AssertionError(f"no button {label!r}")

    def click(self, user: str, label: str) -> dict | None:
        button = self.button(label)
        payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
                   "api_app_id": "A0TEST", "token": "legacy", "trigger_id": f"1337.{user}.{time.time_ns()}",
                   "team": {"id": "T0TEST", "domain": "test"},
                   "container": {"type": "message", "message_ts": self.ts, "channel_id": self.channel,
                                 "is_ephemeral": False},
                   "channel": {"id": self.channel, "name": "directmessage"},
                   "message": {"type": "message", "ts": self.ts, "bot_id": "BBOT", "blocks": self.blocks},
                   "response_url": "https://hooks.slack.invalid/actions/T0TEST/1/x",
                   "actions": [{"type": "button", "action_id": button["action_id"], "block_id": button["block_id"],
                                "value": button["value"], "text": button["text"], "action_ts": "1711787400.1"}]}
        return self.server.send("interactive", payload)

    def open_modal(self, user: str, label: str) -> dict:
        """Click a button that opens a modal: the view govbot asked Slack to open."""
        opened = len(self.slack.views)
        assert self.click(user, label) is not None  # acknowledged
        assert wait_for(lambda: len(self.slack.views) > opened)
        return self.slack.views[opened]["view"]

    def submit(self, user: str, view: dict, values: dict[str, str | dict]) -> dict | None:
        """Submit ``view`` with the text typed into each block, or another input's state as Slack sends it."""
        state = {block_id: {"value": value if isinstance(value, dict) else {"type": "plain_text_input", "value": value}}
                 for block_id, value in values.items()}
        payload = {"type": "view_submission", "team": {"id": "T0TEST", "domain": "test"},
                   "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"}, "api_app_id": "A0TEST",
                   "token": "legacy", "trigger_id": f"1338.{user}",
                   "view": {**view, "state": {"values": state}, "hash": "1711787400.abc", "app_id": "A0TEST",
                            "bot_id": "BBOT", "team_id": "T0TEST"},
                   "response_urls": []}
        return self.server.send("interactive", payload)

    def audit(self) -> list[dict]:
        path = self.config.base_dir / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def world_factory():
    made = []

    def make(rsps, **options) -> World:
        world = World(rsps, **options)
        made.append(world)
        return world

    yield make
    for world in made:
        world.close()


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
@pytest.mark.parametrize("field", [True, False], ids=["custom-field", "description-section"])
def test_clicking_and_submitting_writes_once_updates_the_message_and_resolves_the_finding(world_factory, cloud,
                                                                                          field):
    with mock() as rsps:
        world = world_factory(rsps, cloud=cloud, field=field,
                              description=None if field or cloud else "Intro\n\nh2. Anticipated Outcome\nTBD\n\n"
                                                                      "h2. Scope\nAll of it")
        view = world.open_modal(ALICE, "Add the anticipated outcome")
        assert view["callback_id"] == buttons.FIX_VIEW
        ack = world.submit(ALICE, view, {buttons.field_block_id(0): OUTCOME_TEXT})
        assert ack is not None and "errors" not in json.dumps(ack)
        assert wait_for(lambda: world.slack.calls_to("chat.update"))

        edits = world.jira.edits()
        assert len(edits) == 1
        api = "3" if cloud else "2"
        assert edits[0]["path"] == f"/rest/api/{api}/issue/PAY-12"
        written = edits[0]["body"]["fields"]
        if field:
            assert list(written) == [OUTCOME]
            value = written[OUTCOME]
        else:
            assert list(written) == ["description"]
            value = written["description"]
        if cloud:
            assert value["type"] == "doc"
            texts = json.dumps(value)
            assert "Cut checkout abandonment" in texts and '"mention"' not in texts and '"link"' not in texts
            if not field:
                assert value["content"][0] == {"type": "paragraph", "content": [{"type": "text", "text": "Intro"}]}
                assert value["content"][1]["type"] == "heading"
        else:
            assert "Cut checkout abandonment" in value and "[~admin]" not in value and "\\[\\~admin\\]" in value
            if not field:
                assert value == ("Intro\n\nh2. Anticipated Outcome\nCut checkout abandonment from 35% to 20% by Q3 "
                                 "<@U0BOSS> \\[\\~admin\\]\n\nh2. Scope\nAll of it")

        updates = world.slack.calls_to("chat.update")
        assert len(updates) == 1
        message = next(m for m in world.slack.posts() if m["ts"] == world.ts)
        shown = json.dumps(message["blocks"])
        assert "PAY-12* has its anticipated outcome, thank you" in shown
        assert buttons.actions_block_id(world.finding.fingerprint) not in shown  # its buttons are gone

        with open_store(world.config, dry_run=True) as store:
            state = store.finding_states([world.finding.fingerprint])[world.finding.fingerprint]
        assert state.resolved_at is not None
        comments = world.jira.comments()
        assert len(comments) == 1 and "alice wrote the" in json.dumps(comments[0]["body"]) and "from Slack" in \
            json.dumps(comments[0]["body"])
        events = [event["event"] for event in world.audit()]
        assert "action.written" in events and "action.fixed" in events
        assert 'govbot_slack_actions_total{action="anticipated",outcome="fixed"} 1' in world.metrics.render()
        assert "U0ALICE" not in world.metrics.render() and "PAY-12" not in world.metrics.render()

        # The same submission again (Slack redelivers): nothing more is written.
        world.submit(ALICE, view, {buttons.field_block_id(0): OUTCOME_TEXT})
        # A second modal from a second click: the finding is fixed, so it says so and writes nothing.
        world.click(ALICE, "Add the anticipated outcome")
        assert wait_for(lambda: world.slack.ephemerals)
        assert "already fixed" in world.slack.ephemerals[-1]["text"]
        time.sleep(0.2)
        assert len(world.jira.edits()) == 1 and len(world.slack.calls_to("chat.update")) == 1
        assert len(world.slack.views) == 1


def test_a_submission_delivered_to_both_replicas_is_acted_on_once(world_factory):
    # Both replicas of the Deployment hold a Socket Mode connection; Slack may deliver the same
    # view_submission to the other one. The view is claimed in the shared store before any write.
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        view = world.open_modal(ALICE, "Add the anticipated outcome")
        world.submit(ALICE, view, {buttons.field_block_id(0): OUTCOME_TEXT})
        assert wait_for(lambda: world.slack.calls_to("chat.update"))
        assert len(world.jira.edits()) == 1

        def store_opener(*, dry_run: bool):
            return open_store(world.config, dry_run=dry_run)

        other = build_actions(world.inputs, config=world.config, web_client=world.web, open_store=store_opener,
                              apply=True, max_days=90, admins=[])
        body = {"type": "view_submission", "user": {"id": ALICE}, "team": {"id": "T0TEST"},
                "view": {**view, "state": {"values": {buttons.field_block_id(0): {
                    "value": {"type": "plain_text_input", "value": OUTCOME_TEXT}}}}}}
        acks = []
        listener = other._submission(other.fix_errors, other.fix_submitted)
        ephemerals = len(world.slack.ephemerals)
        listener(ack=lambda **answer: acks.append(answer), body=body, client=world.web)
        other.close()  # waits for its worker
        assert acks == [{}]  # the modal is closed as usual
        # The other replica never got as far as looking at the finding: the store said "handled".
        assert other._first_submission(view) is False
        assert not any(event["event"] == "action.stale" for event in world.audit())
        assert len(world.slack.ephemerals) == ephemerals
        assert len(world.jira.edits()) == 1 and len(world.slack.calls_to("chat.update")) == 1
        with open_store(world.config) as store:
            assert store.claim_once(f"slack-view:{view['id']}", NOW) is False


def test_someone_who_may_not_edit_the_issue_changes_nothing(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        for label in ("Add the anticipated outcome", "Snooze", "Not mine"):
            assert world.click(BOB, label) is not None
        assert wait_for(lambda: len(world.slack.ephemerals) == 3)
        assert all(e["text"] == "Sorry, only people who can edit PAY-12 in Jira can change it here." and
                   e["user"] == BOB for e in world.slack.ephemerals)
        # A forged submission of Alice's modal by Bob is refused at submit too.
        view = buttons.fix_modal(buttons.FIXES["anticipated"],
                                 buttons.Target("PAY-12", world.finding.rule, world.finding.fingerprint),
                                 channel=world.channel, ts=world.ts, where=["x"])
        world.submit(BOB, {**view, "id": "V0FORGED"}, {buttons.field_block_id(0): OUTCOME_TEXT})
        assert wait_for(lambda: len(world.slack.ephemerals) == 4)
        assert not world.slack.views and not world.jira.edits() and not world.slack.calls_to("chat.update")
        assert not world.slack.calls_to("chat.postMessage")[1:]  # nothing went to a channel
        # The same rule guards /govbot waive.
        from bot.service.chat import ChatCommands

        commands = ChatCommands(world.inputs, clock=lambda: NOW, access=world.actions.access)
        _, answer = commands.answer(f"waive PAY-12 {world.finding.rule} 14d we know", {"user_id": BOB})
        assert "only people who can edit PAY-12" in answer
        # And /govbot unwaive: ending someone's waiver is a change to the issue's verdict too.
        _, answer = commands.answer(f"unwaive PAY-12 {world.finding.rule}", {"user_id": BOB})
        assert "only people who can edit PAY-12" in answer
        assert sum(1 for e in world.audit() if e["event"] == "action.refused") == 4


def test_jira_refusing_the_edit_leaves_the_message_and_says_why(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        world.jira.refuse = (400, {"errorMessages": [], "errors": {OUTCOME: "Field 'customfield_10050' cannot be "
                                                                             "set. It is not on the appropriate "
                                                                             "screen, or unknown."}})
        view = world.open_modal(ALICE, "Add the anticipated outcome")
        world.submit(ALICE, view, {buttons.field_block_id(0): OUTCOME_TEXT})
        assert wait_for(lambda: world.slack.ephemerals)
        said = world.slack.ephemerals[-1]["text"]
        assert said.startswith("Jira refused the edit of PAY-12") and "not on the appropriate screen" in said
        assert "\n" not in said
        assert not world.slack.calls_to("chat.update") and not world.jira.comments()
        with open_store(world.config, dry_run=True) as store:
            assert store.finding_states([world.finding.fingerprint])[world.finding.fingerprint].open


def test_a_placeholder_or_a_deleted_issue_writes_nothing(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=False)
        view = world.open_modal(ALICE, "Add the anticipated outcome")
        ack = world.submit(ALICE, view, {buttons.field_block_id(0): "TBD"})
        assert ack["payload"]["response_action"] == "errors"  # the modal stays open and says why
        ack = world.submit(ALICE, view, {buttons.field_block_id(0): "x" * (buttons.MAX_VALUE_CHARS + 1)})
        assert "under 2000 characters" in json.dumps(ack["payload"]["errors"])  # a client ignoring max_length
        del world.jira.issues["PAY-12"]
        world.submit(ALICE, {**view, "id": "V0SECOND"}, {buttons.field_block_id(0): OUTCOME_TEXT})
        assert wait_for(lambda: world.slack.ephemerals)
        assert "no longer" in world.slack.ephemerals[-1]["text"] or "already fixed" in world.slack.ephemerals[-1]["text"]
        assert not world.jira.edits() and not world.slack.calls_to("chat.update")


def test_snooze_from_the_button_waives_the_rule_with_the_persons_name(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        view = world.open_modal(ALICE, "Snooze")
        world.submit(ALICE, view, {"govbot-snooze-days": {"type": "static_select", "selected_option": {"value": "14"}},
                                   "govbot-snooze-reason": "waiting on <!here> legal"})
        assert wait_for(lambda: world.slack.calls_to("chat.update"))
        with open_store(world.config, dry_run=True) as store:
            snoozes = store.snoozes()
        assert len(snoozes) == 1 and snoozes[0].issue == "PAY-12" and snoozes[0].rule == world.finding.rule
        assert snoozes[0].by == f"alice (Slack {ALICE})" and snoozes[0].reason == "waiting on <!here> legal"
        shown = json.dumps(next(m for m in world.slack.posts() if m["ts"] == world.ts)["blocks"])
        assert "snoozed until 2026-" in shown and "&lt;!here&gt;" in shown and "<!here>" not in shown
        assert any(e["event"] == "action.snoozed" and e["who"] == "alice" for e in world.audit())



def test_not_mine_passes_the_item_to_the_team_channel_and_says_so_in_place(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True, extra="slack: {default_channel: '#payments'}\n")
        world.click(ALICE, "Not mine")
        assert wait_for(lambda: world.slack.calls_to("chat.update"))
        channel_posts = [m for m in world.slack.posts() if m["channel"] == "#payments"]
        assert len(channel_posts) == 1
        posted = json.dumps(channel_posts[0]["blocks"])
        assert "alice says this one isn't theirs" in posted and "PAY-12" in posted and "Not mine" not in posted
        shown = json.dumps(next(m for m in world.slack.posts() if m["ts"] == world.ts)["blocks"])
        assert "went to the team channel" in shown
        assert any(e["event"] == "action.not_mine" and e["channel"] == "#payments" for e in world.audit())
        with open_store(world.config, dry_run=True) as store:
            state = store.finding_states([world.finding.fingerprint])[world.finding.fingerprint]
        assert state.escalated_at is not None and state.open  # handed to the team: no more reminders to Alice


def test_an_agreement_writes_only_the_parts_given_each_in_its_own_section(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=False, field=False)
        target = buttons.Target("PAY-12", "tech-debt-agreement-incomplete", world.finding.fingerprint)
        view = {**buttons.fix_modal(buttons.FIXES["agreement"], target, channel=world.channel, ts=world.ts,
                                    where=["x"]), "id": "V0AGREE"}
        assert world.submit(ALICE, view, {})["payload"]["response_action"] == "errors"  # nothing given
        errors = world.actions.fix_errors({**view, "state": {"values": {
            buttons.field_block_id(1): {"value": {"type": "plain_text_input", "value": "Slows every release"}}}}})
        assert errors == {}
        editor = world.actions.editor()
        write = editor.plan("PAY-12", [("Impact", "Slows every release"), ("Timeline", "When v1 is retired")])
        assert write.where == ["the Impact section of the description", "the Timeline section of the description"]
        assert write.fields["description"] == ("Intro\n\nh2. Impact\nSlows every release\n\nh2. Timeline\n"
                                               "When v1 is retired")


def test_who_may_act_when_jira_hides_addresses_or_the_user_map_says_who(world_factory):
    from bot.service.access import Access

    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        editor = world.actions.editor()
        for user in world.jira.users:
            user.pop("emailAddress")
        hidden = EditableJira.__dict__["_route"]

        def by_query(self, method, path, params, body, _route=hidden):
            if path == "/rest/api/3/user/search":  # Cloud still matches the address it does not show
                return 200, [u for u in self.users if u["displayName"].casefold() + "@example.com"
                             == (params.get("query") or "").casefold()]
            return _route(self, method, path, params, body)

        world.jira._route = by_query.__get__(world.jira)
        slack_user = lambda user_id: world.web.users_info(user=user_id)["user"]  # noqa: E731
        access = Access(slack_user=slack_user, editor=lambda: editor)
        assert access.decide(ALICE, "PAY-12").allowed and not access.decide(BOB, "PAY-12").allowed
        mapped = Access(slack_user=lambda user_id: {"profile": {}}, editor=lambda: editor,
                        user_map={"acc-alice": "U0NOEMAIL"})
        assert mapped.decide("U0NOEMAIL", "PAY-12").allowed
        assert not mapped.decide("U0STRANGER", "PAY-12").allowed
        assert Access(slack_user=lambda user_id: None, editor=lambda: editor, admins=["U0ADMIN"]).decide(
            "U0ADMIN", "PAY-12").admin


def test_the_done_message_sets_the_review_date_and_the_actual_outcome_from_slack(world_factory):
    from bot.deliver import moments
    from tests.sources.fakejira import ACTUAL

    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        blocks = moments.done_blocks("PAY-12", "Checkout revamp", "https://example.atlassian.net/browse/PAY-12")
        posted = world.web.chat_postMessage(channel=ALICE, text="done", blocks=blocks)
        world.blocks, world.ts = blocks, posted["ts"]
        view = world.open_modal(ALICE, "Set the review date")
        assert view["callback_id"] == moments.REVIEW_VIEW
        world.submit(ALICE, view, {"govbot-review-date": {"type": "datepicker", "selected_date": "2026-06-30"},
                                   buttons.field_block_id(0): "Abandonment fell to 24%"})
        assert wait_for(lambda: world.slack.calls_to("chat.update"))
        [edit] = world.jira.edits()
        written = edit["body"]["fields"]
        assert set(written) == {ACTUAL, "description"}  # the site has an Actual Outcome field, no Review Date one
        assert json.dumps(written[ACTUAL]).count("Abandonment fell to 24%") == 1
        heading, paragraph = written["description"]["content"][-2:]
        assert heading["content"][0]["text"] == "Review Date" and paragraph["content"][0]["text"] == "2026-06-30"
        shown = json.dumps(next(m for m in world.slack.posts() if m["ts"] == world.ts)["blocks"])
        assert "review on 2026-06-30, thank you" in shown and "Set the review date" not in shown
        # Bob may not: nothing opens.
        world.click(BOB, "Set the review date")
        assert wait_for(lambda: world.slack.ephemerals) and len(world.slack.views) == 1


def test_a_service_without_live_jira_says_so_and_writes_nothing(world_factory):
    with mock() as rsps:
        world = world_factory(rsps, cloud=True, field=True)
        world.actions.live = False
        world.click(ALICE, "Add the anticipated outcome")
        assert wait_for(lambda: world.slack.ephemerals)
        assert "not live Jira" in world.slack.ephemerals[0]["text"]
        assert not world.slack.views and not world.jira.edits()

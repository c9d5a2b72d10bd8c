"""`govbot doctor`'s Slack part: the token, its scopes, and which in-doubt mode the site is in."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from bot.commands.doctor import doctor
from bot.doctor import FAIL, HISTORY_SCOPES, OK, SKIP, SLACK_SCOPES, WARN, slack_doctor
from tests.conftest import ROOT
from tests.deliver.conftest import TOKEN, write_config
from tests.fakes.slack_server import DEFAULT_SCOPES, FakeSlack


def steps_for(tmp_path, fake: FakeSlack | None, **slack):
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url} if fake is not None else {}
    config = write_config(tmp_path, {"slack": slack} if slack else None, env=env)
    return {step.name: step for step in slack_doctor(config)}


def test_with_every_scope_in_doubt_posts_are_proved_from_history(tmp_path):
    with FakeSlack(token=TOKEN) as fake:
        steps = steps_for(tmp_path, fake)
    assert [steps[name].status for name in ("slack", "slack scopes", "in-doubt posts")] == [OK, OK, OK]
    assert "proved from Slack's history" in steps["in-doubt posts"].detail


def test_without_history_scopes_it_says_posts_are_resent_marked(tmp_path):
    with FakeSlack(token=TOKEN) as fake:
        fake.scopes.discard("groups:history")
        partly = steps_for(tmp_path, fake)["in-doubt posts"]
        fake.without_history()
        none = steps_for(tmp_path, fake)["in-doubt posts"]
        told = steps_for(tmp_path, fake, resend_unconfirmed=False)["in-doubt posts"]
    assert partly.status == WARN and "private team channels (groups:history missing)" in partly.detail
    assert "proved from history for direct messages, public team channels" in partly.detail
    assert none.status == WARN and 'resent once, marked "in case you missed this"' in none.detail
    assert "im:history" in none.hint and "slack-app-manifest.yaml" in none.hint
    assert "may be lost" in told.detail


def test_a_missing_sending_scope_or_a_bad_token_is_red_and_no_token_is_skipped(tmp_path):
    with FakeSlack(token=TOKEN) as fake:
        fake.scopes.discard("users:read.email")
        scopes = steps_for(tmp_path, fake)["slack scopes"]
        fake.token = "xoxb-other"
        refused = steps_for(tmp_path, fake)["slack"]
    assert scopes.status == FAIL and "users:read.email" in scopes.detail
    assert refused.status == FAIL and "invalid_auth" in refused.detail
    skipped = steps_for(tmp_path, None)["slack"]
    assert skipped.status == SKIP and "SLACK_BOT_TOKEN is not set" in skipped.detail


def test_the_command_lists_the_slack_checks_after_jira(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with FakeSlack(token=TOKEN) as fake:
        fake.without_history()
        (tmp_path / "govbot.yaml").write_text("slack: {seconds_between_posts: 0}\n")
        result = CliRunner().invoke(doctor, ["--config", "govbot.yaml", "--format", "json"],
                                    env={"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url})
    names = {check["name"]: check["status"] for check in json.loads(result.stdout)["checks"]}
    assert names["slack"] == "ok" and names["in-doubt posts"] == "warn"


def test_the_manifest_the_doctor_and_the_fake_agree_on_the_scopes():
    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    asked = set(manifest["oauth_config"]["scopes"]["bot"])
    assert asked == set(SLACK_SCOPES) | set(HISTORY_SCOPES) | {"commands"} == set(DEFAULT_SCOPES)

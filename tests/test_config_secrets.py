"""A secret is refused by its shape in any config value, not only under a key named token, and never echoed."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.errors import ConfigError

SLACK = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
APP = "xapp-1-A012345-1234567890-abcdef0123"
ATLASSIAN = "ATATT3xFfGF0T9kPq2ZrXa8bLmNoPqRsTuVwXyZ0123456789=ABCDEF12"


def refused(tmp_path, text: str) -> str:
    path = tmp_path / "govbot.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value)


@pytest.mark.parametrize("value, what", [(SLACK, "a Slack token"), (APP, "a Slack app token"),
                                         (ATLASSIAN, "an Atlassian API token")])
def test_a_token_shape_in_any_value_is_refused_and_masked(tmp_path, value, what):
    text = refused(tmp_path, f'slack:\n  admin_channel: "{value}"\n')
    assert f"govbot.yaml:2:18: error: config: secrets must not be written in the config file " \
           f"(slack.admin_channel holds {what})" in text
    assert value not in text and value[:12] not in text
    assert "********" in text


def test_a_password_inside_a_url_is_refused_and_masked(tmp_path):
    text = refused(tmp_path, "jira:\n  url: https://ada:S3cretT0ken99@acme.atlassian.net\n")
    assert "govbot.yaml:2:8: error:" in text and "(jira.url holds a password inside a URL)" in text
    assert "S3cretT0ken99" not in text
    assert "https://ada:********@acme.atlassian.net" in text  # the rest of the line stays readable


def test_a_token_inside_a_list_or_flow_mapping_is_found(tmp_path):
    text = refused(tmp_path, f"teams:\n  payments: {{projects: [PAY], channel: '{SLACK}'}}\n")
    assert "(teams.payments.channel holds a Slack token)" in text and SLACK not in text
    text = refused(tmp_path, f"jira:\n  projects: [PAY, {ATLASSIAN}]\n")
    assert "jira.projects[1]" in text and ATLASSIAN not in text


def test_ordinary_values_pass(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("jira:\n  url: https://acme.atlassian.net\nslack:\n  admin_channel: '#xoxo-fans'\n"
                    "teams:\n  payments: {projects: [PAY], channel: '#pay'}\n", encoding="utf-8")
    assert load_config(path).section("slack")["admin_channel"] == "#xoxo-fans"


@pytest.mark.parametrize("name", ["JIRA_API_TOKEN", "JIRA_PAT", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
                                  "GOVBOT_WEBHOOK_SECRET", "GOVBOT_DASHBOARD_PASSWORD", "GOVBOT_DASHBOARD_TOKEN"])
def test_every_secret_the_guide_lists_is_masked_once_the_config_is_loaded(tmp_path, monkeypatch, name):
    """docs/deploy.md lists these as secrets; a value set directly (not via NAME_FILE) must not reach a log
    line before, or without, the part of the service that reads it."""
    from bot.redact import clear_secrets, redact

    value = "plain-looking-secret-value-42"
    monkeypatch.setenv(name, value)
    clear_secrets()
    try:
        load_config(None)
        assert redact(f"error: {value} refused") == "error: [REDACTED] refused"
    finally:
        clear_secrets()

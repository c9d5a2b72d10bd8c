"""JSON lines off a terminal, plain lines on one, and never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def logger():
    yield logging.getLogger("govbot.test-logs")
    logs._secrets.clear()  # the conftest restores the handlers and levels


SECRETS = {"JIRA_API_TOKEN": "ATATT3xFfGF0-jira-secret-123", "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdef",
           "SLACK_APP_TOKEN": "xapp-1-A0-999-feedbeef", "JIRA_PAT": "NjQ2MzE2-pat-value"}


def test_json_lines_when_not_a_terminal_with_context_fields(logger):
    stream = io.StringIO()
    logs.setup_logging("info", "auto", stream=stream, env={})
    logger.info("digest finished in %.1fs", 1.25, extra={"job": "digest", "counts": {"messages": 5}})
    logger.debug("not shown at info")
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "digest finished in 1.2s" and entry["level"] == "info"
    assert entry["job"] == "digest" and entry["counts"] == {"messages": 5}
    assert entry["logger"] == "govbot.test-logs" and entry["time"].endswith("+00:00")


def test_human_lines_on_a_terminal(logger):
    stream = Terminal()
    logs.setup_logging("info", "auto", stream=stream, env={})
    logger.warning("digest skipped", extra={"job": "digest"})
    line = stream.getvalue()
    assert "WARNING govbot.test-logs: digest skipped (job=digest)" in line and not line.startswith("{")


@pytest.mark.parametrize("mode", ["json", "text"])
def test_secrets_are_redacted_everywhere(logger, mode):
    stream = io.StringIO()
    logs.setup_logging("info", mode, stream=stream, env=SECRETS)
    logger.info("token %s in the message", SECRETS["JIRA_API_TOKEN"], extra={"header": "Bearer abc.def-ghi_123"})
    logger.info("pasted %s and %s and xoxp-123-456-789", "xoxb-9-9-somethingelse", "xapp-1-B2-3-cafe")
    logger.info("db postgresql+psycopg://govbot:hunter2secret@db:5432/govbot and %s", SECRETS["JIRA_PAT"])
    try:
        raise RuntimeError(f"Slack said no to {SECRETS['SLACK_BOT_TOKEN']}")
    except RuntimeError:
        logger.exception("send failed; Authorization: Basic dXNlcjpwYXNzd29yZA==")
    logs.register_secret("from-a-token-file-0042")
    logger.info("file token from-a-token-file-0042")
    output = stream.getvalue()
    for value in [*SECRETS.values(), "abc.def-ghi_123", "somethingelse", "B2-3-cafe", "xoxp-123", "hunter2secret",
                  "dXNlcjpwYXNzd29yZA", "from-a-token-file-0042"]:
        assert value not in output, value
    assert output.count(logs.MASK) >= 9
    assert "postgresql+psycopg://govbot:[REDACTED]@db:5432/govbot" in output


def test_short_values_are_not_treated_as_secrets():
    logs.register_secret("abc")
    try:
        assert logs.redact("abc is fine") == "abc is fine"
    finally:
        logs._secrets.clear()


def test_secrets_read_from_files_are_redacted(logger, tmp_path):
    """A token from any NAME_FILE or from jira.token_file never reaches a log line."""
    from bot.config import load_config

    (tmp_path / "jira-token").write_text("jira-token-from-config-file-77\n")
    (tmp_path / "slack-token").write_text("slack-bot-token-from-a-file-88\n")
    (tmp_path / "other").write_text("signing-secret-in-a-file-99")
    (tmp_path / "big").write_text("x" * (logs.MAX_SECRET_FILE_BYTES + 1))
    config_path = tmp_path / "govbot.yaml"
    config_path.write_text("jira:\n  token_file: jira-token\n")
    env = {"SLACK_BOT_TOKEN_FILE": str(tmp_path / "slack-token"), "CUSTOM_SECRET_FILE": str(tmp_path / "other"),
           "BIG_FILE": str(tmp_path / "big"), "MISSING_FILE": str(tmp_path / "nowhere")}
    logs.register_config_secrets(load_config(config_path, env=env))
    stream = io.StringIO()
    logs.setup_logging("info", "json", stream=stream, env={})
    logger.info("jira-token-from-config-file-77 slack-bot-token-from-a-file-88 signing-secret-in-a-file-99")
    assert json.loads(stream.getvalue())["message"] == " ".join([logs.MASK] * 3)
    assert not any(len(secret) > logs.MAX_SECRET_FILE_BYTES for secret in logs._secrets)


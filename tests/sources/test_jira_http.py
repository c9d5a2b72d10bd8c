"""Transport: Retry-After, backoff, resets, one-line errors, and the jira package's session."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
import requests
import responses

from bot.errors import ConfigError, JiraError, NetworkError
from bot.sources.http import RetryPolicy, Transport, display_url, parse_retry_after
from bot.sources.jira import Connection, make_session
from fakejira import CLOUD_ENV, DC_ENV, URL, Sleeps, make_config

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def transport(sleeps: Sleeps, *, retries: int = 3, session=None) -> Transport:
    return Transport(session or requests.Session(), URL, policy=RetryPolicy(max_retries=retries),
                     sleep=sleeps, clock=lambda: NOW, rng=random.Random(1))


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7", NOW) == 7
    assert parse_retry_after(" 2.5 ", NOW) == 2.5
    later = datetime.fromtimestamp(NOW + 42, tz=timezone.utc)
    assert parse_retry_after(format_datetime(later, usegmt=True), NOW) == pytest.approx(42)
    past = datetime.fromtimestamp(NOW - 100, tz=timezone.utc)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@responses.activate
def test_429_with_retry_after_seconds_is_honoured_without_real_sleeping():
    responses.get(f"{URL}/rest/api/2/myself", status=429, headers={"Retry-After": "7"})
    responses.get(f"{URL}/rest/api/2/myself", json={"displayName": "Ada"})
    sleeps = Sleeps()
    assert transport(sleeps).get("/rest/api/2/myself") == {"displayName": "Ada"}
    assert sleeps == [7]


@responses.activate
def test_503_with_retry_after_http_date_is_honoured():
    when = format_datetime(datetime.fromtimestamp(NOW + 30, tz=timezone.utc), usegmt=True)
    responses.get(f"{URL}/rest/api/2/field", status=503, headers={"Retry-After": when})
    responses.get(f"{URL}/rest/api/2/field", json=[])
    sleeps = Sleeps()
    assert transport(sleeps).get("/rest/api/2/field") == []
    assert sleeps == [pytest.approx(30)]


@responses.activate
def test_server_errors_back_off_exponentially_with_jitter_then_give_up():
    for _ in range(4):
        responses.get(f"{URL}/rest/api/2/field", status=502)
    sleeps = Sleeps()
    with pytest.raises(NetworkError) as caught:
        transport(sleeps, retries=3).get("/rest/api/2/field", what="reading the field list")
    assert len(responses.calls) == 4  # bounded: the first try and three retries
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, 1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= slept <= ceiling
    assert "reading the field list" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert caught.value.exit_code == 3


@responses.activate
def test_a_retry_after_longer_than_the_limit_fails_instead_of_hammering():
    responses.get(f"{URL}/rest/api/2/field", status=429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(NetworkError, match="asked to wait 3600s"):
        transport(sleeps).get("/rest/api/2/field")
    assert sleeps == []


@responses.activate
def test_connection_reset_and_truncated_json_are_retried():
    responses.get(f"{URL}/rest/api/2/field", body=requests.exceptions.ConnectionError("Connection reset by peer"))
    responses.get(f"{URL}/rest/api/2/field", body='[{"id": "summ', content_type="application/json")
    responses.get(f"{URL}/rest/api/2/field", json=[{"id": "summary"}])
    sleeps = Sleeps()
    assert transport(sleeps).get("/rest/api/2/field") == [{"id": "summary"}]
    assert len(sleeps) == 2


@responses.activate
def test_unknown_host_fails_at_once_with_one_line():
    responses.get(f"{URL}/rest/api/2/serverInfo", body=requests.exceptions.ConnectionError(
        "HTTPSConnectionPool: Failed to resolve: [Errno -2] Name or service not known"))
    sleeps = Sleeps()
    with pytest.raises(NetworkError) as caught:
        transport(sleeps).get("/rest/api/2/serverInfo")
    assert "host name not found" in str(caught.value) and sleeps == []


@pytest.mark.parametrize("status, expected", [
    (401, "rejected the credentials (401)"),
    (403, "refused access (403)"),
])
@responses.activate
def test_auth_failures_are_one_line_and_never_show_the_secret(status, expected):
    config = make_config(env=CLOUD_ENV)
    session = make_session(Connection.from_config(config))
    responses.get(f"{URL}/rest/api/2/myself", status=status, json={"errorMessages": ["nope"]})
    with pytest.raises(JiraError) as caught:
        transport(Sleeps(), session=session).get("/rest/api/2/myself")
    message = str(caught.value)
    assert expected in message
    assert "JIRA_EMAIL" in message and "JIRA_PAT" in message
    assert "s3cr3t" not in message and "Authorization" not in message
    assert len(responses.calls) == 1  # no retrying a refusal
    assert message.count("\n") <= 1  # the line and its help


@responses.activate
def test_jql_errors_carry_jiras_own_text():
    responses.get(f"{URL}/rest/api/3/search/jql", status=400, json={
        "errorMessages": ["The value 'NOPE' does not exist for the field 'project'."], "errors": {}})
    with pytest.raises(JiraError) as caught:
        transport(Sleeps()).get("/rest/api/3/search/jql", {"jql": "project = NOPE"}, what="searching the scope")
    assert str(caught.value) == ("searching the scope: Jira at https://example.atlassian.net answered 400: "
                                 "The value 'NOPE' does not exist for the field 'project'.")


@responses.activate
def test_a_login_page_instead_of_json_is_a_clear_error():
    responses.get(f"{URL}/rest/api/2/field", body="<html>login</html>", content_type="text/html")
    with pytest.raises(JiraError, match="answered with text/html, not JSON"):
        transport(Sleeps()).get("/rest/api/2/field")


@responses.activate
def test_the_jira_package_session_carries_auth_but_does_not_retry_or_sleep_itself(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("slept for real"))
    config = make_config(env=CLOUD_ENV)
    session = make_session(Connection.from_config(config))
    responses.get(f"{URL}/rest/api/2/field", status=503)
    responses.get(f"{URL}/rest/api/2/field", json=[])
    sleeps = Sleeps()
    assert transport(sleeps, session=session).get("/rest/api/2/field") == []
    assert len(responses.calls) == 2 and len(sleeps) == 1  # one retry, ours
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_data_center_uses_a_bearer_token():
    config = make_config(env=DC_ENV)
    connection = Connection.from_config(config)
    assert connection.auth == "bearer" and "s3cr3t" not in repr(connection)
    responses.get("https://jira.example.com/rest/api/2/myself", json={"name": "ada"})
    Transport(make_session(connection), connection.url).get("/rest/api/2/myself")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer s3cr3t-pat"


def test_credentials_come_from_the_environment_or_a_token_file(tmp_path):
    with pytest.raises(ConfigError, match="no Jira credentials"):
        Connection.from_config(make_config(env={"JIRA_URL": URL}))
    with pytest.raises(ConfigError, match="JIRA_API_TOKEN is not"):
        Connection.from_config(make_config(env={"JIRA_URL": URL, "JIRA_EMAIL": "a@b.c"}))
    with pytest.raises(ConfigError, match="no Jira URL"):
        Connection.from_config(make_config(env={"JIRA_PAT": "x"}))
    (tmp_path / "token").write_text("from-file\n")
    config = make_config({"projects": ["PAY"], "token_file": "token"}, env={"JIRA_URL": URL, "JIRA_EMAIL": "a@b.c"})
    connection = Connection.from_config(config)
    assert (connection.auth, connection.token) == ("basic", "from-file")
    secret_file = tmp_path / "pat"
    secret_file.write_text("pat-from-env-file")
    connection = Connection.from_config(make_config(env={"JIRA_URL": URL, "JIRA_PAT_FILE": str(secret_file)}))
    assert (connection.auth, connection.token) == ("bearer", "pat-from-env-file")


def test_urls_in_messages_drop_credentials_and_queries():
    assert display_url("https://user:pw@jira.example.com:8443/jira/?token=x") == "https://jira.example.com:8443/jira"


@pytest.mark.parametrize("env, deployment, expected", [
    ({**CLOUD_ENV, "JIRA_PAT": "pat"}, "auto", "basic"),          # a Cloud host: email + API token
    ({**DC_ENV, "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "t"}, "auto", "bearer"),  # a DC host: the PAT
    ({**CLOUD_ENV, "JIRA_PAT": "pat"}, "datacenter", "bearer"),
    ({"JIRA_URL": URL, "JIRA_API_TOKEN": "token-only"}, "auto", "bearer"),
])
def test_which_credentials_are_used(env, deployment, expected):
    config = make_config({"projects": ["PAY"], "deployment": deployment}, env=env)
    assert Connection.from_config(config).auth == expected


@responses.activate
def test_a_site_that_never_answered_is_a_wrong_url_but_a_later_refusal_is_retried():
    refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    responses.get(f"{URL}/rest/api/2/serverInfo", body=refused)
    sleeps = Sleeps()
    client = transport(sleeps)
    with pytest.raises(NetworkError) as caught:
        client.get("/rest/api/2/serverInfo", what="reading the server info")
    assert caught.value.exit_code == 2 and sleeps == []
    assert str(caught.value) == ("reading the server info: cannot reach Jira at https://example.atlassian.net "
                                 "(connection refused)\nhelp: check JIRA_URL (or jira.url) and that Jira is running")
    responses.replace("GET", f"{URL}/rest/api/2/serverInfo", json={})
    client.get("/rest/api/2/serverInfo")
    responses.replace("GET", f"{URL}/rest/api/2/serverInfo", body=refused)
    responses.add("GET", f"{URL}/rest/api/2/serverInfo", json={"ok": True})
    assert client.get("/rest/api/2/serverInfo") == {"ok": True} and len(sleeps) == 1

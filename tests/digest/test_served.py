"""The dashboard as `govbot serve` publishes it: from the store, over HTTP, read-only, with an archive."""

from __future__ import annotations

import base64
import dataclasses
import re
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.digest import archive, render
from bot.errors import ConfigError
from bot.service.dashboard import Access, Dashboard, dashboard_for
from bot.service.health import HealthServer, Metrics
from bot.store import Store

from .conftest import NOW

WEEKS = [date(2026, 3, 16), date(2026, 3, 30)]  # 23 Mar skipped


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


@pytest.fixture
def store(tmp_path, digests):
    store = Store(f"sqlite:///{tmp_path / 'served.db'}")
    for week in WEEKS:
        shifted = dataclasses.replace(digests, week_start=week)
        store.record_dashboard(week, archive.to_payload(shifted), datetime(2026, 4, 1, tzinfo=timezone.utc))
        store.record_digest("*", week, {"ffr": 22.2 if week == WEEKS[-1] else 33.3, "open_findings": 6})
    yield store
    store.close()


def serve(store_url: str, access: Access | None = None) -> HealthServer:
    dashboard = Dashboard("/dashboard", lambda: Store(store_url), access=access)
    return HealthServer("127.0.0.1", 0, Metrics(), lambda: (True, {"status": "ok"}), dashboard=dashboard).start()


@pytest.fixture
def server(store):
    running = serve(str(store.engine.url))
    yield running
    running.stop()


def test_the_stored_week_reads_back_as_the_same_pages(digests):
    restored = archive.from_payload(archive.to_payload(digests))
    assert render.render_site(restored) == render.render_site(digests)


def test_the_latest_week_is_served_with_its_lists_and_secure_headers(server, digests):
    status, headers, body = get(f"{server.url}/dashboard")
    assert status == 308 and headers["Location"] == "/dashboard/"
    status, headers, index = get(f"{server.url}/dashboard/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert "week of 30 Mar 2026" in index
    # The archive's way back: the week before that was stored (23 Mar was skipped).
    assert 'rel="prev" href="weeks/2026-03-16/index.html"' in index and 'href="weeks/"' in index
    for link in re.findall(r'href="((?:team|list)-[^"]+)"', index):
        assert get(f"{server.url}/dashboard/{link}")[0] == 200, link


def test_the_archive_lists_every_stored_week_and_links_between_them(server):
    status, _, weeks = get(f"{server.url}/dashboard/weeks/")
    assert status == 200
    assert re.findall(r'href="(\d{4}-\d\d-\d\d)/"', weeks) == ["2026-03-30", "2026-03-16"]
    assert "22.2%" in weeks and "33.3%" in weeks
    assert get(f"{server.url}/dashboard/weeks/2026-03-16")[0] == 308
    status, _, old = get(f"{server.url}/dashboard/weeks/2026-03-16/team-payments.html")
    assert status == 200 and "week of 16 Mar 2026" in old
    assert 'rel="next" href="../2026-03-30/team-payments.html"' in old and "No earlier week" in old
    assert 'href="../../team-payments.html"' in old  # the latest week


@pytest.mark.parametrize("path", ["/dashboard/nope.html", "/dashboard/../../etc/passwd", "/dashboard/a/b.html",
                                  "/dashboard/weeks/2026-03-23/", "/dashboard/weeks/2026-13-45/",
                                  "/dashboard/weeks/2026-03-16/x/y", "/dashboard/INDEX.HTML"])
def test_anything_else_is_a_404_with_the_same_headers(server, path):
    status, headers, body = get(f"{server.url}{path}")
    assert status == 404, body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "Back to the dashboard" in body


def test_an_empty_store_says_no_dashboard_yet(tmp_path):
    running = serve(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        status, _, body = get(f"{running.url}/dashboard/")
        assert status == 404 and "No dashboard yet" in body
        assert get(f"{running.url}/healthz")[0] == 200
    finally:
        running.stop()


@pytest.mark.parametrize("access, good, bad", [
    (Access("basic", "review", "s3cret"), "Basic " + base64.b64encode(b"review:s3cret").decode(),
     ["Basic " + base64.b64encode(b"review:wrong").decode(), "Basic " + base64.b64encode(b"other:s3cret").decode(),
      "Basic !!!", "Bearer s3cret", ""]),
    (Access("token", secret="t0ken"), "Bearer t0ken", ["Bearer t0ke", "Basic dDBrZW4=", "t0ken", ""]),
])
def test_authentication_is_checked_over_http(store, access, good, bad):
    running = serve(str(store.engine.url), access)
    try:
        for header in bad:
            status, headers, _ = get(f"{running.url}/dashboard/", {"Authorization": header} if header else {})
            assert status == 401, header
            assert headers["WWW-Authenticate"].startswith("Basic" if access.kind == "basic" else "Bearer")
        assert get(f"{running.url}/dashboard/", {"Authorization": good})[0] == 200
        assert get(f"{running.url}/dashboard/weeks/", {"Authorization": good})[0] == 200
        assert get(f"{running.url}/healthz")[0] == 200  # probes need no credentials
    finally:
        running.stop()


def test_auth_secrets_come_from_the_environment(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("service: {dashboard_auth: basic}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="GOVBOT_DASHBOARD_USER or GOVBOT_DASHBOARD_PASSWORD"):
        dashboard_for(load_config(path, env={}), lambda: None)
    config = load_config(path, env={"GOVBOT_DASHBOARD_USER": "a", "GOVBOT_DASHBOARD_PASSWORD": "b"})
    assert dashboard_for(config, lambda: None).access == Access("basic", "a", "b")
    path.write_text("service: {dashboard_path: false}\n", encoding="utf-8")
    assert dashboard_for(load_config(path, env={}), lambda: None) is None


def test_the_digest_stores_the_week_and_slack_links_to_the_service(site):
    config = site["config"]
    config.write_text(config.read_text(encoding="utf-8").replace(
        "  dashboard_url: https://intranet.example.com/govbot\n", "  organisation: Organisation\n"),
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["digest", "--snapshot", str(site["snapshot"]), "--config", str(config),
                                      "--now", NOW, "--format", "json"])
    assert result.exit_code == 0, result.output
    with Store(f"sqlite:///{site['dir'] / 'govbot.db'}") as store:
        assert [week for week, _ in store.dashboard_weeks()] == [date(2026, 3, 30)]
        restored = archive.from_payload(store.dashboard(date(2026, 3, 30)))
    assert restored.organisation.open_findings == 6
    from bot.digest.slack import build_messages

    messages, _ = build_messages(restored, load_config(config))
    payments = next(message for message in messages if message.team == "payments")
    assert "http://127.0.0.1:9464/dashboard/team-payments.html" in str(payments.payload)

"""/healthz and /metrics on 127.0.0.1, in Prometheus' text format."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from bot.service.health import CONTENT_TYPE_METRICS, HealthServer, Metrics

# One sample line of the exposition format: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?[0-9.e+-]+$')


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


@pytest.fixture
def server():
    state = {"healthy": True}
    metrics = Metrics(["digest"], clock=lambda: 1_774_860_000.0)
    running = HealthServer("127.0.0.1", 0, metrics, lambda: (state["healthy"], {"status": "ok" if state["healthy"]
                                                                                  else "stopping"})).start()
    yield running, metrics, state
    running.stop()


def test_healthz_answers_on_loopback_and_turns_503_when_unhealthy(server):
    running, _, state = server
    host, port = running.address
    assert host == "127.0.0.1" and port > 0
    status, content_type, body = get(running.url + "/healthz")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {"status": "ok"})
    state["healthy"] = False
    status, _, body = get(running.url + "/healthz")
    assert status == 503 and json.loads(body)["status"] == "stopping"
    assert get(running.url + "/nope")[0] == 404


def test_metrics_are_prometheus_text(server):
    running, metrics, _ = server
    metrics.job_started("digest")
    metrics.job_finished("digest", "success", 1.25)
    metrics.job_finished("digest", "failure", 0.5)
    metrics.scanned("digest", {"issues_scanned": 275, "waived": 2,
                               "by_severity": {"error": 20, "warning": 9, "info": 5}})
    metrics.nudges_sent(4)
    metrics.chat_command('we"ird\nname', "ok")
    status, content_type, body = get(running.url + "/metrics")
    assert status == 200 and content_type == CONTENT_TYPE_METRICS
    lines = body.splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    assert 'govbot_job_runs_total{job="digest",outcome="success"} 1' in lines
    assert 'govbot_job_failures_total{job="digest"} 1' in lines
    assert 'govbot_job_last_success_timestamp_seconds{job="digest"} 1774860000' in lines
    assert 'govbot_findings{severity="error"} 20' in lines
    assert "govbot_issues_scanned 275" in lines and "govbot_nudges_sent_total 4" in lines
    assert 'govbot_scans_total{job="digest"} 1' in lines
    assert 'govbot_chat_commands_total{command="we\\"ird\\nname",outcome="ok"} 1' in lines
    assert "# TYPE govbot_nudges_sent_total counter" in lines
    # Every family is announced once, before its samples.
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(families) == len(set(families))


def test_a_busy_port_is_a_clear_config_error(server):
    from bot.errors import ConfigError

    running, metrics, _ = server
    with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
        HealthServer("127.0.0.1", running.address[1], metrics, lambda: (True, {}))

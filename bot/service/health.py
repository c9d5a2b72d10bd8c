"""``/healthz`` and ``/metrics`` for the service, on a local port.

The standard library's HTTP server in a daemon thread is enough for two
read-only pages scraped every few seconds; ``prometheus_client`` would add a
dependency for a dozen numbers. The text format written here is Prometheus'
exposition format 0.0.4 (``# HELP``, ``# TYPE``, escaped label values).

Metrics describe the service and the system it watches, never a person: no
label ever carries a user, an issue key or a channel.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

from bot import __version__
from bot.redact import redact, redact_value

log = logging.getLogger(__name__)

CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def _escape_label(value: Any) -> str:
    return redact(str(value)).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape_label(value)}"' for name, value in sorted(labels.items())) + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


@dataclass
class _Family:
    name: str
    kind: str  # counter | gauge
    help: str
    samples: dict[tuple, float] = field(default_factory=dict)  # sorted label items -> value


class Metrics:
    """Thread-safe counters and gauges for the service, rendered as Prometheus text."""

    def __init__(self, jobs: Iterable[str] = (), *, clock: Callable[[], float] = time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self._families: dict[str, _Family] = {}
        self.started = clock()
        self._declare("govbot_info", "gauge", "Build information; always 1.")
        self._declare("govbot_start_time_seconds", "gauge", "When the service started (Unix time).")
        self._declare("govbot_scans_total", "counter", "Scans completed, by job.")
        self._declare("govbot_issues_scanned", "gauge", "Issues read by the latest scan.")
        self._declare("govbot_findings", "gauge", "Open (unwaived) findings in the latest scan, by severity.")
        self._declare("govbot_findings_waived", "gauge", "Waived findings in the latest scan.")
        self._declare("govbot_nudges_sent_total", "counter", "Nudge messages sent (dry runs send none).")
        self._declare("govbot_job_runs_total", "counter",
                      "Job runs by outcome: success, incomplete (the scan could not read everything), failure, "
                      "cancelled (stopped at shutdown), skipped.")
        self._declare("govbot_job_failures_total", "counter", "Job runs that failed, by job.")
        self._declare("govbot_job_last_success_timestamp_seconds", "gauge",
                      "When each job last succeeded (Unix time); 0 when it has not yet.")
        self._declare("govbot_job_last_duration_seconds", "gauge", "How long each job's latest run took.")
        self._declare("govbot_job_running", "gauge", "1 while the job runs.")
        self._declare("govbot_chat_commands_total", "counter", "Slash commands answered, by command and outcome.")
        self._declare("govbot_scheduler_leader", "gauge",
                      "1 while this replica runs the schedule; summed over replicas, 1 (0: nobody schedules).")
        self._declare("govbot_slack_actions_total", "counter",
                      "Buttons and forms answered, by action (fix, snooze, not_mine, review) and outcome.")
        self._declare("govbot_webhooks_total", "counter", "Jira webhook deliveries, by HTTP status answered.")
        self.set("govbot_info", 1, version=__version__)
        self.set("govbot_start_time_seconds", self.started)
        self.set("govbot_scheduler_leader", 0)
        for job in jobs:
            self.register_job(job)

    def _declare(self, name: str, kind: str, help_text: str) -> None:
        self._families[name] = _Family(name, kind, help_text)

    def register_job(self, job: str) -> None:
        """Give a job its series at zero, so dashboards and alerts see it before its first run."""
        for outcome in ("success", "incomplete", "failure", "cancelled", "skipped"):
            self.inc("govbot_job_runs_total", 0, job=job, outcome=outcome)
        self.inc("govbot_job_failures_total", 0, job=job)
        self.set("govbot_job_last_success_timestamp_seconds", 0, job=job)
        self.set("govbot_job_running", 0, job=job)

    # -- primitives ----------------------------------------------------------------------------
    def inc(self, name: str, amount: float = 1, **labels: Any) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            samples = self._families[name].samples
            samples[key] = samples.get(key, 0) + amount

    def set(self, name: str, value: float, **labels: Any) -> None:
        with self._lock:
            self._families[name].samples[tuple(sorted(labels.items()))] = value

    def value(self, name: str, **labels: Any) -> float | None:
        with self._lock:
            return self._families[name].samples.get(tuple(sorted(labels.items())))

    # -- what the service reports ----------------------------------------------------------------
    def job_started(self, job: str) -> None:
        self.set("govbot_job_running", 1, job=job)

    def job_finished(self, job: str, outcome: str, duration: float) -> None:
        self.set("govbot_job_running", 0, job=job)
        self.inc("govbot_job_runs_total", job=job, outcome=outcome)
        self.set("govbot_job_last_duration_seconds", round(duration, 3), job=job)
        if outcome == "failure":
            self.inc("govbot_job_failures_total", job=job)
        elif outcome == "success":
            self.set("govbot_job_last_success_timestamp_seconds", round(self._clock(), 3), job=job)

    def job_skipped(self, job: str) -> None:
        self.inc("govbot_job_runs_total", job=job, outcome="skipped")

    def scanned(self, job: str, counts: dict[str, Any]) -> None:
        """Record a finished scan's summary (``ScanResult.summary()`` shape)."""
        self.inc("govbot_scans_total", job=job)
        if "issues_scanned" in counts:
            self.set("govbot_issues_scanned", counts["issues_scanned"])
        for severity, number in (counts.get("by_severity") or {}).items():
            self.set("govbot_findings", number, severity=severity)
        if "waived" in counts:
            self.set("govbot_findings_waived", counts["waived"])

    def nudges_sent(self, count: int) -> None:
        if count:
            self.inc("govbot_nudges_sent_total", count)

    def chat_command(self, command: str, outcome: str) -> None:
        self.inc("govbot_chat_commands_total", command=command, outcome=outcome)

    def slack_action(self, action: str, outcome: str) -> None:
        self.inc("govbot_slack_actions_total", action=action, outcome=outcome)

    def webhook(self, status: int) -> None:
        self.inc("govbot_webhooks_total", status=str(status))

    # -- output ----------------------------------------------------------------------------------------
    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            if not self._families["govbot_nudges_sent_total"].samples:
                self._families["govbot_nudges_sent_total"].samples[()] = 0
            for family in self._families.values():
                if not family.samples:
                    continue
                lines.append(f"# HELP {family.name} {family.help}")
                lines.append(f"# TYPE {family.name} {family.kind}")
                for key, value in sorted(family.samples.items()):
                    lines.append(f"{family.name}{_labels(dict(key))} {_number(value)}")
        return "\n".join(lines) + "\n"


HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class HealthServer:
    """Serves ``/healthz`` (JSON; 200 healthy, 503 not) and ``/metrics`` in a daemon thread, and the
    dashboard (``bot.service.dashboard``) under its path when one is given."""

    def __init__(self, host: str, port: int, metrics: Metrics, health: HealthCheck, webhooks=None, *,
                 dashboard=None):
        self.metrics = metrics
        self.health = health
        self.webhooks = webhooks  # bot.service.webhooks.Webhooks: POST on its path (None: GET only)
        self.dashboard = dashboard
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"govbot/{__version__}"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._answer(self, body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                server._answer(self, body=False)

            def do_POST(self) -> None:  # noqa: N802
                server._post(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base
                log.debug("health endpoint: " + format, *args)

        try:
            self.httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as error:
            from bot.errors import ConfigError

            raise ConfigError(f"cannot listen on {host}:{port} for /healthz and /metrics ({error.strerror})",
                              hint="choose another service.health_port, or stop what is using it") from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> "HealthServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="govbot-health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        """A Jira webhook on the configured path; everything else is 404 (or 405 on the probes)."""
        path = request.path.split("?", 1)[0]
        if self.webhooks is None or path != self.webhooks.path:
            status, text = (405, "GET only") if path in ("/healthz", "/metrics") else (404, "not found")
        else:
            try:
                length_header = request.headers.get("Content-Length")
                length = int(length_header) if length_header is not None else None
            except ValueError:
                length = None
            try:
                status, text = self.webhooks.receiver.handle(dict(request.headers.items()), length,
                                                             request.rfile.read)
            except Exception:  # noqa: BLE001 - a bad delivery must not kill the thread
                log.exception("webhook failed")
                status, text = 500, "internal error"
            self.metrics.webhook(status)
        closing = status in (401, 411, 413)  # the unread body must not be taken as the next request
        if closing:
            request.close_connection = True
        _respond(request, status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8",
                 {"Connection": "close"} if closing else {})

    def _answer(self, request: BaseHTTPRequestHandler, *, body: bool) -> None:
        raw_path = request.path.split("?", 1)[0].split("#", 1)[0]
        if self.dashboard is not None and self.dashboard.handles(raw_path):
            self._answer_dashboard(request, raw_path, body=body)
            return
        path = raw_path.rstrip("/") or "/"
        try:
            if path == "/healthz":
                healthy, details = self.health()
                status = 200 if healthy else 503
                # Unauthenticated: a job's last error must not carry a token echoed by Jira or Slack.
                public = redact_value(json.loads(json.dumps(details, default=str)))
                payload = json.dumps(public, indent=None).encode("utf-8") + b"\n"
                content_type = "application/json"
            elif path == "/metrics":
                status, payload, content_type = 200, self.metrics.render().encode("utf-8"), CONTENT_TYPE_METRICS
            else:
                where = f", /metrics or {self.dashboard.path}/" if self.dashboard is not None else " or /metrics"
                status, payload, content_type = 404, f"not found: try /healthz{where}\n".encode(), "text/plain"
        except Exception:  # noqa: BLE001 - a broken probe must say so, not kill the thread
            log.exception("health endpoint failed")
            status, payload, content_type = 500, b"internal error\n", "text/plain"
        _respond(request, status, payload, content_type, {"Cache-Control": "no-store"}, body=body)

    def _answer_dashboard(self, request: BaseHTTPRequestHandler, path: str, *, body: bool) -> None:
        try:
            response = self.dashboard.answer(path, request.headers)
        except Exception:  # noqa: BLE001 - a store that cannot be read must not kill the thread
            log.exception("dashboard failed")
            from bot.service.dashboard import SECURE_HEADERS, Response

            response = Response(500, b"internal error\n", "text/plain; charset=utf-8", dict(SECURE_HEADERS))
        _respond(request, response.status, response.body, response.content_type, response.headers, body=body)


def _respond(request: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str,
             headers: dict[str, str], *, body: bool = True) -> None:
    """One HTTP answer; ``body=False`` for HEAD, which gets the same headers without it."""
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(payload)))
    for name, value in headers.items():
        request.send_header(name, value)
    request.end_headers()
    if body:
        request.wfile.write(payload)

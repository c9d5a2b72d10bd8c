"""The service runner: failures contained, overlaps skipped, a clean stop, and the real jobs wired up."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES

from bot.config import load_config
from bot.errors import NetworkError
from bot.logs import JsonFormatter
from bot.runs.inputs import DEMO_WORKSPACE, load_inputs
from bot.service import Jobs, JobRun, Service, load_settings

NOW = datetime(2026, 3, 30, 8, 30, tzinfo=timezone.utc)
QUIET = "service:\n  health_port: false\n  chat: false\n"


class FakeJobs:
    """Jobs whose behaviour each test decides; records what ran."""

    def __init__(self, **behaviour):
        self.behaviour = behaviour
        self.ran: list[str] = []

    def run(self, name: str, run: JobRun):
        self.ran.append(name)
        action = self.behaviour.get(name)
        return action(run) if action else {"summary": {"issues_scanned": 3, "findings": 1, "waived": 0,
                                                        "by_severity": {"error": 1, "warning": 0, "info": 0}}}


def make_service(write_config, snapshot, jobs, extra: str = "", **kwargs) -> Service:
    inputs = load_inputs(str(write_config(QUIET + extra)), snapshot=str(snapshot))
    return Service(inputs, load_settings(inputs.config), jobs=jobs, clock=lambda: NOW, **kwargs)


@pytest.fixture
def json_logs():
    """The service's log lines as parsed JSON, through the real formatter."""
    records: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(json.loads(JsonFormatter().format(record)))

    handler = Collect(level=logging.INFO)
    logger = logging.getLogger("govbot")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_a_failing_job_is_logged_with_its_cause_and_does_not_stop_the_others(write_config, snapshot, json_logs):
    def broken(run):
        raise KeyError("customfield_10042")

    def jira_down(run):
        raise NetworkError("cannot reach https://acme.atlassian.net after 5 attempts")

    jobs = FakeJobs(digest=broken, **{"full-rescan": jira_down})
    service = make_service(write_config, snapshot, jobs)
    outcomes = [service.run_job(name) for name in ("digest", "full-rescan", "scan-and-nudge", "digest")]
    assert [o.status for o in outcomes] == ["failure", "failure", "success", "failure"]
    assert jobs.ran == ["digest", "full-rescan", "scan-and-nudge", "digest"]
    failures = [r for r in json_logs if r["level"] == "error"]
    assert failures[0]["job"] == "digest" and "KeyError: 'customfield_10042'" in failures[0]["message"]
    assert "Traceback" in failures[0]["traceback"]  # unexpected: the whole story for the operator
    assert failures[1]["error"] == "cannot reach https://acme.atlassian.net after 5 attempts"
    assert "traceback" not in failures[1]  # a known failure: one clear line
    assert "runs again at its next slot" in failures[1]["message"]
    metrics = service.metrics
    assert metrics.value("govbot_job_failures_total", job="digest") == 2
    assert metrics.value("govbot_job_runs_total", job="scan-and-nudge", outcome="success") == 1
    assert metrics.value("govbot_job_last_success_timestamp_seconds", job="digest") == 0
    assert metrics.value("govbot_findings", severity="error") == 1
    service.build_scheduler().start(paused=True)
    healthy, details = service.health()
    service.scheduler.shutdown(wait=False)
    assert healthy and details["jobs"]["digest"]["last_error"] == "KeyError: 'customfield_10042'"
    assert outcomes[1].exit_code == 3  # `serve --once full-rescan` would exit like `govbot scan` does


def test_an_overlapping_run_is_skipped_not_queued(write_config, snapshot, json_logs):
    started, release = threading.Event(), threading.Event()

    def slow(run):
        started.set()
        assert release.wait(10)
        return {}

    service = make_service(write_config, snapshot, FakeJobs(**{"full-rescan": slow}))
    scheduler = service.build_scheduler()
    skipped = threading.Event()
    scheduler.add_listener(lambda event: skipped.set(), EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    try:
        # Bring the slot forward instead of waiting for 02:00.
        scheduler.modify_job("full-rescan", next_run_time=datetime.now(timezone.utc))
        assert started.wait(10)
        scheduler.modify_job("full-rescan", next_run_time=datetime.now(timezone.utc))
        assert skipped.wait(10)
        # The service's own guard says the same for a direct call (``--once`` while serving).
        assert service.run_job("full-rescan").status == "skipped"
    finally:
        release.set()
        assert service.stop(timeout=10)
    assert service.metrics.value("govbot_job_runs_total", job="full-rescan", outcome="skipped") == 2
    assert service.metrics.value("govbot_job_runs_total", job="full-rescan", outcome="success") == 1
    assert any("previous run is still going" in r["message"] for r in json_logs)


def test_scheduled_jobs_are_configured_for_one_run_coalesced_with_grace(write_config, snapshot):
    service = make_service(write_config, snapshot, FakeJobs(), extra="schedule:\n  misfire_grace: 2h\n")
    scheduler = service.build_scheduler()
    scheduler.start(paused=True)  # job defaults apply when the scheduler starts
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"scan-and-nudge", "digest", "full-rescan"}
        for job in jobs.values():
            assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 7200
        assert scheduler._executors["default"]._pool._max_workers == 1  # one job at a time overall
    finally:
        scheduler.shutdown(wait=False)


def test_stop_lets_a_job_reach_a_safe_point_and_cancels_it_there(write_config, snapshot, json_logs):
    inside, proceed = threading.Event(), threading.Event()
    wrote: list[str] = []

    def reads_then_writes(run):
        inside.set()
        assert proceed.wait(10)
        run.checkpoint()  # a source reporting progress: nothing written yet
        wrote.append("state")
        return {}

    service = make_service(write_config, snapshot, FakeJobs(digest=reads_then_writes))
    worker = threading.Thread(target=lambda: service.run_job("digest"))
    worker.start()
    assert inside.wait(10)
    stopper = threading.Thread(target=lambda: setattr(service, "_clean", service.stop(timeout=10)))
    stopper.start()
    assert service.stopping.wait(10)
    proceed.set()
    stopper.join(10)
    worker.join(10)
    assert service._clean is True and wrote == []
    assert service.metrics.value("govbot_job_runs_total", job="digest", outcome="cancelled") == 1
    assert service.run_job("digest").status == "skipped"  # nothing new starts while stopping


def test_stop_abandons_a_job_that_outlives_the_timeout(write_config, snapshot):
    inside, release = threading.Event(), threading.Event()

    def stuck(run):
        inside.set()
        release.wait(10)
        return {}

    service = make_service(write_config, snapshot, FakeJobs(digest=stuck))
    worker = threading.Thread(target=lambda: service.run_job("digest"), daemon=True)
    worker.start()
    assert inside.wait(10)
    assert service.stop(timeout=0.05) is False
    release.set()
    worker.join(10)


# -- the real jobs, on a snapshot and a store in tmp_path ---------------------------------------------------

@pytest.fixture
def real_jobs(write_config):
    inputs = load_inputs(str(write_config(QUIET)), snapshot=str(DEMO_WORKSPACE))
    return inputs, Jobs(inputs, snapshot=str(DEMO_WORKSPACE))


def test_the_real_jobs_run_in_dry_run_and_keep_the_lifecycle(real_jobs, tmp_path):
    from bot.store import Store

    inputs, jobs = real_jobs
    rescan = jobs.full_rescan(JobRun("full-rescan", NOW, apply=False))
    assert rescan["summary"]["issues_scanned"] > 100
    assert rescan["recorded"]["new"] == rescan["summary"]["findings"] + rescan["summary"]["waived"]
    nudge = jobs.scan_and_nudge(JobRun("scan-and-nudge", NOW, apply=False))
    assert nudge["nudges_sent"] == 0 and nudge["messages"] > 0 and "would_queue" in nudge
    digest = jobs.digest(JobRun("digest", NOW, apply=False))
    assert digest["messages"] > 0 and digest["posted"] == 0
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert store.deliveries() == []  # a dry run queues nothing
        assert store.recent_runs("scan", limit=5)


def test_a_stopping_service_cancels_a_real_job_before_it_writes(real_jobs, tmp_path):
    from bot.store import Store

    _, jobs = real_jobs
    stopping = threading.Event()
    stopping.set()
    with pytest.raises(Exception) as cancelled:
        jobs.full_rescan(JobRun("full-rescan", NOW, apply=False, stopping=stopping))
    assert type(cancelled.value).__name__ == "JobCancelled"
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert store.recent_runs("scan") == []


def test_the_demo_keeps_its_state_out_of_the_package(monkeypatch):
    from bot.runs.inputs import DEMO_DIR

    inputs = load_inputs(None)
    assert inputs.demo
    service = Service(inputs, load_settings(load_config(None, search=False)), clock=lambda: NOW)
    state = Path(service.jobs.open_store.temporary.name)
    outcome = service.run_job("full-rescan")
    assert outcome.status == "success", outcome.error
    assert not (DEMO_DIR / "govbot.db").exists()
    assert (state / "govbot.db").is_file()
    assert service.stop(timeout=1)
    assert not state.exists()  # the demo's temporary state goes with the service


def test_with_apply_the_jobs_post_through_the_outbox_to_slack(write_config, fake_slack, tmp_path):
    from bot.store import Store

    inputs = load_inputs(str(write_config(QUIET + "slack:\n  seconds_between_posts: 0\n")),
                         snapshot=str(DEMO_WORKSPACE))
    inputs.config.env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.api_url}
    jobs = Jobs(inputs, snapshot=str(DEMO_WORKSPACE))
    digest = jobs.digest(JobRun("digest", NOW, apply=True))
    posts = [body for method, body in fake_slack.calls if method == "chat.postMessage"]
    assert digest["posted"] == digest["messages"] == len(posts) > 0
    assert {post["channel"] for post in posts} >= {"#pay"}
    again = jobs.digest(JobRun("digest", NOW, apply=True))  # a rerun in the same week posts nothing new
    assert len([m for m, _ in fake_slack.calls if m == "chat.postMessage"]) == len(posts)
    assert again["posted"] == again["messages"]
    nudge = jobs.scan_and_nudge(JobRun("scan-and-nudge", NOW, apply=True))
    assert nudge["queued"] > 0 and nudge["nudges_sent"] + nudge["pending"] + nudge["failed"] == nudge["queued"]
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert {d.status for d in store.deliveries()} <= {"sent", "failed", "queued"}
        assert store.recent_runs("nudge")


def test_digest_with_apply_but_no_slack_token_fails_before_it_reads_or_writes(real_jobs, tmp_path, monkeypatch):
    from bot.errors import ConfigError

    _, jobs = real_jobs
    monkeypatch.setattr("bot.runs.digest.build_batch", lambda *args, **kwargs: pytest.fail("scanned"))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        jobs.digest(JobRun("digest", NOW, apply=True, stopping=threading.Event()))
    assert not (tmp_path / "state.db").exists()  # the store was not even opened


def test_last_success_survives_a_restart_by_reading_the_store(write_config, snapshot, tmp_path):
    from bot.store import Store

    url = f"sqlite:///{tmp_path / 'jobs.db'}"

    class StoredJobs(FakeJobs):
        def open_store(self, dry_run: bool = False):
            return Store(url)

    first = make_service(write_config, snapshot, StoredJobs())
    assert first.run_job("digest").status == "success"
    assert first.metrics.value("govbot_job_last_success_timestamp_seconds", job="digest") > 0
    # A new process: the metric starts from the store, not from 0.
    second = make_service(write_config, snapshot, StoredJobs())
    assert second.metrics.value("govbot_job_last_success_timestamp_seconds", job="digest") == 0
    second.restore_last_success()
    assert second.metrics.value("govbot_job_last_success_timestamp_seconds", job="digest") == NOW.timestamp()
    assert second.metrics.value("govbot_job_last_success_timestamp_seconds", job="scan-and-nudge") == 0
    assert second.health()[1]["jobs"]["digest"]["last_success"] == NOW.isoformat()


def test_the_service_serves_the_dashboard_its_digest_job_stored(write_config, snapshot):
    import urllib.error
    import urllib.request

    inputs = load_inputs(str(write_config("service:\n  health_port: 0\n  chat: false\n"
                                          "  dashboard_path: /review\n")), snapshot=str(snapshot))
    service = Service(inputs, load_settings(inputs.config), jobs=Jobs(inputs, snapshot=str(snapshot)),
                      clock=lambda: NOW)
    service.start()
    try:
        base = f"{service.health_server.url}/review/"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base, timeout=10)
        assert missing.value.code == 404 and "No dashboard yet" in missing.value.read().decode()
        assert service.run_job("digest").status == "success"
        with urllib.request.urlopen(base, timeout=10) as response:
            page = response.read().decode("utf-8")
        assert response.status == 200 and "week of 30 Mar 2026" in page
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        with urllib.request.urlopen(base + "weeks/", timeout=10) as response:
            assert 'href="2026-03-30/"' in response.read().decode("utf-8")
    finally:
        service.stop(timeout=5)


@pytest.mark.parametrize("host, auth, warned", [
    ("0.0.0.0", "none", True), ("10.1.2.3", "none", True), ("govbot.internal", "none", True),
    ("127.0.0.1", "none", False), ("::1", "none", False), ("localhost", "none", False),
    ("0.0.0.0", "token", False)])
def test_an_open_dashboard_other_machines_can_reach_is_a_warning_at_start(write_config, snapshot, monkeypatch,
                                                                          caplog, host, auth, warned):
    # Tests listen on 127.0.0.1 only: the health server is stood in for, the decision is the service's.
    import bot.service.service as service_module

    class Listening:
        def __init__(self, host, port, *args, **kwargs):
            self.url = f"http://{host}:{port}"

        def start(self):
            return self

        def stop(self, *args, **kwargs):
            pass

    monkeypatch.setattr(service_module, "HealthServer", Listening)
    monkeypatch.setenv("GOVBOT_DASHBOARD_TOKEN", "a-long-random-token")
    inputs = load_inputs(str(write_config(f"service:\n  health_host: '{host}'\n  health_port: 9464\n  chat: false\n"
                                          f"  dashboard_auth: {auth}\n")), snapshot=str(snapshot))
    service = Service(inputs, load_settings(inputs.config), jobs=Jobs(inputs, snapshot=str(snapshot)),
                      clock=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="govbot.service"):
        service.start()
        service.stop(timeout=5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "dashboard" in r.getMessage()]
    if warned:
        assert warnings == [f"dashboard on http://{host}:9464/dashboard/ is open to anyone who can reach "
                            f"{host}:9464: set service.dashboard_auth (basic or token), or keep the port behind a proxy"]
    else:
        assert not warnings
        assert any(r.getMessage().startswith("dashboard on ") for r in caplog.records)

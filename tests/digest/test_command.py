"""`govbot digest` end to end: numbers agree with `scan`, history builds trends, Slack via the outbox."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.store import open_store

from .conftest import NOW


def run(site, *args):
    result = CliRunner().invoke(cli, ["digest", "--snapshot", str(site["snapshot"]), "--config",
                                      str(site["config"]), *args])
    return result


def test_digest_numbers_agree_with_scan_json(site):
    scan = CliRunner().invoke(cli, ["scan", "--snapshot", str(site["snapshot"]), "--config", str(site["config"]),
                                    "--now", NOW, "--format", "json"])
    summary = json.loads(scan.stdout)["summary"]
    result = run(site, "--now", NOW, "--format", "json", "--html", str(site["dir"] / "out"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ffr = summary["feature_factory_ratio"]
    assert data["organisation"]["feature_factory_ratio"] == ffr["overall"]
    assert {team: d["feature_factory_ratio"] for team, d in data["teams"].items() if team in ffr["by_team"]} \
        == ffr["by_team"]
    assert data["organisation"]["findings"]["open"] == summary["findings"]
    by_rule = {line["rule"]: line["open"] for line in data["organisation"]["findings"]["by_rule"] if line["open"]}
    assert by_rule == summary["by_rule"]
    assert (site["dir"] / "out" / "index.html").is_file()
    assert "dry run: would post the Payments digest to #payments" in result.stderr
    assert "nothing was posted" in result.stderr


def test_trends_and_changes_build_up_over_weekly_runs(site):
    weeks = ["2026-03-10", "2026-03-17", "2026-03-24", NOW]
    outputs = []
    for day in weeks:
        result = run(site, "--now", day, "--format", "json")
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout)["organisation"])
    first, last = outputs[0], outputs[-1]
    assert first["history"] is False and len(first["ffr_trend"]) == 1
    assert first["findings"]["new"] is None  # the store's first week: not guessed
    assert last["history"] is True
    assert [p["week_start"] for p in last["ffr_trend"]] == ["2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]
    assert last["findings"]["new"] == 0 and last["findings"]["fixed"] == 0
    markdown = run(site, "--now", NOW, "--format", "markdown").stdout
    assert "**Trend:** 9 Mar 22.2% → 16 Mar 22.2% → 23 Mar 22.2% → 30 Mar 22.2%" in markdown


def test_regenerating_a_past_week_leaves_the_findings_lifecycle_alone(site):
    assert run(site, "--now", NOW).exit_code == 0
    assert run(site, "--now", "2026-03-03").exit_code == 0
    with open_store(load_config(site["config"])) as store:
        assert len(store.recent_runs("scan")) == 1
        weeks = [week.isoformat() for week, _ in store.digest_history("*", until=date(2026, 3, 30), weeks=8)]
    assert weeks == ["2026-03-02", "2026-03-30"]


def test_out_writes_the_markdown_to_a_file(site):
    target = site["dir"] / "digest.md"
    result = run(site, "--now", NOW, "--format", "markdown", "--out", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_text(encoding="utf-8").startswith("# Weekly hygiene digest: week of 30 Mar 2026")


def test_bad_now_is_one_clear_line(site):
    result = run(site, "--now", "last tuesday")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("govbot: --now: 'last tuesday' is not a date")


class FakeSlack(BaseHTTPRequestHandler):
    posts: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            data = {key: values[0] for key, values in parse_qs(body).items()}
        self.posts.append({"path": self.path, **data})
        reply = json.dumps({"ok": True, "channel": "C0001", "ts": f"1700000000.{len(self.posts):06d}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def slack(monkeypatch):
    FakeSlack.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSlack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{server.server_address[1]}/api/")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    yield FakeSlack.posts
    server.shutdown()
    server.server_close()


def test_apply_posts_each_digest_once_through_the_outbox(site, slack):
    result = run(site, "--now", NOW, "--apply")
    assert result.exit_code == 0, result.output
    channels = [post["channel"] for post in slack if post["path"].endswith("chat.postMessage")]
    assert channels == ["#mobile", "#payments", "#platform", "#delivery"]
    again = run(site, "--now", NOW, "--apply")
    assert again.exit_code == 0
    assert len([p for p in slack if p["path"].endswith("chat.postMessage")]) == 4
    assert "already posted" in again.stderr


def test_slack_down_leaves_the_digest_queued_and_the_html_written(site, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")  # nothing listens on the discard port
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    config = site["config"].read_text()
    site["config"].write_text(config.replace("slack:\n", "slack:\n  max_retries: 0\n"))
    result = run(site, "--now", NOW, "--apply", "--html", str(site["dir"] / "out"))
    assert result.exit_code == 3, result.output
    assert "stay queued for the next run" in result.stderr
    assert (site["dir"] / "out" / "team-payments.html").is_file()
    with open_store(load_config(site["config"])) as store:
        assert len(store.deliveries(status="queued")) == 4


def test_digest_settings_are_validated_with_their_position(site):
    config = site["config"].read_text().replace("digest:\n", "digest:\n  trend_weeks: 1\n  colour: blue\n")
    site["config"].write_text(config)
    result = run(site, "--now", NOW)
    assert result.exit_code == 2
    assert "govbot.yaml:9" in result.stderr and "trend_weeks" in result.stderr
    assert "unknown key 'colour'" in result.stderr


def test_unwritable_html_folder_is_one_clear_line(site):
    blocker = site["dir"] / "taken"
    blocker.write_text("a file, not a folder")
    result = run(site, "--now", NOW, "--html", str(blocker / "out"))
    assert result.exit_code == 2
    assert result.stderr.startswith("govbot: cannot write the dashboard into")
    assert "help: --html needs a folder govbot can create and write" in result.stderr
    # Checked before the run: no store was created, so no week was recorded by a run that failed.
    assert not list(site["dir"].rglob("*.db"))


# -- one digest run for the command and the service ------------------------------------------------------------

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_apply_without_a_slack_token_stops_before_reading_or_writing(site):
    out = site["dir"] / "out"
    result = run(site, "--now", NOW, "--apply", "--html", str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("govbot: SLACK_BOT_TOKEN is not set")
    assert result.stdout == "" and not out.exists()
    assert not (site["dir"] / "govbot.db").exists()  # the store was not even created


def test_the_command_and_the_service_job_record_the_same_figures(site):
    """Both run bot.runs.digest.run_digest: the waiver file counts in both (it used to count only in the job)."""
    from bot.runs.inputs import load_inputs
    from bot.service import JobRun, Jobs

    from .conftest import at

    (site["dir"] / "waivers.yaml").write_text(
        "waivers:\n  - {issue: PAY-3, rule: anticipated-outcome-missing, reason: discovery spike}\n")
    config = site["config"].read_text() + "waivers: {file: waivers.yaml}\n"
    site["config"].write_text(config)
    job_config = site["dir"] / "job.yaml"
    job_config.write_text(config.replace("govbot.db", "job.db"))

    result = run(site, "--now", NOW, "--format", "json")
    assert result.exit_code == 0, result.output
    organisation = json.loads(result.stdout)["organisation"]
    assert organisation["findings"]["waived"] == 2  # the PLAT-5 label and the file's PAY-3
    inputs = load_inputs(str(job_config), snapshot=str(site["snapshot"]))
    Jobs(inputs, snapshot=str(site["snapshot"])).digest(JobRun("digest", at(NOW), apply=False))

    def figures(path):
        with open_store(load_config(path)) as store:
            return {team: store.digest_history(team, until=date(2026, 3, 30), weeks=1)
                    for team in ("*", "payments", "platform", "mobile")}

    assert figures(site["config"]) == figures(job_config)
    assert figures(site["config"])["*"][0][1]["waived"] == 2


def test_only_rules_option_narrows_the_rules(site):
    result = run(site, "--now", NOW, "--format", "json", "--only-rules", str(RULES / "anticipated-outcome.yaml"))
    assert result.exit_code == 0, result.output
    rules = {line["rule"] for line in json.loads(result.stdout)["organisation"]["findings"]["by_rule"]}
    assert rules and all(rule.startswith("anticipated-outcome-") for rule in rules)


def test_help_says_a_dry_run_still_records_the_week(site):
    text = " ".join(CliRunner().invoke(cli, ["digest", "--help"]).output.split())
    assert "Every run, a dry run included, records the week's figures" in text
    assert "--rules PATH" in text


def test_the_demo_keeps_its_history_where_the_user_asked_not_in_the_package(tmp_path, monkeypatch):
    """The note says `GOVBOT_DATABASE_URL=sqlite:///demo.db`: that file is in the folder the command runs in
    (where `govbot rules stats` reads it), not beside the demo's config inside the installed package."""
    from bot.runs.inputs import DEMO_DIR

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVBOT_DATABASE_URL", "sqlite:///demo.db")
    result = CliRunner().invoke(cli, ["digest", "--now", "2026-11-16"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo.db").exists()
    assert not (DEMO_DIR / "demo.db").exists()
    stats = CliRunner().invoke(cli, ["rules", "stats", "--now", "2026-11-16"])
    [row] = [line.split() for line in stats.output.splitlines() if line.startswith("anticipated-outcome-missing ")]
    # open, fixed, waived, then open at each week's end: the week ending at --now holds what that run saw
    assert row[1:5] == ["7", "0", "0", "0"] and row[-1] == "7", stats.output

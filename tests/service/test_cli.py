"""`govbot init` and `govbot serve` from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import load_rules
from bot.init import starter_config
from bot.pipeline import DEMO_WORKSPACE
from bot.service import load_settings


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_init_writes_a_commented_config_that_loads(tmp_path):
    path = tmp_path / "govbot.yaml"
    result = run("init", "--path", str(path), "--jira-url", "https://acme.atlassian.net", "--project", "PAY",
                 "--project", "MOB", "--timezone", "Europe/London")
    assert result.exit_code == 0, result.output
    config = load_config(path)
    assert config.section("jira")["url"] == "https://acme.atlassian.net"
    assert config.section("jira")["projects"] == ["PAY", "MOB"]
    assert load_settings(config).timezone.key == "Europe/London"
    assert load_rules(None, config).active
    text = path.read_text()
    assert text.count("#") > 40 and "JIRA_API_TOKEN" in text and "SLACK_APP_TOKEN" in text


def test_the_bare_starter_loads_too(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text(starter_config())
    settings = load_settings(load_config(path))
    assert settings.timezone.key == "UTC" and set(settings.jobs) == {"scan-and-nudge", "digest", "full-rescan"}
    assert not settings.apply


def test_init_never_overwrites_without_force(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("# mine\n")
    result = CliRunner().invoke(cli, ["init", "--path", str(path)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert path.read_text() == "# mine\n"
    assert run("init", "--path", str(path), "--force").exit_code == 0


def test_init_checks_what_it_writes(tmp_path):
    path = tmp_path / "govbot.yaml"
    result = CliRunner().invoke(cli, ["init", "--path", str(path), "--timezone", "Europe/Londn"])
    assert result.exit_code == 2
    assert f"{path}:" in result.output and "did you mean 'Europe/London'?" in result.output
    assert "nothing was written" in result.output and not path.exists()
    assert not list(tmp_path.iterdir())


def test_show_schedule(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("schedule:\n  timezone: Europe/London\n  digest: false\n")
    result = run("serve", "--config", str(path), "--show-schedule", "--now", "2026-03-27")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "time zone: Europe/London (from schedule.timezone)"
    assert lines[1].startswith("scan-and-nudge  30 9 * * mon-fri   next: Mon 2026-03-30 09:30 BST")
    assert lines[2] == "digest          off"


def test_a_bad_config_stops_serve_at_start_with_its_position(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("schedule:\n  digest: '0 9 * * 1'\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"{path}:2:11: error: config: schedule.digest: write the days of the week")


def test_once_runs_one_job_and_exits(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text(f"store:\n  url: {tmp_path / 'state.db'}\nlogging:\n  format: json\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--snapshot",
                                                      str(DEMO_WORKSPACE), "--once", "full-rescan"])
    assert result.exit_code == 0, result.stderr
    finished = [json.loads(line) for line in result.stderr.splitlines() if "finished" in line]
    assert finished[0]["job"] == "full-rescan" and finished[0]["counts"]["issues_scanned"] > 100


def test_the_demo_refuses_apply(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--apply", "--once", "digest"])
    assert result.exit_code == 2 and "the bundled demo never posts" in result.output

"""`govbot init` and `govbot serve` from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.engine import load_rules
from bot.init import starter_config
from bot.runs.inputs import DEMO_WORKSPACE
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
    # Written without --timezone, the schedule keeps its default: the teams' zone when they share one.
    text = starter_config().replace("teams: {}", "teams:\n  payments: {projects: [PAY], timezone: Europe/London}")
    path.write_text(text)
    assert load_settings(load_config(path)).timezone.key == "Europe/London"


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


def test_serve_redacts_tokens_read_from_files(tmp_path):
    from bot import logs

    (tmp_path / "pat").write_text("datacenter-pat-from-a-file-1234\n")
    (tmp_path / "slack").write_text("xoxb-from-a-file-5678\n")
    path = tmp_path / "govbot.yaml"
    path.write_text(f"store:\n  url: {tmp_path / 'state.db'}\nservice: {{health_port: false, chat: false}}\n"
                    "jira:\n  token_file: pat\n")
    try:
        result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--snapshot", str(DEMO_WORKSPACE),
                                          "--once", "full-rescan"],
                                    env={"SLACK_BOT_TOKEN_FILE": str(tmp_path / "slack")})
        assert result.exit_code == 0, result.stderr
        assert logs.redact("datacenter-pat-from-a-file-1234 and xoxb-from-a-file-5678") == \
            f"{logs.MASK} and {logs.MASK}"
    finally:
        logs._secrets.clear()


def test_serve_takes_rules(tmp_path):
    from pathlib import Path

    from bot.store import Store

    rules = Path(__file__).resolve().parents[2] / "rules" / "anticipated-outcome.yaml"
    path = tmp_path / "govbot.yaml"
    path.write_text(f"store:\n  url: {tmp_path / 'state.db'}\nservice: {{health_port: false, chat: false}}\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--snapshot", str(DEMO_WORKSPACE),
                                      "--only-rules", str(rules), "--once", "full-rescan"])
    assert result.exit_code == 0, result.stderr
    with Store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        recorded = {state.rule for state in store.finding_states().values()}
    assert recorded and all(rule.startswith("anticipated-outcome-") for rule in recorded)


def test_a_demo_run_leaves_no_temporary_state(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["serve", "--once", "full-rescan"])
    assert result.exit_code == 0, result.stderr
    assert f"demo: state is kept in sqlite:///{tmp_path}/govbot-demo-" in result.stderr
    assert set(tmp_path.iterdir()) == before


def test_every_command_lists_a_whole_summary():
    """`govbot --help` and `govbot rules --help` cut no summary short with "..."."""
    for args in ([], ["rules"]):
        for columns in ("80", "200"):
            text = CliRunner().invoke(cli, [*args, "--help"], env={"COLUMNS": columns}).output
            commands = text.split("Commands:", 1)[1]
            assert "..." not in commands, commands


def test_init_says_which_jira_credentials_to_set(tmp_path):
    result = run("init", "--path", str(tmp_path / "govbot.yaml"))
    assert "JIRA_EMAIL and JIRA_API_TOKEN" in result.output and "JIRA_PAT" in result.output
    assert "set jira.url in" in result.output
    with_url = run("init", "--path", str(tmp_path / "other.yaml"), "--jira-url", "https://acme.atlassian.net")
    assert "set jira.url" not in with_url.output and "JIRA_EMAIL and JIRA_API_TOKEN" in with_url.output

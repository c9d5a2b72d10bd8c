import pytest

from bot.config import load_config
from bot.engine import load_rules
from bot.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "govbot.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    config = load_config(None, search=False)
    assert config.path is None
    assert config.synonyms("expected outcome")[0] == "expected outcome"
    assert "Anticipated Outcome" in config.synonyms("expected outcome")


def test_unknown_key_points_at_the_line(tmp_path):
    path = write(tmp_path, "jira:\n  projects: [PAY]\n  projetcs: [MOB]\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert text.startswith(f"{path}:3:3: error: config: unknown key 'projetcs'")
    assert "did you mean 'projects'?" in text


def test_secrets_in_the_file_are_refused(tmp_path):
    path = write(tmp_path, "jira:\n  url: https://acme.atlassian.net\nslack:\n  bot_token: xoxb-123\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert ":4:3:" in str(error.value) and "secrets must not be written" in str(error.value)
    assert "xoxb-123" not in str(error.value)  # not even in the quoted source line
    assert str(error.value).count("error:") == 1


def test_bad_url_and_types(tmp_path):
    path = write(tmp_path, "jira:\n  url: acme.atlassian.net\n  page_size: lots\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert ":2:8:" in str(error.value) and ":3:14:" in str(error.value)


def test_user_values_merge_over_defaults(tmp_path):
    path = write(tmp_path, "teams:\n  payments: {projects: [PAY], channel: '#pay'}\ntech_debt: {label: debt-deal}\n")
    config = load_config(path)
    assert config.team_for("PAY") == "payments"
    assert config.team_for("ZZZ") == "ZZZ"
    assert config.section("jira")["deployment"] == "auto"
    rules = load_rules(None, config)
    assert rules.get("tech-debt-agreement-incomplete").scope.labels == ["debt-deal"]


def test_unknown_rule_id_in_config(tmp_path):
    path = write(tmp_path, "rules:\n  enable: [flow-item-agin]\n")
    with pytest.raises(ConfigError) as error:
        load_rules(None, load_config(path))
    assert ":2:12:" in str(error.value) and "did you mean 'flow-item-aging'?" in str(error.value)


def test_rule_params_and_severity_overrides(tmp_path):
    path = write(tmp_path, "rules:\n  enable: [flow-item-aging]\n  severity: {work-hierarchy-unmapped-type: warning}\n"
                           "  params: {closing-the-loop-actual-outcome-missing: {grace_days: 60}}\n")
    rules = load_rules(None, load_config(path))
    assert rules.get("flow-item-aging").enabled
    assert rules.get("work-hierarchy-unmapped-type").severity.value == "warning"
    check = next(rules.get("closing-the-loop-actual-outcome-missing").condition.checks())
    assert check.params["days"] == 60


def test_secret_from_env_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    config = load_config(None, search=False, env={"JIRA_API_TOKEN_FILE": str(secret)})
    assert config.secret("JIRA_API_TOKEN") == "s3cret"


@pytest.mark.parametrize("value", ["/dashboard/", "/healthz"])
def test_a_value_with_alternatives_is_judged_by_the_alternative_it_was_meant_as(tmp_path, value):
    # dashboard_path is a path or false: a path with a slash too many is a bad path, not "False was expected".
    path = write(tmp_path, f"service:\n  dashboard_path: {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert f"'{value}' is not a valid value for service.dashboard_path" in text and ":2:19:" in text
    assert "help: a URL path like /dashboard, or false" in text
    assert "was expected" not in text

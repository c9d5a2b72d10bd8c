"""`govbot init --from-jira`: field ids from the site's field list, written into a starter that loads."""

from __future__ import annotations

import re

import pytest
import requests
import responses
from click.testing import CliRunner

from bot.cli import cli
from bot.config import DEFAULTS, load_config
from bot.init import discover_fields, fields_block, starter_config
from bot.sources.fields import FieldCatalog, plan_fields
from bot.sources.jira import fields_wanted
from tests.sources.fakejira import (CLOUD_ENV, DC_ENV, DC_URL, EPIC_LINK, PARENT_LINK, URL, FakeJira, Sleeps,
                                    cloud_fields, mock)

FIELD_API = f"{URL}/rest/api/2/field"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    """No real Jira settings from the developer's shell, no real sleeping between retries."""
    for name in ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "JIRA_EMAIL_FILE", "JIRA_API_TOKEN_FILE",
                 "JIRA_PAT_FILE", "GOVBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    sleeps = Sleeps()

    def source(config, connection):
        from bot.sources.jira import JiraSource

        return JiraSource(config, connection, sleep=sleeps)

    monkeypatch.setattr("bot.init._source", source)
    monkeypatch.chdir(tmp_path)
    return sleeps


def init(tmp_path, *args, env=None, name="govbot.yaml"):
    path = tmp_path / name
    result = CliRunner().invoke(cli, ["init", "--path", str(path), "--from-jira", *args],
                                env=dict(CLOUD_ENV if env is None else env))
    return result, path


def fields_lines(text: str) -> list[str]:
    """The written `fields:` section, from its key to the blank line after it."""
    block = text.split("\nfields:", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()[1:]


def custom(field_id: str, name: str, clauses=None) -> dict:
    number = field_id.rsplit("_", 1)[-1]
    return {"id": field_id, "name": name, "custom": True, "clauseNames": clauses or [f"cf[{number}]", name],
            "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                       "customId": int(number) if number.isdigit() else None}}


def test_cloud_ids_go_first_with_a_comment_naming_the_jira_field(tmp_path):
    with mock() as rsps:
        fake = FakeJira([]).install(rsps)
        result, path = init(tmp_path, "--project", "PAY")
    assert result.exit_code == 0, result.output
    # Two requests: the field list and the issue types (no search, no server info).
    assert [call["path"] for call in fake.calls] == ["/rest/api/2/field", "/rest/api/2/issuetype"]
    text = path.read_text()
    lines = fields_lines(text)
    assert lines[0] == ("  Anticipated Outcome: [customfield_10050, Anticipated Outcomes, Expected Outcome, "
                        "Expected Outcomes, Outcome Hypothesis, Hypothesis]"
                        '  # Jira: "Anticipated Outcome" (customfield_10050)')
    assert lines[1].startswith("  Actual Outcome: [customfield_10051, Actual Outcomes,")
    assert lines[1].endswith('# Jira: "Actual Outcome" (customfield_10051)')
    missing = [line for line in lines if line.startswith("  # ")]
    assert [line.split(":")[0].strip("# ") for line in missing] == [
        "Outcome Owner", "Reason", "Impact", "Timeline", "Key Result"]
    assert all("rules read description sections" in line for line in missing)
    assert "Hierarchy links" not in text  # none on this Cloud site

    config = load_config(path, env={})
    assert config.section("jira")["url"] == URL and config.section("jira")["projects"] == ["PAY"]
    assert config.synonyms("Anticipated Outcome")[:2] == ["Anticipated Outcome", "customfield_10050"]
    # Commented-out fields keep their default synonyms.
    assert config.section("fields")["Reason"] == DEFAULTS["fields"]["Reason"]

    assert "Read 18 fields from https://example.atlassian.net: 2 of 7 logical fields found." in result.output
    assert re.search(r"Anticipated Outcome +customfield_10050 \(Anticipated Outcome\)", result.output)
    assert re.search(r"Reason +not found: rules read description sections instead", result.output)
    assert "set jira.url" not in result.output and "s3cr3t" not in text + result.output


def test_data_center_reports_epic_link_and_parent_link_found_by_type(tmp_path):
    with mock() as rsps:
        fake = FakeJira([], cloud=False).install(rsps)
        result, path = init(tmp_path, env=DC_ENV)
    assert result.exit_code == 0, result.output
    headers = {key.casefold(): value for key, value in fake.calls[0]["headers"].items()}
    assert headers["authorization"] == "Bearer s3cr3t-pat"
    text = path.read_text()
    link_line = next(line for line in text.splitlines() if line.startswith("# Hierarchy links"))
    assert f"Epic Link {EPIC_LINK} (\"Lien d'epic\")" in link_line
    assert f'Parent Link {PARENT_LINK} ("Lien parent")' in link_line
    assert re.search(rf"Epic Link +{EPIC_LINK} \(found by type; nothing to set\)", result.output)
    config = load_config(path, env={})
    assert config.section("jira")["url"] == DC_URL
    assert config.section("fields")["Anticipated Outcome"][0] == "customfield_10050"


def test_synonyms_match_case_insensitively_and_only_custom_fields_count(tmp_path):
    site = [f for f in cloud_fields() if not f["custom"]] + [
        custom("customfield_10050", "expected outcome"),
        custom("customfield_10300", "OKR"),
        custom("customfield_10301", "Key Result"),      # two fields for one logical field: both kept
        custom("customfield_10400", "Product Owner"),
        {"id": "impact", "name": "Impact", "custom": False, "schema": {"type": "string", "system": "impact"}},
    ]
    with responses.RequestsMock() as rsps:
        rsps.add("GET", FIELD_API, json=site)
        result, path = init(tmp_path)
    assert result.exit_code == 0, result.output
    lines = fields_lines(path.read_text())
    assert lines[0] == ("  Anticipated Outcome: [customfield_10050, expected outcome, Anticipated Outcomes, "
                        "Expected Outcomes, Outcome Hypothesis, Hypothesis]"
                        '  # Jira: "expected outcome" (customfield_10050)')
    key_result = next(line for line in lines if line.startswith("  Key Result:"))
    assert key_result.startswith("  Key Result: [customfield_10301, customfield_10300, OKR, Parent OKR,")
    assert key_result.endswith('# Jira: "Key Result" (customfield_10301), "OKR" (customfield_10300)')
    owner = next(line for line in lines if "Outcome Owner:" in line)
    assert owner.startswith("  Outcome Owner: [customfield_10400, Product Owner, Product Manager,")
    # A system field of that name is not a custom field to map: Impact stays commented out.
    assert any(line.startswith("  # Impact: [") for line in lines)
    assert any(line.startswith("  # Actual Outcome: [") for line in lines)

    config = load_config(path, env={})
    catalog = FieldCatalog.from_json(site)
    plan = plan_fields(catalog, fields_wanted(None, config), config)
    assert plan.mapped["customfield_10050"] == ["customfield_10050"]
    assert {"customfield_10050", "customfield_10300", "customfield_10301", "customfield_10400"} <= set(plan.ids)
    assert "3 of 7 logical fields found" in result.output


def test_names_from_jira_cannot_break_out_of_the_yaml(tmp_path):
    hostile = 'Evil"\n  Reason: [customfield_66666]  # \u202e'
    site = [custom("customfield_10500", hostile, clauses=["cf[10500]", "Impact"]),
            custom("customfield_10501", "Yes", clauses=["cf[10501]", "why"])]
    with responses.RequestsMock() as rsps:
        rsps.add("GET", FIELD_API, json=site)
        result, path = init(tmp_path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "\u202e" not in text and "\n  Reason: [customfield_66666]" not in text
    config = load_config(path, env={})
    fields = config.section("fields")
    assert fields["Impact"][:2] == ["customfield_10500", hostile.strip()]
    assert fields["Reason"][:2] == ["customfield_10501", "Yes"]  # quoted: never the boolean true
    assert "\u202e" not in result.output


def test_no_jira_url_is_one_clear_error_and_nothing_is_written(tmp_path):
    result, path = init(tmp_path, env={"JIRA_EMAIL": "ada@example.com", "JIRA_API_TOKEN": "s3cr3t-token"})
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "govbot: --from-jira: no Jira URL; nothing was written"
    assert "JIRA_URL" in result.output and "--jira-url" in result.output
    assert not list(tmp_path.iterdir())


def test_no_credentials_stop_before_any_request(tmp_path):
    with responses.RequestsMock() as rsps:  # any request would fail the test
        result, path = init(tmp_path, env={"JIRA_URL": URL})
    assert result.exit_code == 2
    assert result.output.startswith("govbot: --from-jira: no Jira credentials found; nothing was written")
    assert not list(tmp_path.iterdir())


def test_rejected_credentials_exit_2_and_write_nothing(tmp_path):
    with mock() as rsps:
        fake = FakeJira([]).install(rsps)
        fake.valid_auth = False
        result, path = init(tmp_path)
    assert result.exit_code == 2
    first = result.output.splitlines()[0]
    assert first.startswith("govbot: --from-jira: ") and "401" in first and first.endswith("nothing was written")
    assert "s3cr3t" not in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_an_unknown_host_is_a_setting_to_fix_exit_2_and_nothing_written(tmp_path, _clean_environment):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", FIELD_API, body=requests.exceptions.ConnectionError("Name or service not known"))
        result, path = init(tmp_path)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == (
        "govbot: --from-jira: reading the field list: cannot reach Jira at https://example.atlassian.net "
        "(host name not found); nothing was written")
    assert "Traceback" not in result.output
    assert not _clean_environment  # retrying cannot fix a wrong host name
    assert not list(tmp_path.iterdir())


def test_jira_down_after_retries_exits_3_and_writes_nothing(tmp_path, _clean_environment):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", FIELD_API, status=503, json={"errorMessages": ["down for maintenance"]})
        result, path = init(tmp_path)
        calls = len(rsps.calls)
    assert result.exit_code == 3, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("govbot: --from-jira: ") and first.endswith("; nothing was written")
    assert calls == 3 and len(_clean_environment) == 2  # a person is waiting: two retries, no real sleep
    assert not list(tmp_path.iterdir())


def test_an_existing_file_is_refused_before_asking_jira(tmp_path):
    (tmp_path / "govbot.yaml").write_text("# mine\n")
    with responses.RequestsMock() as rsps:  # no request registered: any call would fail
        result, path = init(tmp_path)
    assert result.exit_code == 2 and "already exists" in result.output
    assert path.read_text() == "# mine\n"


def test_the_jira_url_option_wins_over_the_environment(tmp_path):
    with mock() as rsps:
        fake = FakeJira([], cloud=False).install(rsps)
        result, path = init(tmp_path, "--jira-url", DC_URL, env={**DC_ENV, "JIRA_URL": "https://other.example.com"})
    assert result.exit_code == 0, result.output
    assert fake.calls and load_config(path, env={}).section("jira")["url"] == DC_URL


def test_discover_fields_as_a_function():
    with mock() as rsps:
        FakeJira([]).install(rsps)
        discovery = discover_fields(env=CLOUD_ENV)
    assert discovery.site == URL and discovery.field_count == len(cloud_fields())
    assert [m.logical for m in discovery.found] == ["Anticipated Outcome", "Actual Outcome"]
    assert "fields:\n  Anticipated Outcome: [customfield_10050" in fields_block(discovery)


def test_without_from_jira_the_starter_shows_an_example_and_loads(tmp_path):
    text = starter_config()
    assert "fields: {}" in text and "#  Anticipated Outcome: [customfield_10050" in text
    assert "--from-jira" in text
    path = tmp_path / "govbot.yaml"
    path.write_text(text)
    assert load_config(path, env={}).section("fields") == DEFAULTS["fields"]


def hierarchy_lines(text: str) -> list[str]:
    block = text.split("\nhierarchy:", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


def test_cloud_types_are_written_under_their_detected_level_and_load(tmp_path):
    with mock() as rsps:
        FakeJira([]).install(rsps)
        result, path = init(tmp_path)
    assert result.exit_code == 0, result.output
    lines = hierarchy_lines(path.read_text())
    assert "    - {name: epic, types: [Epos]}  # by Jira's untranslated name" in lines
    assert any(line.startswith("    - {name: story, types: [Story, Aufgabe, Fehler, Deliverable]}") for line in lines)
    assert any(line.startswith("    - {name: sub-task, types: [Unteraufgabe]}") for line in lines)
    assert "    feature: [Story]" in lines and "    defect: [Fehler]" in lines
    assert "  not_work_items: [Release]" in lines
    assert any("No flow item kind known for Deliverable:" in line for line in lines)  # Aufgabe is a Task
    config = load_config(path, env={})
    hierarchy = config.hierarchy
    assert hierarchy.level_of("Epos", None)[0].name == "epic"
    assert hierarchy.level_of("Story", None)[0].name == "story"        # the defaults are still there
    assert hierarchy.level_of("Initiative", None)[0].name == "initiative"
    assert hierarchy.flow_item("Fehler") == "defect"


def test_data_center_types_nothing_places_are_listed_for_the_admin(tmp_path):
    with mock() as rsps:
        FakeJira([], cloud=False).install(rsps)
        result, path = init(tmp_path, env=DC_ENV)
    assert result.exit_code == 0, result.output
    lines = hierarchy_lines(path.read_text())
    assert any("Placed by nothing" in line and "Test Case" in line for line in lines)
    load_config(path, env={})


def test_issue_types_that_cannot_be_read_leave_the_commented_example(tmp_path):
    with mock() as rsps:
        fake = FakeJira([]).install(rsps)
        fake.fail("/rest/api/2/issuetype", 1, status=403)
        result, path = init(tmp_path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "hierarchy: {}\n#  levels:" in text
    assert "The issue types could not be read (/rest/api/2/issuetype)" in result.output  # said, not silent
    load_config(path, env={})

"""Field discovery: display names -> ids, hierarchy links by schema type, one warning per missing field."""

from __future__ import annotations

from bot.sources.fields import BASE_FIELDS, FieldCatalog, plan_fields
from fakejira import ACTUAL, DC_ENV, EPIC_LINK, OUTCOME, PARENT_LINK, cloud_fields, dc_fields, make_config


def test_names_synonyms_and_clause_names_map_to_ids():
    catalog = FieldCatalog.from_json(cloud_fields() + [None, {"name": "no id"}, {"id": 7}])
    assert catalog.ids_for("anticipated outcome") == [OUTCOME]
    assert catalog.ids_for("cf[10051]") == [ACTUAL]
    assert catalog.ids_for(OUTCOME.upper()) == [OUTCOME]
    assert catalog.ids_for("Nope") == []
    assert len(catalog) == len(cloud_fields())


def test_epic_and_parent_link_are_found_by_schema_type_whatever_their_name():
    catalog = FieldCatalog.from_json(dc_fields())
    assert catalog.epic_link_ids == [EPIC_LINK] and catalog.parent_link_ids == [PARENT_LINK]
    plan = plan_fields(catalog, set(), make_config(env=DC_ENV))
    assert plan.ids[:len(BASE_FIELDS)] == list(BASE_FIELDS)
    assert EPIC_LINK in plan.ids and PARENT_LINK in plan.ids


def test_only_needed_fields_are_requested_and_each_missing_logical_field_warns_once():
    config = make_config()
    wanted = {*config.synonyms("Anticipated Outcome"), *config.synonyms("Reason"), "type", "resolved",
              "labels", "Key Result"}
    plan = plan_fields(FieldCatalog.from_json(cloud_fields()), wanted, config)
    assert OUTCOME in plan.ids and ACTUAL not in plan.ids and "customfield_10060" not in plan.ids
    assert plan.mapped["type"] == ["issuetype"] and plan.mapped["resolved"] == ["resolutiondate"]
    assert len(plan.ids) == len(set(plan.ids))
    warnings = plan.warnings()
    assert [w.split("'")[1] for w in warnings] == ["Key Result", "Reason"]
    assert "description section" in warnings[1] and "'Why'" in warnings[1]
    # Anticipated Outcome exists, so its synonyms being absent is no news.
    assert not any("Expected Outcome" in w for w in warnings)


def test_epic_link_by_clause_name_when_the_catalog_has_no_schema_type():
    # Some proxies and exports drop "schema"; the JQL clause name "Epic Link" stays in English.
    fields = [{"id": "customfield_10014", "name": "Epic-Verknüpfung", "custom": True,
               "clauseNames": ["cf[10014]", "Epic Link"]}, {"id": "summary", "name": "Zusammenfassung"}]
    catalog = FieldCatalog.from_json(fields)
    assert catalog.epic_link_ids == ["customfield_10014"]
    assert catalog.schemas()["customfield_10014"]["custom"] == "com.pyxis.greenhopper.jira:gh-epic-link"


def test_an_epic_link_named_in_govbot_yaml_is_asked_for(tmp_path):
    from bot.config import load_config

    path = tmp_path / "govbot.yaml"
    path.write_text("fields:\n  Epic Link: [customfield_10841]\n")
    config = load_config(path, env={})
    plan = plan_fields(FieldCatalog.from_json(cloud_fields()), set(), config)
    assert "customfield_10841" in plan.ids

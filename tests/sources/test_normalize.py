"""Cloud (v3, ADF, parent) and Data Center (v2, wiki, Epic/Parent Link) JSON -> Issue."""

from bot.config import load_config
from bot.sources.normalize import Normalizer

CONFIG = load_config(None, search=False)


def cloud_issue(key, type_name, level, parent=None, **fields):
    data = {"id": "1" + key.split("-")[1], "key": key, "self": f"https://acme.atlassian.net/rest/api/3/issue/{key}",
            "fields": {"summary": f"{type_name} {key}", "issuetype": {"name": type_name, "hierarchyLevel": level},
                       "project": {"key": key.split("-")[0]},
                       "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
                       "labels": [], **fields}}
    if parent:
        data["fields"]["parent"] = {"key": parent[0], "fields": {"issuetype": {"name": parent[1], "hierarchyLevel": parent[2]}}}
    return data


def test_cloud_issue_fields_by_name_and_parent_stub():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [cloud_issue("PAY-2", "Story", 0, parent=("PAY-1", "Epic", 1),
                                                customfield_10050="Cut churn 5%")],
                         "names": {"customfield_10050": "Anticipated Outcome"}})
    workspace = normalizer.finish()
    story = workspace.issues["PAY-2"]
    assert story.text("anticipated outcome") == "Cut churn 5%"
    assert story.text("customfield_10050") == "Cut churn 5%"
    assert story.level == "story" and story.flow_item == "feature"
    assert story.url == "https://acme.atlassian.net/browse/PAY-2"
    parent = workspace.parent(story)
    assert parent.key == "PAY-1" and parent.level == "epic" and parent.stub
    assert "PAY-1" not in workspace.issues  # relatives are never evaluated


def test_a_type_the_map_does_not_name_takes_jiras_level_and_is_known():
    # Jira's hierarchyLevel says what the type is: not "unmapped" (issue 10).
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [cloud_issue("DATA-1", "Deliverable", 1)]})
    issue = normalizer.finish().issues["DATA-1"]
    assert issue.level == "epic" and issue.type_mapped


def test_a_type_with_no_signal_and_no_name_is_unmapped():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [{"key": "DATA-2", "fields": {"issuetype": {"id": "10501", "name": "Deliverable",
                                                                               "subtask": False}}}]})
    issue = normalizer.finish().issues["DATA-2"]
    assert issue.level is None and not issue.type_mapped


def test_datacenter_epic_link_and_parent_link():
    page = {"startAt": 0, "maxResults": 50, "total": 3,
            "names": {"customfield_10100": "Epic Link", "customfield_10200": "Parent Link"},
            "issues": [
                {"id": "1", "key": "OPS-1", "fields": {"summary": "Init", "issuetype": {"name": "Initiative"},
                                                         "status": {"name": "Open", "statusCategory": {"key": "new"}}}},
                {"id": "2", "key": "OPS-2", "fields": {"summary": "Epic", "issuetype": {"name": "Epic"},
                                                         "customfield_10200": {"data": {"key": "OPS-1"}}}},
                {"id": "3", "key": "OPS-3", "fields": {"summary": "Story", "issuetype": {"name": "Story"},
                                                         "customfield_10100": "OPS-2",
                                                         "description": "h2. Anticipated Outcome\nfaster"}},
                {"id": "4", "key": "OPS-4", "fields": {"summary": "Story", "issuetype": {"name": "Story"},
                                                         "customfield_10100": "OPS-99"}},
            ]}
    normalizer = Normalizer(CONFIG)
    normalizer.add_page(page)
    workspace = normalizer.finish()
    assert workspace.issues["OPS-2"].parent_key == "OPS-1"
    assert workspace.issues["OPS-3"].parent_key == "OPS-2"
    assert workspace.issues["OPS-1"].children == ["OPS-2"]
    assert workspace.issues["OPS-3"].section("Anticipated Outcome") == "faster"
    # An Epic Link to an epic outside the scan still tells us the parent's level.
    assert workspace.get("OPS-99").level == "epic"


def test_schema_map_finds_hierarchy_fields_whatever_their_name():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"names": {"customfield_1": "Epos-Verknüpfung"},
                         "schema": {"customfield_1": {"custom": "com.pyxis.greenhopper.jira:gh-epic-link"}},
                         "issues": [{"key": "A-2", "fields": {"issuetype": {"name": "Story"}, "customfield_1": "A-1"}}]})
    assert normalizer.finish().issues["A-2"].parent_key == "A-1"


def test_malformed_issues_are_skipped_with_a_note():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [None, {"key": "BAD"}, {"key": "X-1", "fields": None},
                                    {"key": "X-2", "fields": {"issuetype": None, "status": "weird", "labels": "x",
                                                              "created": "not a date", "components": [None]}}]})
    workspace = normalizer.finish()
    assert list(workspace.issues) == ["X-2"]
    assert workspace.skipped == 3
    # No type sent: no type invented ("Unknown" would read as a custom type to map).
    assert workspace.issues["X-2"].type == "" and workspace.issues["X-2"].created is None


def test_an_epic_link_named_in_config_is_honoured_without_names(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("fields:\n  Epic Link: [customfield_10841]\n")
    normalizer = Normalizer(load_config(path, env={}))
    normalizer.add_page({"issues": [
        {"key": "A-2", "fields": {"issuetype": {"name": "Story"}, "customfield_10841": "A-1"}},
        {"key": "A-3", "fields": {"issuetype": {"name": "Story"}, "customfield_10841": "B-9"}}]})
    workspace = normalizer.finish()
    assert workspace.issues["A-2"].parent_key == "A-1"
    assert workspace.get("B-9").level == "epic" and not workspace.notes  # named: nothing to infer or say


def test_an_unnamed_field_whose_values_are_epic_keys_is_the_epic_link():
    normalizer = Normalizer(CONFIG)
    normalizer.add_page({"issues": [
        {"key": "A-1", "fields": {"issuetype": {"name": "Epic"}}},
        {"key": "A-2", "fields": {"issuetype": {"name": "Story"}, "customfield_10301": "A-1"}},
        {"key": "A-3", "fields": {"issuetype": {"name": "Story"}, "customfield_10302": "A-2"}}]})  # a story's key
    workspace = normalizer.finish()
    assert workspace.issues["A-2"].parent_key == "A-1"
    assert workspace.issues["A-3"].parent_key is None  # not every key-valued field is a link
    assert any(note.startswith("customfield_10301 read as the Epic Link") for note in workspace.notes)

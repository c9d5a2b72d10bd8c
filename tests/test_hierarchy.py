"""What a type is: Jira's own signals first, then names; and a hierarchy config that extends the defaults."""

from __future__ import annotations

import pytest

from bot.config import DEFAULTS, load_config
from bot.errors import ConfigError
from bot.hierarchy import IssueType, merge_hierarchy

HIERARCHY = load_config(None, search=False).hierarchy


@pytest.mark.parametrize("issue_type, level, flow, known", [
    (IssueType("故事", jira_level=0), "story", None, True),                    # Cloud, no untranslatedName
    (IssueType("故事", untranslated="Story", jira_level=0), "story", "feature", True),
    (IssueType("Задача", untranslated="Task", jira_level=0), "story", None, True),
    (IssueType("Fehler", untranslated="Bug", jira_level=0), "story", "defect", True),
    (IssueType("子任务", subtask=True), "sub-task", None, True),                # Data Center: subtask only
    (IssueType("サブタスク", subtask=True, jira_level=-1), "sub-task", None, True),
    (IssueType("Épopée", jira_level=1), "epic", None, True),
    (IssueType("Feature", jira_level=0), "feature", "feature", True),         # a name refines Jira's band
    (IssueType("Initiative", jira_level=0), "story", None, True),             # Jira's structure wins outside it
    (IssueType("Portfolio Epic", jira_level=4), "theme", None, True),          # above the top: the top
    (IssueType("Deliverable", jira_level=0), "story", None, True),            # a Jira level is a signal
    (IssueType("Deliverable"), None, None, False),                            # nothing says: unmapped
    (IssueType("Release", jira_level=0), None, None, True),                   # not a work item
])
def test_types_from_signals_then_names(issue_type, level, flow, known):
    info = HIERARCHY.resolve(issue_type)
    assert (info.level.name if info.level else None, info.flow_item, info.known) == (level, flow, known)


def test_the_epic_type_id_places_a_localised_epic_without_a_level():
    info = HIERARCHY.resolve(IssueType("エピック", id="10000"), epic_type=True)
    assert info.level.name == "epic" and info.how == "epic type"
    # A type the map names as a story stays a story even if an odd link points at it.
    assert HIERARCHY.resolve(IssueType("Story", id="1"), epic_type=False).level.name == "story"


def test_hierarchy_config_adds_to_the_defaults(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("hierarchy:\n"
                    "  levels:\n"
                    "    - {name: story, types: [Deliverable, Epic]}\n"
                    "    - {name: capability, types: [Capability], below: epic, required: false}\n"
                    "  flow_items: {feature: [Deliverable]}\n"
                    "  not_work_items: [Milestone]\n"
                    "  remove_types: [Task]\n")
    hierarchy = load_config(path, env={}).hierarchy
    assert hierarchy.level_of("Deliverable", None)[0].name == "story"
    assert hierarchy.flow_item("Deliverable") == "feature" and hierarchy.flow_item("Story") == "feature"
    assert hierarchy.level_of("Initiative", None)[0].name == "initiative"  # defaults kept
    assert hierarchy.level_of("Task", None) == (None, False)               # removed explicitly
    assert hierarchy.level_of("Epic", None)[0].name == "story"             # moved: leaves the epic level
    assert "milestone" in hierarchy.not_work_items and "release" in hierarchy.not_work_items
    names = [level.name for level in hierarchy.levels]
    assert names.index("capability") == names.index("epic") + 1
    assert hierarchy.required_between("epic", "story") == []               # capability is optional


def test_a_new_level_placed_nowhere_is_one_config_error_with_its_line(tmp_path):
    path = tmp_path / "govbot.yaml"
    path.write_text("hierarchy:\n  levels:\n    - {name: capability, types: [Capability]}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    message = str(raised.value)
    assert "govbot.yaml:3" in message and "say where it goes" in message and "above:" in message


def test_merge_leaves_the_defaults_untouched():
    before = repr(DEFAULTS["hierarchy"])
    merge_hierarchy(DEFAULTS["hierarchy"], {"levels": [{"name": "story", "types": ["X"]}], "remove_types": ["Bug"]})
    assert repr(DEFAULTS["hierarchy"]) == before

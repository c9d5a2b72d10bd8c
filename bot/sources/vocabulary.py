"""Jira's field vocabulary, shared by the reader (``normalize``) and field discovery (``fields``)."""

from __future__ import annotations

# Data Center custom field types for the hierarchy. Names are localisable,
# schema types are not, so the schema wins when a page carries it.
EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"
PARENT_LINK_TYPE = "com.atlassian.jpo:jpo-custom-field-parent"
EPIC_LINK_NAMES = {"epic link"}
PARENT_LINK_NAMES = {"parent link"}

# Names rules may use for Issue attributes, and the system field behind each
# (None: computed by govbot, nothing to ask Jira for).
ALIASES: dict[str, str | None] = {
    "type": "issuetype", "issue type": "issuetype", "resolved": "resolutiondate",
    "resolution date": "resolutiondate", "key": None, "id": None, "level": None, "team": None,
    "children": None, "flow item": None, "flow_item": None, "parent_key": "parent",
    "status category": "status", "status_category": "status",
}

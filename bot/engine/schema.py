"""The full JSON Schema of a rule file, generated from the check-kind registry.

Validation itself walks conditions by hand for precise errors; this schema is
for editors (YAML language servers) and for the rule-format docs.
"""

from __future__ import annotations

import copy

from bot.engine.loader import RULE_SCHEMA
from bot.engine.registry import kinds, param_schema


PARAM_REF = {"type": "string", "pattern": r"^\$[A-Za-z_][\w.]*$", "description": "a parameter the rule declares"}


def rule_file_schema() -> dict:
    rule = copy.deepcopy(RULE_SCHEMA)
    defs = rule.pop("$defs")
    checks = []
    for name, cls in kinds().items():
        params = copy.deepcopy(param_schema(cls))  # the registry's own dict: never change it
        params["description"] = cls.doc
        # Any value of a check may be a declared parameter (`days: $grace_days`), as the loader allows.
        for key, value in params.get("properties", {}).items():
            params["properties"][key] = {"anyOf": [value, PARAM_REF]}
        value = {"anyOf": [params, {"type": ["string", "array"]}]} if cls.shorthand else params
        checks.append({"type": "object", "additionalProperties": False, "required": [name],
                       "properties": {name: value}})
    defs["condition"] = {"anyOf": [
        {"type": "object", "additionalProperties": False, "required": ["all"],
         "properties": {"all": {"type": "array", "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "additionalProperties": False, "required": ["any"],
         "properties": {"any": {"type": "array", "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "additionalProperties": False, "required": ["not"],
         "properties": {"not": {"$ref": "#/$defs/condition"}}},
        *checks,
    ]}
    rule["properties"]["condition"] = {"$ref": "#/$defs/condition"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "govbot rule file",
        "type": "object", "additionalProperties": False, "required": ["rules"],
        # A file's `family:` applies to each of its rules that names none (bot.engine.loader.FILE_SCHEMA).
        "properties": {"family": rule["properties"]["family"], "rules": {"type": "array", "items": rule}},
        "$defs": defs,
    }

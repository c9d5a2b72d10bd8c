"""A rule's parameters: declared in the rule (name, type, default, doc), set by sites in govbot.yaml.

A rule declares each parameter under ``params:``, either by its default alone
(``grace_days: 30``: an integer, from the default) or in full::

    params:
      grace_days: {type: integer, default: 30, minimum: 0, doc: days after delivery before the outcome is due}

A site sets it under ``rules.params.<rule id>`` in govbot.yaml. Both are checked
where they are written: a name the rule does not declare (``grace_dayz``) is an
error at govbot.yaml:line:col with a "did you mean", and a value of the wrong type
(``grace_days: forty``) is blamed at govbot.yaml, never at the rule file inside
site-packages.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

TYPES = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
         "list": "a list"}
_DECLARATION_KEYS = {"type", "default", "doc", "minimum", "maximum"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def schema(self) -> dict:
        """The JSON schema a value of this parameter must meet."""
        schema: dict[str, Any] = {"integer": {"type": "integer"}, "number": {"type": "number"},
                                  "string": {"type": "string"}, "boolean": {"type": "boolean"},
                                  "list": {"type": "array"}}[self.type]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not a value of this parameter, or None."""
        if not _is(self.type, value):
            return f"`{self.name}` takes {TYPES[self.type]}, not {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"`{self.name}` is at least {self.minimum:g} (got {value!r})"
        if self.maximum is not None and value > self.maximum:
            return f"`{self.name}` is at most {self.maximum:g} (got {value!r})"
        return None


def _is(type_name: str, value: Any) -> bool:
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list)


def _infer(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "list"):
        if _is(name, value):
            return name
    return "string"


def is_declaration(value: Any) -> bool:
    """``{default: 30, type: integer, doc: ...}``: a parameter declared in full."""
    return isinstance(value, dict) and "default" in value and set(value) <= _DECLARATION_KEYS


def declare(raw: dict) -> tuple[dict[str, Param], list[tuple[tuple, str, str | None]]]:
    """The parameters a rule's ``params:`` declares, and problems as (path, message, hint)."""
    params: dict[str, Param] = {}
    problems: list[tuple[tuple, str, str | None]] = []
    for name, value in (raw or {}).items():
        name = str(name)
        if isinstance(value, dict) and not is_declaration(value):
            unknown = sorted(set(value) - _DECLARATION_KEYS)
            problems.append(((name,), f"parameter {name!r} is a mapping without `default:`"
                             + (f" (unknown keys: {', '.join(map(str, unknown))})" if unknown else ""),
                             "declare it as `name: VALUE`, or `name: {type: integer, default: 30, doc: ...}`"))
            continue
        if not is_declaration(value):
            params[name] = Param(name, _infer(value), value)
            continue
        type_name = value.get("type") or _infer(value["default"])
        if type_name not in TYPES:
            problems.append(((name, "type"), f"parameter {name!r}: unknown type {type_name!r}",
                             f"types: {', '.join(TYPES)}"))
            continue
        param = Param(name, type_name, value["default"], str(value.get("doc") or ""),
                      value.get("minimum"), value.get("maximum"))
        error = param.problem(param.default)
        if error:
            problems.append(((name, "default"), f"parameter {name!r}: the default does not fit: {error}", None))
            continue
        params[name] = param
    return params, problems


def unknown_hint(name: str, declared: dict[str, Param]) -> str:
    close = difflib.get_close_matches(name, sorted(declared), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"its parameters: {', '.join(sorted(declared))}" if declared else "this rule declares no parameters"


class Bound(dict):
    """A rule's parameter values (defaults, then govbot.yaml), remembering which govbot.yaml set."""

    def __init__(self, values: dict, from_config: set[str] | None = None, rule_id: str = "",
                 declared: dict[str, Param] | None = None):
        super().__init__(values)
        self.from_config = set(from_config or ())
        self.rule_id = rule_id
        self.declared = dict(declared or {})

    def config_path(self, name: str) -> tuple:
        """Where govbot.yaml sets ``name`` for this rule."""
        return ("rules", "params", self.rule_id, name)

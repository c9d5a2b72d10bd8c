"""JSON-Schema validation of YAML documents, reported at the offending node.

jsonschema does the validating; this module only turns its errors into
positioned diagnostics with a human hint (closest valid key, allowed values).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from bot.diagnostics import Diagnostic
from bot.yamlfile import PathKey, YamlDocument

if TYPE_CHECKING:
    import jsonschema

# jsonschema is imported when something is validated (a tenth of a second), not with this module:
# a config or rule pack that validated on an earlier run is vouched for by bot/yamlcache.py.


def validate(document: YamlDocument, schema: dict, value: Any = None, *,
             at: PathKey = (), what: str = "") -> list[Diagnostic]:
    """Validate ``value`` (default: the whole document) found at path ``at``."""
    import jsonschema

    target = document.data if value is None and not at else value
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    diagnostics = []
    seen: set[tuple] = set()
    errors = sorted(validator.iter_errors(target), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    for error in errors:
        for diagnostic in _to_diagnostics(document, error, at, what):
            marker = (diagnostic.line, diagnostic.col, diagnostic.message)
            if marker not in seen:
                seen.add(marker)
                diagnostics.append(diagnostic)
    return diagnostics


def _describe(path: tuple) -> str:
    parts = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part)))
    return "".join(parts) or "top level"


def _to_diagnostics(document: YamlDocument, error: jsonschema.ValidationError,
                    at: PathKey, what: str) -> list[Diagnostic]:
    path = tuple(at) + tuple(error.absolute_path)
    where = _describe(path)
    subject = f"{what} " if what else ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extras = [key for key in error.instance if key not in allowed]
        out = []
        for key in extras:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"allowed keys here: {', '.join(allowed)}" if allowed else None)
            if not close and error.instance.get(key) is None and " " in str(key):
                # `{note: one, two}`: the comma ended the value and started a new key.
                hint = "inside { } a comma starts a new key; put text that contains commas in quotes"
            out.append(document.diagnostic(path + (key,), f"{subject}unknown key {key!r} in {where}",
                                           hint=hint, key=True, span=len(str(key))))
        return out
    if error.validator == "required":
        return [document.diagnostic(path, f"{subject}{error.message.replace('is a required property', 'is required')} in {where}")]
    if error.validator == "enum":
        options = ", ".join(str(option) for option in error.validator_value)
        close = difflib.get_close_matches(str(error.instance), [str(o) for o in error.validator_value], n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of: {options}"
        return [document.diagnostic(path, f"{subject}{error.instance!r} is not allowed for {where}", hint=hint)]
    if error.validator == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else list(expected)
        # In YAML's words, as the "not ..." half already is: a list, a mapping, text.
        wanted = " or ".join(_YAML_TYPES.get(name, _article(name)) for name in expected)
        return [document.diagnostic(path, f"{subject}{where} must be {wanted}, "
                                          f"not {_type_name(error.instance)}")]
    if error.validator in ("pattern", "not"):
        return [document.diagnostic(path, f"{subject}{error.instance!r} is not a valid value for {where}",
                                    hint=_description(error))]
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Report the branch that got furthest: usually the one the user meant. A branch the value
        # is not even the type of (`false` for a path written as text) is the least likely one.
        fits = [branch for branch in error.context if branch.validator not in ("type", "const")]
        import jsonschema

        best = jsonschema.exceptions.best_match(fits or error.context)
        return _to_diagnostics(document, best, at, what)
    return [document.diagnostic(path, f"{subject}{where}: {error.message}")]


def _description(error) -> str | None:
    """What the value should look like: the schema's own description, or that of the anyOf it is a branch of."""
    while error is not None:
        if error.schema.get("description"):
            return error.schema["description"]
        error = error.parent
    return None


_YAML_TYPES = {"array": "a list", "object": "a mapping", "string": "text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "empty (null)"}


def _article(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _type_name(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__

"""Load rule files into a RuleSet, validating like a compiler.

Every problem is collected with its ``path:line:col`` before any issue is read:
YAML syntax, duplicate keys, unknown keys, wrong types, unknown check kinds,
bad regexes, bad templates, unknown level names, duplicate rule ids across
files. One bad rule never hides the errors in the next.

A pack that passed all of that, unchanged since and checked against the same
config by the same govbot, comes from bot/yamlcache.py instead: no YAML parse,
no schema check, no trial render, and each message template compiled only when
a finding needs it (``_read_pack``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.config import Config, load_config
from bot.dates import WHEN_HINT, when_problem
from bot.diagnostics import Diagnostic
from bot.engine import budget, templates
from bot.engine.condition import COMBINATORS, All, Any_, Condition, Leaf, Not
import bot.engine.checks  # noqa: F401 - registers the built-in check kinds
from bot.engine.params import Bound, declare as declare_params, unknown_hint as unknown_param_hint
from bot.engine.registry import kinds, param_schema
from bot.engine.rule import DOC_SECTIONS, METRICS, REGISTERS, RegisterRole, Rule, Scope
from bot.engine.site_setup import GROUP_PARAMS
from bot.errors import ConfigError, ValidationError
from bot.model import Severity
from bot.validation import validate
import bot.yamlcache as yamlcache
from bot.yamlfile import DiagnosticError, YamlDocument, load, parse, read

BUNDLED_RULES = Path(__file__).resolve().parent.parent.parent / "rules"
_PACKAGED_RULES = Path(__file__).resolve().parent.parent / "rules"
RULE_ID = r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$"

_names = {"type": "array", "items": {"type": "string", "minLength": 1}}
_example = {"type": "object", "additionalProperties": False, "properties": {
    "key": {"type": "string", "pattern": r"^[A-Z][A-Z0-9_]*-\d+$"},
    "type": {"type": "string"}, "summary": {"type": "string"}, "description": {"type": ["string", "object"]},
    "status": {"type": "string"}, "status_category": {"enum": ["new", "indeterminate", "done"]},
    "labels": _names, "components": _names, "project": {"type": "string"},
    "priority": {"type": ["string", "null"]},
    "resolution": {"type": "string"},
    "fields": {"type": "object"},
    "created": {"type": "string"}, "updated": {"type": "string"}, "resolved": {"type": "string"},
    "status_changed": {"type": "string", "description": "when the status category last changed"},
    "due": {"type": "string"},
    "assignee": {"type": "string"}, "reporter": {"type": "string"},
    "parent": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/example"}]},
    "children": {"type": "array", "items": {"$ref": "#/$defs/example"}},
    "others": {"type": "array", "items": {"$ref": "#/$defs/example"},
               "description": "other issues in the same project, seen as context (an epic elsewhere)"},
    "note": {"type": "string"},
}}

RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "severity", "condition", "message", "docs"],
    "$defs": {"example": _example},
    "properties": {
        "id": {"type": "string", "pattern": RULE_ID,
               "description": "ids are kebab-case and name the bad pattern, like anticipated-outcome-missing"},
        "code": {"type": "string", "pattern": r"^[A-Z]{1,4}\d{3}$",
                 "description": "a short code like GB101"},
        "title": {"type": "string", "minLength": 3, "maxLength": 120},
        "severity": {"enum": ["error", "warning", "info"]},
        "family": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$",
                   "description": "the family the rule belongs to, like tech-debt-agreement"},
        "metric": {"enum": list(METRICS),
                   "description": "a metric computed from this rule's verdicts"},
        "register": {"anyOf": [
            {"enum": list(REGISTERS)},
            {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
                "name": {"enum": list(REGISTERS)}, "flag": {"type": "string"}}}],
            "description": "a digest register this rule's scope fills, like tech-debt-agreements"},
        "enabled": {"type": "boolean"},
        "scope": {"type": "object", "additionalProperties": False, "properties": {
            "levels": _names, "min_level": {"type": "string"}, "types": _names, "exclude_types": _names,
            "status_categories": {"type": "array", "items": {
                "enum": ["new", "indeterminate", "done", "to do", "in progress"]}},
            "labels": _names, "exclude_labels": _names, "projects": _names, "teams": _names,
            "flow_items": {"type": "array", "items": {"enum": ["feature", "defect", "risk", "debt"]}},
            "exclude_resolutions": _names,
            "exclude_abandoned": {"type": "boolean",
                                  "description": "leave out work closed as not delivered (abandoned_resolutions)"},
            "resolved_within": {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "all"},
                                          {"type": "string", "pattern": r"^\$[A-Za-z_][\w.]*$"}],
                                "description": "closed work older than this many days is out of scope "
                                               "(default: the scan window, scan.history_days); all: no limit"},
        }},
        "params": {"type": "object"},
        "condition": {"type": "object"},
        "message": {"type": "string", "minLength": 1},
        "owner": _names,
        "nudge": {"type": "boolean"},
        "comment": {"type": "boolean"},
        "audience": {"enum": ["owner", "admin"],
                     "description": "owner: the issue's owner is nudged; admin: a site-setup finding, one per "
                                    "project and what was seen, for slack.admin_channel only"},
        "docs": {"type": "object", "additionalProperties": False,
                 "required": list(DOC_SECTIONS),
                 "properties": {key: {"type": "string", "minLength": 1} for key in DOC_SECTIONS}},
        "examples": {"type": "object", "additionalProperties": False, "properties": {
            "fires": {"type": "array", "items": {"$ref": "#/$defs/example"}},
            "ok": {"type": "array", "items": {"$ref": "#/$defs/example"}},
        }},
    },
}

FILE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["rules"],
               "properties": {"family": RULE_SCHEMA["properties"]["family"], "rules": {"type": "array"}}}


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def active(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.enabled]

    def get(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def fields_needed(self, config: Config) -> set[str]:
        """Jira field names the active rules read, with every configured synonym."""
        names: set[str] = set()
        for rule in self.active:
            for name in rule.fields() | {owner for owner in rule.owner}:
                names.update(config.synonyms(name))
        return names

    @property
    def needs_relatives(self) -> bool:
        return any(rule.needs_relatives for rule in self.active)

    @property
    def needs_children(self) -> bool:
        return any(rule.needs_children for rule in self.active)


def default_rule_paths() -> list[Path]:
    """The bundled rule pack: ./rules in a checkout, or bot/rules inside a wheel."""
    # An installed wheel carries the pack as bot/rules; a checkout has ./rules.
    return [_PACKAGED_RULES if _PACKAGED_RULES.is_dir() else BUNDLED_RULES]


def rule_files(paths: list[Path]) -> list[Path]:
    """Every rule file under ``paths``, each once: a folder named both by `--rules` (or `rules test PATH`)
    and by rules.paths is one set of rules, not each rule twice."""
    files: dict[Path, Path] = {}
    for path in paths:
        found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()) \
            if path.is_dir() else [path]
        for file in found:
            files.setdefault(file.resolve(), file)
    return list(files.values())


def load_rules(paths: list[str | Path] | None = None, config: Config | None = None, *,
               include_bundled: bool | None = None) -> RuleSet:
    """Load, validate and compile rules; RuleError lists every problem found."""
    if config is None or not config.data:
        config = load_config(None, search=False)
    chosen = [Path(p) for p in (paths or [])]
    if include_bundled is None:
        include_bundled = not chosen
    search = (default_rule_paths() if include_bundled else []) + chosen
    search += [config.resolve_path(p) for p in config.section("rules").get("paths", [])]
    if config.rules_unchecked:
        # govbot.yaml is broken where the rules lean on it: its errors, and one line instead of a cascade.
        raise ConfigError("\n".join(d.render() for d in _reading_order(config.problems, config))
                          + "\n" + config.rules_unchecked)
    diagnostics: list[Diagnostic] = []
    ids_known = True  # every rule id in every file is known (rules.enable and friends can be checked)
    for path in search:
        if not path.exists():
            diagnostics.append(Diagnostic(str(path), 0, 0, "rule file or folder not found"))
            ids_known = False
    files = rule_files([path for path in search if path.exists()])
    ruleset = RuleSet(files=[str(f) for f in files])
    sources, cache_key = _read_pack(files, config, cacheable=not diagnostics)
    parsed: list[YamlDocument] = []
    first_seen: dict[str, tuple[str, int]] = {}
    ids: set[str] = set()
    for path in files:
        for rule, rule_diagnostics, document, index in _load_file(path, config, sources[str(path)]):
            diagnostics.extend(rule_diagnostics)
            if document is not None and (not parsed or parsed[-1] is not document):
                parsed.append(document)
            written = document.data.get("rules") if document is not None and isinstance(document.data, dict) else None
            if not isinstance(written, list):
                ids_known = False
            elif index >= 0 and isinstance(written[index], dict) and isinstance(written[index].get("id"), str):
                ids.add(written[index]["id"])  # a rule with errors still has its id
            if rule is None:
                continue
            if rule.id in first_seen:
                where = first_seen[rule.id]
                diagnostics.append(document.diagnostic(
                    ("rules", index, "id"), f"duplicate rule id {rule.id!r}",
                    hint=f"first defined at {where[0]}:{where[1]}; rule ids must be unique across all rule files"))
                continue
            first_seen[rule.id] = (rule.path, rule.line)
            ruleset.rules.append(rule)
    if ids_known:
        diagnostics += _unknown_rule_ids(config, ids)
    if diagnostics:
        # One pass: govbot.yaml's own errors with the rule files' (and the rule settings' in govbot.yaml).
        raise ValidationError(_summarise(config.problems + diagnostics, config))
    if config.problems:
        raise ConfigError("\n".join(d.render() for d in _reading_order(config.problems, config)))
    if cache_key is not None and not all(document.validated for document in parsed):
        _remember_pack(cache_key, parsed, ruleset)
    _apply_config(ruleset, config)
    return ruleset


def _read_pack(files: list[Path], config: Config, *, cacheable: bool) -> tuple[dict[str, Any], str | None]:
    """Each rule file as a document the cache vouches for, else its text (or the error reading it); and
    the pack's cache key (None: not cached).

    The key is every file's path and content hash, the whole config the rules are checked against,
    the registered check kinds and govbot itself (bot/yamlcache.py): any edit is a miss, and the
    pack is parsed and validated as if there were no cache.
    """
    sources: dict[str, Any] = {}
    for path in files:
        try:
            sources[str(path)] = read(path)
        except DiagnosticError as error:
            sources[str(path)] = error
            cacheable = False
    if not cacheable:
        return sources, None
    try:
        settings = json.dumps([str(config.path), config.data,
                               sorted(f"{name}={cls.__module__}.{cls.__qualname__}" for name, cls in kinds().items())],
                              sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return sources, None
    cache_key = yamlcache.key("rules", yamlcache.text_hash(settings),
                              *(f"{path}\0{yamlcache.text_hash(text)}" for path, text in sources.items()))
    found = yamlcache.restore("rules", cache_key, sources)
    if found is not None:
        documents, extra = found
        try:
            for source, names in extra["fields"].items():
                templates.remember_fields_read(source, names)
        except Exception:  # noqa: BLE001 - a damaged entry: parse and validate instead
            return sources, cache_key
        sources.update(documents)
    return sources, cache_key


def _remember_pack(cache_key: str, documents: list[YamlDocument], ruleset: RuleSet) -> None:
    """Keep a pack that validated without a problem; with the fields each message template reads."""
    # Dates become text as the loader makes them per rule (_compile_rule), so plain JSON carries them.
    try:
        kept = [YamlDocument(document.path, document.text, _dates_as_text(document.data), document.value_marks,
                             document.key_marks) for document in documents]
        fields = {rule.message_source: sorted(templates.fields_read(rule.message_source)) for rule in ruleset.rules}
    except Exception:  # noqa: BLE001 - the cache is only ever an optimisation: this run is not kept
        return
    yamlcache.remember("rules", cache_key, kept, {"fields": fields})


def _reading_order(diagnostics: list[Diagnostic], config: Config | None = None) -> list[Diagnostic]:
    """govbot.yaml first, then the files in the order they were read; each file top to bottom."""
    config_path = config.document.path if config is not None and config.document is not None else None
    paths = ([config_path] if config_path else []) + [d.path for d in diagnostics]
    order = {path: index for index, path in enumerate(dict.fromkeys(paths))}
    return sorted(diagnostics, key=lambda d: (order[d.path], d.line, d.col))


def _summarise(diagnostics: list[Diagnostic], config: Config | None = None) -> str:
    diagnostics = _reading_order(diagnostics, config)
    rendered = "\n\n".join(d.render() for d in diagnostics)
    count = len(diagnostics)
    config_path = config.document.path if config is not None and config.document is not None else None
    name = Path(config_path).name if config_path else ""
    where = f"{name} and rule files" if any(d.path == config_path for d in diagnostics) else "rule files"
    if config_path and all(d.path == config_path for d in diagnostics):
        where = name
    return f"{rendered}\n\n{count} error{'s' if count != 1 else ''} in {where}; no issue was read."


def _unknown_rule_ids(config: Config, known: set[str]) -> list[Diagnostic]:
    """rules.enable / disable / severity / params naming a rule no file defines."""
    section = config.section("rules")
    problems = []
    for key in ("enable", "disable"):
        for index, rule_id in enumerate(section.get(key, [])):
            if rule_id not in known:
                problems.append(_unknown_rule(config, ("rules", key, index), rule_id, known))
    for key in ("severity", "params"):
        for rule_id in section.get(key, {}):
            if rule_id not in known:
                problems.append(_unknown_rule(config, ("rules", key, rule_id), rule_id, known))
    return problems


def _apply_config(ruleset: RuleSet, config: Config) -> None:
    """rules.enable / disable / severity from config (their ids were checked with the rule files)."""
    section = config.section("rules")
    for rule in ruleset.rules:
        if rule.id in section.get("enable", []):
            rule.enabled = True
        if rule.id in section.get("disable", []):
            rule.enabled = False
        if rule.id in section.get("severity", {}):
            rule.severity = Severity.parse(section["severity"][rule.id])


def _unknown_rule(config: Config, path: tuple, rule_id: str, known: set[str]) -> Diagnostic:
    close = difflib.get_close_matches(rule_id, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see `govbot rules list`"
    return _config_diagnostic(config, path, f"config: no rule has the id {rule_id!r}", hint=hint)


def _load_file(path: Path, config: Config, source: Any = None):
    """Yield (rule or None, diagnostics, document, index) for each rule in a file.

    ``source``: the file's document (from the cache), its text, or the error reading it; None: read it.
    """
    try:
        if isinstance(source, DiagnosticError):
            raise source
        document = source if isinstance(source, YamlDocument) else (
            parse(str(path), source) if isinstance(source, str) else load(path))
    except DiagnosticError as error:
        yield None, error.diagnostics, None, -1
        return
    if document.data is None:
        yield None, [Diagnostic(str(path), 0, 0, "file is empty", hint="a rule file holds `rules:` and a list")], document, -1
        return
    problems = _validate(document, FILE_SCHEMA, document.data, what="rule file:")
    if not isinstance(document.data, dict):
        yield None, [document.diagnostic((), "a rule file must be a mapping with a `rules:` list")], document, -1
        return
    if problems:
        yield None, problems, document, -1
        if not isinstance(document.data.get("rules"), list):
            return  # nothing to compile; otherwise the rules are still checked (one pass)
    for index, raw in enumerate(document.data["rules"]):
        diagnostics: list[Diagnostic] = []
        rule = _compile_rule(document, index, raw, config, diagnostics)
        yield (rule if not diagnostics else None), diagnostics, document, index


def _compile_rule(document: YamlDocument, index: int, raw: Any, config: Config,
                  diagnostics: list[Diagnostic]) -> Rule | None:
    at = ("rules", index)
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    label = f"rule {rule_id!r}:" if isinstance(rule_id, str) else "rule:"
    if not isinstance(raw, dict):
        diagnostics.append(document.diagnostic(at, "each rule must be a mapping (id:, title:, ...)"))
        return None
    raw = _dates_as_text(raw)
    problems = _without_echoes(_validate(document, RULE_SCHEMA, raw, at=at, what=label))
    diagnostics.extend(problems)
    # One pass: the parts the schema found well-formed are still checked (check kinds, levels,
    # templates), so a fix is never followed by a second round of errors that were there all along.
    params = _bind_params(document, at, raw if isinstance(raw.get("params") or {}, dict) else {}, rule_id, config,
                          diagnostics, label)
    if isinstance(raw.get("examples"), dict):
        for path, problem in _example_dates(raw["examples"], at + ("examples",)):
            diagnostics.append(document.diagnostic(path, f"{label} {problem}", hint=WHEN_HINT))
    condition = None
    if isinstance(raw.get("condition"), dict):
        condition = _compile_condition(document, at + ("condition",), raw["condition"], params, config,
                                       diagnostics, label)
    if problems:
        if isinstance(raw.get("message"), str):
            _check_template(document, at, raw["message"], diagnostics, label)
        return None
    scope_data = _substitute(raw.get("scope") or {}, params, config)
    within = scope_data.get("resolved_within")
    within_ref = _PARAM_REF.match(str((raw.get("scope") or {}).get("resolved_within", "")))
    if within_ref and within_ref.group(1) in params.from_config and not (
            within == "all" or (isinstance(within, int) and not isinstance(within, bool) and within >= 0)):
        diagnostics.append(_config_diagnostic(config, params.config_path(within_ref.group(1)),
                                              f"config: rules.params.{rule_id}.{within_ref.group(1)} must be a "
                                              f"number of days or all (got {within!r})",
                                              hint=f"it sets scope.resolved_within of rule {rule_id!r}"))
    elif within is not None and within != "all" and (not isinstance(within, int) or isinstance(within, bool)
                                                   or within < 0):
        diagnostics.append(document.diagnostic(at + ("scope", "resolved_within"),
                                               f"{label} scope.resolved_within must be a number of days or all "
                                               f"(got {within!r})", hint="define the parameter under `params:`"))
    for key in ("levels", "min_level"):
        values = scope_data.get(key)
        for position, name in enumerate([values] if isinstance(values, str) else (values or [])):
            if config.hierarchy.rank(name) is None:
                path = at + ("scope", key) + (() if isinstance(values, str) else (position,))
                diagnostics.append(_unknown_level(document, path, name, config, label))
    message = _check_template(document, at, raw["message"], diagnostics, label)
    if diagnostics or condition is None:
        return None
    register = _register_role(document, at, raw.get("register"), diagnostics, label)
    if diagnostics:
        return None
    # A rule's family: its own `family:`, else the file's, else the file's name.
    family = raw.get("family") or (document.data or {}).get("family") or Path(document.path).stem
    audience = raw.get("audience", "owner")
    if audience == "admin" and raw.get("comment"):
        diagnostics.append(document.diagnostic(at + ("comment",), f"{label} a site-setup rule (audience: admin) "
                                               "cannot comment on issues",
                                               hint="its findings go to slack.admin_channel; drop `comment: true`"))
        return None
    if audience == "admin":
        # What a site-setup message may say about its group (bot.engine.site_setup).
        for name, sample in GROUP_PARAMS.items():
            params.setdefault(name, sample)
    line, _ = document.position(at)
    rule = Rule(
        id=rule_id, title=raw["title"], severity=Severity.parse(raw["severity"]),
        scope=Scope.from_data(scope_data), condition=condition, message=message,
        message_source=raw["message"], family=family, code=raw.get("code"), metric=raw.get("metric"),
        register=register,
        enabled=raw.get("enabled", True), owner=list(raw.get("owner") or config.section("owners")),
        nudge=raw.get("nudge", True), comment=raw.get("comment", False), audience=audience, docs=dict(raw["docs"]),
        examples=copy.deepcopy(raw.get("examples") or {}), params=params,
        path=document.path, line=line,
    )
    _trial_render(document, at, rule, diagnostics, label)
    return None if diagnostics else rule


def _bind_params(document, at, raw, rule_id, config, diagnostics, label) -> Bound:
    """The rule's declared parameters with govbot.yaml's values, each checked where it is written."""
    declared, problems = declare_params(raw.get("params") or {})
    for sub_path, message, hint in problems:
        diagnostics.append(document.diagnostic(at + ("params",) + sub_path, f"{label} {message}", hint=hint))
    values = {name: param.default for name, param in declared.items()}
    from_config: set[str] = set()
    overrides = (config.section("rules").get("params") or {}).get(rule_id) or {}
    for name, value in overrides.items():
        path = ("rules", "params", rule_id, name)
        if name not in declared:
            diagnostics.append(_config_diagnostic(config, path, f"config: rule {rule_id!r} has no parameter {name!r}",
                                                  hint=unknown_param_hint(str(name), declared), key=True))
            continue
        problem = declared[name].problem(value)
        if problem:
            param = declared[name]
            diagnostics.append(_config_diagnostic(
                config, path, f"config: rules.params.{rule_id}: {problem}",
                hint=f"the rule's default is {param.default!r}" + (f" ({param.doc})" if param.doc else "")))
            continue
        values[name] = value
        from_config.add(name)
    return Bound(values, from_config, rule_id, declared)


def _check_template(document, at, source: str, diagnostics, label):
    """The compiled message template, or None with the syntax error at its line."""
    if document.validated:
        return templates.LazyTemplate(source)  # it compiled before: now only when a finding needs it
    try:
        return templates.compile_template(source)
    except templates.TemplateSyntaxError as error:
        line, col = document.position(at + ("message",))
        diagnostics.append(Diagnostic(document.path, line + max(0, (error.lineno or 1) - 1), col,
                                      f"{label} message template: {error.message}",
                                      hint="messages are Jinja2 templates: {{ issue.key }}, {{ issue.summary }}",
                                      source=document.text))
        return None


def _validate(document: YamlDocument, schema: dict, value: Any, **options) -> list[Diagnostic]:
    """jsonschema's problems with ``value``: none for a pack the cache vouches for (it had none)."""
    return [] if document.validated else validate(document, schema, value, **options)


def _without_echoes(problems: list[Diagnostic]) -> list[Diagnostic]:
    """Drop "'severity' is required" when another problem already says "did you mean 'severity'?"."""
    meant = {hint.split("'")[1] for d in problems if (hint := d.hint or "").startswith("did you mean '")}
    return [d for d in problems if not any(f"'{name}' is required" in d.message for name in meant)]


def _dates_as_text(value: Any) -> Any:
    """YAML reads an unquoted 2026-03-31 as a date; in a rule every date is written text (one model)."""
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


_EXAMPLE_DATES = ("created", "updated", "resolved", "status_changed", "due")


def _example_dates(examples: dict, at: tuple):
    """(path, problem) of every date in the examples that is not one (``created: yesterday``)."""
    def walk(example, path):
        if not isinstance(example, dict):
            return
        for key in _EXAMPLE_DATES:
            value = example.get(key)
            problem = when_problem(value) if value is not None else None
            if problem:
                yield path + (key,), problem
        yield from walk(example.get("parent"), path + ("parent",))
        for group in ("children", "others"):
            for index, other in enumerate(example.get(group) or []):
                yield from walk(other, path + (group, index))

    for kind in ("fires", "ok"):
        for index, example in enumerate(examples.get(kind) or []):
            yield from walk(example, at + (kind, index))


def _config_diagnostic(config: Config, path: tuple, message: str, *, hint: str | None = None,
                       key: bool = False) -> Diagnostic:
    """A problem with a value set in govbot.yaml, at its line and column there."""
    if config.document is not None:
        return config.document.diagnostic(path, message, hint=hint, key=key)
    return Diagnostic(str(config.path or "config"), 0, 0, message, hint=hint)


def _register_role(document, at, value, diagnostics, label) -> RegisterRole | None:
    if value is None:
        return None
    role = RegisterRole(value) if isinstance(value, str) else RegisterRole(value["name"], value.get("flag"))
    flags = REGISTERS[role.name]
    if role.flag is not None and role.flag not in flags:
        path = at + ("register",) + (("flag",) if isinstance(value, dict) else ())
        diagnostics.append(document.diagnostic(
            path, f"{label} register {role.name!r} has no flag {role.flag!r}",
            hint=f"its flags: {', '.join(flags)}" if flags else "this register takes no flag"))
    return role


def _trial_render(document, at, rule: Rule, diagnostics, label) -> None:
    """Render the message once against a sample issue so a typo'd variable fails now."""
    if document.validated:
        return  # it rendered before, with the same parameters and the same govbot
    issue, context = _sample_context()
    try:
        templates.render(rule.message, issue=issue, rule=rule, evidence="", params=rule.params, context=context)
    except Exception as error:  # noqa: BLE001 - any template failure is the rule author's to fix
        name = type(error).__name__
        detail = str(error).replace("'bot.engine.templates.IssueView object'", "issue")
        if name == "SecurityError":
            detail = f"not allowed in a message template ({detail})"
        if isinstance(error, budget.OverBudget):
            detail = (f"took longer than {budget.TEMPLATE_SECONDS:g} s to render on a sample issue "
                      f"(the limit per message); loop over less")
        diagnostics.append(document.diagnostic(at + ("message",), f"{label} message template: {detail}",
                                               hint="available: issue.key, issue.summary, issue.type, issue.level, "
                                                    "issue.status, issue.team, issue.url, issue.field('Name'), "
                                                    "issue.section('Name'), rule.id, rule.title, evidence, params, now"
                                                    + ("; site-setup rules: params.count, params.examples, "
                                                       "params.issues" if rule.site_setup else "")))


_SAMPLE: tuple | None = None


def _sample_context():
    """A plain epic under an initiative, to trial-render message templates at load time."""
    global _SAMPLE
    if _SAMPLE is None:
        from datetime import datetime, timezone

        from bot.engine.context import Context
        from bot.model import Issue
        from bot.workspace import Workspace

        now = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
        workspace = Workspace()
        workspace.add(Issue(key="EX-2", project="EX", type="Initiative", level="initiative",
                            status="In Progress", status_category="indeterminate", summary="Sample initiative"),
                      relative=True)
        workspace.add(Issue(key="EX-1", project="EX", type="Epic", level="epic", status="In Progress",
                            status_category="indeterminate", summary="Sample epic", parent_key="EX-2",
                            created=now, updated=now, url="https://example.atlassian.net/browse/EX-1"))
        workspace.link()
        _SAMPLE = (workspace.issues["EX-1"], Context(workspace, load_config(None, search=False), now))
    return _SAMPLE


def _unknown_level(document, path, name, config, label) -> Diagnostic:
    levels = [level.name for level in config.hierarchy.levels]
    close = difflib.get_close_matches(str(name), levels, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"levels in the hierarchy map: {', '.join(levels)}"
    return document.diagnostic(path, f"{label} unknown hierarchy level {name!r}", hint=hint)


_PARAM_REF = re.compile(r"^\$([A-Za-z_][\w.]*)$")


def _substitute(value: Any, params: dict[str, Any], config: Config, missing: list | None = None) -> Any:
    """Replace ``$name`` with a rule param and ``$config.a.b`` with a config value."""
    if isinstance(value, str):
        match = _PARAM_REF.match(value)
        if not match:
            return value
        name = match.group(1)
        if name.startswith("config."):
            current: Any = config.data
            for part in name.split(".")[1:]:
                if not isinstance(current, dict) or part not in current:
                    if missing is not None:
                        missing.append(name)
                    return value
                current = current[part]
            return current
        if name in params:
            return params[name]
        if missing is not None:
            missing.append(name)
        return value
    if isinstance(value, list):
        return [_substitute(item, params, config, missing) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, params, config, missing) for key, item in value.items()}
    return value


def _compile_condition(document, path, node, params, config, diagnostics, label) -> Condition | None:
    if not isinstance(node, dict) or len(node) != 1:
        diagnostics.append(document.diagnostic(
            path, f"{label} a condition is a mapping with exactly one key",
            hint="use one check (missing: {field: X}) or combine them with all:, any: or not:"))
        return None
    (key, value), = node.items()
    here = path + (key,)
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            diagnostics.append(document.diagnostic(here, f"{label} `{key}:` takes a non-empty list of conditions"))
            return None
        parts = [_compile_condition(document, here + (i,), item, params, config, diagnostics, label)
                 for i, item in enumerate(value)]
        if any(part is None for part in parts):
            return None
        return All(parts) if key == "all" else Any_(parts)
    if key == "not":
        part = _compile_condition(document, here, value, params, config, diagnostics, label)
        return Not(part) if part else None
    registry = kinds()
    if key not in registry:
        options = sorted(registry) + list(COMBINATORS)
        close = difflib.get_close_matches(str(key), options, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"check kinds: {', '.join(sorted(registry))}"
        diagnostics.append(document.diagnostic(here, f"{label} unknown check kind {key!r}", hint=hint,
                                               key=True, span=len(str(key))))
        return None
    cls = registry[key]
    if not isinstance(value, dict):
        if cls.shorthand and (isinstance(value, (str, int, float, list))):
            value = {cls.shorthand: value}
        elif value is None and not cls.schema.get("required"):
            value = {}
        else:
            diagnostics.append(document.diagnostic(here, f"{label} `{key}` takes a mapping of parameters",
                                                   hint=_params_hint(cls)))
            return None
    # Nested conditions (children: {where: ...}) are compiled like the rule's own, so their
    # errors carry their own line and column.
    nested: dict[str, Condition] = {}
    nested_failed = False
    for name in cls.condition_params:
        if isinstance(value.get(name), dict):
            compiled = _compile_condition(document, here + (name,), value[name], params, config, diagnostics, label)
            nested_failed = nested_failed or compiled is None
            if compiled is not None:
                nested[name] = compiled
    missing: list[str] = []
    resolved = _substitute({k: v for k, v in value.items() if k not in nested}, params, config, missing)
    resolved.update({name: value[name] for name in nested})
    for name in missing:
        diagnostics.append(document.diagnostic(here, f"{label} `${name}` is not defined",
                                               hint="define it under the rule's `params:` (or use $config.section.key)"))
    if missing:
        return None
    before = len(diagnostics)
    schema = param_schema(cls)
    from_config = getattr(params, "from_config", ())
    for name, written in value.items():
        ref = _PARAM_REF.match(written) if isinstance(written, str) else None
        spec = schema.get("properties", {}).get(name)
        if (ref and ref.group(1) in from_config and spec is not None and config.document is not None
                and not document.validated):
            # A site's value that does not fit the check: blamed where the site wrote it.
            problems = validate(config.document, spec, resolved[name], at=params.config_path(ref.group(1)),
                                what="config:")
            if problems:
                hint = f"it sets `{key}: {{{name}: ...}}` in rule {params.rule_id!r}"
                diagnostics.extend(dataclasses.replace(p, hint=p.hint or hint) for p in problems)
                return None
    diagnostics.extend(_validate(document, schema, resolved, at=here, what=f"{label} {key}:"))
    if len(diagnostics) > before:
        return None
    check = cls(resolved)
    check.bind(nested)
    for sub_path, message, hint in check.problems() + check.config_problems(config):
        diagnostics.append(document.diagnostic(here + tuple(sub_path), f"{label} {key}: {message}", hint=hint))
    # An optional level parameter (flow-item's infer_from) may be absent.
    if cls.level_param and cls.level_param in resolved:
        levels = resolved[cls.level_param]
        for position, level in enumerate([levels] if isinstance(levels, str) else levels):
            if config.hierarchy.rank(level) is None:
                where = here + (cls.level_param,) + (() if isinstance(levels, str) else (position,))
                diagnostics.append(_unknown_level(document, where, level, config, label))
    return Leaf(check) if len(diagnostics) == before and not nested_failed else None


def _params_hint(cls) -> str:
    names = ", ".join(cls.schema.get("properties", {})) or "none"
    return f"parameters of {cls.kind}: {names}"

"""Field discovery: the names rules use -> this site's field ids.

Rules speak of fields by display name ("Anticipated Outcome") or system id
("labels"); Jira's search wants ids ("customfield_10042"). The catalog comes
from ``/rest/api/2/field`` once per run. Epic Link and Parent Link are found
by their ``schema.custom`` type, because their names are localisable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from bot.config import Config
from bot.sources.vocabulary import ALIASES, EPIC_LINK_TYPE, PARENT_LINK_TYPE  # noqa: F401

# What the normalizer reads for every issue, whatever the rules need. The project
# comes from the key; components, priority and resolution only when something
# reads them (a rule, a message, a team mapped by component): every field asked
# for is paid for in bytes on every issue of every scan.
BASE_FIELDS = ("summary", "issuetype", "status", "labels", "parent", "assignee", "reporter", "created",
               "updated", "resolutiondate", "description")

@dataclass(frozen=True)
class FieldInfo:
    id: str
    name: str
    custom: bool = False
    schema: dict = field(default_factory=dict, hash=False, compare=False)
    clause_names: tuple[str, ...] = ()


class FieldCatalog:
    """The site's fields, searchable by id, display name or JQL clause name."""

    def __init__(self, fields: Iterable[FieldInfo] = ()):
        self.fields = list(fields)
        self._by_id = {f.id.casefold(): f for f in self.fields}
        self._by_name: dict[str, list[FieldInfo]] = {}
        for info in self.fields:
            self._by_name.setdefault(info.name.strip().casefold(), []).append(info)
            for clause in info.clause_names:
                if clause.casefold() != info.name.strip().casefold():
                    self._by_name.setdefault(clause.casefold(), []).append(info)

    @classmethod
    def from_json(cls, data: Any) -> "FieldCatalog":
        """From the ``/rest/api/2/field`` answer; odd entries are skipped, not fatal."""
        infos = []
        for raw in data if isinstance(data, list) else []:
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                continue
            schema = raw.get("schema") if isinstance(raw.get("schema"), dict) else {}
            clauses = tuple(c for c in raw.get("clauseNames") or [] if isinstance(c, str))
            name = raw.get("name") if isinstance(raw.get("name"), str) else raw["id"]
            infos.append(FieldInfo(raw["id"], name, bool(raw.get("custom")), schema, clauses))
        return cls(infos)

    def __len__(self) -> int:
        return len(self.fields)

    def get(self, field_id: str) -> FieldInfo | None:
        return self._by_id.get(field_id.casefold())

    def ids_for(self, name: str) -> list[str]:
        """Ids of the field(s) called ``name``: an id wins, then display names, then clause names."""
        exact = self.get(name.strip())
        if exact is not None:
            return [exact.id]
        return [info.id for info in self._by_name.get(name.strip().casefold(), [])]

    def ids_of_type(self, custom_type: str) -> list[str]:
        return [info.id for info in self.fields if info.schema.get("custom") == custom_type]

    @property
    def epic_link_ids(self) -> list[str]:
        return self.ids_of_type(EPIC_LINK_TYPE)

    @property
    def parent_link_ids(self) -> list[str]:
        return self.ids_of_type(PARENT_LINK_TYPE)

    def names(self) -> dict[str, str]:
        return {info.id: info.name for info in self.fields}

    def schemas(self) -> dict[str, dict]:
        return {info.id: info.schema for info in self.fields if info.schema}


@dataclass
class FieldPlan:
    """What to ask Jira for, and what could not be found."""

    ids: list[str]
    mapped: dict[str, list[str]]
    # (logical name, every name tried) for each wanted field the site lacks.
    unmapped: list[tuple[str, list[str]]]

    def warnings(self) -> list[str]:
        """One line per missing logical field."""
        out = []
        for logical, tried in self.unmapped:
            others = [name for name in tried if name.casefold() != logical.casefold()]
            also = f" (nor {', '.join(repr(n) for n in others)})" if others else ""
            out.append(f"warning: no field {logical!r}{also} on this Jira site; {fallback(logical)}")
        return out


    def summary(self) -> str | None:
        """The missing fields in one line (system ids some deployments lack left out), or None."""
        names = [logical for logical, _ in self.unmapped if not looks_like_id(logical)]
        if not names:
            return None
        return (f"warning: no field {_join(names)} on this Jira site (nor their synonyms); rules read "
                f"description sections of those names instead (`govbot doctor` lists the fields)")


def _join(names: list[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def looks_like_id(name: str) -> bool:
    """``statuscategorychangedate``, ``customfield_10010``: an id, not a display name."""
    return re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None


def fallback(name: str) -> str:
    """What rules do without the field ``name``, in words."""
    if looks_like_id(name):
        return "rules that read it see it as empty"
    return "rules that read it use a description section of that name instead"



def plan_fields(catalog: FieldCatalog, wanted: Iterable[str], config: Config) -> FieldPlan:
    """Field ids for the base fields, the hierarchy links and every name in ``wanted``."""
    ids: list[str] = list(BASE_FIELDS)
    if any((spec or {}).get("components") for spec in config.section("teams").values()):
        ids.append("components")  # teams are found by component
    ids += catalog.epic_link_ids + catalog.parent_link_ids
    mapped: dict[str, list[str]] = {}
    missing: set[str] = set()
    for name in sorted({n for n in wanted if isinstance(n, str) and n.strip()}, key=str.casefold):
        folded = name.strip().casefold()
        if folded in ALIASES:
            target = ALIASES[folded]
            mapped[name] = [target] if target else []
        elif folded in BASE_FIELDS:
            mapped[name] = [folded]
        else:
            found = catalog.ids_for(name)
            if found:
                mapped[name] = found
            else:
                missing.add(name)
        ids += mapped.get(name, [])
    unmapped = []
    for logical, names in _groups(missing, config):
        if not any(mapped.get(n) for n in names if n in mapped) and not any(catalog.ids_for(n) for n in names):
            unmapped.append((logical, names))
    return FieldPlan(list(dict.fromkeys(ids)), mapped, unmapped)


def _groups(missing: set[str], config: Config) -> list[tuple[str, list[str]]]:
    """Missing names grouped under their configured logical field (one warning per group)."""
    groups: dict[str, list[str]] = {}
    configured = config.section("fields")
    for name in sorted(missing, key=str.casefold):
        folded = name.casefold()
        logical = next((key for key, synonyms in configured.items()
                        if folded in {key.casefold(), *(s.casefold() for s in synonyms or [])}), name)
        names = [logical, *(configured.get(logical) or [])] if logical in configured else [name]
        groups.setdefault(logical, names)
    return sorted(groups.items(), key=lambda item: item[0].casefold())

"""JQL the live source writes: literals, the scope's query, clauses joined, key lists.

The user's JQL is taken as written, without its ORDER BY (the source chooses the order).
"""

from __future__ import annotations

import re
from typing import Iterable

from bot.config import Config
from bot.errors import ConfigError

_PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_JQL_RESERVED = {"and", "or", "not", "empty", "null", "order", "by", "in", "is", "was", "changed", "asc", "desc"}


def jql_value(value: str) -> str:
    """A JQL literal: bare when it is a plain word, else double-quoted."""
    if _PLAIN_WORD.match(value) and value.casefold() not in _JQL_RESERVED:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def strip_order_by(jql: str) -> str:
    """JQL without its ORDER BY clause (outside quotes): the source chooses the order."""
    quote = None
    index = 0
    while index < len(jql):
        char = jql[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif re.match(r"order\s+by\b", jql[index:index + 40], re.IGNORECASE) and \
                (index == 0 or not (jql[index - 1].isalnum() or jql[index - 1] == "_")):
            return jql[:index].strip()
        index += 1
    return jql.strip()


def scope_jql(config: Config, override: str | None = None) -> str:
    """The JQL naming every issue in scope: ``--jql``, else projects and/or the base JQL."""
    if override is not None:
        text = strip_order_by(override)
        if not text:
            raise ConfigError("--jql is empty", hint='for example --jql "project = PAY AND type = Epic"')
        return text
    section = config.settings.jira
    projects = [p for p in section.projects or [] if p]
    parts = []
    if len(projects) == 1:
        parts.append(f"project = {jql_value(projects[0])}")
    elif projects:
        parts.append(f"project in ({', '.join(jql_value(p) for p in projects)})")
    base = strip_order_by(section.jql or "")
    if base:
        parts.append(f"({base})" if projects else base)
    if not parts:
        raise ConfigError("no scan scope configured",
                          hint="name the projects (jira.projects: [PAY, MOB]) or a base query (jira.jql) "
                               "in govbot.yaml, or pass --jql")
    return " AND ".join(parts)


def jql_and(jql: str, clause: str) -> str:
    return f"({jql}) AND {clause}"


def key_list(keys: Iterable[str]) -> str:
    return ", ".join(keys)

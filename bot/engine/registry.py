"""The check-kind registry: every condition leaf in a rule names one of these.

A check kind is a small class with a name, a JSON-schema fragment for its
parameters and an ``evaluate`` method. Registering it here is all it takes for
rules to use it, for ``rules validate`` to check it and for ``rules schema``
and the docs to describe it (Cloud Custodian's registry, in miniature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from bot.engine.context import Context
    from bot.model import Issue


@dataclass(frozen=True)
class Match:
    """A check that holds, with what was seen (part of the finding's fingerprint).

    ``subjects`` names the fields or sections the match is about (the ones a
    ``missing`` check found empty, say), so a register can tell which parts of
    an agreement are undocumented without judging them again.
    """

    evidence: str = ""
    subjects: tuple[str, ...] = ()


class Check:
    """Base class for check kinds. Subclasses set ``kind``, ``schema`` and ``doc``."""

    kind: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    # JSON schema of the parameter mapping (properties only; the registry wraps it).
    schema: ClassVar[dict] = {"type": "object", "properties": {}}
    # When the rule gives a bare scalar (``missing: Anticipated Outcome``), it
    # fills this parameter.
    shorthand: ClassVar[str | None] = None
    # True when the check reads parents or children.
    needs_relatives: ClassVar[bool] = False
    # True when it reads an issue's children (so a change to a child can change the
    # parent's verdict, and incremental scans must re-evaluate parents).
    needs_children: ClassVar[bool] = False
    # True when it means nothing without the issue's type (or status): an issue Jira
    # sent without one is left to the other rules and listed once in the summary.
    needs_type: ClassVar[bool] = False
    needs_status: ClassVar[bool] = False
    # True when the verdict depends only on what ``bot.engine.rule.kind_of`` reads of the issue
    # (and the run): a rule made only of such checks that holds for no issue of a kind holds for
    # none of that kind, so the engine does not ask again (``bot.engine.evaluate``).
    kind_only: ClassVar[bool] = False
    # The parameter naming a hierarchy level, checked against config by the loader.
    level_param: ClassVar[str | None] = None
    # For the rule reference: {"condition": ..., "fires": example issue, "ok": example issue};
    # a test runs each pair through `rules test`, so the reference cannot show a wrong one.
    example: ClassVar[dict] = {}
    # Parameters that hold a nested condition (``children: {where: ...}``): the loader
    # compiles them like a rule's own condition and hands them to ``bind``.
    condition_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def problems(self) -> list[tuple[tuple, str, str | None]]:
        """Semantic problems beyond the schema: (param path, message, hint)."""
        return []

    def config_problems(self, config) -> list[tuple[tuple, str, str | None]]:
        """Problems seen only against the site's config (a field name close to a configured one)."""
        return []

    def bind(self, conditions: dict) -> None:
        """Receive the compiled nested conditions named by ``condition_params``."""

    def nested(self) -> list:
        """Nested conditions (judged on other issues, such as children)."""
        return []

    def fields(self) -> set[str]:
        """Names of the Jira fields this check reads (for fetching only those)."""
        name = self.params.get("field")
        return {name} if isinstance(name, str) else set()

    def evaluate(self, issue: "Issue", context: "Context") -> Match | None:
        raise NotImplementedError

    def holds(self, issue: "Issue", context: "Context") -> bool:
        """Whether the check holds, without the evidence (scope matching runs this for every
        (rule, issue) pair, so the simple kinds answer it without building a Match)."""
        return self.evaluate(issue, context) is not None


REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in REGISTRY:
        raise ValueError(f"check kind {cls.kind!r} registered twice")
    REGISTRY[cls.kind] = cls
    return cls


def param_schema(cls: type[Check]) -> dict:
    """The full parameter schema of a check kind (no unknown parameters allowed)."""
    schema = dict(cls.schema)
    schema.setdefault("type", "object")
    schema.setdefault("additionalProperties", False)
    return schema


def kinds() -> dict[str, type[Check]]:
    """Every registered check kind, by name (``bot.engine`` imports the built-in ones)."""
    return dict(sorted(REGISTRY.items()))

"""A rule's condition: check kinds composed with all / any / not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from bot.engine.registry import Check, Match

COMBINATORS = ("all", "any", "not")


class Condition:
    def evaluate(self, issue, context) -> Match | None:
        raise NotImplementedError

    def checks(self) -> Iterator[Check]:
        """Every check, nested ones too (what the rule reads, on any issue)."""
        raise NotImplementedError

    def own_checks(self) -> Iterator[Check]:
        """The checks judged on the issue itself (not those nested in a relatives check)."""
        nested = {id(inner) for check in self.checks() for condition in check.nested()
                  for inner in condition.checks()}
        return (check for check in self.checks() if id(check) not in nested)


@dataclass
class Leaf(Condition):
    check: Check

    def evaluate(self, issue, context):
        match = self.check.evaluate(issue, context)
        if match is not None and not match.subjects:
            return Match(match.evidence, tuple(sorted(self.check.fields())))
        return match

    def checks(self):
        yield self.check
        for condition in self.check.nested():
            yield from condition.checks()


@dataclass
class All(Condition):
    parts: list[Condition]

    def evaluate(self, issue, context):
        evidence, subjects = [], []
        for part in self.parts:
            match = part.evaluate(issue, context)
            if match is None:
                return None
            if match.evidence:
                evidence.append(match.evidence)
            subjects.extend(s for s in match.subjects if s not in subjects)
        return Match("; ".join(evidence), tuple(subjects))

    def checks(self):
        for part in self.parts:
            yield from part.checks()


@dataclass
class Any_(Condition):
    parts: list[Condition]

    def evaluate(self, issue, context):
        # Every part is evaluated, so the match names all that hold (an agreement missing
        # both its impact and its timeline); the evidence stays the first part's.
        first, subjects = None, []
        for part in self.parts:
            match = part.evaluate(issue, context)
            if match is None:
                continue
            first = first or match
            subjects.extend(s for s in match.subjects if s not in subjects)
        return None if first is None else Match(first.evidence, tuple(subjects))

    def checks(self):
        for part in self.parts:
            yield from part.checks()


@dataclass
class Not(Condition):
    part: Condition

    def evaluate(self, issue, context):
        return None if self.part.evaluate(issue, context) is not None else Match("")

    def checks(self):
        yield from self.part.checks()

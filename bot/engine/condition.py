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
        raise NotImplementedError


@dataclass
class Leaf(Condition):
    check: Check

    def evaluate(self, issue, context):
        return self.check.evaluate(issue, context)

    def checks(self):
        yield self.check


@dataclass
class All(Condition):
    parts: list[Condition]

    def evaluate(self, issue, context):
        evidence = []
        for part in self.parts:
            match = part.evaluate(issue, context)
            if match is None:
                return None
            if match.evidence:
                evidence.append(match.evidence)
        return Match("; ".join(evidence))

    def checks(self):
        for part in self.parts:
            yield from part.checks()


@dataclass
class Any_(Condition):
    parts: list[Condition]

    def evaluate(self, issue, context):
        for part in self.parts:
            match = part.evaluate(issue, context)
            if match is not None:
                return match
        return None

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

"""The questions that help, per rule family: said at the end of a nudge or a Jira comment.

A rule's family (``family:`` in its YAML, else its id's prefix) says what kind of
answer the owner is asked for: a purpose before the work, what happened after
it, why a shortcut was taken and when it is paid back, or where an item sits in
the hierarchy. A message only asks the questions of the families it is about.
"""

from __future__ import annotations

from typing import Iterable

QUESTIONS: dict[str, tuple[str, ...]] = {
    "anticipated-outcome": ("What are we hoping to achieve?",
                            "How will it affect the customer, the business or the platform?"),
    "closing-the-loop": ("What happened to the measure we named?",
                         "What did we learn, and what do we do next?"),
    "tech-debt-agreement": ("Why did we take this shortcut?",
                            "What does it cost us while it stays (complexity, risk, speed of change)?",
                            "When, or on what trigger, will we pay it down?"),
    "work-hierarchy": ("What level of work is this, and what does it roll up to?",),
}


FAMILIES = tuple(QUESTIONS)


def family_of(rule_id: str, rule=None) -> str:
    """The rule's family: its own ``family`` (from its YAML), else the known family its id starts with."""
    family = getattr(rule, "family", "") or ""
    if family:
        return family
    return next((name for name in FAMILIES if rule_id.startswith(name + "-")), "")


def questions_for(families: Iterable[str]) -> list[str]:
    """The questions of these families, in the order families are listed above, each once."""
    present = set(families)
    out: list[str] = []
    for family in FAMILIES:
        if family in present:
            out.extend(question for question in QUESTIONS[family] if question not in out)
    return out

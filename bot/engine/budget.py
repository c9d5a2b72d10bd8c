"""Time and output budgets for rule evaluation: no rule, and no issue text, can wedge a run.

The bounds (docs/proof.md, "Bounds on rule evaluation"):

- a message template: ``TEMPLATE_SECONDS`` of wall clock per render (and
  ``templates.MAX_RENDER_CHARS`` of output); over a whole run,
  ``RUN_TEMPLATE_SECONDS`` and ``RUN_MESSAGE_CHARS``, after which findings keep
  their rule's title as message (the verdicts stay right; the run says so once);
- a rule on one issue, condition and message together: ``RULE_SECONDS``. Over
  it, the rule is skipped on that issue; after ``RULE_SKIPS`` such issues it is
  skipped on the rest of the run. Each rule is reported once, in one line.

The clock is checked cooperatively: templates check it at every loop step,
call, filter, attribute and output chunk (see ``templates``), so a render stops
within one such step of its deadline. Regexes cannot be interrupted, which is
why they run on a linear-time engine (``regex``): their share of a rule's time
is bounded by the size of the text, and the rule's budget is checked again when
the condition returns.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

TEMPLATE_SECONDS = 0.5
RULE_SECONDS = 2.0
RULE_SKIPS = 3
RUN_TEMPLATE_SECONDS = 120.0
RUN_MESSAGE_CHARS = 100_000_000

class _State(threading.local):
    """Per thread: a render's own deadline, and the scan being run (set by its first evaluation)."""

    deadline: float | None = None  # class defaults: reading them never raises
    run: "RunBudget | None" = None


_local = _State()


class OverBudget(Exception):
    """Raised inside an evaluation whose time is up."""


class RuleSkipped(Exception):
    """A rule was skipped on an issue: over its budget there, or earlier in the run."""


def check() -> None:
    """Raise OverBudget when the current render or rule evaluation has passed its deadline."""
    local = _local
    deadline = local.deadline
    if deadline is not None and time.monotonic() > deadline:
        raise OverBudget("out of time")
    run = local.run
    if run is not None and run.deadline is not None and time.monotonic() > run.deadline:
        raise OverBudget("out of time")


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now (or an earlier one already set)."""
    previous = _local.deadline
    mine = time.monotonic() + seconds
    _local.deadline = mine if previous is None else min(previous, mine)
    try:
        yield
    finally:
        _local.deadline = previous


def current_run() -> "RunBudget | None":
    """The run whose rule this thread is evaluating now (None outside, e.g. in a trial render)."""
    run = _local.run
    return run if run is not None and run.deadline is not None else None


class RunBudget:
    """One scan's budgets: per rule on each issue, per rule over the run, and for all its messages."""

    def __init__(self):
        # Read when the run starts (not when this module loads), so tests can lower them.
        self.rule_seconds = RULE_SECONDS
        self.rule_skips = RULE_SKIPS
        self.template_seconds = RUN_TEMPLATE_SECONDS
        self.message_chars = RUN_MESSAGE_CHARS
        self.deadline: float | None = None            # while a rule is being evaluated
        self.slow: dict[str, list[str]] = {}         # rule id -> issues it took too long on
        self.skipped: list[tuple[str, str]] = []     # every (rule, issue) pair left without a verdict
        self._dropped: set[str] = set()              # rules skipped for the rest of the run
        self._after_drop: dict[str, int] = {}        # rule id -> issues skipped once it was dropped
        self.templates_used = 0.0
        self.chars_used = 0
        self.plain_messages = 0                      # findings that kept the rule title as message

    def dropped(self, rule_id: str) -> bool:
        """Whether the rule is skipped for the rest of the run (``evaluate`` would skip it)."""
        return rule_id in self._dropped

    def evaluate(self, function: Callable[..., Any], rule, issue, *args: Any) -> Any:
        """``function(rule, issue, *args)`` under the rule's budget; RuleSkipped when it is over.

        Runs for every (rule, issue) pair of a scan, so it is written for speed: no
        context manager and no thread-local write, one clock read before and one after.
        """
        if rule.id in self._dropped:
            self._after_drop[rule.id] = self._after_drop.get(rule.id, 0) + 1
            self.skipped.append((rule.id, issue.key))
            raise RuleSkipped(rule.id)
        if _local.run is not self:
            _local.run = self  # once per scan and thread; ``deadline`` says when it is evaluating
        mine = time.monotonic() + self.rule_seconds
        self.deadline = mine
        try:
            value = function(rule, issue, *args)
            over = time.monotonic() > mine  # a regex or a check cannot be interrupted: look when it returns
        except OverBudget:
            over = True
        finally:
            self.deadline = None
        if over:
            slow = self.slow.setdefault(rule.id, [])
            slow.append(issue.key)
            if len(slow) >= self.rule_skips:
                self._dropped.add(rule.id)
            self.skipped.append((rule.id, issue.key))
            raise RuleSkipped(rule.id)
        return value

    # -- messages ------------------------------------------------------------------------------------
    def messages_allowed(self) -> bool:
        return self.templates_used < self.template_seconds and self.chars_used < self.message_chars

    def spent_on_message(self, seconds: float, chars: int) -> None:
        self.templates_used += seconds
        self.chars_used += chars

    # -- the report ----------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """One line per rule that ran out of time, and one if messages ran out: for the scan's summary."""
        lines = []
        for rule_id, keys in self.slow.items():
            shown = _and(keys[:5] + ([f"{len(keys) - 5} more"] if len(keys) > 5 else []))
            line = f"rule {rule_id} took too long on {shown} and was skipped"
            dropped = self._after_drop.get(rule_id, 0)
            if dropped:
                line += f", then on the {dropped:,} other issues in its scope"
            lines.append(line + f" (limit: {self.rule_seconds:g} s per issue for its condition and message, "
                                f"{TEMPLATE_SECONDS:g} s per message; simplify its pattern or message template)")
        if self.plain_messages:
            lines.append(f"message templates used their budget for this run ({self.template_seconds:g} s or "
                         f"{self.message_chars:,} characters); {self.plain_messages:,} later findings show "
                         f"their rule's title as message")
        return lines


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

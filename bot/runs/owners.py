"""A finding's owner, for a live read that left the owner fields out (bot/sources/owners.py).

Once the rules have run, ``complete_owners`` asks the source for the owner
fields of the issues whose findings an owner field could name (a rule whose
``owner`` list finds an Outcome Owner before ``assignee`` needs no read), then
names each finding's owner again exactly as the evaluation does
(``owner_of``). It runs before anything is waived, recorded or sent.

Precision first: a finding whose owner could not be read is never routed to a
guess. It leaves this run's findings and is unjudged (nothing is resolved,
recorded or sent on its account), the run is incomplete (exit 4), and the
source does not move the incremental cursor, so the next rescan reads the
issue again. An issue deleted between the scope read and the owner read has
no owner: its findings stay quiet, said once in the summary; the next full
read confirms it gone (``bot.runs.gone``).
"""

from __future__ import annotations

from bot.engine.evaluate import Evaluation, owner_of
from bot.model import Finding
from bot.prose import plural
from bot.workspace import Workspace

SAMPLE = 5


def complete_owners(workspace: Workspace, evaluation: Evaluation, config) -> None:
    """Read the owner fields left out of the scope read for the issues with findings; name owners again."""
    late = workspace.late_owners
    if late is None:
        return
    deferred = {name.casefold() for name in late.fields}
    rules = {rule.id: rule for rule in evaluation.rules}
    waiting = [finding for finding in _findings(evaluation)
               if finding.issue in workspace.issues and _may_change(rules.get(finding.rule), finding, deferred, config)]
    # Called even when nothing waits: the source writes the cursor once the owners are read.
    answer = late.read({finding.issue for finding in waiting})
    left_out = answer.unread | answer.gone
    for finding in waiting:
        if finding.issue not in left_out:
            finding.owner, finding.owner_role = owner_of(rules[finding.rule], workspace.issues[finding.issue], config)
    if not left_out:
        return
    held = {id(finding) for finding in waiting if finding.issue in left_out}
    evaluation.findings[:] = [finding for finding in evaluation.findings if id(finding) not in held]
    evaluation.unjudged.extend(sorted({(finding.rule, finding.issue) for finding in waiting if id(finding) in held}))
    if answer.unread:
        workspace.complete = False
        detail = f": {answer.problem}" if answer.problem else ""
        workspace.problems.append(
            f"could not read the owners ({', '.join(late.fields)}) of {plural(len(answer.unread), 'issue')} with "
            f"findings ({_sample(answer.unread)}){detail}; their findings are not reported or sent, and the "
            f"next rescan reads them again")
    if answer.gone:
        workspace.notes.append(
            f"{plural(len(answer.gone), 'issue')} with findings ({_sample(answer.gone)}) "
            f"{'was' if len(answer.gone) == 1 else 'were'} deleted, or hidden from govbot, while their owners "
            f"were read: no owner, so their findings are left out of this run")


def _findings(evaluation: Evaluation) -> list[Finding]:
    """Every finding once: the reporting rules' and those kept only on verdicts (metric rules; the digest's
    register names their owners)."""
    seen: set[int] = set()
    out = []
    for finding in [*evaluation.findings, *(v.finding for v in evaluation.verdicts if v.finding is not None)]:
        if id(finding) not in seen:
            seen.add(id(finding))
            out.append(finding)
    return out


def _may_change(rule, finding: Finding, deferred: set[str], config) -> bool:
    """Could a field read later name this finding's owner? Only one tried before the owner found without it."""
    if rule is None:
        return False
    for name in rule.owner:
        for candidate in config.synonyms(name):
            if candidate.strip().casefold() in deferred:
                return True
            if finding.owner is not None and candidate == finding.owner_role:
                return False
    return False


def _sample(keys: set[str]) -> str:
    ordered = sorted(keys)
    more = len(ordered) - SAMPLE
    return ", ".join(ordered[:SAMPLE]) + (f" and {more:,} more" if more > 0 else "")

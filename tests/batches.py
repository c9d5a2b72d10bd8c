"""Build a run's batch from a workspace already read, as tests need (no store, no chat waivers)."""

from __future__ import annotations

from bot.runs.batch import Batch, build_batch
from bot.runs.inputs import Inputs, Read


def _no_store(dry_run: bool = True):
    from bot.store import Store

    return Store("sqlite://")


def scan(workspace, ruleset, config, now) -> Batch:
    """What a scan of ``workspace`` gives: findings with every waiver applied (labels, the waiver file)."""
    return build_batch(Inputs(config, ruleset), now, read=Read(workspace=workspace), open_store=_no_store)


def run_delivery(config, result, *, now, store=None, apply: bool = False, **options):
    """Deliver the findings of ``result`` (a batch, or a value shaped like one) as a nudge run would.

    The findings are replayed, not evaluated again: the run waives and records
    them through ``bot.runs.batch`` like any other, then delivers.
    """
    from bot.engine.evaluate import Evaluation
    from bot.runs.nudge import deliver
    from bot.store import open_store

    own = store is None
    store = store or open_store(config, dry_run=not apply)
    evaluation = getattr(result, "evaluation", None) or Evaluation(
        findings=list(result.findings), verdicts=list(getattr(result, "verdicts", []) or []))
    try:
        _, report = deliver(Inputs(config, result.ruleset, demo=getattr(result.workspace, "source", "") == "demo"),
                            now, store, read=Read(workspace=result.workspace), apply=apply,
                            evaluation=evaluation, **options)
        return report
    finally:
        if own:
            store.close()

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

"""A scan run: read everything in scope, evaluate, apply every waiver; record nothing.

`govbot scan` renders it (``bot.render.scan``); ``rules test`` and the
benchmarks use the same batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.runs.batch import Batch, build_batch
from bot.runs.inputs import Inputs, Read


def run_scan(inputs: Inputs, now: datetime, *, snapshot: str | None = None, jql: str | None = None,
             progress: Callable | None = None, open_store: Callable | None = None) -> Batch:
    """The batch of a scan: a scan reads the store only for chat waivers and never writes it."""
    return build_batch(inputs, now, read=Read(snapshot=snapshot, jql=jql, progress=progress),
                       open_store=open_store)

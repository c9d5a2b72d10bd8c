"""The nightly full rescan: read everything in scope (not only what changed) and record the lifecycle.

Incremental reads see only edited issues; the full rescan catches what they
cannot (a child moved to another parent, a deleted issue: ``bot.runs.gone``). It records only a
complete read, and moves the incremental cursor only once the record is in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.runs.batch import IF_CURRENT, Batch, build_batch, checkpoint_hook
from bot.runs.inputs import Inputs, Read


def full_rescan(inputs: Inputs, now: datetime, store, *, snapshot: str | None = None,
                progress: Callable | None = None, checkpoint: Callable[[], None] | None = None) -> Batch:
    from bot.store import DeferredCursors

    # The cursor (where the next incremental read starts) is saved only once the state is recorded.
    cursors = DeferredCursors(store)
    batch = build_batch(inputs, now, read=Read(snapshot=snapshot, full=True, cursors=cursors, progress=progress),
                        store=store, record=IF_CURRENT, before_record=checkpoint_hook(checkpoint))
    if batch.record is not None:
        cursors.commit()
    return batch

"""Requests to Jira a few at a time, their answers handed on in order.

A real Jira answers a page in 300 ms to a second, so reading one page after
another spends most of a scan waiting. Once the pages are known (Data Center's
``total``, Cloud's list of ids), ``Pipeline`` sends up to ``workers`` of them
at once and hands each answer to ``handle`` on the caller's thread, in the
order they were submitted: the normalizer and the workspace never see two
threads, and a scan reads its issues in the same order as before. At most
twice ``workers`` answers wait in memory (``most``: fewer, for big answers). A failure (after the transport's
own retries) stops the pipeline: answers before it are handed on, the rest
are cancelled, and the error is raised as a sequential read would raise it.
An answer ``handle`` finds must be read again in parts (a request the site
refused as too big) puts them first in line (``submit_next``), so the order holds.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class Pipeline:
    def __init__(self, workers: int, handle: Callable[[Any], None], *, most: int | None = None):
        self.workers = max(1, int(workers))
        self.handle = handle
        # Answers waiting at most (twice ``workers`` unless told): big answers (1,000 issues) wait fewer.
        self.most = max(1, int(most)) if most is not None else 2 * self.workers
        self.pending: deque[Future] = deque()
        self.executor = (ThreadPoolExecutor(self.workers, thread_name_prefix="govbot-jira")
                         if self.workers > 1 else None)

    def submit(self, fetch: Callable[..., Any], *args: Any) -> None:
        if self.executor is None:
            self.handle(fetch(*args))
            return
        self.pending.append(self.executor.submit(fetch, *args))
        while len(self.pending) > self.most:
            self._next()

    def submit_next(self, fetch: Callable[..., Any], arguments: list[tuple]) -> None:
        """Requests whose answers are handed on before any already waiting, in the order given: for
        ``handle`` to read an answer again in parts that keep its place. They share the same workers
        (never more in flight); their answers may wait beyond ``most``."""
        if self.executor is None:
            for args in arguments:
                self.handle(fetch(*args))
            return
        self.pending.extendleft(reversed([self.executor.submit(fetch, *args) for args in arguments]))

    def finish(self) -> None:
        """Wait for and hand on every answer still outstanding."""
        while self.pending:
            self._next()

    def _next(self) -> None:
        self.handle(self.pending.popleft().result())

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pending.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

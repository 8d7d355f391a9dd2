"""Batches shared between the process pool's workers and the flow's own process.

A worker process costs 3-4 s of CPU before it can take work (its imports of
Prefect and Great Expectations), and on the local pool the flow's process would
otherwise only wait. So ``share`` runs a task's batches in both: each worker
that has finished starting takes the next batch from the front as soon as it
is free, and this process takes batches from the back, on a thread of its own
(after ``first``, work of its own it does before joining in). A batch goes to
the pool only when a started worker is free, so a worker still importing holds
nothing up: a small run is done by this process alone.

On Dask every batch goes to the cluster and ``first`` runs here meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from prefect import Task
from prefect.context import FlowRunContext
from prefect.task_runners import ProcessPoolTaskRunner

POLL_SECONDS = 0.05  # how often the flow looks for a finished batch or a free worker


def share(task: Task, count: int, arguments: Callable[[int], tuple], workers: Sequence[Any],
          on_done: Callable[[int, Any], None] | None = None, first: Callable[[], None] | None = None) -> list[Any]:
    """``task(*arguments(i))`` for i in range(count), in that order.

    ``workers`` are the futures of the tasks that start the pool's workers: a
    worker counts as free once its start has finished. ``arguments`` is called
    only when batch i is handed out, so a batch's inputs are made as late as
    possible. ``on_done(i, result)`` is called in this thread as each finishes.
    """
    results: list[Any] = [None] * count

    def finished(index: int, result: Any) -> None:
        results[index] = result
        if on_done is not None:
            on_done(index, result)

    if not isinstance(FlowRunContext.get().task_runner, ProcessPoolTaskRunner):
        futures = [task.submit(*arguments(index)) for index in range(count)]
        if first is not None:
            first()
        for index, future in enumerate(futures):
            finished(index, future.result())
            futures[index] = None  # the result lives on in ``results`` only
        return results

    ahead = deque(range(count))
    pool: dict[int, Any] = {}
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dpmon-here") as thread:
        # task runs and progress messages of this flow's: on a copy of the flow's context
        here = (None, thread.submit(contextvars.copy_context().run, first)) if first is not None else None
        while ahead or pool or here:
            free = sum(worker.wrapped_future.done() for worker in workers) - len(pool)
            while ahead and free > 0:
                index = ahead.popleft()
                pool[index] = task.submit(*arguments(index))
                free -= 1
            if here is None and ahead:
                index = ahead.pop()
                here = index, thread.submit(contextvars.copy_context().run, task, *arguments(index))
            if here is not None:
                concurrent.futures.wait([here[1]], timeout=POLL_SECONDS)
                if here[1].done():
                    index, result = here[0], here[1].result()
                    here = None
                    if index is not None:
                        finished(index, result)
            else:
                time.sleep(POLL_SECONDS)
            for index, future in sorted(pool.items()):
                if future.wrapped_future.done():  # the pool's own concurrent future
                    finished(index, future.result())
                    del pool[index]
    return results

"""Batches shared between the process pool's started workers and the flow's own process."""

from __future__ import annotations

import os
import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner

from flows.sharing import share

BATCH_SECONDS = 0.2


@task(cache_policy=NO_CACHE)
def ready() -> None:
    """What a worker does first (the run's start-worker task, here without the imports)."""


@task(cache_policy=NO_CACHE)
def slow_ready() -> None:
    time.sleep(4)


@task(cache_policy=NO_CACHE)
def where(index: int) -> tuple[int, int]:
    time.sleep(BATCH_SECONDS)
    return index, os.getpid()


@flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
def shared(count: int, start: str | None) -> tuple[list, list, list]:
    workers = [{"quick": ready, "slow": slow_ready}[start].submit()] if start else []
    finished, first = [], []
    results = share(where, count, lambda index: (index,), workers,
                    on_done=lambda index, result: finished.append(index), first=lambda: first.append(time.monotonic()))
    return results, finished, first


def test_started_workers_take_batches_from_the_front_and_this_process_from_the_back(prefect_harness):
    count = 60  # 12 s in this process alone; a worker starts in a few
    results, finished, first = shared(count, "quick")
    assert [index for index, _ in results] == list(range(count))  # every batch, each once, in order
    assert sorted(finished) == list(range(count))
    assert first, "this process's own work did not run"
    here = [index for index, pid in results if pid == os.getpid()]
    there = [index for index, pid in results if pid != os.getpid()]
    assert here and there, "the batches were not shared"
    assert max(there) < min(here)  # the worker from the front, this process from the back


def test_with_no_worker_this_process_does_every_batch(prefect_harness):
    results, finished, first = shared(5, None)
    assert results == [(index, os.getpid()) for index in range(5)]
    assert sorted(finished) == list(range(5)) and len(first) == 1


def test_a_worker_still_starting_is_given_nothing(prefect_harness):
    results, _, _ = shared(5, "slow")  # 1 s of batches here, while the worker's start takes 4
    assert results == [(index, os.getpid()) for index in range(5)]


def test_shards_cover_every_recipient():
    from flows.reconciliation import _shards
    for count in range(1, 12):
        for size in range(1, 6):
            ids = [f"R{i:02d}" for i in range(count)]
            assert [rid for shard, _ in _shards(ids, [], size) for rid in shard] == ids, (count, size)

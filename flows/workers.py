"""Worker processes that do not outlive their run, leave quickly at its end, and leave Ctrl-C to it.

A run killed outright (SIGKILL, the out-of-memory killer, a scheduler's hard
timeout) cannot shut its process pool down, and spawned workers would wait for
work for ever, each holding a few hundred MB. Each worker watches the process
that started it and exits when that process is gone.

At a run's end the pool waits for its workers to exit, and each took over a
second freeing its modules (Prefect, Great Expectations, polars) one by one.
A worker leaves without that once its pool has let it go.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator


def worker_lifetime(poll_seconds: float = 0.5) -> None:
    """A process pool's initializer: a daemon thread ends this worker once its parent has died,
    and the worker skips the interpreter's teardown when its pool lets it go.

    The parent is the process that spawned this one, as multiprocessing recorded
    it: a run killed while its workers were still starting has already gone
    when this runs, and the worker's parent is by then init.
    """
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)  # nothing of the dead run's is left to finish cleanly

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    atexit.register(_leave)


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Worker processes started inside never see Ctrl-C; this thread sees one sent meanwhile on leaving.

    Ctrl-C in a terminal reaches every process of its group. The run's own
    process answers it (one line, and its pool ends the workers); a worker
    would print a KeyboardInterrupt traceback of its own, from wherever it is,
    importing Prefect as often as not. A blocked signal stays blocked across
    the spawn, from a worker's first instruction on.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _leave() -> None:
    """The last exit handler of a worker (registered before any of Prefect's or GX's): by now the
    pool has sent the worker away, multiprocessing has flushed its queues, and Prefect's log and
    event workers have drained (threading's shutdown, before exit handlers)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

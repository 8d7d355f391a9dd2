"""Worker processes that do not outlive their run.

A run killed outright (SIGKILL, the out-of-memory killer, a scheduler's hard
timeout) cannot shut its process pool down, and spawned workers would wait for
work for ever, each holding a few hundred MB. Each worker watches the process
that started it and exits when that process is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time


def exit_with_parent(poll_seconds: float = 0.5) -> None:
    """A process pool's initializer: a daemon thread ends this worker once its parent has died.

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

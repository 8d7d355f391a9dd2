"""Prefect's temporary API server, started in the background while the CLI loads the pipeline.

With no PREFECT_API_URL, a flow run starts Prefect's temporary server itself
and waits for it (5-7 s here), and every worker process of a process pool
would start one of its own. The CLI instead starts that same server (Prefect's
SubprocessASGIServer) on a thread before it imports polars, Great Expectations
and the pipeline, so the start-up and the imports overlap, and hands its
address to the run (and so to the worker processes) as PREFECT_API_URL.
A configured PREFECT_API_URL is used as it is.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator


class BackgroundServer:
    def __init__(self) -> None:
        self._url: str | None = None
        self._error: BaseException | None = None
        self._server = None
        self._thread = threading.Thread(target=self._start, name="prefect-api-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            from prefect.server.api.server import SubprocessASGIServer

            server = self._server = SubprocessASGIServer()
            server.start()  # stopped by Prefect's own exit hook
            self._url = server.api_url
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by url()
            self._error = exc

    def wait_until_launched(self) -> None:
        """Wait until the server's process exists (about 2 s of imports): the caller's own
        imports would otherwise hold the interpreter lock and delay it."""
        while self._thread.is_alive() and getattr(self._server, "server_process", None) is None:
            time.sleep(0.02)

    def url(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._url is not None
        return self._url


def start_unless_configured() -> BackgroundServer | None:
    from prefect.settings import PREFECT_API_URL

    return None if PREFECT_API_URL.value() else BackgroundServer()


@contextlib.contextmanager
def using(server: BackgroundServer | None) -> Iterator[None]:
    """Run what is inside against ``server`` (waiting for it to answer), or the configured API.

    The address goes into the environment as well as Prefect's settings, for
    processes started inside (a local Dask cluster's workers).
    """
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = server.url()
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        del os.environ["PREFECT_API_URL"]


@contextlib.contextmanager
def shared_with_workers() -> Iterator[None]:
    """Inside a flow run on a temporary server, name that server as PREFECT_API_URL for what runs inside.

    Worker processes take their settings from the environment: without this,
    each would start (and wait for) a temporary server of its own.
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = FlowRunContext.get()
    if PREFECT_API_URL.value() or context is None or context.client is None:
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: str(context.client.api_url).rstrip("/")}):
        yield

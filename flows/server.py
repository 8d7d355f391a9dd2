"""Prefect's API for a CLI run: a temporary server started first thing, or the configured API.

With no PREFECT_API_URL, a flow run starts Prefect's temporary server itself
and waits for it, and every worker process of a process pool would start one
of its own. The CLI instead starts one temporary server before anything else:
a process running Prefect's server app with no UI and no background services
(``create_app(ephemeral=True)``, as Prefect's own temporary server does) under
uvicorn. It starts while the CLI imports Prefect, polars, Great Expectations
and the pipeline, and its address goes to the run (and so to the worker
processes) as PREFECT_API_URL. It stops when the CLI exits and, on Linux,
when the CLI is killed outright.

Launching comes before reading Prefect's settings, which alone costs a
second: if they name an API (a profile's PREFECT_API_URL), the server is
stopped unused.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

LAUNCH_ATTEMPTS = 3  # a port picked free can be taken before the server binds it
# The temporary server registers no block types at start: nothing in a run reads them, and
# checking whether they were registered already imports every installed Prefect collection
# (prefect-dask imports dask.distributed), 0.3 s of the server's start. A lasting server
# (``prefect server start``) on the same database registers them at its own start.
SERVER_ENVIRONMENT = {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false", "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}


def prefect_api_app():
    """The uvicorn factory the server process runs: Prefect's API alone."""
    from prefect.server.api.server import create_app

    return create_app(ephemeral=True, final=True)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class TemporaryServer:
    def __init__(self) -> None:
        self.attempts = 0
        self._launch()
        atexit.register(self.stop)

    def _launch(self) -> None:
        self.attempts += 1
        self.port = _free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "flows.server:prefect_api_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, **SERVER_ENVIRONMENT},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            # out of the terminal's process group: Ctrl-C stops the run, which then stops the server,
            # rather than the server first, leaving Prefect to retry against it for a minute
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"{self.address}/api"

    def wait_until_ready(self) -> str:
        """The API's address once it answers; RuntimeError if it does not in time."""
        timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                if self.attempts >= LAUNCH_ATTEMPTS:
                    raise RuntimeError(f"Prefect's temporary server exited with code {code} ({self.attempts} attempts)")
                self._launch()
                continue
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"Prefect's temporary server did not answer within {timeout:.0f} s "
                           "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_unless_configured() -> TemporaryServer | None:
    """A temporary server, unless PREFECT_API_URL is set (in the environment, a profile or a settings file)."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    server = TemporaryServer()
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        server.stop()
        return None
    return server


@contextlib.contextmanager
def using(server: TemporaryServer | None) -> Iterator[None]:
    """Run what is inside against ``server`` (waiting for it to answer), or the configured API.

    The address goes into the environment, for processes started inside (the
    pool's and a local Dask cluster's workers), and into Prefect's global
    settings, for the threads Prefect starts (its event and log workers).
    """
    if server is None:
        yield
        return
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    os.environ["PREFECT_API_URL"] = server.wait_until_ready()
    refresh_global_settings_context()
    try:
        # No flow run heartbeats: they tell a lasting server that a run has died, and this
        # server dies with the run. (Stopping the heartbeat thread held a run's end up to 1 s.)
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
    finally:
        del os.environ["PREFECT_API_URL"]
        refresh_global_settings_context()


@contextlib.contextmanager
def shared_with_workers() -> Iterator[None]:
    """Inside a flow run on a temporary server, name that server as PREFECT_API_URL for what runs inside.

    Worker processes take their settings from the environment: without this,
    each would start (and wait for) a temporary server of its own. (The CLI's
    runs already have it set; this covers a flow called from a script.)
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = FlowRunContext.get()
    if PREFECT_API_URL.value() or context is None or context.client is None:
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: str(context.client.api_url).rstrip("/")}):
        yield

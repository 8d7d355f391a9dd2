"""Prefect settings for unattended, offline runs, applied before Prefect is imported.

Without a server, each flow run starts Prefect's embedded one; on a fresh
machine that can take longer than Prefect's default 20 s, and its telemetry
tries the network. Values already in the environment (a configured
PREFECT_API_URL, for instance) win.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DASK_LOGGING__DISTRIBUTED": "warning",
}


def apply(quiet: bool = False) -> None:
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # The CLI says in one line why a run stopped (the period locked, a folder unusable, Ctrl-C), and
        # anything unforeseen reaches the terminal as its traceback anyway: Prefect's console would add
        # a traceback of its own. Its run log (the API's, which the UI shows) keeps every record.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

"""Scale-out on Dask through prefect-dask: recipients' shards are read on the cluster's workers.

Outputs do not depend on where a shard was read: results are combined in shard
order and every output is sorted, so a Dask run writes the same bytes as a
single-process one.
"""

from __future__ import annotations

import os


def share_prefect_api() -> None:
    """Give Dask worker processes the flow's Prefect API.

    Without a configured PREFECT_API_URL each worker process would start an
    embedded Prefect server of its own (5-7 s each, on one SQLite file). So the
    embedded server is started here, once, and its URL put in the environment
    that the cluster's processes inherit.
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or os.environ.get("PREFECT_API_URL"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same instance the flow's own client will use
    server.start(timeout=120)
    os.environ["PREFECT_API_URL"] = server.api_url


def dask_task_runner(workers: int = 0, address: str | None = None):
    from prefect_dask import DaskTaskRunner

    share_prefect_api()
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "processes": True, "threads_per_worker": 1, "dashboard_address": ":0"}
    )

"""Scale-out on Dask through prefect-dask: shards of recipients are read, validated and reconciled on the cluster's workers.

Outputs do not depend on where a shard was read: results are combined in shard
order and every output is sorted, so a Dask run writes the same bytes as a
single-process one. The processes of a local cluster find the run's Prefect
API in the environment (see flows/server.py). Not named ``dask.py``: a deployment's
worker puts the entrypoint's folder, flows/, first on ``sys.path``, where that name
would hide the real dask from every process the run starts.
"""

from __future__ import annotations


def dask_task_runner(workers: int = 0, address: str | None = None):
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "processes": True, "threads_per_worker": 1, "dashboard_address": ":0"}
    )

"""Shards of recipients read, validated and reconciled on a real Dask LocalCluster give the same bytes as one process."""

from __future__ import annotations

import pytest

from pipeline.synthetic import ANOMALIES, generate

PERIOD = "2025-06"
OUTPUTS = ("exceptions.csv", "clawback.csv", "enhanced_monitoring.csv", "transactions.csv")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as local:
        yield local


def test_dask_run_matches_single_process(tmp_path, prefect_harness, cluster):
    from prefect_dask import DaskTaskRunner

    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=30, anomalies=list(ANOMALIES))
    common = dict(period=PERIOD, inbound=str(tmp_path / "inbound"), shard_recipients=4)
    single = monthly_reconciliation(outbound=str(tmp_path / "single"), **common)
    distributed = monthly_reconciliation.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
        outbound=str(tmp_path / "dask"), **common
    )
    assert distributed.findings_by_rule == single.findings_by_rule
    for name in OUTPUTS:
        assert (tmp_path / "dask" / PERIOD / name).read_bytes() == (tmp_path / "single" / PERIOD / name).read_bytes(), name
    from distributed import Client

    with Client(cluster) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    print("task prefixes on the scheduler:", prefixes)
    assert {"reconcile_recipients", "render_notices"} <= set(prefixes), prefixes  # the shards and letters ran on the cluster

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


def test_shards_are_sized_for_the_clusters_workers(tmp_path, prefect_harness, cluster, caplog):
    """Left to itself on a cluster of two workers, a run of 30 recipients makes two shards of 15."""
    import logging

    from prefect_dask import DaskTaskRunner

    from flows.reconciliation import monthly_reconciliation

    generate(tmp_path / "inbound", PERIOD, recipients=30, anomalies=[])
    with caplog.at_level(logging.INFO, logger="dpmon.progress"):
        monthly_reconciliation.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
            period=PERIOD, inbound=str(tmp_path / "inbound"), outbound=str(tmp_path / "outbound"))
    assert any(" in 2 shard(s)" in message for message in caplog.messages), caplog.messages


@pytest.mark.parametrize(("recipients", "workers", "here", "size"), [
    (26, 1, True, 13), (30, 2, False, 15), (10_000, 16, False, 625), (10_000, 1, True, 1000), (0, 1, True, 1), (1, 4, False, 1),
])
def test_shard_size_gives_every_process_a_shard_up_to_a_thousand(recipients, workers, here, size):
    from flows.reconciliation import shard_size

    assert shard_size(recipients, workers, here) == size


def test_the_clusters_workers_are_counted(cluster):
    from prefect_dask import DaskTaskRunner

    from flows.reconciliation import WORKER_PROCESSES, cluster_workers

    with DaskTaskRunner(address=cluster.scheduler_address) as runner:
        assert cluster_workers(runner) == 2
    assert cluster_workers(object()) == WORKER_PROCESSES  # a runner with no cluster

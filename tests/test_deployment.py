"""The scheduled deployment targets the flow with the right schedule and parameters; no server needed."""

from __future__ import annotations

import inspect
from datetime import date, datetime, timezone

import yaml

from pipeline.period import Period
from tests.conftest import ROOT


def test_served_deployment():
    from flows.deployment import build_deployment

    deployment = build_deployment()
    schedule = deployment.schedules[0].schedule
    assert deployment.flow_name == "dpmon-monthly-reconciliation"
    registered = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"][0]["name"]
    assert deployment.name == "monthly-reconciliation-served" != registered  # serving must not take the work pool's over
    assert (schedule.cron, schedule.timezone) == ("0 6 2 * *", "Europe/London")
    assert deployment.parameters == {"inbound": "inbound", "outbound": "outbound"}


def test_prefect_yaml_targets_the_flow():
    from prefect.flows import load_flow_from_entrypoint

    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = document["deployments"]
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert flow.name == "dpmon-monthly-reconciliation"
    accepted = inspect.signature(flow.fn).parameters
    assert set(deployment["parameters"]) <= set(accepted)
    assert accepted["period"].default is None  # the schedule leaves it out: previous month
    [schedule] = deployment["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == ("0 6 2 * *", "Europe/London")
    assert deployment["work_pool"]["name"]


def test_previous_month():
    assert Period.before(date(2025, 7, 2)).label == "2025-06"
    assert Period.before(date(2026, 1, 2)).label == "2025-12"


def test_a_run_with_no_period_reconciles_the_month_before_it_was_due_in_uk_time(monkeypatch):
    """A run due on 2 October and started late (or caught up after an outage) still reconciles September."""
    from types import SimpleNamespace

    from flows import reconciliation

    def due(moment: datetime) -> str:
        context = SimpleNamespace(flow_run=SimpleNamespace(expected_start_time=moment))
        monkeypatch.setattr(reconciliation.FlowRunContext, "get", staticmethod(lambda: context))
        return reconciliation._scheduled_month().label

    assert due(datetime(2026, 10, 2, 5, 0, tzinfo=timezone.utc)) == "2026-09"
    assert due(datetime(2026, 7, 31, 23, 30, tzinfo=timezone.utc)) == "2026-07"  # 00:30 on 1 August in UK summer time
    assert due(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == "2026-11"  # still 31 December in UK winter time

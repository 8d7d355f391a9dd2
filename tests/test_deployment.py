"""The scheduled deployment targets the flow with the right schedule and parameters; no server needed."""

from __future__ import annotations

import inspect
from datetime import date

import yaml

from pipeline.period import Period
from tests.conftest import ROOT


def test_served_deployment():
    from flows.deployment import build_deployment

    deployment = build_deployment()
    schedule = deployment.schedules[0].schedule
    assert deployment.flow_name == "dpmon-monthly-reconciliation"
    assert deployment.name == "monthly-reconciliation"
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

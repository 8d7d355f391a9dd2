"""The scheduled deployment: reconcile the previous month, on the 2nd of each month at 06:00 UK time.

``python -m flows.deployment`` serves it from this process (needs a Prefect
server: ``prefect server start``); ``prefect deploy --all`` registers the
deployment of ``prefect.yaml`` for a process work pool and worker. The two have
different names: served under the work pool's name, this one would take that
deployment over, and leave it broken for the worker once stopped. Use one of them.
"""

from __future__ import annotations

from flows import settings

settings.apply()

from prefect.client.schemas.schedules import CronSchedule  # noqa: E402

from flows.reconciliation import monthly_reconciliation  # noqa: E402

NAME = "monthly-reconciliation-served"  # prefect.yaml's is "monthly-reconciliation"
CRON = "0 6 2 * *"
TIMEZONE = "Europe/London"


def build_deployment(inbound: str = "inbound", outbound: str = "outbound"):
    """The deployment object; building it needs no server."""
    return monthly_reconciliation.to_deployment(
        name=NAME,
        schedules=[CronSchedule(cron=CRON, timezone=TIMEZONE)],
        parameters={"inbound": inbound, "outbound": outbound},
        tags=["dpmon", "monthly"],
        description="Reconcile last month's direct payments and publish the exception workbook.",
    )


if __name__ == "__main__":
    from prefect import serve

    serve(build_deployment())

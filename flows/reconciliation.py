"""The monthly reconciliation as a Prefect flow: a table of contents of pipeline steps.

Tasks wrap whole batches (or shards of recipients), never single rows or
recipients. Only the IO tasks retry. Results are not cached or persisted:
inputs are files that change between runs, and frames are large.
"""

from __future__ import annotations

from flows import dpmon_version, settings

settings.apply()

import contextlib  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date, datetime, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402
from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.context import FlowRunContext  # noqa: E402
from prefect.exceptions import MissingContextError  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.task_runners import ProcessPoolTaskRunner  # noqa: E402

from flows.memory import release_unused  # noqa: E402
from flows.server import shared_with_workers  # noqa: E402
from flows.sharing import share  # noqa: E402
from flows.workers import ctrl_c_held, worker_lifetime  # noqa: E402
from pipeline.ingest import inbound as inbound_files  # noqa: E402
from pipeline.ingest.inbound import InboundUnusable  # noqa: E402
from pipeline.ingest.load import (  # noqa: E402
    Batch,
    combine,
    one_spelling,
    read_files,
    refused_batch,
    reject_repeated_rows,
    reject_unknown_recipients,
    require_agreements,
    rejected_agreements,
    rejections_frame,
    rows_used,
    spelled_as_agreed,
    split_known,
    withdraw_rejected,
)
from pipeline.ingest.plans import unread_plans  # noqa: E402
from pipeline.period import Period, PeriodUnusable  # noqa: E402
from pipeline.policy import Policy, PolicyError, load_policy  # noqa: E402
from pipeline.reconcile.run import Outcome, combine as combine_parts  # noqa: E402
from pipeline.report import outbound as publishing  # noqa: E402
from pipeline.money import sterling  # noqa: E402
from pipeline.report.notices import Notice, build_notices, notice_files, write_notices  # noqa: E402
from pipeline.report.workbook import write_workbook  # noqa: E402
from pipeline.report.write import file_entries, write_manifest, write_tables  # noqa: E402
from pipeline.shard import ShardOutcome, council_part, reconcile_shard  # noqa: E402
from pipeline.validate import COUNCIL_FRAMES, RECIPIENT_FRAMES, Validator, merge_results, validate_frames  # noqa: E402

PROGRESS = logging.getLogger("dpmon.progress")  # the CLI prints these; Prefect's run log gets them too
# What the run refuses to work with, each saying what and where: a deployment run's log gets that one line, not a traceback
REFUSALS = (InboundUnusable, publishing.OutboundUnusable, publishing.PeriodLocked, PeriodUnusable, PolicyError)
SHARD_RECIPIENTS = 1000  # a shard costs about 0.5 s of fixed work (GX runs, rule queries, the task): fewer, larger shards on one machine
NOTICES_PER_TASK = 100


class _RefusalsInOneLine(logging.Filter):
    """Prefect logs the exception that ends a flow run with its traceback; for a refusal, the line is all there is to tell."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], REFUSALS):
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("prefect.flow_runs").addFilter(_RefusalsInOneLine())
logging.getLogger("prefect.task_runs").addFilter(_RefusalsInOneLine())  # a refusal raised in a task is logged there too


@dataclass(frozen=True)
class RunSummary:
    period: str
    folder: str
    findings_by_rule: dict[str, int]
    recipients: int
    recovery_pence: int
    unevidenced_pence: int
    enhanced_monitoring: int
    files_read: int
    files_rejected: int
    rows_rejected: int  # of the files read; a rejected file's rows are not counted
    bank_lines: int  # of the period, duplicates included: none at all suggests the wrong period


def _may_pass(task, task_run, state) -> bool:
    """Retry what may pass (a share that blinked, a file still being copied in), not an inbound folder
    that is wrong: that fails at once, with its reason."""
    try:
        state.result()
    except InboundUnusable:
        return False
    except Exception:  # noqa: BLE001 - anything else may be passing
        return True
    return True


@task(name="discover-inbound", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_may_pass)
def discover_inbound(inbound: Path) -> inbound_files.Discovery:
    return inbound_files.discover(inbound)


@task(name="read-files", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_may_pass)
def read_batch(files: list[inbound_files.InputFile], max_bytes: int) -> Batch:
    return read_files(files, max_bytes)


@task(name="validate-council-tables", cache_policy=NO_CACHE)
def validate_council(validator: Validator, batch: Batch) -> tuple[dict[str, pl.DataFrame], list[pl.DataFrame], list]:
    return validate_frames(validator, {name: batch.frame(name) for name in COUNCIL_FRAMES}, COUNCIL_FRAMES)


@functools.cache
def shard_validator() -> Validator:
    """One GX context a process, for every table and shard it validates (the data docs have their own)."""
    return Validator()


@task(name="start-worker", cache_policy=NO_CACHE)
def start_worker() -> None:
    """Import Great Expectations and make the worker's context (3-4 s with Prefect's imports): a worker is given
    batches once this has run."""
    shard_validator()


@task(name="reconcile-shard", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def reconcile_recipients(files: pl.DataFrame, council: dict[str, pl.DataFrame], policy: Policy, period: Period) -> ShardOutcome:
    """Read, validate and reconcile one shard of recipients (``files`` as ``inbound.files_frame``)."""
    return reconcile_shard(inbound_files.frame_files(files), council, shard_validator(), policy, period)


@task(name="render-notices", cache_policy=NO_CACHE)
def render_notices(notices: list[Notice], period: str) -> dict[str, bytes]:
    return notice_files(notices, period)


def progress(message: str) -> None:
    PROGRESS.info(message)
    try:
        get_run_logger().info(message)
    except MissingContextError:  # called outside a flow run (tests of the pieces)
        pass


def _shards(recipients: list[str], files: list[inbound_files.InputFile], size: int
            ) -> list[tuple[list[str], list[inbound_files.InputFile]]]:
    """Recipients in id order, ``size`` a shard, each with its files (a recipient may have none)."""
    shard_of = {rid: index // size for index, rid in enumerate(recipients)}
    shards: list[tuple[list[str], list[inbound_files.InputFile]]] = [
        (recipients[start:start + size], []) for start in range(0, max(len(recipients), 1), size)
    ]  # at least one, so a council with no recipients still has an outcome
    for item in files:
        shards[shard_of[item.recipient_id]][1].append(item)
    return shards


# Worker processes beside this one, which reconciles shards too: one a core (at most 4: each holds its
# own imports and a shard, 300-900 MB). Parsing is mostly Python, so threads would share one core.
WORKER_PROCESSES = max(1, min(4, (os.cpu_count() or 2) - 1))
# A worker takes 3-4 s to start, in which this process reconciles some 2,000 recipients: a council
# that size or smaller is done sooner without one, and the run's end does not wait for one to start.
SOLO_RECIPIENTS = 2000


def _workers_wanted(inbound: Path, shard_recipients: int | None) -> int:
    """Worker processes to start: none for a small council on the local pool, unless shards were asked for;
    on Dask, one start for each of the cluster's workers."""
    runner = FlowRunContext.get().task_runner
    if not isinstance(runner, ProcessPoolTaskRunner):
        return cluster_workers(runner)
    if not inbound.is_dir():  # listing it will say so
        return 0
    if shard_recipients is None and inbound_files.recipient_folders(inbound) <= SOLO_RECIPIENTS:
        return 0
    return WORKER_PROCESSES


def cluster_workers(runner) -> int:
    """The workers of the Dask cluster a task runner is connected to (at least one: an adaptive
    cluster may have none yet); WORKER_PROCESSES for a runner that has no cluster."""
    client = getattr(runner, "client", None)
    if client is None:
        return WORKER_PROCESSES
    return max(1, len(client.scheduler_info()["workers"]))


def shard_size(recipients: int, workers: int, here: bool) -> int:
    """SHARD_RECIPIENTS, or fewer so that every process doing shards (the workers, and this one
    ``here`` on the local pool) has one."""
    return max(1, min(SHARD_RECIPIENTS, -(-recipients // (workers + here))))


def _reconcile_shards(shards: list[tuple[list[str], list[inbound_files.InputFile]]], council: dict[str, pl.DataFrame],
                      rules: Policy, month: Period, workers: list) -> list[ShardOutcome]:
    """Every shard's outcome, in shard order, shared between the started workers and this process."""
    def arguments(index: int) -> tuple:
        ids, files = shards[index]
        return inbound_files.files_frame(files), council_part(council, ids), rules, month

    def done(index: int, outcome: ShardOutcome) -> None:
        progress(f"shard {index + 1}/{len(shards)} reconciled")

    return share(reconcile_recipients, len(shards), arguments, workers, on_done=done)


@flow(name="dpmon-monthly-reconciliation", log_prints=False, task_runner=ProcessPoolTaskRunner(max_workers=WORKER_PROCESSES, initializer=worker_lifetime))
def monthly_reconciliation(
    period: str | None = None,
    inbound: str = "inbound",
    outbound: str = "outbound",
    policy: str | None = None,
    shard_recipients: int | None = None,
) -> RunSummary:
    """Reconcile one month of direct payments: read, validate, reconcile, report.

    ``period`` is YYYY-MM; left out (as the monthly schedule does), it is the
    month before the one the run was due in, in UK time. ``shard_recipients`` left out is
    SHARD_RECIPIENTS, or fewer when that leaves a process (or a Dask worker)
    idle, and a council of up to SOLO_RECIPIENTS recipients then starts no
    worker process on the local pool; given, the pool's workers start whatever
    the council's size.
    """
    with shared_with_workers():
        return _run(period, inbound, outbound, policy, shard_recipients)


@dataclass(frozen=True)
class _Inputs:
    """What the run reads before taking the period's lock: the policy, the council's tables, who is who."""

    rules: Policy
    council: Batch  # the council's validated tables (rows of recipients without an agreement rejected) and refused files
    council_results: list  # Great Expectations' results for the council's tables
    known: set[str]  # recipients with a usable agreement
    recipient_files: list[inbound_files.InputFile]  # known recipients' statements, receipts and payroll
    unread_plans: pl.DataFrame  # recipients whose Section J plan was not read whole, with why (pipeline.ingest.plans)


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    tick = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - tick


def _run(period: str | None, inbound: str, outbound: str, policy: str | None, shard_recipients: int | None) -> RunSummary:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    month = Period.parse(period) if period else _scheduled_month()
    inbound_path, outbound_path = Path(inbound), Path(outbound)

    publishing.require_apart(inbound_path, outbound_path)
    progress(f"{month.label}: reading {inbound_path}")
    # the workers start while this process lists the inbound folder and reads and validates the council's tables
    with ctrl_c_held():
        workers = [start_worker.submit() for _ in range(_workers_wanted(inbound_path, shard_recipients))]
    inputs = _read_inputs(inbound_path, policy, timings)
    rules = inputs.rules

    with publishing.PeriodLock(outbound_path, month.label), publishing.staging(outbound_path, month.label) as staging:
        publishing.recover(outbound_path, month.label)
        council_frames = {name: inputs.council.frame(name) for name in COUNCIL_FRAMES}
        used = rows_used(council_frames, COUNCIL_FRAMES)
        council_frames["unread_plans"] = inputs.unread_plans
        with _timed(timings, "shards"):
            here = isinstance(FlowRunContext.get().task_runner, ProcessPoolTaskRunner)  # on Dask, every shard goes out
            size = shard_recipients or shard_size(len(inputs.known), len(workers), here)
            shards = _shards(sorted(inputs.known), inputs.recipient_files, size)
            sharing = ("sent to the Dask cluster" if not here
                       else f"shared between {len(workers)} worker process(es) and this one" if workers
                       else "reconciled by this process alone: sooner, at this size, than starting a worker process")
            progress(f"{len(inputs.recipient_files)} statement, receipt and payroll files in {len(shards)} shard(s), {sharing}")
            parts = _reconcile_shards(shards, council_frames, rules, month, workers)
            del council_frames
            input_files = inputs.council.files + [record for part in parts for record in part.files]
            for part in parts:
                used.update(part.rows_used)
            # one order whatever the shards were: the workbook keeps it among rows of one file and line
            rejections = pl.concat([rejections_frame(inputs.council), *(part.rejections for part in parts)]).sort(
                "source_file", "source_line", "column", "reason", "value", nulls_last=True, maintain_order=True)
            outcome = combine_parts([part.outcome for part in parts], rejections)
            shard_results = [merge_results([part.validation[index] for part in parts]) for index in range(len(RECIPIENT_FRAMES))]
            del parts
            release_unused()
        with _timed(timings, "data_docs"):  # from the results' documents, whose quoted values are made safe to show
            validator = Validator(staging / "data_docs")
            for result in (*inputs.council_results, *shard_results):
                validator.record(result)
            validator.build_docs()
        with _timed(timings, "reports"):  # the tables, the workbook and the letters, side by side
            _write_reports(outcome, rejections, rules, month, staging, workers, timings)
        entries = file_entries(input_files, used)
        timings["total"] = time.perf_counter() - started
        validation = [{"frame": result.frame, "rows": result.rows, "expectations": result.evaluated, "failed": result.failed}
                      for result in (*inputs.council_results, *shard_results)]
        write_manifest(
            staging, period=month, inbound=inbound_path, files=entries, policy_document=rules.document,
            policy_source=rules.source, validation=validation, timings=timings, version=dpmon_version(),
        )
        folder = publishing.publish(staging, outbound_path, month.label)

    counts = outcome.findings.group_by("rule").len().sort("rule")
    summary = RunSummary(
        period=month.label,
        folder=str(folder),
        findings_by_rule=dict(counts.iter_rows()),
        recipients=outcome.recipients,
        recovery_pence=int(outcome.clawback["recommended_recovery_pence"].sum()),
        unevidenced_pence=int(outcome.clawback["unevidenced_pence"].sum()),
        enhanced_monitoring=outcome.monitoring.height,
        files_read=len(entries),
        files_rejected=sum(entry["status"] == "rejected" for entry in entries),
        rows_rejected=sum(entry["rows_rejected"] for entry in entries),
        bank_lines=outcome.transactions.height,
    )
    publish_artifacts(summary, outcome)
    return summary


def _scheduled_month() -> Period:
    """The month before the one the run was scheduled for, in UK time: a run due on 2 October that starts
    late, or is caught up after an outage, still reconciles September."""
    context = FlowRunContext.get()
    due = context.flow_run.expected_start_time if context is not None and context.flow_run is not None else None
    return Period.before((due or datetime.now(timezone.utc)).astimezone(ZoneInfo("Europe/London")).date())


def _read_inputs(inbound: Path, policy: str | None, timings: dict[str, float]) -> _Inputs:
    """List the inbound folder, load the policy, read and validate the council's tables; refuse the files of
    recipients without a usable agreement. All before the period's lock: a council whose agreements monitor
    no one stops the run here, and the previous outputs stay as they are."""
    with _timed(timings, "discover"):
        discovery = discover_inbound(inbound)
    rules = load_policy(Path(policy) if policy else discovery.policy)
    with _timed(timings, "read_council"):
        council = read_batch([item for item in discovery.files if item.recipient_id is None], rules.max_file_bytes)
        require_agreements(council)
        council.frames["agreements"] = one_spelling(council.frame("agreements"))
        agreed = set(council.frame("agreements")["recipient_id"].to_list())
        for name in ("provision", "la_payments", "employees"):
            council.frames[name] = spelled_as_agreed(council.frame(name), agreed)
        for name, what in (("agreements", "agreement"), ("la_payments", "council payment"), ("provision", "provision line")):
            council.frames[name], repeated = reject_repeated_rows(council.frame(name), what)
            council.rejections.append(repeated)
    with _timed(timings, "validate_council"):
        progress("validating the council's tables with Great Expectations")
        frames, rejected, results = validate_council(shard_validator(), council)
        council.frames.update(frames)
        council.rejections.extend(rejected)
        require_agreements(council)  # again: Great Expectations may have rejected every agreement
        unmonitored = rejected_agreements(council)
        council.frames["agreements"], withdrawn = withdraw_rejected(council.frame("agreements"), unmonitored)
        council.rejections.append(withdrawn)
        require_agreements(council)  # and again: every recipient may have had a row rejected
    known = set(council.frame("agreements")["recipient_id"].to_list())
    progress(f"{len(known)} recipients with usable agreements")
    recipient_files, unknown = split_known([item for item in discovery.files if item.recipient_id is not None], known, unmonitored,
                                           discovery.folders)
    batch = combine([council, refused_batch(discovery.refused + unknown)])
    for name, what in (("provision", "provision"), ("la_payments", "council payment"), ("employees", "employee")):
        batch.frames[name], bad = reject_unknown_recipients(batch.frames[name], known, what, unmonitored)
        batch.rejections.append(bad)
    plan = next((item for item in batch.files if item.kind == "provision"), None)
    monitored = set(batch.frame("agreements").filter(pl.col("mechanism") != "notional")["recipient_id"].to_list())
    unread, noted = unread_plans(pl.concat(batch.rejections), plan and plan.source_file, plan is not None and not plan.rejected_reason,
                                 batch.frame("provision"), monitored, {rid.lower() for rid in known - monitored} | set(unmonitored))
    batch.rejections = [noted]
    if unread.height:
        progress(f"{unread.height} recipient(s) whose Section J plan was not read whole: their spend is not judged SPEND_NOT_IN_PLAN")
    return _Inputs(rules, batch, results, known, recipient_files, unread)


def _write_reports(outcome: Outcome, rejections: pl.DataFrame, rules: Policy, month: Period, staging: Path,
                   workers: list, timings: dict[str, float]) -> None:
    """The CSVs and the workbook by this process while the workers render letters; then it renders letters too."""
    progress(f"writing {outcome.findings.height:,} findings")
    notices = build_notices(outcome.findings, outcome.clawback, outcome.agreements, date.today(), rules.notice_days)

    def tables_and_workbook() -> None:
        with _timed(timings, "write_csv"):
            write_tables(outcome, month, staging)
        with _timed(timings, "write_workbook"):
            write_workbook(
                staging / "exceptions.xlsx", period=month.label, version=dpmon_version(), policy_source=rules.source,
                policy_document=rules.document, findings=outcome.findings, clawback=outcome.clawback,
                monitoring=outcome.monitoring, transactions=outcome.transactions, rejections=rejections,
            )

    batches = range(0, len(notices), NOTICES_PER_TASK)
    letters = share(render_notices, len(batches), lambda index: (notices[batches[index]:batches[index] + NOTICES_PER_TASK], month.label),
                    workers, first=tables_and_workbook)
    write_notices({name: data for rendered in letters for name, data in rendered.items()}, staging / "notices")


def publish_artifacts(summary: RunSummary, outcome: Outcome) -> None:
    """What the Prefect UI shows for a run: a markdown summary and a table of findings by rule."""
    amounts = pl.col("amount_pence")
    by_rule = outcome.findings.group_by("rule", "severity").agg(
        pl.len().alias("findings"), pl.when(amounts.is_not_null().any()).then(amounts.sum()).alias("pence")).sort("rule")
    rows = [{"rule": rule, "severity": severity, "findings": n, "amount": "" if pence is None else sterling(pence)}
            for rule, severity, n, pence in by_rule.iter_rows()]  # a rule without amounts (REVIEW_OVERDUE) shows none
    key = f"dpmon-{summary.period}"
    create_table_artifact(rows, key=f"{key}-findings", description=f"Findings by rule for {summary.period}")
    lines = [
        f"# dpmon {summary.period}",
        f"{summary.recipients:,} recipients monitored; {summary.files_read:,} files, {summary.files_rejected:,} rejected; "
        f"{summary.rows_rejected:,} rows rejected.",
        "",
        f"- recommended recovery: **{sterling(summary.recovery_pence)}**",
        f"- unevidenced (evidence requested): {sterling(summary.unevidenced_pence)}",
        f"- recommended for enhanced monitoring: {summary.enhanced_monitoring}",
        f"- outputs: `{Path(summary.folder).resolve()}` (exceptions.xlsx, notices/, data_docs/index.html)",
        "",
        "| rule | findings |",
        "|---|---|",
        *[f"| {rule} | {count} |" for rule, count in summary.findings_by_rule.items()],
    ]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description=f"dpmon run summary for {summary.period}")

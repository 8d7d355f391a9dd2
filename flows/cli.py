"""``dpmon run --period YYYY-MM [--inbound DIR] [--outbound DIR] [--policy FILE]``.

Arguments, the inbound folder and the policy are checked before Prefect
starts, and that the agreements can monitor anyone while its server starts,
so a mistake costs a second and one line on stderr, not a traceback.
Exit codes: 0 the run completed (whatever it found), 1 it failed (its outputs
could not be put in place, or anything unforeseen), 2 bad arguments or an
unusable inbound folder, outbound folder or policy, 3 another run is writing
the same period, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from flows import dpmon_version, settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
CONNECT_SECONDS = 5  # to reach a configured Prefect API or Dask scheduler


class _Unusable(Exception):
    """An argument that passed parsing but cannot be used."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        print(f"dpmon: {message} (see 'dpmon run --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dpmon", description="Monthly monitoring and reconciliation of direct payments.")
    parser.add_argument("--version", action="version", version=f"dpmon {dpmon_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser(
        "run", help="reconcile one month", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reconcile one month's direct payments: read inbound/, write outbound/YYYY-MM/.",
        epilog="exit codes: 0 completed (whatever it found), 1 outputs not put in place or an unforeseen error, "
               "2 bad arguments,\n  inputs, outbound folder or policy (or a configured Prefect API or Dask scheduler "
               "not answering),\n  3 another run is writing the period, 130 interrupted.\n"
               "PREFECT_API_URL names a lasting Prefect server; without it each run starts a temporary one.")
    run.add_argument("--period", required=True, metavar="YYYY-MM", help="the month to reconcile")
    run.add_argument("--inbound", default="inbound", metavar="DIR", help="folder of inputs (default: inbound)")
    run.add_argument("--outbound", default="outbound", metavar="DIR", help="folder for outputs (default: outbound)")
    run.add_argument("--policy", metavar="FILE", help="policy TOML (default: DIR/policy.toml of --inbound when present, else built-in)")
    run.add_argument("--workers", type=int, default=0, metavar="N",
                     help="read recipients' files on a local Dask cluster of N worker processes (default 0: "
                          "Prefect's local process pool)")
    run.add_argument("--dask-address", metavar="ADDR", help="use an existing Dask cluster, e.g. tcp://scheduler:8786")
    run.add_argument("--shard-recipients", type=int, metavar="N",
                     help="recipients a worker reads, validates and reconciles at a time "
                          "(default 1000, or fewer so that every local process, or every worker of a Dask cluster, has a "
                          "shard; a council of up to 2,000 recipients is then done without worker processes, unless this "
                          "is given)")
    run.add_argument("--verbose", action="store_true", help="show Prefect's run log")
    return parser


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"dpmon: {message}", file=sys.stderr)
    return code


def _preflight(args: argparse.Namespace) -> tuple[str | None, tuple[list, int]]:
    """(the problem with the arguments, or None; the agreements file to check and the file size limit)."""
    from pipeline.ingest.inbound import InboundUnusable, survey
    from pipeline.period import Period
    from pipeline.policy import PolicyError, load_policy

    if args.workers < 0 or (args.shard_recipients is not None and args.shard_recipients < 1):
        return "--workers must be 0 or more and --shard-recipients 1 or more", ([], 0)
    if args.workers and args.dask_address:
        return "give --workers (a local cluster) or --dask-address (an existing one), not both", ([], 0)
    try:
        Period.parse(args.period, "--period")
        discovery = survey(Path(args.inbound))
        if args.policy and not Path(args.policy).is_file():
            what = "is not a file" if Path(args.policy).exists() else "does not exist"
            return f"policy file '{args.policy}' {what}", ([], 0)
        rules = load_policy(Path(args.policy) if args.policy else discovery.policy)
    except (ValueError, InboundUnusable, PolicyError) as exc:
        return str(exc), ([], 0)
    return None, ([item for item in discovery.files if item.kind == "agreements"], rules.max_file_bytes)


def _agreements_problem(agreements: list, max_bytes: int, validator) -> str | None:
    """Why the agreements can monitor no one, if they cannot: the run would replace the period's outputs
    with empty ones (the flow refuses the same; here it costs one line, not a failed flow run). The rows
    are typed and then validated as the flow will validate them, with the flow's own validator."""
    from pipeline.ingest.inbound import InboundUnusable
    from pipeline.ingest.load import read_files, require_agreements
    from pipeline.validate import validate_frames

    try:
        batch = read_files(agreements, max_bytes)
        require_agreements(batch)
        frames, rejected, _ = validate_frames(validator, {"agreements": batch.frame("agreements")}, ("agreements",))
        batch.frames.update(frames)
        batch.rejections.extend(rejected)
        require_agreements(batch)
    except InboundUnusable as exc:
        return str(exc)
    return None


def _busy(args: argparse.Namespace) -> str | None:
    """Refuse at once when another run holds the period, before Prefect starts."""
    from pipeline.report.outbound import OutboundUnusable, PeriodLock, PeriodLocked, require_apart

    try:
        require_apart(Path(args.inbound), Path(args.outbound))
        with PeriodLock(Path(args.outbound), args.period):
            return None
    except PeriodLocked as exc:
        return str(exc)
    except OutboundUnusable as exc:
        raise _Unusable(str(exc)) from None


def _remote_cluster_warning(dask_address: str | None) -> str | None:
    """What to tell someone pointing a run with no PREFECT_API_URL at a cluster on other hosts: its workers
    report to Prefect's API, and the temporary server listens on this host's loopback only."""
    if not dask_address:
        return None
    host = urlsplit(dask_address if "://" in dask_address else f"tcp://{dask_address}").hostname or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return (f"dpmon: warning: Prefect's temporary server listens on 127.0.0.1 only, so workers of {dask_address} on "
            "other hosts cannot report to it; set PREFECT_API_URL to a Prefect server they can all reach")


def _unreachable(kind: str, address: str, setting: str) -> str | None:
    """Why a configured Prefect API or Dask scheduler cannot be used, if nothing listens at its address:
    one line now, rather than tracebacks after Prefect's and Dask's own retries (30 s and more)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    default_port = {"http": 80, "https": 443}.get(parts.scheme, 8786)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or default_port), timeout=CONNECT_SECONDS):
            return None
    except (OSError, ValueError) as exc:
        return f"{kind} at {address} does not answer ({getattr(exc, 'strerror', None) or exc}): {setting}"


def _print_summary(summary, seconds: float) -> None:
    from pipeline.money import sterling

    print(f"dpmon {summary.period}: {summary.recipients:,} recipients monitored, {summary.files_read:,} files "
          f"({summary.files_rejected:,} rejected), {summary.rows_rejected:,} row{'' if summary.rows_rejected == 1 else 's'} "
          f"rejected, {seconds:.1f} s")
    if summary.recipients and not summary.bank_lines:
        print(f"dpmon: warning: no statement has a line in {summary.period}: is that the month meant?", file=sys.stderr)
    if summary.findings_by_rule:
        width = max(len(rule) for rule in summary.findings_by_rule)
        for rule, count in summary.findings_by_rule.items():
            print(f"  {rule:<{width}}  {count:>6}")
    else:
        print("  no findings")
    print(f"recommended recovery {sterling(summary.recovery_pence)}; unevidenced {sterling(summary.unevidenced_pence)}; "
          f"{summary.enhanced_monitoring} for enhanced monitoring")
    print(f"outputs: {summary.folder}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C: the workers ignore it, the server is out of its reach; one line, not tracebacks
        return _fail(f"interrupted; the previous outputs of {args.period} stay in place until a run completes", EXIT_INTERRUPTED)


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    problem, agreements = _preflight(args)
    if problem:
        return _fail(problem)
    try:
        busy = _busy(args)
    except _Unusable as exc:
        return _fail(str(exc))
    if busy:
        return _fail(busy, EXIT_BUSY)
    if args.dask_address:
        problem = _unreachable("the Dask scheduler", args.dask_address, "start it, or check --dask-address")
        if problem:
            return _fail(problem)
    settings.apply(quiet=not args.verbose)
    from flows import server as api

    background_api = api.start_unless_configured()  # starts while the imports below run
    if background_api is None:
        from prefect.settings import PREFECT_API_URL

        problem = _unreachable("Prefect's API", PREFECT_API_URL.value(), "start that server, or unset PREFECT_API_URL "
                               "for a temporary one")
        if problem:
            return _fail(problem)
    import logging

    from flows.reconciliation import PROGRESS, monthly_reconciliation, shard_validator

    problem = _agreements_problem(*agreements, shard_validator())  # Great Expectations' 2-3 s, while the server starts
    if problem:
        if background_api is not None:
            background_api.stop()
        return _fail(problem)

    if not args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dpmon: %(message)s"))
        PROGRESS.addHandler(handler)
        PROGRESS.setLevel(logging.INFO)
        PROGRESS.propagate = False
    from pipeline.ingest.inbound import InboundUnusable
    from pipeline.report.outbound import OutboundUnusable, PeriodLocked, PublishFailed

    try:
        with api.using(background_api):
            if background_api is not None and args.verbose:
                print(f"dpmon: Prefect API: a temporary server on {background_api.address}", file=sys.stderr)
            warning = _remote_cluster_warning(args.dask_address) if background_api is not None else None
            if warning:
                print(warning, file=sys.stderr)
            flow = monthly_reconciliation
            if args.workers or args.dask_address:
                from flows.dask_runner import dask_task_runner

                flow = monthly_reconciliation.with_options(task_runner=dask_task_runner(args.workers, args.dask_address))
            summary = flow(
                period=args.period, inbound=args.inbound, outbound=args.outbound, policy=args.policy,
                shard_recipients=args.shard_recipients,
            )
    except PeriodLocked as exc:
        return _fail(str(exc), EXIT_BUSY)
    except (InboundUnusable, OutboundUnusable) as exc:  # changed since the checks above
        return _fail(str(exc))
    except PublishFailed as exc:  # the run's work is done, but its outputs could not be put in place
        return _fail(str(exc), EXIT_FAILED)
    _print_summary(summary, time.perf_counter() - started)
    return EXIT_OK


def console() -> None:
    """The ``dpmon`` command: ``main``, then out without tearing the interpreter down.

    Freeing Prefect's, Great Expectations' and polars' modules one by one at exit
    took about a second after every run. When ``main`` has returned, nothing is
    left to finish by then: Prefect's log and event workers drain in threading's
    shutdown, before any exit handler, and this one, registered before all the
    others, runs after them (the temporary server's stop, multiprocessing's
    clean-up). A run that ends in an exception exits the ordinary way.
    """
    returned: list[int] = []
    atexit.register(_leave, returned)
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a Ctrl-C now would only interrupt the clean-up
    returned.append(code)
    sys.exit(code)


def _leave(returned: list[int]) -> None:
    if returned:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(returned[0])


if __name__ == "__main__":
    console()

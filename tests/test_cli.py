"""The command line: exit codes and one-line messages, checked before Prefect starts."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.processes import command_line, descendants


def dpmon(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run"], "dpmon: the following arguments are required: --period (see 'dpmon run --help')"),
        (["run", "--period", "2025-13"], "dpmon: --period must be a month as YYYY-MM (e.g. 2025-06), got '2025-13'"),
        (["run", "--period", "June"], "dpmon: --period must be a month as YYYY-MM (e.g. 2025-06), got 'June'"),
        (["run", "--period", "9999-12"], "dpmon: --period must be a month from 1900-01 to 2999-12, got '9999-12'"),
        # a trailing newline, or digits of another script, would name the outbound folder: "2025-06\n", "２０２５-06"
        (["run", "--period", "2025-06\n"], "dpmon: --period must be a month as YYYY-MM (e.g. 2025-06), got '2025-06\\n'"),
        (["run", "--period", "\uff12\uff10\uff12\uff15-06"],
         "dpmon: --period must be a month as YYYY-MM (e.g. 2025-06), got '\uff12\uff10\uff12\uff15-06'"),
        (["run", "--period", "2025-06", "--inbound", "no/such/folder"],
         "dpmon: inbound folder 'no/such/folder' does not exist or is not a folder"),
        (["run", "--period", "2025-06", "--policy", "missing.toml"], "dpmon: policy file 'missing.toml' does not exist"),
        (["run", "--period", "2025-06", "--policy", "inbound"], "dpmon: policy file 'inbound' is not a file"),
        (["run", "--period", "2025-06", "--outbound", "inbound/out"],
         "dpmon: outbound folder 'inbound/out' is inside the inbound folder 'inbound': the next run would read these outputs "
         "as inputs; choose a folder outside it"),
        (["run", "--period", "2025-06", "--dask-address", "tcp://127.0.0.1:9"],  # the discard port: nothing listens
         "dpmon: the Dask scheduler at tcp://127.0.0.1:9 does not answer (Connection refused): start it, or check --dask-address"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = dpmon(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_a_configured_prefect_api_that_does_not_answer_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flows", "run", "--period", "2025-06", "--outbound", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert (result.returncode, result.stderr.strip()) == (2, "dpmon: Prefect's API at http://127.0.0.1:9/api does not answer "
                                                          "(Connection refused): start that server, or unset PREFECT_API_URL for a temporary one")


def test_version():
    from flows import dpmon_version

    result = dpmon("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"dpmon {dpmon_version()}")
    assert dpmon_version() != "unknown"


def test_a_month_no_statement_reaches_is_warned_of(tmp_path):
    """Every recipient then has STATEMENT_MISSING and a surplus from an old balance: most likely a mistyped period."""
    result = dpmon("run", "--period", "2030-01", "--outbound", str(tmp_path / "out"))
    assert result.returncode == 0
    assert "dpmon: warning: no statement has a line in 2030-01: is that the month meant?" in result.stderr.splitlines()
    assert "warning" not in dpmon("run", "--period", "2025-06", "--outbound", str(tmp_path / "out")).stderr


def test_unknown_command_exits_2():
    result = dpmon("fly")  # argparse's own wording differs between Python versions
    assert result.returncode == 2
    assert result.stderr.startswith("dpmon: argument command: invalid choice: 'fly'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_policy_exits_2_naming_the_key(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text("[vat]\ntolerence = 1\n")
    result = dpmon("run", "--period", "2025-06", "--policy", str(policy))
    assert (result.returncode, result.stderr.strip()) == (2, f"dpmon: {policy}: unknown policy key 'vat.tolerence'")


def test_a_second_run_on_the_same_period_is_refused(tmp_path):
    outbound = tmp_path / "outbound"
    outbound.mkdir()
    (outbound / ".2025-06.lock").write_text(str(os.getppid()))  # a live process holds it
    result = dpmon("run", "--period", "2025-06", "--outbound", str(outbound))
    assert result.returncode == 3
    assert result.stderr.startswith(f"dpmon: another dpmon run (process {os.getppid()}) is writing {outbound / '2025-06'}")


def test_a_stale_lock_is_taken_over(tmp_path):
    from pipeline.report.outbound import PeriodLock

    (tmp_path / ".2025-06.lock").write_text("999999999")
    with PeriodLock(tmp_path, "2025-06") as lock:
        assert lock.path.read_text() == str(os.getpid())
    assert not lock.path.exists()


def test_outbound_that_is_a_file_exits_2(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    result = dpmon("run", "--period", "2025-06", "--outbound", str(target))
    assert (result.returncode, result.stderr.strip()) == (2, f"dpmon: outbound folder '{target}' is a file, not a folder")


def test_sample_run_starts_one_temporary_server_shared_with_its_workers(tmp_path):
    """The default path: no PREFECT_API_URL, so the CLI starts Prefect's temporary server and names it to the workers."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    result = subprocess.run([sys.executable, "-m", "flows", "run", "--period", "2025-06", "--outbound", str(tmp_path / "out"), "--verbose"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    log = result.stdout + result.stderr
    servers = set(re.findall(r"temporary (?:Prefect )?server on (http://\S+)", log))  # ours, and any Prefect would start itself
    assert len(servers) == 1, log[-3000:]
    assert "Finished in state Completed()" in log
    assert re.search(r"^dpmon 2025-06: 26 recipients monitored, 110 files \(1 rejected\), 1 row rejected, [0-9.]+ s$", result.stdout, re.M)
    assert re.search(r"^recommended recovery £[0-9,]+\.[0-9]{2}; unevidenced £[0-9,]+\.[0-9]{2}; 4 for enhanced monitoring$",
                     result.stdout, re.M)
    assert "reconciled by this process alone" in log  # 26 recipients: done before a worker process could start
    # the CLI and its workers skip the interpreter's teardown: nothing may be left unfinished by it
    assert "Traceback" not in log and "leaked" not in log and "Warning" not in log, log[-3000:]
    assert (tmp_path / "out" / "2025-06" / "exceptions.xlsx").is_file()
    assert sorted(path.name for path in (tmp_path / "out" / "2025-06" / "notices").iterdir())
    # the run is on the record; block types are not: checking them imports every Prefect collection installed
    with contextlib.closing(sqlite3.connect(tmp_path / "prefect-home" / "prefect.db")) as database:
        assert database.execute("SELECT count(*) FROM flow_run").fetchone() == (1,)
        assert database.execute("SELECT count(*) FROM block_type").fetchone() == (0,)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server's parent-death signal is Linux's")
def test_a_killed_run_takes_its_temporary_server_and_workers_with_it(tmp_path):
    import signal
    import time

    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    run = subprocess.Popen([sys.executable, "-m", "flows", "run", "--period", "2025-06", "--outbound", str(tmp_path / "out"),
                            "--shard-recipients", "5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in run.stderr:
        if "shared between" in line:  # the server answers; the pool's workers exist, some still starting
            break
    spawned = descendants(run.pid)
    commands = [command_line(pid) for pid in spawned]
    assert any("uvicorn" in command for command in commands) and any("spawn_main" in command for command in commands), \
        "no server and workers to watch"
    os.kill(run.pid, signal.SIGKILL)  # the run alone, as the OOM killer would
    run.wait(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in spawned):
        time.sleep(0.2)
    alive = [pid for pid in spawned if os.path.exists(f"/proc/{pid}")]
    survivors = [command_line(pid)[:120] for pid in alive]
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not alive, f"processes outlived the killed run: {survivors}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")
def test_ctrl_c_ends_a_run_with_one_line_and_nothing_left_behind(tmp_path):
    """Ctrl-C reaches every process of the terminal's group: the workers used to print tracebacks of their
    own, and the server stopped first, leaving Prefect to retry against it for over a minute."""
    import signal
    import time

    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    (tmp_path / "out" / "2025-06").mkdir(parents=True)
    (tmp_path / "out" / "2025-06" / "exceptions.csv").write_text("previous\n")
    run = subprocess.Popen([sys.executable, "-m", "flows", "run", "--period", "2025-06", "--outbound", str(tmp_path / "out"),
                            "--shard-recipients", "5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    said = []
    for line in run.stderr:
        said.append(line.rstrip("\n"))
        if "shared between" in line:  # the server answers; the pool's workers exist
            break
    spawned = descendants(run.pid)
    os.killpg(run.pid, signal.SIGINT)  # as a terminal sends it: to the whole foreground group
    started = time.monotonic()
    rest = run.stderr.read()
    run.wait(timeout=60)
    assert time.monotonic() - started < 20
    assert run.returncode == 130
    assert rest.splitlines()[-1] == "dpmon: interrupted; the previous outputs of 2025-06 stay in place until a run completes"
    assert "Traceback" not in rest and all(line.startswith("dpmon: ") for line in rest.splitlines()), rest[-2000:]
    assert (tmp_path / "out" / "2025-06" / "exceptions.csv").read_text() == "previous\n"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in spawned):
        time.sleep(0.2)
    assert not [command_line(pid)[:120] for pid in spawned if os.path.exists(f"/proc/{pid}")]


def test_runs_on_the_temporary_server_send_no_heartbeats(monkeypatch):
    """Heartbeats tell a lasting server that a run has died; the CLI's server dies with the run."""
    from prefect.settings import get_current_settings

    from flows import server as api

    class Answering:  # a temporary server that is already up
        def wait_until_ready(self) -> str:
            return "http://127.0.0.1:9/api"

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with api.using(Answering()):
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"
        assert get_current_settings().flows.heartbeat_frequency is None
    assert "PREFECT_API_URL" not in os.environ
    assert get_current_settings().flows.heartbeat_frequency is not None


@pytest.mark.parametrize(("address", "warned"), [
    (None, False), ("tcp://127.0.0.1:8786", False), ("tcp://localhost:8786", False), ("127.0.0.1:8786", False),
    ("tcp://scheduler:8786", True), ("tcp://10.0.0.5:8786", True), ("scheduler.example:8786", True),
])
def test_a_cluster_on_other_hosts_is_told_to_use_a_reachable_prefect_api(address, warned):
    from flows.cli import _remote_cluster_warning

    warning = _remote_cluster_warning(address)
    assert (warning is not None) == warned
    if warned:
        assert warning.startswith("dpmon: warning: Prefect's temporary server listens on 127.0.0.1 only")
        assert address in warning and "PREFECT_API_URL" in warning


def _council_with_agreements(tmp_path: Path, agreements: str) -> Path:
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    (inbound / "agreements.csv").write_text(agreements)
    return inbound


@pytest.mark.parametrize(("agreements", "message"), [
    ("Recipient ID,Name,Mechanism,Start,Payment Amount,Frequency,First payment\nR1,A,direct,2025-01-01,100.00,monthly,2025-01-01\n",
     "dpmon: agreements.csv cannot be used: cannot find column 'recipient_name', 'start_date', 'payment_frequency', "
     "'first_payment_date' in column names: 'recipient_id', 'name', 'mechanism', 'start', 'payment_amount', 'frequency', "
     "'first payment'"),
    ("recipient_id,recipient_name,mechanism,start_date,payment_amount,payment_frequency,first_payment_date\n"
     "R1,A,direct,1/1/2025x,100.00,monthly,2025-01-01\n",
     "dpmon: agreements.csv holds no usable agreement: every row was rejected "
     "(line 2: column 'start_date': '1/1/2025x' is not a date as YYYY-MM-DD or DD/MM/YYYY)"),
])
def test_agreements_that_monitor_no_one_exit_2_and_leave_the_outputs(tmp_path, agreements, message):
    """Nobody could be monitored: the run stops before Prefect, and last month's outputs are not replaced."""
    inbound = _council_with_agreements(tmp_path, agreements)
    previous = tmp_path / "outbound" / "2025-06"
    previous.mkdir(parents=True)
    (previous / "exceptions.csv").write_text("kept\n")
    result = dpmon("run", "--period", "2025-06", "--inbound", str(inbound), "--outbound", str(tmp_path / "outbound"))
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert (previous / "exceptions.csv").read_text() == "kept\n"


def test_agreements_all_rejected_by_great_expectations_exit_2_and_leave_the_outputs(tmp_path):
    """Typed, but every row fails a check (a payment of nothing): as good as no agreements."""
    inbound = _council_with_agreements(
        tmp_path, "recipient_id,recipient_name,mechanism,start_date,payment_amount,payment_frequency,first_payment_date\n"
                  "R1,A,direct,2025-01-01,0.00,monthly,2025-01-01\n")
    previous = tmp_path / "outbound" / "2025-06"
    previous.mkdir(parents=True)
    (previous / "exceptions.csv").write_text("kept\n")
    result = dpmon("run", "--period", "2025-06", "--inbound", str(inbound), "--outbound", str(tmp_path / "outbound"))
    assert (result.returncode, result.stderr.strip()) == (
        2, "dpmon: agreements.csv holds no usable agreement: every row was rejected (line 2: column 'payment_amount': "
           "'0.00' is not from 0.01 to 1,000,000,000.00 (check expect_column_values_to_be_between in expectations/agreements.json))")
    assert (previous / "exceptions.csv").read_text() == "kept\n"

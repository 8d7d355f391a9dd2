"""Kill a real run mid-way: previous outputs stay whole, nothing half-written appears, a re-run matches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.synthetic import ANOMALIES, generate
from tests.conftest import ROOT
from tests.processes import command_line, descendants

PERIOD = "2025-06"
CSV = ("exceptions.csv", "clawback.csv", "enhanced_monitoring.csv", "transactions.csv")


API = {}


@pytest.fixture(scope="module", autouse=True)
def shared_api(prefect_harness):
    """Runs talk to the test session's Prefect server rather than each starting its own (about 10 s each)."""
    from prefect.settings import PREFECT_API_URL

    API["PREFECT_API_URL"] = PREFECT_API_URL.value()


SHARDED = ("--shard-recipients", "20")  # 60 recipients in 3 shards: worker processes, not this small council's lone run


def start(inbound, outbound, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "run", "--period", PERIOD, "--inbound", str(inbound), "--outbound", str(outbound), *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, **API},
    )


def kill_at(process: subprocess.Popen, marker: str) -> None:
    for line in process.stderr:
        if marker in line:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            return
    raise AssertionError(f"the run ended before '{marker}'")


def snapshot(folder) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def council(tmp_path_factory, shared_api):
    root = tmp_path_factory.mktemp("faults")
    generate(root / "inbound", PERIOD, recipients=60, anomalies=list(ANOMALIES), purchases=6)
    reference = root / "reference"
    assert start(root / "inbound", reference).wait(timeout=300) == 0
    return root, {name: (reference / PERIOD / name).read_bytes() for name in CSV}


@pytest.mark.parametrize("marker", ["validating the council", "shard 1/", "writing"])
def test_killed_run_leaves_previous_outputs_whole_and_rerun_matches(council, tmp_path, marker):
    root, reference = council
    outbound = tmp_path / "outbound"
    assert start(root / "inbound", outbound).wait(timeout=300) == 0
    before = snapshot(outbound / PERIOD)

    kill_at(start(root / "inbound", outbound, *SHARDED), marker)
    assert snapshot(outbound / PERIOD) == before, "the published outputs changed under a killed run"

    rerun = start(root / "inbound", outbound, *SHARDED)  # the same CSVs as the reference, run alone
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()  # the dead run's lock is stale and taken over
    for name in CSV:
        assert (outbound / PERIOD / name).read_bytes() == reference[name], name
    assert not [path.name for path in outbound.iterdir() if path.name.startswith(".")], "staging or lock left behind"


def test_killed_first_run_publishes_nothing(council, tmp_path):
    root, reference = council
    outbound = tmp_path / "outbound"
    kill_at(start(root / "inbound", outbound), "writing")
    assert not (outbound / PERIOD).exists()
    assert start(root / "inbound", outbound).wait(timeout=300) == 0
    assert {name: (outbound / PERIOD / name).read_bytes() for name in CSV} == reference


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_workers_of_a_killed_run_exit_with_it(council, tmp_path):
    root, _ = council
    run = start(root / "inbound", tmp_path / "outbound", *SHARDED)
    for line in run.stderr:
        if "shared between" in line:  # the pool's workers exist, some perhaps still starting
            break
    workers = descendants(run.pid)
    assert any("spawn_main" in command_line(pid) for pid in workers), "no worker processes to watch"
    os.kill(run.pid, signal.SIGKILL)  # the run alone, as the OOM killer would, not its process group
    run.wait(timeout=60)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
        time.sleep(0.2)
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}")]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "worker processes outlived the killed run"


def test_outputs_that_cannot_be_swapped_in_leave_the_previous_ones_and_say_so(tmp_path, monkeypatch):
    from pipeline.report import outbound

    (tmp_path / "2025-06").mkdir()
    (tmp_path / "2025-06" / "exceptions.csv").write_text("previous\n")
    real_replace = os.replace

    def refuse_the_new(source, target):
        if ".staging-" in str(source):
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(outbound.os, "replace", refuse_the_new)
    with pytest.raises(outbound.PublishFailed, match=r"^could not replace '.*2025-06' with this run's outputs \(Permission denied\); "
                                                        r"the previous outputs are left as they were$"):
        with outbound.staging(tmp_path, "2025-06") as staging:
            (staging / "exceptions.csv").write_text("new\n")
            outbound.publish(staging, tmp_path, "2025-06")
    assert (tmp_path / "2025-06" / "exceptions.csv").read_text() == "previous\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["2025-06"]  # no staging (personal data) or retired folder left


def test_a_file_where_the_periods_folder_belongs_is_replaced_and_leaves_nothing_behind(tmp_path):
    from pipeline.report import outbound

    (tmp_path / "2025-06").write_text("a stray file\n")
    with outbound.staging(tmp_path, "2025-06") as staging:
        (staging / "exceptions.csv").write_text("new\n")
        outbound.publish(staging, tmp_path, "2025-06")
    assert (tmp_path / "2025-06" / "exceptions.csv").read_text() == "new\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["2025-06"]  # the file was kept, hidden, before


@pytest.mark.parametrize("make", ["file", "unwritable"])
def test_an_outbound_folder_that_cannot_be_written_is_named_with_the_reason(tmp_path, monkeypatch, make):
    from pipeline.report import outbound

    target = tmp_path / "outbound"
    if make == "file":
        target.write_text("not a folder")
        expected = f"outbound folder '{target}' is a file, not a folder"
    else:  # as a read-only share refuses (a chmod would not stop root, who runs CI)
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(outbound.os, "open", refuse)
        expected = f"outbound folder '{target}' cannot be used: Permission denied"
    with pytest.raises(outbound.OutboundUnusable) as raised, outbound.PeriodLock(target, "2025-06"):
        pass
    assert str(raised.value) == expected


def test_an_inbound_folder_that_is_wrong_is_not_retried():
    from prefect.states import Failed

    from flows.reconciliation import _may_pass
    from pipeline.ingest.inbound import InboundUnusable

    assert _may_pass(None, None, Failed(data=InboundUnusable("inbound folder 'x' does not exist or is not a folder"))) is False
    assert _may_pass(None, None, Failed(data=OSError(5, "Input/output error"))) is True


def test_a_lock_that_cannot_be_removed_does_not_hide_the_runs_own_error(tmp_path, monkeypatch):
    """The outbound folder turned read-only mid-run: the run's error is what its user sees."""
    from pipeline.report import outbound

    with pytest.raises(RuntimeError, match="^the run's own error$"):
        with outbound.PeriodLock(tmp_path, "2025-06") as lock:
            monkeypatch.setattr(type(lock.path), "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(PermissionError(13, "denied")))
            raise RuntimeError("the run's own error")


def test_recover_puts_the_previous_outputs_back(tmp_path):
    from pipeline.report.outbound import recover
    (tmp_path / ".2025-06.previous-4242").mkdir()
    (tmp_path / ".2025-06.previous-4242" / "exceptions.csv").write_text("old")
    recover(tmp_path, "2025-06")
    assert (tmp_path / "2025-06" / "exceptions.csv").read_text() == "old"


# A lock file naming this very process (a reused PID after a restart, or a lock a failed run of
# this process could not remove) is stale, not "another run"
def test_a_lock_holding_this_processs_own_pid_is_taken_over(tmp_path):
    from pipeline.report.outbound import PeriodLock
    (tmp_path / ".2025-06.lock").write_text(str(os.getpid()))
    with PeriodLock(tmp_path, "2025-06") as lock:
        assert lock.path.read_text() == str(os.getpid())

"""Publishing a period's outputs: all at once, one run at a time.

Outputs are written into a hidden staging folder beside the period folder and
swapped in with renames when every file is complete, so a run that dies
leaves the previous outputs intact, never half-written files. A lock file
held for the whole run refuses a second run on the same period; a lock left
by a process that no longer exists is taken over.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PeriodLocked(RuntimeError):
    """Another run is writing this period."""


class OutboundUnusable(RuntimeError):
    """The outbound folder cannot be written; the message says why, naming the folder."""


class PublishFailed(RuntimeError):
    """The run's outputs could not be swapped in at its end; the previous outputs are in place."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def require_apart(inbound: Path, outbound: Path) -> None:
    """An outbound folder inside the inbound one would have each run read the last run's outputs as inputs."""
    inside = outbound.resolve()
    if inside == inbound.resolve() or inbound.resolve() in inside.parents:
        raise OutboundUnusable(f"outbound folder '{outbound}' is inside the inbound folder '{inbound}': "
                               "the next run would read these outputs as inputs; choose a folder outside it")


class PeriodLock:
    def __init__(self, outbound: Path, period: str):
        self.path = outbound / f".{period}.lock"

    def __enter__(self) -> "PeriodLock":
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise OutboundUnusable(f"outbound folder '{folder}' is a file, not a folder")
        try:
            return self._take()
        except OSError as exc:
            raise OutboundUnusable(f"outbound folder '{folder}' cannot be used: {exc.strerror or exc}") from None

    def _take(self) -> "PeriodLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = int(self.path.read_text().strip() or "0")
                except (OSError, ValueError):
                    holder = 0
                if holder and _alive(holder) and holder != os.getpid():
                    raise PeriodLocked(
                        f"another dpmon run (process {holder}) is writing {self.path.parent / self.path.name[1:-5]}; "
                        f"wait for it to finish (or delete {self.path} if that process is gone)"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(handle, "w") as out:
                out.write(str(os.getpid()))
            return self
        raise PeriodLocked(f"could not take the lock {self.path}")

    def __exit__(self, *exc) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # the folder became unwritable during the run: the next run takes the lock over as stale,
            pass  # and the run's own error (not this one) is what its user needs to see


def recover(outbound: Path, period: str) -> None:
    """Put back the previous outputs if a run died between the two renames of ``publish``."""
    final = outbound / period
    if not final.exists():
        previous = sorted(outbound.glob(f".{period}.previous-*"))
        if previous:
            os.replace(previous[-1], final)


@contextmanager
def staging(outbound: Path, period: str) -> Iterator[Path]:
    """A fresh hidden folder for the run's outputs, removed if the run fails before ``publish`` swaps it
    in: it holds personal data, and nobody looks for it. (A run killed outright leaves its folder to the
    next run's ``publish``.)"""
    folder = outbound / f".{period}.staging-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(staging: Path, outbound: Path, period: str) -> Path:
    """Swap the finished staging folder in as ``outbound/<period>``; if it cannot be, the previous outputs
    are put back and the run fails saying so."""
    final = outbound / period
    retired = outbound / f".{period}.previous-{os.getpid()}"
    for path in staging.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    try:
        if final.exists():
            os.replace(final, retired)
        os.replace(staging, final)
    except OSError as exc:
        if retired.exists() and not final.exists():
            os.replace(retired, final)
        raise PublishFailed(f"could not replace '{final}' with this run's outputs ({exc.strerror or exc}); "
                            "the previous outputs are left as they were") from None
    if retired.is_dir() and not retired.is_symlink():
        shutil.rmtree(retired, ignore_errors=True)
    elif retired.exists() or retired.is_symlink():
        retired.unlink()  # a file where the period's folder belongs
    for leftover in outbound.glob(f".{period}.staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from runs that died
    return final


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

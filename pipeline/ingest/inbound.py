"""Find every file in the inbound folder (contract section 2), and refuse what must not be read.

Nothing under inbound/ is passed over without a trace: a file dpmon reads is
listed; anything else (an unknown file, a folder whose name is not a valid
recipient id, a link pointing outside inbound/, a nested folder) becomes a
rejection with a reason. Hidden files (".DS_Store", "._x"), system files
("desktop.ini", "Thumbs.db") and Office's lock files ("~$x.xlsx", ".~lock.x#")
are the exceptions: programs write them, nobody sends them.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

RECIPIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TABLES = ("agreements", "provision", "la_payments", "employees")
REQUIRED_TABLES = ("agreements", "provision", "la_payments")
FOLDERS = {"statements": "statement", "receipts": "receipts", "payroll": "payroll"}
TABLE_SUFFIXES = (".csv", ".xlsx")


class InboundUnusable(ValueError):
    """The inbound folder as a whole cannot be used (exit 2)."""


@dataclass(frozen=True)
class InputFile:
    path: str  # as the file system gives it: a Path for each of tens of thousands of files cost a parse each
    source_file: str  # posix path relative to inbound/
    kind: str  # a table name, "statement", "receipts" or "payroll"
    recipient_id: str | None = None


FILES_SCHEMA = {"path": pl.String, "source_file": pl.String, "kind": pl.String, "recipient_id": pl.String}


def files_frame(files: list[InputFile]) -> pl.DataFrame:
    """Files as one frame, for handing a shard's thousands of files to a worker.

    As a list of InputFile, Prefect walked every file of a task's parameters
    (looking for futures).
    """
    return pl.DataFrame(
        {"path": [item.path for item in files], "source_file": [item.source_file for item in files],
         "kind": [item.kind for item in files], "recipient_id": [item.recipient_id for item in files]},
        schema=FILES_SCHEMA,
    )


def frame_files(frame: pl.DataFrame) -> list[InputFile]:
    """``files_frame`` undone."""
    return [InputFile(path, source_file, kind, recipient_id) for path, source_file, kind, recipient_id in frame.iter_rows()]


@dataclass(frozen=True)
class Refused:
    source_file: str
    reason: str
    recipient_id: str | None = None


@dataclass(frozen=True)
class Discovery:
    files: list[InputFile]
    refused: list[Refused]
    policy: Path | None
    folders: list[tuple[str, str]] = field(default_factory=list)  # (path, recipient id) of each recipient folder read, empty or not


def _link_problem(path: Path, root: Path) -> str | None:
    """Why a symbolic link is not followed, or None for one that stays inside inbound/."""
    try:
        path.resolve(strict=True).relative_to(root)
        return None
    except RuntimeError:  # Python 3.11 reports a loop so; later versions as OSError(ELOOP)
        return "link that leads back to itself (a loop): not followed"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link that leads back to itself (a loop): not followed"
        return "link to nothing (its target does not exist): not followed"
    except ValueError:
        return "link pointing outside inbound/: not followed"


def _unnameable(name: str) -> str | None:
    """A name that is not UTF-8 as the reports can show it (each bad byte as \\xNN), else None."""
    try:
        name.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


NOT_UTF8 = "name is not UTF-8 text (shown here with each bad byte as \\xNN): rename it to be read"
NOT_REGULAR = "not a regular file (a pipe, socket or device): not read"


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# what operating systems and office programs leave beside people's files: not inputs
SYSTEM_FILES = {"desktop.ini", "thumbs.db", "ehthumbs.db"}


def _hidden(name: str) -> bool:
    """Hidden names (".DS_Store", "._receipts.csv"), office lock files ("~$receipts.xlsx", ".~lock.x#") and
    the operating system's own files."""
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_FILES


def discover(inbound: Path) -> Discovery:
    """Every file to read under ``inbound``, and every refusal."""
    return _discover(inbound, into_folders=True)


def survey(inbound: Path) -> Discovery:
    """The top level only: the council's tables, the policy and the refusals there.

    Raises InboundUnusable as ``discover`` does, without listing thousands of
    recipients' files (the CLI's check before a run starts).
    """
    return _discover(inbound, into_folders=False)


def _discover(inbound: Path, into_folders: bool) -> Discovery:
    if not inbound.is_dir():
        raise InboundUnusable(f"inbound folder '{inbound}' does not exist or is not a folder")
    root = inbound.resolve()
    files: list[InputFile] = []
    refused: list[Refused] = []
    folders: list[tuple[str, str]] = []
    policy: Path | None = None
    seen_tables: dict[str, str] = {}
    try:
        listing = sorted(inbound.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InboundUnusable(f"inbound folder '{inbound}' cannot be read: {exc.strerror or exc}") from None
    for entry in listing:
        rel = _rel(entry, inbound)
        if _hidden(entry.name):
            continue
        shown = _unnameable(rel)
        if shown is not None:
            refused.append(Refused(shown, NOT_UTF8))
            continue
        problem = _link_problem(entry, root) if entry.is_symlink() else None
        if problem:
            refused.append(Refused(rel, problem))
            continue
        stem, suffix = entry.stem.lower(), entry.suffix.lower()
        if entry.is_file() and entry.name.lower() == "policy.toml":
            policy = entry
        elif entry.is_file() and stem in TABLES and suffix in TABLE_SUFFIXES:
            if stem in seen_tables:
                refused.append(Refused(rel, f"{seen_tables[stem]} is already read for '{stem}': keep one of the two files"))
            else:
                seen_tables[stem] = rel
                files.append(InputFile(str(entry), rel, stem))
        elif entry.is_dir() and entry.name.lower() in FOLDERS:
            if into_folders:
                _recipient_folders(entry, inbound, root, FOLDERS[entry.name.lower()], files, refused, folders)
        else:
            refused.append(Refused(rel, "not an inbound file dpmon reads (expected agreements, provision, "
                                        "la_payments, employees as .csv/.xlsx, policy.toml, statements/, receipts/, payroll/)"))
    if "agreements" not in seen_tables:
        raise InboundUnusable(f"inbound folder '{inbound}' has no agreements.csv or agreements.xlsx")
    for table in REQUIRED_TABLES:
        if table not in seen_tables:
            refused.append(Refused(f"{table}.csv", f"required file {table}.csv (or .xlsx) is missing: nothing of it could be checked"))
    return Discovery(files, refused, policy, folders)


def recipient_folders(inbound: Path) -> int:
    """How many folders the fullest of statements/, receipts/ and payroll/ holds: a run's size at a glance,
    before anything is read (each is one recipient's, or refused when its files are listed)."""
    counts = [0]
    try:
        with os.scandir(inbound) as top:
            kinds = [entry.path for entry in top if entry.name.lower() in FOLDERS and entry.is_dir()]
    except OSError:  # listing the inbound folder will say what is wrong with it
        return 0
    for path in kinds:
        try:
            with os.scandir(path) as folder:
                counts.append(sum(1 for item in folder if item.is_dir() and not _hidden(item.name)))
        except OSError:  # refused when the files are listed
            pass
    return max(counts)


def _entries(folder: str | Path) -> list[os.DirEntry]:
    """A folder's entries by name; os.scandir's entries know their type without a stat per file."""
    with os.scandir(folder) as listing:
        return sorted(listing, key=lambda entry: entry.name)


def _listing(folder: str | Path) -> list[os.DirEntry] | str:
    """A folder's entries by name, or why it cannot be listed (its permissions, a share gone away)."""
    try:
        return _entries(folder)
    except OSError as exc:
        return f"folder cannot be read ({exc.strerror or exc}): nothing in it was read"


def _recipient_folders(folder: Path, inbound: Path, root: Path, kind: str, files: list[InputFile], refused: list[Refused],
                       folders: list[tuple[str, str]]) -> None:
    prefix = _rel(folder, inbound)
    listing = _listing(folder)
    if isinstance(listing, str):
        refused.append(Refused(prefix, listing))
        return
    for entry in listing:
        rel = f"{prefix}/{entry.name}"
        if _hidden(entry.name):
            continue
        shown = _unnameable(rel)
        problem = _link_problem(Path(entry.path), root) if shown is None and entry.is_symlink() else None
        if shown is not None:
            refused.append(Refused(shown, NOT_UTF8))
        elif problem:
            refused.append(Refused(rel, problem))
        elif not entry.is_dir():
            refused.append(Refused(rel, f"file directly in {folder.name}/: put it in {folder.name}/<recipient_id>/"))
        elif not RECIPIENT_ID.match(entry.name):
            refused.append(Refused(rel, "folder name is not a valid recipient id (1-64 letters, digits, '_' or '-'): not read"))
        elif isinstance(items := _listing(entry.path), str):
            refused.append(Refused(rel, items, entry.name))
        else:
            folders.append((rel, entry.name))
            for item in items:
                item_rel = f"{rel}/{item.name}"
                if _hidden(item.name):
                    continue
                shown = _unnameable(item_rel)
                problem = _link_problem(Path(item.path), root) if shown is None and item.is_symlink() else None
                if shown is not None:
                    refused.append(Refused(shown, NOT_UTF8, entry.name))
                elif problem:
                    refused.append(Refused(item_rel, problem, entry.name))
                elif item.is_dir():
                    refused.append(Refused(item_rel, "nested folder: only files directly in the recipient's folder are read", entry.name))
                elif not item.is_file():
                    refused.append(Refused(item_rel, NOT_REGULAR, entry.name))
                else:
                    files.append(InputFile(item.path, item_rel, kind, entry.name))

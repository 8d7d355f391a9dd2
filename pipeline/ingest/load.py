"""Read discovered inbound files into canonical frames, one batch of files at a time.

``read_files`` is what a flow task runs over a whole batch (or a shard of
recipients); batches combine with ``combine``. A file that cannot be used,
for whatever reason, becomes a rejection naming it; no exception from one
file stops the others.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl

from pipeline import schemas
from pipeline.accounts import mask_rejections
from pipeline.ingest import records
from pipeline.ingest.inbound import NOT_REGULAR, InboundUnusable, InputFile, Refused
from pipeline.ingest.statements import StatementBatch, assemble
from pipeline.ingest.statements import read_raw as read_raw_statement
from pipeline.ingest.tabular import XLSX_SUFFIXES
from pipeline.ingest.text import UnreadableFile

TABLE_KINDS = {kind.name: kind for kind in (*records.COUNCIL_TABLES, records.RECEIPTS, records.PAYSLIPS)}
FRAME_OF_KIND = {
    "agreements": ("agreements", schemas.AGREEMENTS),
    "provision": ("provision", schemas.PROVISION),
    "la_payments": ("la_payments", schemas.LA_PAYMENTS),
    "employees": ("employees", schemas.EMPLOYEES),
    "receipts": ("receipts", schemas.RECEIPTS),
    "payroll": ("payslips", schemas.PAYSLIPS),
}
FRAMES = {
    "agreements": schemas.AGREEMENTS,
    "provision": schemas.PROVISION,
    "la_payments": schemas.LA_PAYMENTS,
    "employees": schemas.EMPLOYEES,
    "receipts": schemas.RECEIPTS,
    "payslips": schemas.PAYSLIPS,
    "transactions": schemas.TRANSACTIONS,
    "statements": schemas.STATEMENTS,
}
MAX_FILE_BYTES = 200 * 1024 * 1024  # the policy's default (inbound.max_file_mb)


@dataclass(frozen=True)
class FileRecord:
    """One input file as the manifest lists it."""

    source_file: str
    kind: str
    recipient_id: str | None
    sha256: str | None
    bytes: int | None
    layout: str | None
    rows_read: int
    rejected_reason: str | None = None


@dataclass
class Batch:
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    rejections: list[pl.DataFrame] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)

    def frame(self, name: str) -> pl.DataFrame:
        return self.frames.get(name, schemas.empty(FRAMES[name]))


def file_rejection(source_file: str, reason: str, recipient_id: str | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {"recipient_id": [recipient_id], "source_file": [source_file], "source_line": [0], "column": [""],
         "value": [""], "reason": [reason]},
        schema=schemas.REJECTIONS,
    )


def refused_batch(refused: list[Refused]) -> Batch:
    batch = Batch()
    for item in refused:
        batch.rejections.append(file_rejection(item.source_file, item.reason, item.recipient_id))
        batch.files.append(FileRecord(item.source_file, "refused", item.recipient_id, None, None, None, 0, item.reason))
    return batch


@contextmanager
def _no_cyclic_gc():
    """Parsing makes millions of small acyclic lists and strings; Python's cyclic collector would
    rescan all of them (and everything else alive) again and again, for nothing. Measured: a
    quarter of the parse time on its own, more inside a flow's larger heap."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_regular_file(path: str, max_bytes: int) -> bytes:
    """The file's bytes; UnreadableFile for one over the limit or one that is not a regular file.

    Opened without blocking and checked before reading: a pipe put in place of a
    file after the folder was listed would otherwise hold the run up for ever.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableFile(NOT_REGULAR)
        data = handle.read() if status.st_size <= max_bytes else b""  # read(n) would first allocate n bytes
        if status.st_size > max_bytes or len(data) > max_bytes:  # or grown since it was listed
            raise UnreadableFile(f"file is {max(status.st_size, len(data)):,} bytes, over the {max_bytes:,}-byte limit: not read")
        return data


def read_files(files: list[InputFile], max_bytes: int = MAX_FILE_BYTES) -> Batch:
    """Read a batch: each file to raw rows (or a rejection), then each kind typed once for all."""
    with _no_cyclic_gc():
        return _read_files(files, max_bytes)


def _read_files(files: list[InputFile], max_bytes: int) -> Batch:
    raw_tables: dict[str, list] = {}
    statement_batch = StatementBatch()
    batch = Batch()
    for item in files:
        data = b""
        layout = None
        rows_read = 0
        try:
            data = _read_regular_file(item.path, max_bytes)
            if item.kind == "statement":
                raw = read_raw_statement(item.path, data, item.source_file, item.recipient_id or "")
                statement_batch.add(raw)
                layout, rows_read = raw.layout, raw.rows_read
            else:
                raw = records.read_raw(TABLE_KINDS[item.kind], item.path, data, item.source_file, item.recipient_id)
                raw_tables.setdefault(item.kind, []).append(raw)
                layout = "xlsx" if os.path.splitext(item.path)[1].lower() in XLSX_SUFFIXES else "csv"
                rows_read = raw.rows_read
            if raw.has_rejections:
                batch.rejections.append(raw.rejections)
            reason = None
        except UnreadableFile as exc:
            reason = str(exc)
        except OSError as exc:
            reason = f"cannot read the file: {exc.strerror or exc}"
        except Exception as exc:  # noqa: BLE001 - one hostile file must not stop the run
            reason = f"could not be read ({type(exc).__name__}: {str(exc)[:160]})"
        if reason is not None:
            batch.rejections.append(file_rejection(item.source_file, reason, item.recipient_id))
        batch.files.append(
            FileRecord(
                item.source_file, item.kind, item.recipient_id,
                hashlib.sha256(data).hexdigest() if data or reason is None else None,
                len(data) if data or reason is None else None,
                layout, rows_read, reason,
            )
        )
    for kind, frames in raw_tables.items():
        typed, bad_cells = records.type_rows(TABLE_KINDS[kind], frames)
        batch.frames[FRAME_OF_KIND[kind][0]] = typed
        batch.rejections.append(bad_cells)
    lines, statements, bad_cells = assemble(statement_batch)
    batch.frames["transactions"], batch.frames["statements"] = lines, statements
    batch.rejections.append(bad_cells)
    return batch


def combine(batches: list[Batch]) -> Batch:
    merged = Batch()
    for name, schema in FRAMES.items():
        frames = [batch.frames[name] for batch in batches if name in batch.frames]
        merged.frames[name] = schemas.conform(pl.concat(frames, how="vertical_relaxed"), schema) if frames else schemas.empty(schema)
    merged.rejections = [schemas.conform(frame, schemas.REJECTIONS) for batch in batches for frame in batch.rejections]
    merged.files = [record for batch in batches for record in batch.files]
    return merged


def rows_used(frames: dict[str, pl.DataFrame], names: tuple[str, ...]) -> dict[str, int]:
    """source_file -> rows of it in the named (validated) frames."""
    counted = [frames[name].select("source_file") for name in names if frames[name].height]
    if not counted:
        return {}
    return dict(pl.concat(counted).group_by("source_file").len().iter_rows())


def rejections_frame(batch: Batch) -> pl.DataFrame:
    frames = [frame for frame in batch.rejections if frame.height]
    return mask_rejections(pl.concat(frames)) if frames else schemas.empty(schemas.REJECTIONS)


def require_agreements(batch: Batch) -> None:
    """InboundUnusable unless the council's tables hold at least one usable agreement.

    With none, nobody can be monitored: every statement, receipt and payslip
    would be refused as "not a recipient", and the period's good outputs would be
    replaced by empty ones. A header that does not match, or a file Excel has
    re-saved unreadably, is a run to stop and say why, not a month to report.
    """
    record = next((item for item in batch.files if item.kind == "agreements"), None)
    if record is None:
        return
    if record.rejected_reason:
        raise InboundUnusable(f"{record.source_file} cannot be used: {record.rejected_reason}")
    if batch.frame("agreements").height:
        return
    rows = [frame.filter(pl.col("source_file") == record.source_file) for frame in batch.rejections]
    first = mask_rejections(pl.concat(rows).sort("source_line").head(1)) if rows else pl.DataFrame()
    why = f": every row was rejected (line {first['source_line'][0]}: {first['reason'][0]})" if first.height else ""
    raise InboundUnusable(f"{record.source_file} holds no usable agreement{why}")


def _spellings(known: set[str]) -> dict[str, str]:
    """An id in lower case -> the agreements' spelling of it."""
    return {rid.lower(): rid for rid in sorted(known, reverse=True)}


def rejected_agreements(batch: Batch) -> dict[str, str]:
    """Recipients named on a rejected agreement row (a repeat aside): id in lower case -> where the first such
    row is ("agreements.csv line 3"). They cannot be monitored this month, and their files say why."""
    record = next((item for item in batch.files if item.kind == "agreements"), None)
    frames = [frame for frame in batch.rejections if frame.height] if record else []
    if not frames:
        return {}
    rows = (pl.concat(frames).filter((pl.col("source_file") == record.source_file) & (pl.col("source_line") > 0)
                                     & ~pl.col("reason").str.starts_with(REPEAT))
            .select(pl.col("recipient_id").str.strip_chars().str.to_lowercase(), "source_file", "source_line")
            .filter(pl.col("recipient_id").is_not_null())
            .group_by("recipient_id").agg(pl.col("source_file").first(), pl.col("source_line").min()))
    return {rid: f"{source} line {line}" for rid, source, line in rows.iter_rows()}


def withdraw_rejected(agreements: pl.DataFrame, rejected: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The agreement rows of recipients with a rejected one (``rejected`` as ``rejected_agreements`` gives),
    taken out and rejected naming that row. The rest of a recipient's agreements are half its terms: the old
    agreement alone would put this month's spending outside it, and one of two side by side halve the
    contingency, so no part of them is judged until the row is mended."""
    lower = pl.col("recipient_id").str.to_lowercase()
    withdrawn = lower.is_in(sorted(rejected))
    bad = agreements.filter(withdrawn).select(
        "recipient_id", "source_file", "source_line", pl.lit("").alias("column"), pl.lit("").alias("value"),
        pl.format("the agreement of '{}' ({}) was rejected, so its other agreement rows are not used until it is mended",
                  pl.col("recipient_id"), lower.replace_strict(rejected, default=None, return_dtype=pl.String)).alias("reason"))
    return agreements.filter(~withdrawn), schemas.conform(bad, schemas.REJECTIONS)


def split_known(files: list[InputFile], known: set[str], rejected: dict[str, str] | None = None,
                folders: list[tuple[str, str]] = ()) -> tuple[list[InputFile], list[Refused]]:
    """Recipient files of known recipients; folders of unknown ones refused once each, never read: every one of
    ``folders`` (path, id) too, an empty one as well, as the contract rejects a folder that is no known recipient's.

    A folder named in another case than the agreement ("dp0012") is that recipient's, and its files carry
    the agreement's spelling of the id. The files of a recipient whose agreement row was rejected
    (``rejected``, as ``rejected_agreements`` gives) are refused one by one, saying so: that recipient is
    in the agreements file, and the person who mends the row needs to know what waits on it.
    """
    spelled = _spellings(known)
    rejected = rejected or {}
    kept: list[InputFile] = []
    refused: dict[str, Refused] = {}
    for item in files:
        if item.recipient_id is None or item.recipient_id in known:
            kept.append(item)
        elif item.recipient_id.lower() in spelled:
            kept.append(dataclasses.replace(item, recipient_id=spelled[item.recipient_id.lower()]))
        elif item.recipient_id.lower() in rejected:
            refused[item.source_file] = Refused(
                item.source_file, f"the agreement of '{item.recipient_id}' ({rejected[item.recipient_id.lower()]}) was rejected, "
                "so this recipient's files are not read until it is mended", item.recipient_id)
        else:
            folder = item.source_file.rsplit("/", 1)[0]
            refused.setdefault(folder, _unknown_folder(folder, item.recipient_id))
    for folder, rid in folders:
        if rid not in known and rid.lower() not in spelled and rid.lower() not in rejected:
            refused.setdefault(folder, _unknown_folder(folder, rid))
    return kept, list(refused.values())


def _unknown_folder(folder: str, recipient_id: str) -> Refused:
    return Refused(folder, f"'{recipient_id}' is not a recipient in agreements: folder not read", recipient_id)


REPEAT = "repeats "  # how the reason for a repeated row begins: nothing of it is lost


def reject_repeated_rows(frame: pl.DataFrame, what: str, across_files: bool = False, any_case: tuple[str, ...] = ()
                         ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows that repeat an earlier row of their file in every column, as a row pasted twice would: the
    first is kept, the repeats rejected. Two identical agreements would each allow a contingency and add
    to the annualised payments; two identical council payments would each wait for a credit.

    ``across_files`` compares a row with the rows of every file (by file name, then line): a payroll
    bureau's year-to-date export beside its monthly file holds each of the month's payslips twice, which
    would double the liabilities committed and wait for a second net pay. Ids in ``any_case`` are compared
    in any case, as the rules compare them (a payslip's "e1" is employee "E1").
    """
    data = [pl.col(name).str.to_lowercase() if name in any_case else pl.col(name)
            for name in frame.columns if name not in ("source_file", "source_line")]
    ordered = frame.with_row_index("__order").sort("source_file", "source_line")
    group = data if across_files else [pl.col("source_file"), *data]
    ordered = ordered.with_columns(
        (~pl.struct(group).is_first_distinct()).alias("__repeat"),
        pl.col("source_file").first().over(group).alias("__first_file"),
        pl.col("source_line").first().over(group).alias("__first_line"),
    )
    first = (pl.when(pl.col("__first_file") == pl.col("source_file")).then(pl.format("line {}", pl.col("__first_line")))
             .otherwise(pl.format("{} line {}", pl.col("__first_file"), pl.col("__first_line"))))
    bad = ordered.filter(pl.col("__repeat")).select(
        "recipient_id", "source_file", "source_line", pl.lit("").alias("column"), pl.lit("").alias("value"),
        pl.format(REPEAT + "{} in every column: the same {} twice is counted once", first, pl.lit(what)).alias("reason"),
    )
    kept = ordered.filter(~pl.col("__repeat")).sort("__order").drop("__order", "__repeat", "__first_file", "__first_line")
    return kept, schemas.conform(bad, schemas.REJECTIONS)


def one_spelling(agreements: pl.DataFrame) -> pl.DataFrame:
    """Agreement rows whose ids differ only in case (DP0012 renewed as dp0012) are one recipient's, under the
    spelling of the first of them: a folder, a notice or a share that ignores case could not hold two."""
    return agreements.with_columns(
        pl.col("recipient_id").sort_by("source_line").first().over(pl.col("recipient_id").str.to_lowercase()))


def spelled_as_agreed(frame: pl.DataFrame, agreed: set[str]) -> pl.DataFrame:
    """A council table with each recipient_id written in another case than the agreements' ("dp0005") taken
    as the agreements write it: before validation, so that "dp0004,L6" and "DP0004,L6" are one line twice."""
    spelled = _spellings(agreed)
    other_case = ~pl.col("recipient_id").is_in(sorted(agreed))
    return frame.with_columns(
        pl.when(other_case).then(pl.col("recipient_id").str.to_lowercase().replace_strict(spelled, default=pl.col("recipient_id"), return_dtype=pl.String)).otherwise(pl.col("recipient_id"))
        .alias("recipient_id"))


def reject_unknown_recipients(frame: pl.DataFrame, known: set[str], what: str, unmonitored: dict[str, str] | None = None
                              ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Council rows (provision, payments, employees) for a recipient with no usable agreement (ids spelled
    as ``spelled_as_agreed`` leaves them). ``unmonitored`` (as ``rejected_agreements`` gives) says where a
    recipient's rejected agreement is."""
    unknown = ~pl.col("recipient_id").is_in(sorted(known))
    where = pl.col("recipient_id").str.to_lowercase().replace_strict(unmonitored or {}, default=None, return_dtype=pl.String)
    bad = frame.filter(unknown).select(
        "recipient_id", "source_file", "source_line", pl.lit("recipient_id").alias("column"), pl.col("recipient_id").alias("value"),
        pl.when(where.is_null())
        .then(pl.format("column 'recipient_id': '{}' has no agreement, so this {} row cannot be checked", pl.col("recipient_id"), pl.lit(what)))
        .otherwise(pl.format("column 'recipient_id': the agreement of '{}' ({}) was rejected, so this {} row cannot be checked",
                             pl.col("recipient_id"), where, pl.lit(what)))
        .alias("reason"),
    )
    return frame.filter(~unknown), schemas.conform(bad, schemas.REJECTIONS)

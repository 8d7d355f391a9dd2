"""One bank statement file (OFX/QFX or a bank CSV export) to canonical lines.

Whatever the format, the result is a set of statements (one per account in
the file) and their lines in chronological order (``seq``), each with a
``txn_key`` that is the same for the same transaction in two overlapping
statements: the bank's own id where it gives one (OFX FITID, Monzo and
prepaid-card transaction ids); otherwise a fingerprint of account, date,
amount and description plus the occurrence of that fingerprint within the
statement, so two genuine identical payments on one day stay two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import schemas
from pipeline.ingest import bank_csv
from pipeline.ingest.ofx import looks_like_ofx, parse_ofx
from pipeline.ingest.text import UnreadableFile, decode, read_records

STATEMENT_SUFFIXES = {".ofx", ".qfx", ".csv"}
GBP = frozenset({"", "GBP"})


@dataclass(frozen=True)
class StatementRead:
    lines: pl.DataFrame  # schemas.TRANSACTIONS
    statements: pl.DataFrame  # schemas.STATEMENTS
    rejections: pl.DataFrame
    rows_read: int
    layout: str


def read_statement(
    path: Path, data: bytes, source_file: str, recipient_id: str, currencies: frozenset[str] | None = GBP
) -> StatementRead:
    """Canonical lines of one statement file; ``currencies=None`` accepts any (for reading foreign test files)."""
    suffix = path.suffix.lower()
    if suffix not in STATEMENT_SUFFIXES:
        raise UnreadableFile(f"'{suffix or path.name}' is not a statement format: use .ofx, .qfx or .csv")
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if suffix in (".ofx", ".qfx") or looks_like_ofx(data):
        read = parse_ofx(data, source_file, recipient_id)
        foreign = read.statements.filter(~pl.col("currency").is_in(list(currencies or [])))
        if currencies is not None and foreign.height:
            raise UnreadableFile(
                f"statement currency is {foreign['currency'][0]}: direct-payment accounts are in GBP"
            )
        lines = _with_keys(_chronological(read.lines))
        return StatementRead(lines, read.statements.drop("currency"), read.rejections, read.rows_read, "ofx")
    records = read_records(decode(data))
    layout, header_index = bank_csv.identify(records)
    raw = bank_csv.raw_table(records, layout, header_index, source_file, recipient_id)
    typed, bad_cells = bank_csv.parse_rows(raw.frame, layout, source_file, recipient_id)
    typed = typed.with_columns(
        pl.concat_str(pl.lit(source_file), pl.lit("#"), pl.col("account_id")).alias("statement_id"),
    )
    lines = _with_keys(_chronological(typed))
    statements = lines.group_by("statement_id", maintain_order=True).agg(
        pl.col("recipient_id").first(),
        pl.col("account_id").first(),
        pl.col("layout").first(),
        pl.col("date").min().alias("start_date"),
        pl.col("date").max().alias("end_date"),
        pl.lit(None, pl.Int64).alias("ledger_balance_pence"),
        pl.lit(None, pl.Date).alias("ledger_balance_date"),
        pl.col("source_file").first(),
    )
    return StatementRead(
        lines,
        schemas.conform(statements, schemas.STATEMENTS),
        pl.concat([raw.rejections, bad_cells]).sort("source_line", "column"),
        raw.rows_read,
        layout.name,
    )


def _chronological(lines: pl.DataFrame) -> pl.DataFrame:
    """Number each statement's lines oldest first; many UK exports list newest first."""
    lines = lines.with_row_index("__file_order")
    newest_first = (
        lines.group_by("statement_id")
        .agg((pl.col("date").first() > pl.col("date").last()).alias("__newest_first"))
    )
    return (
        lines.join(newest_first, on="statement_id", how="left")
        .with_columns(
            pl.when(pl.col("__newest_first"))
            .then(-pl.col("__file_order").cast(pl.Int64))
            .otherwise(pl.col("__file_order").cast(pl.Int64))
            .alias("__order")
        )
        .sort("statement_id", "__order")
        .with_columns(pl.int_range(pl.len()).over("statement_id").cast(pl.Int64).alias("seq"))
        .drop("__file_order", "__newest_first", "__order")
    )


def _with_keys(lines: pl.DataFrame) -> pl.DataFrame:
    fingerprint = pl.concat_str(
        pl.col("recipient_id"), pl.col("account_id"), pl.col("date").cast(pl.String),
        pl.col("amount_pence").cast(pl.String),
        pl.col("description").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", ""),
        separator="|",
    )
    occurrence = pl.int_range(pl.len()).over("statement_id", fingerprint.alias("__fp"), order_by="seq").cast(pl.String)
    by_fingerprint = pl.concat_str(pl.lit("fp"), fingerprint, occurrence, separator="|")
    by_bank_id = pl.concat_str(pl.lit("id"), pl.col("recipient_id"), pl.col("account_id"), pl.col("fitid"), separator="|")
    key = pl.when(pl.col("fitid").is_not_null()).then(by_bank_id).otherwise(by_fingerprint)
    return schemas.conform(lines.with_columns(key.alias("txn_key")), schemas.TRANSACTIONS)

"""Bank statement files (OFX/QFX or bank CSV exports) to canonical lines.

Whatever the format, the result is a set of statements (one per account in
a file) and their lines in chronological order (``seq``), each with a
``txn_key`` that is the same for the same transaction in two overlapping
statements: the bank's own id where it gives one (OFX FITID, Monzo and
prepaid-card transaction ids), with the line's date and amount; otherwise a fingerprint of account, date,
amount and description plus the occurrence of that fingerprint within the
statement, so two genuine identical payments on one day stay two.

Reading is in two steps so that a run pays polars' per-query cost once per
batch, not once per file: ``read_raw`` looks at one file (OFX is parsed
there; a CSV is only identified and split into text rows), ``assemble``
types every CSV layout and keys every line of a whole batch at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial

import polars as pl

from pipeline import schemas
from pipeline.accounts import card_account, mask_account_numbers, statement_account
from pipeline.ingest import bank_csv
from pipeline.ingest.ofx import OfxRead, lines_frame, looks_like_ofx, parse_ofx, rejections_frame, statements_frame
from pipeline.ingest.tabular import RawTable, frame_of
from pipeline.ingest.text import UnreadableFile, decode, read_records

STATEMENT_SUFFIXES = {".ofx", ".qfx", ".csv"}
GBP = frozenset({"", "GBP"})


@dataclass(frozen=True)
class RawStatement:
    """One file, read: OFX parsed to rows; CSV as text rows of a known layout."""

    layout: str
    ofx: OfxRead | None = None
    csv: RawTable | None = None

    @property
    def rows_read(self) -> int:
        return self.ofx.rows_read if self.ofx else self.csv.rows_read

    @property
    def has_rejections(self) -> bool:
        return bool(self.ofx.rejections) if self.ofx else self.csv.has_rejections

    @property
    def rejections(self) -> pl.DataFrame:
        return rejections_frame(self.ofx.rejections) if self.ofx else self.csv.rejections


@dataclass
class StatementBatch:
    """Raw statements gathered file by file, assembled once."""

    ofx_lines: list[dict] = field(default_factory=list)
    ofx_statements: list[dict] = field(default_factory=list)
    csv_tables: dict[str, list[RawTable]] = field(default_factory=dict)

    def add(self, raw: RawStatement) -> None:
        if raw.ofx is not None:
            self.ofx_lines.extend(raw.ofx.lines)
            self.ofx_statements.extend(raw.ofx.statements)
        else:
            self.csv_tables.setdefault(raw.layout, []).append(raw.csv)


@dataclass(frozen=True)
class StatementRead:
    lines: pl.DataFrame  # schemas.TRANSACTIONS
    statements: pl.DataFrame  # schemas.STATEMENTS
    rejections: pl.DataFrame
    rows_read: int
    layout: str


def read_raw(path: str | os.PathLike[str], data: bytes, source_file: str, recipient_id: str, currencies: frozenset[str] | None = GBP) -> RawStatement:
    """One statement file; raises UnreadableFile when it cannot be used at all.

    ``currencies=None`` accepts any currency (for reading foreign test files).
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in STATEMENT_SUFFIXES:
        raise UnreadableFile(f"'{suffix or os.path.basename(path)}' is not a statement format: use .ofx, .qfx or .csv")
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if suffix in (".ofx", ".qfx") or looks_like_ofx(data):
        read = parse_ofx(data, source_file, recipient_id)
        foreign = [statement["currency"] for statement in read.statements if statement["currency"] not in (currencies or ())]
        if currencies is not None and foreign:
            raise UnreadableFile(f"statement currency is {foreign[0]}: direct-payment accounts are in GBP")
        return RawStatement("ofx", ofx=read)
    records = read_records(decode(data))
    layout, header_index = bank_csv.identify(records)
    raw = bank_csv.raw_table(records, layout, header_index, source_file, recipient_id)
    return RawStatement(layout.name, csv=raw)


def assemble(batch: StatementBatch) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(lines, statements, cell rejections) of every statement in the batch."""
    layouts = {layout.name: layout for layout in (*bank_csv.LAYOUTS, bank_csv.HSBC)}
    csv_lines, rejections = [], []
    for name, tables in sorted(batch.csv_tables.items()):
        typed, bad = bank_csv.parse_rows(frame_of(tables), layouts[name])
        # a card is an account of its own; elsewhere a short number is part of a masked account's, not one to compare
        account = card_account if name == "prepaid_card" else partial(statement_account, short_is_unknown=True)
        typed = typed.with_columns(account(pl.col("account_id")).alias("account_id"))
        csv_lines.append(typed.with_columns(
            pl.concat_str(pl.col("source_file"), pl.lit("#"), pl.col("account_id")).alias("statement_id")
        ))
        rejections.append(bad)
    ofx_account = statement_account(pl.col("account_id"), short_is_unknown=False).alias("account_id")  # an ACCTID is the account's
    ofx_lines = lines_frame(batch.ofx_lines).with_columns(ofx_account)
    typed_lines = [schemas.conform(frame, schemas.TRANSACTIONS) for frame in (ofx_lines, *csv_lines)]
    lines = pl.concat(typed_lines) if typed_lines else schemas.empty(schemas.TRANSACTIONS)
    # keyed before masking: two payments told apart by an account number in their text stay two
    lines = _with_keys(_chronological(lines)).with_columns(mask_account_numbers(pl.col("description", "counterparty")))
    csv_statements = lines.filter(pl.col("layout") != "ofx").group_by("statement_id", maintain_order=True).agg(
        pl.col("recipient_id").first(),
        pl.col("account_id").first(),
        pl.col("layout").first(),
        pl.col("date").min().alias("start_date"),
        pl.col("date").max().alias("end_date"),
        pl.lit(None, pl.Int64).alias("ledger_balance_pence"),
        pl.lit(None, pl.Date).alias("ledger_balance_date"),
        pl.col("source_file").first(),
    )
    ofx_statements = statements_frame(batch.ofx_statements).with_columns(ofx_account)
    statements = pl.concat([schemas.conform(frame, schemas.STATEMENTS) for frame in (ofx_statements, csv_statements)])
    bad_cells = pl.concat(rejections) if rejections else schemas.empty(schemas.REJECTIONS)
    return lines, statements, bad_cells


def read_statement(path: str | os.PathLike[str], data: bytes, source_file: str, recipient_id: str, currencies: frozenset[str] | None = GBP) -> StatementRead:
    """One file, read and assembled on its own (for tests and tools; runs batch many files)."""
    raw = read_raw(path, data, source_file, recipient_id, currencies)
    batch = StatementBatch()
    batch.add(raw)
    lines, statements, bad_cells = assemble(batch)
    return StatementRead(lines, statements, pl.concat([raw.rejections, bad_cells]).sort("source_line", "column"), raw.rows_read, raw.layout)


def _chronological(lines: pl.DataFrame) -> pl.DataFrame:
    """Number each statement's lines oldest first; many UK exports list newest first."""
    lines = lines.drop("seq").with_row_index("__file_order")
    # in file order: does each balance follow from the line above (oldest first) or the line below (newest first)?
    forward = pl.col("balance_pence") == pl.col("balance_pence").shift(1) + pl.col("amount_pence")
    backward = pl.col("balance_pence").shift(1) == pl.col("balance_pence") + pl.col("amount_pence").shift(1)
    newest_first = lines.group_by("statement_id").agg(
        pl.when(pl.col("date").first() != pl.col("date").last())
        .then(pl.col("date").first() > pl.col("date").last())
        .otherwise(backward.fill_null(False).sum() > forward.fill_null(False).sum())
        .alias("__newest_first")
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
    lines = lines.with_row_index("__row").with_columns(fingerprint.alias("__fp"))
    by_fingerprint = pl.concat_str(pl.lit("fp"), pl.col("__fp"), _occurrence(lines, "statement_id", "__fp"), separator="|")
    # Some banks reuse ids: numbered from 1 in each statement, or "0" throughout. So an id names one
    # transaction only with its date and amount, and its occurrence among lines of the statement that
    # share all three keeps two identical payments apart.
    same_id = ("fitid", "date", "amount_pence")
    by_bank_id = pl.concat_str(pl.lit("id"), pl.col("recipient_id"), pl.col("account_id"), *(pl.col(c).cast(pl.String) for c in same_id),
                               _occurrence(lines, "statement_id", *same_id), separator="|")
    key = pl.when(pl.col("fitid").is_not_null()).then(by_bank_id).otherwise(by_fingerprint)
    return schemas.conform(lines.with_columns(key.alias("txn_key")).drop("__row", "__fp"), schemas.TRANSACTIONS)


def _occurrence(lines: pl.DataFrame, *key: str) -> pl.Series:
    """How many earlier lines (by ``seq``) share the line's key, as text.

    Counted only among lines whose key repeats, which are few: a window over
    every line's key cost twice the whole of ``_with_keys`` now.
    """
    repeats = lines.filter(pl.struct(*key).is_duplicated()).select(
        "__row", pl.int_range(pl.len()).over(*key, order_by="seq").alias("__occurrence")
    )
    counted = lines.select("__row").join(repeats, on="__row", how="left", maintain_order="left")
    return counted["__occurrence"].fill_null(0).cast(pl.String)

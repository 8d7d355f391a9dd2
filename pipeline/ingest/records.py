"""The council's own tables and the recipients' receipts and payslips (contract section 2).

Each kind is declared once, as the columns the contract names and how to
type them. A run reads each file with ``read_raw`` and types a whole batch of
them at once with ``type_rows``; ``read_table`` does both for one file (tests and tools).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.ingest.columns import FOLDER_RECIPIENT, Column, choice_key, convert
from pipeline.ingest.tabular import (
    RawTable,
    first_header_index,
    frame_of,
    missing_columns,
    read_records_file,
    repeated_columns,
    table_from_records,
)
from pipeline.ingest.text import UnreadableFile, is_blank, normalise_header

CATEGORIES = (
    "personal_assistant", "agency_care", "short_breaks", "respite", "equipment", "transport", "therapy",
    "activities", "education_support", "work_experience", "technology", "training", "payroll_services",
    "insurance", "other",
)


@dataclass(frozen=True)
class TableKind:
    name: str
    columns: tuple[Column, ...]
    schema: pl.Schema
    per_recipient: bool  # True: one folder per recipient; recipient_id comes from the folder


AGREEMENTS = TableKind(
    "agreements",
    (
        Column("recipient_id", "id"),
        Column("recipient_name", "text"),
        Column("plan_ref", "text", required=False),
        Column("mechanism", "choice", choices=("direct", "third_party", "combined", "notional")),
        Column("start_date", "date"),
        Column("end_date", "date", required=False),
        Column("payment_amount", "money"),
        Column("payment_frequency", "choice", choices=("weekly", "fortnightly", "four_weekly", "monthly")),
        Column("contingency_weeks", "weeks", required=False, out="contingency_weeks_x100"),
        Column("account_number", "account", required=False),
        Column("first_payment_date", "date"),
        Column("last_review_date", "date", required=False),
    ),
    schemas.AGREEMENTS,
    per_recipient=False,
)

PROVISION = TableKind(
    "provision",
    (
        Column("recipient_id", "id"),
        Column("line_id", "text"),
        Column("category", "choice", choices=CATEGORIES),
        Column("description", "text", required=False),
        Column("amount", "money"),
        Column("per", "choice", choices=("week", "month", "year", "one_off")),
        Column("funding_stream", "choice", required=False, choices=("education", "social_care", "health")),
        Column("costed_vat", "choice", required=False, choices=("inclusive", "exclusive")),
    ),
    schemas.PROVISION,
    per_recipient=False,
)

LA_PAYMENTS = TableKind(
    "la_payments",
    (
        Column("recipient_id", "id"),
        Column("payment_date", "date"),
        Column("amount", "money"),
        Column("reference", "text", required=False),
    ),
    schemas.LA_PAYMENTS,
    per_recipient=False,
)

EMPLOYEES = TableKind(
    "employees",
    (
        Column("recipient_id", "id"),
        Column("employee_id", "text"),
        Column("employee_name", "text", required=False),
        Column("dbs_level", "choice", required=False, choices=("enhanced", "basic", "none")),
        Column("dbs_check_date", "date", required=False),
    ),
    schemas.EMPLOYEES,
    per_recipient=False,
)

# what families write for how they paid, mapped to the contract's four methods
PAYMENT_WORDS = (
    ("debit_card", "card"), ("credit_card", "card"), ("card_payment", "card"), ("contactless", "card"),
    ("bank_transfer", "bank"), ("transfer", "bank"), ("bacs", "bank"), ("faster_payment", "bank"),
    ("standing_order", "bank"), ("online_banking", "bank"), ("dd", "direct_debit"),
)

RECEIPTS = TableKind(
    "receipts",
    (
        Column("receipt_id", "text"),
        Column("date", "date"),
        Column("supplier", "text"),
        Column("supplier_vat_number", "text", required=False),
        Column("description", "text", required=False),
        Column("category", "text", required=False),  # free text: anything the recipient wrote
        Column("line_id", "text", required=False),
        Column("net", "money", required=False),
        Column("vat", "money", required=False),
        Column("gross", "money"),
        Column("payment_method", "choice", required=False, choices=("bank", "card", "cash", "direct_debit"),
               synonyms=PAYMENT_WORDS),
    ),
    schemas.RECEIPTS,
    per_recipient=True,
)

_PAY = ("gross_pay", "tax", "employee_ni", "employer_ni", "employee_pension", "employer_pension", "net_pay")
PAYSLIPS = TableKind(
    "payroll",
    (
        Column("employee_id", "text"),
        Column("employee_name", "text", required=False),
        Column("pay_date", "date"),
        Column("period_start", "date", required=False),
        Column("period_end", "date", required=False),
        *(Column(name, "money", required=name in ("gross_pay", "net_pay")) for name in _PAY),
    ),
    schemas.PAYSLIPS,
    per_recipient=True,
)

COUNCIL_TABLES = (AGREEMENTS, PROVISION, LA_PAYMENTS, EMPLOYEES)


def read_raw(kind: TableKind, path: str | os.PathLike[str], data: bytes, source_file: str, recipient_id: str | None = None) -> RawTable:
    """One file's rows as text; raises UnreadableFile when the file as a whole cannot be used.

    Typing happens later, once for a whole batch of files (``type_rows``):
    per-file polars work would cost more than the parsing itself.
    """
    records = read_records_file(path, data)
    header = _header_index(kind, records)
    raw = _with_contract_names(kind, table_from_records(records, header, source_file, recipient_id))
    above = _above_header(records, header)
    if above:
        raw = dataclasses.replace(raw, misplaced=raw.misplaced + above)
    problem = missing_columns(raw, [column.name for column in kind.columns if column.required]) or repeated_columns(
        raw, [column.name for column in kind.columns])
    if problem:
        raise UnreadableFile(problem)
    return raw


def type_rows(kind: TableKind, tables: list[RawTable]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed rows of ``kind`` (its canonical schema) and cell rejections, for any number of files at once."""
    if not tables:
        return schemas.empty(kind.schema), schemas.empty(schemas.REJECTIONS)
    typed, bad_cells = convert(frame_of(tables), kind.columns)
    if kind.per_recipient:
        typed = typed.with_columns(pl.col(FOLDER_RECIPIENT).alias("recipient_id"))
    return schemas.conform(_normalise(kind, typed), kind.schema), bad_cells


@dataclass(frozen=True)
class TableRead:
    frame: pl.DataFrame  # conforms to kind.schema
    rejections: pl.DataFrame
    rows_read: int


HEADER_SEARCH_ROWS = 10  # title rows a spreadsheet may carry above its header


def _contract_spelling(name: str) -> str:
    """A normalised header name with spaces or hyphens for the contract's underscores ("receipt id"): the contract's."""
    return re.sub(r"[ -]+", "_", name)


@functools.lru_cache(maxsize=1024)  # a council's files share a handful of headers: each is spelled out once
def _contract_names(row: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_contract_spelling(normalise_header(cell)) for cell in row)


def _header_index(kind: TableKind, records) -> int:
    """The header row: the first of the first few non-blank rows that names every required column (a
    spreadsheet often has a title above it), else the first non-blank row, whose names the refusal quotes."""
    first = first_header_index(records)
    required = {column.name for column in kind.columns if column.required}
    candidates = itertools.islice((index for index in range(first, len(records.rows)) if not is_blank(records.rows[index])),
                                  HEADER_SEARCH_ROWS)
    return next((index for index in candidates if required <= _contract_names(tuple(records.rows[index]))), first)


def _above_header(records, header: int) -> tuple[tuple[list[str], int, str], ...]:
    """Rows above the header with more than one cell filled: not a title, so not passed over in silence."""
    return tuple(
        (row, line, f"row above the header row (line {records.lines[header]}): not read")
        for row, line in zip(records.rows[:header], records.lines[:header])
        if sum(bool(cell.strip()) for cell in row) > 1
    )


def _with_contract_names(kind: TableKind, raw: RawTable) -> RawTable:
    """Header names written with spaces or hyphens for the contract's underscores ("Receipt ID",
    "Payment Method") read as the contract's names, unless that name is in the header too."""
    names = _spelled_as_the_contract(raw.names, frozenset(column.name for column in kind.columns))
    return dataclasses.replace(raw, names=names) if names != raw.names else raw


@functools.lru_cache(maxsize=1024)
def _spelled_as_the_contract(names: tuple[str, ...], wanted: frozenset[str]) -> tuple[str, ...]:
    renamed = list(names)
    for index, name in enumerate(names):
        spelled = _contract_spelling(name)
        if spelled != name and spelled in wanted and spelled not in renamed:
            renamed[index] = spelled
    return tuple(renamed)


def read_table(kind: TableKind, path: str | os.PathLike[str], data: bytes, source_file: str, recipient_id: str | None = None) -> TableRead:
    """One file, read and typed on its own (for tests and tools; runs use read_raw + type_rows)."""
    raw = read_raw(kind, path, data, source_file, recipient_id)
    frame, bad_cells = type_rows(kind, [raw])
    return TableRead(frame, pl.concat([raw.rejections, bad_cells]).sort("source_line", "column"), raw.rows_read)


def _normalise(kind: TableKind, frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical spellings the rules compare on."""
    if kind is RECEIPTS:
        return frame.with_columns(
            choice_key(pl.col("category")),  # as provision lines' categories are read
            pl.col("supplier").str.strip_chars(),
        )
    if kind is PROVISION:
        return frame.with_columns(pl.col("costed_vat").fill_null("inclusive"))
    if kind is PAYSLIPS:
        money = [f"{name}_pence" for name in _PAY if name not in ("gross_pay", "net_pay")]
        return frame.with_columns(pl.col(money).fill_null(0))
    return frame

"""Typed conversion of raw text columns, with a rejection for every bad cell.

A reader produces a frame of strings (one column per input header, plus
``source_line``). ``convert`` turns it into typed columns in one vectorised
pass and returns, beside the usable rows, one rejection per bad cell naming
the column, the value and what was expected. A row with any bad cell is
rejected whole: a receipt with an unreadable gross is not half a receipt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.accounts import padded_account
from pipeline.money import parse_pence

RECIPIENT_ID_RE = r"^[A-Za-z0-9_-]{1,64}$"

# The contract's ISO dates, and the UK's day-first form: what Excel writes back when anyone in a UK office
# opens one of the tables and saves it again, and how families and payroll bureaux type their records.
TABLE_DATES = ("%Y-%m-%d", "%d/%m/%Y")
# UK bank conventions; none of them can be mistaken for another.
BANK_DATES = ("%d/%m/%Y", "%Y-%m-%d", "%d %b %Y", "%d-%b-%Y", "%d %B %Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y")


@dataclass(frozen=True)
class Column:
    name: str  # header as written in the contract (matched normalised)
    kind: str  # id | text | date | money | choice | weeks | account
    required: bool = True
    choices: tuple[str, ...] = ()
    out: str | None = None  # canonical column name; defaults to name (+ "_pence" for money)
    date_formats: tuple[str, ...] = TABLE_DATES
    synonyms: tuple[tuple[str, str], ...] = ()  # other words people write for a choice (lower case, "_" for spaces)

    @property
    def target(self) -> str:
        if self.out:
            return self.out
        return f"{self.name}_pence" if self.kind == "money" else self.name


_FORMAT_PARTS = {"%d": r"[0-9]{1,2}", "%m": r"[0-9]{1,2}", "%Y": r"[0-9]{4}", "%y": r"[0-9]{2}", "%b": r"[A-Za-z]{3}", "%B": r"[A-Za-z]+"}


def date_shape(fmt: str) -> str:
    """The text a format may match: polars' %Y alone would read "01/06/25" as the year 25."""
    pattern = re.escape(fmt)
    for code, part in _FORMAT_PARTS.items():
        pattern = pattern.replace(re.escape(code), part)
    return f"^{pattern}$"


# how people write "nothing here" in an optional cell: Excel's accounting format shows a zero as "-"
NOTHING = ["-", "\u2013", "\u2014", "n/a", "N/A", "N/a", "na", "NA"]


def choice_key(text: pl.Expr) -> pl.Expr:
    """How a choice, or a category a receipt names, is compared: "Direct Debit", "direct-debit" and
    " DIRECT_DEBIT" are all direct_debit."""
    return text.str.strip_chars().str.to_lowercase().str.replace_all(r"[\s\-]+", "_")


def parse_date(expr: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    text = expr.str.strip_chars()
    return pl.coalesce([
        pl.when(text.str.contains(date_shape(fmt))).then(text.str.to_date(fmt, strict=False, exact=True)) for fmt in formats
    ])


def _parsed(column: Column, raw: pl.Expr) -> tuple[pl.Expr, pl.Expr, str]:
    """(typed value, is-bad flag for a non-blank cell, what was expected)."""
    if column.kind == "money":
        value = parse_pence(raw)
        return value, value.is_null(), 'money in pounds, like 1234.50, "£1,234.50" or (12.00)'
    if column.kind == "date":
        value = parse_date(raw, column.date_formats)
        shown = " or ".join(fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
                            .replace("%b", "Mon").replace("%B", "Month").replace("%y", "YY")
                            for fmt in column.date_formats[:3])
        return value, value.is_null(), f"a date as {shown}"
    if column.kind == "choice":
        value = choice_key(raw)
        if column.synonyms:
            value = value.replace(dict(column.synonyms))
        return value, ~value.is_in(list(column.choices)), "one of " + ", ".join(column.choices)
    if column.kind == "id":
        return raw, ~raw.str.contains(RECIPIENT_ID_RE), "an id of 1-64 letters, digits, '_' or '-'"
    if column.kind == "account":
        digits = padded_account(raw.str.replace_all(r"[\s-]", ""))
        return digits, ~digits.str.contains(r"^[0-9]{8}$"), "an 8-digit account number"
    if column.kind == "weeks":
        parts = raw.str.extract_groups(r"^(?<w>[0-9]{1,4})(?:\.(?<f>[0-9]{1,2}))?$")
        value = parts.struct.field("w").cast(pl.Int64) * 100 + parts.struct.field("f").str.pad_end(2, "0").fill_null("00").cast(pl.Int64)
        return value, value.is_null(), "a number of weeks, like 8 or 4.5"
    return raw, pl.lit(False), "text"


FOLDER_RECIPIENT = "__folder_recipient"  # the recipient folder a file came from (null for council tables)
KEYS = ("source_file", "source_line", FOLDER_RECIPIENT)


def convert(raw: pl.DataFrame, columns: tuple[Column, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed rows and rejections, for one file or a whole batch of files at once.

    ``raw`` holds normalised header names plus ``source_file``, ``source_line``
    and ``__folder_recipient``. Missing required columns must have been checked
    by the caller; a column absent from a file is all blank.
    """
    values: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    for column in columns:
        present = column.name in raw.columns
        raw_text = pl.col(column.name).cast(pl.String).str.strip_chars() if present else pl.lit(None, pl.String)
        blank = raw_text.is_null() | (raw_text == "")
        if not column.required:  # what a spreadsheet shows for nothing: an accounting-format zero, "N/A"
            blank = blank | raw_text.is_in(NOTHING)
        value, bad, expected = _parsed(column, raw_text)
        values.append(pl.when(blank).then(None).otherwise(value).alias(column.target))
        reason_bad = pl.format("column '{}': {} is not {}", pl.lit(column.name), pl.concat_str(pl.lit("'"), raw_text.str.slice(0, 60), pl.lit("'")), pl.lit(expected))
        message = pl.when(~blank & bad).then(reason_bad)
        if column.required:
            message = message.when(blank).then(pl.lit(f"column '{column.name}': required value is blank"))
        errors.append(message.otherwise(None).alias(f"__error__{column.name}"))

    typed = raw.with_row_index("__row").select("__row", *KEYS, *values, *errors)
    error_cols = [f"__error__{column.name}" for column in columns]
    has_error = pl.any_horizontal(pl.col(name).is_not_null() for name in error_cols)
    good = typed.filter(~has_error).drop(error_cols, "__row")
    bad_rows = typed.filter(has_error).select("__row", *KEYS, *error_cols)
    return good, _rejections(bad_rows, raw.with_row_index("__row"), error_cols)


def _rejections(bad_rows: pl.DataFrame, raw: pl.DataFrame, error_cols: list[str]) -> pl.DataFrame:
    if bad_rows.is_empty():
        return schemas.empty(schemas.REJECTIONS)
    long = bad_rows.unpivot(index=["__row", *KEYS], on=error_cols, variable_name="column", value_name="reason").filter(
        pl.col("reason").is_not_null()
    ).with_columns(pl.col("column").str.replace("__error__", "", literal=True))
    present = [name.removeprefix("__error__") for name in error_cols if name.removeprefix("__error__") in raw.columns]
    if present:
        cells = raw.join(bad_rows.select("__row"), on="__row", how="semi").select("__row", *present).unpivot(
            index="__row", variable_name="column", value_name="value"
        )
        long = long.join(cells, on=["__row", "column"], how="left")
    recipient = pl.col(FOLDER_RECIPIENT)
    if "recipient_id" in raw.columns:
        long = long.join(raw.select("__row", pl.col("recipient_id").alias("__data_recipient")), on="__row", how="left")
        recipient = pl.coalesce(recipient, pl.col("__data_recipient"))
    return schemas.conform(long.with_columns(recipient.alias("recipient_id")), schemas.REJECTIONS).sort(
        "source_file", "source_line", "column"
    )

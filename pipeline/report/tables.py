"""The CSV tables (the contract's three of section 4, and transactions.csv), as frames of text ready to write.

Amounts become pounds with exactly two decimals; every text cell that a
spreadsheet would read as a formula is neutralised; rows are sorted in an order
a person reads (by recipient, then rule or date, then where each came from,
line 9 before line 10), and then on every column (transactions, in the
outcome's order: each line's key settles a tie), so a re-run over the same
inputs writes the same bytes.
"""

from __future__ import annotations

import polars as pl

from pipeline.money import format_pounds
from pipeline.reconcile.findings import by_source

EXCEPTIONS_COLUMNS = (
    "period", "recipient_id", "rule", "severity", "amount", "date", "counterparty", "transaction_ref", "source_file", "detail",
)
CLAWBACK_COLUMNS = (
    "period", "recipient_id", "recipient_name", "closing_balance", "contingency_allowed", "committed", "surplus",
    "misuse", "unevidenced", "recommended_recovery",
)
MONITORING_COLUMNS = ("period", "recipient_id", "recipient_name", "triggers", "detail")
TRANSACTIONS_COLUMNS = (
    "period", "recipient_id", "date", "amount", "direction", "balance", "counterparty", "description", "account",
    "merchant_class", "evidence_status", "evidence_ref", "reason", "transaction_ref", "source_file", "duplicate_of",
)

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets.
FORMULA_START_CHARS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(expr: pl.Expr) -> pl.Expr:
    """Prefix a formula-like text with an apostrophe, OWASP's advice for CSV injection."""
    return pl.when(expr.str.contains(FORMULA_START)).then(pl.lit("'") + expr).otherwise(expr)


def neutralise_text(frame: pl.DataFrame, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """Neutralise every String column except ``keep`` (columns we format ourselves, like amounts)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String and name not in keep]
    return frame.with_columns(neutralise(pl.col(name)).alias(name) for name in text)


def exceptions_table(findings: pl.DataFrame, period: str) -> pl.DataFrame:
    """schemas.FINDINGS -> the contract's exceptions.csv columns, sorted."""
    table = findings.select(
        pl.lit(period).alias("period"),
        pl.col("recipient_id").fill_null(""),
        pl.col("rule"),
        pl.col("severity"),
        format_pounds(pl.col("amount_pence").abs()).fill_null("").alias("amount"),
        pl.col("date").cast(pl.String).fill_null(""),
        pl.col("counterparty").fill_null(""),
        pl.col("transaction_ref").fill_null(""),
        pl.col("source_file").fill_null(""),
        pl.col("detail").fill_null(""),
    )
    return neutralise_text(table, keep=("period", "amount", "date")).sort(
        [*by_source(("recipient_id", "rule")), *EXCEPTIONS_COLUMNS], nulls_last=False)


def pounds_columns(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    return frame.with_columns(format_pounds(pl.col(f"{name}_pence")).fill_null("").alias(name) for name in columns)

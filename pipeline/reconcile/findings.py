"""The rule codes of the contract (section 5), their severities, and the finding shape.

Every rule function returns a frame of ``schemas.FINDINGS``; ``finding``
builds one from any frame so that each rule states only what is its own:
which rows fire, the amount, and the words of the detail.
"""

from __future__ import annotations

import polars as pl

from pipeline import schemas

# Severity is ours to choose: "high" where money may be lost or a person is at
# risk, "medium" where evidence or money needs chasing, "low" for paperwork.
SEVERITY = {
    "SURPLUS_ABOVE_CONTINGENCY": "medium",
    "PROHIBITED_SPEND": "high",
    "SPEND_NOT_IN_PLAN": "medium",
    "PROVISION_OVERSPEND": "medium",
    "CASH_WITHDRAWAL_UNEVIDENCED": "medium",
    "TRANSACTION_UNEVIDENCED": "medium",
    "SPEND_OUTSIDE_AGREEMENT": "high",
    "STATEMENT_MISSING": "medium",
    "BALANCE_DISCONTINUITY": "medium",
    "UNREGISTERED_ACCOUNT": "high",
    "LA_PAYMENT_NOT_RECEIVED": "high",
    "DUPLICATE_RECEIPT": "medium",
    "PAYROLL_UNMATCHED": "medium",
    "EMPLOYEE_NO_DBS": "high",
    "VAT_NUMBER_INVALID": "low",
    "VAT_NUMBER_MISSING": "low",
    "VAT_ARITHMETIC": "low",
    "VAT_ON_EXEMPT_SUPPLY": "low",
    "VAT_RELIEF_MISSED": "low",
    "VAT_COSTING_SHORTFALL": "low",
    "REVIEW_OVERDUE": "low",
    "INPUT_REJECTED": "medium",
}
RULES = tuple(SEVERITY)


def located(file: pl.Expr, line: pl.Expr) -> pl.Expr:
    """``path:line`` (or just the path for a whole file), what ``source_file`` shows."""
    return pl.when(line.is_null() | (line <= 0)).then(file).otherwise(pl.concat_str(file, pl.lit(":"), line.cast(pl.String)))


def by_source(leading: tuple[str, ...]) -> list[pl.Expr]:
    """Sort keys: ``leading``, then ``source_file``'s path, then its line as a number ("f.csv:9" before
    "f.csv:10"). A file whose own name ends in ":digits" sorts by them too, and never fails a run."""
    where = pl.col("source_file").str.extract_groups(r"^(?<path>.*?)(?::(?<line>[0-9]+))?$")
    return [*(pl.col(name) for name in leading), where.struct.field("path"),
            where.struct.field("line").cast(pl.Int64, strict=False)]


CITED = 10  # sources a detail lists before "and N more"


def cited(sources: pl.Expr) -> pl.Expr:
    """A list of ``path:line`` sources as the text of a detail: the first CITED, then how many more."""
    more = sources.list.len().cast(pl.Int64) - CITED
    return pl.concat_str(sources.list.head(CITED).list.join(", "),
                         pl.when(more > 0).then(pl.format(" and {} more", more)).otherwise(pl.lit("")))


def counted(count: pl.Expr, noun: str) -> pl.Expr:
    """"1 receipt", "2 receipts"."""
    return pl.format("{} {}", count, pl.when(count == 1).then(pl.lit(noun)).otherwise(pl.lit(f"{noun}s")))


def finding(
    frame: pl.DataFrame,
    rule: str,
    *,
    amount: pl.Expr | None = None,
    date: pl.Expr | None = None,
    counterparty: pl.Expr | None = None,
    transaction_ref: pl.Expr | None = None,
    source: pl.Expr | None = None,
    detail: pl.Expr | str = "",
    severity: pl.Expr | None = None,
    line_key: pl.Expr | None = None,
) -> pl.DataFrame:
    none = pl.lit(None, pl.String)
    return frame.select(
        pl.col("recipient_id").cast(pl.String),
        pl.lit(rule).alias("rule"),
        (severity if severity is not None else pl.lit(SEVERITY[rule])).alias("severity"),
        (amount.abs() if amount is not None else pl.lit(None, pl.Int64)).cast(pl.Int64).alias("amount_pence"),
        (date if date is not None else pl.lit(None, pl.Date)).cast(pl.Date).alias("date"),
        (counterparty if counterparty is not None else none).alias("counterparty"),
        (transaction_ref if transaction_ref is not None else none).alias("transaction_ref"),
        (source if source is not None else none).alias("source_file"),
        (pl.lit(detail) if isinstance(detail, str) else detail).alias("detail"),
        (line_key if line_key is not None else none).alias("line_key"),
    )


def line_finding(lines: pl.DataFrame, rule: str, detail: pl.Expr | str) -> pl.DataFrame:
    """A finding about bank lines: the debit is the amount, the line is the source."""
    return finding(
        lines,
        rule,
        amount=pl.col("amount_pence"),
        date=pl.col("date"),
        counterparty=pl.coalesce(pl.col("counterparty"), pl.col("description")),
        transaction_ref=pl.col("transaction_ref"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=detail,
        line_key=pl.col("txn_key"),
    )


def concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [frame for frame in frames if frame.height]
    return pl.concat(frames) if frames else schemas.empty(schemas.FINDINGS)

"""The one source of every canonical frame's columns and types.

Every reader returns frames with exactly these schemas; every later stage may
rely on them. Money columns end in ``_pence`` and are Int64. Every row carries
``source_file`` (posix path relative to the inbound folder) and ``source_line``
(1-based physical line of the file, or the row number in a sheet; in an OFX
file, the line of the transaction's ``<STMTTRN>`` tag) so that each finding can
point back to where it came from.
"""

from __future__ import annotations

import polars as pl

SOURCE = {"source_file": pl.String, "source_line": pl.Int64}

AGREEMENTS = pl.Schema(
    {
        "recipient_id": pl.String,
        "recipient_name": pl.String,
        "plan_ref": pl.String,
        "mechanism": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "payment_amount_pence": pl.Int64,
        "payment_frequency": pl.String,
        # hundredths of a week, so that "8.5" weeks stays exact
        "contingency_weeks_x100": pl.Int64,
        "account_number": pl.String,
        "first_payment_date": pl.Date,
        "last_review_date": pl.Date,
        **SOURCE,
    }
)

PROVISION = pl.Schema(
    {
        "recipient_id": pl.String,
        "line_id": pl.String,
        "category": pl.String,
        "description": pl.String,
        "amount_pence": pl.Int64,
        "per": pl.String,
        "funding_stream": pl.String,
        "costed_vat": pl.String,
        **SOURCE,
    }
)

LA_PAYMENTS = pl.Schema(
    {
        "recipient_id": pl.String,
        "payment_date": pl.Date,
        "amount_pence": pl.Int64,
        "reference": pl.String,
        **SOURCE,
    }
)

EMPLOYEES = pl.Schema(
    {
        "recipient_id": pl.String,
        "employee_id": pl.String,
        "employee_name": pl.String,
        "dbs_level": pl.String,
        "dbs_check_date": pl.Date,
        **SOURCE,
    }
)

RECEIPTS = pl.Schema(
    {
        "recipient_id": pl.String,
        "receipt_id": pl.String,
        "date": pl.Date,
        "supplier": pl.String,
        "supplier_vat_number": pl.String,
        "description": pl.String,
        "category": pl.String,
        "line_id": pl.String,
        "net_pence": pl.Int64,
        "vat_pence": pl.Int64,
        "gross_pence": pl.Int64,
        "payment_method": pl.String,
        **SOURCE,
    }
)

PAYSLIPS = pl.Schema(
    {
        "recipient_id": pl.String,
        "employee_id": pl.String,
        "employee_name": pl.String,
        "pay_date": pl.Date,
        "period_start": pl.Date,
        "period_end": pl.Date,
        "gross_pay_pence": pl.Int64,
        "tax_pence": pl.Int64,
        "employee_ni_pence": pl.Int64,
        "employer_ni_pence": pl.Int64,
        "employee_pension_pence": pl.Int64,
        "employer_pension_pence": pl.Int64,
        "net_pay_pence": pl.Int64,
        **SOURCE,
    }
)

# One row per bank line as read, before de-duplication.
TRANSACTIONS = pl.Schema(
    {
        "recipient_id": pl.String,
        "statement_id": pl.String,  # source_file + "#" + account: one statement
        "account_id": pl.String,  # digits as the bank gave them; "" when unknown
        "date": pl.Date,
        "amount_pence": pl.Int64,  # signed: debits are negative
        "balance_pence": pl.Int64,  # running balance after the line; null when not given
        "description": pl.String,
        "counterparty": pl.String,
        "trntype": pl.String,  # OFX TRNTYPE or the bank's own type text, upper case
        "mcc": pl.String,  # merchant category code when the statement carries one
        "fitid": pl.String,  # OFX FITID; null for CSV
        "txn_key": pl.String,  # identity used to de-duplicate overlapping statements
        "seq": pl.Int64,  # chronological position of the line inside its statement
        "layout": pl.String,
        **SOURCE,
    }
)

# One row per statement (a file, or an account inside a multi-account OFX file).
STATEMENTS = pl.Schema(
    {
        "recipient_id": pl.String,
        "statement_id": pl.String,
        "account_id": pl.String,
        "layout": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "ledger_balance_pence": pl.Int64,  # OFX LEDGERBAL; null for CSV
        "ledger_balance_date": pl.Date,
        "source_file": pl.String,
    }
)

# A row (or whole file, line 0) that could not be used, and why.
REJECTIONS = pl.Schema(
    {
        "recipient_id": pl.String,
        "source_file": pl.String,
        "source_line": pl.Int64,  # 0 for a whole file or folder
        "column": pl.String,
        "value": pl.String,
        "reason": pl.String,
    }
)

# The contract's exceptions.csv, with money still in pence and the date typed.
FINDINGS = pl.Schema(
    {
        "recipient_id": pl.String,
        "rule": pl.String,
        "severity": pl.String,
        "amount_pence": pl.Int64,
        "date": pl.Date,
        "counterparty": pl.String,
        "transaction_ref": pl.String,
        "source_file": pl.String,
        "detail": pl.String,
        # not an output column: the bank line a finding is about, when it is about one. A file:line
        # does not name a line when a bank writes a whole OFX statement on one line.
        "line_key": pl.String,
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Select exactly the schema's columns, in order, adding missing ones as null."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )

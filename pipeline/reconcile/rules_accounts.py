"""Rules about the account and the agreement: balances, statements, payments in, reviews."""

from __future__ import annotations

import polars as pl

from pipeline.money import format_pounds, round_div
from pipeline.reconcile import ledger
from pipeline.reconcile.books import MONITORED_MECHANISMS, Books
from pipeline.reconcile.evidence import COUNCIL_PAYMENT, Evidence, document_key
from pipeline.reconcile.findings import finding, located
from pipeline.reconcile.matching import DOC
from pipeline.accounts import is_card, mask_account

# weekly equivalent = payment x numerator / denominator
WEEKLY = {"weekly": (1, 1), "fortnightly": (1, 2), "four_weekly": (1, 4), "monthly": (12, 52)}
PER_YEAR = {"weekly": 52, "fortnightly": 26, "four_weekly": 13, "monthly": 12}


def _lookup(table: dict[str, int], column: str) -> pl.Expr:
    return pl.col(column).replace_strict(table, return_dtype=pl.Int64)


def current_agreements(books: Books) -> pl.DataFrame:
    """Each recipient's agreements in force on the period's last day, or, when all have ended, the last to end.

    An agreement renewed mid-month is followed by its successor, not summed with
    it: both are active in the month, and summing them doubled the contingency
    and the annualised payments. Agreements that run side by side (an education
    and a social care budget) are all in force, and summed.
    """
    end = books.period.end
    in_force = pl.col("end_date").is_null() | (pl.col("end_date") >= end)
    last_to_end = pl.col("end_date") == pl.col("end_date").max().over("recipient_id")
    return books.agreements.filter(pl.col("start_date") <= end).filter(
        pl.when(in_force.any().over("recipient_id")).then(in_force).otherwise(last_to_end)
    )


def contingency(books: Books) -> pl.DataFrame:
    """recipient_id -> contingency_allowed_pence over its current agreements, each rounded to pence."""
    weeks = pl.col("contingency_weeks_x100").fill_null(books.policy.default_contingency_weeks_x100)
    numerator = pl.col("frequency").replace_strict({k: v[0] for k, v in WEEKLY.items()}, return_dtype=pl.Int64)
    denominator = pl.col("frequency").replace_strict({k: v[1] for k, v in WEEKLY.items()}, return_dtype=pl.Int64)
    return (
        current_agreements(books)
        .with_columns(pl.col("payment_frequency").alias("frequency"))
        .with_columns(round_div(pl.col("payment_amount_pence") * weeks * numerator, denominator * 100).alias("allowed"))
        .group_by("recipient_id")
        .agg(pl.col("allowed").sum().alias("contingency_allowed_pence"))
    )


def committed(books: Books) -> pl.DataFrame:
    """recipient_id -> payroll liabilities of payslips paid in the period, due next month."""
    return books.in_period(books.payslips, "pay_date").group_by("recipient_id").agg(
        (pl.col("tax_pence") + pl.col("employee_ni_pence") + pl.col("employer_ni_pence")
         + pl.col("employee_pension_pence") + pl.col("employer_pension_pence")).sum().alias("committed_pence")
    )


def surplus_position(books: Books) -> pl.DataFrame:
    """recipient_id, closing, contingency, committed and surplus (null where no balance is known).

    Every recipient whose agreement has started is judged, whether or not it is still
    active: money left in the account of an agreement that has ended is unspent too.
    """
    recipients = current_agreements(books).select("recipient_id").unique()
    return (
        recipients.join(ledger.closing_balances(books.ledger, books.statements, books.period), on="recipient_id", how="left")
        .join(contingency(books), on="recipient_id", how="left")
        .join(committed(books), on="recipient_id", how="left")
        .with_columns(pl.col("contingency_allowed_pence", "committed_pence").fill_null(0))
        .with_columns(
            (pl.col("closing_balance_pence") - pl.col("contingency_allowed_pence") - pl.col("committed_pence")).alias("surplus_pence")
        )
    )


def surplus_above_contingency(books: Books) -> pl.DataFrame:
    position = surplus_position(books).filter(pl.col("surplus_pence") > books.policy.surplus_minimum_pence)
    return finding(
        position,
        "SURPLUS_ABOVE_CONTINGENCY",
        amount=pl.col("surplus_pence"),
        date=pl.lit(books.period.end),
        source=pl.col("closing_source"),
        detail=pl.format("closing balance {} less contingency allowed {} less committed payroll liabilities {}",
                         format_pounds(pl.col("closing_balance_pence")), format_pounds(pl.col("contingency_allowed_pence")),
                         format_pounds(pl.col("committed_pence"))),
    )


def statement_missing(books: Books) -> pl.DataFrame:
    expected = books.agreements.filter(pl.col("active") & pl.col("mechanism").is_in(MONITORED_MECHANISMS)).group_by("recipient_id").agg(
        located(pl.col("source_file"), pl.col("source_line")).first().alias("agreement_source")
    )
    seen = books.in_period(books.lines).select("recipient_id").unique()
    missing = expected.join(seen, on="recipient_id", how="anti")
    return finding(
        missing,
        "STATEMENT_MISSING",
        source=pl.col("agreement_source"),
        detail=f"no bank statement line dated {books.period.start} to {books.period.end} for an active agreement",
    )


def unregistered_account(books: Books) -> pl.DataFrame:
    registered = books.agreements.filter(pl.col("account_number").is_not_null()).group_by("recipient_id").agg(
        pl.col("account_number").unique().sort().alias("registered")  # in order: a detail names them
    )
    # an account with lines in the period, or with a statement covering it (an idle account still holds money)
    # cited at the account's first line in the period, or (idle) its first statement
    seen = pl.concat([
        books.in_period(books.lines).select("recipient_id", "account_id", "date", "source_file", "source_line"),
        ledger.overlapping(books.statements, books.period).select(
            "recipient_id", "account_id", pl.lit(None, pl.Date).alias("date"), "source_file", pl.lit(None, pl.Int64).alias("source_line")),
    ])
    other = seen.filter((pl.col("account_id") != "") & ~is_card(pl.col("account_id"))).join(registered, on="recipient_id", how="inner").filter(
        ~pl.col("account_id").is_in(pl.col("registered")))
    first = other.sort("date", "source_file", "source_line", nulls_last=True).group_by("recipient_id", "account_id", maintain_order=True).first()
    masked, registered = mask_account(pl.col("account_id")), pl.col("registered").list.eval(mask_account(pl.element()))
    return finding(
        first,
        "UNREGISTERED_ACCOUNT",
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=pl.format("statement is for account {}, not the registered account{} {}{}",
                         masked, pl.when(pl.col("registered").list.len() > 1).then(pl.lit("s")).otherwise(pl.lit("")),
                         registered.list.join(", "),
                         # masked, two numbers ending alike would read as one
                         pl.when(registered.list.contains(masked))
                         .then(pl.lit(" (another number ending in the same four digits)")).otherwise(pl.lit(""))),
    )


def balance_discontinuity(books: Books) -> pl.DataFrame:
    return ledger.balance_discontinuity(books.ledger, books.statements, books.period)


def la_payment_not_received(books: Books, evidence: Evidence) -> pl.DataFrame:
    payments = books.in_period(books.la_payments, "payment_date").with_columns(
        document_key(COUNCIL_PAYMENT).alias(DOC)
    )
    missing = payments.join(evidence.credit_matches, on=DOC, how="anti")
    return finding(
        missing,
        "LA_PAYMENT_NOT_RECEIVED",
        amount=pl.col("amount_pence"),
        date=pl.col("payment_date"),
        counterparty=pl.lit("council"),
        transaction_ref=pl.col("reference"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=f"no credit of the same amount within {books.policy.date_window_days} days on the recipient's statements "
               "that another council payment has not taken",
    )


def review_overdue(books: Books) -> pl.DataFrame:
    """Reviews of the agreements in force (``current_agreements``): a plan replaced mid-month by one reviewed
    since is not overdue for the review its old agreement missed."""
    due = pl.when(pl.col("last_review_date").is_null()).then(pl.col("first_payment_date").dt.offset_by("3mo")).otherwise(
        pl.col("last_review_date").dt.offset_by("12mo")
    )
    overdue = current_agreements(books).filter(pl.col("active")).with_columns(due.alias("due")).filter(pl.col("due") < books.period.end)
    return finding(
        overdue,
        "REVIEW_OVERDUE",
        date=pl.col("due"),
        transaction_ref=pl.col("plan_ref"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=pl.when(pl.col("last_review_date").is_null())
        .then(pl.format("first review was due by {} (3 months after the first payment on {})", pl.col("due"), pl.col("first_payment_date")))
        .otherwise(pl.format("annual review was due by {} (12 months after the review on {})", pl.col("due"), pl.col("last_review_date"))),
    )


def annualised_payments(books: Books) -> pl.DataFrame:
    """recipient_id -> a year of payments at the rate of its current agreements active in the period."""
    return current_agreements(books).filter(pl.col("active")).group_by("recipient_id").agg(
        (pl.col("payment_amount_pence") * _lookup(PER_YEAR, "payment_frequency")).sum().alias("annualised_pence")
    )

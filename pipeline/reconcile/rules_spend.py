"""Rules about how the money was spent: one function per rule of the contract."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from pipeline.accounts import mask_account
from pipeline.money import format_pounds, round_div
from pipeline.period import Period
from pipeline.reconcile.books import Books
from pipeline.reconcile.classify import allowed_bank_charge, cash, prohibited
from pipeline.reconcile.evidence import RECEIPT, Evidence, document_key, is_cash_receipt
from pipeline.reconcile.findings import cited, counted, finding, line_finding, located
from pipeline.reconcile.matching import DOC, LINE


def prohibited_spend(books: Books) -> pl.DataFrame:
    debits = books.period_debits.filter(prohibited(books.policy))
    return line_finding(debits, "PROHIBITED_SPEND", pl.format("prohibited merchant class: {}", pl.col("merchant_class")))


def _provision_categories(books: Books) -> pl.DataFrame:
    return books.provision.group_by("recipient_id").agg(pl.col("category").unique().alias("plan_categories"))


def spend_not_in_plan(books: Books, evidence: Evidence) -> pl.DataFrame:
    receipts = books.receipts.select(
        document_key(RECEIPT).alias("doc_key"),
        "resolved_category",
        "receipt_id",
    )
    evidenced = (
        books.period_debits.join(evidence.debit_matches, left_on="txn_key", right_on=LINE, how="inner")
        .join(receipts, on="doc_key", how="inner")
        .filter(pl.col("resolved_category").is_not_null())
        .join(books.unread_plans, on="recipient_id", how="anti")  # a plan not read whole is no measure of misuse
        .join(_provision_categories(books), on="recipient_id", how="left")
        .filter(~pl.col("resolved_category").is_in(pl.col("plan_categories").fill_null([])))
    )
    return line_finding(
        evidenced,
        "SPEND_NOT_IN_PLAN",
        pl.format("receipt {} ({}) is for '{}', which no Section J provision line of this recipient covers",
                  pl.col("receipt_id"), pl.col("doc_source"), pl.col("resolved_category")),
    )


def _outside_agreement(books: Books) -> pl.DataFrame:
    """Debits in the period on a day no agreement of the recipient covers, with the agreements' ``terms``."""
    debits = books.period_debits.with_row_index("__debit")
    covered = (
        debits.select("__debit", "recipient_id", "date")
        .join(books.agreements.select("recipient_id", "start_date", "end_date"), on="recipient_id", how="inner")
        .filter((pl.col("date") >= pl.col("start_date")) & (pl.col("end_date").is_null() | (pl.col("date") <= pl.col("end_date"))))
        .select("__debit")
    )
    terms = books.agreements.group_by("recipient_id").agg(
        pl.format("{} to {}", pl.col("start_date"), pl.col("end_date").cast(pl.String).fill_null("open")).sort().str.join("; ").alias("terms")
    )
    return debits.join(covered, on="__debit", how="anti").join(terms, on="recipient_id", how="left").drop("__debit")


def spend_outside_agreement(books: Books) -> pl.DataFrame:
    return line_finding(_outside_agreement(books), "SPEND_OUTSIDE_AGREEMENT", pl.format("debit dated outside the agreement ({})", pl.col("terms")))


def unevidenced_debits(books: Books, evidence: Evidence) -> pl.DataFrame:
    """Period debits that need evidence and have none (the lines behind TRANSACTION_UNEVIDENCED)."""
    return (
        books.period_debits.filter(~prohibited(books.policy) & ~cash() & ~allowed_bank_charge(books.policy))
        .join(evidence.debit_matches, left_on="txn_key", right_on=LINE, how="anti")
    )


def transaction_unevidenced(books: Books, evidence: Evidence) -> pl.DataFrame:
    window = books.policy.date_window_days
    debits = _other_half(unevidenced_debits(books, evidence), books, evidence)
    return line_finding(
        debits,
        "TRANSACTION_UNEVIDENCED",
        pl.lit(f"no receipt, payslip or payroll liability of the same amount within {window} days")
        + pl.when(pl.col("__other_half").is_not_null()).then(pl.format(
            "; the same amount reached the family's account {} on {} ({}): a move between its own accounts?",
            mask_account(pl.col("__other_account")), pl.col("__other_date"), pl.col("__other_half"))).otherwise(pl.lit("")),
    )


def _other_half(debits: pl.DataFrame, books: Books, evidence: Evidence) -> pl.DataFrame:
    """``debits`` with the nearest credit of the same amount within the window on another of the recipient's
    accounts that is not a council payment (``__other_half``, its account and date), or nulls.

    The contract's TRANSACTION_UNEVIDENCED lists no transfers, and a credit of the same amount on another
    account may be a coincidence (a review found transfers matched that way taking debits from receipts and
    payslips): the finding stands, and says where the money may have gone, for the officer to judge.
    """
    window = timedelta(days=books.policy.date_window_days)
    credits = books.lines.filter(pl.col("amount_pence") > 0).join(
        evidence.credit_matches.select(pl.col(LINE).alias("txn_key")), on="txn_key", how="anti").select(
        "recipient_id", (-pl.col("amount_pence")).alias("amount_pence"), pl.col("account_id").alias("__other_account"),
        pl.col("date").alias("__other_date"), located(pl.col("source_file"), pl.col("source_line")).alias("__other_half"))
    nearest = (
        debits.select("recipient_id", "txn_key", "amount_pence", "date", "account_id")
        .join(credits, on=["recipient_id", "amount_pence"], how="inner")
        .with_columns((pl.col("__other_date") - pl.col("date")).abs().alias("__apart"))
        # an unknown account (null, or "") is no other account: a null comparison drops the pair too
        .filter((pl.col("account_id") != "") & (pl.col("__other_account") != "") & (pl.col("account_id") != pl.col("__other_account"))
                & (pl.col("__apart") <= window))
        .sort("__apart", "__other_date", "__other_half")
        .unique(["recipient_id", "txn_key"], keep="first")
        .select("recipient_id", "txn_key", "__other_account", "__other_date", "__other_half")
    )
    return debits.join(nearest, on=["recipient_id", "txn_key"], how="left", maintain_order="left")


def cash_withdrawal_unevidenced(books: Books, evidence: Evidence) -> pl.DataFrame:
    """The period's cash withdrawals less its cash receipts, as the contract says. Cash receipts that explain a
    debit from the account (``evidence._documents``) are spent from it, not from cash: one receipt never
    evidences two payments.

    Cash withdrawn outside the agreement is misuse (SPEND_OUTSIDE_AGREEMENT) as well, to be repaid whatever
    was bought with it; the detail says so, and ``outcome.clawback`` asks for evidence of at most the cash
    withdrawn within the agreement, so that no pound is counted both as misuse and as unevidenced.
    """
    outside = _outside_agreement(books).filter(cash()).select("recipient_id", "txn_key", pl.lit(True).alias("__misuse"))
    withdrawals = (
        books.period_debits.filter(cash()).join(outside, on=["recipient_id", "txn_key"], how="left")
        .sort("date", "source_file", "source_line").group_by("recipient_id", maintain_order=True).agg(
            pl.col("amount_pence").abs().sum().alias("withdrawn"),
            pl.len().alias("withdrawals"),
            located(pl.col("source_file"), pl.col("source_line")).alias("sources"),
            pl.col("amount_pence").filter(pl.col("__misuse").fill_null(False)).abs().sum().alias("misused"),
            located(pl.col("source_file"), pl.col("source_line")).filter(~pl.col("__misuse").fill_null(False)).first().alias("__within"),
        )
    )
    receipts = (
        books.in_period(books.receipts)
        .filter(~pl.col("is_copy") & is_cash_receipt())
        .with_columns(document_key(RECEIPT).is_in(evidence.debit_matches[DOC].implode()).alias("__from_account"))
        .group_by("recipient_id")
        .agg(pl.col("gross_pence").filter(~pl.col("__from_account")).sum().alias("receipted"),
             pl.col("gross_pence").filter(pl.col("__from_account")).sum().alias("from_account"))
    )
    short = withdrawals.join(receipts, on="recipient_id", how="left").with_columns(pl.col("receipted", "from_account").fill_null(0)).filter(
        pl.col("withdrawn") > pl.col("receipted")
    )
    return finding(
        short,
        "CASH_WITHDRAWAL_UNEVIDENCED",
        amount=pl.col("withdrawn") - pl.col("receipted"),
        date=pl.lit(books.period.end),
        source=pl.coalesce("__within", pl.col("sources").list.first()),  # the letter asks to evidence what was withdrawn within
        detail=pl.format("{} of {} in the period against cash receipts of {}{}",
                         counted(pl.col("withdrawals"), "cash withdrawal"), format_pounds(pl.col("withdrawn")), format_pounds(pl.col("receipted")),
                         pl.when(pl.col("withdrawals") > 1).then(pl.format("; withdrawals at {}", cited(pl.col("sources"))))
                         .otherwise(pl.lit("")))  # one is the finding's own source
        + pl.when(pl.col("from_account") > 0).then(pl.format(
            "; cash receipts of {} explain debits from the account instead", format_pounds(pl.col("from_account")))).otherwise(pl.lit(""))
        + pl.when(pl.col("misused") == pl.col("withdrawn")).then(pl.lit(
            "; all of it was withdrawn outside the agreement, to be repaid as misuse rather than evidenced"))
        .when(pl.col("misused") > pl.col("receipted")).then(pl.format(
            "; {} of it was withdrawn outside the agreement, to be repaid as misuse: evidence is asked for the {} withdrawn within it",
            format_pounds(pl.col("misused")), format_pounds(pl.col("withdrawn") - pl.col("misused")))).otherwise(pl.lit("")),
    )


def _elapsed_months(year_start: pl.DataFrame, period: Period) -> pl.DataFrame:
    """The months from ``year_start`` to the period's end, as a fraction ``__month_days / __month_length``:
    the whole months, and the days of the one under way over its length (from 15 April to 30 June, 2 and
    16/30; from 31 May, 1 and 1/31). Pro rata, as weeks are by days: a year that began on 31 May has not
    had two months' allowance by 30 June."""
    after_end = period.end + timedelta(days=1)
    whole = (period.end.year - pl.col("year_start").dt.year()) * 12 + (period.end.month - pl.col("year_start").dt.month()) + 1
    whole = whole - (pl.col("year_start").dt.offset_by(pl.format("{}mo", whole)) > pl.lit(after_end)).cast(pl.Int32)
    begun = pl.col("year_start").dt.offset_by(pl.format("{}mo", pl.col("__whole")))
    length = (pl.col("year_start").dt.offset_by(pl.format("{}mo", pl.col("__whole") + 1)) - begun).dt.total_days()
    return year_start.with_columns(whole.alias("__whole")).with_columns(
        (pl.col("__whole") * length + (pl.lit(after_end) - begun).dt.total_days()).alias("__month_days"),
        length.alias("__month_length"),
    ).drop("__whole")


def provision_overspend(books: Books) -> pl.DataFrame:
    """Spend on each provision line in the agreement year to period end, against its allowance to date."""
    period = books.period
    active = books.agreements.filter(pl.col("active")).group_by("recipient_id").agg(pl.col("start_date").max())
    # the agreement's last anniversary on or before the period's end, as offset_by clamps one: 29 February's is
    # 28 February in a common year, so that a year never runs past twelve months
    years_in = ((period.end.year - pl.col("start_date").dt.year()) * 12 + (period.end.month - pl.col("start_date").dt.month())) // 12
    years_in = years_in - (pl.col("start_date").dt.offset_by(pl.format("{}y", years_in)) > pl.lit(period.end)).cast(pl.Int32)
    year_start = active.with_columns(pl.col("start_date").dt.offset_by(pl.format("{}y", years_in)).alias("year_start")).select(
        "recipient_id", "year_start"
    )
    claimed = (
        books.receipts.filter(~pl.col("is_copy") & pl.col("resolved_line_id").is_not_null())
        .join(year_start, on="recipient_id", how="inner")
        .filter(pl.col("date").is_between(pl.col("year_start"), pl.lit(period.end)))
        .with_columns(pl.col("resolved_line_id").alias("spent_on"))
    )
    spend = claimed.group_by("recipient_id", pl.col("spent_on").alias("line_id")).agg(
        pl.col("gross_pence").sum().alias("spend"), pl.len().alias("receipts"),
        (pl.col("line_id").is_null() | (pl.col("line_id") != pl.col("spent_on"))).sum().alias("by_category"))
    days = (pl.lit(period.end) - pl.col("year_start")).dt.total_days() + 1
    allowance = (
        pl.when(pl.col("per") == "week").then(round_div(pl.col("amount_pence") * days, 7))
        .when(pl.col("per") == "month").then(round_div(pl.col("amount_pence") * pl.col("__month_days"), pl.col("__month_length")))
        .otherwise(pl.col("amount_pence"))
    )
    lines = (
        books.provision.join(_elapsed_months(year_start, period), on="recipient_id", how="inner")
        .join(spend, on=["recipient_id", "line_id"], how="inner")
        .with_columns(allowance.cast(pl.Int64).alias("allowance"))
        .drop("__month_days", "__month_length")
    )
    tolerance = books.policy.overspend_tolerance_bp
    over = lines.filter((pl.col("spend") - pl.col("allowance")) * 10000 > pl.col("allowance") * tolerance)
    cited_receipts = (  # of the lines over only: a few among a year's receipts
        claimed.join(over.select("recipient_id", pl.col("line_id").alias("spent_on")), on=["recipient_id", "spent_on"], how="semi")
        .sort("date", "source_file", "source_line")
        .group_by("recipient_id", pl.col("spent_on").alias("line_id"), maintain_order=True)
        .agg(located(pl.col("source_file"), pl.col("source_line")).alias("receipt_sources"))
    )
    over = over.join(cited_receipts, on=["recipient_id", "line_id"], how="left")
    return finding(
        over,
        "PROVISION_OVERSPEND",
        amount=pl.col("spend") - pl.col("allowance"),
        date=pl.lit(period.end),
        counterparty=pl.col("description"),
        transaction_ref=pl.col("line_id"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=pl.format("line {} ({}, {} per {}): {} spent on {} since {} against an allowance to date of {}{}; receipts at {}",
                         pl.col("line_id"), pl.col("category"), format_pounds(pl.col("amount_pence")), pl.col("per"),
                         format_pounds(pl.col("spend")), counted(pl.col("receipts"), "receipt"), pl.col("year_start"), format_pounds(pl.col("allowance")),
                         pl.when(pl.col("by_category") > 0).then(pl.format(
                             " ({} of them name no line of the plan, and are counted here by their category, which only this line has)",
                             pl.col("by_category"))).otherwise(pl.lit("")),
                         cited(pl.col("receipt_sources"))),
    )

"""From findings to decisions: clawback, enhanced monitoring, and each line's evidence status.

Clawback follows the contract: misuse = PROHIBITED_SPEND + SPEND_NOT_IN_PLAN
+ SPEND_OUTSIDE_AGREEMENT; unevidenced = TRANSACTION_UNEVIDENCED +
CASH_WITHDRAWAL_UNEVIDENCED; recommended_recovery = surplus + misuse. A debit
flagged by two misuse rules (a betting shop paid before the agreement began)
is one pound lost, not two, so misuse sums distinct debits; a debit already
counted as misuse is not counted again as unevidenced, nor is cash withdrawn
outside the agreement. The findings themselves stay as the contract words
them, and so does the UNEVIDENCED_SHARE trigger: an unevidenced debit is one
whether or not it is also misuse.
"""

from __future__ import annotations

import polars as pl

from pipeline.accounts import mask_account
from pipeline.ingest.load import REPEAT
from pipeline.money import format_pounds
from pipeline.reconcile.books import Books
from pipeline.reconcile.classify import allowed_bank_charge, cash, prohibited
from pipeline.reconcile.evidence import Evidence
from pipeline.reconcile.findings import located
from pipeline.reconcile.matching import LINE
from pipeline.reconcile.rules_accounts import annualised_payments, surplus_position

MISUSE = ("PROHIBITED_SPEND", "SPEND_NOT_IN_PLAN", "SPEND_OUTSIDE_AGREEMENT")
CASH = "CASH_WITHDRAWAL_UNEVIDENCED"


def _sum_by_recipient(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.group_by("recipient_id").agg(pl.col("amount_pence").sum().alias(name))


def clawback(books: Books, findings: pl.DataFrame) -> pl.DataFrame:
    """Every monitored recipient's position; the CSV keeps those with something to recover or evidence. Beside the
    CSV's columns (in pence): ``unevidenced_cash_pence``, the part of ``unevidenced_pence`` that is cash (a letter
    asks for that much of the cash shortfall), ``unevidenced_stated_pence``, for the monitoring trigger, and
    ``plan_unread``, why the recipient's spend was not judged against a plan not read whole (null when it was)."""
    line_rules = findings.filter(pl.col("rule").is_in([*MISUSE, "TRANSACTION_UNEVIDENCED"]))
    misuse_lines = line_rules.filter(pl.col("rule").is_in(MISUSE)).unique(["recipient_id", "line_key"])  # one row per debit
    unevidenced_lines = line_rules.filter(pl.col("rule") == "TRANSACTION_UNEVIDENCED").join(
        misuse_lines.select("recipient_id", "line_key"), on=["recipient_id", "line_key"], how="anti"
    )
    cash_short = findings.filter(pl.col("rule") == CASH)
    # unevidenced as the findings state it, misuse or not: what the UNEVIDENCED_SHARE trigger weighs
    stated = pl.concat([line_rules.filter(pl.col("rule") == "TRANSACTION_UNEVIDENCED"), cash_short])
    # of a cash shortfall, at most the cash withdrawn within the agreement is to be evidenced: the rest is misuse
    within = books.period_debits.filter(cash()).join(misuse_lines, left_on=["recipient_id", "txn_key"], right_on=["recipient_id", "line_key"],
                                                     how="anti").group_by("recipient_id").agg(pl.col("amount_pence").abs().sum().alias("__within"))
    cash_part = cash_short.join(within, on="recipient_id", how="left").select(
        "recipient_id", pl.min_horizontal("amount_pence", pl.col("__within").fill_null(0)).alias("unevidenced_cash_pence"))
    surplus = findings.filter(pl.col("rule") == "SURPLUS_ABOVE_CONTINGENCY").select("recipient_id", pl.col("amount_pence").alias("surplus_pence"))
    names = books.agreements.sort("start_date").group_by("recipient_id").agg(pl.col("recipient_name").last())
    position = surplus_position(books).drop("surplus_pence", "closing_source")
    table = (
        books.monitored.join(names, on="recipient_id", how="left")
        .join(position, on="recipient_id", how="left")
        .join(surplus, on="recipient_id", how="left")
        .join(_sum_by_recipient(misuse_lines, "misuse_pence"), on="recipient_id", how="left")
        .join(_sum_by_recipient(unevidenced_lines, "__unevidenced_lines"), on="recipient_id", how="left")
        .join(cash_part, on="recipient_id", how="left")
        .join(_sum_by_recipient(stated, "unevidenced_stated_pence"), on="recipient_id", how="left")
        .with_columns(pl.col("surplus_pence", "misuse_pence", "__unevidenced_lines", "unevidenced_cash_pence", "unevidenced_stated_pence",
                             "contingency_allowed_pence", "committed_pence").fill_null(0))
        .with_columns((pl.col("__unevidenced_lines") + pl.col("unevidenced_cash_pence")).alias("unevidenced_pence"),
                      (pl.col("surplus_pence") + pl.col("misuse_pence")).alias("recommended_recovery_pence"))
        .drop("__unevidenced_lines")
        .join(books.unread_plans.select("recipient_id", pl.col("reason").alias("plan_unread")), on="recipient_id", how="left")
    )
    return table.sort("recipient_id")


def enhanced_monitoring(books: Books, findings: pl.DataFrame, position: pl.DataFrame) -> pl.DataFrame:
    policy = books.policy
    fired = findings.group_by("recipient_id").agg(pl.col("rule").unique().alias("rules"))
    debits = books.period_debits.group_by("recipient_id").agg(pl.col("amount_pence").abs().sum().alias("debits_pence"))
    frame = (
        position.join(fired, on="recipient_id", how="left")
        .join(annualised_payments(books), on="recipient_id", how="left")
        .join(debits, on="recipient_id", how="left")
        .with_columns(pl.col("annualised_pence", "debits_pence").fill_null(0), pl.col("rules").fill_null([]))
    )
    has = lambda rule: pl.col("rules").list.contains(rule)  # noqa: E731
    share = (pl.col("debits_pence") > 0) & (pl.col("unevidenced_stated_pence") * 10000 >= pl.col("debits_pence") * policy.unevidenced_share_bp)
    checks = {
        "HIGH_VALUE": (pl.col("annualised_pence") >= policy.high_value_annual_pence,
                       pl.format("annualised payments {}", format_pounds(pl.col("annualised_pence")))),
        "PROHIBITED_SPEND": (has("PROHIBITED_SPEND"), pl.lit("prohibited spend in the period")),
        "RECOVERY": (pl.col("recommended_recovery_pence") >= policy.recovery_threshold_pence,
                     pl.format("recommended recovery {}", format_pounds(pl.col("recommended_recovery_pence")))),
        "STATEMENT_MISSING": (has("STATEMENT_MISSING"), pl.lit("no statement line in the period")),
        "UNEVIDENCED_SHARE": (share, pl.format("unevidenced {} of {} debits", format_pounds(pl.col("unevidenced_stated_pence")), format_pounds(pl.col("debits_pence")))),
        "UNREGISTERED_ACCOUNT": (has("UNREGISTERED_ACCOUNT"), pl.lit("statement from an unregistered account")),
    }
    triggers = pl.concat_list([pl.when(check).then(pl.lit(name)) for name, (check, _) in checks.items()]).list.drop_nulls()
    details = pl.concat_list([pl.when(check).then(words) for check, words in checks.values()]).list.drop_nulls()
    return (
        frame.with_columns(triggers.list.sort().list.join(";").alias("triggers"), details.list.join("; ").alias("detail"))
        .filter(pl.col("triggers") != "")
        .select("recipient_id", "recipient_name", "triggers", "detail")
        .sort("recipient_id")
    )


def input_rejected(rejections: pl.DataFrame) -> pl.DataFrame:
    """INPUT_REJECTED: a file (medium); a row of agreements, whose recipient is then not monitored at all (high);
    a row of the council's other tables, which every recipient's checks rely on (medium); a row of a recipient's
    file, or a row that repeats another and is counted once (low)."""
    whole = pl.col("source_line") <= 0
    council_row = ~pl.col("source_file").str.contains("/", literal=True)
    agreement_row = council_row & pl.col("source_file").str.to_lowercase().str.starts_with("agreements.")
    return rejections.select(
        pl.col("recipient_id"),
        pl.lit("INPUT_REJECTED").alias("rule"),
        pl.when(pl.col("reason").str.starts_with(REPEAT)).then(pl.lit("low"))
        .when(whole | (council_row & ~agreement_row)).then(pl.lit("medium"))
        .when(agreement_row).then(pl.lit("high")).otherwise(pl.lit("low")).alias("severity"),
        pl.lit(None, pl.Int64).alias("amount_pence"),
        pl.lit(None, pl.Date).alias("date"),
        pl.lit(None, pl.String).alias("counterparty"),
        pl.lit(None, pl.String).alias("transaction_ref"),
        located(pl.col("source_file"), pl.col("source_line")).alias("source_file"),
        pl.when(whole).then(pl.format("file not used: {}", pl.col("reason")))
        .otherwise(pl.format("row not used: {}", pl.col("reason"))).alias("detail"),
    ).unique(maintain_order=True)


def transactions_view(books: Books, evidence: Evidence, findings: pl.DataFrame) -> pl.DataFrame:
    """Every bank line of the period (duplicates too), with its evidence status and the reason."""
    policy = books.policy
    flagged = findings.filter(pl.col("line_key").is_not_null() & pl.col("rule").is_in(
        [*MISUSE, "TRANSACTION_UNEVIDENCED"])).group_by("line_key").agg(pl.col("rule").unique().sort().str.join(";").alias("rules"))
    matches = pl.concat([evidence.debit_matches, evidence.credit_matches]).rename({LINE: "txn_key"})
    lines = (
        books.in_period(books.ledger)
        .join(matches, on="txn_key", how="left")
        .with_columns(located(pl.col("source_file"), pl.col("source_line")).alias("where"))
        .join(flagged, left_on="txn_key", right_on="line_key", how="left")
        .sort("recipient_id", "date", "source_file", "source_line", "txn_key")  # in reading order; txn_key decides a tie
    )
    debit = pl.col("amount_pence") < 0
    is_prohibited, bank_charge = prohibited(policy), allowed_bank_charge(policy)
    status = (
        pl.when(~pl.col("kept")).then(pl.lit("duplicate"))
        .when(~debit & pl.col("doc_kind").is_not_null()).then(pl.lit("council_payment"))
        .when(~debit).then(pl.lit("credit"))
        .when(is_prohibited).then(pl.lit("prohibited"))
        .when(cash()).then(pl.lit("cash"))
        .when(pl.col("doc_kind").is_not_null()).then(pl.lit("evidenced"))
        .when(bank_charge).then(pl.lit("allowed_bank_charge"))
        .otherwise(pl.lit("unevidenced"))
    )
    matched = pl.format("matched to {} at {}", pl.col("doc_ref"), pl.col("doc_source"))
    reason = (
        pl.when(~pl.col("kept")).then(pl.format("same transaction as {}: counted once", pl.col("duplicate_of")))
        .when(debit & is_prohibited).then(pl.format("prohibited merchant class {}", pl.col("merchant_class"))
                                          + pl.when(pl.col("doc_kind").is_not_null()).then(pl.lit("; ") + matched).otherwise(pl.lit("")))
        .when(pl.col("doc_kind").is_not_null()).then(matched)
        .when(~debit).then(pl.lit("credit: no council payment of this amount within the window"))
        .when(cash()).then(pl.lit("cash withdrawal: judged against cash receipts for the period"))
        .when(bank_charge).then(pl.lit("bank charge within the allowance: no receipt needed"))
        .otherwise(pl.format("no receipt, payslip or payroll liability of {} within {} days", format_pounds(pl.col("amount_pence").abs()), pl.lit(policy.date_window_days)))
    )
    return lines.select(
        "recipient_id",
        "date",
        pl.col("amount_pence"),
        pl.when(debit).then(pl.lit("debit")).otherwise(pl.lit("credit")).alias("direction"),
        pl.when(pl.col("balance_given")).then(pl.col("balance_pence")).alias("balance_pence"),
        pl.col("counterparty").fill_null(""),
        pl.col("description").fill_null(""),
        mask_account(pl.col("account_id")).alias("account"),
        pl.col("merchant_class"),
        status.alias("evidence_status"),
        pl.when(pl.col("kept")).then(pl.col("doc_ref")).fill_null("").alias("evidence_ref"),  # a duplicate shares its txn_key
        pl.concat_str(reason, pl.when(pl.col("rules").is_not_null()).then(pl.format(" [{}]", pl.col("rules"))).otherwise(pl.lit(""))).alias("reason"),
        pl.col("transaction_ref"),
        pl.col("where").alias("source_file"),
        pl.col("duplicate_of").fill_null(""),
    )


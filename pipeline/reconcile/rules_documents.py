"""Rules about receipts and payslips: duplicates, VAT, payroll evidence and DBS checks.

Receipt rules judge receipts dated in the period; payslip rules judge payslips
paid in the period. A duplicate receipt is reported as DUPLICATE_RECEIPT. A copy
of another (the same supplier, date and gross) is then set aside: it evidences
nothing and its VAT is judged on the original. A receipt that only reuses another's
receipt_id is another purchase, and counts like any other.
"""

from __future__ import annotations

import polars as pl

from pipeline.money import format_pounds, round_div
from pipeline.reconcile import vat_number
from pipeline.reconcile.books import Books
from pipeline.reconcile.evidence import PAYSLIP, Evidence, document_key
from pipeline.reconcile.findings import finding, located
from pipeline.reconcile.matching import DOC


def _receipt_finding(receipts: pl.DataFrame, rule: str, detail: pl.Expr | str, amount: pl.Expr | None = None) -> pl.DataFrame:
    return finding(
        receipts,
        rule,
        amount=pl.col("vat_pence") if amount is None else amount,
        date=pl.col("date"),
        counterparty=pl.col("supplier"),
        transaction_ref=pl.col("receipt_id"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=detail,
    )


def _judged(books: Books) -> pl.DataFrame:
    return books.in_period(books.receipts).filter(~pl.col("is_copy"))


def duplicate_receipt(books: Books) -> pl.DataFrame:
    duplicates = books.in_period(books.receipts).filter(pl.col("is_duplicate"))
    return _receipt_finding(
        duplicates,
        "DUPLICATE_RECEIPT",
        pl.when(pl.col("is_copy"))
        .then(pl.format("same supplier, date and gross as {}: a copy, so it evidences nothing and its VAT is judged there",
                        pl.col("duplicate_of")))
        .otherwise(pl.format("same receipt_id as {}, for another purchase: it still evidences its debit and its VAT is judged",
                             pl.col("duplicate_of"))),
        amount=pl.col("gross_pence"),
    )


def vat_number_invalid(books: Books) -> pl.DataFrame:
    receipts = _judged(books).filter(pl.col("supplier_vat_number").is_not_null())
    # each distinct number checked once: receipts repeat their suppliers' numbers many times over
    numbers = receipts.select(pl.col("supplier_vat_number").unique())
    invalid = numbers.filter(~vat_number.is_valid(pl.col("supplier_vat_number")))["supplier_vat_number"]
    receipts = receipts.filter(pl.col("supplier_vat_number").is_in(invalid.implode()))
    return _receipt_finding(receipts, "VAT_NUMBER_INVALID",
                            pl.format("VAT number '{}' fails HMRC's check-digit test", pl.col("supplier_vat_number")))


def vat_number_missing(books: Books) -> pl.DataFrame:
    receipts = _judged(books).filter((pl.col("vat_pence") > 0) & pl.col("supplier_vat_number").is_null())
    return _receipt_finding(receipts, "VAT_NUMBER_MISSING", "VAT charged but no supplier VAT number on the receipt")


def vat_arithmetic(books: Books) -> pl.DataFrame:
    """net + vat = gross within 1p, and vat = net x a VAT rate within the tolerance."""
    policy = books.policy
    receipts = _judged(books).filter(pl.col("net_pence").is_not_null() | pl.col("vat_pence").is_not_null()).with_columns(
        pl.coalesce(pl.col("net_pence"), pl.col("gross_pence") - pl.col("vat_pence")).alias("net"),
        pl.coalesce(pl.col("vat_pence"), pl.col("gross_pence") - pl.col("net_pence")).alias("vat"),
    )
    adds_up = (pl.col("net") + pl.col("vat") - pl.col("gross_pence")).abs() <= 1
    # |vat - net x rate| <= tolerance, in whole numbers: |vat x 10000 - net x bp| <= tolerance x 10000
    at_a_rate = pl.any_horizontal(
        (pl.col("vat") * 10000 - pl.col("net") * rate).abs() <= policy.vat_tolerance_pence * 10000 for rate in policy.vat_rates_bp
    )
    names = [f"{rate / 100:g}%" for rate in policy.vat_rates_bp]
    rates = " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
    # the rate whose VAT is nearest the receipt's, and what it would have been: the likely slip
    expected = [round_div(pl.col("net") * rate, 10000) for rate in policy.vat_rates_bp]
    nearest = pl.min_horizontal((pl.col("vat") - vat).abs() for vat in expected)
    would_be = pl.coalesce(pl.when((pl.col("vat") - vat).abs() == nearest).then(pl.format("at {} it would be {}", pl.lit(name), format_pounds(vat)))
                           for name, vat in zip(names, expected))
    wrong = receipts.filter(~adds_up | ~at_a_rate)
    return _receipt_finding(
        wrong,
        "VAT_ARITHMETIC",
        pl.when(~adds_up)
        .then(pl.format("net {} + VAT {} does not equal gross {}", format_pounds(pl.col("net")), format_pounds(pl.col("vat")), format_pounds(pl.col("gross_pence"))))
        .otherwise(pl.format("VAT {} is not net {} at {} ({})", format_pounds(pl.col("vat")), format_pounds(pl.col("net")), pl.lit(rates), would_be)),
        amount=pl.col("vat"),
    )


def _vat_on(books: Books, categories: tuple[str, ...], rule: str, words: str) -> pl.DataFrame:
    receipts = _judged(books).filter((pl.col("vat_pence") > 0) & pl.col("resolved_category").is_in(list(categories)))
    return _receipt_finding(receipts, rule, pl.format(words, pl.col("resolved_category")))


def vat_on_exempt_supply(books: Books) -> pl.DataFrame:
    return _vat_on(books, books.policy.vat_exempt_categories, "VAT_ON_EXEMPT_SUPPLY",
                   "VAT charged on {}, which is an exempt supply: ask the supplier for a corrected invoice")


def vat_relief_missed(books: Books) -> pl.DataFrame:
    return _vat_on(books, books.policy.vat_relief_categories, "VAT_RELIEF_MISSED",
                   "VAT charged on {}: disabled-person zero-rating should apply (eligibility declaration)")


def vat_costing_shortfall(books: Books) -> pl.DataFrame:
    receipts = _judged(books).filter((pl.col("vat_pence") > 0) & (pl.col("costed_vat") == "exclusive"))
    by_category = pl.col("line_id").is_null() | (pl.col("line_id") != pl.col("resolved_line_id"))
    return _receipt_finding(receipts, "VAT_COSTING_SHORTFALL", pl.format(
        "VAT paid against line {}{}, which was costed exclusive of VAT", pl.col("resolved_line_id"),
        pl.when(by_category).then(pl.lit(" (the receipt names no line of the plan; its category is that line's alone)"))
        .otherwise(pl.lit(""))))


def _period_payslips(books: Books) -> pl.DataFrame:
    return books.in_period(books.payslips, "pay_date")


def _payslip_finding(payslips: pl.DataFrame, rule: str, detail: pl.Expr | str) -> pl.DataFrame:
    return finding(
        payslips,
        rule,
        amount=pl.col("net_pay_pence"),
        date=pl.col("pay_date"),
        counterparty=pl.coalesce(pl.col("employee_name"), pl.col("employee_id")),
        transaction_ref=pl.col("employee_id"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=detail,
    )


def payroll_unmatched(books: Books, evidence: Evidence) -> pl.DataFrame:
    """A payslip of no net pay (all of it deducted, or unpaid leave) has no debit to look for."""
    payslips = _period_payslips(books).filter(pl.col("net_pay_pence") > 0).with_columns(
        document_key(PAYSLIP).alias(DOC)
    ).join(evidence.debit_matches, on=DOC, how="anti")
    return _payslip_finding(payslips, "PAYROLL_UNMATCHED",
                            f"no debit of the net pay within {books.policy.date_window_days} days of the pay date")


def employee_no_dbs(books: Books) -> pl.DataFrame:
    """A payslip whose employee had no enhanced DBS check on record on its pay date: none at all, or only one
    dated later (a check with no date counts as on record)."""
    enhanced = books.employees.filter(pl.col("dbs_level") == "enhanced").select("recipient_id", "employee_id", "dbs_check_date")
    levels = books.employees.group_by("recipient_id", "employee_id").agg(pl.col("dbs_level").drop_nulls().sort().str.join(", ").alias("levels"))
    payslips = _period_payslips(books)
    checked = payslips.join(enhanced, on=["recipient_id", "employee_id"], how="inner").filter(
        pl.col("dbs_check_date").is_null() | (pl.col("dbs_check_date") <= pl.col("pay_date")))
    later = enhanced.group_by("recipient_id", "employee_id").agg(pl.col("dbs_check_date").min().alias("first_enhanced"))
    unchecked = (payslips.join(checked, on=["source_file", "source_line"], how="anti")
                 .join(levels, on=["recipient_id", "employee_id"], how="left")
                 .join(later, on=["recipient_id", "employee_id"], how="left"))
    return _payslip_finding(
        unchecked,
        "EMPLOYEE_NO_DBS",
        pl.when(pl.col("levels").is_null()).then(pl.lit("employee is not on the employees record"))
        .when(pl.col("first_enhanced").is_not_null())
        .then(pl.format("enhanced DBS check dated {}, after this pay date", pl.col("first_enhanced").dt.strftime("%Y-%m-%d")))
        .when(pl.col("levels") == "").then(pl.lit("DBS check on record: level not recorded, so not enhanced"))
        .otherwise(pl.format("DBS check on record: {}, not enhanced", pl.col("levels"))),
    )

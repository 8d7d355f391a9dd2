"""What explains each bank line: the documents matched to it (``outcome.transactions_view`` turns them into its evidence status).

Debits are matched to receipts (gross), payslips (net pay), and the month's
payroll liabilities paid to HMRC (tax and both NI shares) or to a pension
provider (both pension shares) of payslips paid in the same or the previous
month. Credits are matched to the council's payments.

The period's neighbours take part too, so that each document explains one line
across months as well: documents are matched in three rounds, those dated
before the period, then the period's, then those after it, each round taking
only lines the earlier ones left. Last month's receipt keeps the debit it
explained last month; a council payment of next month cannot take a credit
from this month's payment; a receipt dated 2 July still explains a debit of 29
June nobody else explains. Lines and documents from the previous month (and a
window before it) to a window after the period take part: enough for last
month's documents to claim what they did in its run, and a bounded number of
pairs however much history is on file. Only the period's lines and documents
are judged.

Prohibited payments are matched last, to receipts the others left: they need
no evidence, but SPEND_NOT_IN_PLAN judges the category of a receipt for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from pipeline.reconcile.books import Books
from pipeline.reconcile.classify import cash, prohibited
from pipeline.reconcile.findings import located
from pipeline.reconcile.matching import DOC, LINE, assign, pair_candidates


@dataclass(frozen=True)
class Evidence:
    debit_matches: pl.DataFrame  # LINE, DOC, doc_kind, doc_ref, doc_source
    credit_matches: pl.DataFrame  # LINE, DOC (la payment), doc_ref, doc_source


def _horizon(books: Books, column: str) -> pl.Expr:
    """Dated from the previous month's first day less a window, to the period's last day plus a window."""
    window = timedelta(days=books.policy.date_window_days)
    previous = (books.period.start - timedelta(days=1)).replace(day=1)
    return pl.col(column).is_between(previous - window, books.period.end + window)


def _lines(books: Books, debits: bool, prohibited_only: bool = False) -> pl.DataFrame:
    """Credits; or debits that need evidence (not cash, not prohibited); or, ``prohibited_only``, prohibited ones."""
    lines = books.lines.filter(_horizon(books, "date"))
    lines = lines.filter(pl.col("amount_pence") < 0) if debits else lines.filter(pl.col("amount_pence") > 0)
    if debits:
        lines = lines.filter(prohibited(books.policy) if prohibited_only else ~prohibited(books.policy) & ~cash())
    return lines.sort("recipient_id", "account_id", "pos").with_row_index("line_order").select(
        "recipient_id",
        pl.col("txn_key").alias(LINE),
        pl.col("amount_pence").abs().alias("amount"),
        "date",
        pl.col("line_order").cast(pl.Int64),
        pl.concat_str(pl.col("counterparty").fill_null(""), pl.lit(" "), pl.col("description").fill_null("")).alias("line_text"),
        "merchant_class",
    )


RECEIPT, PAYSLIP, COUNCIL_PAYMENT = "receipt", "payslip", "la"  # kinds of document a line is matched to
LIABILITIES_DUE_DAY = 22  # of the month after the pay month
OUTSIDE_SPAN = 1000  # days: ranks a liability payment outside its span after every one inside


def document_key(kind: str) -> pl.Expr:
    """The key a document is matched by: its kind and where it came from ("receipt|receipts/R1/r.csv:2").
    Rules look up what was matched by this key, so it is spelled here alone."""
    return pl.concat_str(pl.lit(f"{kind}|"), located(pl.col("source_file"), pl.col("source_line")))


def is_cash_receipt() -> pl.Expr:
    return pl.col("payment_method").fill_null("") == "cash"


def _documents(books: Books) -> pl.DataFrame:
    """Receipts and payslips; receipts paid in cash after the others, so that of two equally near, the one paid
    from the account explains a debit. A cash receipt may still explain one whose counterparty shares a word with
    its supplier (a word of three or more letters or digits): "cash" on a receipt is the family's word, and a card
    payment of the same amount to that shop within the window is that purchase (it then no longer counts against
    cash withdrawals, see ``rules_spend.cash_withdrawal_unevidenced``)."""
    source = located(pl.col("source_file"), pl.col("source_line"))
    receipts = books.receipts.filter(~pl.col("is_copy") & _horizon(books, "date")).sort(is_cash_receipt(), maintain_order=True).select(
        "recipient_id",
        document_key(RECEIPT).alias(DOC),
        pl.lit("receipt").alias("doc_kind"),
        pl.col("gross_pence").alias("amount"),
        pl.col("date").alias("doc_date"),
        pl.col("supplier").alias("doc_text"),
        pl.format("receipt {} ({})", pl.col("receipt_id"), pl.col("supplier")).alias("doc_ref"),
        source.alias("doc_source"),
        is_cash_receipt().alias("doc_cash"),
    )
    payslips = books.payslips.filter(_horizon(books, "pay_date")).select(
        "recipient_id",
        document_key(PAYSLIP).alias(DOC),
        pl.lit("payslip").alias("doc_kind"),
        pl.col("net_pay_pence").alias("amount"),
        pl.col("pay_date").alias("doc_date"),
        pl.col("employee_name").fill_null("").alias("doc_text"),
        pl.format("payslip {} paid {}", pl.col("employee_id"), pl.col("pay_date")).alias("doc_ref"),
        source.alias("doc_source"),
        pl.lit(False).alias("doc_cash"),
    )
    return pl.concat([receipts, payslips]).with_row_index("doc_order").with_columns(pl.col("doc_order").cast(pl.Int64))


def liabilities(payslips: pl.DataFrame) -> pl.DataFrame:
    """Per recipient and pay month: what is owed to HMRC and to the pension provider."""
    return payslips.group_by("recipient_id", pl.col("pay_date").dt.truncate("1mo").alias("month")).agg(
        (pl.col("tax_pence") + pl.col("employee_ni_pence") + pl.col("employer_ni_pence")).sum().alias("hmrc"),
        (pl.col("employee_pension_pence") + pl.col("employer_pension_pence")).sum().alias("pension"),
        located(pl.col("source_file"), pl.col("source_line")).sort().first().alias("doc_source"),
        pl.col("pay_date").min().alias("first_paid"),
    )


def _liability_candidates(lines: pl.DataFrame, payslips: pl.DataFrame, offset: int) -> pl.DataFrame:
    """Debits to HMRC or a pension provider paired with a month's liabilities of the same amount, paid in that month
    or the next. A month's liabilities are paid between its first pay day and the day they fall due, the 22nd of
    the next month (HMRC's day for PAYE paid electronically, and the pensions regulator's for contributions):
    debits in that span rank first, the earliest first, then the others by how far outside it they are. So
    June's payment of 22 June is May's, not the one of 22 May (which paid April's, whose payslips may be gone),
    and a payment of 28 June for June's payslips of the 25th keeps them from one of 3 July. The ranking reads
    no period: each month's run pairs them alike. ``doc_date``, the month's end, places the liabilities in
    ``_in_rounds``'s rounds."""
    owed = liabilities(payslips).unpivot(
        index=["recipient_id", "month", "doc_source", "first_paid"], on=["hmrc", "pension"], variable_name="merchant_class", value_name="amount"
    ).filter(pl.col("amount") > 0)
    owed = owed.with_columns(
        pl.format("{}|{}|{}", pl.col("merchant_class"), pl.col("recipient_id"), pl.col("month")).alias(DOC),
        (pl.col("month").dt.month_end()).alias("doc_date"),
        pl.format("{} liabilities of payslips paid in {}", pl.col("merchant_class").str.to_uppercase(), pl.col("month").dt.strftime("%Y-%m")).alias("doc_ref"),
        (pl.struct("month", "merchant_class", "recipient_id").rank("dense").cast(pl.Int64) + offset).alias("doc_order"),  # one each
        pl.col("merchant_class").alias("doc_kind"),
    )
    pairs = lines.join(owed, on=["recipient_id", "amount", "merchant_class"], how="inner")
    line_month = pl.col("date").dt.truncate("1mo")
    same_or_previous = (pl.col("month") == line_month) | (pl.col("month") == line_month.dt.offset_by("-1mo"))
    due = pl.col("month").dt.offset_by(f"1mo{LIABILITIES_DUE_DAY - 1}d")
    early, late = (pl.col("first_paid") - pl.col("date")).dt.total_days(), (pl.col("date") - due).dt.total_days()
    outside = pl.max_horizontal(early, late)
    return pairs.filter(same_or_previous).with_columns(
        pl.when(outside > 0).then(OUTSIDE_SPAN + outside).otherwise(-early).alias("distance"),
        pl.lit(0, pl.Int64).alias("similarity"),
    )


_CANDIDATE_COLUMNS = [LINE, DOC, "distance", "similarity", "line_order", "doc_order", "doc_kind", "doc_ref", "doc_source",
                      "recipient_id", "amount", "doc_date"]
_MATCH_COLUMNS = [LINE, DOC, "doc_kind", "doc_ref", "doc_source"]


def _in_rounds(candidates: pl.DataFrame, books: Books) -> pl.DataFrame:
    """``assign`` over the documents dated before the period, then the period's, then those after it, each
    round on the lines the earlier ones left: the order in which monthly runs met them."""
    rounds = pl.when(pl.col("doc_date") < books.period.start).then(0).when(pl.col("doc_date") <= books.period.end).then(1).otherwise(2)
    candidates = candidates.with_columns(rounds.alias("__round"))
    chosen = [candidates.clear()]
    for number in range(3):
        taken = pl.concat(chosen).select(LINE)
        chosen.append(assign(candidates.filter(pl.col("__round") == number).join(taken, on=LINE, how="anti")))
    return pl.concat(chosen).select(_MATCH_COLUMNS)


def _prohibited_candidates(books: Books, documents: pl.DataFrame, taken: pl.DataFrame) -> pl.DataFrame:
    """A receipt for a prohibited payment (PROHIBITED_SPEND fires "whether or not a receipt exists") is judged by
    SPEND_NOT_IN_PLAN too. Such a payment is misuse whatever its receipt, so matching it can only add a finding:
    it takes a receipt no other debit took, that names its merchant (shares a word with it), and not one paid
    in cash, which counts against the month's cash withdrawals instead."""
    left = documents.filter((pl.col("doc_kind") == "receipt") & ~pl.col("doc_cash")).join(taken.select(DOC), on=DOC, how="anti")
    return pair_candidates(_lines(books, debits=True, prohibited_only=True), left, books.policy.date_window_days).filter(
        pl.col("similarity") > 0).select(_CANDIDATE_COLUMNS)


def match(books: Books) -> Evidence:
    window = books.policy.date_window_days
    debits = _lines(books, debits=True)
    documents = _documents(books)
    candidates = [
        # a receipt the family paid in cash explains a debit only from a shop it names
        pair_candidates(debits, documents, window).filter(~pl.col("doc_cash") | (pl.col("similarity") > 0)).select(_CANDIDATE_COLUMNS),
        _liability_candidates(debits, books.payslips, offset=documents.height).select(_CANDIDATE_COLUMNS),
    ]
    debit_matches = _in_rounds(pl.concat(candidates, how="vertical_relaxed"), books)
    debit_matches = pl.concat([debit_matches, _in_rounds(_prohibited_candidates(books, documents, debit_matches), books)])

    credits = _lines(books, debits=False)
    source = located(pl.col("source_file"), pl.col("source_line"))
    payments = books.la_payments.filter(_horizon(books, "payment_date")).with_row_index("doc_order").select(
        "recipient_id",
        document_key(COUNCIL_PAYMENT).alias(DOC),
        pl.col("amount_pence").alias("amount"),
        pl.col("payment_date").alias("doc_date"),
        pl.col("reference").fill_null("").alias("doc_text"),
        pl.col("doc_order").cast(pl.Int64),
        pl.format("council payment {} on {}", pl.col("reference").fill_null(""), pl.col("payment_date")).alias("doc_ref"),
        source.alias("doc_source"),
        pl.lit("council_payment").alias("doc_kind"),
    )
    credit_matches = _in_rounds(pair_candidates(credits, payments, window).select(_CANDIDATE_COLUMNS), books)
    return Evidence(debit_matches, credit_matches)

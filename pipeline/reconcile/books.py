"""Everything the rules read, prepared once per run from the canonical frames.

``prepare`` de-duplicates the bank lines, classifies merchants, resolves each
receipt's category and provision line, marks duplicate receipts, and notes
which recipients are monitored at all (notional-only recipients are not).
Rules then read these frames and never re-derive them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.accounts import CARD, is_card
from pipeline.ingest.columns import choice_key
from pipeline.period import Period
from pipeline.policy import Policy
from pipeline.reconcile import ledger
from pipeline.reconcile.classify import merchant_class
from pipeline.reconcile.findings import located

MONITORED_MECHANISMS = ("direct", "third_party", "combined")


@dataclass(frozen=True)
class Books:
    period: Period
    policy: Policy
    agreements: pl.DataFrame  # non-notional agreements, with ``active``
    provision: pl.DataFrame
    la_payments: pl.DataFrame
    employees: pl.DataFrame
    receipts: pl.DataFrame  # with resolved_category, resolved_line_id, is_duplicate, is_copy, duplicate_of (the copied one first)
    payslips: pl.DataFrame
    statements: pl.DataFrame
    ledger: pl.DataFrame  # every bank line with kept/duplicate_of/pos/balance_given/merchant_class
    monitored: pl.DataFrame  # recipient_id of every recipient with a non-notional agreement
    unread_plans: pl.DataFrame  # each recipient whose Section J plan was not read whole, with why (pipeline.ingest.plans)

    @property
    def lines(self) -> pl.DataFrame:
        """De-duplicated bank lines of monitored recipients."""
        return self.ledger.filter(pl.col("kept"))

    def in_period(self, frame: pl.DataFrame, column: str = "date") -> pl.DataFrame:
        return frame.filter(pl.col(column).is_between(self.period.start, self.period.end))

    @property
    def period_debits(self) -> pl.DataFrame:
        return self.in_period(self.lines).filter(pl.col("amount_pence") < 0)


def as_written_in(frame: pl.DataFrame, column: str, reference: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each recipient's ``column`` (an id) spelled as the council's ``reference`` table spells
    the same id in any case: a receipt's "l6" claims line "L6", a payslip's "e0005" is employee "E0005"."""
    spellings = reference.select(
        "recipient_id", pl.col(column).str.to_lowercase().alias("__key"), pl.col(column).alias("__spelled")
    ).drop_nulls("__key").unique(["recipient_id", "__key"], keep="first", maintain_order=True)
    return (
        frame.with_columns(pl.col(column).str.to_lowercase().alias("__key"))
        .join(spellings, on=["recipient_id", "__key"], how="left", maintain_order="left")
        .with_columns(pl.coalesce("__spelled", column).alias(column))
        .drop("__key", "__spelled")
    )


def _active(period: Period) -> pl.Expr:
    return (pl.col("start_date") <= period.end) & (pl.col("end_date").is_null() | (pl.col("end_date") >= period.start))


def _receipts(receipts: pl.DataFrame, provision: pl.DataFrame, unread_plans: pl.DataFrame) -> pl.DataFrame:
    lines = provision.select("recipient_id", "line_id", pl.col("category").alias("line_category"), "costed_vat")
    # a receipt naming no line but a category that exactly one line has is claimed against that line, unless
    # the plan was not read whole: another line of the category may be the one lost
    single = (
        provision.join(unread_plans, on="recipient_id", how="anti").group_by("recipient_id", "category")
        .agg(pl.col("line_id").first().alias("only_line"), pl.len().alias("__n"))
        .filter(pl.col("__n") == 1)
        .drop("__n")
    )
    with_line = (
        receipts.with_columns(choice_key(pl.col("category")))
        .join(lines, on=["recipient_id", "line_id"], how="left")
        .with_columns(pl.coalesce(pl.col("category"), pl.col("line_category")).alias("resolved_category"))
        .join(single, left_on=["recipient_id", "resolved_category"], right_on=["recipient_id", "category"], how="left")
        .with_columns(
            pl.when(pl.col("line_category").is_not_null()).then(pl.col("line_id")).otherwise(pl.col("only_line")).alias("resolved_line_id")
        )
        .drop("only_line", "line_category", "costed_vat")
        .join(lines.select("recipient_id", pl.col("line_id").alias("resolved_line_id"), "costed_vat"), on=["recipient_id", "resolved_line_id"], how="left")
    )
    # in date order, a receipt is a duplicate of the first one with its id, or with its supplier, date and gross;
    # only the second is a copy of the same purchase, which evidences nothing again and is not judged again
    # (a recipient may reuse a reference of their own for another supplier's receipt: that receipt still counts)
    ordered = with_line.sort("recipient_id", "date", "source_file", "source_line").with_columns(
        pl.col("supplier").str.to_lowercase().str.replace_all(r"\s+", " ").alias("__supplier"),
        located(pl.col("source_file"), pl.col("source_line")).alias("__located"),
    )
    by_id = ("recipient_id", "receipt_id")
    by_content = ("recipient_id", "__supplier", "date", "gross_pence")
    same_id = ~pl.struct(*by_id).is_first_distinct()  # a hash of each key: a window per key was 20 times slower
    same_content = ~pl.struct(*by_content).is_first_distinct()
    return ordered.with_columns(
        (same_id | same_content).alias("is_duplicate"),
        same_content.alias("is_copy"),
        pl.when(same_content).then(pl.col("__located").first().over(*by_content))
        .when(same_id).then(pl.col("__located").first().over(*by_id)).alias("duplicate_of"),
    ).drop("__supplier", "__located")


def _single(frame: pl.DataFrame, column: str, key: str = "recipient_id") -> pl.DataFrame:
    """key -> its one non-blank ``column`` value, where it has exactly one."""
    return frame.filter(pl.col(column).is_not_null() & (pl.col(column) != "")).group_by(key).agg(
        pl.col(column).unique().alias("__values")
    ).filter(pl.col("__values").list.len() == 1).select(key, pl.col("__values").list.first().alias(column))


def _repeats(unnamed: pl.DataFrame, named: pl.DataFrame) -> pl.DataFrame:
    """statement_id -> the one named account whose lines (day, amount, words) the statement repeats."""
    same = ["recipient_id", "date", "amount_pence", "__text"]
    text = ledger.description_words().alias("__text")
    return _single(
        unnamed.select("statement_id", *same[:3], text).join(named.select(*same[:3], text, "account_id").unique(), on=same),
        "account_id", "statement_id",
    ).rename({"account_id": "repeated"})


def _continues(unnamed: pl.DataFrame, named: pl.DataFrame, statements: pl.DataFrame) -> pl.DataFrame:
    """statement_id -> the one named account whose last balance before the statement's first line is the
    balance that line opens from (its balance less its amount): a May OFX and a June export of one account."""
    first = unnamed.sort("seq").group_by("statement_id", maintain_order=True).first().filter(pl.col("balance_pence").is_not_null())
    opening = first.select("statement_id", "recipient_id", "date", (pl.col("balance_pence") - pl.col("amount_pence")).alias("opening"))
    known = pl.concat([
        named.filter(pl.col("balance_pence").is_not_null()).sort("date", "seq").select("recipient_id", "account_id", "date", "balance_pence"),
        statements.filter(pl.col("ledger_balance_pence").is_not_null()).select(
            "recipient_id", "account_id", pl.col("ledger_balance_date").alias("date"), pl.col("ledger_balance_pence").alias("balance_pence")),
    ]).drop_nulls("date").sort("date")
    accounts = known.select("recipient_id", "account_id").unique()
    carried = opening.join(accounts, on="recipient_id").sort("date").join_asof(
        known, on="date", by=["recipient_id", "account_id"], strategy="backward", allow_exact_matches=False,
        check_sortedness=False)  # both sorted by date, as join_asof needs; polars cannot check it within groups
    return _single(carried.filter(pl.col("balance_pence") == pl.col("opening")), "account_id", "statement_id").rename(
        {"account_id": "continued"})


def _account_of_unnamed_statements(transactions: pl.DataFrame, statements: pl.DataFrame, agreements: pl.DataFrame) -> pl.DataFrame:
    """statement_id -> the account that a statement without an account number belongs to.

    Many CSV exports carry no account number. Such a statement is taken to be
    the account whose lines it repeats (one statement exported twice, as OFX and
    as CSV), else the one whose balance it carries on (May's OFX of an account,
    June's export of it), else the account the agreement registers, else the one
    account the recipient's other statements name; so that one account is not
    summed as two, and the registered account's export is not mistaken for a
    savings account's named beside it. A prepaid card is an account of its own,
    never one of these; its export without the card's number is the recipient's
    one card, when there is one.
    """
    unnamed = transactions.filter(pl.col("account_id") == "")
    named = transactions.filter((pl.col("account_id") != "") & ~is_card(pl.col("account_id")))
    registered = _single(agreements, "account_number")
    # only a recipient with a named account besides the registered one has a choice to make
    doubtful = named.join(registered, on="recipient_id", how="left").filter(
        pl.col("account_number").is_null() | (pl.col("account_id") != pl.col("account_number"))).select("recipient_id").unique()
    unnamed_doubtful, named_doubtful = (frame.join(doubtful, on="recipient_id", how="semi") for frame in (unnamed, named))
    listed = pl.concat([statements.filter(pl.col("account_id") == "").select("statement_id", "recipient_id"),
                        unnamed.select("statement_id", "recipient_id")]).unique(maintain_order=True)  # idle ones too
    banks = (listed
             .join(_repeats(unnamed_doubtful, named_doubtful), on="statement_id", how="left")
             .join(_continues(unnamed_doubtful, named_doubtful, statements), on="statement_id", how="left")
             .join(registered, on="recipient_id", how="left")
             .join(_single(named, "account_id").rename({"account_id": "named"}), on="recipient_id", how="left")
             .select("statement_id", pl.coalesce("repeated", "continued", "account_number", "named").alias("assumed_account")))
    card = pl.lit(CARD)
    cards = (statements.filter(pl.col("account_id") == card).select("statement_id", "recipient_id")
             .join(_single(statements.filter(is_card(pl.col("account_id")) & (pl.col("account_id") != card)), "account_id"),
                   on="recipient_id", how="inner")
             .select("statement_id", pl.col("account_id").alias("assumed_account")))
    return pl.concat([banks, cards])


def _fill_accounts(frame: pl.DataFrame, assumed: pl.DataFrame) -> pl.DataFrame:
    return frame.join(assumed, on="statement_id", how="left").with_columns(
        pl.coalesce("assumed_account", "account_id").alias("account_id")
    ).drop("assumed_account")


def prepare(frames: dict[str, pl.DataFrame], policy: Policy, period: Period) -> Books:
    agreements = frames["agreements"].filter(pl.col("mechanism") != "notional").with_columns(_active(period).alias("active"))
    monitored = agreements.select("recipient_id").unique()
    keep = lambda name: frames[name].join(monitored, on="recipient_id", how="semi")  # noqa: E731
    assumed = _account_of_unnamed_statements(frames["transactions"], frames["statements"], agreements)
    statements = _fill_accounts(keep("statements"), assumed)
    transactions = ledger.same_transactions(_fill_accounts(keep("transactions"), assumed))
    # one lazy query, collected once: the ledger is the largest frame of a run. On the in-memory
    # engine, as eager frames are: polars 2's default, streaming, took twice as long on a shard's lines
    lines = ledger.with_derived_balances(transactions.lazy(), statements.lazy())
    books_ledger = ledger.deduplicate(lines, statements.lazy()).with_columns(
        merchant_class(policy).alias("merchant_class"),
        pl.col("fitid").fill_null("").alias("transaction_ref"),
    ).collect(engine="in-memory")
    provision = keep("provision").with_columns(choice_key(pl.col("category")))
    employees = keep("employees")
    unread_plans = keep("unread_plans")
    return Books(
        period=period,
        policy=policy,
        agreements=agreements,
        provision=provision,
        la_payments=keep("la_payments"),
        employees=employees,
        receipts=_receipts(as_written_in(keep("receipts"), "line_id", provision), provision, unread_plans),
        payslips=as_written_in(keep("payslips"), "employee_id", employees),
        statements=statements,
        ledger=books_ledger,
        monitored=monitored,
        unread_plans=unread_plans,
    )

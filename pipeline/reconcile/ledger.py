"""One ledger per bank account: statements in date order, duplicates out, balances chained.

Statements are ordered by their dates (never file names); lines by date, then
statement, then position in the statement. Every sighting of one transaction
is given one ``txn_key`` (``same_transactions``), whatever format each
statement came in; the first sighting is kept and later ones are marked
``duplicate_of``. OFX lines
carry no running balance, so one is derived from the statement's LEDGERBAL
(balance after a line = ledger balance minus everything after it), which
lets OFX and CSV statements chain alike.
"""

from __future__ import annotations

import polars as pl

from pipeline.money import format_pounds
from pipeline.period import Period
from pipeline.reconcile.findings import finding, located

ACCOUNT = ["recipient_id", "account_id"]


def order_statements(statements: pl.DataFrame) -> pl.DataFrame:
    return statements.sort(*ACCOUNT, "start_date", "end_date", "statement_id", nulls_last=True).with_columns(
        pl.int_range(pl.len()).over(ACCOUNT).alias("statement_rank")
    )


def description_words() -> pl.Expr:
    """A line's description as two sightings of one transaction share it: its letters and digits, upper case."""
    return pl.col("description").fill_null("").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def same_transactions(lines: pl.DataFrame) -> pl.DataFrame:
    """``lines`` with one ``txn_key`` for every sighting of a transaction in overlapping statements.

    Reading keys a line by the bank's id (OFX FITID, a CSV's transaction id) where
    it has one, else by a fingerprint of its account, date, amount and description
    and its occurrence in the statement. One transaction can still come with two
    keys: as an OFX line (its FITID) in May's statement and a CSV line (a
    fingerprint) in June's; or in a CSV export with the account number and one
    without, whose account is known only once ``books`` has filled it in. So,
    among lines of one account with the same date, amount, description and
    occurrence in their statement, a line without a bank id takes the key of the
    first such line with one, or else of the first such line. Two lines that both
    have ids keep them: two ids are two transactions.
    """
    same = ["recipient_id", "account_id", "date", "amount_pence"]
    numbered = lines.with_row_index("__line")
    # only lines that share account, date and amount with another can be one transaction seen twice: few
    candidates = numbered.filter(pl.struct(*same).is_duplicated()).with_columns(
        description_words().alias("__text")
    ).sort("statement_id", "seq")
    candidates = candidates.with_columns(
        pl.int_range(pl.len()).over("statement_id", "date", "amount_pence", "__text").alias("__occurrence")
    )
    group = [*same, "__text", "__occurrence"]
    has_id = pl.col("fitid").fill_null("") != ""
    shared = candidates.select(
        "__line",
        pl.when(has_id).then(pl.col("txn_key"))
        .otherwise(pl.coalesce(pl.col("txn_key").filter(has_id).first().over(group), pl.col("txn_key").first().over(group)))
        .alias("__key"),
    )
    return (
        numbered.join(shared, on="__line", how="left", maintain_order="left")
        .with_columns(pl.coalesce("__key", "txn_key").alias("txn_key"))
        .drop("__line", "__key")
    )


def with_derived_balances(lines: pl.DataFrame, statements: pl.DataFrame) -> pl.DataFrame:
    """Fill OFX lines' balance from LEDGERBAL; ``balance_given`` tells a bank's balance from ours."""
    ledger = statements.select("statement_id", "ledger_balance_pence")
    total = pl.col("amount_pence").sum().over("statement_id")
    running = pl.col("amount_pence").cum_sum().over("statement_id", order_by="seq")
    derived = pl.col("ledger_balance_pence") - total + running
    return (
        lines.join(ledger, on="statement_id", how="left")
        .with_columns(
            pl.col("balance_pence").is_not_null().alias("balance_given"),
            pl.coalesce(pl.col("balance_pence"), derived).alias("balance_pence"),
        )
        .drop("ledger_balance_pence")
    )


def deduplicate(lines: pl.DataFrame, statements: pl.DataFrame) -> pl.DataFrame:
    """Every line, ordered per account, with ``kept`` and ``duplicate_of`` and ``pos`` among kept lines."""
    ranked = order_statements(statements).select("statement_id", "statement_rank")
    ordered = (
        lines.join(ranked, on="statement_id", how="left")
        .sort(*ACCOUNT, "date", "statement_rank", "seq")
        .with_columns(pl.struct("recipient_id", "txn_key").is_first_distinct().alias("kept"))  # not a window: 15 times faster
    )
    first_seen = ordered.filter(pl.col("kept")).select(
        "recipient_id", "txn_key", located(pl.col("source_file"), pl.col("source_line")).alias("__first")
    )
    ordered = ordered.join(first_seen, on=["recipient_id", "txn_key"], how="left", maintain_order="left").with_columns(
        pl.when(pl.col("kept")).then(None).otherwise(pl.col("__first")).alias("duplicate_of")
    ).drop("__first")
    positions = (
        ordered.filter(pl.col("kept"))
        .with_columns(pl.int_range(pl.len()).over(ACCOUNT).alias("pos"))
        .select("recipient_id", "txn_key", "pos")
    )
    return ordered.join(positions, on=["recipient_id", "txn_key"], how="left", maintain_order="left")


def overlapping(statements: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Statements whose dates reach into the period (a statement without dates is taken to)."""
    return statements.filter(
        (pl.col("start_date").is_null() | (pl.col("start_date") <= period.end))
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= period.start))
    )


def balance_discontinuity(ledger: pl.DataFrame, statements: pl.DataFrame, period: Period) -> pl.DataFrame:
    """BALANCE_DISCONTINUITY for statements that cover any of the period."""
    in_scope = overlapping(statements, period).select("statement_id")
    lines = ledger.join(in_scope, on="statement_id", how="semi")

    # 1. within a statement: balance = previous balance + amount
    within = lines.sort("statement_id", "seq").with_columns(
        pl.col("balance_pence").shift(1).over("statement_id").alias("previous_balance"),
        pl.col("balance_given").shift(1).over("statement_id").fill_null(False).alias("previous_given"),
    ).filter(
        pl.col("balance_given")
        & pl.col("previous_given")
        & (pl.col("balance_pence") != pl.col("previous_balance") + pl.col("amount_pence"))
    )
    within_findings = finding(
        within,
        "BALANCE_DISCONTINUITY",
        amount=pl.col("balance_pence") - pl.col("previous_balance") - pl.col("amount_pence"),
        date=pl.col("date"),
        counterparty=pl.coalesce(pl.col("counterparty"), pl.col("description")),
        transaction_ref=pl.col("transaction_ref"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=pl.format(
            "running balance {} after {} does not follow the previous balance {}: a line may be missing",
            format_pounds(pl.col("balance_pence")), format_pounds(pl.col("amount_pence")), format_pounds(pl.col("previous_balance")),
        ),
        line_key=pl.col("txn_key"),
    )

    # 2. between statements: implied opening balance vs the balance the earlier lines carry
    # the balance after each line: the last one known, plus the amounts of the lines since that carry none
    # (a statement without a balance column between two that have one)
    segment = [*ACCOUNT, "__segment"]
    kept = ledger.filter(pl.col("kept")).sort(*ACCOUNT, "pos").with_columns(
        pl.col("balance_pence").is_not_null().cum_sum().over(ACCOUNT).alias("__segment")
    ).with_columns(
        (pl.col("balance_pence").first().over(segment)
         + pl.col("amount_pence").cum_sum().over(segment) - pl.col("amount_pence").first().over(segment)).alias("carried")
    ).select(*ACCOUNT, "pos", "carried")
    twin_pos = ledger.filter(pl.col("kept")).select("recipient_id", "txn_key", pl.col("pos").alias("twin_pos"))
    firsts = (
        lines.filter(pl.col("seq") == 0)
        .drop("pos")
        .join(twin_pos, on=["recipient_id", "txn_key"], how="left")
        .with_columns((pl.col("twin_pos") - 1).alias("pos"))
        .join(kept, on=[*ACCOUNT, "pos"], how="inner")
        .join(statements.select("statement_id", "ledger_balance_pence"), on="statement_id", how="left")
    )
    statement_total = ledger.group_by("statement_id").agg(pl.col("amount_pence").sum().alias("statement_total"))
    firsts = firsts.join(statement_total, on="statement_id", how="left").with_columns(
        pl.when(pl.col("balance_given"))
        .then(pl.col("balance_pence") - pl.col("amount_pence"))
        .otherwise(pl.col("ledger_balance_pence") - pl.col("statement_total"))
        .alias("opening")
    ).filter(pl.col("carried").is_not_null() & pl.col("opening").is_not_null() & (pl.col("opening") != pl.col("carried")))
    between_findings = finding(
        firsts,
        "BALANCE_DISCONTINUITY",
        amount=pl.col("opening") - pl.col("carried"),
        date=pl.col("date"),
        counterparty=pl.coalesce(pl.col("counterparty"), pl.col("description")),
        transaction_ref=pl.col("transaction_ref"),
        source=located(pl.col("source_file"), pl.col("source_line")),
        detail=pl.format(
            "statement opens at {} but the earlier statement lines carry {}: a gap or an altered statement",
            format_pounds(pl.col("opening")), format_pounds(pl.col("carried")),
        ),
    )
    return pl.concat([within_findings, between_findings])


def closing_balances(ledger: pl.DataFrame, statements: pl.DataFrame, period: Period) -> pl.DataFrame:
    """recipient_id -> closing_balance_pence at period end (sum over accounts with a known balance),
    and ``closing_source``: the line or statement it follows from (the latest, for several accounts).

    An account's balance is the last one known on or before the period's end,
    plus the amounts of the lines after it that carry none (an export without a
    balance column after a statement with balances). A balance is known from a
    statement line, or from an OFX statement's ledger balance (LEDGERBAL as of
    DTASOF), which a statement of an account left unused carries with no line
    at all; a ledger balance comes before the lines of its own day, so a line's
    balance that day is the one taken. An account none of whose lines up to the
    period's end follows a known balance has none.
    """
    end = period.end
    from_lines = ledger.filter(pl.col("kept") & (pl.col("date") <= end)).select(
        *ACCOUNT, "date", pl.lit(1).alias("__line"), pl.col("pos"), "amount_pence", "balance_pence",
        located(pl.col("source_file"), pl.col("source_line")).alias("source"),
    )
    from_ledgers = statements.filter(
        pl.col("ledger_balance_pence").is_not_null() & pl.col("ledger_balance_date").is_not_null()
        & (pl.col("ledger_balance_date") <= end)
    ).select(
        *ACCOUNT, pl.col("ledger_balance_date").alias("date"), pl.lit(0).alias("__line"), pl.lit(None, from_lines.schema["pos"]).alias("pos"),
        pl.lit(0, from_lines.schema["amount_pence"]).alias("amount_pence"),
        pl.col("ledger_balance_pence").alias("balance_pence"), pl.col("source_file").alias("source"),
    )
    # balance after a line = (the last known balance less the running total there) + the running total now:
    # one window an account, not one a known balance
    running = pl.col("amount_pence").cum_sum()
    per_account = (
        pl.concat([from_lines, from_ledgers])
        .sort(*ACCOUNT, "date", "__line", "pos", "source", nulls_last=False)
        .group_by(ACCOUNT, maintain_order=True)
        .agg(((pl.col("balance_pence") - running).forward_fill() + running).last().alias("balance_pence"),
             pl.col("date").last(), pl.col("source").last())
        .filter(pl.col("balance_pence").is_not_null())
    )
    return per_account.sort("date", "source").group_by("recipient_id").agg(
        pl.col("balance_pence").sum().alias("closing_balance_pence"), pl.col("source").last().alias("closing_source")
    )

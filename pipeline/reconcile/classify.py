"""Merchant classes of bank lines (contract section 5, "Default merchant classes").

A line belongs to a class when its counterparty or description contains one
of the class's patterns as whole words (case-insensitive, apostrophes aside), or its MCC or OFX
TRNTYPE is one of the class's. Prohibited classes are tried first, in policy
order, then cash, HMRC, pension and bank charges: a BET365 line paid by ATM
is still gambling.
"""

from __future__ import annotations

import re

import polars as pl

from pipeline.policy import Policy

NO_CLASS = ""


APOSTROPHES = "'\u2019\u2018`"  # "THE PEOPLE'S PENSION" is the PEOPLES PENSION of the policy


def _pattern(words: tuple[str, ...]) -> str | None:
    if not words:
        return None
    words = tuple(word.translate(str.maketrans("", "", APOSTROPHES)) for word in words)
    escaped = "|".join(re.escape(word).replace(r"\ ", r"\s+").replace(" ", r"\s+") for word in words)
    return rf"(?i)(?:^|[^A-Za-z0-9])(?:{escaped})(?:$|[^A-Za-z0-9])"


def class_order(policy: Policy) -> list[str]:
    rest = [name for name in ("cash", "hmrc", "pension", "bank_charge") if name in policy.merchants]
    others = [name for name in policy.merchants if name not in rest and name not in policy.prohibited_classes]
    return [*policy.prohibited_classes, *rest, *others]


# How a debit's class decides whether it needs a document to explain it. One definition for the rules
# (TRANSACTION_UNEVIDENCED, CASH_WITHDRAWAL_UNEVIDENCED), the matching, and transactions.csv's status.
def prohibited(policy: Policy) -> pl.Expr:
    """A prohibited class: misuse whether or not a receipt exists, so needing none (``evidence`` matches it to a
    receipt only after every other debit, for SPEND_NOT_IN_PLAN)."""
    return pl.col("merchant_class").is_in(list(policy.prohibited_classes))


def cash() -> pl.Expr:
    """A cash withdrawal: judged against the period's cash receipts as a whole, so never matched to one."""
    return pl.col("merchant_class") == "cash"


def allowed_bank_charge(policy: Policy) -> pl.Expr:
    """A bank charge within the policy's allowance: needs no receipt (one may still be matched to it)."""
    return (pl.col("merchant_class") == "bank_charge") & (pl.col("amount_pence").abs() <= policy.bank_charge_max_pence)


def merchant_class(policy: Policy) -> pl.Expr:
    """String expression: the line's merchant class, or "" for none.

    Patterns are matched without apostrophes, against the text as written and, when it has any, without
    them too: PEOPLES PENSION finds "THE PEOPLE'S PENSION", and WILLIAM HILL still finds "WILLIAM HILL'S".
    """
    written = pl.concat_str(pl.col("counterparty").fill_null(""), pl.lit(" "), pl.col("description").fill_null(""))
    marks = f"[{APOSTROPHES}]"
    # " | " keeps a pattern of several words from matching across the two spellings
    text = pl.when(written.str.contains(marks)).then(
        pl.concat_str(written, pl.lit(" | "), written.str.replace_all(marks, ""))).otherwise(written)
    result = pl.lit(NO_CLASS)
    for name in reversed(class_order(policy)):
        merchant = policy.merchants[name]
        hit = pl.lit(False)
        pattern = _pattern(merchant.patterns)
        if pattern:
            hit = hit | text.str.contains(pattern)
        if merchant.mcc:
            hit = hit | pl.col("mcc").fill_null("").is_in(list(merchant.mcc))
        if merchant.trntypes:
            hit = hit | pl.col("trntype").fill_null("").is_in(list(merchant.trntypes))
        result = pl.when(hit).then(pl.lit(name)).otherwise(result)
    return result

"""Merchant classes of bank lines (contract section 5, "Default merchant classes").

A line belongs to a class when its counterparty or description contains one
of the class's patterns as whole words (case-insensitive), or its MCC or OFX
TRNTYPE is one of the class's. Prohibited classes are tried first, in policy
order, then cash, HMRC, pension and bank charges: a BET365 line paid by ATM
is still gambling.
"""

from __future__ import annotations

import re

import polars as pl

from pipeline.policy import Policy

NO_CLASS = ""


def _pattern(words: tuple[str, ...]) -> str | None:
    if not words:
        return None
    escaped = "|".join(re.escape(word).replace(r"\ ", r"\s+").replace(" ", r"\s+") for word in words)
    return rf"(?i)(?:^|[^A-Za-z0-9])(?:{escaped})(?:$|[^A-Za-z0-9])"


def class_order(policy: Policy) -> list[str]:
    rest = [name for name in ("cash", "hmrc", "pension", "bank_charge") if name in policy.merchants]
    others = [name for name in policy.merchants if name not in rest and name not in policy.prohibited_classes]
    return [*policy.prohibited_classes, *rest, *others]


def merchant_class(policy: Policy) -> pl.Expr:
    """String expression: the line's merchant class, or "" for none."""
    text = pl.concat_str(pl.col("counterparty").fill_null(""), pl.lit(" "), pl.col("description").fill_null(""))
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

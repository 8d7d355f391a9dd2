"""How a bank account number may be shown: by its last four digits only, everywhere."""

from __future__ import annotations

import polars as pl


def mask_account(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_null() | (expr == "")).then(pl.lit("")).otherwise(pl.lit("****") + expr.str.slice(-4))

"""HMRC's check of a UK VAT registration number, as a polars expression.

- 9 digits, or 12 (9 and a 3-digit branch, which is not checked): the first
  nine digits weighted 8,7,6,5,4,3,2,10,1 must sum to 0 mod 97 (the original
  "mod 97" series) or, for numbers whose first three digits are 100 or more,
  to 42 or 55 mod 97 (the "97-55" series issued since 2010). HMRC's 97-55 check
  adds 55 to the total, which gives 42; 55 is what subtracting it gives, and
  python-stdnum accepts it too. It is kept: a genuine supplier flagged
  VAT_NUMBER_INVALID sends a family chasing a good invoice, and 1 invalid
  number in 97 passing costs less.
- GDnnn (government departments, nnn < 500) and HAnnn (health authorities,
  nnn >= 500), which have no check digits.
- The 11-character forms GD8888nnnxx / HA8888nnnxx, where xx = nnn mod 97.

Spaces, dots and dashes are ignored; a GB or XI prefix is allowed.
"""

from __future__ import annotations

import polars as pl

WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 1)


def clean(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_uppercase().str.replace_all(r"[\s.\-]", "").str.replace(r"^(GB|XI)", "")


def is_valid(expr: pl.Expr) -> pl.Expr:
    number = clean(expr)
    digits = [number.str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(9)]
    weighted = sum(weight * digit for weight, digit in zip(WEIGHTS, digits)) % 97
    first_three = number.str.slice(0, 3).cast(pl.Int64, strict=False)
    standard = number.str.contains(r"^(\d{9}|\d{12})$") & (
        (weighted == 0) | ((first_three >= 100) & weighted.is_in([42, 55]))
    )
    short_code = number.str.slice(2, 3).cast(pl.Int64, strict=False)
    government = number.str.contains(r"^GD\d{3}$") & (short_code < 500)
    health = number.str.contains(r"^HA\d{3}$") & (short_code >= 500)
    long_code = number.str.slice(6, 3).cast(pl.Int64, strict=False)
    check = number.str.slice(9, 2).cast(pl.Int64, strict=False)
    long_form = (
        number.str.contains(r"^(GD|HA)8888\d{5}$")
        & pl.when(number.str.starts_with("GD")).then(long_code < 500).otherwise(long_code >= 500)
        & (check == long_code % 97)
    )
    return (standard | government | health | long_form).fill_null(False)

"""The only place where text becomes money and money becomes text.

Money inside dpmon is always ``Int64`` pence. Amounts arrive as text in many
spellings ("1234.5", "1,234.50", "£1,234.50", "(12.00)", "-£5.00", "+£3.20",
"£-5.00") and are parsed with checked string operations: digits are cut out
with a regular expression and combined as integers, so no value ever passes
through a float. Anything that does not match is null, and the caller turns
that null into a row rejection naming the column and the value.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import polars as pl

# One optional sign before or after the pound sign, or parentheses; thousands
# separators only in groups of three; at most two decimals. Up to 13 integer
# digits (15 when written with separators) keeps every value far inside Int64 pence.
_MONEY_RE = (
    r"^(?<open>\()?"
    r"(?<sign1>[+-])?(?:£|GBP)?(?<sign2>[+-])?"
    r"(?<int>[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,13})?"
    r"(?:\.(?<frac>[0-9]{1,2}))?"
    r"(?<close>\))?$"
)
# Unicode's White_Space, spelt out so Python's re and polars' regex agree on it.
_SPACES = "[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def parse_pence(expr: pl.Expr) -> pl.Expr:
    """Parse a text column of pounds into Int64 pence; null where it is not money.

    Blank text is null too: whether a blank is allowed is the caller's rule.
    """
    text = (
        expr.cast(pl.String)
        .str.replace_all(_SPACES, "")
        .str.replace_all("Â£", "£")  # a UTF-8 pound sign read as Latin-1
    )
    # The checks read the parsed groups through pl.field inside one with_fields, so the
    # regular expression runs once per cell; each struct.field(...) of it would run it again.
    has_digits = pl.field("int").is_not_null() | pl.field("frac").is_not_null()
    balanced = pl.field("open").is_null() == pl.field("close").is_null()
    signs = pl.field("sign1").is_not_null().cast(pl.Int8) + pl.field("sign2").is_not_null().cast(pl.Int8)
    valid = has_digits & balanced & (signs <= 1) & ~(pl.field("open").is_not_null() & (signs > 0))
    whole = pl.field("int").str.replace_all(",", "").fill_null("0").cast(pl.Int64)
    frac = pl.field("frac").str.pad_end(2, "0").fill_null("00").cast(pl.Int64)
    negative = (
        pl.field("open").is_not_null()
        | (pl.field("sign1") == "-").fill_null(False)
        | (pl.field("sign2") == "-").fill_null(False)
    )
    magnitude = whole * 100 + frac
    pence = pl.when(valid).then(pl.when(negative).then(-magnitude).otherwise(magnitude)).otherwise(None)
    return text.str.extract_groups(_MONEY_RE).struct.with_fields(__pence=pence).struct.field("__pence")


_MONEY_PATTERN = re.compile(_MONEY_RE.replace("(?<", "(?P<"))


def pence_of_text(text: str) -> int | None:
    """``parse_pence`` for one string: the same pattern and tests, for a few cells (a file's shape).

    A polars query costs about a millisecond to plan whatever its size, which
    is too much to spend per file on five cells. tests/test_money.py checks
    that the two agree on any text.
    """
    found = _MONEY_PATTERN.match(re.sub(_SPACES, "", text).replace("Â£", "£"))
    if found is None:
        return None
    part = found.groupdict()
    signs = (part["sign1"] is not None) + (part["sign2"] is not None)
    if (part["int"] is None and part["frac"] is None) or (part["open"] is None) != (part["close"] is None):
        return None
    if signs > 1 or (part["open"] is not None and signs):
        return None
    magnitude = int((part["int"] or "0").replace(",", "")) * 100 + int((part["frac"] or "").ljust(2, "0"))
    negative = part["open"] is not None or "-" in (part["sign1"], part["sign2"])
    return -magnitude if negative else magnitude


def format_pounds(expr: pl.Expr) -> pl.Expr:
    """Format Int64 pence as pounds with exactly two decimals ("-12.05"); null stays null."""
    magnitude = expr.abs()
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(
        sign,
        (magnitude // 100).cast(pl.String),
        pl.lit("."),
        (magnitude % 100).cast(pl.String).str.pad_start(2, "0"),
    )


MAX_PENCE = 10**15  # 13 digits of pounds, as text amounts allow: far inside Int64


def pence_from_decimal(value: Decimal) -> int | None:
    """Exact pence from a Decimal (e.g. an OFX amount); None when it has sub-penny digits or is
    beyond 13 digits of pounds.

    "-30.000" and "-3.77000" are exact pence; "1.234" is not, and is rejected
    rather than rounded, because rounding a bank amount hides an error.
    """
    try:
        scaled = value * 100
        if scaled != scaled.to_integral_value() or abs(scaled) >= MAX_PENCE:
            return None
        return int(scaled)
    except (InvalidOperation, ValueError, OverflowError):
        return None


def pounds_text(pence: int) -> str:
    """Format one pence amount the way the CSV outputs do (used for messages and JSON)."""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def sterling(pence: int, symbol: str = "£") -> str:
    """One amount as a letter shows it: "£1,234.50", "-£1,234.50" (a message without the symbol)."""
    sign = "-" if pence < 0 else ""
    return f"{sign}{symbol}{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def round_div(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """Integer division rounded half away from zero, for exact pro-rata pence.

    ``numerator`` may be negative; ``denominator`` must be positive.
    """
    half = pl.lit(denominator) // 2 if isinstance(denominator, int) else denominator // 2
    rounded = (numerator.abs() + half) // denominator
    return pl.when(numerator < 0).then(-rounded).otherwise(rounded)

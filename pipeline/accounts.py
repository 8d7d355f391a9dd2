"""How a bank account number may be shown: by its last four digits only, everywhere.

Besides the account columns, any text an output quotes can hold one: a bank
line's description ("TFR FROM 30-96-34 52763335"), a receipt's supplier, a
value a rejection quotes. Any run of eight or more digits (a UK account
number's length) is shown by its last four, as ****NNNN: an account number
alone, inside an IBAN (GB29NWBK60161310154622) or run together with its sort
code, and a card number. A shorter run (an amount, a sort code) is left alone.
"""

from __future__ import annotations

import re

import polars as pl

from pipeline.ingest.inbound import FOLDERS


def padded_account(digits: pl.Expr) -> pl.Expr:
    """UK account numbers of 6 or 7 digits are written with leading zeros to make 8, and a spreadsheet (or a
    bank's export) that took the number for a number dropped them: "09745048" saved as 9745048."""
    return pl.when(digits.str.contains(r"^[0-9]{6,7}$")).then(digits.str.pad_start(8, "0")).otherwise(digits)


def statement_account(raw: pl.Expr, short_is_unknown: bool) -> pl.Expr:
    """A statement's account number from the text its bank gives: the last group of digits when a sort code
    comes first ("40-47-84 7719866"), else the last 8 digits (a sort code and number run together, an
    IBAN); leading zeros put back; "" for a masked number ("****1234"), and for fewer than 6 digits when
    ``short_is_unknown``."""
    last_group = raw.str.extract(r"([0-9]+)[^0-9]*$", 1)
    digits = (pl.when(last_group.str.len_chars().is_between(6, 8)).then(last_group)
              .otherwise(raw.str.replace_all(r"[^0-9]", "").str.slice(-8))).fill_null("")
    unknown = raw.fill_null("").str.contains(r"\*") | (digits.str.len_chars() < (6 if short_is_unknown else 1))
    return pl.when(unknown).then(pl.lit("")).otherwise(padded_account(digits))


CARD = "card"  # a prepaid card's account_id: "card 4821", by the last four digits of its number


def card_account(raw: pl.Expr) -> pl.Expr:
    """A prepaid card's statement as an account of its own: its card number names the card, not the bank
    account the agreement registers, yet two cards are two balances, not one."""
    digits = raw.fill_null("").str.replace_all(r"[^0-9]", "").str.slice(-4)
    return pl.when(digits == "").then(pl.lit(CARD)).otherwise(pl.format(CARD + " {}", digits))


def is_card(account: pl.Expr) -> pl.Expr:
    return account.str.starts_with(CARD)


def mask_account(expr: pl.Expr) -> pl.Expr:
    return (pl.when(expr.is_null() | (expr == "")).then(pl.lit(""))
            .when(expr == CARD).then(expr)
            .when(is_card(expr)).then(pl.lit(CARD + " ****") + expr.str.slice(-4))
            .otherwise(pl.lit("****") + expr.str.slice(-4)))


_ACCOUNT_LIKE = r"(^|[^0-9\x00])[0-9]{4,}([0-9]{4})([^0-9\x00]|$)"  # a whole run of eight digits or more
_KIND = rf"(?i)((?:^|[^a-z0-9])(?:{'|'.join(FOLDERS)})/"
# Paths an output cites are shown as source_file shows them: a recipient's id as the folder of a path
# ("receipts/12345678/r.csv", "Statements/DP12345678"), and a file name in it ("Statement_20250630.csv:3").
# Their digits are fenced with NULs while runs are masked. A file name is known by its suffix, and holds no
# ":", ";", "," or "." before it: a number in the text after a citation ("june.csv:3, TFR 12345678") is masked.
_FENCES = (
    _KIND + r"[a-z0-9_\x00-]+/(?:[^/:;,.\n]*?[^0-9/:;,.\n\x00])?)([0-9]{8,})([^/:;,.\n]*?\.[a-z0-9]{1,5}(?:[^a-z0-9]|$))",
    _KIND + r"[a-z_-]*)([0-9]{8,})([a-z0-9_-]*(?:/|:|'|\s|$))",
)


def _fenced(expr: pl.Expr) -> pl.Expr:
    expr = expr.str.replace_all("\x00", "", literal=True)  # the text's own NULs fence nothing
    for pattern in (_FENCES[0], _FENCES[0], _FENCES[1]):  # twice: a file name may hold two numbers
        expr = expr.str.replace_all(pattern, "${1}\x00${2}\x00${3}")
    return expr


def mask_account_numbers(expr: pl.Expr, paths: bool = False) -> pl.Expr:
    """``expr`` with every run of eight or more digits shown as ****NNNN; with ``paths``, but for the folder
    and file names of a path an output cites.

    Twice: a match takes the character after it, which may be the one before
    the next number ("12345678 87654321").
    """
    masked = _fenced(expr) if paths else expr
    for _ in range(2):
        masked = masked.str.replace_all(_ACCOUNT_LIKE, "${1}****${2}${3}")
    return masked.str.replace_all("\x00", "", literal=True) if paths else masked


# Python's re backtracks: a run taken whole (possessive, as Rust's regex, which polars uses, needs not) keeps a
# long run of digits from costing its length squared
_PYTHON_FENCES = tuple(re.compile(pattern.replace("([0-9]{8,})", "([0-9]{8,}+)")) for pattern in _FENCES)


def mask_account_numbers_in(text: str) -> str:
    """``mask_account_numbers`` with ``paths``, for one Python string."""
    text = text.replace("\x00", "")
    for pattern in (_PYTHON_FENCES[0], _PYTHON_FENCES[0], _PYTHON_FENCES[1]):
        text = pattern.sub("\\1\x00\\2\x00\\3", text)
    for _ in range(2):
        text = re.sub(_ACCOUNT_LIKE, r"\1****\2\3", text)
    return text.replace("\x00", "")


def mask_columns(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """The columns of an output, which may cite paths."""
    return frame.with_columns(mask_account_numbers(pl.col(name), paths=True).alias(name) for name in columns)


def mask_rejections(rejections: pl.DataFrame) -> pl.DataFrame:
    """Rejections whose quoted value and reason show account numbers by their last four digits."""
    return rejections.with_columns(mask_account_numbers(pl.col("value")), mask_account_numbers(pl.col("reason"), paths=True))

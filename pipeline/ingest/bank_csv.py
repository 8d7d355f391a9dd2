"""Bank CSV exports, recognised from their header row with no configuration.

Each layout is declared as data: the header names that identify it and which
column holds what. ``identify`` looks for a known header in the first rows
(Nationwide puts account details above it); the most specific layout wins
(the one whose required names are the largest set contained in the header).
HSBC's download has no header at all and is recognised from its shape.

The prepaid-card layout is ours, modelled on what prepaid-card portals used by
councils export: one row per card transaction with the merchant, its merchant
category code and a signed amount::

    Transaction Date,Card Number,Merchant,MCC,Description,Amount,Balance,Transaction ID

(``Card Number``, ``Description``, ``Balance`` and ``Transaction ID`` are optional.)
A card number names the card, not the account the council pays into, so it is
not compared with the registered account number (whose last eight digits a
sixteen-digit card number would never match).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from pipeline import schemas
from pipeline.ingest.columns import BANK_DATES, FOLDER_RECIPIENT, date_shape, parse_date
from pipeline.ingest.tabular import RawTable, table_from_records
from pipeline.ingest.text import Records, UnreadableFile, is_blank, normalise_header
from pipeline.money import parse_pence, pence_of_text

HEADER_SEARCH_ROWS = 25
HSBC_DATES = ("%d/%m/%Y", "%d %b %Y")


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    date: str
    description: tuple[str, ...]  # joined with " " for the description
    required: frozenset[str] = field(default_factory=frozenset)
    counterparty: str | None = None
    amount: str | None = None  # one signed column
    debit: str | None = None  # or money out / money in as two unsigned columns
    credit: str | None = None
    balance: str | None = None
    trntype: str | None = None
    mcc: str | None = None
    account: str | None = None
    ref: str | None = None  # the bank's own transaction id: de-duplicates like an OFX FITID
    date_slice: int | None = None  # keep only the first N characters of the date ("2018-02-25 12:34:56 +0000")
    ends_at_blank: bool = False  # a blank line ends the transactions; what follows is a summary block

    def columns(self) -> set[str]:
        named = {self.date, self.counterparty, self.amount, self.debit, self.credit, self.balance, self.trntype, self.mcc,
                 self.account, self.ref}
        return {name for name in named if name} | set(self.description)


def _layout(name: str, label: str, **kwargs) -> Layout:
    layout = Layout(name, label, **kwargs)
    return Layout(**{**layout.__dict__, "required": frozenset(layout.columns())})


LAYOUTS: tuple[Layout, ...] = (
    _layout("generic", "generic Date,Description,Amount[,Balance] (also first direct)",
            date="date", description=("description",), amount="amount"),
    _layout("barclays", "Barclays", date="date", description=("memo",), amount="amount",
            trntype="subcategory", account="account"),
    _layout("lloyds", "Lloyds / Halifax / Bank of Scotland", date="transaction date",
            description=("transaction description",), debit="debit amount", credit="credit amount",
            balance="balance", trntype="transaction type", account="account number"),
    _layout("natwest", "NatWest / RBS", date="date", description=("description",), amount="value",
            balance="balance", trntype="type", account="account number"),
    _layout("nationwide", "Nationwide statement", date="date", description=("transaction type", "description"),
            counterparty="description", debit="paid out", credit="paid in", balance="balance",
            trntype="transaction type"),
    _layout("nationwide_midata", "Nationwide midata", date="date", description=("type", "merchant/description"),
            counterparty="merchant/description", amount="debit/credit", balance="balance", trntype="type",
            ends_at_blank=True),
    _layout("santander", "Santander", date="date", description=("description",), debit="money out",
            credit="money in", balance="balance"),
    _layout("monzo_classic", "Monzo (2018 layout)", date="created", description=("description",),
            counterparty="description", amount="amount", trntype="category", ref="id", date_slice=10),
    _layout("monzo", "Monzo (current layout)", date="date", description=("name", "description"),
            counterparty="name", amount="amount", trntype="type", ref="transaction id"),
    _layout("starling", "Starling", date="date", description=("counter party", "reference"),
            counterparty="counter party", amount="amount (gbp)", balance="balance (gbp)", trntype="type"),
    _layout("prepaid_card", "prepaid card with MCC", date="transaction date", description=("merchant",),
            counterparty="merchant", amount="amount", mcc="mcc"),
)
# Columns that are optional in a layout: present in real exports of some
# vintages but not all. They are used when there, and are not required.
OPTIONAL = {
    "generic": {"balance": "balance"},
    "monzo": {"balance": "balance"},
    "prepaid_card": {"balance": "balance", "description": "description", "ref": "transaction id", "account": "card number"},
}
HSBC = Layout("hsbc", "HSBC (no header: date, description, amount)", date="column 1",
              description=("column 2",), amount="column 3")


def supported_layouts() -> str:
    return "; ".join(layout.label for layout in (*LAYOUTS, HSBC))


def _match(header: list[str]) -> Layout | None:
    names = set(header)
    candidates = [layout for layout in LAYOUTS if layout.required <= names]
    if not candidates:
        return None
    return max(candidates, key=lambda layout: len(layout.required))


def _is_date(text: str, formats: tuple[str, ...]) -> bool:
    text = text.strip()
    for fmt in formats:
        if re.match(date_shape(fmt), text):
            try:
                datetime.strptime(text, fmt)
                return True
            except ValueError:
                pass
    return False


def _looks_like_hsbc(records: Records) -> bool:
    """Three cells in each of the first five rows: date, description, amount in most of them, and a date or
    an amount in every one. A mistyped date or amount is then one rejected row, not a file of unknown layout,
    while a header row of some other bank's three columns (neither a date nor an amount) is not taken for HSBC's.

    Checked in Python: it runs per file on five rows, where a polars query's
    planning alone (about a millisecond) would cost seconds over a large batch.
    """
    rows = [row for row in records.rows if not is_blank(row)][:5]
    if not rows or any(len(row) != 3 for row in rows):
        return False
    shapes = [(_is_date(row[0], HSBC_DATES), pence_of_text(row[2]) is not None) for row in rows]
    return all(date or amount for date, amount in shapes) and 2 * sum(date and amount for date, amount in shapes) > len(rows)


def identify(records: Records) -> tuple[Layout, int]:
    """The layout and the index of its header row (-1 for headerless HSBC)."""
    for index, row in enumerate(records.rows[:HEADER_SEARCH_ROWS]):
        layout = _match([normalise_header(cell) for cell in row])
        if layout:
            return layout, index
    if _looks_like_hsbc(records):
        return HSBC, -1
    raise UnreadableFile(f"unknown bank CSV layout: no header row recognised. Supported layouts: {supported_layouts()}")


def raw_table(records: Records, layout: Layout, header_index: int, source_file: str, recipient_id: str) -> RawTable:
    if header_index < 0:
        records = Records([["column 1", "column 2", "column 3"], *records.rows], [0, *records.lines])
        header_index = 0
    if layout.ends_at_blank:
        records = _without_summary(records, header_index)
    table = table_from_records(records, header_index, source_file, recipient_id)
    above = _above_header(records, header_index) if header_index else ()
    return dataclasses.replace(table, misplaced=table.misplaced + above) if above else table


def _above_header(records: Records, header_index: int) -> tuple[tuple[list[str], int, str], ...]:
    """Rows above the header that look like transactions (as wide as the header, with a date):
    a preamble of account details is passed over, a transaction is not, silently."""
    def width(row: list[str]) -> int:  # Lloyds ends its header with a comma that its rows lack
        return len(row) - next((i for i, cell in enumerate(reversed(row)) if cell.strip()), len(row))

    header_line, header_width = records.lines[header_index], width(records.rows[header_index])
    return tuple(
        (row, line, f"row above the header row (line {header_line}): not read as a transaction")
        for row, line in zip(records.rows[:header_index], records.lines[:header_index])
        if not is_blank(row) and width(row) == header_width and any(_is_date(cell, BANK_DATES) for cell in row)
    )


def _without_summary(records: Records, header_index: int) -> Records:
    """The records less the summary block after the first blank line below the header.

    The summary ("Arranged Overdraft Limit", date, amount) is narrower than a
    transaction. A row after the blank line as wide as the header is a
    transaction after a stray blank line, and is read (or rejected) as one.
    """
    width = len(records.rows[header_index])
    after = records.rows[header_index + 1 :]
    blank = next((header_index + 1 + i for i, row in enumerate(after) if is_blank(row)), len(records.rows))
    keep = [index for index in range(len(records.rows)) if index < blank or len(records.rows[index]) == width]
    return Records([records.rows[index] for index in keep], [records.lines[index] for index in keep])


def _text(frame: pl.DataFrame, name: str | None) -> pl.Expr:
    if name and name in frame.columns:
        return pl.col(name).str.strip_chars()
    return pl.lit(None, pl.String)


def _mcc(text: pl.Expr) -> pl.Expr:
    """A merchant category code's four digits, also when a spreadsheet saved it as a number: "5993.0" is
    5993, and "742" is 0742 (vets) with its leading zero dropped. Anything else keeps its digits alone, for
    Great Expectations to judge."""
    digits = text.str.replace(r"^([0-9]+)\.0*$", "${1}").str.replace_all(r"[^0-9]", "")
    return pl.when(digits != "").then(digits.str.pad_start(4, "0"))


def _optional(layout: Layout, role: str) -> str | None:
    return getattr(layout, role) or OPTIONAL.get(layout.name, {}).get(role)


def parse_rows(frame: pl.DataFrame, layout: Layout) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed bank lines (schemas.TRANSACTIONS minus keys) and cell rejections, for any number of files of one layout."""
    date_text = _text(frame, layout.date)
    if layout.date_slice:
        date_text = date_text.str.slice(0, layout.date_slice)
    if layout.amount:
        amount_text = _text(frame, layout.amount)
        amount = parse_pence(amount_text)
        amount_bad = amount.is_null()
        amount_col = layout.amount
    else:
        debit_text, credit_text = _text(frame, layout.debit), _text(frame, layout.credit)
        debit, credit = parse_pence(debit_text), parse_pence(credit_text)
        debit_blank = debit_text.is_null() | (debit_text == "")
        credit_blank = credit_text.is_null() | (credit_text == "")
        # exactly one of the two holds an amount; money out is a debit whatever its sign
        amount = pl.when(debit_blank).then(credit.abs()).otherwise(-debit.abs())
        amount_bad = (debit_blank == credit_blank) | (~debit_blank & debit.is_null()) | (~credit_blank & credit.is_null())
        amount_text = pl.concat_str(debit_text.fill_null(""), pl.lit(" / "), credit_text.fill_null(""))
        amount_col = f"{layout.debit} / {layout.credit}"
    balance_name = _optional(layout, "balance")
    balance_text = _text(frame, balance_name)
    balance = parse_pence(balance_text)
    balance_blank = balance_text.is_null() | (balance_text == "")
    description_parts = [_text(frame, name).fill_null("") for name in layout.description]
    extra = _optional(layout, "description") if layout.name == "prepaid_card" else None
    if extra and extra in frame.columns:
        description_parts.append(_text(frame, extra).fill_null(""))
    account_text = _text(frame, _optional(layout, "account")).fill_null("")
    date = parse_date(date_text, BANK_DATES)

    typed = frame.select(
        pl.col("source_line"),
        pl.col("source_file"),
        pl.col(FOLDER_RECIPIENT).alias("recipient_id"),
        date.alias("date"),
        amount.alias("amount_pence"),
        pl.when(balance_blank).then(None).otherwise(balance).alias("balance_pence"),
        pl.concat_str(description_parts, separator=" ").str.strip_chars().str.replace_all(r"\s+", " ").alias("description"),
        _text(frame, layout.counterparty).alias("counterparty"),
        _text(frame, layout.trntype).str.to_uppercase().alias("trntype"),
        _mcc(_text(frame, layout.mcc)).alias("mcc"),
        account_text.alias("account_raw"),
        pl.when(_text(frame, _optional(layout, "ref")) != "").then(_text(frame, _optional(layout, "ref"))).alias("fitid"),
        pl.when(date.is_null()).then(pl.format("column '{}': '{}' is not a date", pl.lit(layout.date), date_text.fill_null(""))).alias("__e_date"),
        pl.when(amount_bad).then(pl.format("column '{}': '{}' is not an amount", pl.lit(amount_col), amount_text.fill_null(""))).alias("__e_amount"),
        pl.when(~balance_blank & balance.is_null()).then(pl.format("column '{}': '{}' is not money", pl.lit(balance_name or ""), balance_text.fill_null(""))).alias("__e_balance"),
    )
    errors = ["__e_date", "__e_amount", "__e_balance"]
    has_error = pl.any_horizontal(pl.col(name).is_not_null() for name in errors)
    bad = typed.filter(has_error)
    rejections = bad.unpivot(index=["source_file", "source_line", "recipient_id"], on=errors, variable_name="column", value_name="reason").filter(
        pl.col("reason").is_not_null()
    ).with_columns(
        pl.col("column").str.replace("__e_", "", literal=True),
        pl.col("reason").str.extract(r"'[^']*': '(.*)' is not", 1).alias("value"),
    )
    # the account as the bank wrote it: statements.assemble makes it an account number, as for OFX
    lines = typed.filter(~has_error).drop(errors).rename({"account_raw": "account_id"}).with_columns(layout=pl.lit(layout.name))
    return lines, schemas.conform(rejections, schemas.REJECTIONS).sort("source_file", "source_line", "column")

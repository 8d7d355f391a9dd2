"""The body rows of the workbook's tables, rendered as worksheet XML by polars.

openpyxl costs about 12 µs a cell even in write-only mode: a 280,000-line
Transactions sheet (3.4 million cells) took 40 s. So openpyxl still writes the
workbook (styles, header rows, frozen panes, filters, widths, hyperlinks,
charts, print set-up), and the rows below each table's header are rendered
here a whole column at a time and written into the saved file in place of the
empty bodies openpyxl left. The cells are the ones openpyxl writes itself:
inline strings, numbers and dates carrying the style ids openpyxl assigned,
dates as Excel serial days. Text is cleaned here, for the Summary too:
characters XML cannot hold become spaces, text a spreadsheet would read as a
formula is prefixed with an apostrophe, and text past Excel's limit is cut.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import polars as pl
from openpyxl.utils import get_column_letter

from pipeline.money import format_pounds
from pipeline.report.tables import FORMULA_START_CHARS, neutralise
from pipeline.report.xml_text import XML_ILLEGAL, xml_safe

ROWS_PER_CHUNK = 20_000
EXCEL_SERIAL_OF_1970 = 25_569  # Excel's day number of 1970-01-01
EXCEL_LEAP_BUG = date(1900, 3, 1)  # Excel counts a 29 February 1900: days before this are one fewer
MAX_CELL_CHARS = 32_767  # Excel refuses longer cell text
TRUNCATED = " [cut: see the CSV]"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOCUMENT_RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@dataclass(frozen=True)
class CellFormat:
    """How one column's cells are written: its kind and the style ids openpyxl registered for it."""

    column: str
    kind: str  # text | money | date | whole | severity
    style: int | None = None  # the number format's style id (money, date)
    value_styles: tuple[tuple[str, int], ...] = ()  # a style id per exact text value (severity fills)


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Text as a cell holds it: XML-illegal characters become spaces, formula text is neutralised,
    and text past Excel's 32,767 characters is cut, saying so."""
    text = neutralise(expr.str.replace_all(XML_ILLEGAL, " "))
    limit = MAX_CELL_CHARS - len(TRUNCATED)
    return pl.when(text.str.len_chars() > MAX_CELL_CHARS).then(text.str.slice(0, limit) + pl.lit(TRUNCATED)).otherwise(text)


def clean_cell_text(value: str) -> str:
    """``clean_text`` for one Python string (the Summary's cells, written by openpyxl)."""
    value = xml_safe(value)
    if value[:1] in FORMULA_START_CHARS:
        value = "'" + value
    return value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - len(TRUNCATED)] + TRUNCATED


def _escaped(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all("\r", "&#13;", literal=True)  # a bare CR would be read back as a line feed
    )


def _style_attr(style: int | None) -> pl.Expr:
    return pl.lit("" if style is None else f' s="{style}"')


def _cell(fmt: CellFormat, letter: str, row: pl.Expr, plain: bool = False) -> pl.Expr:
    """One column's cells as XML text; null where the cell is empty (it is then left out).

    ``plain`` text columns hold nothing ``clean_text`` or escaping would change, and
    no cell in them starts or ends with a space: their text goes in as it is.
    """
    value = pl.col(fmt.column)
    opening = [pl.lit(f'<c r="{letter}'), row, pl.lit('"')]
    if fmt.kind == "money":
        return pl.concat_str([*opening, _style_attr(fmt.style), pl.lit("><v>"), format_pounds(value), pl.lit("</v></c>")])
    if fmt.kind == "date":
        serial = value.cast(pl.Int32) + EXCEL_SERIAL_OF_1970 - (value < EXCEL_LEAP_BUG).cast(pl.Int32)
        return pl.concat_str([*opening, _style_attr(fmt.style), pl.lit("><v>"), serial.cast(pl.String), pl.lit("</v></c>")])
    if fmt.kind == "whole":
        return pl.concat_str([*opening, pl.lit("><v>"), value.cast(pl.String), pl.lit("</v></c>")])
    text = value.cast(pl.String) if plain else clean_text(value.cast(pl.String))
    style = pl.lit("")
    for match, style_id in fmt.value_styles:
        style = pl.when(text == match).then(pl.lit(f' s="{style_id}"')).otherwise(style)
    if plain:
        xml = pl.concat_str([*opening, style, pl.lit(' t="inlineStr"><is><t>'), text, pl.lit("</t></is></c>")])
    else:
        preserve = pl.when(text.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
        xml = pl.concat_str([*opening, style, pl.lit(' t="inlineStr"><is><t'), preserve, pl.lit(">"), _escaped(text), pl.lit("</t></is></c>")])
    return pl.when(text != "").then(xml)


# what makes a text cell need cleaning, escaping or xml:space: checking a column for it is one
# pass, where the cleaning and escaping took nine (most of a 280,000-line sheet's rendering)
NEEDS_CARE = rf"[&<>\r]|{XML_ILLEGAL}|^[=+\-@\s]|\s$"


def _plain_columns(chunk: pl.DataFrame, formats: list[CellFormat]) -> set[str]:
    """The chunk's text columns that need no care (see ``_cell``)."""
    text = [fmt.column for fmt in formats if fmt.kind not in ("money", "date", "whole")]
    if not text:
        return set()
    checks = chunk.select(
        (~pl.col(name).cast(pl.String).str.contains(NEEDS_CARE).any()
         & (pl.col(name).cast(pl.String).str.len_chars().max().fill_null(0) <= MAX_CELL_CHARS)).alias(name)
        for name in text
    ).row(0, named=True)
    return {name for name, plain in checks.items() if plain}


def render_rows(frame: pl.DataFrame, formats: list[CellFormat], first_row: int = 2) -> Iterator[bytes]:
    """The ``<row>`` elements of ``frame`` from ``first_row`` on, a chunk of rows at a time."""
    for offset in range(0, frame.height, ROWS_PER_CHUNK):
        chunk = frame.slice(offset, ROWS_PER_CHUNK).with_row_index("__row", offset=first_row + offset)
        row = pl.col("__row").cast(pl.String)
        plain = _plain_columns(chunk, formats)
        cells = [_cell(fmt, get_column_letter(index), row, fmt.column in plain) for index, fmt in enumerate(formats, start=1)]
        xml = pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")], ignore_nulls=True)
        yield chunk.select(xml.str.join("")).item().encode("utf-8")


def _sheet_members(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> the zip member holding that worksheet, from the workbook's own relationships."""
    targets = {}
    for relationship in ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels")).iter(f"{RELATIONSHIPS}Relationship"):
        target = relationship.get("Target", "")
        targets[relationship.get("Id")] = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl", target))
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    return {sheet.get("name"): targets[sheet.get(f"{DOCUMENT_RELATIONSHIPS}id")] for sheet in workbook.iter(f"{MAIN}sheet")}


def splice(saved: bytes, path: Path, bodies: dict[str, Callable[[], Iterator[bytes]]]) -> None:
    """Write the workbook openpyxl ``saved`` to ``path``, each sheet in ``bodies`` given its rows.

    Each of those sheets must end its sheetData after the header row; the rows go
    there. Deflate level 1: the XML is highly repetitive, and level 6 costs
    several times the time for a few per cent of size.
    """
    with zipfile.ZipFile(io.BytesIO(saved)) as book, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        members = {member: title for title, member in _sheet_members(book).items() if title in bodies}
        for info in book.infolist():
            data = book.read(info.filename)
            title = members.get(info.filename)
            if title is None:
                out.writestr(info, data)
                continue
            head, tail = data.split(b"</sheetData>", 1)
            # no zip64: a sheet's XML is about 1 KB a row, and a sheet holds at most Excel's 1,048,576 rows
            with out.open(info.filename, "w") as stream:
                stream.write(head)
                for chunk in bodies[title]():
                    stream.write(chunk)
                stream.write(b"</sheetData>" + tail)

"""Table rows rendered by polars and spliced into openpyxl's workbook read back exactly as openpyxl would write them."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import zipfile
from xml.etree import ElementTree

from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from pipeline.report import sheet_rows, workbook
from pipeline.report.sheet_rows import MAX_CELL_CHARS, clean_cell_text, splice
from pipeline.report.workbook import Column, table_sheet, table_sheets

COLUMNS = [Column("who", "Who"), Column("severity", "Severity", "severity"), Column("pence", "Amount", "money"),
           Column("day", "Date", "date"), Column("line", "Line", "whole"), Column("note", "Note")]


def _write(frame: pl.DataFrame, path, columns=COLUMNS) -> None:
    book = Workbook(write_only=True)
    bodies = {"Table": table_sheet(book, "Table", frame, columns)}
    book.create_sheet("After").append(["still here"])
    saved = io.BytesIO()
    book.save(saved)
    splice(saved.getvalue(), path, bodies)


def _expected_text(value: str | None) -> str | None:
    """What the Summary's writer (openpyxl, given clean_cell_text) would store."""
    return None if value is None or value == "" else clean_cell_text(value)


def _members_parse_as_xml(path) -> None:
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if name.endswith(".xml"):
                ElementTree.fromstring(book.read(name))  # strict XML 1.0, as Excel reads it


def test_every_row_reads_back_with_its_type_style_and_value(tmp_path):
    frame = pl.DataFrame({
        "who": ["R1", "R2", "R3", None],
        "severity": ["high", "medium", "low", "other"],
        "pence": [-123456, 5, None, 0],
        "day": [date(2025, 6, 1), date(1900, 3, 1), date(1900, 2, 28), date(1900, 1, 1)],
        "line": [1, None, 300000, 0],
        "note": ["fish & chips <b>", "  padded  ", "=SUM(A1)", "bell\x07 and\r\nnew line \ufffe\uffff"],
    })
    path = tmp_path / "t.xlsx"
    _write(frame, path)
    sheet = load_workbook(path)["Table"]
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == 4
    assert [cell.value for cell in sheet[1]] == ["Who", "Severity", "Amount", "Date", "Line", "Note"]
    assert [row[0].value for row in rows] == ["R1", "R2", "R3", None]
    assert [row[1].fill.fgColor.rgb[-6:] for row in rows[:3]] == ["F8CBAD", "FFE699", "DDEBF7"]
    assert rows[3][1].fill.fill_type is None
    assert [None if row[2].value is None else Decimal(str(row[2].value)) for row in rows] == [
        Decimal("-1234.56"), Decimal("0.05"), None, Decimal("0")]
    assert all("£" in row[2].number_format for row in rows if row[2].value is not None)
    # Excel's serial days count a 29 February 1900 that never was; dates before it are one fewer
    assert [row[3].value for row in rows] == [datetime(2025, 6, 1), datetime(1900, 3, 1), datetime(1900, 2, 28), datetime(1900, 1, 1)]
    assert rows[0][3].number_format == "dd/mm/yyyy"
    assert [row[4].value for row in rows] == [1, None, 300000, 0]
    assert [row[5].value for row in rows] == ["fish & chips <b>", "  padded  ", "'=SUM(A1)", "bell  and\r\nnew line   "]
    assert load_workbook(path)["After"]["A1"].value == "still here"
    _members_parse_as_xml(path)


def test_text_past_excels_cell_limit_is_cut_saying_so(tmp_path):
    path = tmp_path / "t.xlsx"
    _write(pl.DataFrame({"note": ["x" * 40_000, "y" * MAX_CELL_CHARS]}), path, [Column("note", "Note")])
    long, exact = [row[0].value for row in load_workbook(path)["Table"].iter_rows(min_row=2)]
    assert len(long) == MAX_CELL_CHARS and long.endswith(" [cut: see the CSV]") and long.startswith("x" * 30_000)
    assert exact == "y" * MAX_CELL_CHARS


def test_a_table_longer_than_a_sheet_continues_on_numbered_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(workbook, "MAX_ROWS", 3)
    book = Workbook(write_only=True)
    bodies = table_sheets(book, "Transactions", pl.DataFrame({"who": [f"R{i}" for i in range(7)]}), [Column("who", "Who")])
    assert list(bodies) == ["Transactions", "Transactions (2)", "Transactions (3)"]
    saved = io.BytesIO()
    book.save(saved)
    splice(saved.getvalue(), tmp_path / "t.xlsx", bodies)
    read = load_workbook(tmp_path / "t.xlsx")
    assert [[cell.value for (cell,) in read[name].iter_rows()] for name in bodies] == [
        ["Who", "R0", "R1", "R2"], ["Who", "R3", "R4", "R5"], ["Who", "R6"]]


def test_large_tables_span_chunks_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet_rows, "ROWS_PER_CHUNK", 7)
    frame = pl.DataFrame({"who": [f"R{i}" for i in range(50)], "line": list(range(50))})
    path = tmp_path / "t.xlsx"
    _write(frame, path, [Column("who", "Who"), Column("line", "Line", "whole")])
    sheet = load_workbook(path)["Table"]
    assert [(a.value, b.value, a.row) for a, b in sheet.iter_rows(min_row=2)] == [(f"R{i}", i, i + 2) for i in range(50)]
    assert sheet.auto_filter.ref == "A1:B51"


def test_an_empty_table_keeps_its_header(tmp_path):
    path = tmp_path / "t.xlsx"
    _write(pl.DataFrame({"who": []}, schema={"who": pl.String}), path, [Column("who", "Who")])
    sheet = load_workbook(path)["Table"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [["Who"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
@example(["\ufffe", "a\uffffb", "\x00=", " \r", "-1", "\U0001f600"])
def test_any_text_reads_back_as_openpyxl_would_store_it(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("p") / "t.xlsx"
    _write(pl.DataFrame({"note": texts}), path, [Column("note", "Note")])
    sheet = load_workbook(path)["Table"]
    stored = {cell.row: cell.value for (cell,) in sheet.iter_rows(min_row=2)}
    assert [stored.get(row) for row in range(2, len(texts) + 2)] == [_expected_text(text) for text in texts]
    _members_parse_as_xml(path)


def _cells(texts: list[str | None], plain: bool) -> pl.DataFrame:
    frame = pl.DataFrame({"note": texts}, schema={"note": pl.String}).with_row_index("__row", offset=2)
    return frame.select(sheet_rows._cell(sheet_rows.CellFormat("note", "text"), "A", pl.col("__row").cast(pl.String), plain))


def test_only_text_needing_no_care_is_taken_as_plain():
    def plain(texts):
        return sheet_rows._plain_columns(pl.DataFrame({"note": texts}, schema={"note": pl.String}), [sheet_rows.CellFormat("note", "text")])

    assert plain(["R1", "fish and chips", "a\tb", "ok-ok", "line\nbreak", None, ""]) == {"note"}
    for text in ("a&b", "<b>", "=1", "-1", "+1", "@x", " lead", "trail ", "cr\r", "bell\x07", "\ufffe", "y" * (MAX_CELL_CHARS + 1)):
        assert plain(["ordinary", text]) == set(), text


# text that needs no care: no markup, no formula start, no edge spaces, no control character but tab and newline
PLAIN_TEXT = st.from_regex(r"[A-Za-z0-9£é][A-Za-z0-9£é ,.()'\t\n-]{0,25}[A-Za-z0-9£é)]", fullmatch=True)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(""), PLAIN_TEXT), min_size=1, max_size=30))
@example(["R1", "fish and chips", "a\tb", None, ""])
def test_a_column_taken_as_plain_renders_as_the_cleaned_and_escaped_one(texts):
    frame = pl.DataFrame({"note": texts}, schema={"note": pl.String})
    assert sheet_rows._plain_columns(frame, [sheet_rows.CellFormat("note", "text")]) == {"note"}
    assert _cells(texts, plain=True).equals(_cells(texts, plain=False))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), PLAIN_TEXT), min_size=1, max_size=5))
def test_no_text_is_taken_as_plain_that_would_render_otherwise(texts):
    """Safety, whatever the text: a column is taken as plain only if plain rendering changes nothing."""
    frame = pl.DataFrame({"note": texts}, schema={"note": pl.String})
    taken = sheet_rows._plain_columns(frame, [sheet_rows.CellFormat("note", "text")]) == {"note"}
    assert not taken or _cells(texts, plain=True).equals(_cells(texts, plain=False))

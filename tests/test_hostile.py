"""Hostile input: every parser either reads a file or rejects it with a reason; nothing else escapes."""

from __future__ import annotations

import functools
import io
import re
import struct
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import records
from pipeline.ingest.statements import read_statement
from pipeline.ingest.text import UnreadableFile
from tests.conftest import CORPUS, DATA

SEEDS = sorted((DATA / "statements").iterdir()) + sorted(
    path for path in CORPUS.rglob("*") if path.suffix.lower() in {".ofx", ".qfx", ".csv"}
) if CORPUS.is_dir() else sorted((DATA / "statements").iterdir())
TABLE_KINDS = (records.RECEIPTS, records.PAYSLIPS, records.AGREEMENTS, records.PROVISION)

# Hypothesis notes any change of the global random state while a strategy draws, from whichever thread
# made it (its own comment on the check says so). The strategies here draw only from Hypothesis, so
# what trips it now and then (seen once in CI) can only be another thread of the session: flow tests
# leave Prefect's background threads running.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")


def read_or_reject(name: str, data: bytes) -> None:
    """Read whole or refused whole; read, every row is used or rejected at its line. A CSV record ends on a
    line of its own; an OFX file may hold several transactions on one line, each rejected on its own."""
    try:
        read = read_statement(Path(name), data, name, "R1")
    except UnreadableFile:
        return
    lines_rejected = read.rejections["source_line"].n_unique()
    if name.endswith(".csv"):
        assert read.rows_read == read.lines.height + lines_rejected
    else:
        assert read.lines.height + lines_rejected <= read.rows_read <= read.lines.height + read.rejections.height


def table_or_reject(kind, name: str, data: bytes) -> None:
    try:
        table = records.read_table(kind, Path(name), data, name, "R1")
    except UnreadableFile:
        return
    assert table.rows_read == table.frame.height + table.rejections["source_line"].n_unique()


@st.composite
def mutated(draw):
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b">", b",", b'"', b"\n", b"\x00", b"\xff\xfe", b"<STMTTRN>", b"</OFX>",
                                                b"=cmd|' /C calc'!A0", b"\xa3", b"(", b"99/99/9999", b"-", b"\r"]))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 50))]
        elif action == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
    return seed.suffix.lower(), bytes(data)


@given(mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_statements_are_read_or_rejected(case):
    suffix, data = case
    read_or_reject(f"f{suffix}", data)


# what a bank line says, less what depends on its neighbours (its order in the statement, its key's occurrence)
LINE_FACTS = ["source_line", "date", "amount_pence", "balance_pence", "description", "counterparty", "trntype", "mcc", "fitid"]
ALPHANUMERIC = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@functools.cache
def readable_seeds() -> list[tuple[Path, dict[int, tuple[int, int]]]]:
    """Seeds read whole, with two transactions or more on lines of their own, each with the byte span of
    every transaction's own text: a CSV row's line; what is inside an OFX ``<STMTTRN>`` (its tags
    ``<STMTTRN>`` and ``</STMTTRN>`` are the file's structure, not a transaction's text)."""
    seeds = []
    for seed in SEEDS:
        data = seed.read_bytes()
        try:
            read = read_statement(seed, data, seed.name, "R1", currencies=None)  # the corpus's dollars too
        except UnreadableFile:
            continue
        lines = read.lines["source_line"].to_list()
        if len(lines) < 2 or len(set(lines)) < len(lines) or read.rejections.height:
            continue
        if seed.suffix.lower() == ".csv":
            starts = [0, *(index + 1 for index, byte in enumerate(data) if byte == 0x0A), len(data)]
            spans = {line: (starts[line - 1], starts[line]) for line in lines}
        else:
            opened = [match.end() for match in re.finditer(rb"<STMTTRN>", data)]
            ends = [match.start() for match in re.finditer(rb"</?STMTTRN>|</BANKTRANLIST>", data)]
            spans = {data.count(b"\n", 0, at) + 1: (at, min(end for end in ends if end >= at)) for at in opened}
            if sorted(spans) != sorted(lines):
                continue
        seeds.append((seed, spans))
    return seeds


@given(st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_damaged_transaction_costs_that_transaction_alone(data):
    """Over-rejection: one letter or digit changed in one transaction's text leaves the file readable and every
    other line of it read exactly as before; the changed one is read or rejected at its own line."""
    seed, spans = data.draw(st.sampled_from(readable_seeds()))
    line, (start, end) = data.draw(st.sampled_from(sorted(spans.items())))
    original = seed.read_bytes()
    positions = [index for index in range(start, end) if original[index] in ALPHANUMERIC]
    if not positions:
        return
    at = data.draw(st.sampled_from(positions))
    damaged = original[:at] + bytes([data.draw(st.sampled_from(ALPHANUMERIC))]) + original[at + 1:]
    before = read_statement(seed, original, seed.name, "R1", currencies=None)
    after = read_statement(seed, damaged, seed.name, "R1", currencies=None)  # an UnreadableFile here fails the test

    def others(read):
        return read.lines.filter(pl.col("source_line") != line).select(LINE_FACTS).sort("source_line")

    assert others(after).equals(others(before))
    assert line in after.lines["source_line"].to_list() + after.rejections["source_line"].to_list()
    assert set(after.rejections["source_line"].to_list()) <= {line}


@pytest.mark.parametrize("charset", [b"12\x0052", b"\xff\xfe", b"NO-SUCH-CODEC"])
def test_an_unusable_charset_in_the_ofx_header_is_passed_over(charset):
    """Hypothesis found the NUL: the codec named is ignored, and the text decoded as any unlabelled file is."""
    data = (DATA / "statements" / "ofx_sgml.ofx").read_bytes().replace(b"CHARSET:1252", b"CHARSET:" + charset)
    lines = read_statement(Path("s.ofx"), data, "s.ofx", "R1").lines
    assert lines.height == read_statement(Path("s.ofx"), (DATA / "statements" / "ofx_sgml.ofx").read_bytes(), "s.ofx", "R1").lines.height > 0


@given(st.binary(max_size=3000), st.sampled_from([".ofx", ".qfx", ".csv"]))
@settings(max_examples=200, deadline=None)
def test_random_bytes_are_read_or_rejected(data, suffix):
    read_or_reject(f"f{suffix}", data)


@given(st.sampled_from(TABLE_KINDS), st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=6))
@settings(max_examples=200, deadline=None)
def test_random_tables_are_read_or_rejected(kind, rows):
    header = [column.name for column in kind.columns]
    text = "\n".join(",".join(f'"{cell}"' for cell in row) for row in [header, *rows])
    table_or_reject(kind, "t.csv", text.encode("utf-8", "surrogatepass"))


def workbook_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_zip_bomb_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"\x00" * (300 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match=r"workbook would expand to 314,572,\d+ bytes"):
        records.read_table(records.RECEIPTS, Path("r.xlsx"), data, "receipts/R1/r.xlsx", "R1")
    assert time.perf_counter() - started < 5


def _understated(data: bytes, part: str, size: int) -> bytes:
    """``data`` with ``part``'s uncompressed size written as ``size`` in its local and central headers."""
    raw = bytearray(data)
    for signature, size_at, name_length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = raw.find(signature)
        while at >= 0:
            length = struct.unpack("<H", raw[at + name_length_at:at + name_length_at + 2])[0]
            if raw[at + name_at:at + name_at + length] == part.encode():
                raw[at + size_at:at + size_at + 4] = struct.pack("<I", size)
            at = raw.find(signature, at + 4)
    return bytes(raw)


def test_xlsx_that_understates_its_size_is_refused():
    """A sheet that says it expands to 1,000 bytes and expands to 5 MB: its reader would read it all."""
    rows = [["receipt_id", "date", "supplier", "gross"]] + [[f"A{n}", "2025-06-01", "Shop", "1.00"] for n in range(60000)]
    data = _understated(workbook_bytes(rows), "xl/worksheets/sheet1.xml", 1000)
    with pytest.raises(UnreadableFile, match="does not expand to the size and checksum it declares"):
        records.read_table(records.RECEIPTS, Path("r.xlsx"), data, "receipts/R1/r.xlsx", "R1")


def test_a_hidden_first_sheet_is_passed_over_and_other_visible_sheets_are_rejected():
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Instructions"
    book.active.append(["Put the receipts on the next sheet"])
    book.active.sheet_state = "hidden"
    receipts = book.create_sheet("Receipts")
    for row in (["receipt_id", "date", "supplier", "gross"], ["A1", "2025-06-01", "Shop", "1.00"]):
        receipts.append(row)
    book.create_sheet("July").append(["A2", "2025-07-02", "Shop", "2.00"])
    book.create_sheet("Empty")
    buffer = io.BytesIO()
    book.save(buffer)
    table = records.read_table(records.RECEIPTS, Path("r.xlsx"), buffer.getvalue(), "receipts/R1/r.xlsx", "R1")
    assert table.frame["receipt_id"].to_list() == ["A1"]
    assert table.rows_read == 2
    assert table.rejections.select("source_line", "reason").rows() == [
        (1, "on sheet 'July', row 1: only the first visible sheet, 'Receipts', is read")]


def test_xlsx_entity_expansion_is_not_expanded():
    """A billion-laughs DTD in the sheet, its entity in a cell: the file is refused, or read with the entity
    unexpanded; never 10^8 characters."""
    data = workbook_bytes([["receipt_id", "date", "supplier", "gross"], ["A1", "2025-06-01", "Shop", "1.00"]])
    source = zipfile.ZipFile(io.BytesIO(data))
    lol = '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<t>Shop</t>" in content and not content.startswith(b"<?xml")
                content = b'<?xml version="1.0" encoding="UTF-8"?>' + lol.encode() + content.replace(b"<t>Shop</t>", b"<t>&i;</t>")
            target.writestr(item, content)
    started = time.perf_counter()
    try:
        table = records.read_table(records.RECEIPTS, Path("r.xlsx"), buffer.getvalue(), "receipts/R1/r.xlsx", "R1")
    except UnreadableFile as exc:
        assert str(exc).startswith("not a readable XLSX workbook")
    else:
        assert all(len(text or "") < 100 for text in table.frame["supplier"].to_list())
    assert time.perf_counter() - started < 5


def test_ofx_entity_expansion_is_not_expanded():
    entities = '<!DOCTYPE OFX [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>"
    ofx = (f'<?xml version="1.0"?>{entities}<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>GBP</CURDEF>'
           "<BANKACCTFROM><ACCTID>12345678</ACCTID></BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT</TRNTYPE>"
           "<DTPOSTED>20250601</DTPOSTED><TRNAMT>-1.00</TRNAMT><FITID>1</FITID><NAME>&i;</NAME></STMTTRN>"
           "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
    started = time.perf_counter()
    read = read_statement(Path("x.ofx"), ofx.encode(), "x.ofx", "R1")
    assert time.perf_counter() - started < 5
    assert len(read.lines["description"][0]) < 100  # the entity was not expanded


def test_one_hostile_file_does_not_affect_another_recipient(tmp_path):
    from pipeline.ingest.inbound import InputFile
    from pipeline.ingest.load import read_files

    good = DATA / "statements" / "generic.csv"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\xff" * 100)
    batch = read_files([InputFile(str(bad), "statements/R0/bad.csv", "statement", "R0"),
                        InputFile(str(good), "statements/R1/generic.csv", "statement", "R1")])
    assert batch.frame("transactions")["recipient_id"].unique().to_list() == ["R1"]
    assert batch.frame("transactions").height == 6
    assert [record.rejected_reason for record in batch.files] == ["binary content (NUL bytes): not a text export", None]


VALID_WORKBOOK = None


@given(st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
                min_size=1, max_size=4))
@settings(max_examples=100, deadline=None)
def test_mutated_workbooks_are_read_or_rejected(mutations):
    global VALID_WORKBOOK
    if VALID_WORKBOOK is None:
        VALID_WORKBOOK = workbook_bytes([["receipt_id", "date", "supplier", "gross"], ["A1", "2025-06-01", "Shop", "1.00"],
                                         ["A2", "2025-06-02", "=cmd", "(2.50)"]])
    data = bytearray(VALID_WORKBOOK)
    for action, at, chunk in mutations:
        at %= max(len(data), 1)
        if action == "flip" and data:
            data[at] ^= chunk[0]
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = chunk
    table_or_reject(records.RECEIPTS, "r.xlsx", bytes(data))

"""Bytes to text and text to CSV records, keeping each record's file line.

Bank exports arrive in UTF-8 (with or without a byte-order mark) or in the
Windows code page (Nationwide's "£" is byte 0xA3), and now and then in UTF-16
with a byte-order mark. UTF-8 is tried first because it is self-checking;
cp1252 is the fallback and covers Latin-1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


class UnreadableFile(ValueError):
    """A whole file that cannot be used; the message is the reason shown to users."""


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark, as Excel's "Unicode text" saves
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile("not readable as the UTF-16 text its byte-order mark announces") from None
    if b"\x00" in data[:4096]:
        raise UnreadableFile("binary content (NUL bytes): not a text export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(frozen=True)
class Records:
    """CSV records with the 1-based file line on which each one begins (a quoted cell may hold line breaks)."""

    rows: list[list[str]]
    lines: list[int]
    elsewhere: tuple[tuple[list[str], int, str], ...] = ()  # rows read outside the table: (row, line, reason)


MAX_FIELDS = 1_000  # a bank export has a dozen columns; a line of millions of fields took gigabytes and minutes


def too_wide(fields: int) -> str:
    return f"{fields:,} fields: dpmon reads tables of at most {MAX_FIELDS:,} columns"


def read_records(text: str) -> Records:
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=False)
    rows: list[list[str]] = []
    lines: list[int] = []
    ended = 0  # the line the previous record ended on
    try:
        for row in reader:
            if len(row) > MAX_FIELDS:
                raise UnreadableFile(f"line {ended + 1} has {too_wide(len(row))}")
            rows.append(row)
            lines.append(ended + 1)
            ended = reader.line_num
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.line_num}: malformed CSV ({exc})") from None
    return Records(rows, lines)


def normalise_header(name: str) -> str:
    """Header matching is case-insensitive, ignores surrounding spaces and quotes."""
    return " ".join(name.replace("\ufeff", "").strip().strip("'\"").lower().split())


def is_blank(row: list[str]) -> bool:
    return not "".join(row).strip()

"""Read a CSV or XLSX table into a frame of text with normalised headers.

A file becomes a ``RawTable``: its header (names normalised: lower case,
single spaces) and its records as plain lists, each with the file line (CSV)
or sheet row (XLSX) it came from, so rejections and findings point at what a
person can open. No polars work happens per file: ``frame_of`` builds one
frame of text for a whole batch of tables. Records whose field count differs
from the header's are rejections, never silently padded or cut.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.ingest.columns import FOLDER_RECIPIENT
from pipeline.ingest.inbound import RECIPIENT_ID
from pipeline.ingest.text import MAX_FIELDS, Records, UnreadableFile, decode, is_blank, normalise_header, read_records, too_wide

XLSX_SUFFIXES = {".xlsx", ".xlsm"}


@dataclass(frozen=True)
class RawTable:
    names: tuple[str, ...]
    rows: list[list[str]]
    lines: list[int]
    source_file: str
    recipient_id: str | None
    ragged: list[tuple[list[str], int]]
    repeated: tuple[str, ...] = ()  # header names used more than once (all but the first renamed)
    misplaced: tuple[tuple[list[str], int, str], ...] = ()  # rows outside the table: (row, line, reason)

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.ragged) + len(self.misplaced)

    @property
    def has_rejections(self) -> bool:
        return bool(self.ragged or self.misplaced)

    @property
    def rejections(self) -> pl.DataFrame:
        rejected = [(row, line, f"row has {len(row)} fields but the header has {len(self.names)}") for row, line in self.ragged]
        # a row outside the table (above the header, on another sheet) names no one where the header says
        whose = [self.recipient_id or self._named_recipient(row) for row, _ in self.ragged] + [self.recipient_id] * len(self.misplaced)
        rejected += self.misplaced
        return pl.DataFrame(
            {
                "recipient_id": whose,
                "source_file": [self.source_file] * len(rejected),
                "source_line": [line for _, line, _ in rejected],
                "column": [""] * len(rejected),
                "value": [",".join(row)[:80] for row, _, _ in rejected],
                "reason": [reason for _, _, reason in rejected],
            },
            schema=schemas.REJECTIONS,
        )

    def _named_recipient(self, row: list[str]) -> str | None:
        """The id in a council table's rejected row where the header puts recipient_id, if it reads as one: a
        row with a field too many still says whose it is, and so whose plan or payments it leaves short."""
        if "recipient_id" not in self.names:
            return None
        index = self.names.index("recipient_id")
        cell = row[index].strip() if index < len(row) else ""
        return cell if RECIPIENT_ID.match(cell) else None


def frame_of(tables: list[RawTable]) -> pl.DataFrame:
    """One frame of text for many tables: a column per header name, plus where each row came from."""
    groups: dict[tuple[str, ...], list[RawTable]] = {}
    for table in tables:
        groups.setdefault(table.names, []).append(table)
    frames = []
    for names, group in groups.items():
        # every cell in one series, then each column as every width-th cell: a third of the cost of
        # transposing the rows in Python and building a series a column
        cells = pl.Series([cell for table in group for row in table.rows for cell in row], dtype=pl.String)
        data: dict[str, object] = {name: cells.gather_every(len(names), offset) for offset, name in enumerate(names)}
        data["source_line"] = [line for table in group for line in table.lines]
        data["source_file"] = [table.source_file for table in group for _ in table.rows]
        data[FOLDER_RECIPIENT] = [table.recipient_id for table in group for _ in table.rows]
        schema = {name: pl.String for name in names} | {"source_line": pl.Int64, "source_file": pl.String, FOLDER_RECIPIENT: pl.String}
        frames.append(pl.DataFrame(data, schema=schema))
    if not frames:
        return pl.DataFrame(schema={"source_line": pl.Int64, "source_file": pl.String, FOLDER_RECIPIENT: pl.String})
    return pl.concat(frames, how="diagonal")


MAX_XLSX_EXPANDED_BYTES = 100 * 1024 * 1024


def _check_not_a_bomb(data: bytes) -> None:
    """An XLSX is a zip: refuse one whose parts expand past the limit.

    The sizes an archive declares are checked first, before anything is
    expanded; then every part is expanded (in pieces, never more than its
    declared size) and checked against its CRC, so an archive that
    understates its sizes is refused too: the workbook reader would expand
    such a part to its real end.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            expanded = sum(item.file_size for item in parts)
            if expanded > MAX_XLSX_EXPANDED_BYTES:
                raise UnreadableFile(
                    f"workbook would expand to {expanded:,} bytes, over the {MAX_XLSX_EXPANDED_BYTES:,}-byte limit: refused"
                )
            for item in parts:
                with archive.open(item) as part:
                    while part.read(1 << 20):
                        pass
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        if "CRC" in str(exc) or isinstance(exc, EOFError):
            raise UnreadableFile("a part of the workbook does not expand to the size and checksum it declares: refused") from None
        raise UnreadableFile("not a readable XLSX workbook (not a zip archive)") from None
    except (NotImplementedError, RuntimeError, ValueError, OSError, zlib.error):  # unknown compression, encrypted, damaged
        raise UnreadableFile("not a readable XLSX workbook (not a zip archive)") from None


def records_from_xlsx(data: bytes) -> Records:
    """Every row of the first visible sheet as text; Excel dates become ISO dates.

    Hidden sheets (instructions, lookups) are passed over. Rows on any other
    visible sheet are rejected, naming the sheet: nothing a person can see in
    the workbook is left out without a trace.
    """
    import fastexcel

    _check_not_a_bomb(data)
    try:
        reader = fastexcel.read_excel(data)
        sheets = [reader.load_sheet(index, header_row=None, dtypes="string") for index in range(len(reader.sheet_names))]
    except Exception as exc:  # fastexcel raises its own hierarchy for every kind of bad workbook
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    visible = [sheet for sheet in sheets if sheet.visible == "visible"] or sheets[:1]
    if not visible:
        raise UnreadableFile("the workbook has no sheet")
    rows = _sheet_rows(visible[0])
    elsewhere = tuple(
        (row, line, f"on sheet '{sheet.name}', row {line}: only the first visible sheet, '{visible[0].name}', is read")
        for sheet in visible[1:]
        for line, row in enumerate(_sheet_rows(sheet), start=1)
        if not is_blank(row)
    )
    return Records(rows, list(range(1, len(rows) + 1)), elsewhere)


def _sheet_rows(sheet) -> list[list[str]]:
    # a date cell, with or without a time of day: the day is the date; a time alone, which Excel keeps as a time
    # of its day naught (31 December 1899), is the time, so that a date column quotes it when it rejects the row
    frame = sheet.to_polars().with_columns(
        pl.all().str.replace(r"^1899-12-3[01][ T](\d{2}:\d{2}:\d{2}(\.\d+)?)$", "${1}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$", "${1}").fill_null(""))
    return [list(row) for row in frame.iter_rows()]


def read_records_file(path: str | os.PathLike[str], data: bytes) -> Records:
    if os.path.splitext(path)[1].lower() in XLSX_SUFFIXES:
        return records_from_xlsx(data)
    return read_records(decode(data))


def table_from_records(
    records: Records,
    header_index: int,
    source_file: str,
    recipient_id: str | None = None,
) -> RawTable:
    """Build the text frame from the header at ``header_index`` and the records after it."""
    if len(records.rows[header_index]) > MAX_FIELDS:  # a workbook's sheet, which read_records does not see
        raise UnreadableFile(f"the header has {too_wide(len(records.rows[header_index]))}")
    header = [normalise_header(name) for name in records.rows[header_index]]
    while header and not header[-1]:
        header.pop()  # Lloyds ends its header with a comma that its rows lack
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[list[str], int]] = []
    for row, line in zip(records.rows[header_index + 1 :], records.lines[header_index + 1 :]):
        if is_blank(row):
            continue
        if len(row) > width:
            row = _trim_trailing_blanks(row, width)
        if len(row) == width:
            rows.append(row)
            lines.append(line)
        else:
            ragged.append((row, line))
    names = [name or f"column {i + 1}" for i, name in enumerate(header)]
    # a name used twice, or one of the names dpmon adds to every row, is kept apart by its position
    first = {}
    for i, name in enumerate(names):
        first.setdefault(name, i)
    repeated = tuple(sorted({name for i, name in enumerate(names) if first[name] != i}))
    names = [name if first[name] == i and not _reserved(name) else f"{name} ({i + 1})" for i, name in enumerate(names)]
    return RawTable(tuple(names), rows, lines, source_file, recipient_id, ragged, repeated, tuple(records.elsewhere))


def _reserved(name: str) -> bool:
    return name in ("source_line", "source_file") or name.startswith("__")


def repeated_columns(table: RawTable, wanted: list[str]) -> str | None:
    """A message when a column dpmon reads appears more than once in the header, else None."""
    twice = [name for name in wanted if name in table.repeated]
    if not twice:
        return None
    return "column " + ", ".join(f"'{name}'" for name in twice) + " appears more than once in the header: keep one"


def _trim_trailing_blanks(row: list[str], width: int) -> list[str]:
    """Drop empty cells beyond the header's width; any other extra field is kept (and rejected)."""
    while len(row) > width and not row[-1].strip():
        row = row[:-1]
    return row


def first_header_index(records: Records) -> int:
    for index, row in enumerate(records.rows):
        if not is_blank(row):
            return index
    raise UnreadableFile("the file is empty")


SHOWN_NAMES = 40  # of a header's names, in a message


def missing_columns(table: RawTable, required: list[str]) -> str | None:
    """beangulp-style message when required columns are absent, else None."""
    absent = [name for name in required if name not in table.names]
    if not absent:
        return None
    found = ", ".join(f"'{name}'" for name in table.names[:SHOWN_NAMES])
    if len(table.names) > SHOWN_NAMES:
        found += f" and {len(table.names) - SHOWN_NAMES:,} more"
    wanted = ", ".join(f"'{name}'" for name in absent)
    return f"cannot find column {wanted} in column names: {found}"

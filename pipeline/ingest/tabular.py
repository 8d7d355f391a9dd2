"""Read a CSV or XLSX table into a frame of text with normalised headers.

The result has one String column per header (names normalised: lower case,
single spaces) and ``source_line``: the file line (CSV) or sheet row (XLSX)
of each record, so rejections and findings point at what a person can open.
Records whose field count differs from the header's are returned as
rejections, never silently padded or cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import schemas
from pipeline.ingest.columns import FOLDER_RECIPIENT
from pipeline.ingest.text import Records, UnreadableFile, decode, is_blank, normalise_header, read_records

XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt"}


@dataclass(frozen=True)
class RawTable:
    frame: pl.DataFrame  # String columns + source_file, source_line, __folder_recipient
    rejections: pl.DataFrame  # schemas.REJECTIONS
    rows_read: int


def records_from_xlsx(data: bytes) -> Records:
    """Every row of the first sheet as text; Excel dates become ISO dates."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string")
    except Exception as exc:  # fastexcel raises its own hierarchy for every kind of bad workbook
        raise UnreadableFile(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    frame = sheet.to_polars().with_columns(
        pl.all().str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}").fill_null("")
    )
    rows = [list(row) for row in frame.iter_rows()]
    return Records(rows, list(range(1, len(rows) + 1)))


def read_records_file(path: Path, data: bytes) -> Records:
    if path.suffix.lower() in XLSX_SUFFIXES:
        return records_from_xlsx(data)
    return read_records(decode(data))


def table_from_records(
    records: Records,
    header_index: int,
    source_file: str,
    recipient_id: str | None = None,
) -> RawTable:
    """Build the text frame from the header at ``header_index`` and the records after it."""
    header = [normalise_header(name) for name in records.rows[header_index]]
    while header and not header[-1]:
        header.pop()  # Lloyds ends its header with a comma that its rows lack
    width = len(header)
    body = [
        (_trim_trailing_blanks(row, width), line)
        for row, line in zip(records.rows[header_index + 1 :], records.lines[header_index + 1 :])
        if not is_blank(row)
    ]
    good = [(row, line) for row, line in body if len(row) == width]
    ragged = [(row, line) for row, line in body if len(row) != width]
    names = [name or f"column {i + 1}" for i, name in enumerate(header)]
    names = [name if names.index(name) == i else f"{name} ({i + 1})" for i, name in enumerate(names)]
    frame = pl.DataFrame(
        [list(col) for col in zip(*(row for row, _ in good))] if good else [[] for _ in names],
        schema={name: pl.String for name in names},
        orient="col",
    ).with_columns(
        pl.Series("source_line", [line for _, line in good], dtype=pl.Int64),
        pl.lit(source_file).alias("source_file"),
        pl.lit(recipient_id, pl.String).alias(FOLDER_RECIPIENT),
    )
    rejections = pl.DataFrame(
        {
            "recipient_id": [recipient_id] * len(ragged),
            "source_file": [source_file] * len(ragged),
            "source_line": [line for _, line in ragged],
            "column": [""] * len(ragged),
            "value": [",".join(row)[:80] for row, _ in ragged],
            "reason": [f"row has {len(row)} fields but the header has {width}" for row, _ in ragged],
        },
        schema=schemas.REJECTIONS,
    )
    return RawTable(frame, rejections, len(body))


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


def missing_columns(frame: pl.DataFrame, required: list[str]) -> str | None:
    """beangulp-style message when required columns are absent, else None."""
    absent = [name for name in required if name not in frame.columns]
    if not absent:
        return None
    found = ", ".join(f"'{name}'" for name in frame.columns if name not in ("source_line", "source_file", FOLDER_RECIPIENT))
    wanted = ", ".join(f"'{name}'" for name in absent)
    return f"cannot find column {wanted} in column names: {found}"

"""Many files' text rows become one frame, each cell under its own file's header and with its file and line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.columns import FOLDER_RECIPIENT
from pipeline.ingest.tabular import RawTable, frame_of

headers = st.sampled_from([("date", "amount"), ("date", "amount", "memo"), ("a",)])


@st.composite
def tables(draw) -> list[RawTable]:
    found = []
    for number in range(draw(st.integers(0, 5))):
        names = draw(headers)
        rows = draw(st.lists(st.lists(st.text(max_size=5), min_size=len(names), max_size=len(names)), max_size=6))
        found.append(RawTable(names, rows, [2 + index * 3 for index in range(len(rows))], f"f{number}.csv", f"R{number % 2}", []))
    return found


@settings(max_examples=150, deadline=None)
@given(tables())
def test_every_cell_lands_under_its_files_header_with_its_file_and_line(batch):
    frame = frame_of(batch)
    expected = sorted(
        (table.source_file, line, table.recipient_id, tuple((name, cell) for name, cell in zip(table.names, row)))
        for table in batch for row, line in zip(table.rows, table.lines)
    )
    got = sorted(
        (record["source_file"], record["source_line"], record[FOLDER_RECIPIENT],
         tuple((name, record[name]) for name in next(t.names for t in batch if t.source_file == record["source_file"])))
        for record in frame.iter_rows(named=True)
    )
    assert got == expected

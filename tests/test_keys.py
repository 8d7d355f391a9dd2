"""Keys and first sightings computed by hashing agree with their definitions as windows.

Numbering rows in a window per key is the plain way to say "how many earlier
lines share this key" or "is this the first line with this key"; the pipeline
computes both without a window per key, which was 15-20 times slower. These
check the fast forms against the plain ones on random frames.
"""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.inbound import InputFile, files_frame, frame_files
from pipeline.ingest.statements import _occurrence

keys = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "0"]))
rows = st.lists(st.tuples(st.sampled_from(["s1", "s2"]), keys), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(rows)
def test_occurrence_counts_earlier_lines_with_the_same_key(lines):
    frame = pl.DataFrame({"statement_id": [s for s, _ in lines], "fitid": [k for _, k in lines]},
                         schema={"statement_id": pl.String, "fitid": pl.String})
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).reverse().alias("seq")).with_row_index("__row")
    window = frame.select(pl.int_range(pl.len()).over("statement_id", "fitid", order_by="seq").cast(pl.String))
    assert _occurrence(frame, "statement_id", "fitid").to_list() == window.to_series().to_list()


@settings(max_examples=100, deadline=None)
@given(rows)
def test_first_distinct_is_the_first_row_of_its_key(lines):
    frame = pl.DataFrame({"recipient_id": [s for s, _ in lines], "txn_key": [k for _, k in lines]},
                         schema={"recipient_id": pl.String, "txn_key": pl.String})
    hashed = frame.select(pl.struct("recipient_id", "txn_key").is_first_distinct()).to_series()
    window = frame.select(pl.int_range(pl.len()).over("recipient_id", "txn_key").eq(0)).to_series()
    assert hashed.to_list() == window.to_list()


def test_a_shards_files_survive_the_trip_as_a_frame(tmp_path):
    files = [InputFile(str(tmp_path / "statements" / "R1" / "a b.csv"), "statements/R1/a b.csv", "statement", "R1"),
             InputFile(str(tmp_path / "agreements.csv"), "agreements.csv", "agreements", None)]
    assert frame_files(files_frame(files)) == files
    assert frame_files(files_frame([])) == []

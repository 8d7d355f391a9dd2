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


line_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.integers(1, 3), st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(["k1", "k2", "k3", "k4"])),
    min_size=1, max_size=30,
)
spans = st.tuples(st.integers(1, 3), st.integers(0, 2))


@settings(max_examples=150, deadline=None)
@given(line_rows, st.lists(spans, min_size=3, max_size=3))
def test_the_first_sighting_of_a_transaction_is_kept_and_the_rest_point_to_it(lines, statement_spans):
    """``deduplicate`` against a plain reading of its rule: lines in account, date, statement-date and
    in-statement order; the first line of each key kept, the others its duplicates; kept lines numbered
    per account, and a duplicate given its kept line's number."""
    from datetime import date

    from pipeline.reconcile.ledger import deduplicate

    statements = pl.DataFrame(
        {"statement_id": ["s1", "s2", "s3"], "recipient_id": ["R1"] * 3, "account_id": ["A", "B", "A"],
         "start_date": [date(2025, 6, start) for start, _ in statement_spans],
         "end_date": [date(2025, 6, start + length) for start, length in statement_spans]})
    frame = pl.DataFrame(
        {"recipient_id": ["R1"] * len(lines), "account_id": [account for account, *_ in lines],
         "date": [date(2025, 6, day) for _, day, _, _ in lines], "statement_id": [statement for *_, statement, _ in lines],
         "seq": list(range(len(lines))), "txn_key": [key for *_, key in lines],
         "source_file": [f"{statement}.csv" for *_, statement, _ in lines], "source_line": list(range(2, len(lines) + 2))})
    result = deduplicate(frame, statements).sort("seq")

    ranked = sorted(statements.iter_rows(named=True), key=lambda s: (s["account_id"], s["start_date"], s["end_date"], s["statement_id"]))
    rank = {s["statement_id"]: sum(o["account_id"] == s["account_id"] for o in ranked[:index]) for index, s in enumerate(ranked)}
    order = sorted(frame.iter_rows(named=True), key=lambda r: (r["account_id"], r["date"], rank[r["statement_id"]], r["seq"]))
    first: dict[str, dict] = {}
    kept_in_account: dict[str, int] = {}
    position: dict[str, int] = {}
    for row in order:
        if row["txn_key"] not in first:
            first[row["txn_key"]] = row
            position[row["txn_key"]] = kept_in_account.get(row["account_id"], 0)
            kept_in_account[row["account_id"]] = position[row["txn_key"]] + 1
    expected = [
        (first[row["txn_key"]] is row, None if first[row["txn_key"]] is row else
         f"{first[row['txn_key']]['source_file']}:{first[row['txn_key']]['source_line']}", position[row["txn_key"]])
        for row in sorted(order, key=lambda r: r["seq"])
    ]
    assert list(zip(result["kept"], result["duplicate_of"], result["pos"])) == expected


def test_a_shards_files_survive_the_trip_as_a_frame(tmp_path):
    files = [InputFile(str(tmp_path / "statements" / "R1" / "a b.csv"), "statements/R1/a b.csv", "statement", "R1"),
             InputFile(str(tmp_path / "agreements.csv"), "agreements.csv", "agreements", None)]
    assert frame_files(files_frame(files)) == files
    assert frame_files(files_frame([])) == []

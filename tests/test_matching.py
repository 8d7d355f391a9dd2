"""Properties of the matching engine: one-to-one, greedy-optimal, and money partitioned exactly."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reconcile.matching import DOC, LINE, assign
from tests.builders import council


def candidates_strategy():
    edge = st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7), st.integers(0, 3))
    return st.lists(edge, min_size=0, max_size=40, unique_by=lambda e: (e[0], e[1]))


def frame(edges):
    return pl.DataFrame(
        {LINE: [f"l{a}" for a, *_ in edges], DOC: [f"d{b}" for _, b, *_ in edges],
         "distance": [c for *_, c, _ in edges], "similarity": [s for *_, s in edges],
         "line_order": [a for a, *_ in edges], "doc_order": [b for _, b, *_ in edges]},
        schema={LINE: pl.String, DOC: pl.String, "distance": pl.Int64, "similarity": pl.Int64, "line_order": pl.Int64, "doc_order": pl.Int64},
    )


def sequential_greedy(edges):
    """The reference: walk pairs best first, take each whose line and document are both free."""
    order = sorted(edges, key=lambda e: (e[2], -e[3], e[0], e[1]))
    used_lines, used_docs, taken = set(), set(), set()
    for a, b, *_ in order:
        if a not in used_lines and b not in used_docs:
            used_lines.add(a)
            used_docs.add(b)
            taken.add((f"l{a}", f"d{b}"))
    return taken


@given(candidates_strategy())
@settings(max_examples=300, deadline=None)
def test_assignment_is_one_to_one_and_equals_sequential_greedy(edges):
    chosen = assign(frame(edges))
    assert chosen[LINE].n_unique() == chosen.height
    assert chosen[DOC].n_unique() == chosen.height
    assert set(zip(chosen[LINE], chosen[DOC])) == sequential_greedy(edges)


@given(candidates_strategy())
@settings(max_examples=100, deadline=None)
def test_assignment_is_maximal(edges):
    """No candidate pair is left whose line and document are both unmatched."""
    chosen = assign(frame(edges))
    lines, docs = set(chosen[LINE]), set(chosen[DOC])
    assert not any(f"l{a}" not in lines and f"d{b}" not in docs for a, b, *_ in edges)


debit = st.tuples(st.integers(1, 28), st.sampled_from([999, 2500, 4500, 10000]),
                  st.sampled_from(["SHOP", "BET365", "ATM HIGH ST", "ACCOUNT FEE", "HMRC", "CLUB"]))


@given(st.lists(debit, max_size=12), st.lists(st.tuples(st.integers(1, 28), st.sampled_from([999, 2500, 4500, 10000])), max_size=8))
@settings(max_examples=60, deadline=None)
def test_debits_are_partitioned_exactly(debits, receipts):
    """total debits = evidenced (incl. allowed bank charges) + unevidenced + prohibited + cash."""
    case = council()
    for day, amount, who in debits:
        case.bank(f"2025-06-{day:02d}", -amount, who)
    for day, amount in receipts:
        case.receipt(f"2025-06-{day:02d}", amount)
    outcome = case.run()
    lines = outcome.transactions.filter(pl.col("direction") == "debit")
    by_status = dict(lines.group_by("evidence_status").agg(pl.col("amount_pence").abs().sum()).iter_rows())
    assert set(by_status) <= {"evidenced", "allowed_bank_charge", "unevidenced", "prohibited", "cash"}
    assert sum(by_status.values()) == sum(amount for _, amount, _ in debits)
    unevidenced = outcome.findings.filter(pl.col("rule") == "TRANSACTION_UNEVIDENCED")["amount_pence"].sum()
    assert unevidenced == by_status.get("unevidenced", 0)
    matched_docs = outcome.evidence.debit_matches[DOC]
    assert matched_docs.n_unique() == matched_docs.len()
    assert outcome.evidence.debit_matches[LINE].n_unique() == outcome.evidence.debit_matches.height

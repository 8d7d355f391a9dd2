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
        {"recipient_id": ["R1"] * len(edges), "amount": [100] * len(edges),
         LINE: [f"l{a}" for a, *_ in edges], DOC: [f"d{b}" for _, b, *_ in edges],
         "distance": [c for *_, c, _ in edges], "similarity": [s for *_, s in edges],
         "line_order": [a for a, *_ in edges], "doc_order": [b for _, b, *_ in edges]},
        schema={"recipient_id": pl.String, "amount": pl.Int64, LINE: pl.String, DOC: pl.String, "distance": pl.Int64, "similarity": pl.Int64, "line_order": pl.Int64, "doc_order": pl.Int64},
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


def maximum_size(edges) -> int:
    """How many pairs a maximum one-to-one matching has (scipy's Hopcroft-Karp, an independent reference)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    if not edges:
        return 0
    graph = csr_matrix(([1] * len(edges), ([a for a, *_ in edges], [b for _, b, *_ in edges])), shape=(8, 8))
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


@given(candidates_strategy())
@settings(max_examples=400, deadline=None)
def test_assignment_is_one_to_one_maximum_and_greedy_where_greedy_is(edges):
    """As many pairs as any one-to-one matching has; and where greedy already has as many, greedy's own pairs."""
    chosen = assign(frame(edges))
    assert chosen[LINE].n_unique() == chosen.height
    assert chosen[DOC].n_unique() == chosen.height
    assert chosen.height == maximum_size(edges)
    greedy = sequential_greedy(edges)
    if len(greedy) == chosen.height:
        assert set(zip(chosen[LINE], chosen[DOC])) == greedy


def test_weekly_payments_each_credited_four_days_later_are_all_received():
    """Greedy gives each credit to the next week's payment (three days away) and leaves the first unpaid."""
    days = [2, 9, 16, 23, 30]
    edges = [(p, c, abs((days[c] + 4) - days[p]), 0) for p in range(5) for c in range(5) if abs(days[c] + 4 - days[p]) <= 7]
    assert len(sequential_greedy(edges)) == 4
    chosen = assign(frame(edges))
    assert sorted(zip(chosen[LINE], chosen[DOC])) == [(f"l{i}", f"d{i}") for i in range(5)]


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

"""One-to-one matching of bank lines to the documents that explain them.

Candidates are every (line, document) pair of one recipient with equal
amounts and dates within the window. Each pair is ranked by a total order:
nearest date, then most words shared by supplier and counterparty, then the
line's and the document's stable order. The assignment starts as the greedy
one over that order (take the best remaining pair, drop its line and document,
repeat), computed in vectorised rounds: a pair that is the best for both its
line and its document is taken, and that is exactly the pair greedy would
take. No line and no document is ever matched twice.

Greedy can leave a line and a document unmatched that another choice would
both have matched: weekly council payments each credited four days later,
where each credit is three days from the next payment, so greedy gives it to
that one and the first payment looks unpaid. Where that happens, the
matching grows along augmenting paths (each free line in turn, shortest path
first, pairs tried in rank order) until no more lines can be explained than
are; everywhere else greedy's pairs stand.
"""

from __future__ import annotations

from collections import deque

import polars as pl

LINE = "line_key"
DOC = "doc_key"
GROUP = ("recipient_id", "amount")  # what the line and the document of a candidate pair share
_WORDS = r"[A-Z0-9]{3,}"


def shared_words(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """How many words of three or more letters or digits two texts share."""
    return (
        left.fill_null("").str.to_uppercase().str.extract_all(_WORDS)
        .list.set_intersection(right.fill_null("").str.to_uppercase().str.extract_all(_WORDS))
        .list.len()
        .cast(pl.Int64)
    )


def assign(candidates: pl.DataFrame) -> pl.DataFrame:
    """One-to-one assignment explaining as many lines as any can, greedy's pairs wherever that costs nothing.

    ``candidates`` has GROUP's columns, LINE, DOC, ``distance`` (days),
    ``similarity``, ``line_order`` and ``doc_order`` (unique stable integers).
    Returns the chosen rows of ``candidates``, best-ranked first.
    """
    ranked = candidates.sort("distance", pl.col("similarity"), "line_order", "doc_order", descending=[False, True, False, False])
    ranked = ranked.with_row_index("__rank")
    chosen = _augmented(ranked, _greedy(ranked))
    return chosen.sort("__rank").drop("__rank")


def _greedy(ranked: pl.DataFrame) -> pl.DataFrame:
    chosen: list[pl.DataFrame] = [ranked.clear()]
    remaining = ranked
    while remaining.height:
        best_for_line = remaining.group_by(LINE).agg(pl.col("__rank").min())
        best_for_doc = remaining.group_by(DOC).agg(pl.col("__rank").min())
        mutual = best_for_line.join(best_for_doc, on="__rank", how="inner").select("__rank")
        taken = remaining.join(mutual, on="__rank", how="semi")
        chosen.append(taken)
        remaining = remaining.join(taken.select(LINE), on=LINE, how="anti").join(taken.select(DOC), on=DOC, how="anti")
    return pl.concat(chosen)


def _augmented(ranked: pl.DataFrame, chosen: pl.DataFrame) -> pl.DataFrame:
    """``chosen`` grown to a maximum matching, in the parts of the graph where greedy fell short."""
    free_lines = ranked.join(chosen.select(LINE), on=LINE, how="anti")
    free_docs = ranked.join(chosen.select(DOC), on=DOC, how="anti")
    if free_lines.is_empty() or free_docs.is_empty():
        return chosen  # every line or every document with a candidate is matched: nothing can grow
    # a pair only ever joins a recipient's line and document of one amount: only groups with both free can grow
    open_groups = free_lines.select(GROUP).unique().join(free_docs.select(GROUP).unique(), on=GROUP)
    lines_in = ranked.join(open_groups, on=GROUP, how="semi").select(LINE).unique()
    if lines_in.is_empty():
        return chosen
    edges = ranked.join(lines_in, on=LINE, how="semi").select("__rank", LINE, DOC)
    kept = chosen.join(lines_in, on=LINE, how="anti")
    pairs = _maximum_matching(edges.rows(), chosen.join(lines_in, on=LINE, how="semi").select(LINE, DOC).rows())
    grown = ranked.join(pl.DataFrame(pairs, schema={LINE: ranked.schema[LINE], DOC: ranked.schema[DOC]}, orient="row"),
                        on=[LINE, DOC], how="semi")
    return pl.concat([kept, grown])


def _maximum_matching(edges: list[tuple[int, object, object]], matched: list[tuple[object, object]]) -> list[tuple[object, object]]:
    """Kuhn's augmenting paths from ``matched``, over ``edges`` (rank, line, document) of a few small
    groups: each free line in the order of its best pair, breadth first, pairs tried in rank order."""
    adjacent: dict[object, list[object]] = {}
    first_rank: dict[object, int] = {}
    for rank, line, doc in sorted(edges, key=lambda edge: edge[0]):
        adjacent.setdefault(line, []).append(doc)
        first_rank.setdefault(line, rank)
    doc_of = dict(matched)
    line_of = {doc: line for line, doc in matched}
    for start in sorted((line for line in adjacent if line not in doc_of), key=first_rank.__getitem__):
        reached_from: dict[object, object] = {}
        queue, end = deque([start]), None
        while queue and end is None:
            line = queue.popleft()
            for doc in adjacent[line]:
                if doc in reached_from:
                    continue
                reached_from[doc] = line
                if doc not in line_of:
                    end = doc
                    break
                queue.append(line_of[doc])
        while end is not None:  # flip the path: each line on it takes the document it was reached by
            line = reached_from[end]
            previous = doc_of.get(line)
            doc_of[line], line_of[end] = end, line
            end = previous if line != start else None
    return list(doc_of.items())


def pair_candidates(
    lines: pl.DataFrame,
    documents: pl.DataFrame,
    window_days: int,
) -> pl.DataFrame:
    """Pairs of one recipient with equal ``amount`` and dates within the window.

    ``lines`` has recipient_id, LINE, ``amount``, ``date``, ``line_order``,
    ``line_text``; ``documents`` has recipient_id, DOC, ``amount``,
    ``doc_date``, ``doc_order``, ``doc_text``.
    """
    pairs = lines.join(documents, on=["recipient_id", "amount"], how="inner")
    distance = (pl.col("date") - pl.col("doc_date")).dt.total_days().abs()
    return pairs.with_columns(distance.alias("distance")).filter(pl.col("distance") <= window_days).with_columns(
        shared_words(pl.col("line_text"), pl.col("doc_text")).alias("similarity")
    )

"""One-to-one matching of bank lines to the documents that explain them.

Candidates are every (line, document) pair of one recipient with equal
amounts and dates within the window. Each pair is ranked by a total order:
nearest date, then most words shared by supplier and counterparty, then the
line's and the document's stable order. The assignment is the greedy one
over that order (take the best remaining pair, drop its line and document,
repeat), computed in vectorised rounds: a pair that is the best for both its
line and its document is taken, and that is exactly the pair greedy would
take. No line and no document is ever matched twice.
"""

from __future__ import annotations

import polars as pl

LINE = "line_key"
DOC = "doc_key"
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
    """Greedy one-to-one assignment.

    ``candidates`` has LINE, DOC, ``distance`` (days), ``similarity``,
    ``line_order`` and ``doc_order`` (unique stable integers). Returns the
    chosen rows of ``candidates``.
    """
    ranked = candidates.sort("distance", pl.col("similarity"), "line_order", "doc_order", descending=[False, True, False, False])
    ranked = ranked.with_row_index("__rank")
    chosen: list[pl.DataFrame] = []
    remaining = ranked
    while remaining.height:
        best_for_line = remaining.group_by(LINE).agg(pl.col("__rank").min())
        best_for_doc = remaining.group_by(DOC).agg(pl.col("__rank").min())
        mutual = best_for_line.join(best_for_doc, on="__rank", how="inner").select("__rank")
        taken = remaining.join(mutual, on="__rank", how="semi")
        chosen.append(taken)
        remaining = remaining.join(taken.select(LINE), on=LINE, how="anti").join(taken.select(DOC), on=DOC, how="anti")
    if not chosen:
        return candidates.clear()
    return pl.concat(chosen).sort("__rank").drop("__rank")


def pair_candidates(
    lines: pl.DataFrame,
    documents: pl.DataFrame,
    window_days: int,
    line_date: str = "date",
    doc_date: str = "doc_date",
) -> pl.DataFrame:
    """Pairs of one recipient with equal ``amount`` and dates within the window.

    ``lines`` has recipient_id, LINE, ``amount``, ``date``, ``line_order``,
    ``line_text``; ``documents`` has recipient_id, DOC, ``amount``,
    ``doc_date``, ``doc_order``, ``doc_text``.
    """
    pairs = lines.join(documents, on=["recipient_id", "amount"], how="inner")
    distance = (pl.col(line_date) - pl.col(doc_date)).dt.total_days().abs()
    return pairs.with_columns(distance.alias("distance")).filter(pl.col("distance") <= window_days).with_columns(
        shared_words(pl.col("line_text"), pl.col("doc_text")).alias("similarity")
    )

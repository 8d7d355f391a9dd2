"""Whose Section J plan was not read whole: their spend is not judged against it.

SPEND_NOT_IN_PLAN calls a debit misuse when its receipt's category is on none
of the recipient's provision lines. Judged against a plan missing a line
(a row rejected for a bad amount, a category spelled wrongly) or against no
plan at all (provision.csv missing, unreadable, or holding no line), it would
call agreed spend misuse, recommend recovering it and draft a letter saying
so. Such a recipient's spend is not judged against the plan this month; the
rejection that caused it says so, and the workbook's summary counts them.
A row rejected as a repeat of another leaves the plan whole and counts for
nothing here.
"""

from __future__ import annotations

import polars as pl

from pipeline.ingest.load import REPEAT

UNREAD_PLANS = pl.Schema({"recipient_id": pl.String})
MISSING_FILE = "provision.csv"  # how discovery names a provision file it did not find


def unread_plans(rejections: pl.DataFrame, provision_file: str | None, usable: bool, lines: pl.DataFrame,
                 known: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(recipient_id of each known recipient whose plan was not read whole, ``rejections`` with the
    consequence added to the reason of each rejection that caused it).

    ``provision_file`` is the provision file read (None when there was none), ``usable`` False when it was
    refused whole, and ``lines`` the known recipients' provision lines that passed reading and validation."""
    everyone = pl.DataFrame({"recipient_id": sorted(known)}, schema=UNREAD_PLANS)
    if provision_file is None or not usable:
        whole_file = (pl.col("source_file") == (provision_file or MISSING_FILE)) & (pl.col("source_line") <= 0)
        noted = rejections.with_columns(
            pl.when(whole_file).then(pl.col("reason") + "; so no spend is judged SPEND_NOT_IN_PLAN this month")
            .otherwise(pl.col("reason")).alias("reason"))
        return everyone, noted
    # a row rejected before its id was typed (a field too many) may write the id in another case
    agreed = pl.col("recipient_id").str.to_lowercase().replace_strict({rid.lower(): rid for rid in known}, default=None)
    cause = ((pl.col("source_file") == provision_file) & (pl.col("source_line") > 0) & agreed.is_not_null()
             & ~pl.col("reason").str.starts_with(REPEAT))
    noted = rejections.with_columns(
        pl.when(cause).then(pl.format("{}; so SPEND_NOT_IN_PLAN is not judged for {} this month", pl.col("reason"), agreed))
        .otherwise(pl.col("reason")).alias("reason"))
    if not lines.height:
        return everyone, noted
    return rejections.filter(cause).select(agreed).unique().sort("recipient_id"), noted

"""Whose Section J plan was not read whole: their spend is not judged against it.

SPEND_NOT_IN_PLAN calls a debit misuse when its receipt's category is on none
of the recipient's provision lines. Judged against a plan missing a line
(a row rejected for a bad amount, a category spelled wrongly), or against no
line at all (provision.csv missing, unreadable, cut short, or silent on the
recipient), it would call agreed spend misuse, recommend recovering it and
draft a letter saying so. Such a recipient's spend is not judged against the
plan this month, nor is a receipt taken to claim against "the only line of its
category" (the other line may be the lost one). The rejection that caused it
says so, and the workbook lists each such recipient with the reason. A row
rejected as a repeat of another leaves the plan whole; one naming no recipient
with an agreement may be anyone's, and says so.
"""

from __future__ import annotations

import polars as pl

from pipeline.ingest.load import REPEAT

UNREAD_PLANS = pl.Schema({"recipient_id": pl.String, "reason": pl.String})
MISSING_FILE = "provision.csv"  # how discovery names a provision file it did not find
NOT_JUDGED = "so SPEND_NOT_IN_PLAN is not judged for {} this month"
NOBODYS = "whose line it is cannot be told, so this month's SPEND_NOT_IN_PLAN findings may rest on a plan without it"


def unread_plans(rejections: pl.DataFrame, provision_file: str | None, usable: bool, lines: pl.DataFrame,
                 monitored: set[str], unmonitored: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(each monitored recipient whose plan was not read whole, with why; ``rejections`` with the consequence
    added to the reason of each rejection that caused it).

    ``provision_file`` is the provision file read (None when there was none), ``usable`` False when it was
    refused whole, ``lines`` the provision lines that passed reading and validation, and ``unmonitored`` the
    ids (in lower case) of the other recipients in the agreements, whose rows shorten no one's plan."""
    everyone = pl.DataFrame({"recipient_id": sorted(monitored)}, schema={"recipient_id": pl.String})
    if not monitored:
        return everyone.with_columns(pl.lit(None, pl.String).alias("reason")), rejections
    if provision_file is None or not usable:
        name = provision_file or MISSING_FILE
        whole_file = (pl.col("source_file") == name) & (pl.col("source_line") <= 0)
        noted = rejections.with_columns(
            pl.when(whole_file).then(pl.col("reason") + "; so no spend is judged SPEND_NOT_IN_PLAN this month")
            .otherwise(pl.col("reason")).alias("reason"))
        why = f"{name} is missing" if provision_file is None else f"{name} could not be read"
        return everyone.with_columns(pl.lit(why).alias("reason")), noted
    # a rejected row's id as written: padded, in another case, or (a field too many) not yet typed
    written = pl.col("recipient_id").str.strip_chars()
    agreed = written.str.to_lowercase().replace_strict({rid.lower(): rid for rid in monitored}, default=None, return_dtype=pl.String)
    row = (pl.col("source_file") == provision_file) & (pl.col("source_line") > 0) & ~pl.col("reason").str.starts_with(REPEAT)
    cause = row & agreed.is_not_null()
    # blank, no id, or an id of no agreement (`DP00O7`, or a cell shifted by a stray comma): anyone's line
    nobodys = row & agreed.is_null() & ~written.str.to_lowercase().fill_null("").is_in(sorted(unmonitored))
    noted = rejections.with_columns(
        pl.when(cause).then(pl.format("{}; " + NOT_JUDGED, pl.col("reason"), agreed))
        .when(nobodys).then(pl.col("reason") + "; " + NOBODYS)
        .otherwise(pl.col("reason")).alias("reason"))
    numbers = pl.col("source_line").unique().sort()
    rejected = rejections.filter(cause).group_by(agreed).agg(
        pl.format("{} {} {} rejected", pl.lit(provision_file), pl.when(numbers.len() > 1).then(pl.lit("lines")).otherwise(pl.lit("line")),
                  numbers.cast(pl.String).str.join(", ")).alias("reason"))
    silent = everyone.join(lines.select("recipient_id"), on="recipient_id", how="anti").join(
        rejected, on="recipient_id", how="anti").with_columns(pl.lit(f"no line of theirs in {provision_file}").alias("reason"))
    return pl.concat([rejected, silent]).sort("recipient_id"), noted

"""One shard of recipients from their files to their outcome: read, validate, reconcile.

A flow runs this on its workers, so a recipient's rows are read, judged by
the suites and reconciled in one process, and only the outcome (findings,
positions, the period's bank lines) travels back to the main process. Every
rule and every suite of these frames looks at one recipient at a time, so
the shards' outcomes combined are the whole's.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.ingest.inbound import InputFile
from pipeline.ingest.load import FileRecord, read_files, reject_repeated_rows, rejections_frame, rows_used
from pipeline.period import Period
from pipeline.policy import Policy
from pipeline.reconcile.run import Outcome, reconcile_part
from pipeline.validate import RECIPIENT_FRAMES, SuiteResult, Validator, validate_frames


@dataclass(frozen=True)
class ShardOutcome:
    outcome: Outcome
    rejections: pl.DataFrame  # files and rows of the shard that could not be used
    files: list[FileRecord]
    validation: list[SuiteResult]  # one per frame of RECIPIENT_FRAMES
    rows_used: dict[str, int]  # source_file -> rows that passed reading and validation


def council_part(frames: dict[str, pl.DataFrame], recipients: list[str]) -> dict[str, pl.DataFrame]:
    """The council's (validated) tables cut down to a shard's recipients."""
    ids = pl.Series(recipients, dtype=pl.String).implode()
    return {name: frame.filter(pl.col("recipient_id").is_in(ids)) for name, frame in frames.items()}


def reconcile_shard(files: list[InputFile], council: dict[str, pl.DataFrame], validator: Validator,
                    policy: Policy, period: Period) -> ShardOutcome:
    batch = read_files(files, policy.max_file_bytes)
    read = {name: batch.frame(name) for name in (*RECIPIENT_FRAMES, "statements")}
    read["payslips"], repeated = reject_repeated_rows(read["payslips"], "payslip", across_files=True, any_case=("employee_id",))
    frames, rejected, validation = validate_frames(validator, {**council, **read}, RECIPIENT_FRAMES)
    rejections = pl.concat([rejections_frame(batch), repeated, *rejected])
    return ShardOutcome(reconcile_part(frames, policy, period), rejections, batch.files, validation,
                        rows_used(frames, RECIPIENT_FRAMES))

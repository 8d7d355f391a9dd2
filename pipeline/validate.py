"""Validate canonical frames with the Great Expectations suites in ``expectations/``.

Typing already rejected every cell that is not a date, an amount or an
allowed value; the suites hold the rules about the data (ranges, ids, one
date after another, unique keys) and are the auditor-readable statement of
them. Each frame is validated in an ephemeral GX context (no project folder,
no network, progress bars off). Rows that fail an expectation are rejected,
with the expectation named; the rest carry on.

GX lists failing row ids slowly when there are very many, so the row ids
asked for are only ours (``__row``), and only for expectations that failed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import schemas

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
ROW = "__row"


class SuiteError(RuntimeError):
    """A suite JSON that GX did not load whole."""


@dataclass(frozen=True)
class SuiteResult:
    frame: str
    rows: int
    evaluated: int
    failed: list[dict[str, Any]]  # expectation type, column, failing row count


def import_great_expectations() -> None:
    """Import GX ahead of need: it takes about 4.5 s, which the CLI spends while Prefect's server starts."""
    import great_expectations  # noqa: F401


def suite_document(name: str) -> dict[str, Any]:
    return json.loads((SUITES_DIR / f"{name}.json").read_text())


def load_suite(name: str):
    """The suite as GX holds it; refuses one that GX silently shortened."""
    import great_expectations as gx

    document = suite_document(name)
    logger = logging.getLogger("great_expectations.core.expectation_suite")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        suite = gx.ExpectationSuite(**document)
    finally:
        logger.setLevel(previous)
    if len(suite.expectations) != len(document["expectations"]):
        raise SuiteError(
            f"expectations/{name}.json lists {len(document['expectations'])} expectations "
            f"but Great Expectations loaded {len(suite.expectations)}: fix the invalid one"
        )
    return suite


def _suite_columns(document: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for expectation in document["expectations"]:
        kwargs = expectation["kwargs"]
        names.update(name for name in (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")) if name)
        names.update(kwargs.get("column_list") or [])
    return names


class Validator:
    """One ephemeral GX context for a run; validates frame after frame."""

    def __init__(self, docs_dir: Path | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.WARNING)  # GX sets INFO on its own loggers
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.source = self.context.data_sources.add_pandas(name="dpmon")
        self.docs_dir = docs_dir
        if docs_dir is not None:
            self.context.add_data_docs_site(
                site_name="dpmon",
                site_config={
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir.resolve())},
                },
            )

    def build_docs(self) -> Path | None:
        """GX data docs of every validation run so far, as static HTML in ``docs_dir``."""
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=["dpmon"])
        return self.docs_dir / "index.html"

    def validate(self, name: str, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, SuiteResult]:
        """(rows that passed, rejections, summary)."""
        suite = self.context.suites.add(load_suite(name))
        if frame.is_empty():
            return frame, schemas.empty(schemas.REJECTIONS), SuiteResult(name, 0, len(suite.expectations), [])
        numbered = frame.with_row_index(ROW)
        checked = sorted(_suite_columns(suite_document(name)) & set(frame.columns))
        asset = self.source.add_dataframe_asset(name=name)
        batch_definition = asset.add_batch_definition_whole_dataframe(name=f"{name}_all")
        definition = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"{name}_validation", data=batch_definition, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": numbered.select(ROW, *checked).to_pandas()},  # only what the suite reads
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [ROW],
                "return_unexpected_index_query": False,
            },
        )
        failures: list[dict[str, Any]] = []
        rows: list[int] = []
        columns: list[str] = []
        reasons: list[str] = []
        for item in result.results:
            if item.success:
                continue
            config = item.expectation_config
            kwargs = config.kwargs
            column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [kwargs.get("column_A", ""), kwargs.get("column_B", "")])
            index_list = item.result.get("unexpected_index_list") or []
            failed_rows = [int(entry[ROW]) for entry in index_list]
            failures.append({"expectation": config.type, "column": column, "rows": len(failed_rows)})
            rows.extend(failed_rows)
            columns.extend([column] * len(failed_rows))
            reasons.extend([f"failed check {config.type} on '{column}' (expectations/{name}.json)"] * len(failed_rows))
        if not rows:
            return frame, schemas.empty(schemas.REJECTIONS), SuiteResult(name, frame.height, len(suite.expectations), failures)
        bad = pl.DataFrame({ROW: rows, "column": columns, "reason": reasons}, schema={ROW: pl.UInt32, "column": pl.String, "reason": pl.String})
        located = bad.join(numbered, on=ROW, how="left")
        value_columns = [name for name in set(columns) if name in numbered.columns]
        value = pl.lit("")
        for candidate in value_columns:
            value = pl.when(pl.col("column") == candidate).then(pl.col(candidate).cast(pl.String)).otherwise(value)
        rejections = schemas.conform(
            located.with_columns(
                value.alias("value"),
                (pl.col("recipient_id") if "recipient_id" in numbered.columns else pl.lit(None, pl.String)).alias("recipient_id"),
            ),
            schemas.REJECTIONS,
        )
        passed = numbered.filter(~pl.col(ROW).is_in(rows)).drop(ROW)
        return passed, rejections, SuiteResult(name, frame.height, len(suite.expectations), failures)

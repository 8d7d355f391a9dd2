"""Validate canonical frames with the Great Expectations suites in ``expectations/``.

Typing already rejected every cell that is not a date, an amount or an
allowed value; the suites hold the rules about the data (ranges, ids, one
date after another, unique keys) and are the auditor-readable statement of
them. Each frame is validated in an ephemeral GX context (no project folder,
no network, progress bars off). Rows that fail an expectation are rejected,
with the expectation named; the rest carry on.

GX lists failing row ids slowly when there are very many, so the row ids
asked for are only ours (``__row``), and only for expectations that failed.

A flow validates recipients' frames shard by shard, where they are read, so
they never travel to the main process unvalidated. Every expectation of
those frames looks at one row at a time, so shards judge each row as the
whole would. ``merge_results`` adds the shards' results up into one per
frame, which is what the manifest and the data docs show.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import schemas
from pipeline.accounts import mask_account_numbers_in, mask_rejections
from pipeline.money import format_pounds, sterling

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

COUNCIL_FRAMES = ("agreements", "provision", "la_payments", "employees")  # validated whole, where the council's tables are read
RECIPIENT_FRAMES = ("receipts", "payslips", "transactions")  # validated shard by shard
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
    # GX's validation result as JSON, without its row-level lists (their row numbers are the shard's): for the data docs
    document: dict[str, Any] | None = None


# Imported by GX for the few expectations that compare distributions, which no suite here uses: about
# 0.7 s of every GX import, in the CLI and in each worker process.
DEFERRED_MODULES = ("scipy.stats",)


def great_expectations():
    """The ``great_expectations`` module, imported with DEFERRED_MODULES left to load on first use.

    Each deferred module is registered with importlib's LazyLoader before GX
    imports it: GX binds the name, and the module runs only if an attribute
    of it is ever read (as a distribution expectation would).
    """
    if "great_expectations" not in sys.modules:
        for name in DEFERRED_MODULES:
            _defer(name)
    import great_expectations as gx

    return gx


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # imports the parent package (scipy: a few ms)
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)


def suite_document(name: str) -> dict[str, Any]:
    return json.loads((SUITES_DIR / f"{name}.json").read_text())


def load_suite(name: str):
    """The suite as GX holds it; refuses one that GX silently shortened."""
    gx = great_expectations()

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
    """One ephemeral GX context; validates frame after frame (the same frame again for each shard)."""

    def __init__(self, docs_dir: Path | None = None):
        gx = great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.WARNING)  # GX sets INFO on its own loggers
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.source = self.context.data_sources.add_pandas(name="dpmon")
        self.definitions: dict[str, Any] = {}
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
        """GX data docs of every validation run or recorded so far, as static HTML in ``docs_dir``."""
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=["dpmon"])
        return self.docs_dir / "index.html"

    def _definition(self, name: str):
        if name not in self.definitions:
            suite = self.context.suites.add(load_suite(name))
            asset = self.source.add_dataframe_asset(name=name)
            batch_definition = asset.add_batch_definition_whole_dataframe(name=f"{name}_all")
            self.definitions[name] = self.context.validation_definitions.add(
                self.gx.ValidationDefinition(name=f"{name}_validation", data=batch_definition, suite=suite)
            )
        return self.definitions[name]

    def record(self, result: SuiteResult) -> None:
        """Keep a result validated elsewhere (merged from shards) for the data docs."""
        if result.document is None:
            return
        from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        self._definition(result.frame)  # the docs show the suite beside its result
        suite = ExpectationSuiteIdentifier(name=result.document["suite_name"])
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=suite,
            run_id=RunIdentifier(run_time=datetime.now(timezone.utc)),
            batch_identifier=f"dpmon-{result.frame}",
        )
        self.context.validation_results_store.store_validation_results(
            expectationSuiteValidationResultSchema.load(result.document), identifier, suite
        )

    def validate(self, name: str, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, SuiteResult]:
        """(rows that passed, rejections, summary)."""
        if frame.is_empty():
            return frame, schemas.empty(schemas.REJECTIONS), SuiteResult(name, 0, len(suite_document(name)["expectations"]), [])
        definition = self._definition(name)
        numbered = frame.with_row_index(ROW)
        checked = sorted(_suite_columns(suite_document(name)) & set(frame.columns))
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
            columns.extend([kwargs.get("column_A") or column] * len(failed_rows))
            reasons.extend([f"{_why(config.type, kwargs)} (check {config.type} in expectations/{name}.json)"] * len(failed_rows))
        summary = SuiteResult(name, frame.height, len(definition.suite.expectations), failures, _shareable(result.to_json_dict()))
        if not rows:
            return frame, schemas.empty(schemas.REJECTIONS), summary
        bad = pl.DataFrame({ROW: rows, "column": columns, "reason": reasons}, schema={ROW: pl.UInt32, "column": pl.String, "reason": pl.String})
        located = bad.join(numbered, on=ROW, how="left")
        value_columns = [name for name in set(columns) if name in numbered.columns]
        value = pl.lit("")
        for candidate in value_columns:
            value = pl.when(pl.col("column") == candidate).then(_as_written(candidate)).otherwise(value)
        shown = pl.col("column").str.split(",").list.eval(pl.element().str.replace(f"({'|'.join(SCALED)})$", "")).list.join(", ")
        rejections = mask_rejections(schemas.conform(
            located.with_columns(value.fill_null("").alias("value")).with_columns(
                shown.alias("column"),
                pl.format("column '{}': {}{}", shown, pl.when(pl.col("value") != "").then(pl.format("'{}' ", pl.col("value")))
                          .otherwise(pl.lit("")), pl.col("reason")).alias("reason"),
                (pl.col("recipient_id") if "recipient_id" in numbered.columns else pl.lit(None, pl.String)).alias("recipient_id"),
            ),
            schemas.REJECTIONS,
        ))
        passed = numbered.filter(~pl.col(ROW).is_in(rows)).drop(ROW)
        return passed, rejections, summary


SCALED = ("_pence", "_x100")  # columns held in hundredths of what the input wrote: pounds, weeks


def _as_written(column: str) -> pl.Expr:
    """A checked cell as the input wrote it: amounts in pounds, weeks as weeks (frames hold pence and hundredths)."""
    if column.endswith(SCALED):
        return format_pounds(pl.col(column))  # two decimals, whether of pounds or of weeks
    return pl.col(column).cast(pl.String)


def _why(expectation: str, kwargs: dict[str, Any]) -> str:
    """What a failed expectation says of a cell, in words (the reason names the expectation too)."""
    def plain(name: str, number: int) -> str:  # grouped: a bound of ten digits is not an account number to mask
        return sterling(int(number), symbol="") if name.endswith(SCALED) else f"{number:,g}"

    column = kwargs.get("column", "")
    if expectation == "expect_column_values_to_not_be_null":
        return "required value is blank"
    if expectation == "expect_column_values_to_be_in_set":
        return "is not one of " + ", ".join(kwargs["value_set"])
    if expectation == "expect_column_values_to_be_between":
        return f"is not from {plain(column, kwargs['min_value'])} to {plain(column, kwargs['max_value'])}"
    if expectation == "expect_column_values_to_match_regex":
        return f"does not have the form {kwargs['regex']}"
    if expectation == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"is before {kwargs['column_B']}"
    if expectation == "expect_compound_columns_to_be_unique":
        return "repeats another row's " + " and ".join(kwargs["column_list"])
    return "failed the check"


def validate_frames(validator: Validator, frames: dict[str, pl.DataFrame], names: tuple[str, ...]
                    ) -> tuple[dict[str, pl.DataFrame], list[pl.DataFrame], list[SuiteResult]]:
    """``frames`` with the named ones validated: (frames, rejections, one result per name)."""
    frames = dict(frames)
    rejections, results = [], []
    for name in names:
        frames[name], bad, result = validator.validate(name, frames[name])
        rejections.append(bad)
        results.append(result)
    return frames, rejections, results


ROW_LEVEL = ("unexpected_list", "unexpected_index_list", "partial_unexpected_index_list", "unexpected_index_column_names")
PARTIAL_LIMIT = 20  # GX's own length for partial lists


def _shareable(document: dict[str, Any]) -> dict[str, Any]:
    """GX's result without its row-level lists, and with every value it quotes escaped as HTML and
    its account numbers masked: the data docs show the quoted values (a sample of the failing ones)
    as they are, so a cell holding markup would otherwise run in the auditor's browser."""
    for item in document["results"]:
        for key in ROW_LEVEL:
            item["result"].pop(key, None)
        item["result"] = _escaped(item["result"])
    return document


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(mask_account_numbers_in(value))
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def merge_results(results: list[SuiteResult]) -> SuiteResult:
    """Shards' results for one frame as one: rows and failures added up, GX's documents merged."""
    failed: Counter[tuple[str, str]] = Counter()
    for result in results:
        for failure in result.failed:
            failed[failure["expectation"], failure["column"]] += failure["rows"]
    documents = [result.document for result in results if result.document is not None]
    return SuiteResult(
        results[0].frame,
        sum(result.rows for result in results),
        results[0].evaluated,
        [{"expectation": expectation, "column": column, "rows": rows} for (expectation, column), rows in sorted(failed.items())],
        _merge_documents(documents) if documents else None,
    )


def _expectation_key(config: dict[str, Any]) -> str:
    return json.dumps([config["type"], {k: v for k, v in config["kwargs"].items() if k != "batch_id"}], sort_keys=True, default=str)


def _merge_documents(documents: list[dict[str, Any]]) -> dict[str, Any]:
    merged = copy.deepcopy(documents[0])
    parts: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        for item in document["results"]:
            parts.setdefault(_expectation_key(item["expectation_config"]), []).append(item)
    merged["results"] = [_merge_expectation(item, parts[_expectation_key(item["expectation_config"])]) for item in merged["results"]]
    passed = sum(item["success"] for item in merged["results"])
    total = len(merged["results"])
    merged["success"] = passed == total
    merged["statistics"] = {
        "evaluated_expectations": total, "successful_expectations": passed, "unsuccessful_expectations": total - passed,
        "success_percent": 100 * passed / total if total else None,
    }
    return merged


def _percent(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None  # in the order GX computes it, to the last digit


def _merge_expectation(item: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One expectation's result over all shards; percentages as GX computes them, from the summed counts."""
    merged = copy.deepcopy(item)
    result = merged["result"]
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in result:
            result[key] = sum(part["result"].get(key) or 0 for part in parts)
    elements, unexpected = result.get("element_count", 0), result.get("unexpected_count", 0)
    if "missing_count" in result:
        present = elements - result["missing_count"]
        result["missing_percent"] = _percent(result["missing_count"], elements)
        result["unexpected_percent_total"] = _percent(unexpected, elements)
        result["unexpected_percent_nonmissing"] = _percent(unexpected, present)
        result["unexpected_percent"] = result["unexpected_percent_nonmissing"]
    elif "unexpected_percent" in result:
        result["unexpected_percent"] = _percent(unexpected, elements)
    if "partial_unexpected_list" in result:
        result["partial_unexpected_list"] = [value for part in parts for value in part["result"].get("partial_unexpected_list") or []][:PARTIAL_LIMIT]
    if "partial_unexpected_counts" in result:
        counts: Counter[str] = Counter()
        values: dict[str, Any] = {}
        for part in parts:
            for entry in part["result"].get("partial_unexpected_counts") or []:
                key = json.dumps(entry["value"], sort_keys=True, default=str)
                counts[key] += entry["count"]
                values[key] = entry["value"]
        result["partial_unexpected_counts"] = [{"value": values[key], "count": count} for key, count in counts.most_common(PARTIAL_LIMIT)]
    mostly = merged["expectation_config"]["kwargs"].get("mostly")
    if mostly is None or "missing_count" not in result:
        merged["success"] = all(part["success"] for part in parts)
    else:  # a share of the rows may fail: judge the whole, not each shard
        present = elements - result["missing_count"]
        merged["success"] = present == 0 or (present - unexpected) / present >= mostly
    raised = [part["exception_info"] for part in parts if (part.get("exception_info") or {}).get("raised_exception")]
    if raised:
        merged["exception_info"] = raised[0]
    return merged
